//! Team polls on Discord: `/tradeoff poll`, the poll message in the channel (an embed with
//! the participation count and an Answer button, edited in place as people answer), the
//! private answering form, the summary embed, and the reminder.
//!
//! Answering is an ephemeral step-by-step form riding on interaction responses: the Answer
//! click opens it (type 4, flags 64) and each click moves it on (type 7). Its state is a core
//! [`Conversation`] stored under `thread: "poll:<poll id>"` and the member's id, so a restart
//! half-way through loses nothing: pressing Answer again picks up where they were. For an
//! anonymous poll the form is filed under the member's salted respondent key instead of
//! their id, so no user id is ever stored next to their answers.
//!
//! Reminders: Discord offers no cheap list of a channel's members, so the nudge mentions the
//! members the bot knows have not answered this round (they opened the form without
//! submitting, or answered an earlier round of a recurring poll), and only them
//! (`allowed_mentions.users`). Otherwise, and always in an anonymous poll, it mentions
//! nobody.

use super::handler::{error_response, person, DiscordBot, Response};
use super::render::{
    card_message, card_with_chart, display_name, escape_markdown, question_components,
    question_text, truncate, with_record_button, ComponentAction, ComponentId, Embed, EmbedField,
    EmbedFooter, Message, CHART_FILE,
};
use super::rest::op;
use crate::app::{AppError, UserError};
use crate::core::conversation::{Conversation, Event, Input, Next};
use crate::core::ids::{ChannelId, ConversationKey, Platform, PollId, ThreadKey, UserRef};
use crate::core::messages::{
    answered_line, event_text, export_reply, poll_closed_line, poll_closed_reply, poll_footer,
    poll_opened_reply, poll_privacy, prompt, POLL_NOT_HERE,
};
use crate::core::pack::Pack;
use crate::core::poll::{Poll, PollEffect, RoundRecord};
use crate::outbox::Delivery;
use crate::polls::{PollAction, PollPresenter, PollShown, PollView};
use crate::store::{NewOutbox, Store};
use serde_json::{json, Value};
use serenity::all::Permissions;
use serenity::model::application::{CommandInteraction, ComponentInteraction};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The Answer button's `custom_id` is `tp:<poll id>` (19 characters).
const ANSWER_PREFIX: &str = "tp:";
/// The private form's buttons reuse the question components, with this conversation name.
const FORM_PREFIX: &str = "poll.";
/// At most this many members are mentioned in one reminder (Discord allows 100 in
/// `allowed_mentions.users`; fifty mentions keep the message well within 2000 characters).
pub const MAX_MENTIONS: usize = 50;
/// The poll message's colour (Discord blurple): a poll has no pick yet.
const POLL_COLOR: u32 = 0x58_65_f2;

/// The Answer button of a poll.
pub fn answer_button_id(poll: &PollId) -> String {
    format!("{ANSWER_PREFIX}{poll}")
}

fn parse_answer_button(custom_id: &str) -> Option<PollId> {
    custom_id
        .strip_prefix(ANSWER_PREFIX)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(PollId::new)
}

fn form_name(poll: &PollId) -> String {
    format!("{FORM_PREFIX}{poll}")
}

/// The outbox lane of a poll: its messages go out in the order they were queued.
fn lane(poll: &PollId) -> String {
    format!("discord:poll:{poll}")
}

/// The ref holding the id of a round's poll message, which `progress` edits.
pub fn message_ref(poll: &PollId, round: u32) -> String {
    format!("discord:poll:{poll}:{round}:message")
}

/// Where a member's private form is stored, and who it records as answering: the member,
/// or for an anonymous poll their salted respondent key and no name.
fn form_key(poll: &Poll, member: &UserRef) -> (ConversationKey, UserRef) {
    let who = if poll.spec.anonymous {
        UserRef::new(poll.respondent_key(member), "anonymous")
    } else {
        member.clone()
    };
    let key = ConversationKey {
        platform: Platform::Discord,
        workspace: poll.workspace.clone(),
        channel: poll.channel.clone(),
        thread: ThreadKey::new(format!("poll:{}", poll.id)),
        user: Some(who.id.clone()),
    };
    (key, who)
}

