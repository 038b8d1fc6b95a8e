//! The Slack app's behaviour, independent of how requests arrive (HTTP or Socket Mode):
//! slash commands, clicks and thread replies go through the app layer, and what the bot
//! says in reply is queued in the outbox in the same write as the conversation's new state.
//! Nothing here waits on Slack: handlers return as soon as the write is done.

use super::api;
use super::api::{Index, Shown, Via};
use super::config::Secret;
use super::payload::{self, ActionRequest, Asker, CommandRequest, ThreadReply};
use super::render::{self, escape};
use crate::app::{App, AppError, InternalError, Update, UserError};
use crate::core::conversation::Input;
use crate::core::effect::{Effect, Said};
use crate::core::ids::{ChannelId, ConversationKey, Platform, ThreadKey, UserRef, WorkspaceId};
use crate::core::messages::{event_text, history_hint, packs_text, HISTORY_EMPTY};
use crate::core::schedule::EXAMPLES;
use crate::core::subcommand::{help_lines, Subcommand};
use crate::core::text::Command;
use crate::deadline::{self, Deadline};
use crate::outbox::{ref_placeholder, Clock, Outbox};
use crate::store::{NewOutbox, OutboxOp};
use serde_json::{json, Value};
use slack_morphism::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where one conversation lives on Slack, and the names of its outbox lane and refs.
#[derive(Debug, Clone)]
pub(super) struct Place {
    team: String,
    channel: String,
    thread: String,
    /// `slack|{team}|{channel}|{thread}`: the outbox lane, and the stem of the refs' names.
    lane: String,
}

impl Place {
    fn new(team: String, channel: String, thread: String) -> Self {
        let lane = format!("slack|{team}|{channel}|{thread}");
        Place {
            team,
            channel,
            thread,
            lane,
        }
    }

    fn key(&self) -> ConversationKey {
        ConversationKey {
            platform: Platform::Slack,
            workspace: WorkspaceId::new(&*self.team),
            channel: ChannelId::new(&*self.channel),
            thread: ThreadKey::new(&*self.thread),
            user: None,
        }
    }

    pub(super) fn from_key(key: &ConversationKey) -> Self {
        Place::new(
            key.workspace.to_string(),
            key.channel.to_string(),
            key.thread.to_string(),
        )
    }

    /// The ref holding the `ts` of the thread's parent message.
    pub(super) fn parent_ref(&self) -> String {
        format!("{}|parent", self.lane)
    }

    /// The ref holding the `ts` of the question asked last, the one an answer closes.
    fn current_ref(&self) -> String {
        format!("{}|current", self.lane)
    }

    fn entry(&self, op: impl Into<OutboxOp>, produces: Option<String>) -> NewOutbox {
        NewOutbox {
            platform: Platform::Slack,
            lane: self.lane.clone(),
            op: op.into(),
            produces,
        }
    }
}

/// Refs `{prefix}{parent ts}` name the thread key of the conversation under that parent.
fn thread_index_prefix(team: &str, channel: &str) -> String {
    format!("slack|thread|{team}|{channel}|")
}

/// The answer to a request whose work outlasts Slack's deadline; the real answer follows.
const STILL_WORKING: &str =
    "This is taking longer than usual: I'll post the answer here as soon as it is ready.";

/// The JSON answer to a slash command.
pub fn ephemeral_reply(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": render::escape(text) })
}

pub struct SlackBot {
    pub app: Arc<App>,
    pub outbox: Outbox,
    clock: Arc<dyn Clock>,
    /// The bot's own user id, when known: its messages are never read as answers.
    bot_user: Option<String>,
    /// For the calls that cannot wait for the outbox: `users.info` while a slash command
    /// waits for its answer, `views.open` within 3 s of a click.
    pub(super) web: Option<WebApi>,
    /// How long a request waits for its work before Slack is answered without it, and
    /// the work that outlived the wait.
    deadline: Deadline,
}

impl SlackBot {
    pub fn new(app: Arc<App>, clock: Arc<dyn Clock>, bot_user: Option<String>) -> Self {
        let outbox = Outbox::new(app.store.clone(), Platform::Slack);
        SlackBot {
            app,
            outbox,
            clock,
            bot_user,
            web: None,
            deadline: Deadline::default(),
        }
    }

