//! The conversation in a terminal: the same engine and store as the chat platforms. Input
//! comes through a [`Prompter`]: a line editor with history when standard input is a
//! terminal ([`Editor`]), plain lines otherwise ([`Piped`]). Output is written for where it
//! lands ([`Look`]): wrapped to the terminal's width, with bold headings, when it is a
//! terminal; plain, unwrapped text when it is piped.

use crate::app::{App, AppError};
use crate::core::conversation::{Event, Input, Next};
use crate::core::ids::{ConversationKey, UserRef};
use crate::core::messages::{answered_line, event_text, help_text, prompt};
use crate::core::text::Command;
use std::io::{BufRead, Write};

/// How a terminal session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Finished,
    Cancelled,
    /// Input ended mid-way; the conversation is saved and resumes next time.
    Paused,
    /// Interrupted (Ctrl-C); saved like a pause.
    Interrupted,
}

/// What reading one line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Line(String),
    /// The input ended (Ctrl-D, or the end of a pipe).
    End,
    /// Ctrl-C.
    Interrupted,
}

/// Where the answers come from.
pub trait Prompter {
    /// Shows `prompt` and reads one line.
    fn read(&mut self, prompt: &str) -> Result<Read, ChatError>;
}

/// Lines from a pipe or a file; the prompt is written to `out` by the caller.
pub struct Piped<R: BufRead>(pub std::io::Lines<R>);

impl<R: BufRead> Prompter for Piped<R> {
    fn read(&mut self, _prompt: &str) -> Result<Read, ChatError> {
        Ok(match self.0.next().transpose()? {
            Some(line) => Read::Line(line),
            None => Read::End,
        })
    }
}

/// A line editor on the terminal (rustyline): arrow keys, Home and End, history with Up
/// and Down, Ctrl-C and Ctrl-D.
pub struct Editor(rustyline::DefaultEditor);

impl Editor {
    pub fn new() -> Result<Self, ChatError> {
        rustyline::DefaultEditor::new()
            .map(Editor)
            .map_err(|e| ChatError::Io(std::io::Error::other(e)))
    }
}

impl Prompter for Editor {
    fn read(&mut self, prompt: &str) -> Result<Read, ChatError> {
        use rustyline::error::ReadlineError;
        match self.0.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    // A line the history already ends with is not added again.
                    let _ = self.0.add_history_entry(line.as_str());
                }
                Ok(Read::Line(line))
            }
            Err(ReadlineError::Eof) => Ok(Read::End),
            Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
            Err(e) => Err(ChatError::Io(std::io::Error::other(e))),
        }
    }
}

/// How text is laid out where it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Wrap lines to this many columns; `None`: leave them as they are.
    pub width: Option<usize>,
    /// Bold headings (ANSI).
    pub bold: bool,
    /// A person at a terminal: the line editor shows the prompts, and clearing every answer
    /// (`restart`) is confirmed first. Otherwise prompts are written to the output, and
    /// every line is taken as it comes.
    pub interactive: bool,
}

impl Look {
    /// Plain text, unwrapped: for a pipe or a file.
    pub const PLAIN: Look = Look {
        width: None,
        bold: false,
        interactive: false,
    };

    /// For a terminal `columns` wide; `color` unless the user asked for none (`NO_COLOR`).
    pub fn terminal(columns: usize, color: bool) -> Look {
        Look {
            width: Some(columns.max(20)),
            bold: color,
            interactive: true,
        }
    }

    /// `text` wrapped to the width, each line keeping its indent (a bullet's text lines up
    /// under the text, not the bullet).
    pub fn wrap(&self, text: &str) -> String {
        let Some(width) = self.width else {
            return text.to_owned();
        };
        let mut out = String::with_capacity(text.len() + 16);
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let indent = line.len() - line.trim_start().len();
            let rest = &line[indent..];
            let hang = if rest.starts_with("• ") || rest.starts_with("- ") {
                indent + 2
            } else if rest.starts_with("Why we ask: ") {
                indent + 4
            } else {
                indent
            };
            let hang = " ".repeat(hang.min(width / 2));
            let options = textwrap::Options::new(width)
                .subsequent_indent(&hang)
                .break_words(true);
            out.push_str(&textwrap::fill(line, options));
        }
        out
    }

    fn strong(&self, text: &str) -> String {
        let text = self.wrap(text);
        if self.bold {
            let style = anstyle::Style::new().bold();
            format!("{style}{text}{style:#}")
        } else {
            text
        }
    }
}