/// A member's answers as question id -> choice id, for the questions that apply.
fn answer_ids(pack: &Pack, conversation: &Conversation) -> BTreeMap<String, String> {
    let applicable = conversation.answer_set().applicable(pack);
    conversation
        .answers
        .iter()
        .enumerate()
        .filter(|(q, _)| applicable[*q])
        .filter_map(|(q, a)| {
            let a = a.as_ref()?;
            let question = &pack.questions[q];
            Some((
                question.id.to_string(),
                question.choices.get(a.choice)?.id.to_string(),
            ))
        })
        .collect()
}

fn answer_row(poll: &PollId, label: &str) -> Value {
    json!({ "type": 1, "components": [{
        "type": 2,
        "style": 1,
        "label": label,
        "custom_id": answer_button_id(poll),
    }]})
}

/// `<t:…:R>`: Discord shows each reader the time in their own zone ("in 2 days").
fn discord_time(secs: i64) -> String {
    format!("<t:{secs}:R>")
}

fn embed(title: String, description: String, footer: String) -> Embed {
    Embed {
        title,
        description,
        color: POLL_COLOR,
        fields: Vec::<EmbedField>::new(),
        footer: EmbedFooter { text: footer },
    }
}

fn footer(poll: &Poll, round: u32) -> String {
    poll_footer(poll, &one_line(&poll.creator.name), round)
}

/// Names in embed footers are shown as plain text; only line breaks need to go.
fn one_line(name: &str) -> String {
    let flat: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(flat.trim(), 80)
}

/// The poll message of the open round: what is asked, the participation count (never the
/// answers), when it closes, and the Answer button.
pub fn poll_message(poll: &Poll, pack: &Pack) -> Message {
    let mut description = escape_markdown(&poll.status_line());
    if let Some(closes) = poll.closes_at {
        description.push_str(&format!(" ({})", discord_time(closes)));
    }
    description.push_str(&format!(
        "\n\nAnswer privately with **Answer** (at most {} questions). Until the close this \
         message shows only how many have answered; you can change your answers until then.",
        pack.questions.len()
    ));
    Message {
        content: format!(
            "{} opened a team poll: {}",
            display_name(&poll.creator.name),
            escape_markdown(&pack.title)
        ),
        embeds: vec![embed(
            format!("Team poll: {}", pack.title),
            description,
            footer(poll, poll.round),
        )],
        components: Some(vec![answer_row(&poll.id, "Answer")]),
        ..Default::default()
    }
}

/// The poll message of a closed round: the button goes, the count stays.
fn closed_message(poll: &Poll, pack: &Pack, record: &RoundRecord) -> Message {
    let people = crate::core::poll::answered_count(record.tally.respondents);
    let round = record.round_label();
    Message {
        content: format!("Team poll: {}", escape_markdown(&pack.title)),
        embeds: vec![embed(
            format!("Team poll: {}{round}", pack.title),
            poll_closed_line(&people),
            footer(poll, record.round),
        )],
        components: Some(Vec::new()),
        ..Default::default()
    }
}

/// Where Discord shows a poll's effects: messages in the poll's channel, through the
/// outbox.
pub struct DiscordPollPresenter;

impl PollPresenter for DiscordPollPresenter {
    fn place(&self, poll: &Poll, effect: PollEffect) -> NewOutbox {
        PollShown::entry(poll, effect, lane(&poll.id), |round| {
            message_ref(&poll.id, round)
        })
    }
}

fn channel_messages(channel: &ChannelId) -> String {
    format!("/channels/{channel}/messages")
}

