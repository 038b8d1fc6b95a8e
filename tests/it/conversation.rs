//! The conversation state machine: order, conditional questions, free text, clarifying
//! re-asks, commands, and who answered what.

use crate::common;

use tradeoff::core::conversation::{Conversation, Event, Input, Next, State, Via};
use tradeoff::core::ids::UserRef;
use tradeoff::core::pack::Pack;
use tradeoff::core::text::Command;

fn ada() -> UserRef {
    UserRef::new("U1", "Ada")
}

fn bob() -> UserRef {
    UserRef::new("U2", "Bob")
}

fn text(c: &mut Conversation, pack: &Pack, s: &str) -> (Event, Next) {
    let t = c.step(pack, Input::Text(s.into()), &ada(), 100);
    (t.event, t.next)
}

fn current(c: &Conversation, pack: &Pack) -> String {
    match c.state {
        State::Asking(q) => pack.questions[q].id.to_string(),
        other => format!("{other:?}"),
    }
}

#[test]
fn asks_in_order_and_finishes_with_a_result() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    assert_eq!(current(&c, &pack), "workload");
    let replies = [
        "realtime",
        "high",
        "none",
        "javascript",
        "experienced",
        "one_language",
        "event_driven",
        "months",
        "standard",
        "web_product",
        "rapid_spiky",
    ];
    for (i, r) in replies.iter().enumerate() {
        let (event, next) = text(&mut c, &pack, r);
        assert!(
            matches!(event, Event::Answered { .. }),
            "reply {i} {r}: {event:?}"
        );
        if i + 1 < replies.len() {
            assert!(matches!(next, Next::Ask(_)));
        } else {
            assert_eq!(next, Next::Finished);
        }
    }
    assert_eq!(c.outcome(&pack).recommendation.as_deref(), Some("nodejs"));
}

#[test]
fn a_question_earlier_answers_made_irrelevant_is_not_asked() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    text(&mut c, &pack, "api");
    text(&mut c, &pack, "low");
    text(&mut c, &pack, "none");
    assert_eq!(
        current(&c, &pack),
        "team_skills",
        "ml_runtime is only asked when there is ML"
    );

    let mut c = Conversation::start(&pack, 1, ada(), 0);
    text(&mut c, &pack, "api");
    text(&mut c, &pack, "low");
    text(&mut c, &pack, "core");
    assert_eq!(current(&c, &pack), "ml_runtime");
}

#[test]
fn free_text_label_id_and_number_select_a_choice() {
    let pack = common::shipped();
    for (reply, want) in [
        ("We're building a live chat with notifications", "realtime"),
        ("Real-time", "realtime"),
        ("realtime", "realtime"),
        ("REAL-TIME!", "realtime"),
        ("API / CRUD", "api"),
        ("2", "api"),
        ("data_ml", "data_ml"),
        ("mostly image and video processing", "cpu_heavy"),
    ] {
        let mut c = Conversation::start(&pack, 1, ada(), 0);
        let (event, _) = text(&mut c, &pack, reply);
        let Event::Answered {
            question,
            choice,
            via,
        } = event
        else {
            panic!("{reply:?} was not taken: {event:?}");
        };
        assert_eq!(
            pack.questions[question].choices[choice].id.as_str(),
            want,
            "{reply:?}"
        );
        assert_eq!(via, Via::Text);
    }
}

#[test]
fn ambiguous_text_is_reasked_with_the_candidates_never_guessed() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    let (event, next) = text(&mut c, &pack, "live analytics");
    let Event::NotUnderstood {
        question,
        candidates,
    } = event
    else {
        panic!("{event:?}")
    };
    assert_eq!(pack.questions[question].id.as_str(), "workload");
    let ids: Vec<&str> = candidates
        .iter()
        .map(|&i| pack.questions[question].choices[i].id.as_str())
        .collect();
    assert_eq!(ids, ["realtime", "data_ml"]);
    assert_eq!(next, Next::Ask(question), "the same question stays open");
    assert!(
        c.answers.iter().all(Option::is_none),
        "nothing was recorded"
    );
    let said = tradeoff::core::messages::event_text(
        &pack,
        &Event::NotUnderstood {
            question,
            candidates,
        },
    )
    .unwrap();
    assert!(
        said.contains("Real-time") && said.contains("Data and ML"),
        "{said}"
    );
}

#[test]
fn text_matching_nothing_is_reasked_with_every_choice() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    let (event, _) = text(&mut c, &pack, "bananas");
    assert!(
        matches!(&event, Event::NotUnderstood { candidates, .. } if candidates.is_empty()),
        "{event:?}"
    );
    let said = tradeoff::core::messages::event_text(&pack, &event).unwrap();
    for choice in &pack.questions[0].choices {
        assert!(
            said.contains(&choice.label),
            "{said} lacks {}",
            choice.label
        );
    }
}

#[test]
fn back_changes_the_previous_answer() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    text(&mut c, &pack, "realtime");
    text(&mut c, &pack, "high");
    let (event, next) = text(&mut c, &pack, "back");
    assert_eq!(event, Event::WentBack { question: 1 });
    assert_eq!(next, Next::Ask(1));
    assert!(c.answers[1].is_none());
    text(&mut c, &pack, "low");
    assert_eq!(c.answers[1].as_ref().unwrap().choice, 0);
    assert_eq!(current(&c, &pack), "ai_ml");
    // Back to the start, then nothing more to undo.
    text(&mut c, &pack, "back");
    text(&mut c, &pack, "back");
    let (event, next) = text(&mut c, &pack, "back");
    assert_eq!(event, Event::NothingToUndo);
    assert_eq!(next, Next::Ask(0));
}

