//! The summary card as the terminal shows it, compared with reviewed snapshots, so any
//! change to a card shows up in review.

use crate::common;

use common::{answers, shipped};
use tradeoff::core::card::{outcome_card, team_card, Basis};

/// 1 May 2024, and one person answering: what every card here rests on.
fn basis() -> Basis {
    Basis {
        by: vec!["Ada".into()],
        at: 1_714_557_600,
    }
}
use tradeoff::core::score::evaluate;
use tradeoff::core::tally::{team_outcome, Tally};

#[test]
fn card_for_a_realtime_product() {
    let pack = shipped();
    let a = answers(
        &pack,
        &[
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("team_skills", "javascript"),
            ("security", "strict"),
        ],
    );
    let card = outcome_card(&pack, 1, &evaluate(&pack, &a), &basis());
    assert!(
        card.score_summary().starts_with("Node.js "),
        "{}",
        card.score_summary()
    );
    insta::assert_snapshot!("realtime_product", card.to_text());
}

#[test]
fn card_for_the_hybrid() {
    let pack = shipped();
    let a = answers(
        &pack,
        &[
            ("workload", "mixed"),
            ("ai_ml", "core"),
            ("concurrency", "high"),
        ],
    );
    let card = outcome_card(&pack, 1, &evaluate(&pack, &a), &basis());
    assert_eq!(card.pick.as_deref(), Some("hybrid"));
    insta::assert_snapshot!("hybrid", card.to_text());
}

#[test]
fn card_with_no_answers() {
    let pack = shipped();
    let nobody = Basis {
        by: Vec::new(),
        at: 1_714_557_600,
    };
    let card = outcome_card(&pack, 1, &evaluate(&pack, &answers(&pack, &[])), &nobody);
    assert!(
        card.to_text().contains("Node.js  █████░░░░░   50"),
        "{}",
        card.to_text()
    );
    insta::assert_snapshot!("no_answers", card.to_text());
}

#[test]
fn team_card_shows_the_split_and_where_the_team_agrees() {
    let pack = shipped();
    let mut tally = Tally::new(&pack);
    for (workload, concurrency, team) in [
        ("realtime", "high", "javascript"),
        ("realtime", "high", "javascript"),
        ("realtime", "medium", "python"),
        ("data_ml", "high", "javascript"),
    ] {
        tally.add(
            &pack,
            &answers(
                &pack,
                &[
                    ("workload", workload),
                    ("concurrency", concurrency),
                    ("team_skills", team),
                ],
            ),
        );
    }
    let team = team_outcome(&pack, &tally);
    assert_eq!(team.respondents, 4);
    assert_eq!(team.split.iter().map(|(_, n)| n).sum::<u32>(), 4);
    let card = team_card(
        &pack,
        1,
        &team,
        &Basis {
            by: Vec::new(),
            at: 1_714_557_600,
        },
    );
    insta::assert_snapshot!("team", card.to_text());
}
