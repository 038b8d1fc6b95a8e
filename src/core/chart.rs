//! What a result's chart shows, worked out from the result alone: the options' scores with
//! their numbers, and what moved them (the points each weighed criterion gave the leading
//! option over its rival); for a team, how the members' own recommendations split, the
//! questions it diverged on, and a recurring poll's scores across rounds. Drawing it is
//! the renderer's ([`crate::chart`]); every number drawn is here, so a chart never says
//! more or less than the card it goes with.

use super::pack::Pack;
use super::poll::{RoundRecord, RoundSummary};
use super::score::{Moved, Outcome};
use super::tally::{Tally, TeamOutcome};

/// How many criteria the chart lists by name; the rest are counted.
pub const MOST_MOVED: usize = 8;
/// How many diverging questions a team's chart shows.
pub const MOST_DIVERGED: usize = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// "Node.js 72 / Python 58"
    pub headline: String,
    /// "Recommendation: Node.js · confidence high"
    pub verdict: String,
    /// (label, score 0–100, whether it is the recommendation), in the pack's order.
    pub scores: Vec<(String, f64, bool)>,
    pub moved: Moved,
    /// A team's own recommendations: (label, members), most first.
    pub split: Vec<(String, u32)>,
    /// Questions a team diverged on: (question, (choice label, members) per choice chosen).
    pub diverged: Vec<(String, Vec<(String, u32)>)>,
    /// A recurring poll's rounds, oldest first: (round, (option label, score)).
    pub rounds: Vec<(u32, Vec<(String, f64)>)>,
    /// What it rests on: "12 of 12 questions answered · pack node-vs-python v3".
    pub footer: String,
}

impl Chart {
    /// The chart of one decision.
    pub fn of_decision(pack: &Pack, version: u32, outcome: &Outcome) -> Chart {
        Chart {
            headline: headline(outcome),
            verdict: verdict(outcome),
            scores: scores(outcome),
            moved: outcome.moved.clone(),
            split: Vec::new(),
            diverged: Vec::new(),
            rounds: Vec::new(),
            footer: format!(
                "{} of {} questions answered · {}",
                outcome.answered,
                outcome.applicable,
                pack_line(pack, version)
            ),
        }
    }

    /// The chart of a kept poll round; `earlier` are the poll's earlier rounds, for a
    /// recurring poll's scores across rounds.
    pub fn of_round(pack: &Pack, record: &RoundRecord, earlier: &[RoundSummary]) -> Chart {
        Chart::of_team(
            pack,
            record.pack_version,
            &record.team(pack),
            &record.tally,
            earlier,
            record.recurring.then_some(record.round),
        )
    }

    /// The chart of a team poll's round: `earlier` are the poll's earlier rounds, and
    /// `round` this one's number (for a recurring poll's trend).
    pub fn of_team(
        pack: &Pack,
        version: u32,
        team: &TeamOutcome,
        tally: &Tally,
        earlier: &[RoundSummary],
        round: Option<u32>,
    ) -> Chart {
        let outcome = &team.outcome;
        let diverged = team
            .disagree
            .iter()
            .take(MOST_DIVERGED)
            .filter_map(|a| {
                let q = pack.questions.get(a.question)?;
                let counts = tally.counts.get(a.question)?;
                let mut chosen: Vec<(String, u32)> = q
                    .choices
                    .iter()
                    .zip(counts)
                    .filter(|(_, &n)| n > 0)
                    .map(|(c, &n)| (c.label.clone(), n))
                    .collect();
                chosen.sort_by_key(|c| std::cmp::Reverse(c.1));
                Some((q.text.clone(), chosen))
            })
            .collect();
        let mut rounds: Vec<(u32, Vec<(String, f64)>)> = earlier
            .iter()
            .map(|s| (s.round, s.scores.clone()))
            .collect();
        if let (Some(round), false) = (round, earlier.is_empty()) {
            rounds.push((
                round,
                outcome
                    .scores
                    .iter()
                    .map(|(_, label, s)| (label.clone(), *s))
                    .collect(),
            ));
        }
        Chart {
            headline: headline(outcome),
            verdict: verdict(outcome),
            scores: scores(outcome),
            moved: outcome.moved.clone(),
            split: team.split.clone(),
            diverged,
            rounds,
            footer: format!(
                "{} · {}",
                super::card::answered_count(team.respondents),
                pack_line(pack, version)
            ),
        }
    }
}

/// "pack node-vs-python v3"; a pack read from files without a stored version is named alone.
fn pack_line(pack: &Pack, version: u32) -> String {
    match version {
        0 => format!("pack {}", pack.id),
        v => format!("pack {} v{v}", pack.id),
    }
}

fn headline(outcome: &Outcome) -> String {
    outcome
        .scores
        .iter()
        .map(|(_, label, s)| format!("{label} {}", s.round()))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn verdict(outcome: &Outcome) -> String {
    let confidence = outcome.confidence.as_str();
    match outcome.pick {
        Some(_) => format!(
            "Recommendation: {} · confidence {confidence}",
            outcome.recommendation_label
        ),
        None => format!("{} · confidence {confidence}", outcome.recommendation_label),
    }
}

fn scores(outcome: &Outcome) -> Vec<(String, f64, bool)> {
    outcome
        .scores
        .iter()
        .map(|(id, label, s)| {
            (
                label.clone(),
                *s,
                outcome.recommendation.as_deref() == Some(id.as_str()),
            )
        })
        .collect()
}
