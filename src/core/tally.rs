//! Team tallies: many people's answers folded into counts, scored as fractions, with the
//! split of individual recommendations and where the team agrees or not.

use super::pack::Pack;
use super::score::{describe, evaluate, quick, Answers, Evidence, Outcome, Search};
use serde::{Deserialize, Serialize};

/// Counts per question and choice, plus how each respondent's own answers came out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub respondents: u32,
    /// counts[question][choice]
    pub counts: Vec<Vec<u32>>,
    /// How many respondents each question applied to.
    pub applicable: Vec<u32>,
    /// Individual recommendations: per option, then per blend.
    pub picks: Vec<u32>,
    /// Respondents whose own answers named no winner.
    #[serde(default)]
    pub even: u32,
}

impl Tally {
    pub fn new(pack: &Pack) -> Self {
        Tally {
            respondents: 0,
            counts: pack
                .questions
                .iter()
                .map(|q| vec![0; q.choices.len()])
                .collect(),
            applicable: vec![0; pack.questions.len()],
            picks: vec![0; pack.candidates()],
            even: 0,
        }
    }

    pub fn add(&mut self, pack: &Pack, answers: &Answers) {
        self.respondents += 1;
        let applicable = answers.applicable(pack);
        for (qi, ok) in applicable.iter().enumerate() {
            if *ok {
                self.applicable[qi] += 1;
                if let Some(ci) = answers.get(qi) {
                    self.counts[qi][ci] += 1;
                }
            }
        }
        match quick(pack, &Evidence::of_answers(pack, answers)).1 {
            Some(pick) => self.picks[pick.candidate(pack)] += 1,
            None => self.even += 1,
        }
    }

    /// Per question and choice, the share of respondents who chose it.
    pub fn shares(&self) -> Vec<Vec<f64>> {
        let n = f64::from(self.respondents.max(1));
        self.counts
            .iter()
            .map(|counts| counts.iter().map(|&c| f64::from(c) / n).collect())
            .collect()
    }

    /// The team's evidence: each choice counts with the share of respondents who chose it.
    pub fn evidence(&self, pack: &Pack) -> Evidence {
        let mut ev = Evidence::new(pack);
        if self.respondents == 0 {
            ev.applicable = pack.questions.len() as f64;
            return ev;
        }
        let n = f64::from(self.respondents);
        for (qi, counts) in self.counts.iter().enumerate() {
            ev.applicable += f64::from(self.applicable[qi]) / n;
            for (ci, &count) in counts.iter().enumerate() {
                if count > 0 {
                    ev.add(pack, qi, ci, f64::from(count) / n);
                }
            }
        }
        ev
    }

    /// Each question's most chosen answer: what "the team" answered, for the flip.
    pub fn majority(&self) -> Answers {
        Answers(
            self.counts
                .iter()
                .map(|counts| {
                    let (ci, &top) = counts
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
                    (top > 0).then_some(ci)
                })
                .collect(),
        )
    }
}

/// How much the team agrees on one question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agreement {
    pub question: usize,
    /// The most chosen answer and its share of those who answered.
    pub top_choice: usize,
    pub share: f64,
    pub answered: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TeamOutcome {
    pub outcome: Outcome,
    pub respondents: u32,
    /// (recommendation label, count) for every pick at least one person got, most first.
    pub split: Vec<(String, u32)>,
    /// Questions most agreed on, strongest first.
    pub agree: Vec<Agreement>,
    /// Questions most disagreed on, weakest consensus first.
    pub disagree: Vec<Agreement>,
    /// The weight the team's answers gave each criterion (indexed like the pack's criteria).
    pub weights: Vec<f64>,
}

/// Scores a team tally: the recommendation from the fractional evidence, the flip from the
/// team's majority answers.
pub fn team_outcome(pack: &Pack, tally: &Tally) -> TeamOutcome {
    let evidence = tally.evidence(pack);
    let mut weights = vec![0.0; pack.criteria.len()];
    if tally.respondents > 0 {
        let n = f64::from(tally.respondents);
        for (qi, counts) in tally.counts.iter().enumerate() {
            for (ci, &count) in counts.iter().enumerate() {
                for &(k, w) in &pack.questions[qi].choices[ci].weights {
                    weights[k] += w * f64::from(count) / n;
                }
            }
        }
    }
    let majority_answers = tally.majority();
    let search = Search::of_team(pack, &tally.shares(), &majority_answers);
    let mut outcome = describe(pack, &evidence, &weights, &search);
    let majority = evaluate(pack, &majority_answers);
    outcome.flip = majority
        .flip
        .filter(|f| Some(&f.recommendation) != outcome.recommendation.as_ref());

    let labels = pack
        .options
        .iter()
        .map(|o| o.label.clone())
        .chain(pack.blends.iter().map(|b| b.label.clone()));
    let mut split: Vec<(String, u32)> = labels
        .zip(tally.picks.iter().copied())
        .chain(std::iter::once(("no clear winner".to_owned(), tally.even)))
        .filter(|(_, n)| *n > 0)
        .collect();
    split.sort_by_key(|(_, n)| std::cmp::Reverse(*n));

    let mut agreements: Vec<Agreement> = tally
        .counts
        .iter()
        .enumerate()
        .filter_map(|(qi, counts)| {
            let answered: u32 = counts.iter().sum();
            let (top_choice, &top) = counts
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
            (answered >= 2).then(|| Agreement {
                question: qi,
                top_choice,
                share: f64::from(top) / f64::from(answered),
                answered,
            })
        })
        .collect();
    agreements.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(a.question.cmp(&b.question))
    });
    let agree: Vec<Agreement> = agreements
        .iter()
        .filter(|a| a.share >= 0.75)
        .take(3)
        .cloned()
        .collect();
    let disagree: Vec<Agreement> = agreements
        .iter()
        .rev()
        .filter(|a| a.share < 0.75)
        .take(3)
        .cloned()
        .collect();
    TeamOutcome {
        outcome,
        respondents: tally.respondents,
        split,
        agree,
        disagree,
        weights,
    }
}
