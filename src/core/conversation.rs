//! The conversation: a pure state machine over one pack. It asks the questions in order
//! (skipping those earlier answers made irrelevant), takes answers as choices or free text,
//! and understands `back`, `skip`, `restart`, `cancel` and `help`. Time comes in as a
//! parameter; nothing here does I/O.

use super::ids::{PackId, UserRef};
use super::pack::Pack;
use super::score::{evaluate, Answers, Outcome};
use super::text::{match_choice, Command, Match};
use serde::{Deserialize, Serialize};

/// How an answer arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Button,
    Text,
}

/// An answer with who gave it and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub choice: usize,
    pub by: UserRef,
    pub at: i64,
    pub via: Via,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "question")]
pub enum State {
    Asking(usize),
    Finished,
    Cancelled,
}

/// One conversation, as stored. Question and choice indexes refer to the pack version the
/// conversation started with, which the store keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub pack: PackId,
    pub pack_version: u32,
    pub started_by: UserRef,
    pub started_at: i64,
    pub updated_at: i64,
    pub answers: Vec<Option<Recorded>>,
    pub skipped: Vec<bool>,
    /// Questions answered or skipped, in order: what `back` undoes.
    pub history: Vec<usize>,
    pub state: State,
    /// The record's version in the store: how many times it has been saved (0 for one not
    /// saved yet). A step is saved only if the version it read is still current.
    #[serde(default)]
    pub version: u64,
}

/// What came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A button or menu: the question it belongs to and the choice id.
    Choice { question: String, choice: String },
    /// A written reply.
    Text(String),
    /// A command said without a question (typed, or `/tradeoff cancel`).
    Command(Command),
    /// A command button, shown with a question: it acts on that question only, never on a
    /// later one (a double click on Skip must not skip two questions).
    Pressed { question: String, command: Command },
}

/// What the input did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new conversation: ask the first question.
    Started,
    Answered {
        question: usize,
        choice: usize,
        via: Via,
    },
    Skipped {
        question: usize,
    },
    WentBack {
        question: usize,
    },
    NothingToUndo,
    Restarted,
    Cancelled,
    /// Free text that fit none of the choices (`candidates` empty) or several.
    NotUnderstood {
        question: usize,
        candidates: Vec<usize>,
    },
    /// A button of a question that is not the current one (already answered, or undone).
    Stale {
        question: Option<usize>,
    },
    Help,
    /// The conversation has ended; only `restart` reopens it.
    AlreadyOver,
}

impl Event {
    /// False for the events that leave the conversation as it was (a re-ask, help, a stale
    /// button, nothing to undo, a finished conversation): nothing to save.
    pub fn changes_state(&self) -> bool {
        !matches!(
            self,
            Event::Stale { .. }
                | Event::AlreadyOver
                | Event::Help
                | Event::NotUnderstood { .. }
                | Event::NothingToUndo
        )
    }
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Ask(usize),
    Finished,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub event: Event,
    pub next: Next,
}

impl Conversation {
    pub fn start(pack: &Pack, pack_version: u32, by: UserRef, now: i64) -> Self {
        let mut c = Conversation {
            pack: pack.id.clone(),
            pack_version,
            started_by: by,
            started_at: now,
            updated_at: now,
            answers: vec![None; pack.questions.len()],
            skipped: vec![false; pack.questions.len()],
            history: Vec::new(),
            state: State::Finished,
            version: 0,
        };
        c.state = c.advance(pack);
        c
    }

    pub fn next(&self) -> Next {
        match self.state {
            State::Asking(q) => Next::Ask(q),
            State::Finished => Next::Finished,
            State::Cancelled => Next::Cancelled,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Asking(_))
    }

    pub fn answer_set(&self) -> Answers {
        Answers(
            self.answers
                .iter()
                .map(|a| a.as_ref().map(|r| r.choice))
                .collect(),
        )
    }

    /// The result so far (complete once the state is `Finished`).
    pub fn outcome(&self, pack: &Pack) -> Outcome {
        evaluate(pack, &self.answer_set())
    }

    /// (position of the current question among those that apply, how many apply), 1-based.
    pub fn progress(&self, pack: &Pack) -> (usize, usize) {
        let applicable = self.answer_set().applicable(pack);
        let total = applicable.iter().filter(|a| **a).count();
        let done = (0..pack.questions.len())
            .filter(|&q| applicable[q] && (self.answers[q].is_some() || self.skipped[q]))
            .count();
        ((done + 1).min(total), total)
    }