/// The REST call that shows a poll's effect, rendered from the poll as it is now
/// (`store` names the members a reminder pings); `Ok(None)` when there is nothing to send
/// any more. The error is a reason to try again (the store).
pub fn poll_call(
    store: &dyn Store,
    view: &PollView,
    shown: &PollShown,
) -> Result<Option<Value>, Delivery> {
    let (channel, message) = match view {
        PollView::Open { poll, pack } => (&poll.channel, poll_message(poll, pack)),
        PollView::Closed { poll, pack, record } => {
            (&poll.channel, closed_message(poll, pack, record))
        }
        PollView::Card { record, card } => (
            &record.channel,
            with_record_button(
                card_message(card),
                &crate::records::RecordOf::round_button(&record.poll, record.round),
            ),
        ),
        PollView::Chart {
            record,
            card,
            chart,
        } => {
            let Some(id) = &shown.message else {
                return Err(Delivery::Refused("a chart names no card".into()));
            };
            let mut edit = op(
                "PATCH",
                format!("{}/{id}", channel_messages(&record.channel)),
                Some(card_with_chart(card, chart)),
            );
            edit["file"] = json!(CHART_FILE);
            return Ok(Some(edit));
        }
        PollView::Remind { poll, answered } => {
            return reminder(store, poll, answered)
                .map_err(|error| Delivery::Retry {
                    after_ms: None,
                    error,
                })
                .map(Some)
        }
        PollView::Nothing => return Ok(None),
    };
    Ok(Some(match (&shown.effect, &shown.message) {
        (PollEffect::Refresh { .. }, Some(id)) => op(
            "PATCH",
            format!("{}/{id}", channel_messages(channel)),
            Some(message.to_json()),
        ),
        (PollEffect::Refresh { .. }, None) => {
            return Err(Delivery::Refused("a refresh names no message".into()))
        }
        _ => op("POST", channel_messages(channel), Some(message.to_json())),
    }))
}

/// Members known not to have answered this round, by user id: those who opened the form,
/// and (recurring polls) those who answered an earlier round. None for an anonymous poll,
/// which keeps no ids.
fn not_answered(store: &dyn Store, poll: &Poll, answered: &BTreeSet<String>) -> Vec<String> {
    if poll.spec.anonymous {
        return Vec::new();
    }
    let thread = format!("poll:{}", poll.id);
    let mut known = BTreeSet::new();
    match store.conversations_in_channel(Platform::Discord, &poll.workspace, &poll.channel) {
        Ok(forms) => known.extend(
            forms
                .into_iter()
                .filter(|(key, _)| key.thread.as_str() == thread)
                .filter_map(|(key, _)| key.user.map(|u| u.0)),
        ),
        Err(e) => tracing::warn!(poll = %poll.id, "reminder: cannot read the forms: {e}"),
    }
    for round in 1..poll.round {
        match store.poll_responses(&poll.id, round) {
            Ok(responses) => known.extend(
                responses
                    .into_iter()
                    .filter_map(|(_, r)| r.user.map(|u| u.id.0)),
            ),
            Err(e) => {
                tracing::warn!(poll = %poll.id, "reminder: cannot read round {round}: {e}")
            }
        }
    }
    known
        .into_iter()
        // Snowflakes only: nothing else may end up inside a mention.
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .filter(|id| !answered.contains(id))
        .take(MAX_MENTIONS)
        .collect()
}

/// A reminder queued by an earlier release: `{"remind": {"poll", "round", "answered"}}`.
const REMIND: &str = "remind";

/// The call that sends a reminder queued by an earlier release (`op` holds [`REMIND`]),
/// as [`poll_call`] sends one; `Ok(None)` when the poll has moved on, or everyone it
/// would name has answered since. The error is a reason to try again (the store).
pub fn queued_reminder_call(store: &dyn Store, queued: &Value) -> Result<Option<Value>, String> {
    let Some(remind) = queued.get(REMIND) else {
        return Ok(None);
    };
    let id = PollId::new(remind["poll"].as_str().unwrap_or_default());
    let round = remind["round"].as_u64().unwrap_or(0) as u32;
    let due = crate::polls::reminder_due(store, &id, round, &remind["answered"])
        .map_err(|e| format!("store: {e}"))?;
    let Some((poll, answered)) = due else {
        return Ok(None);
    };
    reminder(store, &poll, &answered).map(Some)
}

