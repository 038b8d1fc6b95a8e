//! The application layer: takes a platform-neutral event (start, an input), runs the core
//! on the stored conversation, persists the new state, and returns what happened for the
//! caller to show. Adapters (terminal, Slack, Discord) stay thin on top of this.

use crate::core::card::{Basis, Card};
use crate::core::conversation::{Conversation, Event, Input, Next, Transition};
use crate::core::effect::{after_step, answer_ids, basis, card_of, Effect, Step};
use crate::core::ids::{ChannelId, ConversationKey, Platform, UserRef, WorkspaceId};
use crate::core::pack::Pack;
use crate::core::score::Outcome;
use crate::packs::{Catalog, PacksError};
use crate::store::{Batch, Durability, NewOutbox, ResultRecord, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Something the user can fix; shown to them as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("There is no pack called “{given}”. Available packs: {known}.")]
    UnknownPack { given: String, known: String },
    #[error("There is no decision running here. Start one with `start`.")]
    NoConversation,
    #[error(
        "A decision is already running here. Answer its questions, or say `cancel` to stop it."
    )]
    AlreadyRunning,
    #[error("There is no result in this channel yet. Start a decision with `start`.")]
    NoResult,
    #[error("{0}")]
    BadSchedule(String),
    #[error("A poll is already open in this channel. Close it with `poll close` first.")]
    PollAlreadyOpen,
    #[error("There is no open poll in this channel. Open one with `poll`.")]
    NoPoll,
    #[error("This poll has closed; its summary is in the channel.")]
    PollClosed,
    #[error("Only {creator}, who opened this poll, or an admin can {action} it.")]
    NotPollOwner {
        creator: String,
        /// What they may do: "close", "export".
        action: &'static str,
    },
    #[error("That answer doesn't fit this poll: {0}")]
    BadAnswer(String),
}

/// Everything else: logged with an id; the user sees only the apology and the id.
#[derive(Debug, thiserror::Error)]
#[error("internal error {id}: {message}")]
pub struct InternalError {
    pub id: String,
    pub message: String,
}

