//! Scoring: answers -> a score per candidate, a recommendation, how settled it is, and the
//! reasons for it.
//!
//! How a score is made. Each choice weighs some criteria; each criterion rates every
//! candidate on 1–5, mapped onto 0..1. The candidates are the pack's options and its blends
//! (the article's hybrid), whose ratings the pack derives from their layers. A candidate's
//! evidence is the sum of weight x rating over the answers. Every question has a budget (the
//! heaviest of its choices); what an answer does not spend, and every question not answered,
//! counts as neutral (0.5 for every candidate). The score is evidence over the pack's total
//! budget, times 100, less a blend's `base_cost`. So:
//!
//! - scores stay within 0–100, and no answers at all gives every option 50;
//! - the gap between two candidates is the sum of each answer's own contribution, so an
//!   answer that favours an option can never lower that option's margin;
//! - a team's answers are the same sum with fractions (see [`super::tally`]).
//!
//! What is recommended. A blend is a candidate only when the answers call for each of its
//! layers (its signals reach their thresholds), and it is recommended only when its score
//! beats every option's. Otherwise the best option is, unless the best two are even: then
//! nothing is, and the result says which question would decide it.
//!
//! How settled it is. Confidence is computed from the questions still open, not guessed
//! from how many were answered: `high` when no answers to them could change the
//! recommendation, `medium` when only a combination of several could, `low` when one more
//! answer could or the lead is within [`CLOSE`] points.

use super::ids::{ChoiceId, CriterionId, OptionId, PackId, QuestionId};
use super::pack::{Pack, Question};
use serde::Serialize;
use std::collections::BTreeMap;

/// Two scores closer than this (points on the 0–100 scale) are even.
pub const TIE: f64 = 0.05;
/// A lead smaller than this (points) is too close to call settled, whatever is still open.
pub const CLOSE: f64 = 3.0;
/// How many steps the search for answers that could change a result may take. Past it, the
/// result is taken as changeable: `medium` rather than a `high` that was not proven.
const SEARCH_BUDGET: usize = 200_000;

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
            let ok = is_applicable(q, |qi| self.get(qi), &out);
            out.push(ok);
        }
        out
    }
}

/// A question applies when each question its `ask_if` names applied and got an allowed answer.
/// `applicable` holds the verdicts for the questions before this one.
fn is_applicable(
    question: &Question,
    answer: impl Fn(usize) -> Option<usize>,
    applicable: &[bool],
) -> bool {
    question
        .ask_if
        .iter()
        .all(|(qi, allowed)| applicable[*qi] && answer(*qi).is_some_and(|c| allowed.contains(&c)))
}

/// Ordered from least to most settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
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
    /// Its index among the pack's candidates (options, then blends).
    pub fn candidate(self, pack: &Pack) -> usize {
        match self {
            Pick::Option(o) => o,
            Pick::Blend(b) => pack.options.len() + b,
        }
    }

    pub fn of_candidate(pack: &Pack, candidate: usize) -> Self {
        match candidate.checked_sub(pack.options.len()) {
            None => Pick::Option(candidate),
            Some(b) => Pick::Blend(b),
        }
    }

    pub fn id(self, pack: &Pack) -> &str {
        pack.candidate_id(self.candidate(pack))
    }

    pub fn label(self, pack: &Pack) -> &str {
        pack.candidate_label(self.candidate(pack))
    }
}

