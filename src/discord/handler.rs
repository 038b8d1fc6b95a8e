//! The one handler behind both ways in: the HTTP interactions endpoint and the gateway hand
//! it the same serenity models, and it answers with the interaction response (the same JSON
//! either way) after saving the conversation and its follow-up messages in one write.
//!
//! A conversation is keyed by the id of the `/tradeoff start` interaction, which exists
//! before its thread does. Two refs tie things together: `discord:conv:<id>` holds the
//! guild and channel (for button clicks), and `discord:thread:<thread id>` the
//! conversation (for written replies, which carry only the thread's id); the outbox's
//! sender writes the latter once Discord has created the thread.

use super::config::DiscordConfig;
use super::render::{card_message, display_name, ComponentAction, ComponentId, Message};
use super::rest::{op, thread_ref, Rest};
use super::shown::{Shown, Via};
use super::verify::RequestVerifier;
use crate::app::{App, AppError, InternalError, Update, UserError};
use crate::core::conversation::{Event, Input};
use crate::core::effect::{Effect, Said};
use crate::core::ids::{ChannelId, ConversationKey, Platform, ThreadKey, UserRef, WorkspaceId};
use crate::core::messages::{event_text, packs_text};
use crate::core::messages::{history_hint, HISTORY_EMPTY};
use crate::core::subcommand::{help_lines, Subcommand};
use crate::core::text::Command;
use crate::discord::render::escape_markdown;
use crate::outbox::{ref_placeholder, Clock, Outbox};
use crate::store::{NewOutbox, OutboxOp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use serenity::model::application::{
    CommandDataOptionValue, CommandInteraction, ComponentInteraction, ComponentInteractionDataKind,
    Interaction,
};
use serenity::model::channel::{ChannelType, Message as DiscordMessage, PartialChannel};
use serenity::model::user::User;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The Discord bot: shared by the HTTP endpoint and the gateway.
pub struct DiscordBot {
    pub app: Arc<App>,
    pub outbox: Outbox,
    pub rest: Rest,
    pub application_id: String,
    pub verifier: Option<RequestVerifier>,
    pub clock: Arc<dyn Clock>,
    /// The bot's user id, to recognise mentions. The application id until the gateway's
    /// READY says otherwise (they are the same for every bot made since 2020).
    bot_user_id: RwLock<String>,
    /// How long an interaction waits for its work before it is answered with a deferral,
    /// and the work that outlived the wait.
    pub(super) deadline: crate::deadline::Deadline,
}

/// An interaction response, as Discord expects it in the HTTP answer or the callback.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Pong,
    /// Type 4: a new message in the channel.
    Message(Message),
    /// Type 7: the clicked message, updated in place.
    Update(Message),
    /// Type 5: "thinking" in the channel; the answer follows (see [`super::late`]).
    Deferred,
    /// Type 6: the clicked message stays as it is; the answer follows.
    DeferredUpdate,
}

impl Response {
    pub fn to_json(&self) -> Value {
        match self {
            Response::Pong => json!({ "type": 1 }),
            Response::Message(m) => json!({ "type": 4, "data": m.to_json() }),
            Response::Update(m) => json!({ "type": 7, "data": m.to_json() }),
            Response::Deferred => json!({ "type": 5 }),
            Response::DeferredUpdate => json!({ "type": 6 }),
        }
    }

    pub(super) fn private(text: impl Into<String>) -> Self {
        Response::Message(Message {
            content: text.into(),
            ephemeral: true,
            ..Default::default()
        })
    }
}

/// Where a conversation's effects go, and how its author can be answered.
struct Reach<'a> {
    conversation: &'a str,
    key: &'a ConversationKey,
    /// The thread's id, or the placeholder of the ref that will hold it.
    thread: String,
    /// The token of the interaction this step came from (a command, a click): what is
    /// said to its author alone goes through it.
    token: Option<&'a str>,
    /// The written reply this step came from, to answer in reply to.
    reply_to: Option<&'a str>,
}

