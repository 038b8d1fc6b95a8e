//! Decision records of results kept in the store: which result a channel's record is of
//! ([`RecordOf`], what the outbox keeps), and its Markdown, made when it is sent.

use crate::app::{App, AppError, InternalError, UserError};
use crate::core::card::Basis;
use crate::core::ids::{ChannelId, ConversationKey, Platform, PollId, WorkspaceId};
use crate::core::score::{evaluate, Answers};
use crate::history::Past;
use serde::{Deserialize, Serialize};

/// Which result a decision record is of: kept in the outbox, and made into the record when
/// it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "of")]
pub enum RecordOf {
    /// The latest decision result of a channel, as it is when the record is made.
    Decision {
        platform: Platform,
        workspace: WorkspaceId,
        channel: ChannelId,
    },
    /// A closed poll round.
    Round { poll: PollId, round: u32 },
    /// The latest result of one conversation (a card's record button).
    Conversation { key: ConversationKey },
}

impl RecordOf {
    /// What the record button of a conversation's card carries: `c|<thread>` (the thread
    /// key, or on Discord the conversation's id); the channel is where the button is.
    pub fn conversation_button(thread: &str) -> String {
        format!("c|{thread}")
    }

    /// What the record button of a poll round's card carries: `p|<poll>|<round>`.
    pub fn round_button(poll: &PollId, round: u32) -> String {
        format!("p|{poll}|{round}")
    }

    /// The record a button's value asks for, in the channel it was clicked in; `None` for a
    /// value we did not make. A poll round is only ever one of this workspace's.
    pub fn of_button(
        app: &App,
        value: &str,
        (platform, workspace, channel): (Platform, &WorkspaceId, &ChannelId),
    ) -> Result<Option<RecordOf>, AppError> {
        let mut parts = value.split('|');
        Ok(
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("c"), Some(thread), None, None) if !thread.is_empty() => {
                    Some(RecordOf::Conversation {
                        key: ConversationKey {
                            platform,
                            workspace: workspace.clone(),
                            channel: channel.clone(),
                            thread: crate::core::ids::ThreadKey::new(thread),
                            user: None,
                        },
                    })
                }
                (Some("p"), Some(poll), Some(round), None) => {
                    let (poll, Ok(round)) = (PollId::new(poll), round.parse::<u32>()) else {
                        return Ok(None);
                    };
                    let here = app
                        .store
                        .round(&poll, round)?
                        .is_some_and(|r| r.platform == platform && &r.workspace == workspace);
                    here.then_some(RecordOf::Round { poll, round })
                }
                _ => None,
            },
        )
    }
}

/// A queued record: which result, and the channel (or thread) it goes to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordShown {
    pub record: RecordOf,
    pub channel: String,
    /// On Slack, the `ts` of the decision's thread, to post the record in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

impl DecisionRecord {
    /// The record's file name: its path's last part.
    pub fn file_name(&self) -> String {
        self.path
            .rsplit('/')
            .next()
            .unwrap_or("decision.md")
            .to_owned()
    }
}

/// A decision record: where to save it, and its Markdown.
pub struct DecisionRecord {
    pub path: String,
    pub markdown: String,
}

impl App {
    /// Queues one message of its own (a record, an export): what it shows, in `lane`.
    pub fn queue_one(
        &self,
        platform: Platform,
        lane: String,
        shown: &impl Serialize,
    ) -> Result<(), AppError> {
        self.store.commit(crate::store::Batch {
            outbox: vec![crate::store::NewOutbox {
                platform,
                lane,
                op: crate::store::OutboxOp::new(shown),
                produces: None,
            }],
            ..crate::store::Batch::default()
        })?;
        Ok(())
    }

    /// The latest result of a channel, a decision's or a poll round's, whichever is newer.
    pub fn latest_record(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> Result<RecordOf, AppError> {
        let decision = self.store.latest_result(platform, workspace, channel)?;
        let round = self.store.latest_round(platform, workspace, channel)?;
        let decision_at = decision.as_ref().map(|d| d.finished_at);
        match (decision_at, round) {
            (_, Some(r)) if decision_at.is_none_or(|d| r.closed_at >= d) => Ok(RecordOf::Round {
                poll: r.poll,
                round: r.round,
            }),
            (Some(_), _) => Ok(RecordOf::Decision {
                platform,
                workspace: workspace.clone(),
                channel: channel.clone(),
            }),
            (None, _) => Err(UserError::NoResult.into()),
        }
    }

    /// The decision record of `of`, made from the result as it is stored.
    pub fn record(&self, of: &RecordOf) -> Result<DecisionRecord, AppError> {
        let past = self.kept(of)?;
        let card = self.past_card(&past)?;
        let markdown = match &past {
            Past::Decision(stored) => {
                let pack = self.catalog.get(&stored.pack, stored.pack_version)?;
                let answers = Answers::from_ids(
                    &pack,
                    stored.answers.iter().map(|(q, c)| (q.as_str(), c.as_str())),
                )
                .map_err(|e| InternalError::new("stored result", e))?;
                let basis = Basis {
                    by: stored.answered_by.clone(),
                    at: stored.finished_at,
                };
                crate::core::record::of_decision(&pack, &card, &evaluate(&pack, &answers), &basis)
            }
            Past::Round(record) => {
                let pack = self.catalog.get(&record.pack, record.pack_version)?;
                let basis = Basis {
                    by: record.by.clone(),
                    at: record.closed_at,
                };
                crate::core::record::of_team(&pack, &card, &record.tally, &basis, record.anonymous)
            }
        };
        Ok(DecisionRecord {
            path: self.record_path(&past)?,
            markdown,
        })
    }

    /// Where a record of `past` is kept: its pack's name, under `docs/decisions/`.
    fn record_path(&self, past: &Past) -> Result<String, AppError> {
        let (pack, version) = match past {
            Past::Decision(stored) => (&stored.pack, stored.pack_version),
            Past::Round(record) => (&record.pack, record.pack_version),
        };
        Ok(crate::core::record::suggested_path(
            &*self.catalog.get(pack, version)?,
        ))
    }

    /// The kept result a record is of, as it is stored now.
    pub fn kept(&self, of: &RecordOf) -> Result<Past, AppError> {
        let found = match of {
            RecordOf::Decision {
                platform,
                workspace,
                channel,
            } => self
                .store
                .latest_result(*platform, workspace, channel)?
                .map(Past::Decision),
            RecordOf::Conversation { key } => self
                .store
                .results_in(key.platform, &key.workspace, &key.channel)?
                .into_iter()
                .filter(|r| r.key.thread == key.thread)
                .max_by_key(|r| r.finished_at)
                .map(Past::Decision),
            RecordOf::Round { poll, round } => self.store.round(poll, *round)?.map(Past::Round),
        };
        Ok(found.ok_or(UserError::NoResult)?)
    }

    /// Queues `shown` in `lane` (the record itself is made when it is sent); returns where
    /// to keep the record, for the answer.
    pub fn queue_record(
        &self,
        platform: Platform,
        lane: String,
        shown: &RecordShown,
    ) -> Result<String, AppError> {
        let path = self.record_path(&self.kept(&shown.record)?)?;
        self.queue_one(platform, lane, shown)?;
        Ok(path)
    }
}
