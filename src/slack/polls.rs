//! Team polls on Slack: `/tradeoff poll`, the poll message in the channel (the participation
//! count and an Answer button, updated in place as people answer), the private answering
//! modal, the summary card, and the reminder.
//!
//! Answering is a modal (`views.open`) holding every question as an optional menu,
//! prefilled with the member's current answers. The Answer click opens it directly, not
//! through the outbox: its `trigger_id` is good for 3 seconds only. Submitting saves the
//! answers in one write with the poll message's update; answering again replaces them.
//! Questions asked only after certain answers (`ask_if`) are in the modal too, with a hint
//! saying when they count; an answer to one whose condition the member's other answers do
//! not meet is dropped before it is saved.
//!
//! Reminders: the one nudge before the deadline is an outbox operation the Slack sender
//! performs when it is due. It lists the channel's members (`conversations.members`),
//! leaves out the bot itself, bots and deactivated accounts (`users.info`), and those whose
//! respondent key is among this round's answers, and posts one message mentioning only the
//! rest. In an anonymous poll the keys are salted hashes: the sender hashes each member's id
//! with the poll's salt (read from the poll record when the reminder goes out) and compares,
//! so no id is ever stored with an answer. The reminder does say, in the channel, who has
//! not answered yet; it never says what anyone answered.

use super::api;
use super::bot::{ephemeral_reply, user_ref, SlackBot};
use super::payload::CommandRequest;
use super::render::{self, escape, limits, mention, truncate, Message};
use crate::app::{AppError, UserError};
use crate::core::ids::{ChannelId, Platform, PollId, UserRef};
use crate::core::messages::{
    export_reply, poll_closed_line, poll_closed_reply, poll_footer, poll_opened_reply,
    poll_privacy, POLL_NOT_HERE,
};
use crate::core::pack::Pack;
use crate::core::poll::{human_duration, Poll, PollEffect, RoundRecord};
use crate::core::score::Answers;
use crate::outbox::Delivery;
use crate::polls::{PollAction, PollPresenter, PollShown, PollView};
use crate::store::{NewOutbox, Store};
use serde_json::{json, Value};
use slack_morphism::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The Answer button's `action_id`; its value is the poll id.
pub const ANSWER_ACTION: &str = "tradeoff_poll_answer";
/// The modal's `callback_id`; its `private_metadata` is the poll id.
pub const CALLBACK_ID: &str = "tradeoff_poll";
/// Input blocks are `q|<question id>`, each holding one menu with this `action_id`.
pub const QUESTION_BLOCK_PREFIX: &str = "q|";
pub const CHOICE_ACTION: &str = "choice";
/// The outbox operation that sends a reminder (performed by [`super::sender::SlackSender`]).
pub const REMIND_METHOD: &str = "tradeoff.remind";
/// At most this many members are mentioned in one reminder; the rest are counted.
pub const MAX_MENTIONS: usize = 50;
/// At most this many members are read from a channel for a reminder (200 a page).
const MAX_MEMBERS: usize = 5000;
/// `users.info` during a slash command: Slack wants the answer within 3 s, and the command
/// still has its own work to do after the lookup.
pub const USERS_INFO_TIMEOUT: Duration = Duration::from_millis(1200);
/// `views.open` must use the `trigger_id` within 3 s of the click.
pub const VIEWS_OPEN_TIMEOUT: Duration = Duration::from_millis(2500);

/// Modal limits (api.slack.com/reference/surfaces/views, block-kit/blocks#input).
pub mod modal_limits {
    pub const BLOCKS: usize = 100;
    pub const TITLE: usize = 24;
    pub const SUBMIT: usize = 24;
    pub const CLOSE: usize = 24;
    pub const PRIVATE_METADATA: usize = 3000;
    pub const CALLBACK_ID: usize = 255;
    pub const LABEL: usize = 2000;
    pub const HINT: usize = 2000;
}

/// The outbox lane of a poll: its messages go out in the order they were queued.
fn lane(poll: &PollId) -> String {
    format!("slack|poll|{poll}")
}

/// The ref holding the `ts` of a round's poll message, which `progress` updates.
pub fn message_ref(poll: &PollId, round: u32) -> String {
    format!("slack|poll|{poll}|{round}|message")
}

/// Poll ids are ours (hex); anything else in a button or a modal was not made by us.
fn poll_id(text: &str) -> Option<PollId> {
    (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| PollId::new(text))
}

