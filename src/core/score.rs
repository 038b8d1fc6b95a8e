//! Scoring: answers -> scores per option, a recommendation, and the reasons for it.
//!
//! How a score is made. Each choice weighs some criteria; each criterion rates every option
//! on 1–5, mapped onto 0..1. An option's evidence is the sum of weight x rating over the
//! answers. Every question has a budget (the heaviest of its choices); what an answer does
//! not spend, and every question not answered, counts as neutral (0.5 for every option).
//! The score is evidence over the pack's total budget, times 100. So:
//!
//! - scores stay within 0–100, and no answers at all gives every option 50;
//! - the gap between two options is the sum of each answer's own contribution, so an
//!   answer that favours an option can never lower that option's margin;
//! - a team's answers are the same sum with fractions (see [`super::tally`]).
//!
//! A blend (the article's hybrid) is recommended when the answers raise every signal it
//! requires to its threshold: e.g. a real-time layer and an ML layer both called for.

use super::ids::{ChoiceId, CriterionId, OptionId, PackId, QuestionId};
use super::pack::{Pack, Question};
use serde::Serialize;
use std::collections::BTreeMap;

/// One person's answers: for each question of the pack, in order, the chosen choice's index.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct Answers(pub Vec<Option<usize>>);

/// An answer that names a question or a choice the pack does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("unknown question {question:?} (this pack asks: {known})")]
    UnknownQuestion { question: String, known: String },
    #[error("question {question:?} has no choice {value:?} (choices: {known})")]
    UnknownChoice {
        question: String,
        value: String,
        known: String,
    },
}

impl Answers {
    pub fn empty(pack: &Pack) -> Self {
        Answers(vec![None; pack.questions.len()])
    }

