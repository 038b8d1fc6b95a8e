//! The conversation in a terminal: the same engine and store as the chat platforms, read
//! from and written to any `BufRead`/`Write`, so tests drive it with plain byte buffers.

use crate::app::{App, AppError};
use crate::core::conversation::{Event, Input, Next};
use crate::core::ids::{ConversationKey, UserRef};
use crate::core::messages::{answered_line, event_text, prompt};
use std::io::{BufRead, Write};

/// How a terminal session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Finished,
    Cancelled,
    /// Input ended mid-way; the conversation is saved and resumes next time.
    Paused,
}

/// Runs (or resumes) the conversation at `key` until it finishes, is cancelled, or input
/// ends. `now` is called for each input's timestamp.
pub fn chat<R: BufRead, W: Write>(
    app: &App,
    key: &ConversationKey,
    user: &UserRef,
    pack: Option<&str>,
    input: R,
    out: &mut W,
    now: impl Fn() -> i64,
) -> Result<Ending, ChatError> {
    let mut next = match app.open_conversation(key)? {
        Some((pack, _, conversation)) => {
            let (number, total) = conversation.progress(&pack);
            writeln!(
                out,
                "Resuming your decision “{}” at question {number} of {total}. Say restart to start over.\n",
                pack.title
            )?;
            conversation.next()
        }
        None => {
            let update = app.start(key, pack, user.clone(), now())?;
            writeln!(out, "{}\n{}\n", update.pack.title, update.pack.intro)?;
            update.transition.next
        }
    };
    let mut lines = input.lines();
    while let Some((pack, _, conversation)) = app.open_conversation(key)? {
        let Next::Ask(question) = next else { break };
        let p = prompt(&pack, &conversation, question);
        writeln!(out, "[{}/{}] {}", p.number, p.total, p.text)?;
        writeln!(out, "    Why we ask: {}", p.why)?;
        for (i, c) in p.choices.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, c.described())?;
        }
        write!(out, "> ")?;
        out.flush()?;
        let Some(line) = lines.next().transpose()? else {
            writeln!(
                out,
                "\nPaused. Run `tradeoff chat` again to continue where you left off."
            )?;
            return Ok(Ending::Paused);
        };
        if line.trim().is_empty() {
            writeln!(out)?;
            continue;
        }
        let update = app.step(key, Input::Text(line), user, now())?;
        if let Event::Answered {
            question, choice, ..
        } = update.transition.event
        {
            writeln!(
                out,
                "{}\n",
                answered_line(&update.pack, question, choice, &user.name)
            )?;
        }
        if let Some(text) = event_text(&update.pack, &update.transition.event) {
            writeln!(out, "{text}\n")?;
        }
        if let Some(card) = update.card() {
            write!(out, "{}", card.to_text())?;
            return Ok(Ending::Finished);
        }
        next = update.transition.next;
    }
    Ok(match next {
        Next::Finished => Ending::Finished,
        _ => Ending::Cancelled,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{}", .0.user_text())]
    App(#[from] AppError),
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}
