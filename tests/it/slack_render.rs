//! Block Kit rendering: reviewed snapshots of the bot's messages, mrkdwn injection, and
//! Block Kit limits on messages built from extreme inputs.

use serde_json::Value;
use tradeoff::core::card::{outcome_card, Basis, Card, CardItem, CardSection, ScoreLine};
use tradeoff::core::conversation::Conversation;
use tradeoff::core::ids::{ChoiceId, UserRef};
use tradeoff::core::pack::Pack;
use tradeoff::core::score::{evaluate, Answers, Confidence};
use tradeoff::slack::render::{self, limit_violations, limits};

fn pack() -> Pack {
    tradeoff::packs::builtin().remove(0).1
}

fn card_for(pack: &Pack, answers: &[(&str, &str)]) -> Card {
    let answers = Answers::from_ids(pack, answers.iter().copied()).unwrap();
    let basis = Basis {
        by: vec!["Ada".into()],
        at: 1_714_557_600,
    };
    outcome_card(pack, 1, &evaluate(pack, &answers), &basis)
}

fn json(m: &render::Message) -> Value {
    serde_json::json!({ "text": m.text, "blocks": m.blocks_json() })
}

fn assert_within_limits(m: &render::Message) {
    let v = m.blocks_json();
    assert_eq!(limit_violations(&v), Vec::<String>::new(), "{v:#}");
    assert!(m.text.chars().count() <= limits::FALLBACK_TEXT);
}

#[test]
fn snapshots_of_the_cards_and_messages() {
    let pack = pack();
    let realtime = card_for(
        &pack,
        &[
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("ai_ml", "none"),
            ("team_skills", "javascript"),
        ],
    );
    assert_within_limits(&render::card(&realtime));
    insta::assert_json_snapshot!("card_realtime_nodejs", json(&render::card(&realtime)));

    let ml = card_for(
        &pack,
        &[
            ("workload", "data_ml"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
            ("team_skills", "python"),
        ],
    );
    insta::assert_json_snapshot!("card_ml_python", json(&render::card(&ml)));

    let hybrid = card_for(
        &pack,
        &[
            ("workload", "mixed"),
            ("ai_ml", "core"),
            ("concurrency", "high"),
        ],
    );
    insta::assert_json_snapshot!("card_mixed", json(&render::card(&hybrid)));

    let conversation = Conversation::start(&pack, 1, UserRef::new("U1", "ada"), 0);
    let q = render::question(&pack, &conversation, 0, "t1");
    assert_within_limits(&q);
    insta::assert_json_snapshot!("question_first", json(&q));
    insta::assert_json_snapshot!(
        "question_answered",
        json(&render::answered(&pack, 0, 0, "U2"))
    );
    insta::assert_json_snapshot!("thread_parent", json(&render::parent(&pack, "U1")));
}

const NASTY: &str = "<!channel> <@U123> <!here|here> & <https://evil.example|click me> &amp;";

#[test]
fn user_and_pack_text_cannot_inject_mrkdwn() {
    let pack = pack();
    let mut card = card_for(&pack, &[("workload", "realtime")]);
    card.title = NASTY.into();
    card.recommendation = NASTY.into();
    card.summary = NASTY.into();
    card.flip = NASTY.into();
    card.footer = NASTY.into();
    card.scores[0].label = NASTY.into();
    card.drivers.push(CardItem {
        title: NASTY.into(),
        body: NASTY.into(),
    });
    card.sections.push(CardSection {
        title: NASTY.into(),
        items: vec![CardItem {
            title: NASTY.into(),
            body: NASTY.into(),
        }],
    });
    let m = render::card(&card);
    let mrkdwn: Vec<String> = m
        .blocks_json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] != "header")
        .map(Value::to_string)
        .collect();
    let all = mrkdwn.join("\n");
    for bad in ["<!channel>", "<@U123>", "<!here", "<https:"] {
        assert!(!all.contains(bad), "{bad} got through: {all}");
    }
    assert!(all.contains("&lt;!channel&gt;") && all.contains("&amp;amp;"));
    // The header is plain_text: Slack shows it as written and parses no mentions there.
    assert_eq!(m.blocks_json()[0]["text"]["type"], "plain_text");

    // A forged user id is shown escaped, never as a mention.
    let answered = render::answered(&pack, 0, 0, "U1><!channel");
    let text = answered.blocks_json().to_string();
    assert!(
        !text.contains("<!channel>") && text.contains("U1&gt;&lt;!channel"),
        "{text}"
    );
    assert!(render::answered(&pack, 0, 0, "U2")
        .blocks_json()
        .to_string()
        .contains("<@U2>"));
    // The notification text too: a mention for a real id, escaped for a forged one, and
    // the id never as raw text.
    assert!(
        !answered.text.contains("<!channel>") && answered.text.contains("U1&gt;&lt;!channel"),
        "{}",
        answered.text
    );
    let real = render::answered(&pack, 0, 0, "U2").text;
    assert!(real.contains("<@U2>"), "{real}");
    assert!(!real.replace("<@U2>", "").contains("U2"), "{real}");
    assert_eq!(
        render::notice(NASTY).blocks_json()[0]["text"]["text"],
        render::escape(NASTY)
    );
}