/// The weighed sum of a set of answers (or of a team's answers, as fractions).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// Per candidate (options, then blends): sum of weight x normalized rating.
    pub candidate: Vec<f64>,
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
            candidate: vec![0.0; pack.candidates()],
            spent: 0.0,
            signals: vec![0.0; pack.signals.len()],
            answered: 0.0,
            applicable: 0.0,
        }
    }

    /// Adds `share` (1 for one person, a fraction for a team) of one choice.
    pub fn add(&mut self, pack: &Pack, question: usize, choice: usize, share: f64) {
        let c = &pack.questions[question].choices[choice];
        add_scaled(&mut self.candidate, &c.option_evidence, share);
        add_scaled(&mut self.signals, &c.signals, share);
        self.spent += share * c.weight_total;
        self.answered += share;
    }

    pub fn of_answers(pack: &Pack, answers: &Answers) -> Self {
        let mut ev = Evidence::new(pack);
        for (qi, ok) in answers.applicable(pack).into_iter().enumerate() {
            if ok {
                ev.applicable += 1.0;
                if let Some(ci) = answers.get(qi) {
                    ev.add(pack, qi, ci, 1.0);
                }
            }
        }
        ev
    }

    /// Scores 0–100 per candidate; `None` for a blend the answers do not call for.
    pub fn scores(&self, pack: &Pack) -> Vec<Option<f64>> {
        let neutral = 0.5 * (pack.total_budget - self.spent).max(0.0);
        (0..pack.candidates())
            .map(|c| {
                needs_met(pack, c, |s| self.signals[s]).then(|| {
                    let e = net(pack, &self.candidate, c);
                    (100.0 * (e + neutral) / pack.total_budget).clamp(0.0, 100.0)
                })
            })
            .collect()
    }
}

/// `acc += share * from`, element by element.
fn add_scaled(acc: &mut [f64], from: &[f64], share: f64) {
    for (a, f) in acc.iter_mut().zip(from) {
        *a += share * f;
    }
}

/// Whether a candidate is in the running when each signal stands at `signal(s)`: an option
/// always, a blend when every need of every layer is met. The searches ask it of the most
/// and the least the open questions could still raise.
fn needs_met(pack: &Pack, candidate: usize, signal: impl Fn(usize) -> f64) -> bool {
    candidate.checked_sub(pack.options.len()).is_none_or(|b| {
        pack.blends[b]
            .layers
            .iter()
            .flat_map(|l| &l.needs)
            .all(|&(s, min)| signal(s) >= min - 1e-9)
    })
}

/// A candidate's evidence less what it costs whatever the answers (a blend's base cost).
fn net(pack: &Pack, evidence: &[f64], candidate: usize) -> f64 {
    let base = candidate
        .checked_sub(pack.options.len())
        .map_or(0.0, |b| pack.blends[b].base_cost);
    evidence[candidate] - base
}

/// The candidate of `among` with the highest score; the earlier one on a tie.
fn best_by(among: impl Iterator<Item = usize>, score: impl Fn(usize) -> f64) -> Option<usize> {
    among.max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.cmp(&a)))
}

/// The recommendation these scores make: a blend that beats every option, else the best
/// option unless the best two are even.
pub fn pick_of(pack: &Pack, scores: &[Option<f64>]) -> Option<Pick> {
    let n = pack.options.len();
    let score = |c: usize| scores[c].unwrap_or(f64::MIN);
    let mut ranked: Vec<usize> = (0..n).collect();
    ranked.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    let (best, second) = (ranked[0], ranked[1]);
    let blend = best_by(
        (n..pack.candidates()).filter(|&c| scores[c].is_some_and(|s| s > score(best) + TIE)),
        score,
    );
    if let Some(b) = blend {
        return Some(Pick::of_candidate(pack, b));
    }
    (score(best) - score(second) > TIE).then_some(Pick::Option(best))
}

/// Scores and the recommendation from evidence: the quick part of scoring, shared by single
/// answer sets, flips, searches and team tallies.
pub fn quick(pack: &Pack, evidence: &Evidence) -> (Vec<Option<f64>>, Option<Pick>) {
    let scores = evidence.scores(pack);
    let pick = pick_of(pack, &scores);
    (scores, pick)
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
    /// The pack's reading (ours, not the source's).
    pub reason: String,
    /// The source's own words behind it, verbatim; empty when it rests on our reading alone.
    pub quotes: Vec<String>,
    /// Points of margin this criterion gave, on the 0–100 scale.
    pub points: f64,
    /// For a blend: the role of the layer this criterion runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// Something the team gives up with the recommendation, and how to soften it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TradeoffItem {
    pub criterion: Option<CriterionId>,
    pub title: String,
    pub gives_up: String,
    pub mitigation: String,
    /// The source's words behind the criterion, verbatim.
    pub quotes: Vec<String>,
}

/// One half of a recommended blend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Half {
    pub option: OptionId,
    pub option_label: String,
    pub role: String,
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