/// Where a conversation lives; stored under [`location_ref`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Location {
    guild: String,
    channel: String,
}

fn location_ref(conversation: &str) -> String {
    format!("discord:conv:{conversation}")
}

fn lane(conversation: &str) -> String {
    format!("discord:{conversation}")
}

/// Refs produced by a conversation's outbox entries.
fn produced(conversation: &str, what: &str) -> String {
    format!("discord:{conversation}:{what}")
}

fn key_of(location: &Location, conversation: &str) -> ConversationKey {
    ConversationKey {
        platform: Platform::Discord,
        workspace: WorkspaceId::new(location.guild.clone()),
        channel: ChannelId::new(location.channel.clone()),
        thread: ThreadKey::new(conversation),
        user: None,
    }
}

fn is_thread(channel: Option<&PartialChannel>) -> bool {
    channel.is_some_and(|c| {
        matches!(
            c.kind,
            ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
        )
    })
}

/// A person: their id, and the name the guild shows for them.
pub(super) fn person(user: &User, nick: Option<&str>) -> UserRef {
    let name = nick
        .or(user.global_name.as_deref())
        .unwrap_or(&user.name)
        .to_owned();
    UserRef::new(user.id.to_string(), name)
}

/// The text of a reply with mentions of the bot taken out.
pub fn strip_mention(content: &str, bot: &str) -> String {
    content
        .replace(&format!("<@{bot}>"), " ")
        .replace(&format!("<@!{bot}>"), " ")
        .trim()
        .to_owned()
}

pub(super) fn error_response(e: &AppError) -> Response {
    Response::private(e.user_text())
}

impl DiscordBot {
    pub fn new(app: Arc<App>, config: &DiscordConfig, clock: Arc<dyn Clock>) -> Self {
        let outbox = Outbox::new(app.store.clone(), Platform::Discord);
        DiscordBot {
            outbox,
            rest: Rest::new(&config.api_url, config.token.clone()),
            application_id: config.application_id.clone(),
            verifier: config.public_key.and_then(RequestVerifier::new),
            clock,
            bot_user_id: RwLock::new(config.application_id.clone()),
            app,
            deadline: crate::deadline::Deadline::default(),
        }
    }

    /// Defers interactions whose work takes longer than `budget` (the default is
    /// [`crate::deadline::ANSWER_WITHIN`], under Discord's 3 seconds).
    pub fn with_answer_within(mut self, budget: Duration) -> Self {
        self.deadline = crate::deadline::Deadline::new(budget);
        self
    }

    /// Waits, at most `limit`, for the responses to interactions that outlived their
    /// deadline to be queued. The number still unfinished.
    pub async fn finish_late_answers(&self, limit: Duration) -> usize {
        self.deadline.finish(limit).await
    }