/// The reminder of a poll's open round, naming the members known not to have answered
/// by now (`answered`: respondent keys).
fn reminder(store: &dyn Store, poll: &Poll, answered: &BTreeSet<String>) -> Result<Value, String> {
    let mention = not_answered(store, poll, answered);
    let closes = poll
        .closes_at
        .map(|c| format!(" closes {}", discord_time(c)))
        .unwrap_or_else(|| " is still open".into());
    let content = if mention.is_empty() {
        format!(
            "Reminder: this team poll{closes}. {} answered so far; if you have not, \
             press **Answer** on the poll message.",
            answered.len()
        )
    } else {
        let names: Vec<String> = mention.iter().map(|id| format!("<@{id}>")).collect();
        format!(
            "Reminder: this team poll{closes}. {}: you have not answered this round yet; \
             press **Answer** on the poll message.",
            names.join(" ")
        )
    };
    // In reply to the round's poll message, posted before it in the same lane.
    let poll_message = store
        .get_ref(&message_ref(&poll.id, poll.round))
        .map_err(|e| format!("store: {e}"))?;
    let message = Message {
        content,
        reply_to: poll_message,
        ..Default::default()
    };
    let mut body = message.to_json();
    // Exactly these members may be pinged; nothing parsed from the text.
    body["allowed_mentions"] = json!({ "parse": [], "users": mention });
    Ok(op("POST", channel_messages(&poll.channel), Some(body)))
}

/// The interaction's member may close any poll: Administrator or Manage Server.
fn is_admin(c: &CommandInteraction) -> bool {
    c.member
        .as_ref()
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.intersects(Permissions::ADMINISTRATOR | Permissions::MANAGE_GUILD))
}

/// Said after a schedule that cannot be read: where the schedule goes on Discord.
const SCHEDULE_HINT: &str =
    "On Discord the schedule goes in the `schedule` option: `/tradeoff poll schedule: for 2d`.";

impl DiscordBot {
    /// The presenter `run_scheduler` and the handler use for Discord polls.
    pub fn poll_presenter(&self) -> Arc<DiscordPollPresenter> {
        Arc::new(DiscordPollPresenter)
    }

    /// Discord's entry for [`crate::polls::run_scheduler`]: the presenter, and the outbox to
    /// wake when the scheduler has queued something.
    pub fn scheduler_entry(&self) -> (Platform, Arc<dyn PollPresenter>, crate::outbox::Outbox) {
        (
            Platform::Discord,
            self.poll_presenter(),
            self.outbox.clone(),
        )
    }

    /// `/tradeoff poll [schedule]`: opens a poll in this channel, or closes it.
    pub(super) fn poll_command(
        &self,
        c: &CommandInteraction,
        guild: &str,
        channel: &str,
        by: &UserRef,
        schedule: Option<&str>,
    ) -> Result<Response, AppError> {
        let presenter = self.poll_presenter();
        // Discord does not tell us the member's time zone: UTC unless `tz` is given.
        let action = self.app.poll_command(
            (Platform::Discord, guild.into(), ChannelId::new(channel)),
            by,
            is_admin(c),
            schedule.unwrap_or(""),
            None,
            self.now(),
            presenter.as_ref(),
        );
        let action = match action {
            Err(AppError::User(UserError::BadSchedule(text))) => {
                return Ok(Response::private(format!("{text}\n{SCHEDULE_HINT}")));
            }
            other => other?,
        };
        Ok(Response::private(match action {
            PollAction::Opened(poll) => poll_opened_reply(
                &escape_markdown(&poll.status_line()),
                "`/tradeoff poll schedule: close`",
            ),
            PollAction::Closed(_, result) => poll_closed_reply(result.team.respondents),
            PollAction::Export(of) => {
                let round = of.round;
                self.queue_export(of, c)?;
                export_reply(round, "a message")
            }
        }))
    }

    /// A click on a poll's Answer button or in its private form; `None` for other buttons.
    pub(super) fn poll_component(&self, c: &ComponentInteraction) -> Option<Response> {
        let result = if let Some(poll) = parse_answer_button(&c.data.custom_id) {
            self.open_form(c, &poll)
        } else {
            let id = ComponentId::parse(&c.data.custom_id)?;
            let poll = PollId::new(id.conversation.strip_prefix(FORM_PREFIX)?);
            self.form_click(c, &poll, &id)
        };
        Some(result.unwrap_or_else(|e| match e {
            // The form is the clicked message: say it there, and take its buttons away.
            AppError::User(UserError::PollClosed)
                if parse_answer_button(&c.data.custom_id).is_none() =>
            {
                Response::Update(Message {
                    content: UserError::PollClosed.to_string(),
                    components: Some(Vec::new()),
                    ..Default::default()
                })
            }
            e => error_response(&e),
        }))
    }

