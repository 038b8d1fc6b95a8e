//! Cards and questions in Discord's formats: reviewed snapshots of real outcomes, Discord's
//! limits held on cards and questions built from extreme inputs, and user text that can
//! never mention anyone.

use crate::discord_support::*;
use proptest::prelude::*;
use serde_json::json;
use tradeoff::core::card::{outcome_card, Basis, Card, CardItem, CardSection, ScoreLine};
use tradeoff::core::conversation::Conversation;
use tradeoff::core::ids::UserRef;
use tradeoff::core::messages::{prompt, Prompt, PromptChoice};
use tradeoff::core::score::{evaluate, Answers, Confidence};
use tradeoff::discord::render::{card_message, question_message, thread_name};

fn pack() -> tradeoff::core::pack::Pack {
    tradeoff::packs::builtin().remove(0).1
}

fn card_for(answers: &[(&str, &str)]) -> Card {
    let pack = pack();
    let answers = Answers::from_ids(&pack, answers.iter().copied()).unwrap();
    let basis = Basis {
        by: vec!["Ada".into()],
        at: NOW,
    };
    outcome_card(&pack, 1, &evaluate(&pack, &answers), &basis)
}

#[test]
fn card_snapshots() {
    let node = card_for(&[
        ("workload", "realtime"),
        ("concurrency", "high"),
        ("ai_ml", "none"),
        ("team_skills", "javascript"),
        ("frontend", "one_language"),
        ("growth", "rapid_spiky"),
    ]);
    let python = card_for(&[
        ("workload", "data_ml"),
        ("concurrency", "low"),
        ("ai_ml", "core"),
        ("ml_runtime", "in_process"),
        ("team_skills", "python"),
        ("experience", "beginners"),
        ("deadline", "weeks"),
        ("hiring", "ai_research"),
    ]);
    let hybrid = card_for(&[
        ("workload", "mixed"),
        ("concurrency", "high"),
        ("ai_ml", "core"),
        ("ml_runtime", "in_process"),
        ("team_skills", "both"),
    ]);
    assert_eq!(node.pick.as_deref(), Some("nodejs"));
    assert_eq!(python.pick.as_deref(), Some("python"));
    assert_eq!(hybrid.pick.as_deref(), Some("hybrid"));
    for card in [&node, &python, &hybrid] {
        assert_sendable(&card_message(card).to_json());
    }
    insta::assert_json_snapshot!("discord_card_nodejs", card_message(&node).to_json());
    insta::assert_json_snapshot!("discord_card_python", card_message(&python).to_json());
    insta::assert_json_snapshot!("discord_card_hybrid", card_message(&hybrid).to_json());
}

#[test]
fn question_snapshot() {
    let pack = pack();
    let conversation = Conversation::start(&pack, 1, UserRef::new("1", "Ada"), NOW);
    let p = prompt(&pack, &conversation, 0);
    let message = question_message("1180000000000000100", &p, &[]);
    assert_sendable(&message.to_json());
    insta::assert_json_snapshot!("discord_question_first", message.to_json());
}

const NASTY: &str = "@everyone <@&1180000000000000020> <@1180000000000000011> **bold** `code` [link](https://example.com) ||spoiler|| # heading\n- list";

fn item(title_len: usize, body_len: usize) -> CardItem {
    CardItem {
        title: format!("{NASTY}{}", "t".repeat(title_len)),
        body: format!("{NASTY}{}", "b".repeat(body_len)),
    }
}

fn extreme_card(items: usize, title_len: usize, body_len: usize, scores: usize) -> Card {
    Card {
        title: format!("{NASTY}{}", "T".repeat(title_len)),
        pick: Some("nodejs".into()),
        recommendation: format!("{NASTY}{}", "R".repeat(title_len)),
        summary: "S".repeat(body_len * 5),
        confidence: Confidence::Low,
        confidence_note: format!("{NASTY}{}", "N".repeat(title_len)),
        color: Some("#3c873a".into()),
        scores: (0..scores)
            .map(|i| ScoreLine {
                option: format!("o{i}"),
                label: format!("{NASTY}{}", "L".repeat(title_len)),
                score: (i * 37 % 101) as u8,
            })
            .collect(),
        drivers: (0..items).map(|_| item(title_len, body_len)).collect(),
        tradeoffs: (0..items).map(|_| item(title_len, body_len)).collect(),
        flip: format!("{NASTY}{}", "F".repeat(body_len)),
        sections: vec![CardSection {
            title: NASTY.into(),
            items: (0..items).map(|_| item(title_len, body_len)).collect(),
        }],
        footer: "f".repeat(body_len * 3),
    }
}