    /// Answers requests whose work takes longer than `budget` without waiting for it (the
    /// default is [`deadline::ANSWER_WITHIN`], under Slack's 3 seconds).
    pub fn with_answer_within(mut self, budget: Duration) -> Self {
        self.deadline = Deadline::new(budget);
        self
    }

    /// Waits, at most `limit`, for the answers to requests that outlived their deadline
    /// to be queued. The number still unfinished.
    pub async fn finish_late_answers(&self, limit: Duration) -> usize {
        self.deadline.finish(limit).await
    }

    /// Lets the bot call the Web API directly (polls need `users.info` and `views.open`).
    pub fn with_web_api(
        mut self,
        client: Arc<SlackHyperClient>,
        token: super::config::Secret,
    ) -> Self {
        self.web = Some((client, token));
        self
    }

    /// Seconds since the epoch, from the bot's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    // -----------------------------------------------------------------------------------
    // Slash commands
    // -----------------------------------------------------------------------------------

    /// Answers `/tradeoff ...` within Slack's deadline: the returned JSON is the HTTP (or
    /// Socket Mode) response. When the work takes longer (a store held up by a slow disk),
    /// the answer says so, and the real one follows as a message once the work is done.
    pub async fn answer_command(self: &Arc<Self>, cmd: CommandRequest) -> Value {
        let bot = self.clone();
        let work = async move {
            let reply = bot.command(&cmd).await;
            (cmd, reply)
        };
        let bot = self.clone();
        let later = move |(cmd, reply)| bot.send_late_reply(Asker::from(cmd), reply);
        match self.deadline.within(work, later).await {
            Some((_, reply)) => reply,
            None => ephemeral_reply(STILL_WORKING),
        }
    }

    /// Queues the answer to a request that was acknowledged before it was ready: in the
    /// channel for an `in_channel` answer, else to the person who asked only.
    async fn send_late_reply(self: Arc<Self>, to: Asker, reply: Value) {
        let op = match api::late_reply(&to.channel, &to.user, &reply) {
            Ok(op) => op,
            Err(e) => {
                tracing::error!("a late answer does not make a message: {e}");
                return;
            }
        };
        let message = NewOutbox {
            platform: Platform::Slack,
            lane: format!("slack|{}|{}|late", to.team, to.channel),
            op: op.into(),
            produces: None,
        };
        if let Err(e) = self.outbox.enqueue_off_the_runtime(vec![message]).await {
            tracing::error!("cannot queue a late answer: {e}");
        }
    }

    /// The answer to `/tradeoff ...`, however long it takes. `start` awaits its write's
    /// sync; `poll` awaits `users.info`, bounded well within Slack's 3 s.
    pub async fn command(self: &Arc<Self>, cmd: &CommandRequest) -> Value {
        let apology = |e: tokio::task::JoinError| {
            let error = crate::app::InternalError::new("slack command", e);
            ephemeral_reply(&error.apology())
        };
        // What reads the store, which can wait for a flush: off the async workers, so
        // they keep accepting requests.
        let blocking = |run: fn(&SlackBot, &CommandRequest) -> Value| {
            let (bot, cmd) = (self.clone(), cmd.clone());
            async move {
                tokio::task::spawn_blocking(move || run(&bot, &cmd))
                    .await
                    .unwrap_or_else(apology)
            }
        };
        match Subcommand::parse(&cmd.text) {
            // The hot path: its write is awaited without a thread.
            Ok(Subcommand::Start { pack }) => self.start(cmd, pack.as_deref()).await,
            Ok(Subcommand::Poll { args }) => {
                let (bot, cmd) = (self.clone(), cmd.clone());
                deadline::off_the_runtime(async move { bot.poll_command(&cmd, &args).await })
                    .await
                    .unwrap_or_else(apology)
            }
            Ok(Subcommand::Help) => json!({ "response_type": "ephemeral", "text": help_text() }),
            Ok(Subcommand::Packs) => self.packs(),
            Ok(Subcommand::Result) => blocking(Self::result).await,
            Ok(Subcommand::Record) => blocking(Self::record).await,
            Ok(Subcommand::History { .. }) => blocking(Self::history).await,
            Ok(Subcommand::Cancel) => blocking(Self::cancel).await,
            Err(unknown) => json!({
                "response_type": "ephemeral",
                "text": format!("{}\n\n{}", render::escape(&unknown.to_string()), help_text()),
            }),
        }
    }