impl InternalError {
    pub fn new(context: &str, error: impl std::fmt::Display) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let seq = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("E{:x}{seq:03}", std::process::id());
        let message = format!("{context}: {error}");
        tracing::error!(error_id = %id, "{message}");
        InternalError { id, message }
    }

    /// What the user is told.
    pub fn apology(&self) -> String {
        format!(
            "Sorry, something went wrong on our side (error id {}). Please try again.",
            self.id
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl AppError {
    /// The text to show the person who caused it.
    pub fn user_text(&self) -> String {
        match self {
            AppError::User(e) => e.to_string(),
            AppError::Internal(e) => e.apology(),
        }
    }
}

impl From<AppError> for crate::outbox::Delivery {
    /// A queued message that cannot be made now: an internal error (the store, say) is
    /// worth another try; anything else will not change.
    fn from(e: AppError) -> Self {
        match e {
            AppError::Internal(e) => crate::outbox::Delivery::Retry {
                after_ms: None,
                error: e.to_string(),
            },
            e => crate::outbox::Delivery::Refused(e.user_text()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(InternalError::new("store", e))
    }
}

impl From<PacksError> for AppError {
    fn from(e: PacksError) -> Self {
        AppError::Internal(InternalError::new("pack", e))
    }
}

/// The result of one event on a conversation.
#[derive(Debug, Clone)]
pub struct Update {
    pub pack: Arc<Pack>,
    pub version: u32,
    pub conversation: Conversation,
    pub transition: Transition,
    /// Set when this event finished the conversation.
    pub outcome: Option<Outcome>,
    /// The question that was current when the input came, if one was.
    pub was_asking: Option<usize>,
    /// What to show people about this step, in no platform's terms.
    pub effects: Vec<Effect>,
}

impl Update {
    pub fn card(&self) -> Option<Card> {
        self.outcome.as_ref().map(|o| {
            crate::core::card::outcome_card(&self.pack, self.version, o, &basis(&self.conversation))
        })
    }

    /// The chart of the finished conversation's result.
    pub fn chart(&self) -> Option<crate::core::chart::Chart> {
        self.outcome
            .as_ref()
            .map(|o| crate::core::chart::Chart::of_decision(&self.pack, self.version, o))
    }
}

/// How many times a change is redone because another change to its record (a
/// conversation, a poll) was saved between its read and its write. Each redo follows
/// someone else's save, so this bounds a burst of racing inputs, never a wait.
pub(crate) const REDO_LIMIT: usize = 64;

/// The error of a change redone [`REDO_LIMIT`] times; `record` names what it changed.
pub(crate) fn redone_too_often(record: &str) -> AppError {
    InternalError::new(
        "change",
        format!("{REDO_LIMIT} other changes to {record} were saved while this one was made"),
    )
    .into()
}

/// A change's write: `Ok(false)` when its record changed since it was read (redo it).
pub(crate) fn saved(written: Result<Vec<u64>, StoreError>) -> Result<bool, AppError> {
    match written {
        Ok(_) => Ok(true),
        Err(StoreError::Stale) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub catalog: Catalog,
    /// What the platforms' background parts report about themselves (`/readyz`).
    pub readiness: crate::readiness::Readiness,
}

impl App {
    pub fn new(store: Arc<dyn Store>, catalog: Catalog) -> Self {
        App {
            store,
            catalog,
            readiness: crate::readiness::Readiness::default(),
        }
    }

    /// The pack named by the user, or the default one.
    pub fn pack(&self, name: Option<&str>) -> Result<(Arc<Pack>, u32), UserError> {
        let found = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => self.catalog.latest(n),
            None => self.catalog.default_pack(),
        };
        found.ok_or_else(|| UserError::UnknownPack {
            given: name.unwrap_or("").to_owned(),
            known: self.catalog.ids().join(", "),
        })
    }

    /// The conversation at `key` if one is still open, with its pack.
    pub fn open_conversation(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<(Arc<Pack>, u32, Conversation)>, AppError> {
        match self.store.conversation(key)? {
            Some(c) if c.is_open() => {
                let pack = self.catalog.get(&c.pack, c.pack_version)?;
                Ok(Some((pack, c.pack_version, c)))
            }
            _ => Ok(None),
        }
    }

    /// Starts a conversation at `key`. Refuses when one is already open there.
    pub fn start(
        &self,
        key: &ConversationKey,
        pack: Option<&str>,
        by: UserRef,
        now: i64,
    ) -> Result<Update, AppError> {
        self.start_with(key, pack, by, now, |_| Vec::new())
    }

    /// Like [`App::start`], saving the messages `effects` makes from the update in the same
    /// write as the new conversation.
    pub fn start_with(
        &self,
        key: &ConversationKey,
        pack: Option<&str>,
        by: UserRef,
        now: i64,
        effects: impl FnMut(&Update) -> Vec<NewOutbox>,
    ) -> Result<Update, AppError> {
        let (pack, version) = self.pack(pack)?;
        self.start_pinned(key, pack, version, by, now, effects)
    }

    /// Like [`App::start_with`], with a given pack version: a poll's private form asks the
    /// questions of the version the poll was opened with.
    pub fn start_pinned(
        &self,
        key: &ConversationKey,
        pack: Arc<Pack>,
        version: u32,
        by: UserRef,
        now: i64,
        mut effects: impl FnMut(&Update) -> Vec<NewOutbox>,
    ) -> Result<Update, AppError> {
        for _ in 0..REDO_LIMIT {
            let stored = self.store.conversation(key)?;
            if stored.as_ref().is_some_and(Conversation::is_open) {
                return Err(UserError::AlreadyRunning.into());
            }
            let replaces = stored.map_or(0, |c| c.version);
            let (mut update, batch) = started(
                key,
                pack.clone(),
                version,
                by.clone(),
                now,
                replaces,
                &mut effects,
            );
            if saved(self.store.commit(batch))? {
                update.conversation.version += 1;
                crate::telemetry::decision_started(key.platform);
                return Ok(update);
            }
        }
        Err(redone_too_often("the conversation"))
    }

    /// Starts a conversation at a key that cannot have one yet (a thread the caller has
    /// just made up), so nothing is read first; and returns before the write is durable:
    /// await the [`Durability`] before telling anyone it started. This is the path of a
    /// Slack `/tradeoff start`, which must be acknowledged fast however busy the store is.
    pub fn start_new(
        &self,
        key: &ConversationKey,
        pack: Option<&str>,
        by: UserRef,
        now: i64,
        effects: impl FnOnce(&Update) -> Vec<NewOutbox>,
    ) -> Result<(Update, Durability), AppError> {
        let (pack, version) = self.pack(pack)?;
        let (mut update, batch) = started(key, pack, version, by, now, 0, effects);
        let (_, durability) = self.store.commit_deferred(batch)?;
        update.conversation.version += 1;
        crate::telemetry::decision_started(key.platform);
        Ok((update, durability))
    }

    /// Applies one input to the conversation at `key` and saves the result before returning.
    pub fn step(
        &self,
        key: &ConversationKey,
        input: Input,
        by: &UserRef,
        now: i64,
    ) -> Result<Update, AppError> {
        self.step_with(key, input, by, now, |_| Vec::new())
    }

    /// Like [`App::step`], saving the messages `effects` makes from the update in the same
    /// write as the conversation's new state: what a user was told is never lost, and never
    /// announced without being saved.
    pub fn step_with(
        &self,
        key: &ConversationKey,
        input: Input,
        by: &UserRef,
        now: i64,
        effects: impl FnMut(&Update) -> Vec<NewOutbox>,
    ) -> Result<Update, AppError> {
        self.run_step(key, None, input, by, now, effects)?
            .ok_or_else(|| {
                InternalError::new(
                    "step",
                    "a write with no delivery key was refused as a repeat",
                )
                .into()
            })
    }

    /// [`App::step_with`] for one delivery of a platform (an event id, a click), named by
    /// `delivery`: the step is saved with the delivery's key, in the same write, and only
    /// the first time the key is seen. `Ok(None)` for a delivery handled before. A step
    /// that fails saves nothing, so the platform's next delivery of it is handled. Without
    /// a key (an input no platform delivers again), it is [`App::step_with`].
    pub fn step_delivered(
        &self,
        key: &ConversationKey,
        delivery: Option<&str>,
        input: Input,
        by: &UserRef,
        now: i64,
        effects: impl FnMut(&Update) -> Vec<NewOutbox>,
    ) -> Result<Option<Update>, AppError> {
        self.run_step(key, delivery, input, by, now, effects)
    }

    /// Reads the conversation, steps it, and saves the step if the conversation is still at
    /// the version it read. Otherwise another step was saved in between: read again and
    /// redo this one on the new state, where an input sent for the old state is stale.
    fn run_step(
        &self,
        key: &ConversationKey,
        delivery: Option<&str>,
        input: Input,
        by: &UserRef,
        now: i64,
        mut effects: impl FnMut(&Update) -> Vec<NewOutbox>,
    ) -> Result<Option<Update>, AppError> {
        let mut seen = None;
        for _ in 0..REDO_LIMIT {
            let mut conversation = self
                .store
                .conversation(key)?
                .ok_or(UserError::NoConversation)?;
            let pack = self
                .catalog
                .get(&conversation.pack, conversation.pack_version)?;
            let version = conversation.pack_version;
            let was_open = conversation.is_open();
            let was_asking = match conversation.next() {
                Next::Ask(q) => Some(q),
                Next::Finished | Next::Cancelled => None,
            };
            let transition = match seen {
                None => {
                    seen = Some(conversation.state);
                    conversation.step(&pack, input.clone(), by, now)
                }
                Some(state) => conversation.step_seen(&pack, input.clone(), by, now, state),
            };
            let changed = transition.event.changes_state();
            let finished = was_open && transition.next == Next::Finished;
            let outcome = finished.then(|| conversation.outcome(&pack));
            let result = outcome
                .as_ref()
                .map(|o| result_record(key, &pack, &conversation, o, now));
            let clicked = match &input {
                Input::Choice { choice, .. } => Some(choice.as_str()),
                _ => None,
            };
            let shown = after_step(&Step {
                pack: &pack,
                conversation: &conversation,
                transition: &transition,
                was_asking,
                by,
                clicked,
            });
            let mut update = Update {
                pack,
                version,
                conversation,
                transition,
                outcome,
                was_asking,
                effects: shown,
            };
            let outbox = effects(&update);
            let finished = result.is_some();
            if changed || finished || !outbox.is_empty() {
                let saved = self.store.commit(Batch {
                    conversation: changed.then(|| (key.clone(), update.conversation.clone())),
                    result,
                    outbox,
                    delivery: delivery.map(|d| (d.to_owned(), now)),
                    ..Batch::default()
                });
                match saved {
                    Err(StoreError::Stale) => continue,
                    Err(StoreError::Repeat) => return Ok(None),
                    done => done?,
                };
                if changed {
                    update.conversation.version += 1;
                }
                if finished {
                    crate::telemetry::decision_finished(key.platform);
                }
            }
            return Ok(Some(update));
        }
        Err(redone_too_often("the conversation"))
    }

    /// The decision `cancel` stops in a channel, when it is not said in a thread: the
    /// caller's own latest if they have one open there, else the one most recently moved.
    /// Private forms (a member's poll answers) are never picked.
    pub fn to_cancel(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
        by: &UserRef,
    ) -> Result<ConversationKey, AppError> {
        let open = self
            .store
            .conversations_in_channel(platform, workspace, channel)?;
        open.into_iter()
            .filter(|(key, c)| key.user.is_none() && c.is_open())
            .max_by_key(|(_, c)| (c.started_by.id == by.id, c.updated_at, c.started_at))
            .map(|(key, _)| key)
            .ok_or_else(|| UserError::NoConversation.into())
    }

    /// The latest result in a channel, as a card.
    pub fn latest_result(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> Result<(ResultRecord, Card), AppError> {
        let record = self
            .store
            .latest_result(platform, workspace, channel)?
            .ok_or(UserError::NoResult)?;
        let card = self.result_card(&record)?;
        Ok((record, card))
    }

    /// A stored result's card, scored again with the pack version it was made with.
    pub fn result_card(&self, record: &ResultRecord) -> Result<Card, AppError> {
        let pack = self.catalog.get(&record.pack, record.pack_version)?;
        let answers: Vec<(String, String)> = record
            .answers
            .iter()
            .map(|(q, c)| (q.clone(), c.clone()))
            .collect();
        let by = if record.answered_by.is_empty() {
            vec![record.started_by.name.clone()]
        } else {
            record.answered_by.clone()
        };
        let basis = Basis {
            by,
            at: record.finished_at,
        };
        card_of(&pack, record.pack_version, &answers, &basis)
            .map_err(|e| InternalError::new("stored result", e).into())
    }
}

/// A new conversation's first update, and the write that saves it with the messages
/// `effects` makes from it.
/// `replaces` is the version of the finished conversation stored at `key` (0: none).
fn started(
    key: &ConversationKey,
    pack: Arc<Pack>,
    version: u32,
    by: UserRef,
    now: i64,
    replaces: u64,
    effects: impl FnOnce(&Update) -> Vec<NewOutbox>,
) -> (Update, Batch) {
    let conversation = Conversation {
        version: replaces,
        ..Conversation::start(&pack, version, by, now)
    };
    let transition = Transition {
        event: Event::Started,
        next: conversation.next(),
    };
    let shown = after_step(&Step {
        pack: &pack,
        conversation: &conversation,
        transition: &transition,
        was_asking: None,
        by: &conversation.started_by,
        clicked: None,
    });
    let update = Update {
        pack,
        version,
        transition,
        conversation,
        outcome: None,
        was_asking: None,
        effects: shown,
    };
    let batch = Batch {
        conversation: Some((key.clone(), update.conversation.clone())),
        outbox: effects(&update),
        ..Batch::default()
    };
    (update, batch)
}

fn result_record(
    key: &ConversationKey,
    pack: &Pack,
    c: &Conversation,
    outcome: &Outcome,
    now: i64,
) -> ResultRecord {
    ResultRecord {
        key: key.clone(),
        pack: pack.id.clone(),
        pack_version: c.pack_version,
        answers: answer_ids(pack, c).into_iter().collect(),
        recommendation: outcome.recommendation.clone(),
        scores: outcome
            .scores
            .iter()
            .map(|(id, _, s)| (id.to_string(), *s))
            .collect(),
        started_by: c.started_by.clone(),
        finished_at: now,
        answered_by: basis(c).by,
    }
}