/// Runs (or resumes) the conversation at `key` until it finishes, is cancelled, or input
/// ends. `now` is called for each input's timestamp. With `chart`, the result's chart is
/// written there as a PNG when the conversation finishes.
#[expect(
    clippy::too_many_arguments,
    reason = "the session's parts, each needed"
)]
pub fn chat<W: Write>(
    app: &App,
    key: &ConversationKey,
    user: &UserRef,
    pack: Option<&str>,
    input: &mut dyn Prompter,
    out: &mut W,
    look: Look,
    chart: Option<&std::path::Path>,
    now: impl Fn() -> i64,
) -> Result<Ending, ChatError> {
    let say = |out: &mut W, text: &str| writeln!(out, "{}", look.wrap(text));
    let mut next = match app.open_conversation(key)? {
        Some((pack, _, conversation)) => {
            let (number, total) = conversation.progress(&pack);
            say(
                out,
                &format!(
                    "Resuming your decision “{}” at question {number} of {total}. Say restart to start over.\n",
                    pack.title
                ),
            )?;
            conversation.next()
        }
        None => {
            // The last decision made here, and how to see it again, before a new one.
            let past = app.history(key.platform, &key.workspace, &key.channel)?;
            if let Some(last) = past.first() {
                let line = app.past_line(last)?;
                say(
                    out,
                    &format!(
                        "Your last decision: {line}. `tradeoff history 1` shows it again; \
                         `tradeoff history` lists them all. A new one starts now.\n"
                    ),
                )?;
            }
            let update = app.start(key, pack, user.clone(), now())?;
            writeln!(out, "{}", look.strong(&update.pack.title))?;
            say(out, &format!("{}\n", update.pack.intro))?;
            update.transition.next
        }
    };
    while let Some((pack, _, conversation)) = app.open_conversation(key)? {
        let Next::Ask(question) = next else { break };
        let p = prompt(&pack, &conversation, question);
        writeln!(
            out,
            "{}",
            look.strong(&format!("[{}/{}] {}", p.number, p.total, p.text))
        )?;
        say(out, &format!("    Why we ask: {}", p.why))?;
        for (i, c) in p.choices.iter().enumerate() {
            say(out, &format!("  {}. {}", i + 1, c.described()))?;
        }
        let line = match read(input, out, look, "> ")? {
            Read::Line(line) => line,
            Read::End => {
                say(
                    out,
                    "\nPaused. Run tradeoff chat again to continue where you left off.",
                )?;
                return Ok(Ending::Paused);
            }
            Read::Interrupted => {
                say(
                    out,
                    "\nStopped. Your answers are saved: run tradeoff chat again to continue.",
                )?;
                return Ok(Ending::Interrupted);
            }
        };
        if line.trim().is_empty() {
            writeln!(out)?;
            continue;
        }
        let answered = conversation.answers.iter().flatten().count();
        if look.interactive && Command::parse(&line) == Some(Command::Restart) && answered > 0 {
            let question = format!(
                "Start over and clear your {answered} answer{}? [y/N] ",
                if answered == 1 { "" } else { "s" }
            );
            let sure = match read(input, out, look, &question)? {
                Read::Line(reply) => matches!(reply.trim().to_lowercase().as_str(), "y" | "yes"),
                Read::End | Read::Interrupted => false,
            };
            if !sure {
                say(out, "Kept your answers.\n")?;
                continue;
            }
        }
        let update = app.step(key, Input::Text(line), user, now())?;
        if let Event::Answered {
            question, choice, ..
        } = update.transition.event
        {
            say(
                out,
                &format!(
                    "{}\n",
                    answered_line(&update.pack, question, choice, &user.name)
                ),
            )?;
        }
        let text = match &update.transition.event {
            Event::Help => Some(help_text(&update.pack, false)),
            event => event_text(&update.pack, event),
        };
        if let Some(text) = text {
            say(out, &format!("{text}\n"))?;
        }
        if let Some(card) = update.card() {
            for line in card.to_text().lines() {
                if line.starts_with("Recommendation: ") {
                    writeln!(out, "{}", look.strong(line))?;
                } else {
                    say(out, line)?;
                }
            }
            if let (Some(file), Some(drawn)) = (chart, update.chart()) {
                let png = crate::chart::png(&drawn).map_err(std::io::Error::other)?;
                std::fs::write(file, png).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("{}: cannot write the chart: {e}", file.display()),
                    )
                })?;
                say(out, &format!("The chart is in {}.", file.display()))?;
            }
            out.flush()?;
            return Ok(Ending::Finished);
        }
        next = update.transition.next;
    }
    Ok(match next {
        Next::Finished => Ending::Finished,
        _ => Ending::Cancelled,
    })
}

/// Reads one line after `prompt`: the line editor shows the prompt itself; otherwise it is
/// written to `out`.
fn read<W: Write>(
    input: &mut dyn Prompter,
    out: &mut W,
    look: Look,
    prompt: &str,
) -> Result<Read, ChatError> {
    if !look.interactive {
        write!(out, "{prompt}")?;
    }
    out.flush()?;
    input.read(prompt)
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{}", .0.user_text())]
    App(#[from] AppError),
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_indents_and_hangs_bullets() {
        let look = Look::terminal(30, false);
        let text = "  • Concurrency and I/O performance gives Node.js the lead here";
        let wrapped = look.wrap(text);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1, "{wrapped}");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{wrapped}");
        assert!(lines[0].starts_with("  • "));
        assert!(lines[1].starts_with("    ") && !lines[1].starts_with("     "));
        assert_eq!(Look::PLAIN.wrap(text), text);
    }
}
