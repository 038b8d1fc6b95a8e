//! Team polls in the application layer: opening, answering and closing polls, and the
//! scheduler that closes rounds and sends reminders when they come due. Each change is
//! saved together with the messages that announce it (one atomic write), so a crash while
//! posting a summary neither loses nor doubles it. What follows a change is decided in
//! the core ([`crate::core::poll::after_close`] and its kin) as neutral effects; the
//! platforms only say where each goes ([`PollPresenter`]) and render it when it is sent,
//! from the poll and its kept rounds as they are then ([`App::poll_view`]).

use crate::app::{redone_too_often, saved, App, AppError, InternalError, UserError, REDO_LIMIT};
use crate::core::card::Card;
use crate::core::ids::{ChannelId, Platform, PollId, UserRef, WorkspaceId};
use crate::core::pack::Pack;
use crate::core::poll::{
    after_answer, after_close, after_open, after_remind, Due, Poll, PollEffect, PollState,
    RoundRecord, RoundResult,
};
use crate::core::schedule::{parse_poll, PollCommand};
use crate::core::score::Answers;
use crate::outbox::{Clock, Delivery, Outbox};
use crate::store::{Batch, NewOutbox, PollResponse, ResponseKey};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The channel a poll lives in.
pub type ChannelKey = (Platform, WorkspaceId, ChannelId);

/// Random hex from the operating system: poll ids and anonymity salts.
fn random_hex(bytes: usize) -> Result<String, InternalError> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| InternalError::new("random", e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// What `/tradeoff poll ...` did.
pub enum PollAction {
    Opened(Poll),
    Closed(Poll, Box<RoundResult>),
    /// The export of this closed round was asked for (by its creator or an admin): the
    /// platform sends it privately.
    Export(ExportOf),
}

/// Which closed round an export is of: what the outbox keeps, next to whom it goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOf {
    pub poll: PollId,
    pub round: u32,
}

/// A queued reminder as it stands when it is sent: the poll, if it is still open at the
/// round the reminder was queued for, and the respondent keys of everyone who has answered
/// by now (`answered`, those the reminder was queued with, and those since). `Ok(None)`:
/// the poll moved on, and the reminder is not sent.
pub fn reminder_due(
    store: &dyn crate::store::Store,
    id: &PollId,
    round: u32,
    answered: &serde_json::Value,
) -> Result<Option<(Poll, BTreeSet<String>)>, crate::store::StoreError> {
    let poll = store.poll(id)?;
    let Some(poll) = poll.filter(|p| p.state == PollState::Open && p.round == round) else {
        tracing::info!(poll = %id, "the poll moved on before its reminder went out");
        return Ok(None);
    };
    let mut keys: BTreeSet<String> = answered
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    match store.poll_responses(&poll.id, poll.round) {
        Ok(responses) => keys.extend(responses.into_iter().map(|(k, _)| k)),
        Err(e) => tracing::warn!(poll = %id, "reminder: cannot read the answers: {e}"),
    }
    Ok(Some((poll, keys)))
}

/// Where a platform shows a poll's effects: the outbox entry of each, holding a
/// [`PollShown`], rendered when it is sent.
pub trait PollPresenter: Send + Sync + 'static {
    fn place(&self, poll: &Poll, effect: PollEffect) -> NewOutbox;
}

fn placed(presenter: &dyn PollPresenter, poll: &Poll, effects: Vec<PollEffect>) -> Vec<NewOutbox> {
    effects
        .into_iter()
        .map(|effect| presenter.place(poll, effect))
        .collect()
}

/// An outbox entry that shows a poll's effect: the poll, the effect, and the message it
/// changes (a `{{ref:NAME}}` placeholder): the round's poll message for a refresh, its
/// card for a chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollShown {
    pub poll: PollId,
    #[serde(flatten)]
    pub effect: PollEffect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl PollShown {
    /// The outbox entry showing `effect` of `poll` in `lane`, where a round's poll message,
    /// once posted, is remembered under the ref `message_ref(round)`.
    pub fn entry(
        poll: &Poll,
        effect: PollEffect,
        lane: String,
        message_ref: impl Fn(u32) -> String,
    ) -> NewOutbox {
        let name = message_ref(effect.round());
        let card = format!("{name}:card");
        let (message, produces) = match effect {
            PollEffect::Message { .. } => (None, Some(name)),
            PollEffect::Refresh { .. } => (Some(crate::outbox::ref_placeholder(&name)), None),
            PollEffect::Card { .. } => (None, Some(card)),
            PollEffect::Chart { .. } => (Some(crate::outbox::ref_placeholder(&card)), None),
            PollEffect::Remind { .. } => (None, None),
        };
        let shown = PollShown {
            poll: poll.id.clone(),
            effect,
            message,
        };
        NewOutbox {
            platform: poll.platform,
            lane,
            op: crate::store::OutboxOp::new(&shown),
            produces,
        }
    }

    /// The entry of `op`, if it shows a poll's effect.
    pub fn of(op: &serde_json::Value) -> Option<Result<PollShown, String>> {
        op.get("poll_shows")?;
        Some(serde_json::from_value(op.clone()).map_err(|e| format!("bad poll message: {e}")))
    }
}