    /// Builds answers from question id -> choice id pairs, refusing anything unknown.
    pub fn from_ids<'a>(
        pack: &Pack,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, AnswerError> {
        let mut answers = Self::empty(pack);
        for (question, value) in pairs {
            let qi = pack
                .question_index(question)
                .ok_or_else(|| AnswerError::UnknownQuestion {
                    question: question.to_owned(),
                    known: pack
                        .questions
                        .iter()
                        .map(|q| q.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let q = &pack.questions[qi];
            let ci = q
                .choice_index(value)
                .ok_or_else(|| AnswerError::UnknownChoice {
                    question: question.to_owned(),
                    value: value.to_owned(),
                    known: q
                        .choices
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            answers.0[qi] = Some(ci);
        }
        Ok(answers)
    }

    pub fn get(&self, question: usize) -> Option<usize> {
        self.0.get(question).copied().flatten()
    }

    /// Which questions apply given the earlier answers (a question whose `ask_if` is not met
    /// is neither asked nor scored).
    pub fn applicable(&self, pack: &Pack) -> Vec<bool> {
        let mut out: Vec<bool> = Vec::with_capacity(pack.questions.len());
        for q in &pack.questions {
            let ok = is_applicable(q, self, &out);
            out.push(ok);
        }
        out
    }
}

/// A question applies when each question its `ask_if` names applied and got an allowed answer.
/// `applicable` holds the verdicts for the questions before this one.
fn is_applicable(question: &Question, answers: &Answers, applicable: &[bool]) -> bool {
    question.ask_if.iter().all(|(qi, allowed)| {
        applicable[*qi] && answers.get(*qi).is_some_and(|c| allowed.contains(&c))
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// What is recommended: one option, or a blend of several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum Pick {
    Option(usize),
    Blend(usize),
}

impl Pick {
    pub fn id(self, pack: &Pack) -> &str {
        match self {
            Pick::Option(i) => pack.options[i].id.as_str(),
            Pick::Blend(i) => &pack.blends[i].id,
        }
    }

    pub fn label(self, pack: &Pack) -> &str {
        match self {
            Pick::Option(i) => &pack.options[i].label,
            Pick::Blend(i) => &pack.blends[i].label,
        }
    }
}

/// The weighed sum of a set of answers (or of a team's answers, as fractions).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// Per option: sum of weight x normalized rating.
    pub option: Vec<f64>,
    /// Weight spent by the answers.
    pub spent: f64,
    /// Per signal: total raised.
    pub signals: Vec<f64>,
    /// Answered questions (fractional for a team).
    pub answered: f64,
    /// Questions that applied (fractional for a team).
    pub applicable: f64,
}

impl Evidence {
    pub fn new(pack: &Pack) -> Self {
        Evidence {
            option: vec![0.0; pack.options.len()],
            spent: 0.0,
            signals: vec![0.0; pack.signals.len()],
            answered: 0.0,
            applicable: 0.0,
        }
    }

    /// Adds `share` (1 for one person, a fraction for a team) of one choice.
    pub fn add(&mut self, pack: &Pack, question: usize, choice: usize, share: f64) {
        let c = &pack.questions[question].choices[choice];
        for (acc, e) in self.option.iter_mut().zip(&c.option_evidence) {
            *acc += share * e;
        }
        for (acc, s) in self.signals.iter_mut().zip(&c.signals) {
            *acc += share * s;
        }
        self.spent += share * c.weight_total;
        self.answered += share;
    }

    pub fn of_answers(pack: &Pack, answers: &Answers) -> Self {
        let mut ev = Evidence::new(pack);
        let mut applicable = Vec::with_capacity(pack.questions.len());
        for (qi, q) in pack.questions.iter().enumerate() {
            let ok = is_applicable(q, answers, &applicable);
            applicable.push(ok);
            if ok {
                ev.applicable += 1.0;
                if let Some(ci) = answers.get(qi) {
                    ev.add(pack, qi, ci, 1.0);
                }
            }
        }
        ev
    }

    /// Scores 0–100 per option.
    pub fn scores(&self, pack: &Pack) -> Vec<f64> {
        let neutral = 0.5 * (pack.total_budget - self.spent).max(0.0);
        self.option
            .iter()
            .map(|e| (100.0 * (e + neutral) / pack.total_budget).clamp(0.0, 100.0))
            .collect()
    }

    /// The recommendation these answers make.
    pub fn pick(&self, pack: &Pack, scores: &[f64]) -> Pick {
        if let Some(b) = pack.blends.iter().position(|b| {
            b.requires
                .iter()
                .all(|&(s, min)| self.signals[s] >= min - 1e-9)
        }) {
            return Pick::Blend(b);
        }
        Pick::Option(best_option(pack, scores))
    }
}

/// The best-scoring option. On an exact tie (no answers yet), the option the source rates
/// higher across all its criteria, then the pack's order.
fn best_option(pack: &Pack, scores: &[f64]) -> usize {
    let prior = |o: usize| pack.criteria.iter().map(|c| c.normalized(o)).sum::<f64>();
    let mut best = 0;
    for o in 1..scores.len() {
        let diff = scores[o] - scores[best];
        if diff > 1e-9 || (diff.abs() <= 1e-9 && prior(o) > prior(best) + 1e-9) {
            best = o;
        }
    }
    best
}

/// The weight each criterion received from the answers.
fn criterion_weights(pack: &Pack, answers: &Answers) -> Vec<f64> {
    let mut w = vec![0.0; pack.criteria.len()];
    let applicable = answers.applicable(pack);
    for (qi, q) in pack.questions.iter().enumerate() {
        if let (true, Some(ci)) = (applicable[qi], answers.get(qi)) {
            for &(k, weight) in &q.choices[ci].weights {
                w[k] += weight;
            }
        }
    }
    w
}

/// A criterion that decided the recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Driver {
    pub criterion: CriterionId,
    pub label: String,
    pub favours: OptionId,
    pub favours_label: String,
    pub reason: String,
    pub facts: Vec<String>,
    /// Points of margin this criterion gave, on the 0–100 scale.
    pub points: f64,
}

/// Something the team gives up with the recommendation, and how to soften it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TradeoffItem {
    pub criterion: Option<CriterionId>,
    pub title: String,
    pub gives_up: String,
    pub mitigation: String,
}

/// The smallest change of one answer that changes the recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flip {
    pub question: QuestionId,
    pub question_text: String,
    pub from: Option<ChoiceId>,
    pub from_label: Option<String>,
    pub to: ChoiceId,
    pub to_label: String,
    pub recommendation: String,
    pub recommendation_label: String,
}

impl Flip {
    pub fn sentence(&self) -> String {
        match &self.from_label {
            Some(from) => format!(
                "Answering “{}” instead of “{}” to “{}” would make it {}.",
                self.to_label, from, self.question_text, self.recommendation_label
            ),
            None => format!(
                "Answering “{}” to “{}” would make it {}.",
                self.to_label, self.question_text, self.recommendation_label
            ),
        }
    }
}

/// The full result of scoring one answer set.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub pack: PackId,
    pub pick: Pick,
    pub recommendation: String,
    pub recommendation_label: String,
    pub summary: String,
    pub confidence: Confidence,
    /// Per option, 0–100, in the pack's option order.
    pub scores: Vec<(OptionId, String, f64)>,
    /// Winner's score minus the runner-up's (for a blend: between its two best members).
    pub margin: f64,
    pub answered: usize,
    pub applicable: usize,
    pub drivers: Vec<Driver>,
    pub tradeoffs: Vec<TradeoffItem>,
    pub flip: Option<Flip>,
}

/// The JSON contract of `tradeoff score --format json`.
#[derive(Serialize)]
pub struct OutcomeJson<'a> {
    pub pack: &'a str,
    pub recommendation: &'a str,
    pub recommendation_label: &'a str,
    pub summary: &'a str,
    pub confidence: Confidence,
    pub scores: BTreeMap<&'a str, f64>,
    pub margin: f64,
    pub answered: usize,
    pub questions: usize,
    pub drivers: &'a [Driver],
    pub tradeoffs: &'a [TradeoffItem],
    pub flip: Option<FlipJson<'a>>,
}

#[derive(Serialize)]
pub struct FlipJson<'a> {
    #[serde(flatten)]
    pub flip: &'a Flip,
    pub text: String,
}

