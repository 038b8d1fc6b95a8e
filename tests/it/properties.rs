//! Properties of scoring over arbitrary answer sets of the shipped pack and the
//! three-option fixture pack: bounds, monotonicity, a flip that really flips, a blend only
//! when it beats every option, and a confidence that says exactly what the open questions
//! can still do (checked by enumerating every way of answering them).

use crate::common;

use proptest::prelude::*;
use tradeoff::core::pack::Pack;
use tradeoff::core::score::{evaluate, quick, Answers, Confidence, Evidence, Pick, CLOSE, TIE};
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
    mostly_answered(pack, seeds, usize::MAX)
}

/// Like [`answer_set`], but with at most `open` questions left unanswered (the ones `seeds`
/// leaves open first), so that every way of answering them can be enumerated.
fn mostly_answered(pack: &Pack, seeds: &[u8], open: usize) -> Answers {
    let mut left = open;
    Answers(
        pack.questions
            .iter()
            .zip(seeds.iter().cycle())
            .map(|(q, s)| {
                let n = q.choices.len() + 1;
                let pick = usize::from(*s) % n;
                if pick == 0 && left > 0 {
                    left -= 1;
                    None
                } else {
                    Some(pick.saturating_sub(1) % q.choices.len())
                }
            })
            .collect(),
    )
}

fn pick_of(pack: &Pack, answers: &Answers) -> Option<Pick> {
    quick(pack, &Evidence::of_answers(pack, answers)).1
}

/// Every way of answering the open questions of `answers` (leaving any of them open too).
fn completions(pack: &Pack, answers: &Answers) -> Vec<Answers> {
    let mut out = vec![answers.clone()];
    for (qi, q) in pack.questions.iter().enumerate() {
        if answers.get(qi).is_some() {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|a| {
                (0..=q.choices.len()).map(move |c| {
                    let mut b = a.clone();
                    b.0[qi] = c.checked_sub(1);
                    b
                })
            })
            .collect();
    }
    out
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
    let scores = Evidence::of_answers(pack, answers).scores(pack);
    let of = |c: usize| scores[c].unwrap();
    let best_other = (0..pack.options.len())
        .filter(|&p| p != o)
        .map(of)
        .fold(f64::MIN, f64::max);
    of(o) - best_other
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
            let ids: Vec<&str> = (0..pack.candidates()).map(|c| pack.candidate_id(c)).collect();
            if let Some(r) = &outcome.recommendation {
                prop_assert!(ids.contains(&r.as_str()));
            } else {
                prop_assert_eq!(outcome.confidence, Confidence::Low);
            }
            prop_assert!(outcome.answered <= outcome.applicable);
            prop_assert!(outcome.drivers.len() <= 6);
            if let Some(next) = &outcome.next_question {
                let q = pack.question_index(next.question.as_str()).unwrap();
                prop_assert!(answers.get(q).is_none(), "the next question is an open one");
                prop_assert!(answers.applicable(&pack)[q], "and one that applies");
            }
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
                prop_assert_eq!(after.recommendation.as_deref(), Some(flip.recommendation.as_str()));
                prop_assert_ne!(&after.recommendation, &outcome.recommendation);
            }
        }
    }

    /// A blend is recommended only when it is in the running and scores above every option.
    #[test]
    fn a_blend_wins_only_by_beating_every_option(seeds in proptest::collection::vec(any::<u8>(), 1..16)) {
        for pack in packs() {
            let answers = answer_set(&pack, &seeds);
            let outcome = evaluate(&pack, &answers);
            if let Some(Pick::Blend(b)) = outcome.pick {
                let blend = outcome.score_of(&pack.blends[b].id).expect("a winning blend has a score");
                for o in &pack.options {
                    let option = outcome.score_of(o.id.as_str()).unwrap();
                    prop_assert!(blend > option + TIE - 1e-9, "{} {blend} vs {} {option}", pack.blends[b].id, o.id);
                }
            }
        }
    }

    /// A hosted model API creates no need for an ML service and carries no ML-inference
    /// weight: answering it never raises any signal, nor any criterion's weight for
    /// inference, against leaving the question open or running the models in-house.
    #[test]
    fn a_hosted_model_never_raises_the_ml_service_need(seeds in proptest::collection::vec(any::<u8>(), 1..16)) {
        let pack = common::shipped();
        let runtime = pack.question_index("ml_runtime").unwrap();
        let hosted = pack.questions[runtime].choice_index("hosted_api").unwrap();
        let ml = pack.signals.iter().position(|s| s.id == "ml_layer").unwrap();
        let inference = pack.criteria.iter().position(|c| c.id.as_str() == "ml_inference").unwrap();
        let mut answers = answer_set(&pack, &seeds);
        let with = |c: Option<usize>, a: &mut Answers| { a.0[runtime] = c; Evidence::of_answers(&pack, a) };
        let open = with(None, &mut answers);
        let hosted_ev = with(Some(hosted), &mut answers);
        for other in 0..pack.questions[runtime].choices.len() {
            let ev = with(Some(other), &mut answers);
            prop_assert!(hosted_ev.signals[ml] <= ev.signals[ml] + 1e-9);
        }
        prop_assert!(hosted_ev.signals[ml] <= open.signals[ml] + 1e-9);
        prop_assert!(pack.questions[runtime].choices[hosted].weights.iter().all(|&(k, _)| k != inference));
    }

    /// `high` means nothing still open can change the recommendation, `medium` that no
    /// single answer can but several together can, `low` that one more answer can or the
    /// lead is close. Checked against every way of answering the open questions.
    #[test]
    fn confidence_says_exactly_what_the_open_questions_can_do(
        seeds in proptest::collection::vec(any::<u8>(), 1..16),
        open in 0usize..5,
    ) {
        for pack in packs() {
            let answers = mostly_answered(&pack, &seeds, open);
            let outcome = evaluate(&pack, &answers);
            let now = outcome.pick;
            let changed_by_one = pack.questions.iter().enumerate().any(|(qi, q)| {
                answers.get(qi).is_none() && answers.applicable(&pack)[qi]
                    && (0..q.choices.len()).any(|c| {
                        let mut a = answers.clone();
                        a.0[qi] = Some(c);
                        pick_of(&pack, &a) != now
                    })
            });
            let changed_by_some = completions(&pack, &answers).iter().any(|a| pick_of(&pack, a) != now);
            let expected = if now.is_none() || outcome.margin < CLOSE || changed_by_one {
                Confidence::Low
            } else if changed_by_some {
                Confidence::Medium
            } else {
                Confidence::High
            };
            prop_assert_eq!(outcome.confidence, expected, "{}: {:?} -> {:?} margin {}", pack.id, answers, now, outcome.margin);
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
            prop_assert_eq!(team.outcome.scores.len(), single.scores.len());
            for (a, b) in team.outcome.scores.iter().zip(&single.scores) {
                prop_assert!((a.2 - b.2).abs() < 1e-9);
            }
        }
    }
}
