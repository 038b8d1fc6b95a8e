//! The article's own recommendations, as answer sets. Each case names the passage of the
//! article it comes from (quoted as the article has it), and says what a careful reader of
//! that passage would sign: the recommendation, and where it matters, how settled it is.

use crate::common;

use common::{answers, shipped};
use tradeoff::core::card::{outcome_card, Basis};
use tradeoff::core::score::{evaluate, Confidence, Outcome};
use tradeoff::core::text::{match_choice, Match};

fn outcome(pairs: &[(&str, &str)]) -> Outcome {
    let pack = shipped();
    evaluate(&pack, &answers(&pack, pairs))
}

fn recommend(pairs: &[(&str, &str)]) -> Option<String> {
    outcome(pairs).recommendation
}

// The six cases the engine has always had to get right.

#[test]
fn realtime_with_high_concurrency_is_nodejs() {
    assert_eq!(
        recommend(&[("workload", "realtime"), ("concurrency", "high")]).as_deref(),
        Some("nodejs")
    );
}

#[test]
fn data_and_ml_at_the_core_is_python() {
    assert_eq!(
        recommend(&[("workload", "data_ml"), ("ai_ml", "core")]).as_deref(),
        Some("python")
    );
}

#[test]
fn one_language_for_a_javascript_team_is_nodejs() {
    assert_eq!(
        recommend(&[("frontend", "one_language"), ("team_skills", "javascript")]).as_deref(),
        Some("nodejs")
    );
}

#[test]
fn a_fast_mvp_by_beginners_is_python() {
    assert_eq!(
        recommend(&[("deadline", "weeks"), ("experience", "beginners")]).as_deref(),
        Some("python")
    );
}

#[test]
fn microservices_serving_apis_is_nodejs() {
    assert_eq!(
        recommend(&[("architecture", "microservices"), ("workload", "api")]).as_deref(),
        Some("nodejs")
    );
}

#[test]
fn realtime_plus_core_ml_at_high_concurrency_is_hybrid() {
    assert_eq!(
        recommend(&[
            ("workload", "mixed"),
            ("ai_ml", "core"),
            ("concurrency", "high")
        ])
        .as_deref(),
        Some("hybrid")
    );
}

/// One case: a passage of the article, the answers of a team it describes, and what the
/// passage supports.
struct Case {
    passage: &'static str,
    answers: &'static [(&'static str, &'static str)],
    /// The recommendation's id, or `None` where the passage names no winner.
    expect: Option<&'static str>,
    /// The least confidence the answers earn, where the passage is unambiguous.
    at_least: Option<Confidence>,
    /// The most confidence, where the passage warns or the answers pull apart.
    at_most: Option<Confidence>,
}

const FULL_CHAT: &[(&str, &str)] = &[
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
];

