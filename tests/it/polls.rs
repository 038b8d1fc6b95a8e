//! Team polls on a real sled store with a controlled clock: open, answer, change an
//! answer, close (only by the creator or an admin), deadlines, recurring rounds across a
//! daylight-saving change, restarts, downtime, crashes while posting, anonymity, isolation.

use crate::common;

use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tradeoff::app::{App, AppError, UserError};
use tradeoff::core::ids::{ChannelId, Platform, UserRef, WorkspaceId};
use tradeoff::core::poll::{Poll, PollEffect};
use tradeoff::polls::{ChannelKey, PollAction, PollPresenter, PollShown, PollView};
use tradeoff::store::NewOutbox;

/// Queues poll effects with what a reader of the poll saw when they were queued (its status
/// line), so tests can read what would be posted.
struct Recorder;

impl PollPresenter for Recorder {
    fn place(&self, poll: &Poll, effect: PollEffect) -> NewOutbox {
        let kind = match &effect {
            PollEffect::Message { .. } => "opened",
            PollEffect::Refresh { round } if *round == poll.round && poll.is_open() => "progress",
            PollEffect::Refresh { .. } => "closed",
            PollEffect::Card { .. } => "summary",
            PollEffect::Chart { .. } => "chart",
            PollEffect::Remind { .. } => "reminder",
        };
        let mut entry = PollShown::entry(poll, effect, format!("poll:{}", poll.id), |r| {
            format!("poll:{}:{r}", poll.id)
        });
        let mut op = entry.op.to_value().unwrap();
        op["kind"] = json!(kind);
        op["status"] = json!(poll.status_line());
        entry.op = op.into();
        entry
    }
}
fn user(id: &str) -> UserRef {
    UserRef::new(id, format!("user {id}"))
}

fn channel(ws: &str, ch: &str) -> ChannelKey {
    (Platform::Slack, WorkspaceId::new(ws), ChannelId::new(ch))
}

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(q, c)| ((*q).to_owned(), (*c).to_owned()))
        .collect()
}

fn open(app: &App, ch: ChannelKey, args: &str, now: i64) -> Poll {
    match app
        .poll_command(ch, &user("U0"), false, args, None, now, &Recorder)
        .expect("poll opens")
    {
        PollAction::Opened(p) => p,
        _ => panic!("expected a new poll"),
    }
}

/// The ops queued so far of one kind, each with its `body`: the status line when it was
/// queued, or for a summary and a reminder what they show when sent.
fn queued(app: &App, kind: &str) -> Vec<serde_json::Value> {
    app.store
        .outbox_pending(Platform::Slack)
        .unwrap()
        .into_iter()
        .map(|e| e.message.op.to_value().unwrap())
        .filter(|op| op["kind"] == kind)
        .map(|mut op| {
            let shown = PollShown::of(&op).unwrap().unwrap();
            op["body"] = match app.poll_view(&shown) {
                Ok(PollView::Card { record, card }) => json!({
                    "round": record.round, "late": record.late_by, "card": card.to_text(),
                    "recommendation": card.pick, "respondents": record.tally.respondents,
                }),
                Ok(PollView::Remind { answered, .. }) => json!(answered),
                _ => op["status"].clone(),
            };
            op
        })
        .collect()
}

fn lookup(p: Platform) -> Option<Arc<dyn PollPresenter>> {
    (p == Platform::Slack).then(|| Arc::new(Recorder) as Arc<dyn PollPresenter>)
}

const T0: i64 = 1_796_000_000; // 2026-11-30T...Z