    /// `/tradeoff start`: the new conversation and its first two messages (the parent and
    /// the first question, rendered when sent) in one write, awaited without a thread: the
    /// hot path, so it reads nothing from the store.
    async fn start(&self, cmd: &CommandRequest, pack: Option<&str>) -> Value {
        let place = Place::new(cmd.team.clone(), cmd.channel.clone(), new_thread_key());
        let by = user_ref(&cmd.user, &cmd.user_name);
        let started = self
            .app
            .start_new(&place.key(), pack, by, self.now(), |u| shown(&place, u));
        let saved = match started {
            Ok((u, durability)) => durability.wait().await.map(|()| u).map_err(AppError::from),
            Err(e) => Err(e),
        };
        match saved {
            Ok(u) => {
                self.outbox.notify();
                ephemeral_reply(&format!(
                    "Starting “{}”: the questions are in a thread in this channel.",
                    u.pack.title
                ))
            }
            Err(e) => ephemeral_reply(&e.user_text()),
        }
    }

    fn packs(&self) -> Value {
        let text = packs_text(
            &self.app.catalog.list(),
            |t| format!("*{t}*"),
            render::escape,
        );
        json!({ "response_type": "ephemeral", "text": text })
    }

    fn result(&self, cmd: &CommandRequest) -> Value {
        match self.app.latest_result(
            Platform::Slack,
            &WorkspaceId::new(&*cmd.team),
            &ChannelId::new(&*cmd.channel),
        ) {
            Ok((_, card)) => {
                let m = render::card(&card);
                json!({ "response_type": "in_channel", "text": m.text, "blocks": m.blocks_json() })
            }
            Err(e) => ephemeral_reply(&e.user_text()),
        }
    }

    /// `/tradeoff history [N]`: the channel's past results, privately; with N, that one's
    /// card in the channel.
    fn history(&self, cmd: &CommandRequest) -> Value {
        let (team, channel) = (WorkspaceId::new(&*cmd.team), ChannelId::new(&*cmd.channel));
        let show = match Subcommand::parse(&cmd.text) {
            Ok(Subcommand::History { show }) => show,
            _ => None,
        };
        let answer = match show {
            Some(n) => self
                .app
                .history_card(Platform::Slack, &team, &channel, n)
                .map(|card| {
                    let m = render::card(&card);
                    json!({ "response_type": "in_channel", "text": m.text, "blocks": m.blocks_json() })
                }),
            None => self
                .app
                .history(Platform::Slack, &team, &channel)
                .and_then(|past| self.app.history_lines(&past))
                .map(|lines| {
                    let text = if lines.is_empty() {
                        HISTORY_EMPTY.to_owned()
                    } else {
                        let lines: Vec<String> = lines.iter().map(|l| render::escape(l)).collect();
                        format!("{}\n{}", lines.join("\n"), history_hint("/tradeoff"))
                    };
                    ephemeral_reply(&text)
                }),
        };
        answer.unwrap_or_else(|e| ephemeral_reply(&e.user_text()))
    }

    /// Cancels the decision running in the channel ([`App::to_cancel`] picks which).
    fn cancel(&self, cmd: &CommandRequest) -> Value {
        let by = user_ref(&cmd.user, &cmd.user_name);
        let target = self.app.to_cancel(
            Platform::Slack,
            &WorkspaceId::new(&*cmd.team),
            &ChannelId::new(&*cmd.channel),
            &by,
        );
        let key = match target {
            Ok(key) => key,
            Err(e) => return ephemeral_reply(&e.user_text()),
        };
        match self.step(&key, Input::Command(Command::Cancel), &by, None) {
            Ok(Some(u)) => {
                ephemeral_reply(&event_text(&u.pack, &u.transition.event).unwrap_or_default())
            }
            Ok(None) => ephemeral_reply(&UserError::NoConversation.to_string()),
            Err(e) => ephemeral_reply(&e.user_text()),
        }
    }

    // -----------------------------------------------------------------------------------
    // Clicks and thread replies
    // -----------------------------------------------------------------------------------