const CASES: &[Case] = &[
    Case {
        passage: "This makes it exceptionally efficient for applications that handle many simultaneous connections with small amounts of data, such as chat applications, live notifications, or collaboration tools.",
        answers: FULL_CHAT,
        expect: Some("nodejs"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        passage: "Node.js is commonly used for APIs, real-time applications, and scalable network services.",
        answers: &[("workload", "api"), ("concurrency", "high"), ("growth", "rapid_spiky"), ("ai_ml", "none")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Node.js runs on a single thread. This works well for I/O operations, but CPU-intensive tasks (like complex calculations, image processing, or data analysis) can block the event loop and slow down the application.",
        answers: &[("workload", "cpu_heavy"), ("ai_ml", "none"), ("team_skills", "python")],
        expect: Some("python"),
        at_least: None,
        at_most: None,
    },
    Case {
        // The warning is not outweighed into certainty by familiarity: a JavaScript team
        // with a one-language front end may still land on Node.js, but not as settled.
        passage: "Node.js runs on a single thread. This works well for I/O operations, but CPU-intensive tasks (like complex calculations, image processing, or data analysis) can block the event loop and slow down the application.",
        answers: &[
            ("workload", "cpu_heavy"),
            ("concurrency", "medium"),
            ("ai_ml", "none"),
            ("team_skills", "javascript"),
            ("experience", "experienced"),
            ("frontend", "one_language"),
            ("architecture", "monolith"),
            ("deadline", "months"),
            ("security", "standard"),
            ("hiring", "web_product"),
            ("growth", "steady"),
        ],
        expect: Some("nodejs"),
        at_least: None,
        at_most: Some(Confidence::Low),
    },
    Case {
        passage: "Summary: Python is generally easier for beginners and faster for building structured applications, while Node.js is efficient for teams already invested in JavaScript.",
        answers: &[("team_skills", "javascript"), ("experience", "experienced"), ("workload", "api")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Summary: Python is generally easier for beginners and faster for building structured applications, while Node.js is efficient for teams already invested in JavaScript.",
        answers: &[("experience", "beginners"), ("workload", "business_logic")],
        expect: Some("python"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Best Suited for | Real-time apps, microservices, APIs, high-concurrency projects | Data-driven apps, AI/ML projects, complex business logic, structured web applications",
        answers: &[
            ("workload", "business_logic"),
            ("concurrency", "low"),
            ("ai_ml", "none"),
            ("team_skills", "python"),
            ("experience", "mixed"),
            ("frontend", "none"),
            ("architecture", "monolith"),
            ("deadline", "months"),
            ("security", "strict"),
            ("hiring", "either"),
            ("growth", "steady"),
        ],
        expect: Some("python"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        passage: "It is commonly used by companies that expect rapid growth and fluctuating traffic.",
        answers: &[("growth", "rapid_spiky")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: Some(Confidence::Low),
    },
    Case {
        passage: "Python frameworks like Django include built-in security features such as protection against SQL injection, cross-site scripting, and CSRF attacks.",
        answers: &[("security", "strict")],
        expect: Some("python"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Python has a slight edge in academic, research, and AI-focused talent, and its simple syntax makes it one of the most popular languages for those learning to code, ensuring a continuous pipeline of new talent.",
        answers: &[("hiring", "ai_research")],
        expect: Some("python"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Node.js is popular among product-focused and web development teams, especially those using a unified JavaScript stack.",
        answers: &[("hiring", "web_product")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Microservices / Event-Driven | Node.js | Natural fit for high-performance, distributed architectures.",
        answers: &[("architecture", "event_driven")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Readability / Rapid MVP | Python | Simple syntax allows for quicker initial development and easier maintenance.",
        answers: &[("deadline", "weeks")],
        expect: Some("python"),
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "Full-Stack Uniformity (JS/TS) | Node.js | Use one language for the entire application, simplifying development.",
        answers: &[("frontend", "one_language")],
        expect: Some("nodejs"),
        at_least: None,
        at_most: None,
    },
    Case {
        // A JavaScript front end whose backend "may differ" asks for no uniformity.
        passage: "Full-Stack Uniformity (JS/TS) | Node.js | Use one language for the entire application, simplifying development.",
        answers: &[("frontend", "js_separate")],
        expect: None,
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "There is no single winner in the Node.js vs Python debate.",
        answers: &[],
        expect: None,
        at_least: None,
        at_most: Some(Confidence::Low),
    },
    Case {
        passage: "Both Node.js and Python have large global communities and strong hiring markets.",
        answers: &[("hiring", "either"), ("deadline", "months"), ("experience", "mixed"), ("team_skills", "neither")],
        expect: None,
        at_least: None,
        at_most: None,
    },
    Case {
        passage: "It's common to see a Python service handling data analysis or machine learning, while a Node.js service manages real-time notifications and the API layer.",
        answers: &[
            ("workload", "mixed"),
            ("concurrency", "high"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
            ("team_skills", "both"),
            ("experience", "experienced"),
            ("frontend", "js_separate"),
            ("architecture", "microservices"),
            ("deadline", "flexible"),
            ("security", "standard"),
            ("hiring", "either"),
            ("growth", "rapid_spiky"),
        ],
        expect: Some("hybrid"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        // "the API layer" on Node.js: an API with core ML run in-house reaches the hybrid.
        passage: "It's common to see a Python service handling data analysis or machine learning, while a Node.js service manages real-time notifications and the API layer.",
        answers: &[
            ("workload", "api"),
            ("concurrency", "medium"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
            ("team_skills", "both"),
            ("experience", "experienced"),
            ("frontend", "js_separate"),
            ("architecture", "microservices"),
            ("deadline", "months"),
            ("security", "standard"),
            ("hiring", "ai_research"),
            ("growth", "rapid_spiky"),
        ],
        expect: Some("hybrid"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        // Heavy computation next to high concurrency: the Python side does the computing.
        passage: "Node.js runs on a single thread. This works well for I/O operations, but CPU-intensive tasks (like complex calculations, image processing, or data analysis) can block the event loop and slow down the application.",
        answers: &[
            ("workload", "cpu_heavy"),
            ("concurrency", "high"),
            ("ai_ml", "none"),
            ("team_skills", "both"),
            ("experience", "experienced"),
            ("frontend", "js_separate"),
            ("architecture", "event_driven"),
            ("deadline", "flexible"),
            ("security", "standard"),
            ("hiring", "either"),
            ("growth", "rapid_spiky"),
        ],
        expect: Some("hybrid"),
        at_least: None,
        at_most: None,
    },
    Case {
        // Two stacks are not what the article offers a team of Python beginners in a hurry.
        passage: "Summary: Python is generally easier for beginners and faster for building structured applications, while Node.js is efficient for teams already invested in JavaScript.",
        answers: &[
            ("workload", "mixed"),
            ("concurrency", "high"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
            ("team_skills", "python"),
            ("experience", "beginners"),
            ("frontend", "none"),
            ("architecture", "monolith"),
            ("deadline", "weeks"),
            ("security", "standard"),
            ("hiring", "either"),
            ("growth", "steady"),
        ],
        expect: Some("python"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        // A hosted model is I/O: no Python ML service, so no hybrid and no inference edge.
        passage: "ML Inference Speed | ~Moderate | High (with NumPy/C) | Python (+60-80%)",
        answers: &[
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("ai_ml", "core"),
            ("ml_runtime", "hosted_api"),
            ("team_skills", "javascript"),
            ("experience", "experienced"),
            ("frontend", "one_language"),
            ("architecture", "microservices"),
            ("deadline", "weeks"),
            ("security", "standard"),
            ("hiring", "web_product"),
            ("growth", "rapid_spiky"),
        ],
        expect: Some("nodejs"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
    Case {
        passage: "Data Science / Machine Learning | Python | Unrivaled ecosystem of libraries and tools for numerical computation.",
        answers: &[
            ("workload", "data_ml"),
            ("concurrency", "low"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
            ("team_skills", "python"),
            ("experience", "experienced"),
            ("frontend", "none"),
            ("architecture", "monolith"),
            ("deadline", "months"),
            ("security", "strict"),
            ("hiring", "ai_research"),
            ("growth", "steady"),
        ],
        expect: Some("python"),
        at_least: Some(Confidence::High),
        at_most: None,
    },
];

#[test]
fn every_case_follows_its_passage() {
    let mut failures = Vec::new();
    for case in CASES {
        let o = outcome(case.answers);
        let got = o.recommendation.as_deref();
        let ok = got == case.expect
            && case.at_least.is_none_or(|c| o.confidence >= c)
            && case.at_most.is_none_or(|c| o.confidence <= c);
        if !ok {
            failures.push(format!(
                "\n  {:?}: got {got:?} ({:?}), want {:?} within {:?}..{:?}\n    from: {}",
                case.answers, o.confidence, case.expect, case.at_least, case.at_most, case.passage
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.concat());
}

/// Every passage is one of the pack's quotes, which `tradeoff check-quotes` finds verbatim
/// in the article (`.ci/run` runs it): so no case rests on words the article does not have.
#[test]
fn each_case_names_a_passage_the_pack_quotes() {
    let pack = shipped();
    let quotes: Vec<&str> = pack.quotes().into_iter().map(|(_, q)| q).collect();
    for case in CASES {
        assert!(
            quotes.contains(&case.passage),
            "{:?}: passage is not among the pack's quotes: {}",
            case.answers,
            case.passage
        );
    }
    assert!(
        CASES.len() >= 12,
        "at least twelve cases beyond the core six"
    );
}

#[test]
fn a_whole_realtime_product_shows_the_articles_figures() {
    let o = outcome(FULL_CHAT);
    let node = o.score_of("nodejs").unwrap();
    let python = o.score_of("python").unwrap();
    assert!(node > python + 15.0, "node {node} python {python}");
    let quotes: Vec<&String> = o.drivers.iter().flat_map(|d| &d.quotes).collect();
    assert!(
        quotes.iter().any(|q| q.contains("~55,000+")),
        "the requests-per-second row is quoted: {quotes:?}"
    );
}

#[test]
fn a_hosted_model_gets_no_inference_weight_and_no_ml_service() {
    let o = outcome(&[
        ("workload", "mixed"),
        ("ai_ml", "core"),
        ("ml_runtime", "hosted_api"),
    ]);
    assert!(o.score_of("hybrid").is_none(), "{:?}", o.scores);
    let named: Vec<&str> = o
        .drivers
        .iter()
        .map(|d| d.criterion.as_str())
        .chain(
            o.tradeoffs
                .iter()
                .filter_map(|t| t.criterion.as_ref().map(|c| c.as_str())),
        )
        .collect();
    assert!(!named.contains(&"ml_inference"), "{named:?}");
}

#[test]
fn a_blend_card_explains_both_halves_and_the_cost() {
    let pack = shipped();
    let o = evaluate(
        &pack,
        &answers(
            &pack,
            &[
                ("workload", "mixed"),
                ("concurrency", "high"),
                ("ai_ml", "core"),
                ("ml_runtime", "in_process"),
                ("team_skills", "javascript"),
            ],
        ),
    );
    assert_eq!(o.recommendation.as_deref(), Some("hybrid"));
    let halves: Vec<&str> = o.halves.iter().map(|h| h.option.as_str()).collect();
    assert_eq!(halves, ["nodejs", "python"]);
    // Both halves have a driver, each naming its layer.
    for half in ["nodejs", "python"] {
        assert!(
            o.drivers
                .iter()
                .any(|d| d.favours.as_str() == half && d.layer.is_some()),
            "{half}: {:?}",
            o.drivers
        );
    }
    // A JavaScript team takes on a second stack: that cost is named with how to soften it.
    assert!(
        o.tradeoffs.iter().any(|t| t
            .criterion
            .as_ref()
            .is_some_and(|c| c.as_str() == "single_stack")),
        "{:?}",
        o.tradeoffs
    );
    assert!(!o.quotes.is_empty());
}

#[test]
fn nothing_answered_names_no_winner_and_the_deciding_question() {
    let pack = shipped();
    let o = evaluate(&pack, &answers(&pack, &[]));
    assert_eq!(o.recommendation, None);
    assert_eq!(o.confidence, Confidence::Low);
    assert_eq!(o.answered, 0);
    for (_, _, s) in &o.scores {
        assert!(
            (*s - 50.0).abs() < 1e-9,
            "unanswered questions are neutral: {s}"
        );
    }
    let next = o.next_question.as_ref().expect("a deciding question");
    let card = outcome_card(&pack, 0, &o, &Basis::default());
    assert_eq!(card.pick, None);
    assert!(
        card.flip.contains(&next.text) && card.flip.contains("would decide it"),
        "{}",
        card.flip
    );
    assert!(o.flip.is_some(), "one answer is enough to name a winner");
}

#[test]
fn neutral_choices_are_neutral() {
    let pack = shipped();
    for (q, c) in [
        ("deadline", "months"),
        ("deadline", "flexible"),
        ("experience", "mixed"),
        ("experience", "experienced"),
        ("team_skills", "neither"),
        ("team_skills", "both"),
        ("frontend", "js_separate"),
        ("frontend", "none"),
        ("architecture", "monolith"),
        ("architecture", "undecided"),
        ("security", "standard"),
        ("hiring", "either"),
        ("growth", "steady"),
        ("concurrency", "low"),
        ("ai_ml", "none"),
    ] {
        let o = evaluate(&pack, &answers(&pack, &[(q, c)]));
        let node = o.score_of("nodejs").unwrap();
        let python = o.score_of("python").unwrap();
        assert!((node - python).abs() < 1e-9, "{q}={c}: {node} vs {python}");
        assert_eq!(o.recommendation, None, "{q}={c}");
    }
}

#[test]
fn a_javascript_team_is_counted_once() {
    // The skills question counts the team's JavaScript; the front-end question counts the
    // wish for one language, and neither repeats the other's criterion.
    let pack = shipped();
    let skills = pack.question_index("team_skills").unwrap();
    let frontend = pack.question_index("frontend").unwrap();
    let criteria = |qi: usize, choice: &str| -> Vec<usize> {
        let q = &pack.questions[qi];
        q.choices[q.choice_index(choice).unwrap()]
            .weights
            .iter()
            .map(|&(k, _)| k)
            .collect()
    };
    let a = criteria(skills, "javascript");
    let b = criteria(frontend, "one_language");
    assert!(a.iter().all(|k| !b.contains(k)), "{a:?} {b:?}");
}

#[test]
fn trade_offs_come_only_from_what_the_answers_weighed() {
    let pack = shipped();
    let o = evaluate(
        &pack,
        &answers(&pack, &[("team_skills", "python"), ("ai_ml", "core")]),
    );
    assert_eq!(o.recommendation.as_deref(), Some("python"));
    for t in &o.tradeoffs {
        let c = t.criterion.as_ref().map(|c| c.as_str());
        assert!(
            !matches!(c, Some("team_js" | "fullstack" | "ml_inference")),
            "a Python team with no front end asked about is told {c:?}"
        );
    }
    let card = outcome_card(&pack, 0, &o, &Basis::default());
    assert_eq!(card.tradeoffs.len(), 1, "{:?}", card.tradeoffs);
    assert!(
        card.tradeoffs[0].title.contains("Nothing"),
        "{:?}",
        card.tradeoffs
    );
}

#[test]
fn business_logic_and_automation_can_be_said_in_words() {
    let pack = shipped();
    let workload = &pack.questions[pack.question_index("workload").unwrap()];
    let business = workload.choice_index("business_logic").unwrap();
    for said in [
        "business automation",
        "complex business rules",
        "an ERP with workflows",
    ] {
        assert_eq!(match_choice(workload, said), Match::One(business), "{said}");
    }
}

/// A choice's own hint, a framework the choice's phrases name, and the start of a label's
/// word each select the choice they belong to, in every question of the shipped pack where
/// they occur.
#[test]
fn a_hint_a_named_framework_and_the_start_of_a_word_select_their_choice() {
    let pack = shipped();
    let pick = |question: &str, said: &str| {
        let q = &pack.questions[pack.question_index(question).unwrap()];
        match match_choice(q, said) {
            Match::One(i) => q.choices[i].id.to_string(),
            other => format!("{other:?}"),
        }
    };
    assert_eq!(
        pick("frontend", "a javascript front end talking to an api"),
        "js_separate"
    );
    assert_eq!(pick("frontend", "React"), "js_separate");
    assert_eq!(pick("workload", "real"), "realtime");
    // Every hint of every question selects its own choice.
    for q in &pack.questions {
        for c in &q.choices {
            if let Some(hint) = &c.hint {
                assert_eq!(
                    match_choice(q, hint),
                    Match::One(q.choice_index(c.id.as_str()).unwrap()),
                    "{}: the hint {hint:?}",
                    q.id
                );
            }
        }
    }
    // Too short to mean one thing, or the start of words of two choices: never a pick.
    assert!(!matches!(
        match_choice(&pack.questions[0], "re"),
        Match::One(_)
    ));
}

#[test]
fn the_flip_names_one_answer_that_really_changes_the_result() {
    let pack = shipped();
    let base = [
        ("workload", "realtime"),
        ("concurrency", "high"),
        ("team_skills", "python"),
    ];
    let o = evaluate(&pack, &answers(&pack, &base));
    let flip = o.flip.expect("a flip exists");
    let mut changed: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .filter(|(q, _)| *q != flip.question.as_str())
        .collect();
    changed.push((flip.question.as_str(), flip.to.as_str()));
    let after = evaluate(&pack, &answers(&pack, &changed));
    assert_eq!(
        after.recommendation.as_deref(),
        Some(flip.recommendation.as_str())
    );
    assert_ne!(after.recommendation, o.recommendation);
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