/// One answer a result rests on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Given {
    pub question: QuestionId,
    pub question_text: String,
    pub choice: ChoiceId,
    pub choice_label: String,
}

/// The open question whose answer could move the result most.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NextQuestion {
    pub question: QuestionId,
    pub text: String,
}

/// The full result of scoring one answer set.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub pack: PackId,
    /// `None`: nothing answered yet tips it, or the best two are even.
    pub pick: Option<Pick>,
    pub recommendation: Option<String>,
    pub recommendation_label: String,
    pub summary: String,
    pub confidence: Confidence,
    /// Per candidate in the running, in the pack's order (options, then blends called for):
    /// (id, label, 0–100).
    pub scores: Vec<(String, String, f64)>,
    /// The recommendation's score minus the best other candidate's (0 when none).
    pub margin: f64,
    pub answered: usize,
    pub applicable: usize,
    pub drivers: Vec<Driver>,
    pub tradeoffs: Vec<TradeoffItem>,
    /// For a blend: what each half does.
    pub halves: Vec<Half>,
    /// The source's words for the result as a whole: a blend's, or the pack's for no winner.
    pub quotes: Vec<String>,
    pub flip: Option<Flip>,
    pub next_question: Option<NextQuestion>,
    /// The answers scored, in the pack's order (empty for a team: see its tally).
    pub given: Vec<Given>,
    /// What moved the scores: each criterion the answers weighed, with the points it gave
    /// the leading option over its rival (negative: the rival's way), largest first.
    pub moved: Moved,
}

/// The points each weighed criterion gave `lead` over `rival` (the two best options, the
/// recommended one first when it is an option), on the 0–100 scale.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Moved {
    pub lead: String,
    pub rival: String,
    /// (criterion label, signed points), largest first.
    pub by: Vec<(String, f64)>,
}

/// The JSON contract of `tradeoff score --format json`.
#[derive(Serialize)]
pub struct OutcomeJson<'a> {
    pub pack: &'a str,
    pub recommendation: Option<&'a str>,
    pub recommendation_label: &'a str,
    pub summary: &'a str,
    pub confidence: Confidence,
    pub scores: BTreeMap<&'a str, f64>,
    pub margin: f64,
    pub answered: usize,
    pub questions: usize,
    pub drivers: &'a [Driver],
    pub tradeoffs: &'a [TradeoffItem],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub halves: &'a [Half],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub quotes: &'a [String],
    pub flip: Option<FlipJson<'a>>,
    pub next_question: Option<&'a NextQuestion>,
    pub source: String,
}

#[derive(Serialize)]
pub struct FlipJson<'a> {
    #[serde(flatten)]
    pub flip: &'a Flip,
    pub text: String,
}