#[test]
fn members_answer_one_changes_and_the_creator_closes() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let poll = open(&app, channel("T1", "C1"), "", T0);
    for (u, w) in [("U1", "realtime"), ("U2", "realtime"), ("U3", "data_ml")] {
        app.answer_poll(
            &poll.id,
            &user(u),
            answers(&[("workload", w), ("concurrency", "high")]),
            T0 + 10,
            &Recorder,
        )
        .unwrap();
    }
    // U3 changes their mind: their last answers count, and they are still one member.
    let p = app
        .answer_poll(
            &poll.id,
            &user("U3"),
            answers(&[("workload", "realtime"), ("concurrency", "high")]),
            T0 + 20,
            &Recorder,
        )
        .unwrap();
    assert_eq!(p.respondents, 3);
    assert_eq!(
        queued(&app, "progress").len(),
        3,
        "the count is shown as people answer"
    );
    for progress in queued(&app, "progress") {
        let line = progress["body"].as_str().unwrap();
        assert!(
            !line.contains("realtime") && !line.contains("Real-time"),
            "answers never show before the close: {line}"
        );
    }
    // Someone else may not close it; an admin may.
    let err = app
        .close_poll(channel("T1", "C1"), &user("U1"), false, T0 + 30, &Recorder)
        .unwrap_err();
    assert!(
        matches!(err, AppError::User(UserError::NotPollOwner { .. })),
        "{err}"
    );
    assert!(err.user_text().contains("user U0"), "{}", err.user_text());
    let (closed, result) = app
        .close_poll(channel("T1", "C1"), &user("U0"), false, T0 + 30, &Recorder)
        .unwrap();
    assert_eq!(result.team.respondents, 3);
    assert_eq!(result.card.pick.as_deref(), Some("nodejs"));
    assert_eq!(result.team.split, vec![("Node.js".to_owned(), 3)]);
    assert!(result.card.to_text().contains("3 teammates answered"));
    // Not anonymous: the card names who answered, each once.
    let rests_on = result.card.sections.last().unwrap();
    assert_eq!(rests_on.title, "What this rests on");
    let by = rests_on
        .items
        .iter()
        .find(|i| i.title == "Answered by")
        .unwrap();
    for u in ["user U1", "user U2", "user U3"] {
        assert_eq!(by.body.matches(u).count(), 1, "{}", by.body);
    }
    assert_eq!(closed.state, tradeoff::core::poll::PollState::Closed);
    // Closed: no more answers, and nothing to close.
    let late = app.answer_poll(
        &poll.id,
        &user("U4"),
        answers(&[("workload", "api")]),
        T0 + 40,
        &Recorder,
    );
    assert!(matches!(late, Err(AppError::User(UserError::PollClosed))));
    assert!(matches!(
        app.close_poll(channel("T1", "C1"), &user("U0"), false, T0 + 50, &Recorder),
        Err(AppError::User(UserError::NoPoll))
    ));

    // The round is kept: after a restart its card is the one made at the close, and it
    // is shown only with the pack it was counted with.
    drop(app);
    let app = common::app_in(dir.path(), &common::root());
    let record = app.store.round(&poll.id, 1).unwrap().unwrap();
    let pack = app.catalog.get(&record.pack, record.pack_version).unwrap();
    assert_eq!(record.card(&pack).to_text(), result.card.to_text());
    let mut other = (*pack).clone();
    other.questions.pop();
    assert!(record.fits(&pack).is_ok());
    assert!(record.fits(&other).is_err());
}

#[test]
fn an_admin_can_close_and_a_bad_answer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let poll = open(&app, channel("T1", "C1"), "for 2d", T0);
    let bad = app.answer_poll(
        &poll.id,
        &user("U1"),
        answers(&[("workload", "blockchain")]),
        T0,
        &Recorder,
    );
    assert!(
        matches!(&bad, Err(AppError::User(UserError::BadAnswer(m))) if m.contains("blockchain"))
    );
    match app
        .poll_command(
            channel("T1", "C1"),
            &user("U9"),
            true,
            "close",
            None,
            T0 + 1,
            &Recorder,
        )
        .unwrap()
    {
        PollAction::Closed(_, result) => assert_eq!(result.team.respondents, 0),
        _ => panic!("close expected"),
    }
}

#[test]
fn polls_in_two_channels_or_workspaces_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let a = open(&app, channel("T1", "C1"), "", T0);
    let b = open(&app, channel("T1", "C2"), "", T0);
    let c = open(&app, channel("T2", "C1"), "", T0);
    assert!(a.id != b.id && b.id != c.id);
    let again = app.poll_command(
        channel("T1", "C1"),
        &user("U0"),
        false,
        "",
        None,
        T0,
        &Recorder,
    );
    assert!(matches!(
        again,
        Err(AppError::User(UserError::PollAlreadyOpen))
    ));
    for u in ["U1", "U2"] {
        app.answer_poll(
            &a.id,
            &user(u),
            answers(&[("workload", "data_ml")]),
            T0,
            &Recorder,
        )
        .unwrap();
    }
    app.answer_poll(
        &c.id,
        &user("U1"),
        answers(&[("workload", "realtime")]),
        T0,
        &Recorder,
    )
    .unwrap();
    let (_, rb) = app
        .close_poll(channel("T1", "C2"), &user("U0"), false, T0, &Recorder)
        .unwrap();
    let (_, rc) = app
        .close_poll(channel("T2", "C1"), &user("U0"), false, T0, &Recorder)
        .unwrap();
    let (_, ra) = app
        .close_poll(channel("T1", "C1"), &user("U0"), false, T0, &Recorder)
        .unwrap();
    assert_eq!(
        (
            ra.team.respondents,
            rb.team.respondents,
            rc.team.respondents
        ),
        (2, 0, 1)
    );
    assert_eq!(ra.card.pick.as_deref(), Some("python"));
    assert_eq!(rc.card.pick.as_deref(), Some("nodejs"));
}

