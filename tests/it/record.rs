//! Decision records in the MADR layout, compared with reviewed snapshots: a decision, a
//! team poll's summary, and an anonymous poll's (which names nobody).

use crate::common;

use common::{answers, shipped};
use tradeoff::core::card::{outcome_card, team_card, Basis};
use tradeoff::core::record::{of_decision, of_team, suggested_path};
use tradeoff::core::score::evaluate;
use tradeoff::core::tally::{team_outcome, Tally};

/// 1 May 2024, answered by Ada and Bob.
fn basis() -> Basis {
    Basis {
        by: vec!["Ada".into(), "Bob *the* <builder>".into()],
        at: 1_714_557_600,
    }
}

fn team() -> (tradeoff::core::pack::Pack, Tally) {
    let pack = shipped();
    let mut tally = Tally::new(&pack);
    for (workload, skills) in [
        ("realtime", "javascript"),
        ("realtime", "javascript"),
        ("data_ml", "python"),
    ] {
        tally.add(
            &pack,
            &answers(&pack, &[("workload", workload), ("team_skills", skills)]),
        );
    }
    (pack, tally)
}

#[test]
fn a_decisions_record() {
    let pack = shipped();
    let a = answers(
        &pack,
        &[
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("security", "strict"),
        ],
    );
    let outcome = evaluate(&pack, &a);
    let card = outcome_card(&pack, 1, &outcome, &basis());
    let record = of_decision(&pack, &card, &outcome, &basis());
    assert!(record.starts_with("---\nstatus: proposed\ndate: 2024-05-01\n"));
    // Names are YAML strings in the front matter, and escaped where Markdown shows them.
    assert!(record.contains(r#"deciders: ["Ada", "Bob *the* <builder>"]"#));
    assert!(!record.contains("Bob *the* <builder>,"), "{record}");
    for heading in [
        "## Context and Problem Statement",
        "## Decision Drivers",
        "## Considered Options",
        "## Decision Outcome",
        "### Consequences",
        "## What Would Change the Decision",
        "## More Information",
    ] {
        assert!(record.contains(heading), "{heading}");
    }
    assert!(record.contains(&card.score_summary()));
    assert!(
        record.contains("  > The article: “"),
        "the source's words, quoted"
    );
    assert_eq!(
        suggested_path(&pack),
        "docs/decisions/NNNN-backend-decision-node-js-or-python.md"
    );
    insta::assert_snapshot!("record_decision", record);
}

#[test]
fn a_team_polls_record_counts_the_answers() {
    let (pack, tally) = team();
    let team = team_outcome(&pack, &tally);
    let card = team_card(&pack, 1, &team, &basis());
    let record = of_team(&pack, &card, &tally, &basis(), false);
    assert!(record.contains("3 teammates answered a team poll;"));
    assert!(record.contains("- What will this backend mainly do? Real-time 2 · Data and ML 1"));
    assert!(record.contains("deciders: [\"Ada\""));
    insta::assert_snapshot!("record_team", record);
}

#[test]
fn an_anonymous_polls_record_names_nobody() {
    let (pack, tally) = team();
    let team = team_outcome(&pack, &tally);
    // Even if names were handed in, an anonymous poll's record holds none.
    let card = team_card(
        &pack,
        1,
        &team,
        &Basis {
            by: Vec::new(),
            at: 1_714_557_600,
        },
    );
    let record = of_team(&pack, &card, &tally, &basis(), true);
    assert!(!record.contains("deciders"));
    assert!(
        !record.contains("Ada") && !record.contains("Bob"),
        "{record}"
    );
    assert!(record.contains("anonymously"));
    insta::assert_snapshot!("record_anonymous", record);
}
