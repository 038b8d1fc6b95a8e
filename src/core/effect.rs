//! What the bot says after a step, in no platform's terms: "close question 2, answered
//! Real-time by Ada", "ask question 3 of 9", "post the card of these answers". The rule of
//! what follows which event is written here once; each platform only turns an effect into
//! its own calls. Effects are small facts (indexes into the conversation's pack, ids,
//! names), so the outbox keeps them as they are and the platform renders them when they
//! are sent.

use super::card::{outcome_card, Basis, Card};
use super::chart::Chart;
use super::conversation::{Conversation, Event, Next, Transition};
use super::ids::{PackId, UserRef};
use super::messages::event_text;
use super::pack::Pack;
use super::score::{evaluate, AnswerError, Answers};
use serde::{Deserialize, Serialize};

/// One thing to show, about a conversation of a known pack version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// A new decision opens (where it lives: a thread's first message, the thread itself).
    Opened { by: UserRef },
    /// The question that was current was answered: shown closed, with the choice and who
    /// made it.
    Answered {
        question: usize,
        choice: usize,
        by: UserRef,
    },
    /// The question that was current was left without an answer (skipped, undone,
    /// cancelled): shown closed, with what happened.
    Closed {
        question: usize,
        note: String,
        by: UserRef,
    },
    /// Said to everyone in the conversation.
    Notice { text: String },
    /// Said to the one who acted, only them.
    Tell { to: UserRef, text: String },
    /// A question, at the conversation's progress when it was asked (question `number` of
    /// `total`).
    Ask {
        question: usize,
        number: usize,
        total: usize,
    },
    /// The summary card of a finished conversation; scored again when it is shown, which
    /// gives the same card for the same pack version.
    Card(Finished),
    /// The chart of a finished conversation, shown after its card.
    Chart(Finished),
}

/// A finished conversation's answers (question id, choice id), made by `by` and done at
/// `at`: what its card and its chart are made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    pub answers: Vec<(String, String)>,
    pub by: Vec<String>,
    pub at: i64,
}

/// An effect with the pack version it is rendered with: what a platform's outbox entry
/// keeps, next to where the effect goes on that platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    pub pack: PackId,
    pub version: u32,
    #[serde(flatten)]
    pub effect: Effect,
}

impl Said {
    /// Checks the effect against `pack`, the version it names: every question and choice it
    /// points at is there. A stored effect that does not fit is refused, not rendered.
    pub fn fits(&self, pack: &Pack) -> Result<(), String> {
        let question = |q: usize| {
            pack.questions
                .get(q)
                .ok_or_else(|| format!("no question {q} in {}", pack.id))
        };
        match &self.effect {
            Effect::Answered {
                question: q,
                choice,
                ..
            } => {
                if *choice >= question(*q)?.choices.len() {
                    return Err(format!("no choice {choice} in question {q} of {}", pack.id));
                }
            }
            Effect::Closed { question: q, .. } | Effect::Ask { question: q, .. } => {
                question(*q)?;
            }
            Effect::Opened { .. }
            | Effect::Notice { .. }
            | Effect::Tell { .. }
            | Effect::Card(_)
            | Effect::Chart(_) => {}
        }
        Ok(())
    }

    /// The card of the conversation a [`Effect::Card`] or [`Effect::Chart`] shows, with
    /// `pack`, the version it names.
    pub fn card(&self, pack: &Pack) -> Result<Card, String> {
        let finished = self.finished()?;
        let basis = Basis {
            by: finished.by.clone(),
            at: finished.at,
        };
        card_of(pack, self.version, &finished.answers, &basis)
            .map_err(|e| format!("the card's answers: {e}"))
    }

    /// The chart a [`Effect::Chart`] shows, with `pack`, the version it names.
    pub fn chart(&self, pack: &Pack) -> Result<Chart, String> {
        let finished = self.finished()?;
        let answers = Answers::from_ids(
            pack,
            finished
                .answers
                .iter()
                .map(|(q, c)| (q.as_str(), c.as_str())),
        )
        .map_err(|e| format!("the chart's answers: {e}"))?;
        Ok(Chart::of_decision(
            pack,
            self.version,
            &evaluate(pack, &answers),
        ))
    }

    fn finished(&self) -> Result<&Finished, String> {
        match &self.effect {
            Effect::Card(f) | Effect::Chart(f) => Ok(f),
            _ => Err("not a finished conversation's card or chart".into()),
        }
    }
}

