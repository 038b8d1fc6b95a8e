//! The words the bot says, shared by every platform: question prompts, re-asks, and the
//! replies to commands. Adapters only format them. Nothing here echoes what a user typed.

use super::conversation::{Conversation, Event};
use super::pack::Pack;
use super::poll::Poll;

/// A question ready to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub question: usize,
    pub question_id: String,
    /// 1-based position among the questions that apply, and how many apply.
    pub number: usize,
    pub total: usize,
    pub text: String,
    pub why: String,
    pub choices: Vec<PromptChoice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptChoice {
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
}

impl PromptChoice {
    /// "Real-time (chat, live notifications, collaboration)"
    pub fn described(&self) -> String {
        match &self.hint {
            Some(h) => format!("{} ({h})", self.label),
            None => self.label.clone(),
        }
    }
}

pub const REPLY_HINT: &str =
    "Pick a button, or reply in your own words. You can also say back, skip, restart or cancel.";

pub fn prompt(pack: &Pack, conversation: &Conversation, question: usize) -> Prompt {
    prompt_at(pack, question, conversation.progress(pack))
}

/// [`prompt`], given the conversation's progress (question `number` of `total`).
pub fn prompt_at(pack: &Pack, question: usize, (number, total): (usize, usize)) -> Prompt {
    let q = &pack.questions[question];
    Prompt {
        question,
        question_id: q.id.to_string(),
        number,
        total,
        text: q.text.clone(),
        why: q.why.clone(),
        choices: q
            .choices
            .iter()
            .map(|c| PromptChoice {
                id: c.id.to_string(),
                label: c.label.clone(),
                hint: c.hint.clone(),
            })
            .collect(),
    }
}