/// The built-in pack with every text at the longest the pack format allows (with characters
/// that grow when escaped), and a question with 25 choices.
fn extreme_pack() -> Pack {
    let long = |n: usize| "&<>x".repeat(n / 4 + 1).chars().take(n).collect::<String>();
    let mut p = pack();
    p.title = long(150);
    p.source.title = long(300);
    p.source.author = Some(long(150));
    p.source.publisher = Some(long(150));
    p.source.date = Some(long(150));
    for o in &mut p.options {
        o.label = long(40);
        o.summary = long(300);
    }
    for c in &mut p.criteria {
        c.label = long(80);
        c.quotes = vec![long(300); 6];
        c.reasons = vec![long(300); c.reasons.len()];
        c.mitigations = vec![Some(long(300)); c.mitigations.len()];
    }
    for b in &mut p.blends {
        b.label = long(60);
        b.summary = long(300);
        for t in &mut b.tradeoffs {
            t.title = long(200);
            t.mitigation = long(300);
        }
    }
    for q in &mut p.questions {
        q.text = long(300);
        q.why = long(300);
        for c in &mut q.choices {
            c.label = long(60);
            c.hint = Some(long(150));
        }
    }
    let template = p.questions[0].choices[0].clone();
    while p.questions[0].choices.len() < 25 {
        let mut c = template.clone();
        c.id = ChoiceId::new(format!("extra_{}", p.questions[0].choices.len()));
        p.questions[0].choices.push(c);
    }
    p
}

#[test]
fn extreme_packs_render_within_every_block_kit_limit() {
    let pack = extreme_pack();
    for answers in [
        vec![
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("team_skills", "javascript"),
        ],
        vec![
            ("workload", "data_ml"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
        ],
        vec![
            ("workload", "mixed"),
            ("ai_ml", "core"),
            ("concurrency", "high"),
        ],
        vec![],
    ] {
        let card = card_for(&pack, &answers);
        let m = render::card(&card);
        assert_within_limits(&m);
        let blocks = m.blocks_json();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(
            blocks.as_array().unwrap().last().unwrap()["type"],
            "context",
            "the footer stays"
        );
        // The numbers are still there, whatever was shortened.
        let text = blocks.to_string();
        for s in &card.scores {
            assert!(
                text.contains(&format!("*{}*", s.score)),
                "score {} missing",
                s.score
            );
        }
    }
    let conversation = Conversation::start(&pack, 1, UserRef::new("U1", "ada"), 0);
    let q = render::question(&pack, &conversation, 0, "t1");
    assert_within_limits(&q);
    let qjson = q.blocks_json();
    let menu = &qjson
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()["elements"][0];
    assert_eq!(
        menu["type"], "static_select",
        "25 choices do not fit as buttons"
    );
    assert_eq!(menu["options"].as_array().unwrap().len(), 25);
    for qi in 1..pack.questions.len() {
        assert_within_limits(&render::question(&pack, &conversation, qi, "t1"));
        assert_within_limits(&render::answered(&pack, qi, 0, "U1"));
        assert_within_limits(&render::closed(&pack, qi, &"x".repeat(5000)));
    }
    assert_within_limits(&render::parent(&pack, "U1"));
}

#[test]
fn cards_far_beyond_any_limit_are_shortened_not_refused() {
    let huge = |n: usize| "word ".repeat(n / 5);
    let item = || CardItem {
        title: huge(5000),
        body: huge(10_000),
    };
    let card = Card {
        title: huge(1000),
        pick: Some("x".into()),
        recommendation: huge(4000),
        summary: huge(4000),
        confidence: Confidence::Low,
        confidence_note: huge(1000),
        color: None,
        scores: (0..10)
            .map(|i| ScoreLine {
                option: format!("o{i}"),
                label: huge(200),
                score: 10 * i as u8,
            })
            .collect(),
        drivers: (0..60).map(|_| item()).collect(),
        tradeoffs: (0..60).map(|_| item()).collect(),
        flip: huge(5000),
        sections: (0..20)
            .map(|i| CardSection {
                title: format!("section {i}"),
                items: vec![item(), item()],
            })
            .collect(),
        footer: huge(5000),
    };
    let m = render::card(&card);
    assert_within_limits(&m);
    let blocks = m.blocks_json();
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), limits::HEADER_TEXT);
    assert!(header.ends_with('…'));
    assert!(blocks.as_array().unwrap().len() <= limits::BLOCKS);
}

#[test]
fn truncation_never_splits_an_entity() {
    let t = render::truncate(&render::escape("a&b"), 4);
    assert_eq!(t, "a…");
    assert_eq!(render::truncate("short", 10), "short");
    assert_eq!(render::truncate("abcdef", 4).chars().count(), 4);
}