    /// Seconds since the epoch, from the bot's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    pub fn set_bot_user_id(&self, id: String) {
        if let Ok(mut slot) = self.bot_user_id.write() {
            *slot = id;
        }
    }

    fn bot_user_id(&self) -> String {
        self.bot_user_id
            .read()
            .map(|id| id.clone())
            .unwrap_or_else(|_| self.application_id.clone())
    }

    /// Answers one interaction. Saves what it changes before returning, and wakes the
    /// outbox, so the answer can be sent at once and the follow-ups go out right after.
    pub fn handle_interaction(&self, interaction: &Interaction) -> Response {
        let response = match interaction {
            Interaction::Ping(_) => Response::Pong,
            Interaction::Command(c) => self.on_command(c),
            Interaction::Component(c) => self.on_component(c),
            _ => Response::private("That kind of interaction is not supported."),
        };
        self.outbox.notify();
        response
    }

    pub(super) fn location(&self, conversation: &str) -> Result<Option<ConversationKey>, AppError> {
        let Some(raw) = self.app.store.get_ref(&location_ref(conversation))? else {
            return Ok(None);
        };
        let location: Location = serde_json::from_str(&raw)
            .map_err(|e| InternalError::new("stored Discord location", e))?;
        Ok(Some(key_of(&location, conversation)))
    }

    /// The conversation living in a thread, if it is one of ours.
    fn conversation_in_thread(
        &self,
        thread: &str,
    ) -> Result<Option<(String, ConversationKey)>, AppError> {
        let Some(conversation) = self.app.store.get_ref(&thread_ref(thread))? else {
            return Ok(None);
        };
        Ok(self.location(&conversation)?.map(|key| (conversation, key)))
    }

    fn on_command(&self, c: &CommandInteraction) -> Response {
        let Some(sub) = c.data.options.first() else {
            return Response::private(
                "Use `/tradeoff start`, `poll`, `result`, `cancel` or `help`.",
            );
        };
        let Some(guild) = c.guild_id else {
            return Response::private(
                "Use /tradeoff in a server channel: each decision gets its own thread there.",
            );
        };
        let by = person(&c.user, c.member.as_ref().and_then(|m| m.nick.as_deref()));
        let in_thread = is_thread(c.channel.as_ref());
        // A thread's parent is the channel the decision belongs to.
        let channel = c
            .channel
            .as_ref()
            .and_then(|ch| ch.parent_id.filter(|_| in_thread))
            .unwrap_or(c.channel_id)
            .to_string();
        // Each subcommand has at most one option, a string.
        let option = match &sub.value {
            CommandDataOptionValue::SubCommand(options) => {
                options.iter().find_map(|o| o.value.as_str())
            }
            _ => None,
        };
        let guild = guild.to_string();
        let result = match Subcommand::from_parts(&sub.name, option) {
            Ok(Subcommand::Start { .. }) if in_thread => Ok(Response::private(
                "Start a decision in a text channel, not in a thread: it opens a thread of its own.",
            )),
            Ok(Subcommand::Start { pack }) => {
                self.start(c, &guild, &channel, by, pack.as_deref())
            }
            Ok(Subcommand::Help) => self.help(),
            Ok(Subcommand::Packs) => Ok(self.packs()),
            Ok(Subcommand::Result) => self.result(&guild, &channel),
            Ok(Subcommand::Record) => self.record(&guild, &channel),
            Ok(Subcommand::History { show }) => self.history(&guild, &channel, show),
            Ok(Subcommand::Cancel) => self.cancel(c, &guild, &channel, in_thread, &by),
            Ok(Subcommand::Poll { args }) => {
                self.poll_command(c, &guild, &channel, &by, Some(&args))
            }
            Err(unknown) => Ok(Response::private(format!(
                "I don't know `/tradeoff {}`. Try `/tradeoff help`.",
                display_name(&unknown.given)
            ))),
        };
        result.unwrap_or_else(|e| error_response(&e))
    }

    fn start(
        &self,
        c: &CommandInteraction,
        guild: &str,
        channel: &str,
        by: UserRef,
        pack: Option<&str>,
    ) -> Result<Response, AppError> {
        let conversation = c.id.to_string();
        let location = Location {
            guild: guild.to_owned(),
            channel: channel.to_owned(),
        };
        let key = key_of(&location, &conversation);
        // Refuse an unknown pack before anything is written.
        self.app.pack(pack)?;
        let location_json = serde_json::to_string(&location)
            .map_err(|e| InternalError::new("Discord location", e))?;
        self.app
            .store
            .put_ref(&location_ref(&conversation), &location_json)?;
        let name = by.name.clone();
        let reach = Reach {
            conversation: &conversation,
            key: &key,
            thread: ref_placeholder(&produced(&conversation, "thread")),
            token: Some(&c.token),
            reply_to: None,
        };
        let update = self
            .app
            .start_with(&key, pack, by, self.now(), |u| self.shown(&reach, u))?;
        Ok(Response::Message(Message::text(format!(
            "{} started by **{}**. {}\nThe questions follow in the thread below.",
            update.pack.title,
            display_name(&name),
            super::render::escape_markdown(&update.pack.intro)
        ))))
    }

    fn help(&self) -> Result<Response, AppError> {
        let (pack, _) = self.app.pack(None)?;
        let text = event_text(&pack, &Event::Help).unwrap_or_default();
        let lines: Vec<String> = help_lines("/tradeoff")
            .iter()
            .map(|(usage, what)| format!("- `{usage}`: {what}"))
            .collect();
        Ok(Response::private(format!("{text}\n{}", lines.join("\n"))))
    }

    fn packs(&self) -> Response {
        Response::private(packs_text(
            &self.app.catalog.list(),
            |t| format!("**{t}**"),
            super::render::escape_markdown,
        ))
    }

    fn result(&self, guild: &str, channel: &str) -> Result<Response, AppError> {
        let (_, card) = self.app.latest_result(
            Platform::Discord,
            &WorkspaceId::new(guild),
            &ChannelId::new(channel),
        )?;
        Ok(Response::Message(card_message(&card)))
    }

    /// `/tradeoff history [which]`: the channel's past results, privately; with a number,
    /// that one's card.
    fn history(
        &self,
        guild: &str,
        channel: &str,
        show: Option<usize>,
    ) -> Result<Response, AppError> {
        let (guild, channel) = (WorkspaceId::new(guild), ChannelId::new(channel));
        if let Some(n) = show {
            let card = self
                .app
                .history_card(Platform::Discord, &guild, &channel, n)?;
            return Ok(Response::Message(card_message(&card)));
        }
        let past = self.app.history(Platform::Discord, &guild, &channel)?;
        let lines = self.app.history_lines(&past)?;
        Ok(Response::private(if lines.is_empty() {
            HISTORY_EMPTY.to_owned()
        } else {
            let lines: Vec<String> = lines.iter().map(|l| escape_markdown(l)).collect();
            format!("{}\n{}", lines.join("\n"), history_hint("/tradeoff"))
        }))
    }

    fn cancel(
        &self,
        c: &CommandInteraction,
        guild: &str,
        channel: &str,
        in_thread: bool,
        by: &UserRef,
    ) -> Result<Response, AppError> {
        let found = if in_thread {
            self.conversation_in_thread(&c.channel_id.to_string())?
        } else {
            let key = self.app.to_cancel(
                Platform::Discord,
                &WorkspaceId::new(guild),
                &ChannelId::new(channel),
                by,
            )?;
            Some((key.thread.as_str().to_owned(), key))
        };
        let Some((conversation, key)) = found else {
            return Err(UserError::NoConversation.into());
        };
        let thread = self
            .app
            .store
            .get_ref(&produced(&conversation, "thread"))?
            .unwrap_or_else(|| ref_placeholder(&produced(&conversation, "thread")));
        let reach = Reach {
            conversation: &conversation,
            key: &key,
            thread,
            token: Some(&c.token),
            reply_to: None,
        };
        let update =
            self.app
                .step_with(&key, Input::Command(Command::Cancel), by, self.now(), |u| {
                    self.shown(&reach, u)
                })?;
        let text = event_text(&update.pack, &update.transition.event).unwrap_or_default();
        Ok(Response::Message(Message::text(text)))
    }

    fn on_component(&self, c: &ComponentInteraction) -> Response {
        if let Some(value) = c.data.custom_id.strip_prefix(super::render::RECORD_BUTTON) {
            return self
                .record_click(c, value)
                .unwrap_or_else(|e| error_response(&e));
        }
        // A poll's Answer button and its private form are handled in `polls`.
        if let Some(response) = self.poll_component(c) {
            return response;
        }
        self.click(c).unwrap_or_else(|e| error_response(&e))
    }

    fn click(&self, c: &ComponentInteraction) -> Result<Response, AppError> {
        let stale = || Response::private("This button belongs to a decision that has ended.");
        let Some(id) = ComponentId::parse(&c.data.custom_id) else {
            return Ok(stale());
        };
        let Some(key) = self.location(&id.conversation)? else {
            return Ok(stale());
        };
        let Some(stored) = self.app.store.conversation(&key)? else {
            return Ok(stale());
        };
        let pack = self.app.catalog.get(&stored.pack, stored.pack_version)?;
        let Some(question) = pack.questions.get(id.question) else {
            return Ok(stale());
        };
        let input = match id.action {
            ComponentAction::Choice(_) | ComponentAction::Select(_) => {
                picked_choice(question, id.action, &c.data.kind)
            }
            ComponentAction::Command(command) => Some(Input::Pressed {
                question: question.id.to_string(),
                command,
            }),
        };
        let Some(input) = input else {
            return Ok(stale());
        };
        let by = person(&c.user, c.member.as_ref().and_then(|m| m.nick.as_deref()));
        let reach = Reach {
            conversation: &id.conversation,
            key: &key,
            thread: c.channel_id.to_string(),
            token: Some(&c.token),
            reply_to: None,
        };
        self.app
            .step_with(&key, input, &by, self.now(), |u| self.shown(&reach, u))?;
        // The clicked message is closed, and anything said to the clicker, by the outbox.
        Ok(Response::DeferredUpdate)
    }

    /// Takes a written reply in one of our threads. Replies that are not for us (another
    /// thread, a bot, an empty text once the mention is gone) are ignored.
    pub fn handle_message(&self, m: &DiscordMessage) {
        if m.author.bot || m.guild_id.is_none() {
            return;
        }
        let thread = m.channel_id.to_string();
        let found = match self.conversation_in_thread(&thread) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("reading a Discord reply: {e}");
                return;
            }
        };
        let (conversation, key) = found;
        let text = strip_mention(&m.content, &self.bot_user_id());
        if text.is_empty() {
            return;
        }
        let by = person(&m.author, m.member.as_ref().and_then(|p| p.nick.as_deref()));
        let reply_to = m.id.to_string();
        let reach = Reach {
            conversation: &conversation,
            key: &key,
            thread: thread.clone(),
            token: None,
            reply_to: Some(&reply_to),
        };
        // The message's id is saved with the step: a redelivery of it (a resumed gateway
        // session) is ignored, unless the first one failed and saved nothing.
        let delivery = format!("discord:msg:{}", m.id);
        let stepped = self.app.step_delivered(
            &key,
            Some(&delivery),
            Input::Text(text),
            &by,
            self.now(),
            |u| self.shown(&reach, u),
        );
        match stepped {
            Ok(None) => tracing::info!(delivery, "repeated delivery ignored"),
            Ok(Some(_)) => self.outbox.notify(),
            // The user error here is only "no conversation", for a thread whose decision
            // was removed: nothing to say.
            Err(AppError::User(_)) => {}
            // Logged with its id where it was made. The writer is told, in reply.
            Err(AppError::Internal(e)) => {
                let mut sorry = Message::text(e.apology());
                sorry.reply_to = Some(reply_to);
                let told = self.outbox.enqueue(vec![self.entry(
                    &conversation,
                    post(&thread, &sorry).into(),
                    None,
                )]);
                if let Err(e) = told {
                    tracing::error!("a Discord reply failed, and so did telling its writer: {e}");
                }
            }
        }
    }

    /// The outbox entries that show a step's effects: a new decision's thread is made from
    /// the interaction's answer; a closed question is the question asked last, edited; what
    /// is said to one person is private when an interaction can carry it (a click), else a
    /// reply to what they wrote; the card goes in the thread, with a line in the channel.
    fn shown(&self, reach: &Reach, u: &Update) -> Vec<NewOutbox> {
        let conversation = reach.conversation;
        let prompt = produced(conversation, "prompt");
        let thread = || reach.thread.clone();
        let mut out = Vec::new();
        for effect in &u.effects {
            let show = |via: Via, produces: Option<String>| {
                let shown = Shown {
                    said: Said {
                        pack: u.pack.id.clone(),
                        version: u.version,
                        effect: effect.clone(),
                    },
                    via,
                    conversation: conversation.to_owned(),
                };
                self.entry(conversation, OutboxOp::new(&shown), produces)
            };
            match effect {
                Effect::Opened { .. } => {
                    let origin = produced(conversation, "origin");
                    // The interaction's answer is the thread's starting message; its id
                    // comes only from Discord, through the token (valid for 15 minutes).
                    let token = reach.token.unwrap_or_default();
                    let get = op(
                        "GET",
                        format!(
                            "/webhooks/{}/{token}/messages/@original",
                            self.application_id
                        ),
                        None,
                    );
                    out.push(self.entry(conversation, get.into(), Some(origin.clone())));
                    out.push(show(
                        Via::Thread {
                            channel: reach.key.channel.to_string(),
                            origin: ref_placeholder(&origin),
                        },
                        Some(produced(conversation, "thread")),
                    ));
                }
                Effect::Answered { .. } | Effect::Closed { .. } => out.push(show(
                    Via::Edit {
                        thread: thread(),
                        message: ref_placeholder(&prompt),
                    },
                    None,
                )),
                Effect::Notice { .. } => out.push(show(
                    Via::Post {
                        thread: thread(),
                        reply_to: None,
                    },
                    None,
                )),
                Effect::Tell { .. } => out.push(show(
                    match reach.token {
                        Some(token) => Via::Private {
                            application: self.application_id.clone(),
                            token: token.to_owned(),
                        },
                        None => Via::Post {
                            thread: thread(),
                            reply_to: reach.reply_to.map(str::to_owned),
                        },
                    },
                    None,
                )),
                Effect::Ask { .. } => out.push(show(
                    Via::Post {
                        thread: thread(),
                        reply_to: None,
                    },
                    Some(prompt.clone()),
                )),
                Effect::Card { .. } => {
                    out.push(show(
                        Via::Post {
                            thread: thread(),
                            reply_to: None,
                        },
                        Some(produced(conversation, "card")),
                    ));
                    out.push(show(
                        Via::Announce {
                            channel: reach.key.channel.to_string(),
                            thread: thread(),
                            starter: u.conversation.started_by.name.clone(),
                        },
                        None,
                    ));
                }
                // The chart is attached to the card's message once that is posted: a
                // chart that cannot be sent never holds the card back.
                Effect::Chart(_) => out.push(show(
                    Via::Edit {
                        thread: thread(),
                        message: ref_placeholder(&produced(conversation, "card")),
                    },
                    None,
                )),
            }
        }
        out
    }

    fn entry(&self, conversation: &str, op: OutboxOp, produces: Option<String>) -> NewOutbox {
        NewOutbox {
            platform: Platform::Discord,
            lane: lane(conversation),
            op,
            produces,
        }
    }
}

fn post(channel: &str, message: &Message) -> Value {
    op(
        "POST",
        format!("/channels/{channel}/messages"),
        Some(message.to_json()),
    )
}

/// The choice a button or a select menu picked on `question`, if it names one of its choices.
pub(super) fn picked_choice(
    question: &crate::core::pack::Question,
    action: ComponentAction,
    kind: &ComponentInteractionDataKind,
) -> Option<Input> {
    let index = match (action, kind) {
        (ComponentAction::Choice(i), _) => Some(i),
        (ComponentAction::Select(_), ComponentInteractionDataKind::StringSelect { values }) => {
            values
                .first()
                .and_then(|v| super::render::parse_select_value(v))
        }
        _ => None,
    }?;
    let choice = question.choices.get(index)?;
    Some(Input::Choice {
        question: question.id.to_string(),
        choice: choice.id.to_string(),
    })
}