/// What a [`PollShown`] shows now, read from the store when it is sent.
pub enum PollView {
    /// The open round's poll message, with its count.
    Open { poll: Poll, pack: Arc<Pack> },
    /// A closed round's poll message.
    Closed {
        poll: Poll,
        pack: Arc<Pack>,
        record: RoundRecord,
    },
    /// A closed round's summary card.
    Card { record: RoundRecord, card: Card },
    /// A closed round's chart, with its card (a platform may show both in one message).
    Chart {
        record: RoundRecord,
        card: Card,
        chart: Box<crate::core::chart::Chart>,
    },
    /// The round's reminder: the poll, and the respondent keys of who has answered.
    Remind {
        poll: Poll,
        answered: BTreeSet<String>,
    },
    /// Nothing to send any more: the poll moved on before its reminder went out.
    Nothing,
}

impl App {
    /// What `shown` shows as the poll stands now. A store that cannot be read is a reason
    /// to try again; a poll or round that is not there is not.
    pub fn poll_view(&self, shown: &PollShown) -> Result<PollView, Delivery> {
        let retry = |e: crate::store::StoreError| Delivery::Retry {
            after_ms: None,
            error: format!("store: {e}"),
        };
        let id = &shown.poll;
        let round = shown.effect.round();
        let record = || -> Result<(RoundRecord, Arc<Pack>), Delivery> {
            let record = self
                .store
                .round(id, round)
                .map_err(retry)?
                .ok_or_else(|| Delivery::Refused(format!("poll {id} has no round {round}")))?;
            let pack = self
                .catalog
                .get(&record.pack, record.pack_version)
                .map_err(|e| Delivery::Refused(e.to_string()))?;
            record.fits(&pack).map_err(Delivery::Refused)?;
            Ok((record, pack))
        };
        match &shown.effect {
            PollEffect::Remind { .. } => Ok(
                match reminder_due(self.store.as_ref(), id, round, &serde_json::Value::Null)
                    .map_err(retry)?
                {
                    Some((poll, answered)) => PollView::Remind { poll, answered },
                    None => PollView::Nothing,
                },
            ),
            PollEffect::Card { .. } => {
                let (record, pack) = record()?;
                let card = record.card(&pack);
                Ok(PollView::Card { record, card })
            }
            PollEffect::Chart { .. } => {
                let (record, pack) = record()?;
                let mut earlier = Vec::new();
                if record.recurring {
                    for r in 1..record.round {
                        match self.store.round(id, r).map_err(retry)? {
                            Some(e) if e.fits(&pack).is_ok() => earlier.push(e.summary(&pack)),
                            _ => {}
                        }
                    }
                }
                let card = record.card(&pack);
                let chart = Box::new(crate::core::chart::Chart::of_round(
                    &pack, &record, &earlier,
                ));
                Ok(PollView::Chart {
                    record,
                    card,
                    chart,
                })
            }
            PollEffect::Message { .. } | PollEffect::Refresh { .. } => {
                let poll = self
                    .store
                    .poll(id)
                    .map_err(retry)?
                    .ok_or_else(|| Delivery::Refused(format!("no poll {id}")))?;
                if poll.state == PollState::Open && poll.round == round {
                    let pack = self
                        .catalog
                        .get(&poll.pack, poll.pack_version)
                        .map_err(|e| Delivery::Refused(e.to_string()))?;
                    return Ok(PollView::Open { poll, pack });
                }
                let (record, pack) = record()?;
                Ok(PollView::Closed { poll, pack, record })
            }
        }
    }