#[test]
fn skip_moves_on_and_back_returns_to_a_skipped_question() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    let (event, next) = text(&mut c, &pack, "skip");
    assert_eq!(event, Event::Skipped { question: 0 });
    assert_eq!(next, Next::Ask(1));
    text(&mut c, &pack, "back");
    assert_eq!(current(&c, &pack), "workload");
    // Skipping everything finishes with a low-confidence result.
    let mut last = Next::Ask(0);
    for _ in 0..20 {
        let (_, n) = text(&mut c, &pack, "skip");
        last = n;
        if n == Next::Finished {
            break;
        }
    }
    assert_eq!(last, Next::Finished);
    assert_eq!(c.outcome(&pack).confidence.as_str(), "low");
}

#[test]
fn restart_clears_everything_and_cancel_ends_it() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    text(&mut c, &pack, "realtime");
    text(&mut c, &pack, "high");
    let (event, next) = text(&mut c, &pack, "start over");
    assert_eq!(event, Event::Restarted);
    assert_eq!(next, Next::Ask(0));
    assert!(c.answers.iter().all(Option::is_none) && c.history.is_empty());

    let t = c.step(&pack, Input::Command(Command::Cancel), &ada(), 5);
    assert_eq!((t.event, t.next), (Event::Cancelled, Next::Cancelled));
    let (event, next) = text(&mut c, &pack, "realtime");
    assert_eq!((event, next), (Event::AlreadyOver, Next::Cancelled));
}

#[test]
fn buttons_record_who_answered_and_stale_buttons_are_refused() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    let click = |question: &str, choice: &str| Input::Choice {
        question: question.into(),
        choice: choice.into(),
    };
    let t = c.step(&pack, click("workload", "api"), &bob(), 42);
    assert_eq!(
        t.event,
        Event::Answered {
            question: 0,
            choice: 1,
            via: Via::Button
        }
    );
    let recorded = c.answers[0].as_ref().unwrap();
    assert_eq!(
        (recorded.by.name.as_str(), recorded.at, recorded.via),
        ("Bob", 42, Via::Button)
    );

    // The same button again (a double click): the question is no longer current.
    let t = c.step(&pack, click("workload", "api"), &bob(), 43);
    assert_eq!(t.event, Event::Stale { question: Some(0) });
    assert_eq!(c.history.len(), 1, "acted on once");

    // Ada answers the next one in text: each answer keeps its own author.
    text(&mut c, &pack, "over 10k");
    assert_eq!(c.answers[1].as_ref().unwrap().by.name, "Ada");
    assert_eq!(c.answers[0].as_ref().unwrap().by.name, "Bob");
}

#[test]
fn the_three_option_fixture_pack_converses_with_no_code_change() {
    let (_, pack) = tradeoff::packs::read_dir(&common::fixture_root())
        .unwrap()
        .into_iter()
        .find(|(s, _)| s.id.as_str() == "queue-choice")
        .unwrap();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    for reply in ["huge", "yes", "forever", "simple", "platform"] {
        let (event, _) = text(&mut c, &pack, reply);
        assert!(
            matches!(event, Event::Answered { .. }),
            "{reply}: {event:?}"
        );
    }
    assert_eq!(c.next(), Next::Finished);
    let outcome = c.outcome(&pack);
    assert_eq!(outcome.recommendation.as_deref(), Some("kafka"));
    assert_eq!(outcome.scores.len(), 3);

    // Without replay, the retention question is not asked.
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    text(&mut c, &pack, "hundreds");
    text(&mut c, &pack, "no");
    assert_eq!(current(&c, &pack), "routing");
    text(&mut c, &pack, "simple");
    text(&mut c, &pack, "nobody");
    assert_eq!(c.outcome(&pack).recommendation.as_deref(), Some("sqs"));
}

/// A command button acts on the question it was shown with, and only while that question
/// is current: a second press of Skip (a double click, an old message) is stale, and so
/// is any press once the conversation has ended.
#[test]
fn a_command_button_acts_only_on_its_own_question() {
    let pack = common::shipped();
    let mut c = Conversation::start(&pack, 1, ada(), 0);
    let skip = |question: &str| Input::Pressed {
        question: question.into(),
        command: Command::Skip,
    };
    let t = c.step(&pack, skip("workload"), &ada(), 1);
    assert_eq!(t.event, Event::Skipped { question: 0 });
    let t = c.step(&pack, skip("workload"), &bob(), 2);
    assert_eq!(t.event, Event::Stale { question: Some(0) });
    assert_eq!(current(&c, &pack), "concurrency", "one question skipped");
    let t = c.step(&pack, skip("no-such-question"), &ada(), 3);
    assert_eq!(t.event, Event::Stale { question: None });
    let cancel = Input::Pressed {
        question: "concurrency".into(),
        command: Command::Cancel,
    };
    assert_eq!(c.step(&pack, cancel, &ada(), 4).event, Event::Cancelled);
    let restart = Input::Pressed {
        question: "concurrency".into(),
        command: Command::Restart,
    };
    let t = c.step(&pack, restart, &ada(), 5);
    assert_eq!(t.event, Event::Stale { question: Some(1) });
    assert_eq!(c.state, State::Cancelled);
}