/// A Slack user id, as `conversations.members` and payloads give them (`U…`, `W…`).
pub fn is_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn entry(poll: &PollId, op: Value, produces: Option<String>) -> NewOutbox {
    NewOutbox {
        platform: Platform::Slack,
        lane: lane(poll),
        op: op.into(),
        produces,
    }
}

fn section(text: String) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockMarkDownText::new(truncate(&text, limits::SECTION_TEXT)).into())
        .into()
}

fn context(text: String) -> SlackBlock {
    SlackContextBlock::new(vec![SlackBlockMarkDownText::new(truncate(
        &text,
        limits::SECTION_TEXT,
    ))
    .into()])
    .into()
}

fn footer(poll: &Poll, round: u32) -> String {
    poll_footer(poll, &mention(poll.creator.id.as_str()), round)
}

/// The poll message of the open round: what is asked, the participation count and the
/// deadline (never an answer), and the Answer button.
pub fn poll_message(poll: &Poll, pack: &Pack) -> Message {
    let status = poll.status_line();
    let lead = format!(
        "*Team poll: {}*\n{}\nAnswer privately with *Answer* ({} questions, all optional). \
         Until the close this message shows only how many have answered; you can change your \
         answers until then.",
        escape(&pack.title),
        escape(&status),
        pack.questions.len()
    );
    let button = SlackBlockButtonElement::new("Answer".into())
        .with_action_id(ANSWER_ACTION.into())
        .with_value(poll.id.to_string())
        .with_style(SlackBlockButtonStyle::Primary);
    Message {
        text: truncate(
            &format!("Team poll: {}. {status}", pack.title),
            limits::FALLBACK_TEXT,
        ),
        blocks: vec![
            section(lead),
            SlackActionsBlock::new(vec![button.into()])
                .with_block_id(
                    truncate(&format!("tradeoff_poll|{}", poll.id), limits::BLOCK_ID).into(),
                )
                .into(),
            context(footer(poll, poll.round)),
        ],
    }
}

/// The poll message of a closed round: the button goes, the count stays.
pub fn closed_message(poll: &Poll, pack: &Pack, record: &RoundRecord) -> Message {
    let people = crate::core::poll::answered_count(record.tally.respondents);
    let round = record.round_label();
    Message {
        text: truncate(
            &format!("Team poll: {}{round}. Closed · {people}.", pack.title),
            limits::FALLBACK_TEXT,
        ),
        blocks: vec![
            section(format!(
                "*Team poll: {}{round}*\n{}",
                escape(&pack.title),
                escape(&poll_closed_line(&people))
            )),
            context(footer(poll, record.round)),
        ],
    }
}

/// Where Slack shows a poll's effects: messages in the poll's channel, through the outbox.
pub struct SlackPollPresenter;

impl PollPresenter for SlackPollPresenter {
    fn place(&self, poll: &Poll, effect: PollEffect) -> NewOutbox {
        PollShown::entry(poll, effect, lane(&poll.id), |round| {
            message_ref(&poll.id, round)
        })
    }
}

/// The Web API call that shows a poll's effect, rendered from the poll as it is now;
/// `Ok(None)` for a reminder, which [`send_reminder`] sends, and a chart, which is uploaded.
pub fn poll_call(view: &PollView, shown: &PollShown) -> Result<Option<Value>, Delivery> {
    let (channel, message) = match view {
        PollView::Open { poll, pack } => (&poll.channel, poll_message(poll, pack)),
        PollView::Closed { poll, pack, record } => {
            (&poll.channel, closed_message(poll, pack, record))
        }
        PollView::Card { record, card } => (
            &record.channel,
            render::with_record_button(
                render::card(card),
                &crate::records::RecordOf::round_button(&record.poll, record.round),
            ),
        ),
        PollView::Remind { .. } | PollView::Chart { .. } | PollView::Nothing => return Ok(None),
    };
    Ok(Some(match (&shown.effect, &shown.message) {
        (PollEffect::Refresh { .. }, Some(ts)) => api::update(channel.as_str(), ts, &message),
        (PollEffect::Refresh { .. }, None) => {
            return Err(Delivery::Refused("a refresh names no message".into()))
        }
        _ => api::post(channel.as_str(), None, &message, false),
    }))
}

