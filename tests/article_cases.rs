//! The article's own recommendations, as answer sets. The engine must agree with the
//! source's recommendation table and its hybrid advice.

mod common;

use common::{answers, shipped};
use tradeoff::core::score::evaluate;

fn recommend(pairs: &[(&str, &str)]) -> String {
    let pack = shipped();
    evaluate(&pack, &answers(&pack, pairs)).recommendation
}

#[test]
fn realtime_with_high_concurrency_is_nodejs() {
    assert_eq!(
        recommend(&[("workload", "realtime"), ("concurrency", "high")]),
        "nodejs"
    );
}

#[test]
fn data_and_ml_at_the_core_is_python() {
    assert_eq!(
        recommend(&[("workload", "data_ml"), ("ai_ml", "core")]),
        "python"
    );
}

#[test]
fn one_language_for_a_javascript_team_is_nodejs() {
    assert_eq!(
        recommend(&[("frontend", "one_language"), ("team_skills", "javascript")]),
        "nodejs"
    );
}

#[test]
fn a_fast_mvp_by_beginners_is_python() {
    assert_eq!(
        recommend(&[("deadline", "weeks"), ("experience", "beginners")]),
        "python"
    );
}

#[test]
fn microservices_serving_apis_is_nodejs() {
    assert_eq!(
        recommend(&[("architecture", "microservices"), ("workload", "api")]),
        "nodejs"
    );
}

#[test]
fn realtime_plus_core_ml_at_high_concurrency_is_hybrid() {
    assert_eq!(
        recommend(&[
            ("workload", "mixed"),
            ("ai_ml", "core"),
            ("concurrency", "high")
        ]),
        "hybrid"
    );
}

/// Each row of the article's "Project Focus" table, and its other single-criterion verdicts,
/// expressed with one answer.
#[test]
fn single_answers_follow_the_article() {
    let cases: &[(&str, &str, &str)] = &[
        ("workload", "realtime", "nodejs"),
        ("workload", "api", "nodejs"),
        ("workload", "data_ml", "python"),
        ("workload", "cpu_heavy", "python"),
        ("concurrency", "high", "nodejs"),
        ("concurrency", "medium", "nodejs"),
        ("ai_ml", "core", "python"),
        ("ai_ml", "some", "python"),
        ("team_skills", "javascript", "nodejs"),
        ("team_skills", "python", "python"),
        ("team_skills", "neither", "python"),
        ("experience", "beginners", "python"),
        ("frontend", "one_language", "nodejs"),
        ("architecture", "microservices", "nodejs"),
        ("architecture", "event_driven", "nodejs"),
        ("architecture", "monolith", "python"),
        ("deadline", "weeks", "python"),
        ("security", "strict", "python"),
        ("hiring", "web_product", "nodejs"),
        ("hiring", "ai_research", "python"),
        ("growth", "rapid_spiky", "nodejs"),
    ];
    for (q, c, want) in cases {
        assert_eq!(&recommend(&[(q, c)]), want, "{q}={c}");
    }
}

#[test]
fn realtime_beside_core_ml_is_the_articles_hybrid() {
    assert_eq!(
        recommend(&[("workload", "realtime"), ("ai_ml", "core")]),
        "hybrid"
    );
    assert_eq!(recommend(&[("workload", "mixed")]), "hybrid");
    // Mixed work with no AI at all, or at low concurrency, is not a two-stack system.
    assert_ne!(
        recommend(&[("workload", "mixed"), ("ai_ml", "none")]),
        "hybrid"
    );
    assert_ne!(
        recommend(&[("workload", "mixed"), ("concurrency", "low")]),
        "hybrid"
    );
}

#[test]
fn a_whole_realtime_product_is_nodejs_with_high_confidence() {
    let pack = shipped();
    let outcome = evaluate(
        &pack,
        &answers(
            &pack,
            &[
                ("workload", "realtime"),
                ("concurrency", "high"),
                ("ai_ml", "none"),
                ("team_skills", "javascript"),
                ("experience", "experienced"),
                ("frontend", "one_language"),
                ("architecture", "event_driven"),
                ("deadline", "months"),
                ("security", "standard"),
                ("hiring", "web_product"),
                ("growth", "rapid_spiky"),
            ],
        ),
    );
    assert_eq!(outcome.recommendation, "nodejs");
    assert_eq!(outcome.confidence.as_str(), "high");
    let node = outcome.score_of("nodejs").unwrap();
    let python = outcome.score_of("python").unwrap();
    assert!(node > python + 15.0, "node {node} python {python}");
    // The drivers carry the article's figures.
    let facts: Vec<String> = outcome
        .drivers
        .iter()
        .flat_map(|d| d.facts.clone())
        .collect();
    assert!(facts.iter().any(|f| f.contains("55,000")), "{facts:?}");
}

#[test]
fn a_regulated_data_product_is_python_with_the_right_tradeoffs() {
    let pack = shipped();
    let outcome = evaluate(
        &pack,
        &answers(
            &pack,
            &[
                ("workload", "data_ml"),
                ("concurrency", "low"),
                ("ai_ml", "core"),
                ("ml_runtime", "in_process"),
                ("team_skills", "python"),
                ("security", "strict"),
                ("hiring", "ai_research"),
            ],
        ),
    );
    assert_eq!(outcome.recommendation, "python");
    let drivers: Vec<&str> = outcome
        .drivers
        .iter()
        .map(|d| d.criterion.as_str())
        .collect();
    assert!(drivers.contains(&"ai_data"), "{drivers:?}");
    // Choosing Python gives up Node.js's strengths; each comes with a way to soften it.
    assert!(!outcome.tradeoffs.is_empty());
    for t in &outcome.tradeoffs {
        assert!(!t.mitigation.is_empty());
    }
}

#[test]
fn no_answers_gives_a_valid_low_confidence_result() {
    let pack = shipped();
    let outcome = evaluate(&pack, &answers(&pack, &[]));
    assert_eq!(outcome.confidence.as_str(), "low");
    assert_eq!(outcome.answered, 0);
    assert!(["nodejs", "python"].contains(&outcome.recommendation.as_str()));
    for (_, _, s) in &outcome.scores {
        assert!(
            (*s - 50.0).abs() < 1e-9,
            "unanswered questions are neutral: {s}"
        );
    }
    assert!(
        outcome.flip.is_some(),
        "one answer is enough to tip an empty result"
    );
}

#[test]
fn the_flip_names_one_answer_that_really_changes_the_result() {
    let pack = shipped();
    let base = [
        ("workload", "realtime"),
        ("concurrency", "high"),
        ("team_skills", "python"),
    ];
    let outcome = evaluate(&pack, &answers(&pack, &base));
    let flip = outcome.flip.expect("a flip exists");
    let mut changed: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .filter(|(q, _)| *q != flip.question.as_str())
        .collect();
    changed.push((flip.question.as_str(), flip.to.as_str()));
    let after = evaluate(&pack, &answers(&pack, &changed));
    assert_eq!(after.recommendation, flip.recommendation);
    assert_ne!(after.recommendation, outcome.recommendation);
}

#[test]
fn a_conditional_question_does_not_count_when_it_does_not_apply() {
    let pack = shipped();
    let with = evaluate(
        &pack,
        &answers(&pack, &[("ai_ml", "none"), ("ml_runtime", "in_process")]),
    );
    let without = evaluate(&pack, &answers(&pack, &[("ai_ml", "none")]));
    assert_eq!(with.scores, without.scores);
    assert_eq!(with.applicable, 11);
}