#[test]
fn an_anonymous_poll_stores_no_user_id_with_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let poll = open(&app, channel("T1", "C1"), "anonymous for 1d", T0);
    assert!(poll.spec.anonymous);
    for u in ["UALICE123", "UBOB45678"] {
        app.answer_poll(
            &poll.id,
            &user(u),
            answers(&[("workload", "api")]),
            T0,
            &Recorder,
        )
        .unwrap();
    }
    // A member can still change their answers: same respondent, still two.
    let p = app
        .answer_poll(
            &poll.id,
            &user("UALICE123"),
            answers(&[("workload", "realtime")]),
            T0,
            &Recorder,
        )
        .unwrap();
    assert_eq!(p.respondents, 2);
    let raw = |app: &App| -> String {
        let responses = app.store.poll_responses(&poll.id, 1).unwrap();
        assert_eq!(responses.len(), 2);
        responses
            .iter()
            .map(|(k, r)| format!("{k} {}", serde_json::to_string(r).unwrap()))
            .collect()
    };
    let text = raw(&app);
    assert!(
        !text.contains("UALICE123") && !text.contains("UBOB45678") && !text.contains("user U"),
        "{text}"
    );
    // The summary names nobody either.
    let (_, result) = app
        .close_poll(channel("T1", "C1"), &user("U0"), false, T0 + 30, &Recorder)
        .unwrap();
    let card = result.card.to_text();
    assert!(
        !card.contains("Answered by") && !card.contains("user U"),
        "{card}"
    );
    drop(app);
    // Read the sled trees directly: no user id anywhere in the responses.
    let db = tradeoff::store::sled_config(&dir.path().join("db"))
        .open()
        .unwrap();
    let tree = db.open_tree("poll_responses").unwrap();
    let mut bytes = Vec::new();
    for item in tree.iter() {
        let (k, v) = item.unwrap();
        bytes.extend_from_slice(&k);
        bytes.extend_from_slice(&v);
    }
    let dump = String::from_utf8_lossy(&bytes);
    assert!(
        dump.contains("realtime") && dump.contains("api"),
        "the answers are there"
    );
    assert!(
        !dump.contains("UALICE123") && !dump.contains("UBOB45678"),
        "{dump}"
    );
}

#[test]
fn the_scheduler_closes_at_the_deadline_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let poll = open(&app, channel("T1", "C1"), "for 2d", T0);
    app.answer_poll(
        &poll.id,
        &user("U1"),
        answers(&[("workload", "realtime")]),
        T0 + 5,
        &Recorder,
    )
    .unwrap();
    assert_eq!(
        app.run_due_polls(T0 + 2 * 86_400 - 1, &lookup),
        (0, Some(T0 + 2 * 86_400))
    );
    let (done, next) = app.run_due_polls(T0 + 2 * 86_400, &lookup);
    assert_eq!((done, next), (1, None));
    assert_eq!(app.run_due_polls(T0 + 2 * 86_400 + 60, &lookup).0, 0);
    let summaries = queued(&app, "summary");
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        summaries[0]["body"]["late"],
        serde_json::Value::Null,
        "on time"
    );
    assert_eq!(summaries[0]["body"]["recommendation"], "nodejs");
}

#[test]
fn a_restart_before_the_deadline_keeps_the_poll_and_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let app = common::app_in(dir.path(), &common::root());
        let poll = open(&app, channel("T1", "C1"), "for 1d", T0);
        app.answer_poll(
            &poll.id,
            &user("U1"),
            answers(&[("workload", "data_ml"), ("ai_ml", "core")]),
            T0 + 5,
            &Recorder,
        )
        .unwrap();
        poll.id
    };
    let app = common::app_in(dir.path(), &common::root());
    assert_eq!(app.run_due_polls(T0 + 86_400, &lookup).0, 1);
    let summary = &queued(&app, "summary")[0];
    assert_eq!(summary["poll"], id.as_str());
    assert_eq!(summary["body"]["respondents"], 1);
    assert_eq!(summary["body"]["recommendation"], "python");
}