    /// The open poll of a click, and who clicked; `None` when the poll is not this guild's
    /// (a forged or copied `custom_id`): polls never mix across guilds.
    fn poll_of_click(
        &self,
        c: &ComponentInteraction,
        id: &PollId,
    ) -> Result<Option<(Poll, Arc<Pack>, UserRef)>, AppError> {
        let (poll, pack) = self.app.open_poll(id)?;
        let guild = c.guild_id.map(|g| g.to_string());
        if poll.platform != Platform::Discord || guild.as_deref() != Some(poll.workspace.as_str()) {
            return Ok(None);
        }
        let member = person(&c.user, c.member.as_ref().and_then(|m| m.nick.as_deref()));
        Ok(Some((poll, pack, member)))
    }

    /// The Answer button: a private form at the member's current question, started anew
    /// unless one is half-way.
    fn open_form(&self, c: &ComponentInteraction, id: &PollId) -> Result<Response, AppError> {
        let Some((poll, pack, member)) = self.poll_of_click(c, id)? else {
            return Ok(Response::private(POLL_NOT_HERE));
        };
        let (key, who) = form_key(&poll, &member);
        let answered_before = !self.app.poll_answers_of(&poll, &member)?.is_empty();
        let (conversation, mut lead) = match self.app.open_conversation(&key)? {
            Some((_, _, conversation)) => (
                conversation,
                vec!["Picking up where you left off.".to_owned()],
            ),
            None => {
                // The poll's own pack version, so the answers fit the poll.
                let update = self.app.start_pinned(
                    &key,
                    pack.clone(),
                    poll.pack_version,
                    who,
                    self.now(),
                    |_| Vec::new(),
                )?;
                (update.conversation, vec![poll_privacy(&poll)])
            }
        };
        if answered_before {
            lead.push(
                "You have answered this poll already: answering again replaces your answers."
                    .into(),
            );
        }
        let mut message = self.form_message(&poll, &pack, &conversation, &lead);
        message.ephemeral = true;
        Ok(Response::Message(message))
    }

    /// One click in the form: the core moves the member's conversation on, and the form
    /// shows the next question. The last answer submits: the answers are saved before the
    /// form is marked done, so a crash in between means the member's answers count and the
    /// form simply asks the last question again.
    fn form_click(
        &self,
        c: &ComponentInteraction,
        id: &PollId,
        component: &ComponentId,
    ) -> Result<Response, AppError> {
        let Some((poll, _, member)) = self.poll_of_click(c, id)? else {
            return Ok(Response::private(POLL_NOT_HERE));
        };
        let (key, who) = form_key(&poll, &member);
        let Some(stored) = self.app.store.conversation(&key)? else {
            return Ok(self.form_ended(&poll, &member, None));
        };
        if !stored.is_open() {
            return Ok(self.form_ended(&poll, &member, None));
        }
        let form_pack = self.app.catalog.get(&stored.pack, stored.pack_version)?;
        let Some(question) = form_pack.questions.get(component.question) else {
            return Ok(Response::Update(self.form_message(
                &poll,
                &form_pack,
                &stored,
                &[],
            )));
        };
        let input = match component.action {
            ComponentAction::Command(command) => Some(Input::Pressed {
                question: question.id.to_string(),
                command,
            }),
            action => super::handler::picked_choice(question, action, &c.data.kind),
        };
        let stale = event_text(&form_pack, &Event::Stale { question: None });
        let Some(input) = input else {
            return Ok(Response::Update(self.form_message(
                &poll,
                &form_pack,
                &stored,
                &stale.into_iter().collect::<Vec<_>>(),
            )));
        };
        let now = self.now();
        let mut preview = stored.clone();
        let finishing = preview.step(&form_pack, input.clone(), &who, now).next == Next::Finished;
        if finishing {
            self.app.answer_poll(
                &poll.id,
                &member,
                answer_ids(&form_pack, &preview),
                now,
                self.poll_presenter().as_ref(),
            )?;
        }
        let update = self.app.step_with(&key, input, &who, now, |_| Vec::new())?;
        let event = &update.transition.event;
        Ok(match update.transition.next {
            Next::Finished => self.form_ended(&poll, &member, Some(&update.conversation)),
            Next::Cancelled => {
                let mut text = event_text(&update.pack, event).unwrap_or_default();
                if !self.app.poll_answers_of(&poll, &member)?.is_empty() {
                    text.push_str(" Your answers from before still count.");
                }
                Response::Update(Message {
                    content: text,
                    components: Some(vec![answer_row(&poll.id, "Start again")]),
                    ..Default::default()
                })
            }
            Next::Ask(_) => {
                let lead: Vec<String> = match event {
                    Event::Answered {
                        question, choice, ..
                    } => vec![answered_line(&update.pack, *question, *choice, "you")],
                    other => event_text(&update.pack, other).into_iter().collect(),
                };
                Response::Update(self.form_message(
                    &poll,
                    &update.pack,
                    &update.conversation,
                    &lead,
                ))
            }
        })
    }