impl Outcome {
    pub fn to_json(&self, pack: &Pack) -> OutcomeJson<'_> {
        OutcomeJson {
            pack: self.pack.as_str(),
            recommendation: self.recommendation.as_deref(),
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
            halves: &self.halves,
            quotes: &self.quotes,
            flip: self.flip.as_ref().map(|f| FlipJson {
                flip: f,
                text: f.sentence(),
            }),
            next_question: self.next_question.as_ref(),
            source: pack.source.citation(),
        }
    }

    pub fn score_of(&self, candidate: &str) -> Option<f64> {
        self.scores
            .iter()
            .find(|(id, _, _)| id == candidate)
            .map(|(_, _, s)| *s)
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Scores one person's answers, with drivers, trade-offs, confidence and the flip.
pub fn evaluate(pack: &Pack, answers: &Answers) -> Outcome {
    let evidence = Evidence::of_answers(pack, answers);
    let weights = criterion_weights(pack, answers);
    let search = Search::of_answers(pack, answers);
    let mut outcome = describe(pack, &evidence, &weights, &search);
    outcome.flip = flip(pack, answers, outcome.pick);
    outcome.given = answers
        .applicable(pack)
        .into_iter()
        .enumerate()
        .filter_map(|(qi, ok)| {
            let q = &pack.questions[qi];
            let c = &q.choices[answers.get(qi).filter(|_| ok)?];
            Some(Given {
                question: q.id.clone(),
                question_text: q.text.clone(),
                choice: c.id.clone(),
                choice_label: c.label.clone(),
            })
        })
        .collect();
    outcome
}

/// Everything but the flip, from evidence, per-criterion weights and what is still open.
/// Team tallies call this with fractional evidence.
pub fn describe(pack: &Pack, evidence: &Evidence, weights: &[f64], search: &Search) -> Outcome {
    let (scores, pick) = quick(pack, evidence);
    let of = |c: usize| scores[c].unwrap_or(f64::MIN);
    let margin = pick.map_or(0.0, |p| {
        let c = p.candidate(pack);
        let rival = (0..pack.candidates())
            .filter(|&x| x != c && scores[x].is_some())
            .map(of)
            .fold(f64::MIN, f64::max);
        of(c) - rival
    });
    let confidence = search.confidence(pick, margin);
    let next_question = (confidence != Confidence::High)
        .then(|| search.next_question(&scores, pick))
        .flatten()
        .map(|qi| NextQuestion {
            question: pack.questions[qi].id.clone(),
            text: pack.questions[qi].text.clone(),
        });
    let best_option = best_by(0..pack.options.len(), of).unwrap_or(0);
    let (summary, drivers, tradeoffs, halves, quotes) = match pick {
        None => (
            "The options are even on these answers: nothing yet tips it one way.".to_owned(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            pack.quotes.clone(),
        ),
        Some(Pick::Option(o)) => {
            let runner = best_by((0..pack.options.len()).filter(|&p| p != o), of).unwrap_or(o);
            (
                pack.options[o].summary.clone(),
                drivers_for(pack, weights, o, o, runner, None, 3),
                tradeoffs_for(pack, weights, o, &[]),
                Vec::new(),
                Vec::new(),
            )
        }
        Some(Pick::Blend(b)) => {
            let blend = &pack.blends[b];
            let mut drivers = Vec::new();
            for layer in &blend.layers {
                let other = blend
                    .options
                    .iter()
                    .copied()
                    .filter(|&x| x != layer.option)
                    .max_by(|&a, &c| of(a).total_cmp(&of(c)))
                    .unwrap_or(best_option);
                drivers.extend(drivers_for(
                    pack,
                    &layer_only(weights, &layer.criteria),
                    layer.option,
                    layer.option,
                    other,
                    Some(&layer.role),
                    2,
                ));
            }
            let halves = blend
                .layers
                .iter()
                .map(|l| Half {
                    option: pack.options[l.option].id.clone(),
                    option_label: pack.options[l.option].label.clone(),
                    role: l.role.clone(),
                })
                .collect();
            let fixed: Vec<TradeoffItem> = blend
                .tradeoffs
                .iter()
                .map(|t| TradeoffItem {
                    criterion: None,
                    title: t.title.clone(),
                    gives_up: t.title.clone(),
                    mitigation: t.mitigation.clone(),
                    quotes: Vec::new(),
                })
                .collect();
            (
                blend.summary.clone(),
                drivers,
                tradeoffs_for(pack, weights, pack.options.len() + b, &fixed),
                halves,
                blend.quotes.clone(),
            )
        }
    };
    Outcome {
        pack: pack.id.clone(),
        pick,
        recommendation: pick.map(|p| p.id(pack).to_owned()),
        recommendation_label: pick.map_or_else(
            || "No clear winner yet".to_owned(),
            |p| p.label(pack).to_owned(),
        ),
        summary,
        confidence,
        scores: (0..pack.candidates())
            .filter_map(|c| {
                scores[c].map(|s| {
                    (
                        pack.candidate_id(c).to_owned(),
                        pack.candidate_label(c).to_owned(),
                        s,
                    )
                })
            })
            .collect(),
        margin,
        answered: evidence.answered.round() as usize,
        applicable: evidence.applicable.round() as usize,
        drivers,
        tradeoffs,
        halves,
        quotes,
        flip: None,
        next_question,
        given: Vec::new(),
        moved: moved(pack, weights, &scores, pick),
    }
}

/// What moved the scores between the two best options: see [`Moved`].
fn moved(pack: &Pack, weights: &[f64], scores: &[Option<f64>], pick: Option<Pick>) -> Moved {
    let of = |c: usize| scores[c].unwrap_or(f64::MIN);
    let options = pack.options.len();
    let lead = match pick {
        Some(Pick::Option(o)) => Some(o),
        _ => best_by(0..options, of),
    };
    let Some(lead) = lead else {
        return Moved::default();
    };
    let Some(rival) = best_by((0..options).filter(|&o| o != lead), of) else {
        return Moved::default();
    };
    let mut by: Vec<(String, f64)> = pack
        .criteria
        .iter()
        .enumerate()
        .filter(|(k, _)| weights[*k] > 0.0)
        .map(|(k, c)| {
            let gain = weights[k] * (c.normalized(lead) - c.normalized(rival));
            (c.label.clone(), round1(100.0 * gain / pack.total_budget))
        })
        .filter(|(_, points)| points.abs() >= 0.1)
        .collect();
    by.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    Moved {
        lead: pack.options[lead].label.clone(),
        rival: pack.options[rival].label.clone(),
        by,
    }
}

/// The weights, with every criterion outside `keep` set to nothing.
fn layer_only(weights: &[f64], keep: &[usize]) -> Vec<f64> {
    weights
        .iter()
        .enumerate()
        .map(|(k, w)| if keep.contains(&k) { *w } else { 0.0 })
        .collect()
}

/// The criteria on which `winner` (a candidate) beats `other`, most points first. `favours` is
/// the option named as favoured: the winner itself, or a blend layer's option.
fn drivers_for(
    pack: &Pack,
    weights: &[f64],
    winner: usize,
    favours: usize,
    other: usize,
    layer: Option<&str>,
    n: usize,
) -> Vec<Driver> {
    let mut ranked: Vec<(usize, f64)> = pack
        .criteria
        .iter()
        .enumerate()
        .filter(|(k, _)| weights[*k] > 0.0)
        .map(|(k, c)| (k, weights[k] * (c.normalized(winner) - c.normalized(other))))
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
                favours: pack.options[favours].id.clone(),
                favours_label: pack.options[favours].label.clone(),
                reason: c.reasons[winner].clone(),
                quotes: c.quotes.clone(),
                points: round1(100.0 * gain / pack.total_budget),
                layer: layer.map(str::to_owned),
            }
        })
        .collect()
}