#[test]
fn downtime_across_the_deadline_gives_one_late_summary() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = common::app_in(dir.path(), &common::root());
        open(
            &app,
            channel("T1", "C1"),
            "until 2026-12-04 17:00 tz Europe/Berlin",
            T0,
        );
    }
    // Back three hours after the deadline (16:00 UTC).
    let deadline = chrono::DateTime::parse_from_rfc3339("2026-12-04T16:00:00Z")
        .unwrap()
        .timestamp();
    let app = common::app_in(dir.path(), &common::root());
    assert_eq!(app.run_due_polls(deadline + 3 * 3600, &lookup).0, 1);
    assert_eq!(app.run_due_polls(deadline + 3 * 3600 + 30, &lookup).0, 0);
    let summaries = queued(&app, "summary");
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0]["body"]["late"], 3 * 3600);
    let card = summaries[0]["body"]["card"].as_str().unwrap();
    assert!(
        card.contains("This summary is late") && card.contains("3 h 0 min late"),
        "{card}"
    );
}

#[test]
fn a_crash_while_posting_neither_loses_nor_doubles_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = common::app_in(dir.path(), &common::root());
        open(&app, channel("T1", "C1"), "for 1h", T0);
        // The round closes and its summary is queued in the same write; the process dies
        // before the outbox posts it.
        assert_eq!(app.run_due_polls(T0 + 3600, &lookup).0, 1);
    }
    let app = common::app_in(dir.path(), &common::root());
    assert_eq!(
        app.run_due_polls(T0 + 3700, &lookup).0,
        0,
        "the close is not redone"
    );
    assert_eq!(
        queued(&app, "summary").len(),
        1,
        "and the summary is still queued, once"
    );
}

#[test]
fn recurring_rounds_report_the_change_and_follow_daylight_saving() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    // Wednesday 2026-10-28 12:00 UTC.
    let start = chrono::DateTime::parse_from_rfc3339("2026-10-28T12:00:00Z")
        .unwrap()
        .timestamp();
    let poll = open(
        &app,
        channel("T1", "C1"),
        "every friday 16:00 tz America/New_York remind 2h",
        start,
    );
    let first = chrono::DateTime::parse_from_rfc3339("2026-10-30T20:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(poll.closes_at, Some(first), "16:00 EDT");
    assert_eq!(poll.remind_at, Some(first - 7200));
    for u in ["U1", "U2"] {
        app.answer_poll(
            &poll.id,
            &user(u),
            answers(&[("workload", "data_ml"), ("ai_ml", "core")]),
            start,
            &Recorder,
        )
        .unwrap();
    }
    app.answer_poll(
        &poll.id,
        &user("U3"),
        answers(&[("workload", "realtime")]),
        start,
        &Recorder,
    )
    .unwrap();

    // The reminder, once, naming who already answered.
    assert_eq!(app.run_due_polls(first - 7200, &lookup).0, 1);
    assert_eq!(app.run_due_polls(first - 7000, &lookup).0, 0);
    let reminders = queued(&app, "reminder");
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0]["body"].as_array().unwrap().len(), 3);

    assert_eq!(app.run_due_polls(first, &lookup).0, 1);
    let round2 = app.store.poll(&poll.id).unwrap().unwrap();
    assert_eq!(round2.round, 2);
    assert_eq!(round2.respondents, 0);
    // Clocks fall back on 2026-11-01: the next Friday 16:00 is EST, 21:00 UTC.
    let second = chrono::DateTime::parse_from_rfc3339("2026-11-06T21:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(round2.closes_at, Some(second));

    for u in ["U1", "U2", "U3"] {
        app.answer_poll(
            &poll.id,
            &user(u),
            answers(&[("workload", "realtime"), ("concurrency", "high")]),
            first + 60,
            &Recorder,
        )
        .unwrap();
    }
    assert_eq!(
        app.run_due_polls(second - 7200, &lookup).0,
        1,
        "round 2 has its own reminder"
    );
    assert_eq!(app.run_due_polls(second, &lookup).0, 1);
    assert_eq!(queued(&app, "reminder").len(), 2);
    let summaries = queued(&app, "summary");
    let rounds: Vec<u64> = summaries
        .iter()
        .map(|s| s["body"]["round"].as_u64().unwrap())
        .collect();
    assert_eq!(rounds, [1, 2]);
    assert_eq!(summaries[0]["body"]["recommendation"], "python");
    assert_eq!(summaries[1]["body"]["recommendation"], "nodejs");
    let card = summaries[1]["body"]["card"].as_str().unwrap();
    assert!(card.contains("Since round 1"), "{card}");
    assert!(
        card.contains("Concurrency and I/O performance up, AI and data ecosystem down"),
        "{card}"
    );
    assert!(
        card.contains("Node.js now leads by 11 points (was Python by 7)"),
        "{card}"
    );
    assert!(
        card.contains("recommendation moved from Python to Node.js"),
        "{card}"
    );
    assert!(card.contains("(round 2)"), "{card}");
}