    /// The form at its current question. Nothing can be typed into a private form, so it
    /// shows the question without the hint about written replies.
    fn form_message(
        &self,
        poll: &Poll,
        pack: &Pack,
        conversation: &Conversation,
        lead: &[String],
    ) -> Message {
        let Next::Ask(q) = conversation.next() else {
            return Message::text(lead.join("\n\n"));
        };
        let p = prompt(pack, conversation, q);
        Message {
            content: question_text(&p, lead),
            components: Some(question_components(&form_name(&poll.id), &p)),
            ..Default::default()
        }
    }

    /// The form once it is done: thanks, and the member's answers as stored, with a button
    /// to change them.
    fn form_ended(
        &self,
        poll: &Poll,
        member: &UserRef,
        finished: Option<&Conversation>,
    ) -> Response {
        let stored = self.app.poll_answers_of(poll, member).unwrap_or_default();
        if stored.is_empty() && finished.is_none() {
            return Response::Update(Message {
                content: "This form has ended. Press Answer to start again.".into(),
                components: Some(vec![answer_row(&poll.id, "Answer")]),
                ..Default::default()
            });
        }
        let pack = self.app.catalog.get(&poll.pack, poll.pack_version).ok();
        let mut content =
            "**Thanks, your answers are in** (you can change them until the close).".to_owned();
        if let Some(pack) = pack {
            for question in &pack.questions {
                let Some(choice) = stored
                    .get(question.id.as_str())
                    .and_then(|c| question.choices.iter().find(|x| x.id.as_str() == c))
                else {
                    continue;
                };
                content.push_str(&format!(
                    "\n- {}: {}",
                    escape_markdown(&question.text),
                    escape_markdown(&choice.label)
                ));
            }
        }
        Response::Update(Message {
            content,
            components: Some(vec![answer_row(&poll.id, "Change my answers")]),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_button_id_is_short_and_reads_back() {
        let poll = PollId::new("0123456789abcdef");
        let id = answer_button_id(&poll);
        assert!(id.len() <= super::super::render::limits::CUSTOM_ID);
        assert_eq!(parse_answer_button(&id), Some(poll));
        assert_eq!(parse_answer_button("tp:"), None);
        assert_eq!(parse_answer_button("tp:../x"), None);
        assert_eq!(parse_answer_button("to:1:2:c3"), None);
    }

    #[test]
    fn form_buttons_fit_discord_and_name_the_poll() {
        let id = ComponentId {
            conversation: form_name(&PollId::new("0123456789abcdef")),
            question: 12,
            action: ComponentAction::Command(crate::core::text::Command::Restart),
        };
        let encoded = id.encode();
        assert!(encoded.len() <= super::super::render::limits::CUSTOM_ID);
        assert_eq!(ComponentId::parse(&encoded), Some(id));
    }
}