/// What the chosen candidate gives up: the criteria the answers weighed on which some option
/// rates higher, most weighed first, after `fixed` (a blend's own). Criteria nobody's answers
/// weighed are not the team's concern, so they are not listed.
fn tradeoffs_for(
    pack: &Pack,
    weights: &[f64],
    chosen: usize,
    fixed: &[TradeoffItem],
) -> Vec<TradeoffItem> {
    let options = pack.options.len();
    let mut ranked: Vec<(usize, f64)> = pack
        .criteria
        .iter()
        .enumerate()
        .filter(|(k, _)| weights[*k] > 0.0)
        .filter_map(|(k, c)| {
            let best = c.ratings[..options]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max);
            let gap = best - c.ratings[chosen];
            (gap > 1e-9).then_some((k, weights[k] * gap))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = fixed.to_vec();
    out.extend(ranked.into_iter().filter_map(|(k, _)| {
        let c = &pack.criteria[k];
        Some(TradeoffItem {
            criterion: Some(c.id.clone()),
            title: c.label.clone(),
            gives_up: c.reasons[chosen].clone(),
            mitigation: c.mitigations[chosen].clone()?,
            quotes: c.quotes.clone(),
        })
    }));
    out.truncate(fixed.len().max(3));
    out
}

/// Tries every other answer to every applicable question and keeps the change that moves
/// the scores least while naming another recommendation.
fn flip(pack: &Pack, answers: &Answers, current: Option<Pick>) -> Option<Flip> {
    let scores = Evidence::of_answers(pack, answers).scores(pack);
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
            if let Some(pick) = pick.filter(|p| Some(*p) != current) {
                let moved: f64 = new_scores
                    .iter()
                    .zip(&scores)
                    .map(|(a, b)| (a.unwrap_or(0.0) - b.unwrap_or(0.0)).abs())
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

/// What one question adds to the evidence: per candidate, per signal, and spent weight.
#[derive(Clone, Debug, PartialEq)]
struct Delta {
    candidate: Vec<f64>,
    signals: Vec<f64>,
}

impl Delta {
    fn zero(pack: &Pack) -> Self {
        Delta {
            candidate: vec![0.0; pack.candidates()],
            signals: vec![0.0; pack.signals.len()],
        }
    }

    fn of_choice(pack: &Pack, question: usize, choice: usize, share: f64) -> Self {
        let c = &pack.questions[question].choices[choice];
        let mut d = Delta::zero(pack);
        add_scaled(&mut d.candidate, &c.option_evidence, share);
        add_scaled(&mut d.signals, &c.signals, share);
        d
    }

    fn add(&mut self, other: &Delta) {
        add_scaled(&mut self.candidate, &other.candidate, 1.0);
        add_scaled(&mut self.signals, &other.signals, 1.0);
    }

    fn sub(&mut self, other: &Delta) {
        add_scaled(&mut self.candidate, &other.candidate, -1.0);
        add_scaled(&mut self.signals, &other.signals, -1.0);
    }
}

/// What is settled and what is still open, for the searches behind confidence and the next
/// question. Only differences between candidates decide a recommendation, and the neutral
/// share of the budget is the same for all of them, so the searches work on evidence alone.
pub struct Search<'p> {
    pack: &'p Pack,
    /// Per question: what its answer gives, or `None` while it is open.
    fixed: Vec<Option<Delta>>,
    /// Whether a settled answer counts only while its question applies (one person's
    /// answers), or always (a team's tally, which counted it for those it applied to).
    conditional: bool,
    /// Per question, the answer its dependants' `ask_if` reads.
    answer_of: Vec<Option<usize>>,
    /// Per question: every evidence it could still give (nothing, its settled answer, or any
    /// choice while open).
    range: Vec<Vec<Delta>>,
    /// `gain[q][i][j]`: the most that questions q.. can still add to candidate i over j.
    gain: Vec<Vec<Vec<f64>>>,
    /// The most and the least questions q.. can still add to each signal.
    signal_max: Vec<Vec<f64>>,
    signal_min: Vec<Vec<f64>>,
}

impl<'p> Search<'p> {
    /// One person's answers: every question not answered is open.
    pub fn of_answers(pack: &'p Pack, answers: &Answers) -> Self {
        let fixed = (0..pack.questions.len())
            .map(|q| answers.get(q).map(|c| Delta::of_choice(pack, q, c, 1.0)))
            .collect();
        Self::new(pack, fixed, true, answers.0.clone())
    }

    /// A team: `shares[q][c]` of the respondents chose choice c of question q; a question
    /// nobody answered is open, and `majority` answers the `ask_if` conditions.
    pub fn of_team(pack: &'p Pack, shares: &[Vec<f64>], majority: &Answers) -> Self {
        let fixed = shares
            .iter()
            .enumerate()
            .map(|(q, per_choice)| {
                per_choice.iter().any(|s| *s > 0.0).then(|| {
                    let mut d = Delta::zero(pack);
                    for (c, s) in per_choice.iter().enumerate() {
                        if *s > 0.0 {
                            d.add(&Delta::of_choice(pack, q, c, *s));
                        }
                    }
                    d
                })
            })
            .collect();
        Self::new(pack, fixed, false, majority.0.clone())
    }

    fn new(
        pack: &'p Pack,
        fixed: Vec<Option<Delta>>,
        conditional: bool,
        answer_of: Vec<Option<usize>>,
    ) -> Self {
        let n = pack.questions.len();
        let cands = pack.candidates();
        let range: Vec<Vec<Delta>> = (0..n)
            .map(|q| match &fixed[q] {
                Some(d) if conditional => vec![Delta::zero(pack), d.clone()],
                Some(d) => vec![d.clone()],
                None => std::iter::once(Delta::zero(pack))
                    .chain(
                        (0..pack.questions[q].choices.len())
                            .map(|c| Delta::of_choice(pack, q, c, 1.0)),
                    )
                    .collect(),
            })
            .collect();
        // Suffix sums, built from the last question back and then put in question order.
        let mut gain = vec![vec![vec![0.0; cands]; cands]];
        let mut signal_max = vec![vec![0.0; pack.signals.len()]];
        let mut signal_min = vec![vec![0.0; pack.signals.len()]];
        for q in (0..n).rev() {
            let best = |i: usize, j: usize| {
                range[q]
                    .iter()
                    .map(|d| d.candidate[i] - d.candidate[j])
                    .fold(f64::MIN, f64::max)
            };
            let after = &gain[gain.len() - 1];
            let here = (0..cands)
                .map(|i| (0..cands).map(|j| after[i][j] + best(i, j)).collect())
                .collect();
            gain.push(here);
            let signal = |s: usize| range[q].iter().map(move |d| d.signals[s]);
            let (max_after, min_after) = (
                &signal_max[signal_max.len() - 1],
                &signal_min[signal_min.len() - 1],
            );
            let max_here = (0..pack.signals.len())
                .map(|s| max_after[s] + signal(s).fold(f64::MIN, f64::max))
                .collect();
            let min_here = (0..pack.signals.len())
                .map(|s| min_after[s] + signal(s).fold(f64::MAX, f64::min))
                .collect();
            signal_max.push(max_here);
            signal_min.push(min_here);
        }
        gain.reverse();
        signal_max.reverse();
        signal_min.reverse();
        Search {
            pack,
            fixed,
            conditional,
            answer_of,
            range,
            gain,
            signal_max,
            signal_min,
        }
    }

    /// How settled `pick` is, given its margin over the best other candidate.
    pub fn confidence(&self, pick: Option<Pick>, margin: f64) -> Confidence {
        let Some(pick) = pick else {
            return Confidence::Low;
        };
        if margin < CLOSE || self.one_more_changes(pick) {
            Confidence::Low
        } else if self.any_change(pick) {
            Confidence::Medium
        } else {
            Confidence::High
        }
    }

    fn is_open(&self, q: usize) -> bool {
        self.fixed[q].is_none()
    }

    /// The evidence (per candidate and signal) when the open questions get `extra` (question,
    /// choice) answers and the rest stay open.
    fn delta_with(&self, extra: Option<(usize, usize)>) -> Delta {
        let pack = self.pack;
        let mut total = Delta::zero(pack);
        let mut applicable = Vec::with_capacity(pack.questions.len());
        let answer = |q: usize| match extra {
            Some((eq, ec)) if eq == q => Some(ec),
            _ => self.answer_of[q].filter(|_| !self.is_open(q)),
        };
        for (q, question) in pack.questions.iter().enumerate() {
            let ok = is_applicable(question, answer, &applicable);
            applicable.push(ok);
            match (&self.fixed[q], extra) {
                (Some(d), _) if ok || !self.conditional => total.add(d),
                (None, Some((eq, ec))) if eq == q && ok => {
                    total.add(&Delta::of_choice(pack, q, ec, 1.0));
                }
                _ => {}
            }
        }
        total
    }

    fn pick_of_delta(&self, d: &Delta) -> Option<Pick> {
        // Evidence with the same differences as the real one: the neutral share is common.
        let pack = self.pack;
        let scores: Vec<Option<f64>> = (0..pack.candidates())
            .map(|c| needs_met(pack, c, |s| d.signals[s]).then(|| net(pack, &d.candidate, c)))
            .map(|s| s.map(|e| 100.0 * e / pack.total_budget))
            .collect();
        pick_of(pack, &scores)
    }

    /// The open questions that apply now, given the settled answers.
    fn open_now(&self) -> Vec<usize> {
        let pack = self.pack;
        let mut applicable = Vec::with_capacity(pack.questions.len());
        let answer = |q: usize| self.answer_of[q].filter(|_| !self.is_open(q));
        for question in &pack.questions {
            let ok = is_applicable(question, answer, &applicable);
            applicable.push(ok);
        }
        (0..pack.questions.len())
            .filter(|&q| self.is_open(q) && applicable[q])
            .collect()
    }

    fn one_more_changes(&self, pick: Pick) -> bool {
        self.open_now().into_iter().any(|q| {
            (0..self.pack.questions[q].choices.len())
                .any(|c| self.pick_of_delta(&self.delta_with(Some((q, c)))) != Some(pick))
        })
    }

    /// Whether some answers to the open questions, together, change the recommendation.
    fn any_change(&self, pick: Pick) -> bool {
        let pack = self.pack;
        let mut state = Walk {
            total: Delta::zero(pack),
            answers: self.answer_of.clone(),
            applicable: Vec::with_capacity(pack.questions.len()),
            steps: 0,
        };
        for q in 0..pack.questions.len() {
            if self.is_open(q) {
                state.answers[q] = None;
            }
        }
        self.walk(0, &mut state, pick)
    }

    fn walk(&self, q: usize, state: &mut Walk, pick: Pick) -> bool {
        state.steps += 1;
        if state.steps > SEARCH_BUDGET {
            return true;
        }
        if !self.may_change(q, &state.total, pick) {
            return false;
        }
        let pack = self.pack;
        if q == pack.questions.len() {
            return self.pick_of_delta(&state.total) != Some(pick);
        }
        let ok = is_applicable(&pack.questions[q], |x| state.answers[x], &state.applicable);
        state.applicable.push(ok);
        let found = match &self.fixed[q] {
            Some(d) if ok || !self.conditional => {
                state.total.add(d);
                let found = self.walk(q + 1, state, pick);
                state.total.sub(d);
                found
            }
            Some(_) => self.walk(q + 1, state, pick),
            None if ok => {
                // Choices first: a change is usually found sooner by answering.
                let mut found = false;
                for c in 0..pack.questions[q].choices.len() {
                    let d = &self.range[q][c + 1];
                    state.answers[q] = Some(c);
                    state.total.add(d);
                    found = self.walk(q + 1, state, pick);
                    state.total.sub(d);
                    state.answers[q] = None;
                    if found {
                        break;
                    }
                }
                found || self.walk(q + 1, state, pick)
            }
            None => self.walk(q + 1, state, pick),
        };
        state.applicable.pop();
        found
    }

    /// Whether, from evidence `total` with questions q.. still to come, the recommendation
    /// could end up other than `pick`. An upper bound: false only when it cannot.
    fn may_change(&self, q: usize, total: &Delta, pick: Pick) -> bool {
        let pack = self.pack;
        let cur = pick.candidate(pack);
        let tie = TIE * pack.total_budget / 100.0;
        let lead = |c: usize| {
            net(pack, &total.candidate, c) - net(pack, &total.candidate, cur) + self.gain[q][c][cur]
        };
        let reachable = |c: usize| needs_met(pack, c, |s| total.signals[s] + self.signal_max[q][s]);
        let loses_call = !needs_met(pack, cur, |s| total.signals[s] + self.signal_min[q][s]);
        loses_call
            || (0..pack.options.len()).any(|o| o != cur && lead(o) >= -tie)
            || (pack.options.len()..pack.candidates())
                .any(|b| b != cur && reachable(b) && lead(b) > tie)
    }

    /// The open question whose answer could move the lead most, for the card's "answering X
    /// would settle it".
    pub fn next_question(&self, scores: &[Option<f64>], pick: Option<Pick>) -> Option<usize> {
        let pack = self.pack;
        let leader = pick.map_or_else(
            || best_by(0..pack.options.len(), |c| scores[c].unwrap_or(f64::MIN)).unwrap_or(0),
            |p| p.candidate(pack),
        );
        let now = self.delta_with(None);
        let lead =
            |d: &Delta, r: usize| net(pack, &d.candidate, leader) - net(pack, &d.candidate, r);
        let mut best: Option<(f64, usize)> = None;
        for q in self.open_now() {
            let swing = (0..pack.questions[q].choices.len())
                .map(|c| {
                    let d = self.delta_with(Some((q, c)));
                    (0..pack.candidates())
                        .filter(|&r| r != leader)
                        .map(|r| (lead(&d, r) - lead(&now, r)).abs())
                        .fold(0.0, f64::max)
                })
                .fold(0.0, f64::max);
            if swing > 1e-9 && best.is_none_or(|(s, _)| swing > s + 1e-9) {
                best = Some((swing, q));
            }
        }
        best.map(|(_, q)| q)
    }
}

/// The search's path: evidence so far, the answers it has given, and which questions applied.
struct Walk {
    total: Delta,
    answers: Vec<Option<usize>>,
    applicable: Vec<bool>,
    steps: usize,
}