    /// Handles an interaction off the async workers, and answers a click within Slack's
    /// deadline: a click is acknowledged with an empty 200 however long its work takes,
    /// and what the work posts goes through the outbox as usual. If that late work fails,
    /// the clicker is told. A modal's submission is always awaited, because its errors can
    /// only be shown in the answer (past the deadline Slack keeps the modal open and says
    /// so, and the member can submit again).
    pub async fn answer_interaction(
        self: &Arc<Self>,
        event: SlackInteractionEvent,
    ) -> Result<Option<Value>, AppError> {
        let clicker = payload::clicker(&event);
        let bot = self.clone();
        let work = async move {
            deadline::off_the_runtime(async move { bot.interaction(&event).await })
                .await
                .unwrap_or_else(|e| Err(InternalError::new("slack interaction", e).into()))
        };
        let Some(to) = clicker else {
            return work.await;
        };
        let bot = self.clone();
        let later = move |done: Result<_, AppError>| async move {
            if let Err(e) = done {
                bot.send_late_reply(to, ephemeral_reply(&e.user_text()))
                    .await;
            }
        };
        self.deadline.within(work, later).await.unwrap_or(Ok(None))
    }

    /// Handles an interaction: a click (`block_actions`; a delivery seen before is
    /// ignored), or a submitted poll modal (`view_submission`). `Some(body)` is the JSON to
    /// answer with (a modal's errors); `None` is an empty 200. Blocks on the store: call
    /// it off the async workers.
    pub async fn interaction(
        &self,
        event: &SlackInteractionEvent,
    ) -> Result<Option<Value>, AppError> {
        match event {
            SlackInteractionEvent::ViewSubmission(v) => return self.poll_submission(v),
            SlackInteractionEvent::BlockActions(b) => {
                if let Some(done) = self.poll_answer_click(b).await {
                    return done.map(|()| None);
                }
            }
            _ => {}
        }
        for action in payload::actions(event).map_err(|e| InternalError::new("slack", e))? {
            self.action(&action)?;
        }
        Ok(None)
    }