impl Outcome {
    pub fn to_json(&self) -> OutcomeJson<'_> {
        OutcomeJson {
            pack: self.pack.as_str(),
            recommendation: &self.recommendation,
            recommendation_label: &self.recommendation_label,
            summary: &self.summary,
            confidence: self.confidence,
            scores: self
                .scores
                .iter()
                .map(|(id, _, s)| (id.as_str(), round1(*s)))
                .collect(),
            margin: round1(self.margin),
            answered: self.answered,
            questions: self.applicable,
            drivers: &self.drivers,
            tradeoffs: &self.tradeoffs,
            flip: self.flip.as_ref().map(|f| FlipJson {
                flip: f,
                text: f.sentence(),
            }),
        }
    }

    pub fn score_of(&self, option: &str) -> Option<f64> {
        self.scores
            .iter()
            .find(|(id, _, _)| id.as_str() == option)
            .map(|(_, _, s)| *s)
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Confidence from the margin (points on the 0–100 scale) and the share of questions
/// answered. A blend's confidence rests on the answers alone: its signals were met.
pub fn confidence(pick: Pick, margin: f64, answered: f64, applicable: f64) -> Confidence {
    let share = if applicable > 0.0 {
        answered / applicable
    } else {
        0.0
    };
    match pick {
        Pick::Blend(_) if share >= 0.5 => Confidence::High,
        Pick::Blend(_) if share >= 0.2 => Confidence::Medium,
        Pick::Option(_) if margin >= 8.0 && share >= 0.5 => Confidence::High,
        Pick::Option(_) if margin >= 3.0 && share >= 0.2 => Confidence::Medium,
        _ => Confidence::Low,
    }
}

/// The quick part of scoring, shared by single answer sets, flips and team tallies.
pub fn quick(pack: &Pack, evidence: &Evidence) -> (Vec<f64>, Pick) {
    let scores = evidence.scores(pack);
    let pick = evidence.pick(pack, &scores);
    (scores, pick)
}

fn margin_for(pack: &Pack, pick: Pick, scores: &[f64]) -> f64 {
    let members: Vec<usize> = match pick {
        Pick::Option(o) => {
            let best = scores[o];
            let second = (0..scores.len())
                .filter(|&p| p != o)
                .map(|p| scores[p])
                .fold(f64::MIN, f64::max);
            return best - second;
        }
        Pick::Blend(b) => pack.blends[b].options.clone(),
    };
    let mut s: Vec<f64> = members.iter().map(|&o| scores[o]).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s[0] - s.get(1).copied().unwrap_or(0.0)
}

/// Scores one person's answers, with drivers, trade-offs and the flip.
pub fn evaluate(pack: &Pack, answers: &Answers) -> Outcome {
    let evidence = Evidence::of_answers(pack, answers);
    let weights = criterion_weights(pack, answers);
    let mut outcome = describe(pack, &evidence, &weights);
    outcome.flip = flip(
        pack,
        answers,
        outcome.pick,
        &outcome.scores.iter().map(|s| s.2).collect::<Vec<_>>(),
    );
    outcome
}

/// Everything but the flip, from evidence and per-criterion weights. Team tallies call this
/// with fractional evidence.
pub fn describe(pack: &Pack, evidence: &Evidence, weights: &[f64]) -> Outcome {
    let (scores, pick) = quick(pack, evidence);
    let margin = margin_for(pack, pick, &scores);
    let (summary, drivers, tradeoffs) = match pick {
        Pick::Option(o) => {
            let runner = (0..scores.len())
                .filter(|&p| p != o)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(o);
            (
                pack.options[o].summary.clone(),
                drivers_for(pack, weights, o, &[runner], 3),
                option_tradeoffs(pack, weights, o),
            )
        }
        Pick::Blend(b) => {
            let blend = &pack.blends[b];
            let mut drivers = Vec::new();
            for &m in &blend.options {
                let others: Vec<usize> =
                    blend.options.iter().copied().filter(|&x| x != m).collect();
                drivers.extend(drivers_for(pack, weights, m, &others, 2));
            }
            let tradeoffs = blend
                .tradeoffs
                .iter()
                .map(|t| TradeoffItem {
                    criterion: None,
                    title: t.title.clone(),
                    gives_up: t.title.clone(),
                    mitigation: t.mitigation.clone(),
                })
                .collect();
            (blend.summary.clone(), drivers, tradeoffs)
        }
    };
    Outcome {
        pack: pack.id.clone(),
        pick,
        recommendation: pick.id(pack).to_owned(),
        recommendation_label: pick.label(pack).to_owned(),
        summary,
        confidence: confidence(pick, margin, evidence.answered, evidence.applicable),
        scores: pack
            .options
            .iter()
            .zip(&scores)
            .map(|(o, s)| (o.id.clone(), o.label.clone(), *s))
            .collect(),
        margin,
        answered: evidence.answered.round() as usize,
        applicable: evidence.applicable.round() as usize,
        drivers,
        tradeoffs,
        flip: None,
    }
}

fn drivers_for(
    pack: &Pack,
    weights: &[f64],
    winner: usize,
    others: &[usize],
    n: usize,
) -> Vec<Driver> {
    let mut ranked: Vec<(usize, f64)> = pack
        .criteria
        .iter()
        .enumerate()
        .filter(|(k, _)| weights[*k] > 0.0)
        .map(|(k, c)| {
            let best_other = others
                .iter()
                .map(|&o| c.normalized(o))
                .fold(f64::MIN, f64::max);
            (k, weights[k] * (c.normalized(winner) - best_other))
        })
        .filter(|&(_, gain)| gain > 1e-9)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(n)
        .map(|(k, gain)| {
            let c = &pack.criteria[k];
            Driver {
                criterion: c.id.clone(),
                label: c.label.clone(),
                favours: pack.options[winner].id.clone(),
                favours_label: pack.options[winner].label.clone(),
                reason: c.reasons[winner].clone(),
                facts: c.facts.clone(),
                points: round1(100.0 * gain / pack.total_budget),
            }
        })
        .collect()
}

/// Criteria where the chosen option is not the best, most weighed first. Criteria nobody's
/// answers touched still count a little, so a card always says what is given up.
fn option_tradeoffs(pack: &Pack, weights: &[f64], chosen: usize) -> Vec<TradeoffItem> {
    let mut ranked: Vec<(usize, f64)> = pack
        .criteria
        .iter()
        .enumerate()
        .filter_map(|(k, c)| {
            let best = c.ratings.iter().copied().max()?;
            let gap = f64::from(best - c.ratings[chosen]);
            (gap > 0.0).then(|| (k, (weights[k] + 0.1) * gap))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(3)
        .filter_map(|(k, _)| {
            let c = &pack.criteria[k];
            Some(TradeoffItem {
                criterion: Some(c.id.clone()),
                title: c.label.clone(),
                gives_up: c.reasons[chosen].clone(),
                mitigation: c.mitigations[chosen].clone()?,
            })
        })
        .collect()
}

/// Tries every other answer to every applicable question and keeps the change that moves
/// the scores least while changing the recommendation.
fn flip(pack: &Pack, answers: &Answers, current: Pick, scores: &[f64]) -> Option<Flip> {
    let applicable = answers.applicable(pack);
    let mut best: Option<(f64, usize, usize, Pick)> = None;
    let mut trial = answers.clone();
    for (qi, q) in pack.questions.iter().enumerate() {
        if !applicable[qi] {
            continue;
        }
        let original = answers.get(qi);
        for ci in 0..q.choices.len() {
            if Some(ci) == original {
                continue;
            }
            trial.0[qi] = Some(ci);
            let (new_scores, pick) = quick(pack, &Evidence::of_answers(pack, &trial));
            if pick != current {
                let moved: f64 = new_scores
                    .iter()
                    .zip(scores)
                    .map(|(a, b)| (a - b).abs())
                    .sum();
                if best.is_none_or(|(m, ..)| moved < m - 1e-9) {
                    best = Some((moved, qi, ci, pick));
                }
            }
        }
        trial.0[qi] = original;
    }
    let (_, qi, ci, pick) = best?;
    let q = &pack.questions[qi];
    let from = answers.get(qi).map(|c| &q.choices[c]);
    Some(Flip {
        question: q.id.clone(),
        question_text: q.text.clone(),
        from: from.map(|c| c.id.clone()),
        from_label: from.map(|c| c.label.clone()),
        to: q.choices[ci].id.clone(),
        to_label: q.choices[ci].label.clone(),
        recommendation: pick.id(pack).to_owned(),
        recommendation_label: pick.label(pack).to_owned(),
    })
}
