//! Neutral effects on Discord: where each goes ([`Via`]), kept in the outbox next to the
//! effect, and the REST call that shows it, rendered when it is sent with the pack the
//! effect names. Strings in a [`Via`] may hold `{{ref:NAME}}` placeholders (the thread's
//! id, the question asked last), filled in when the entry is sent.

use super::render::{
    card_message, card_with_chart, display_name, escape_markdown, question_heading,
    question_message, thread_name, with_record_button, Message, CHART_FILE,
};
use super::rest::op;
use crate::core::effect::{Effect, Said};
use crate::core::messages::{answered_line, prompt_at};
use crate::core::pack::Pack;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a thread stays open without activity, in minutes (one of Discord's values).
const AUTO_ARCHIVE_MINUTES: u32 = 1440;

/// Where an effect goes on Discord.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The conversation's thread, made from the message `origin` in `channel`.
    Thread { channel: String, origin: String },
    /// An edit of the message `message` in `thread` (a question, closed).
    Edit { thread: String, message: String },
    /// A message in `thread`, in reply to `reply_to` when given.
    Post {
        thread: String,
        reply_to: Option<String>,
    },
    /// A follow-up of the interaction whose token this is, seen only by whoever caused it.
    Private { application: String, token: String },
    /// A line in the decision's `channel` saying `starter`'s decision is done, pointing
    /// at the `thread` that holds the card.
    Announce {
        channel: String,
        thread: String,
        starter: String,
    },
}

/// An outbox entry that shows an effect: the effect, where it goes, and the conversation
/// (its buttons carry the id; the thread made for it is indexed under it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shown {
    pub said: Said,
    pub via: Via,
    pub conversation: String,
}

/// The REST call (`{"method", "path", "body", "index_thread"?}`) that shows `shown`, with
/// `pack`, the pack its effect names.
pub fn render(pack: &Pack, shown: &Shown) -> Result<Value, String> {
    let said = &shown.said;
    said.fits(pack)?;
    let message = match &said.effect {
        Effect::Opened { by } => {
            let Via::Thread { channel, origin } = &shown.via else {
                return Err("an opening goes to a thread".into());
            };
            let mut create = op(
                "POST",
                format!("/channels/{channel}/messages/{origin}/threads"),
                Some(json!({
                    "name": thread_name(&by.name),
                    "auto_archive_duration": AUTO_ARCHIVE_MINUTES,
                })),
            );
            create["index_thread"] = Value::String(shown.conversation.clone());
            return Ok(create);
        }
        Effect::Answered {
            question,
            choice,
            by,
        } => closed(
            &pack.questions[*question].text,
            &answered_line(pack, *question, *choice, &display_name(&by.name)),
        ),
        Effect::Closed { question, note, by } => closed(
            &pack.questions[*question].text,
            &format!("{note} ({})", display_name(&by.name)),
        ),
        Effect::Notice { text } => Message::text(text.clone()),
        Effect::Tell { text, .. } => Message {
            ephemeral: true,
            ..Message::text(text.clone())
        },
        Effect::Ask {
            question,
            number,
            total,
        } => {
            let prompt = prompt_at(pack, *question, (*number, *total));
            question_message(&shown.conversation, &prompt, &[])
        }
        Effect::Chart(_) => {
            let Via::Edit {
                thread,
                message: id,
            } = &shown.via
            else {
                return Err("a chart is attached to its card's message".into());
            };
            let body = card_with_chart(&said.card(pack)?, &said.chart(pack)?);
            let mut edit = op(
                "PATCH",
                format!("/channels/{thread}/messages/{id}"),
                Some(body),
            );
            edit["file"] = json!(CHART_FILE);
            return Ok(edit);
        }
        Effect::Card { .. } => {
            let card = said.card(pack)?;
            match &shown.via {
                Via::Announce {
                    thread, starter, ..
                } => Message::text(format!(
                    "{}'s decision is done: {}. The full card is in <#{thread}>.",
                    display_name(starter),
                    escape_markdown(&card.headline())
                )),
                _ => with_record_button(
                    card_message(&card),
                    &crate::records::RecordOf::conversation_button(&shown.conversation),
                ),
            }
        }
    };
    Ok(match &shown.via {
        Via::Thread { .. } => return Err("only an opening makes a thread".into()),
        Via::Edit {
            thread,
            message: id,
        } => op(
            "PATCH",
            format!("/channels/{thread}/messages/{id}"),
            Some(message.to_json()),
        ),
        Via::Post { thread, reply_to } => {
            let message = Message {
                reply_to: reply_to.clone(),
                ..message
            };
            op(
                "POST",
                format!("/channels/{thread}/messages"),
                Some(message.to_json()),
            )
        }
        Via::Private { application, token } => op(
            "POST",
            format!("/webhooks/{application}/{token}"),
            Some(
                Message {
                    ephemeral: true,
                    ..message
                }
                .to_json(),
            ),
        ),
        Via::Announce { channel, .. } => op(
            "POST",
            format!("/channels/{channel}/messages"),
            Some(message.to_json()),
        ),
    })
}

/// A question that is over: its heading, what became of it, and no buttons.
fn closed(question: &str, line: &str) -> Message {
    Message {
        content: format!("{}\n{line}", question_heading(question)),
        components: Some(Vec::new()),
        ..Default::default()
    }
}