/// " closes in 2 h 0 min (Fri 17:00 CET)": the reminder's due time is the close's less the
/// poll's reminder lead.
fn closes_text(poll: &Poll) -> String {
    let Some(closes) = poll.closes_at else {
        return " is still open".into();
    };
    let zone = crate::core::schedule::zone(Some(&poll.tz), None);
    let local = chrono::DateTime::from_timestamp(closes, 0)
        .map(|t| t.with_timezone(&zone).format("%a %H:%M %Z").to_string())
        .unwrap_or_default();
    let left = poll.remind_at.map_or(0, |r| closes - r);
    format!(" closes in {} ({local})", human_duration(left))
}

// ---------------------------------------------------------------------------------------
// The modal.
// ---------------------------------------------------------------------------------------

fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    truncate(text, max).as_str().into()
}

/// When a conditional question counts: "Counts only if you answered “Some features” or
/// “Core of the product” to “How central is AI…?”".
fn condition(pack: &Pack, q: usize) -> Option<String> {
    let parts: Vec<String> = pack.questions[q]
        .ask_if
        .iter()
        .map(|(qi, allowed)| {
            let earlier = &pack.questions[*qi];
            let labels: Vec<String> = allowed
                .iter()
                .filter_map(|c| earlier.choices.get(*c))
                .map(|c| format!("“{}”", c.label))
                .collect();
            format!("{} to “{}”", labels.join(" or "), earlier.text)
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Counts only if you answered {}.", parts.join(", and ")))
}

/// The answering modal: every question as an optional menu, prefilled with `current`
/// (question id -> choice id).
pub fn answer_modal(poll: &Poll, pack: &Pack, current: &BTreeMap<String, String>) -> SlackView {
    let mut intro = format!("*{}*\n{}", escape(&pack.title), escape(&poll_privacy(poll)));
    if !current.is_empty() {
        intro.push_str("\nYou have answered already: submitting again replaces your answers.");
    }
    let mut blocks = vec![section(intro)];
    for (qi, question) in pack
        .questions
        .iter()
        .enumerate()
        .take(modal_limits::BLOCKS - 1)
    {
        let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = question
            .choices
            .iter()
            .take(limits::SELECT_OPTIONS)
            .map(|c| {
                let item = SlackBlockChoiceItem::new(
                    plain(&c.label, limits::OPTION_TEXT),
                    truncate(c.id.as_str(), limits::OPTION_VALUE),
                );
                match &c.hint {
                    Some(h) => item.with_description(plain(h, limits::OPTION_TEXT)),
                    None => item,
                }
            })
            .collect();
        let initial = current
            .get(question.id.as_str())
            .and_then(|id| options.iter().find(|o| &o.value == id).cloned());
        let select = SlackBlockStaticSelectElement::new()
            .with_action_id(CHOICE_ACTION.into())
            .with_placeholder(plain("Choose an answer", limits::PLACEHOLDER))
            .with_options(options)
            .opt_initial_option(initial);
        let hint = match condition(pack, qi) {
            Some(when) => format!("{when} Why we ask: {}", question.why),
            None => format!("Why we ask: {}", question.why),
        };
        blocks.push(
            SlackInputBlock::new(
                plain(&question.text, modal_limits::LABEL),
                SlackInputBlockElement::StaticSelect(select),
            )
            .with_block_id(
                truncate(
                    &format!("{QUESTION_BLOCK_PREFIX}{}", question.id),
                    limits::BLOCK_ID,
                )
                .into(),
            )
            .with_optional(true)
            .with_hint(plain(&hint, modal_limits::HINT))
            .into(),
        );
    }
    SlackView::Modal(
        SlackModalView::new(plain("Team poll", modal_limits::TITLE), blocks)
            .with_submit(plain("Submit", modal_limits::SUBMIT))
            .with_close(plain("Cancel", modal_limits::CLOSE))
            .with_callback_id(CALLBACK_ID.into())
            .with_private_metadata(poll.id.to_string()),
    )
}

/// Every modal limit a view breaks, as readable lines; empty when Slack would accept it.
/// Used by the tests on every modal the bot opens.
pub fn modal_violations(view: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut check = |what: String, n: usize, max: usize| {
        if n > max {
            out.push(format!("{what}: {n} (max {max})"));
        }
    };
    check(
        "title".into(),
        len(&view["title"]["text"]),
        modal_limits::TITLE,
    );
    check(
        "submit".into(),
        len(&view["submit"]["text"]),
        modal_limits::SUBMIT,
    );
    check(
        "close".into(),
        len(&view["close"]["text"]),
        modal_limits::CLOSE,
    );
    check(
        "private_metadata".into(),
        len(&view["private_metadata"]),
        modal_limits::PRIVATE_METADATA,
    );
    check(
        "callback_id".into(),
        len(&view["callback_id"]),
        modal_limits::CALLBACK_ID,
    );
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    check("blocks".into(), blocks.len(), modal_limits::BLOCKS);
    for (i, b) in blocks.iter().enumerate() {
        check(
            format!("block {i} block_id"),
            len(&b["block_id"]),
            limits::BLOCK_ID,
        );
        match b["type"].as_str() {
            Some("input") => {
                check(
                    format!("block {i} label"),
                    len(&b["label"]["text"]),
                    modal_limits::LABEL,
                );
                check(
                    format!("block {i} hint"),
                    len(&b["hint"]["text"]),
                    modal_limits::HINT,
                );
                let e = &b["element"];
                check(
                    format!("block {i} placeholder"),
                    len(&e["placeholder"]["text"]),
                    limits::PLACEHOLDER,
                );
                let options = e["options"].as_array().cloned().unwrap_or_default();
                check(
                    format!("block {i} options"),
                    options.len(),
                    limits::SELECT_OPTIONS,
                );
                for o in options.iter().chain(e.get("initial_option")) {
                    check(
                        format!("block {i} option text"),
                        len(&o["text"]["text"]),
                        limits::OPTION_TEXT,
                    );
                    check(
                        format!("block {i} option value"),
                        len(&o["value"]),
                        limits::OPTION_VALUE,
                    );
                    check(
                        format!("block {i} option description"),
                        len(&o["description"]["text"]),
                        limits::OPTION_TEXT,
                    );
                }
            }
            Some("section") => check(
                format!("block {i} section"),
                len(&b["text"]["text"]),
                limits::SECTION_TEXT,
            ),
            other => check(format!("block {i}: unexpected type {other:?}"), 1, 0),
        }
    }
    out
}

/// The answers in a submitted modal: question id -> choice id, in input blocks we made.
fn submitted_answers(
    values: &HashMap<SlackBlockId, HashMap<SlackActionId, SlackViewStateValue>>,
) -> BTreeMap<String, String> {
    values
        .iter()
        .filter_map(|(block, actions)| {
            let question = block.0.strip_prefix(QUESTION_BLOCK_PREFIX)?;
            let choice = actions
                .get(&SlackActionId::new(CHOICE_ACTION.into()))?
                .selected_option
                .as_ref()?
                .value
                .clone();
            Some((question.to_owned(), choice))
        })
        .collect()
}

/// Keeps only the answers to questions that apply given the other answers; an answer that
/// names an unknown question or choice is left in, for the app to refuse.
fn applicable_only(pack: &Pack, answers: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let Ok(set) = Answers::from_ids(pack, answers.iter().map(|(q, c)| (q.as_str(), c.as_str())))
    else {
        return answers;
    };
    let applicable = set.applicable(pack);
    answers
        .into_iter()
        .filter(|(q, _)| pack.question_index(q).is_some_and(|i| applicable[i]))
        .collect()
}

// ---------------------------------------------------------------------------------------
// What the bot does.
// ---------------------------------------------------------------------------------------

/// What `users.info` says about the person running a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub is_admin: bool,
    pub tz: Option<String>,
    pub name: Option<String>,
}

const NO_FORM: &str =
    "Sorry, I could not open the answering form in time. Please press Answer again.";

/// What a view submission is answered with: nothing (the modal closes) or errors shown
/// under the input blocks.
pub fn view_errors(errors: BTreeMap<String, String>) -> Value {
    json!({ "response_action": "errors", "errors": errors })
}

impl SlackBot {
    /// Slack's entry for [`crate::polls::run_scheduler`]: the presenter, and the outbox to
    /// wake when the scheduler has queued something.
    pub fn scheduler_entry(&self) -> (Platform, Arc<dyn PollPresenter>, crate::outbox::Outbox) {
        (
            Platform::Slack,
            Arc::new(SlackPollPresenter),
            self.outbox.clone(),
        )
    }

    /// Asks Slack whether `user` is a workspace admin or owner, their time zone and name.
    /// Bounded by [`USERS_INFO_TIMEOUT`]; on any failure: not an admin, no zone (UTC).
    pub async fn person(&self, user: &str) -> Person {
        let Some((client, token)) = &self.web else {
            return Person::default();
        };
        let token = SlackApiToken::new(token.expose().into());
        let session = client.open_session(&token);
        let req = SlackApiUsersInfoRequest::new(user.into());
        match api::answered(USERS_INFO_TIMEOUT, session.users_info(&req)).await {
            Ok(resp) => {
                let u = resp.user;
                let name = u
                    .profile
                    .as_ref()
                    .and_then(|p| p.display_name.clone().filter(|n| !n.is_empty()))
                    .or(u.real_name.clone())
                    .or(u.name.clone())
                    .filter(|n| !n.is_empty());
                Person {
                    is_admin: u.flags.is_admin == Some(true) || u.flags.is_owner == Some(true),
                    tz: u.tz.filter(|t| !t.is_empty()),
                    name,
                }
            }
            Err(e) => {
                tracing::warn!("users.info failed ({e}); treating the user as no admin, in UTC");
                Person::default()
            }
        }
    }

    /// `/tradeoff poll ...`: opens a poll in this channel, or closes it.
    pub(super) async fn poll_command(&self, cmd: &CommandRequest, args: &str) -> Value {
        let person = self.person(&cmd.user).await;
        let name = person
            .name
            .clone()
            .unwrap_or_else(|| user_ref(&cmd.user, &cmd.user_name).name);
        let by = UserRef::new(cmd.user.as_str(), name);
        let result = self.app.poll_command(
            (
                Platform::Slack,
                cmd.team.as_str().into(),
                ChannelId::new(&*cmd.channel),
            ),
            &by,
            person.is_admin,
            args,
            person.tz.as_deref(),
            self.now(),
            &SlackPollPresenter,
        );
        self.outbox.notify();
        match result {
            Ok(PollAction::Opened(poll)) => ephemeral_reply(&poll_opened_reply(
                &poll.status_line(),
                "`/tradeoff poll close`",
            )),
            Ok(PollAction::Closed(_, result)) => {
                ephemeral_reply(&poll_closed_reply(result.team.respondents))
            }
            Ok(PollAction::Export(of)) => {
                let round = of.round;
                match self.queue_export(of, &cmd.team, &cmd.user) {
                    Ok(()) => ephemeral_reply(&export_reply(round, "a direct message")),
                    Err(e) => ephemeral_reply(&e.user_text()),
                }
            }
            Err(AppError::User(UserError::BadSchedule(text))) => ephemeral_reply(&format!(
                "{text}\nThe schedule follows `/tradeoff poll`, e.g. `/tradeoff poll for 2d`."
            )),
            Err(e) => ephemeral_reply(&e.user_text()),
        }
    }

    /// The poll an Answer click or a submitted modal names, if it is an open Slack poll of
    /// this workspace: polls never mix across workspaces, whatever a payload says.
    fn poll_here(&self, id: &PollId, team: &str) -> Result<Option<(Poll, Arc<Pack>)>, AppError> {
        let (poll, pack) = self.app.open_poll(id)?;
        if poll.platform != Platform::Slack || poll.workspace.as_str() != team {
            return Ok(None);
        }
        Ok(Some((poll, pack)))
    }

    /// Says something to one member, privately, in the poll's channel.
    fn tell_privately(&self, poll: &PollId, channel: &str, user: &str, text: &str) {
        let op = api::ephemeral(channel, user, None, &render::notice(text));
        if let Err(e) = self.outbox.enqueue(vec![entry(poll, op, None)]) {
            tracing::error!("cannot queue a private notice: {e}");
        }
    }

    /// A click on a poll's Answer button: opens the modal with the member's current
    /// answers. `None` when the click is not on an Answer button.
    pub(super) async fn poll_answer_click(
        &self,
        ev: &SlackInteractionBlockActionsEvent,
    ) -> Option<Result<(), AppError>> {
        let action = ev
            .actions
            .iter()
            .flatten()
            .find(|a| a.action_id.0 == ANSWER_ACTION)?;
        Some(self.open_modal(ev, action).await)
    }

    async fn open_modal(
        &self,
        ev: &SlackInteractionBlockActionsEvent,
        action: &SlackInteractionActionInfo,
    ) -> Result<(), AppError> {
        let Some(user) = ev.user.as_ref().map(|u| u.id.to_string()) else {
            return Ok(());
        };
        let channel = super::payload::action_channel(ev).unwrap_or_default();
        let Some(id) = action.value.as_deref().and_then(poll_id) else {
            return Ok(());
        };
        let team = ev.team.id.to_string();
        let found = match self.poll_here(&id, &team) {
            Ok(Some(found)) => found,
            Ok(None) => {
                self.tell_privately(&id, &channel, &user, POLL_NOT_HERE);
                return Ok(());
            }
            Err(AppError::User(e)) => {
                self.tell_privately(&id, &channel, &user, &e.to_string());
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let (poll, pack) = found;
        let current = self
            .app
            .poll_answers_of(&poll, &UserRef::new(user.as_str(), ""))?;
        let view = answer_modal(&poll, &pack, &current);
        let Some((client, token)) = &self.web else {
            self.tell_privately(&id, &channel, &user, NO_FORM);
            return Ok(());
        };
        let token = SlackApiToken::new(token.expose().into());
        let session = client.open_session(&token);
        let req = SlackApiViewsOpenRequest::new(ev.trigger_id.clone(), view);
        if let Err(e) = api::answered(VIEWS_OPEN_TIMEOUT, session.views_open(&req)).await {
            tracing::warn!(poll = %id, "views.open failed: {e}");
            self.tell_privately(&id, &channel, &user, NO_FORM);
        }
        Ok(())
    }

    /// A submitted answering modal: saves the member's answers (replacing earlier ones).
    /// `Ok(None)` closes the modal; `Ok(Some(errors))` keeps it open with the errors shown.
    pub(super) fn poll_submission(
        &self,
        ev: &SlackInteractionViewSubmissionEvent,
    ) -> Result<Option<Value>, AppError> {
        let SlackView::Modal(modal) = &ev.view.view else {
            return Ok(None);
        };
        if modal.callback_id.as_ref().map(|c| c.0.as_str()) != Some(CALLBACK_ID) {
            tracing::debug!("a view submission that is not ours");
            return Ok(None);
        }
        let values = ev
            .view
            .state_params
            .state
            .as_ref()
            .map(|s| s.values.clone())
            .unwrap_or_default();
        // Errors are shown under an input block; the first question's is always there.
        let first_block = modal
            .blocks
            .iter()
            .find_map(|b| match b {
                SlackBlock::Input(i) => i.block_id.as_ref().map(|id| id.0.clone()),
                _ => None,
            })
            .or_else(|| values.keys().map(|k| k.0.clone()).min())
            .unwrap_or_else(|| format!("{QUESTION_BLOCK_PREFIX}0"));
        let error = |text: &str| {
            Ok(Some(view_errors(
                [(first_block.clone(), text.to_owned())].into(),
            )))
        };
        let Some(id) = modal.private_metadata.as_deref().and_then(poll_id) else {
            return error(POLL_NOT_HERE);
        };
        let (_, pack) = match self.poll_here(&id, ev.team.id.0.as_str()) {
            Ok(Some(found)) => found,
            Ok(None) => return error(POLL_NOT_HERE),
            Err(AppError::User(e)) => return error(&e.to_string()),
            Err(e) => return Err(e),
        };
        let answers = applicable_only(&pack, submitted_answers(&values));
        if answers.is_empty() {
            return error("Choose at least one answer; the others can stay empty.");
        }
        let member = UserRef::new(
            ev.user.id.0.as_str(),
            ev.user
                .username
                .clone()
                .or(ev.user.name.clone())
                .unwrap_or_default(),
        );
        let saved = self
            .app
            .answer_poll(&id, &member, answers, self.now(), &SlackPollPresenter);
        self.outbox.notify();
        match saved {
            Ok(_) => Ok(None),
            Err(AppError::User(e)) => error(&e.to_string()),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The reminder, performed by the sender when it is due.
// ---------------------------------------------------------------------------------------

/// Sends a reminder queued by an earlier release (`{"poll", "round", "answered"}`), as
/// [`send_reminder`] does.
pub(super) async fn send_queued_reminder(
    client: &SlackHyperClient,
    token: &SlackApiToken,
    store: &Arc<dyn Store>,
    bot_user: Option<&str>,
    within: Duration,
    body: &Value,
) -> Result<Option<String>, Delivery> {
    let Some(id) = body["poll"].as_str().and_then(poll_id) else {
        return Err(Delivery::Refused("reminder without a poll id".into()));
    };
    let round = body["round"].as_u64().unwrap_or(0) as u32;
    let due =
        crate::polls::reminder_due(store.as_ref(), &id, round, &body["answered"]).map_err(|e| {
            Delivery::Retry {
                after_ms: None,
                error: format!("store: {e}"),
            }
        })?;
    let Some((poll, answered)) = due else {
        return Ok(None);
    };
    send_reminder(client, token, bot_user, within, &poll, &answered).await
}

/// Sends a poll's reminder: lists the channel's members, leaves out the bot, bots,
/// deactivated accounts and whoever has answered this round (`answered`, respondent
/// keys), and mentions the rest in one message. Nothing is posted when everyone has
/// answered.
pub(super) async fn send_reminder(
    client: &SlackHyperClient,
    token: &SlackApiToken,
    bot_user: Option<&str>,
    within: Duration,
    poll: &Poll,
    answered: &BTreeSet<String>,
) -> Result<Option<String>, Delivery> {
    let id = &poll.id;
    let channel = poll.channel.as_str();
    let session = client.open_session(token);
    let mut members = Vec::new();
    let mut cursor: Option<SlackCursorId> = None;
    loop {
        let req = SlackApiConversationsMembersRequest::new()
            .with_channel(channel.into())
            .with_limit(200)
            .opt_cursor(cursor.take());
        let resp = api::answered(within, session.conversations_members(&req)).await?;
        members.extend(resp.members.into_iter().map(|m| m.to_string()));
        cursor = resp
            .response_metadata
            .and_then(|m| m.next_cursor)
            .filter(|c| !c.0.is_empty());
        if cursor.is_none() || members.len() >= MAX_MEMBERS {
            break;
        }
    }
    let pending: Vec<String> = members
        .into_iter()
        .filter(|m| is_user_id(m) && Some(m.as_str()) != bot_user)
        .filter(|m| !answered.contains(&poll.respondent_key(&UserRef::new(m.as_str(), ""))))
        .collect();
    // Other apps' bots and deactivated accounts are channel members too; asking about each
    // costs a call, so only as many as can be mentioned are checked. A lookup that fails
    // keeps the member: a stray mention is better than a lost reminder.
    let mut mention_ids = Vec::new();
    let mut checked = 0;
    for m in &pending {
        if mention_ids.len() >= MAX_MENTIONS {
            break;
        }
        checked += 1;
        let req = SlackApiUsersInfoRequest::new(m.as_str().into());
        let human = match api::answered(within, session.users_info(&req)).await {
            Ok(info) => {
                info.user.flags.is_bot != Some(true)
                    && info.user.deleted != Some(true)
                    && info.user.id.0 != "USLACKBOT"
            }
            Err(e) => {
                tracing::debug!("reminder: users.info {m} failed ({e}); keeping them");
                true
            }
        };
        if human {
            mention_ids.push(m.clone());
        }
    }
    let others = pending.len() - checked;
    if mention_ids.is_empty() && others == 0 {
        tracing::info!(poll = %id, "everyone here has answered; no reminder needed");
        return Ok(None);
    }
    let closes = closes_text(poll);
    let names: Vec<String> = mention_ids.iter().map(|m| mention(m)).collect();
    let mut text = format!(
        "Reminder: the team poll{closes}. {}: you have not answered this round yet; press \
         *Answer* on the poll message.",
        names.join(" ")
    );
    if others > 0 {
        text.push_str(&format!(" ({others} more have not answered either.)"));
    }
    let message = Message {
        text: truncate(&text, limits::FALLBACK_TEXT),
        blocks: vec![section(text)],
    };
    let req = SlackApiChatPostMessageRequest::new(channel.into(), message.content());
    let resp = session
        .chat_post_message(&req)
        .await
        .map_err(api::classify)?;
    Ok(Some(resp.ts.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_ids_are_ours_only() {
        assert_eq!(poll_id("0123abcd"), Some(PollId::new("0123abcd")));
        assert_eq!(poll_id(""), None);
        assert_eq!(poll_id("../x"), None);
        assert_eq!(poll_id("a|b"), None);
    }

    #[test]
    fn only_well_formed_user_ids_are_mentioned() {
        assert!(is_user_id("U012AB3CD") && is_user_id("W0123"));
        assert!(!is_user_id("!channel") && !is_user_id("u1") && !is_user_id(""));
    }
}