    /// Applies one input. `by` is who sent it; `now` is seconds since the epoch.
    pub fn step(&mut self, pack: &Pack, input: Input, by: &UserRef, now: i64) -> Transition {
        let event = self.apply(pack, input, by, now);
        if event.changes_state() {
            self.updated_at = now;
        }
        Transition {
            event,
            next: self.next(),
        }
    }

    /// [`Conversation::step`] for an input sent while the conversation was in state `seen`:
    /// if it has moved on since (another step was saved first), the input is stale and
    /// changes nothing. Of two answers racing to one question, the second is told so rather
    /// than taken as the answer to the next question.
    pub fn step_seen(
        &mut self,
        pack: &Pack,
        input: Input,
        by: &UserRef,
        now: i64,
        seen: State,
    ) -> Transition {
        if self.state != seen {
            let question = match seen {
                State::Asking(q) => Some(q),
                State::Finished | State::Cancelled => None,
            };
            return Transition {
                event: Event::Stale { question },
                next: self.next(),
            };
        }
        self.step(pack, input, by, now)
    }

    fn apply(&mut self, pack: &Pack, input: Input, by: &UserRef, now: i64) -> Event {
        if let Input::Pressed { question, .. } = &input {
            let shown = pack.question_index(question);
            if shown.is_none() || shown.map(State::Asking) != Some(self.state) {
                return Event::Stale { question: shown };
            }
        }
        let command = match &input {
            Input::Command(c) | Input::Pressed { command: c, .. } => Some(*c),
            Input::Text(t) => Command::parse(t),
            Input::Choice { .. } => None,
        };
        if command == Some(Command::Restart) && self.state != State::Cancelled {
            self.answers.iter_mut().for_each(|a| *a = None);
            self.skipped.iter_mut().for_each(|s| *s = false);
            self.history.clear();
            self.state = self.advance(pack);
            return Event::Restarted;
        }
        let State::Asking(current) = self.state else {
            return Event::AlreadyOver;
        };
        match (command, input) {
            (Some(Command::Back), _) => match self.history.pop() {
                Some(q) => {
                    self.answers[q] = None;
                    self.skipped[q] = false;
                    self.state = State::Asking(q);
                    Event::WentBack { question: q }
                }
                None => Event::NothingToUndo,
            },
            (Some(Command::Skip), _) => {
                self.skipped[current] = true;
                self.history.push(current);
                self.state = self.advance(pack);
                Event::Skipped { question: current }
            }
            (Some(Command::Cancel), _) => {
                self.state = State::Cancelled;
                Event::Cancelled
            }
            (Some(Command::Help), _) => Event::Help,
            // Restart was handled above, before the state was looked at.
            (Some(Command::Restart), _) => Event::AlreadyOver,
            (None, Input::Choice { question, choice }) => {
                let q = &pack.questions[current];
                if q.id.as_str() != question {
                    return Event::Stale {
                        question: pack.question_index(&question),
                    };
                }
                match q.choice_index(&choice) {
                    Some(ci) => self.record(pack, current, ci, by, now, Via::Button),
                    None => Event::Stale {
                        question: Some(current),
                    },
                }
            }
            (None, Input::Text(text)) => match match_choice(&pack.questions[current], &text) {
                Match::One(ci) => self.record(pack, current, ci, by, now, Via::Text),
                Match::Several(candidates) => Event::NotUnderstood {
                    question: current,
                    candidates,
                },
                Match::None => Event::NotUnderstood {
                    question: current,
                    candidates: Vec::new(),
                },
            },
            (None, Input::Command(_) | Input::Pressed { .. }) => Event::Help,
        }
    }

    fn record(
        &mut self,
        pack: &Pack,
        question: usize,
        choice: usize,
        by: &UserRef,
        now: i64,
        via: Via,
    ) -> Event {
        self.answers[question] = Some(Recorded {
            choice,
            by: by.clone(),
            at: now,
            via,
        });
        self.skipped[question] = false;
        self.history.push(question);
        self.state = self.advance(pack);
        Event::Answered {
            question,
            choice,
            via,
        }
    }

    /// The first question, in pack order, that applies and is neither answered nor skipped.
    fn advance(&self, pack: &Pack) -> State {
        let applicable = self.answer_set().applicable(pack);
        (0..pack.questions.len())
            .find(|&q| applicable[q] && self.answers[q].is_none() && !self.skipped[q])
            .map_or(State::Finished, State::Asking)
    }
}