/// The card of stored answers (question id, choice id).
pub fn card_of(
    pack: &Pack,
    version: u32,
    answers: &[(String, String)],
    basis: &Basis,
) -> Result<Card, AnswerError> {
    let answers = Answers::from_ids(pack, answers.iter().map(|(q, c)| (q.as_str(), c.as_str())))?;
    Ok(outcome_card(
        pack,
        version,
        &evaluate(pack, &answers),
        basis,
    ))
}

/// A conversation's answers as (question id, choice id), in question order.
pub fn answer_ids(pack: &Pack, c: &Conversation) -> Vec<(String, String)> {
    c.answers
        .iter()
        .enumerate()
        .filter_map(|(qi, a)| {
            let a = a.as_ref()?;
            let q = &pack.questions[qi];
            Some((q.id.to_string(), q.choices[a.choice].id.to_string()))
        })
        .collect()
}

/// Who answered a conversation (each name once, in the order they first answered) and when
/// it last moved.
pub fn basis(c: &Conversation) -> Basis {
    let mut by: Vec<String> = Vec::new();
    for r in c.answers.iter().flatten() {
        if !by.contains(&r.by.name) {
            by.push(r.by.name.clone());
        }
    }
    Basis {
        by,
        at: c.updated_at,
    }
}

/// One step as the effects see it.
pub struct Step<'a> {
    pub pack: &'a Pack,
    /// The conversation after the step.
    pub conversation: &'a Conversation,
    pub transition: &'a Transition,
    /// The question that was current when the input came, if one was.
    pub was_asking: Option<usize>,
    /// Who acted.
    pub by: &'a UserRef,
    /// The choice id, when the input was a click on a choice.
    pub clicked: Option<&'a str>,
}

/// What follows a step: the closing of the question that was current, what to say, and
/// the next question or the card.
pub fn after_step(s: &Step) -> Vec<Effect> {
    let note = event_text(s.pack, &s.transition.event);
    let mut out = Vec::new();
    let tell = |text: String| Effect::Tell {
        to: s.by.clone(),
        text,
    };
    match &s.transition.event {
        Event::Started => out.push(Effect::Opened { by: s.by.clone() }),
        Event::Answered {
            question, choice, ..
        } => out.push(Effect::Answered {
            question: *question,
            choice: *choice,
            by: s.by.clone(),
        }),
        Event::Skipped { question } => out.push(Effect::Closed {
            question: *question,
            note: note.unwrap_or_default(),
            by: s.by.clone(),
        }),
        event @ (Event::WentBack { .. } | Event::Restarted | Event::Cancelled) => {
            let note = note.unwrap_or_default();
            if let Some(question) = s.was_asking {
                out.push(Effect::Closed {
                    question,
                    note: note.clone(),
                    by: s.by.clone(),
                });
            }
            // Cancelling ends the conversation: say so at its end, not only on the closed
            // question. Without a question to close, the note is all there is to show.
            if s.was_asking.is_none() || *event == Event::Cancelled {
                out.push(Effect::Notice { text: note });
            }
        }
        Event::Stale { question } => {
            // A second click on the choice that was just recorded: the first one counted,
            // and saying "already answered" to its author would only confuse.
            let repeat = s.clicked.zip(*question).is_some_and(|(choice, q)| {
                s.conversation.answers[q].as_ref().is_some_and(|a| {
                    a.by.id == s.by.id
                        && s.pack.questions[q].choices[a.choice].id.as_str() == choice
                })
            });
            if !repeat {
                out.extend(note.map(tell));
            }
            return out;
        }
        Event::NotUnderstood { .. } | Event::Help | Event::NothingToUndo | Event::AlreadyOver => {
            out.extend(note.map(tell));
            return out;
        }
    }
    out.extend(follow_up(s.pack, s.conversation, s.transition.next));
    out
}

/// The next question, or the card and its chart when the conversation is finished.
fn follow_up(pack: &Pack, c: &Conversation, next: Next) -> Vec<Effect> {
    match next {
        Next::Ask(question) => {
            let (number, total) = c.progress(pack);
            vec![Effect::Ask {
                question,
                number,
                total,
            }]
        }
        Next::Finished => {
            let basis = basis(c);
            let finished = Finished {
                answers: answer_ids(pack, c),
                by: basis.by,
                at: basis.at,
            };
            vec![Effect::Card(finished.clone()), Effect::Chart(finished)]
        }
        Next::Cancelled => Vec::new(),
    }
}