    fn action(&self, a: &ActionRequest) -> Result<(), AppError> {
        if a.action_id == render::RECORD_ACTION {
            return self.record_click(a);
        }
        let Some(click) = render::parse_action(&a.block_id, &a.action_id, &a.value) else {
            tracing::debug!(action_id = %a.action_id, "not one of our actions");
            return Ok(());
        };
        let delivery = format!(
            "slack|action|{}|{}|{}|{}|{}",
            a.team, a.message_ts, a.action_id, a.action_ts, a.user
        );
        let place = Place::new(a.team.clone(), a.channel.clone(), click.thread);
        let by = user_ref(&a.user, &a.user_name);
        let stepped = self.step(&place.key(), click.input, &by, Some(&delivery));
        match stepped {
            Ok(_) => Ok(()),
            Err(AppError::User(e)) => {
                self.tell(&place, &a.user, &e.to_string())?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Handles an Events API callback off the async workers (it reads and writes the
    /// store). Slack retries an event it got no 2xx for, so the answer waits for the work.
    pub async fn answer_event(
        self: &Arc<Self>,
        event: SlackPushEventCallback,
    ) -> Result<(), AppError> {
        let bot = self.clone();
        tokio::task::spawn_blocking(move || bot.event(&event))
            .await
            .unwrap_or_else(|e| Err(InternalError::new("slack event", e).into()))
    }

    /// Handles an Events API callback: a thread reply in one of the bot's threads is read
    /// as an answer or a command. An `event_id` seen before is ignored (Slack's retries),
    /// unless its handling failed: then Slack's next delivery of it is handled.
    pub fn event(&self, event: &SlackPushEventCallback) -> Result<(), AppError> {
        // A failure answers Slack with a 500 and saves nothing, and Slack delivers the
        // event again.
        match payload::thread_reply(event, self.bot_user.as_deref()) {
            Some(reply) => self.reply(&reply, &format!("slack|event|{}", event.event_id)),
            None => Ok(()),
        }
    }

    fn reply(&self, r: &ThreadReply, delivery: &str) -> Result<(), AppError> {
        let index = format!(
            "{}{}",
            thread_index_prefix(&r.team, &r.channel),
            r.thread_ts
        );
        let Some(thread) = self.app.store.get_ref(&index)? else {
            return Ok(()); // Someone else's thread.
        };
        let place = Place::new(r.team.clone(), r.channel.clone(), thread);
        let by = user_ref(&r.user, "");
        let input = Input::Text(r.text.clone());
        match self.step(&place.key(), input, &by, Some(delivery)) {
            Ok(_) => Ok(()),
            Err(AppError::User(e)) => self.tell(&place, &r.user, &e.to_string()),
            Err(e) => Err(e),
        }
    }

    /// One input on one conversation, with everything the bot says about it queued in the
    /// same write. With a `delivery` key, the step is saved only the first time the key is
    /// seen (`None` for a repeat).
    fn step(
        &self,
        key: &ConversationKey,
        input: Input,
        by: &UserRef,
        delivery: Option<&str>,
    ) -> Result<Option<Update>, AppError> {
        let place = Place::from_key(key);
        let effects = |u: &Update| shown(&place, u);
        let now = self.now();
        let update = self
            .app
            .step_delivered(key, delivery, input, by, now, effects)?;
        if update.is_none() {
            tracing::info!(delivery, "repeated delivery ignored");
        }
        self.outbox.notify();
        Ok(update)
    }

    /// Tells one person something in the conversation's thread, only them.
    /// A thread the store has no parent for (a click on a message of a decision it does
    /// not know) has nowhere to answer in: then the person is told in the channel.
    fn tell(&self, place: &Place, user: &str, text: &str) -> Result<(), AppError> {
        let parent = place.parent_ref();
        let thread = self
            .app
            .store
            .get_ref(&parent)?
            .map(|_| ref_placeholder(&parent));
        let op = api::ephemeral(
            &place.channel,
            user,
            thread.as_deref(),
            &render::notice(text),
        );
        self.outbox.enqueue(vec![place.entry(op, None)])?;
        Ok(())
    }
}

/// The outbox entries that show a step's effects in the conversation's thread: the
/// parent opens it, a closed question is the message asked last, edited; what is said to
/// one person is ephemeral; the card is also shown in the channel.
fn shown(place: &Place, u: &Update) -> Vec<NewOutbox> {
    let parent = ref_placeholder(&place.parent_ref());
    let in_thread = |broadcast| Via::Post {
        channel: place.channel.clone(),
        thread_ts: Some(parent.clone()),
        broadcast,
    };
    u.effects
        .iter()
        .map(|effect| {
            let (via, produces, index) = match effect {
                Effect::Opened { .. } => (
                    Via::Post {
                        channel: place.channel.clone(),
                        thread_ts: None,
                        broadcast: false,
                    },
                    Some(place.parent_ref()),
                    Some(Index {
                        prefix: thread_index_prefix(&place.team, &place.channel),
                        value: place.thread.clone(),
                    }),
                ),
                Effect::Answered { .. } | Effect::Closed { .. } => (
                    Via::Update {
                        channel: place.channel.clone(),
                        ts: ref_placeholder(&place.current_ref()),
                    },
                    None,
                    None,
                ),
                Effect::Notice { .. } => (in_thread(false), None, None),
                Effect::Tell { to, .. } => (
                    Via::Ephemeral {
                        channel: place.channel.clone(),
                        user: to.id.to_string(),
                        thread_ts: Some(parent.clone()),
                    },
                    None,
                    None,
                ),
                Effect::Ask { .. } => (in_thread(false), Some(place.current_ref()), None),
                Effect::Card { .. } => (in_thread(true), None, None),
                Effect::Chart(_) => (in_thread(false), None, None),
            };
            let said = Said {
                pack: u.pack.id.clone(),
                version: u.version,
                effect: effect.clone(),
            };
            let op = Shown {
                said,
                via,
                thread: place.thread.clone(),
                index,
            };
            place.entry(op.op(), produces)
        })
        .collect()
}

pub(super) fn user_ref(id: &str, name: &str) -> UserRef {
    UserRef::new(id, if name.is_empty() { id } else { name })
}

/// A key for a new conversation's thread: unique across restarts (the time in nanoseconds)
/// and within one instant (a counter). The parent's `ts` is not known until it is posted.
fn new_thread_key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("t{nanos:x}{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn help_text() -> String {
    let lines: String = help_lines("/tradeoff")
        .iter()
        .map(|(usage, what)| format!("• `{usage}`: {what}\n"))
        .collect();
    format!(
        "*/tradeoff* helps your team choose a backend: a few questions in a thread, then a \
         recommendation scored against a published comparison.\n{lines}\
         In the thread, anyone can answer with the buttons or in their own words, and say \
         back, skip, restart or cancel. In a team poll, everyone answers privately.\n{}",
        escape(EXAMPLES)
    )
}

/// The web API the bot calls directly (`users.info`, `views.open`): a client and the token.
pub type WebApi = (Arc<SlackHyperClient>, Secret);