    /// Handles `/tradeoff poll <args>`: opens a poll, or closes the channel's poll.
    #[expect(
        clippy::too_many_arguments,
        reason = "the command's context, each one needed"
    )]
    pub fn poll_command(
        &self,
        channel: ChannelKey,
        by: &UserRef,
        is_admin: bool,
        args: &str,
        user_tz: Option<&str>,
        now: i64,
        presenter: &dyn PollPresenter,
    ) -> Result<PollAction, AppError> {
        match parse_poll(args, &self.catalog.ids())
            .map_err(|e| UserError::BadSchedule(e.to_string()))?
        {
            PollCommand::Close => {
                let (poll, result) = self.close_poll(channel, by, is_admin, now, presenter)?;
                Ok(PollAction::Closed(poll, Box::new(result)))
            }
            PollCommand::Export => {
                let round = self
                    .store
                    .latest_round(channel.0, &channel.1, &channel.2)?
                    .ok_or(UserError::NoResult)?;
                if round.creator.id != by.id && !is_admin {
                    return Err(UserError::NotPollOwner {
                        creator: round.creator.name.clone(),
                        action: "export",
                    }
                    .into());
                }
                Ok(PollAction::Export(ExportOf {
                    poll: round.poll,
                    round: round.round,
                }))
            }
            PollCommand::Open(spec) => {
                let (pack, version) = self.pack(spec.pack.as_deref())?;
                for _ in 0..REDO_LIMIT {
                    if self
                        .store
                        .open_poll_in(channel.0, &channel.1, &channel.2)?
                        .is_some()
                    {
                        return Err(UserError::PollAlreadyOpen.into());
                    }
                    let poll = Poll::open(
                        PollId::new(random_hex(8)?),
                        random_hex(16)?,
                        channel.clone(),
                        by.clone(),
                        &pack,
                        version,
                        spec.clone(),
                        user_tz,
                        now,
                    );
                    let written = self.store.commit(Batch {
                        poll: Some(poll.clone()),
                        outbox: placed(presenter, &poll, after_open(&poll)),
                        ..Batch::default()
                    });
                    if saved(written)? {
                        return Ok(PollAction::Opened(poll));
                    }
                }
                Err(redone_too_often("the channel's poll"))
            }
        }
    }

    /// The open poll with this id and its pack.
    pub fn open_poll(&self, id: &PollId) -> Result<(Poll, Arc<Pack>), AppError> {
        let poll = self.store.poll(id)?.ok_or(UserError::PollClosed)?;
        if poll.state != crate::core::poll::PollState::Open {
            return Err(UserError::PollClosed.into());
        }
        let pack = self.catalog.get(&poll.pack, poll.pack_version)?;
        Ok((poll, pack))
    }

    /// A member's answers (question id -> choice id). Answering again replaces their earlier
    /// answers; only the count of members is shown before the close.
    pub fn answer_poll(
        &self,
        id: &PollId,
        user: &UserRef,
        answers: BTreeMap<String, String>,
        now: i64,
        presenter: &dyn PollPresenter,
    ) -> Result<Poll, AppError> {
        for _ in 0..REDO_LIMIT {
            let (mut poll, pack) = self.open_poll(id)?;
            Answers::from_ids(&pack, answers.iter().map(|(q, c)| (q.as_str(), c.as_str())))
                .map_err(|e| UserError::BadAnswer(e.to_string()))?;
            let respondent = poll.respondent_key(user);
            let first = self
                .store
                .poll_response(&poll.id, poll.round, &respondent)?
                .is_none();
            if first {
                poll.respondents += 1;
            }
            let response = ResponseKey {
                poll: poll.id.clone(),
                round: poll.round,
                respondent,
                response: PollResponse {
                    answers: answers.clone(),
                    at: now,
                    user: (!poll.spec.anonymous).then(|| user.clone()),
                },
            };
            let written = self.store.commit(Batch {
                outbox: placed(presenter, &poll, after_answer(&poll, first)),
                poll: Some(poll.clone()),
                response: Some(response),
                ..Batch::default()
            });
            if saved(written)? {
                poll.version += 1;
                return Ok(poll);
            }
        }
        Err(redone_too_often(&format!("poll {id}")))
    }

    /// A member's current answers to the open round, to prefill a form.
    pub fn poll_answers_of(
        &self,
        poll: &Poll,
        user: &UserRef,
    ) -> Result<BTreeMap<String, String>, AppError> {
        Ok(self
            .store
            .poll_response(&poll.id, poll.round, &poll.respondent_key(user))?
            .map(|r| r.answers)
            .unwrap_or_default())
    }

    /// `/tradeoff poll close`: only the poll's creator or an admin may close it. Ends the
    /// poll, recurring or not, with a summary of the current round.
    pub fn close_poll(
        &self,
        channel: ChannelKey,
        by: &UserRef,
        is_admin: bool,
        now: i64,
        presenter: &dyn PollPresenter,
    ) -> Result<(Poll, RoundResult), AppError> {
        for _ in 0..REDO_LIMIT {
            let mut poll = self
                .store
                .open_poll_in(channel.0, &channel.1, &channel.2)?
                .ok_or(UserError::NoPoll)?;
            if poll.creator.id != by.id && !is_admin {
                return Err(UserError::NotPollOwner {
                    creator: poll.creator.name.clone(),
                    action: "close",
                }
                .into());
            }
            if let Some(result) = self.close_round(&mut poll, now, true, presenter)? {
                return Ok((poll, result));
            }
        }
        Err(redone_too_often("the channel's poll"))
    }

    /// Closes the poll's current round (and, with `end`, the poll); `None` when the poll
    /// changed since it was read, and nothing was saved.
    fn close_round(
        &self,
        poll: &mut Poll,
        now: i64,
        end: bool,
        presenter: &dyn PollPresenter,
    ) -> Result<Option<RoundResult>, AppError> {
        let pack = self.catalog.get(&poll.pack, poll.pack_version)?;
        let mut sets = Vec::new();
        let mut names = Vec::new();
        for (_, response) in self.store.poll_responses(&poll.id, poll.round)? {
            match Answers::from_ids(
                &pack,
                response
                    .answers
                    .iter()
                    .map(|(q, c)| (q.as_str(), c.as_str())),
            ) {
                Ok(a) => {
                    sets.push(a);
                    names.extend(response.user.map(|u| u.name));
                }
                Err(e) => tracing::warn!(poll = %poll.id, "skipping a stored response: {e}"),
            }
        }
        let result = poll.close_round(&pack, &sets, names, now);
        if end {
            poll.end(now);
        }
        let written = self.store.commit(Batch {
            outbox: placed(presenter, poll, after_close(&result)),
            poll: Some(poll.clone()),
            round: Some(result.record.clone()),
            ..Batch::default()
        });
        if !saved(written)? {
            return Ok(None);
        }
        poll.version += 1;
        Ok(Some(result))
    }

    /// Closes every round and sends every reminder that is due at `now`. Returns how many
    /// actions it took and when the next one is due.
    pub fn run_due_polls(
        &self,
        now: i64,
        presenter_for: &dyn Fn(Platform) -> Option<Arc<dyn PollPresenter>>,
    ) -> (usize, Option<i64>) {
        let polls = match self.store.open_polls() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot read polls: {e}");
                return (0, Some(now + 5));
            }
        };
        let mut done = 0;
        for poll in polls {
            let Some(presenter) = presenter_for(poll.platform) else {
                continue;
            };
            match self.run_due(&poll.id, now, presenter.as_ref()) {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(poll = %poll.id, "scheduled poll action failed: {}", e.user_text())
                }
            }
        }
        let next = self.store.open_polls().ok().and_then(|polls| {
            polls
                .iter()
                .filter(|p| presenter_for(p.platform).is_some())
                .filter_map(Poll::next_due)
                .min()
        });
        (done, next)
    }

    /// Takes the action due on one poll at `now`, if any (whether it took one), reading
    /// it again each time another change to it was saved first.
    fn run_due(
        &self,
        id: &PollId,
        now: i64,
        presenter: &dyn PollPresenter,
    ) -> Result<bool, AppError> {
        for _ in 0..REDO_LIMIT {
            let mut poll = match self.store.poll(id)? {
                Some(p) if p.state == crate::core::poll::PollState::Open => p,
                _ => return Ok(false),
            };
            let done = match poll.due(now) {
                Some(Due::Close) => self
                    .close_round(&mut poll, now, false, presenter)?
                    .is_some(),
                Some(Due::Remind) => self.remind(&mut poll, presenter)?,
                None => return Ok(false),
            };
            if done {
                return Ok(true);
            }
        }
        Err(redone_too_often(&format!("poll {id}")))
    }

    /// Sends the round's one reminder; false when the poll changed since it was read.
    fn remind(&self, poll: &mut Poll, presenter: &dyn PollPresenter) -> Result<bool, AppError> {
        poll.reminded = true;
        saved(self.store.commit(Batch {
            outbox: placed(presenter, poll, after_remind(poll)),
            poll: Some(poll.clone()),
            ..Batch::default()
        }))
    }
}

/// Runs due poll actions on a clock: at each due time, and at least every 30 seconds (so a
/// poll opened meanwhile is seen). After a restart, a round whose deadline passed while the
/// bot was down is closed at once, with a late note.
pub async fn run_scheduler(
    app: Arc<App>,
    presenters: Vec<(Platform, Arc<dyn PollPresenter>, Outbox)>,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let lookup = {
        let presenters = presenters.clone();
        move |p: Platform| {
            presenters
                .iter()
                .find(|(q, _, _)| *q == p)
                .map(|(_, pr, _)| pr.clone())
        }
    };
    loop {
        let now = clock.now_ms() / 1000;
        let app2 = app.clone();
        let lookup2 = lookup.clone();
        let (done, next) = tokio::task::spawn_blocking(move || app2.run_due_polls(now, &lookup2))
            .await
            .unwrap_or((0, None));
        if done > 0 {
            for (_, _, outbox) in &presenters {
                outbox.notify();
            }
        }
        let wait = next.map_or(30, |due| (due - now).clamp(1, 30));
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
        }
    }
}
