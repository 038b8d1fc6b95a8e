//! Team polls in the application layer: opening, answering and closing polls, and the
//! scheduler that closes rounds and sends reminders when they come due. Each change is
//! saved together with the messages that announce it (one atomic write), so a crash while
//! posting a summary neither loses nor doubles it.

use crate::app::{redone_too_often, saved, App, AppError, InternalError, UserError, REDO_LIMIT};
use crate::core::ids::{ChannelId, Platform, PollId, UserRef, WorkspaceId};
use crate::core::pack::Pack;
use crate::core::poll::{Due, Poll, RoundResult};
use crate::core::schedule::{parse_poll, PollCommand};
use crate::core::score::Answers;
use crate::outbox::{Clock, Outbox};
use crate::store::{Batch, NewOutbox, PollResponse, ResponseKey};
use std::collections::BTreeMap;
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
}

/// What a platform posts for a poll. Each method returns the outbox messages to save with
/// the change.
/// A queued reminder as it stands when it is sent: the poll, if it is still open at the
/// round the reminder was queued for, and the respondent keys of everyone who has answered
/// by now (`answered`, those the reminder was queued with, and those since). `Ok(None)`:
/// the poll moved on, and the reminder is not sent.
pub fn reminder_due(
    store: &dyn crate::store::Store,
    id: &PollId,
    round: u32,
    answered: &serde_json::Value,
) -> Result<Option<(Poll, std::collections::BTreeSet<String>)>, crate::store::StoreError> {
    let poll = store.poll(id)?;
    let Some(poll) =
        poll.filter(|p| p.state == crate::core::poll::PollState::Open && p.round == round)
    else {
        tracing::info!(poll = %id, "the poll moved on before its reminder went out");
        return Ok(None);
    };
    let mut keys: std::collections::BTreeSet<String> = answered
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

pub trait PollPresenter: Send + Sync + 'static {
    /// The poll message: the question, an Answer button, the participation count.
    fn opened(&self, poll: &Poll, pack: &Pack) -> Vec<NewOutbox>;
    /// The poll message again, with the new participation count (never the answers).
    fn progress(&self, poll: &Poll, pack: &Pack) -> Vec<NewOutbox>;
    /// The round's summary card; for a recurring poll, also the next round's opening.
    fn summary(&self, poll: &Poll, pack: &Pack, result: &RoundResult) -> Vec<NewOutbox>;
    /// One nudge to the members who have not answered; `answered` are respondent keys.
    fn reminder(&self, poll: &Poll, answered: &[String]) -> Vec<NewOutbox>;
}

impl App {
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
                        outbox: presenter.opened(&poll, &pack),
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
                outbox: if first {
                    presenter.progress(&poll, &pack)
                } else {
                    Vec::new()
                },
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
            outbox: presenter.summary(poll, &pack, &result),
            poll: Some(poll.clone()),
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
        let answered: Vec<String> = self
            .store
            .poll_responses(&poll.id, poll.round)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        poll.reminded = true;
        saved(self.store.commit(Batch {
            outbox: presenter.reminder(poll, &answered),
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