/// No mention syntax survives unescaped where Discord renders markdown and mentions: the
/// content, and embed descriptions and fields. (Titles, footers, button labels and thread
/// names are plain text to Discord.)
fn assert_no_live_mentions(body: &serde_json::Value) {
    let mut rendered = vec![body["content"].as_str().unwrap_or("").to_owned()];
    for e in body["embeds"].as_array().into_iter().flatten() {
        rendered.push(e["description"].as_str().unwrap_or("").to_owned());
        for f in e["fields"].as_array().into_iter().flatten() {
            rendered.push(f["name"].as_str().unwrap_or("").to_owned());
            rendered.push(f["value"].as_str().unwrap_or("").to_owned());
        }
    }
    for text in rendered {
        for needle in ["@everyone", "<@&", "<@1"] {
            for (at, _) in text.match_indices(needle) {
                assert!(
                    text[..at].ends_with('\\'),
                    "unescaped {needle} at {at} of {} characters",
                    text.len()
                );
            }
        }
    }
}

#[test]
fn an_enormous_card_fits_every_discord_limit() {
    let card = extreme_card(60, 400, 3000, 12);
    let body = card_message(&card).to_json();
    assert_sendable(&body);
    assert_no_live_mentions(&body);
    let embed = &body["embeds"][0];
    // The numbers survive the cuts, and so do the first and last fields.
    assert_eq!(embed["fields"][0]["name"], "Scores");
    assert_eq!(
        embed["fields"].as_array().unwrap().last().unwrap()["name"],
        "What would change the answer"
    );
    assert!(embed["title"].as_str().unwrap().ends_with('…'));
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
}

#[test]
fn a_question_with_many_long_choices_fits() {
    let many = |n: usize, len: usize| Prompt {
        question: 7,
        question_id: "q".repeat(64),
        number: 8,
        total: 12,
        text: format!("{NASTY}{}", "Q".repeat(3000)),
        why: "W".repeat(500),
        choices: (0..n)
            .map(|i| PromptChoice {
                id: format!("{i}{}", "c".repeat(63)),
                label: format!("{NASTY}{}", "L".repeat(len)),
                hint: Some("H".repeat(len)),
            })
            .collect(),
    };
    for (n, len) in [(5, 300), (20, 90), (21, 10), (60, 200), (150, 5)] {
        let message = question_message("18446744073709551615", &many(n, len), &[]);
        let body = message.to_json();
        assert_sendable(&body);
        assert_no_live_mentions(&body);
        let rows = body["components"].as_array().unwrap();
        if n <= 20 {
            assert!(rows[0]["components"][0]["type"] == 2, "buttons for {n}");
        } else {
            assert!(rows[0]["components"][0]["type"] == 3, "a menu for {n}");
        }
    }
}

#[test]
fn thread_names_fit_and_stay_on_one_line() {
    assert_eq!(thread_name("Ada"), "Backend decision: Ada");
    let long = thread_name(&format!("{}\n{}", "x".repeat(200), "y"));
    assert_eq!(long.chars().count(), 100);
    assert!(!long.contains('\n'));
}

/// A person whose display name is an attack: every echo of it is escaped, and the message
/// carries `allowed_mentions: {"parse": []}`.
#[tokio::test]
async fn names_never_mention_anyone() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let mut start = fixture("command_start");
    start["member"]["user"]["global_name"] = json!(NASTY);
    let answer = bot.interact(&start).await;
    assert_eq!(answer["data"]["allowed_mentions"], json!({ "parse": [] }));
    assert_no_live_mentions(&answer["data"]);
    bot.deliver().await;
    for call in standin.calls() {
        if call.path.ends_with("/threads") {
            continue;
        }
        if call.path.ends_with("/messages") {
            assert_sendable(&call.body);
        }
        assert_no_live_mentions(&call.body);
    }
    // The thread name is plain text (no markdown there), within 100 characters.
    let name = standin.calls()[1].body["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("Backend decision: @everyone"));
    assert!(name.chars().count() <= 100);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_card_fits(
        items in 0usize..40,
        title_len in 0usize..600,
        body_len in 0usize..2500,
        scores in 0usize..30,
    ) {
        let body = card_message(&extreme_card(items, title_len, body_len, scores)).to_json();
        assert_sendable(&body);
        assert_no_live_mentions(&body);
    }
}