/// "Real-time or Both real-time and ML"
fn or_list(labels: &[String]) -> String {
    match labels {
        [] => String::new(),
        [one] => format!("“{one}”"),
        [init @ .., last] => format!(
            "{} or “{last}”",
            init.iter()
                .map(|l| format!("“{l}”"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What to say about an event, if anything, before the next question or card.
pub fn event_text(pack: &Pack, event: &Event) -> Option<String> {
    match event {
        Event::Started | Event::Answered { .. } => None,
        Event::Skipped { question } => {
            Some(format!("Skipped “{}”.", pack.questions[*question].text))
        }
        Event::WentBack { question } => Some(format!(
            "Going back to “{}”; its answer is cleared.",
            pack.questions[*question].text
        )),
        Event::NothingToUndo => Some("There is nothing to go back to yet.".into()),
        Event::Restarted => Some("Starting over: all answers are cleared.".into()),
        Event::Cancelled => {
            Some("Cancelled. Nothing more will be asked; start again any time.".into())
        }
        Event::NotUnderstood {
            question,
            candidates,
        } => {
            let q = &pack.questions[*question];
            Some(if candidates.is_empty() {
                let all: Vec<String> = q.choices.iter().map(|c| c.label.clone()).collect();
                format!(
                    "I couldn't match that to an answer. Reply with one of {}, or say skip.",
                    or_list(&all)
                )
            } else {
                let some: Vec<String> = candidates
                    .iter()
                    .map(|&c| q.choices[c].label.clone())
                    .collect();
                format!("That could mean {}. Which one?", or_list(&some))
            })
        }
        Event::Stale { .. } => {
            Some("That question has already been answered; this one is current.".into())
        }
        Event::Help => Some(help_text(pack, true)),
        Event::AlreadyOver => {
            Some("This decision is finished. Say restart to go through it again.".into())
        }
    }
}

/// The answer to `help` during a decision; `buttons` where the questions have them (not in
/// a terminal).
pub fn help_text(pack: &Pack, buttons: bool) -> String {
    let with = if buttons {
        "with a button, its number,"
    } else {
        "with its number, its label"
    };
    format!(
        "Answer the current question {with} or in your own words. Commands: back (change the \
         previous answer), skip, restart, cancel. Pack: {}.",
        pack.title
    )
}

/// "✓ Real-time, chosen by Ada"
pub fn answered_line(pack: &Pack, question: usize, choice: usize, by: &str) -> String {
    format!(
        "✓ {}, chosen by {by}",
        pack.questions[question].choices[choice].label
    )
}

/// The answer to `packs`: a line per pack, its id and version, its title made to stand out
/// by `strong`, and its description; pack text goes through `escape` for where it lands.
pub fn packs_text(
    packs: &[(std::sync::Arc<Pack>, u32)],
    strong: impl Fn(&str) -> String,
    escape: impl Fn(&str) -> String,
) -> String {
    let lines: Vec<String> = packs
        .iter()
        .map(|(p, v)| {
            format!(
                "• `{}` (v{v}): {}. {}",
                p.id,
                strong(&escape(&p.title)),
                escape(&p.description)
            )
        })
        .collect();
    format!(
        "Decision packs (start one with `/tradeoff start <pack>`):\n{}",
        lines.join("\n")
    )
}

// ---------------------------------------------------------------------------------------
// Team polls
// ---------------------------------------------------------------------------------------

/// The answer to a press on a poll's button when the poll is not open in that channel.
pub const POLL_NOT_HERE: &str = "This button belongs to a poll that is not open here.";

/// What a member is told before answering: who sees what.
pub fn poll_privacy(poll: &Poll) -> String {
    format!(
        "Your answers are private: the channel sees only how many have answered. {}",
        if poll.spec.anonymous {
            "This poll is anonymous: your answers are not stored with your name."
        } else {
            "The summary shows the team's answers together, not yours alone."
        }
    )
}

/// A closed round's line on the poll message; `people` is how many answered, in words.
pub fn poll_closed_line(people: &str) -> String {
    format!("Closed · {people}. The team's summary is posted below.")
}

/// The poll message's footer: who opened it (`creator`, as the platform names them), the
/// round of a recurring poll, and whether it is anonymous.
pub fn poll_footer(poll: &Poll, creator: &str, round: u32) -> String {
    let mut parts = vec![format!("Opened by {creator}")];
    if poll.is_recurring() {
        parts.push(format!("round {round}"));
    }
    if poll.spec.anonymous {
        parts.push("anonymous: answers are not linked to names".into());
    }
    parts.join(" · ")
}

/// The opener's answer to `poll`: `status` is the poll's status line as the platform shows
/// it, `close` how to close it there.
pub fn poll_opened_reply(status: &str, close: &str) -> String {
    format!(
        "Your poll is open: {status}. Its message with the Answer button follows in this \
         channel. Close it early with {close}."
    )
}

/// How many past results `history` lists.
pub const HISTORY_SHOWN: usize = 20;

/// `history` in a channel with no results yet.
pub const HISTORY_EMPTY: &str = "No decision or poll has finished here yet.";

/// A past result in one line: "4 December 2026 · Node.js (Node.js 72 / Python 58) · a
/// decision by Ada". `history` numbers them.
pub fn past_line(at: i64, card: &super::card::Card, what: &str) -> String {
    format!(
        "{} · {} ({}) · {what}",
        super::card::date(at),
        card.recommendation,
        card.score_summary()
    )
}

/// What follows `history`'s lines: how to see one again (`command` as typed there).
pub fn history_hint(command: &str) -> String {
    format!("Show one again with `{command} history N`.")
}

/// The answer to `poll export`: round `round`'s export follows `where_to`, privately.
pub fn export_reply(round: u32, where_to: &str) -> String {
    format!(
        "The export of round {round} (CSV and JSON: one row per response, and the team's) \
         follows in {where_to}, for you only."
    )
}

/// The answer to `record`: where the record goes, and where to keep it.
pub fn record_reply(path: &str) -> String {
    format!(
        "The decision record follows here as a Markdown file. Keep it next to your code as \
         `{path}` (NNNN: the next free number among your records)."
    )
}

/// The closer's answer to `poll close`.
pub fn poll_closed_reply(respondents: u32) -> String {
    format!("Poll closed with {respondents} answered. The team's summary follows in this channel.")
}
