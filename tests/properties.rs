//! Properties of scoring over arbitrary answer sets of the shipped pack and the
//! three-option fixture pack: bounds, monotonicity, and a flip that really flips.

mod common;

use proptest::prelude::*;
use tradeoff::core::pack::Pack;
use tradeoff::core::score::{evaluate, Answers};
use tradeoff::core::tally::{team_outcome, Tally};

fn packs() -> Vec<Pack> {
    let fixture = tradeoff::packs::read_dir(&common::fixture_root())
        .expect("fixture packs load")
        .into_iter()
        .map(|(_, p)| p);
    std::iter::once(common::shipped()).chain(fixture).collect()
}

/// For each question, "unanswered" or one of its choices, drawn from `seeds`.
fn answer_set(pack: &Pack, seeds: &[u8]) -> Answers {
    Answers(
        pack.questions
            .iter()
            .zip(seeds.iter().cycle())
            .map(|(q, s)| {
                let n = q.choices.len() + 1;
                let pick = usize::from(*s) % n;
                (pick > 0).then(|| pick - 1)
            })
            .collect(),
    )
}

/// Option `o`'s direct pull, over option `p`, of choice `c` of question `q` (0 for none).
fn pull(pack: &Pack, q: usize, c: Option<usize>, o: usize, p: usize) -> f64 {
    c.map_or(0.0, |c| {
        pack.questions[q].choices[c]
            .weights
            .iter()
            .map(|&(k, w)| w * (pack.criteria[k].normalized(o) - pack.criteria[k].normalized(p)))
            .sum()
    })
}

fn margin(pack: &Pack, answers: &Answers, o: usize) -> f64 {
    let outcome = evaluate(pack, answers);
    let scores: Vec<f64> = outcome.scores.iter().map(|s| s.2).collect();
    let best_other = (0..pack.options.len())
        .filter(|&p| p != o)
        .map(|p| scores[p])
        .fold(f64::MIN, f64::max);
    scores[o] - best_other
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn scores_stay_in_bounds_and_results_are_well_formed(seeds in proptest::collection::vec(any::<u8>(), 1..16)) {
        for pack in packs() {
            let answers = answer_set(&pack, &seeds);
            let outcome = evaluate(&pack, &answers);
            for (_, _, s) in &outcome.scores {
                prop_assert!((0.0..=100.0).contains(s), "score {s}");
            }
            let ids: Vec<&str> = pack.options.iter().map(|o| o.id.as_str())
                .chain(pack.blends.iter().map(|b| b.id.as_str())).collect();
            prop_assert!(ids.contains(&outcome.recommendation.as_str()));
            prop_assert!(outcome.answered <= outcome.applicable);
            prop_assert!(outcome.drivers.len() <= 6);
        }
    }

    /// Changing one answer to one that pulls at least as hard towards an option (over every
    /// other option) never lowers that option's margin.
    #[test]
    fn an_answer_that_favours_an_option_never_lowers_its_margin(
        seeds in proptest::collection::vec(any::<u8>(), 1..16),
        q_seed in any::<u16>(),
        c_seed in any::<u16>(),
    ) {
        for pack in packs() {
            let before = answer_set(&pack, &seeds);
            let q = usize::from(q_seed) % pack.questions.len();
            let n = pack.questions[q].choices.len() + 1;
            let pick = usize::from(c_seed) % n;
            let mut after = before.clone();
            after.0[q] = (pick > 0).then(|| pick - 1);
            for o in 0..pack.options.len() {
                let favours = (0..pack.options.len()).filter(|&p| p != o).all(|p| {
                    pull(&pack, q, after.0[q], o, p) >= pull(&pack, q, before.0[q], o, p) - 1e-12
                });
                if favours {
                    let (m0, m1) = (margin(&pack, &before, o), margin(&pack, &after, o));
                    prop_assert!(m1 >= m0 - 1e-9, "{}: {}={:?}->{:?} lowered {}'s margin {m0} -> {m1}",
                        pack.id, pack.questions[q].id, before.0[q], after.0[q], pack.options[o].id);
                }
            }
        }
    }

    /// Applying the flip the result names gives the recommendation it promises.
    #[test]
    fn the_flip_really_flips(seeds in proptest::collection::vec(any::<u8>(), 1..16)) {
        for pack in packs() {
            let answers = answer_set(&pack, &seeds);
            let outcome = evaluate(&pack, &answers);
            if let Some(flip) = &outcome.flip {
                let mut changed = answers.clone();
                let q = pack.question_index(flip.question.as_str()).unwrap();
                changed.0[q] = pack.questions[q].choice_index(flip.to.as_str());
                let after = evaluate(&pack, &changed);
                prop_assert_eq!(&after.recommendation, &flip.recommendation);
                prop_assert_ne!(&after.recommendation, &outcome.recommendation);
            }
        }
    }

    /// A team of one is that person: the tally scores exactly like the answers.
    #[test]
    fn a_team_of_one_scores_like_its_member(seeds in proptest::collection::vec(any::<u8>(), 1..16)) {
        for pack in packs() {
            let answers = answer_set(&pack, &seeds);
            let mut tally = Tally::new(&pack);
            tally.add(&pack, &answers);
            let team = team_outcome(&pack, &tally);
            let single = evaluate(&pack, &answers);
            prop_assert_eq!(&team.outcome.recommendation, &single.recommendation);
            for (a, b) in team.outcome.scores.iter().zip(&single.scores) {
                prop_assert!((a.2 - b.2).abs() < 1e-9);
            }
        }
    }
}