#[test]
fn schedules_that_cannot_be_read_get_examples_not_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    for (args, mentions) in [
        ("for two days", "two"),
        ("until 04/12/2026", "04/12/2026"),
        ("every fryday 16:00", "fryday"),
        ("every friday at 4", "at"),
        ("for 2d tz Mars/Olympus", "Mars/Olympus"),
        ("for 2d until 2026-12-04", "one of"),
        ("remind 2h", "deadline"),
        ("sometime soon", "sometime"),
    ] {
        let err = app
            .poll_command(
                channel("T1", "C1"),
                &user("U0"),
                false,
                args,
                None,
                T0,
                &Recorder,
            )
            .err()
            .unwrap_or_else(|| panic!("{args:?} should be refused"));
        let text = err.user_text();
        assert!(text.contains(mentions), "{args:?}: {text}");
        assert!(
            text.contains("Examples:") && text.contains("poll every friday 16:00"),
            "{args:?}: {text}"
        );
    }
    // Good ones, with the pack named, and the user's zone as the default.
    let p = match app
        .poll_command(
            channel("T1", "C9"),
            &user("U0"),
            false,
            "node-vs-python for 1d12h anonymous",
            Some("Asia/Tokyo"),
            T0,
            &Recorder,
        )
        .unwrap()
    {
        PollAction::Opened(p) => p,
        _ => unreachable!(),
    };
    assert_eq!(p.closes_at, Some(T0 + 129_600));
    assert_eq!(p.tz, "Asia/Tokyo");
    assert!(p.spec.anonymous);
}

#[test]
fn answers_racing_the_close_never_reopen_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(common::app_in(dir.path(), &common::root()));
    for round in 0..20 {
        let ch = channel("T1", &format!("C{round}"));
        let poll = open(&app, ch.clone(), "for 1h", T0);
        let answering: Vec<_> = (0..4)
            .map(|t| {
                let (app, id) = (app.clone(), poll.id.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let _ = app.answer_poll(
                            &id,
                            &user(&format!("U{t}-{i}")),
                            answers(&[("workload", "api")]),
                            T0 + 1,
                            &Recorder,
                        );
                    }
                })
            })
            .collect();
        app.run_due_polls(T0 + 3600, &lookup);
        for t in answering {
            t.join().unwrap();
        }
        let stored = app.store.poll(&poll.id).unwrap().unwrap();
        assert_eq!(
            stored.state,
            tradeoff::core::poll::PollState::Closed,
            "round {round}: the close stands"
        );
    }
}

/// Two members answer at the same moment, with changes on two threads that both read the
/// poll before either saves: both answers count, and the participation count says two.
#[test]
fn members_answering_at_once_are_both_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stall) = common::stalling_app_in(dir.path(), &common::root());
    let app = Arc::new(app);
    let poll = open(&app, channel("T1", "C1"), "", 1_000);
    stall.meet(2);
    let answering: Vec<_> = ["U2", "U3"]
        .into_iter()
        .map(|member| {
            let (app, id) = (app.clone(), poll.id.clone());
            std::thread::spawn(move || {
                app.answer_poll(
                    &id,
                    &user(member),
                    answers(&[("workload", "realtime")]),
                    1_010,
                    &Recorder,
                )
                .map(|_| ())
                .map_err(|e| e.user_text())
            })
        })
        .collect();
    for t in answering {
        t.join().unwrap().unwrap();
    }
    let stored = app.store.poll(&poll.id).unwrap().unwrap();
    assert_eq!(
        stored.respondents, 2,
        "neither answer overwrote the other's count"
    );
    assert_eq!(app.store.poll_responses(&poll.id, 1).unwrap().len(), 2);
    let counts: Vec<_> = queued(&app, "progress")
        .iter()
        .map(|o| o["body"].clone())
        .collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_ne!(counts[0], counts[1], "each says its own count: {counts:?}");
}

/// A channel has one open poll: a second one, made from a read that found none (two opens
/// racing), is refused until the first closes.
#[test]
fn a_second_poll_made_from_a_stale_read_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let ch = channel("T1", "C1");
    let first = open(&app, ch.clone(), "", 1_000);
    let racing = Poll {
        id: tradeoff::core::ids::PollId::new("0000000000000002"),
        version: 0,
        ..first.clone()
    };
    let again = || {
        app.store.commit(tradeoff::store::Batch {
            poll: Some(racing.clone()),
            ..Default::default()
        })
    };
    assert!(matches!(again(), Err(tradeoff::store::StoreError::Stale)));
    assert!(app.store.poll(&racing.id).unwrap().is_none());
    app.close_poll(ch, &user("U0"), false, 2_000, &Recorder)
        .unwrap();
    again().expect("the channel's poll has closed");
}

/// Opens a poll with `args`, has three members answer (one named like a formula), closes
/// it, and returns the poll and its data directory's app.
fn answered_and_closed(dir: &std::path::Path, args: &str) -> (App, Poll) {
    let app = common::app_in(dir, &common::root());
    let poll = open(&app, channel("T1", "C1"), args, T0);
    for (u, name, w) in [
        ("U1", "Ada", "realtime"),
        ("U2", "=HYPERLINK(\"http://x\")", "realtime"),
        ("U3", "Cy", "data_ml"),
    ] {
        app.answer_poll(
            &poll.id,
            &UserRef::new(u, name),
            answers(&[("workload", w), ("concurrency", "high")]),
            T0 + 10,
            &Recorder,
        )
        .unwrap();
    }
    app.close_poll(channel("T1", "C1"), &user("U0"), false, T0 + 30, &Recorder)
        .unwrap();
    (app, poll)
}

fn read_csv(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn an_export_has_a_row_per_response_and_the_teams_with_formulas_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let (app, poll) = answered_and_closed(dir.path(), "for 1d");
    let (export, csv) = app.export(&poll.id, None).unwrap();
    let header: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(&header[..4], ["user_id", "name", "answered_at", "row"]);
    assert!(header.contains(&"workload".to_owned()));
    assert!(header.contains(&"score: Node.js".to_owned()));
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 4, "three responses and the team: {csv}");
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(names.contains(&"'=HYPERLINK(\"http://x\")"), "{names:?}");
    assert!(rows.iter().all(|r| !r.iter().any(|c| c.starts_with('='))));
    let workload = header.iter().position(|h| h == "workload").unwrap();
    assert!(rows[..3].iter().any(|r| r[workload] == "Data and ML"));
    let team = rows.last().unwrap();
    assert_eq!(team[3], "team (3 answered)");
    assert_eq!(team[header.len() - 3], export.team.recommendation);
    // The JSON says the same.
    let json: serde_json::Value = serde_json::from_str(&export.to_json()).unwrap();
    assert_eq!(json["responses"].as_array().unwrap().len(), 3);
    assert_eq!(json["team"]["respondents"], 3);
    assert!(json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["user_id"] == "U1" && r["recommendation"] == "Node.js"));
}

#[test]
fn an_anonymous_polls_export_carries_no_ids_or_names() {
    let dir = tempfile::tempdir().unwrap();
    let (app, poll) = answered_and_closed(dir.path(), "anonymous for 1d");
    let (export, csv) = app.export(&poll.id, None).unwrap();
    let json = export.to_json();
    for who in ["U1", "U2", "U3", "Ada", "Cy", "HYPERLINK"] {
        assert!(!csv.contains(who), "{who} in {csv}");
        assert!(!json.contains(who), "{who} in {json}");
    }
    let rows = read_csv(&csv);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][0], "response 1");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["user_id"].is_null() && r["name"].is_null() && r["answered_at"] == 0));
}

#[test]
fn tradeoff_export_reads_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (app, poll) = answered_and_closed(dir.path(), "for 1d");
    drop(app);
    let out = common::binary()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["export", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read_csv(&String::from_utf8(out.stdout).unwrap()).len(), 4);
    let out = common::binary()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["export", "--format", "json", "--poll"])
        .arg(poll.id.as_str())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["poll"], poll.id.as_str());
    let out = common::binary()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["export", "--poll", "nosuchpoll"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
