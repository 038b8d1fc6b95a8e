//! A whole Slack conversation through the real HTTP endpoints (signed payloads in Slack's
//! documented shapes) against a stand-in Web API on loopback; duplicates, retries and a
//! restart between acknowledgement and post.

use crate::common;

use crate::slack_support::*;
use serde_json::{json, Value};
use tempfile::TempDir;
use tradeoff::core::ids::Platform;
use tradeoff::outbox::Clock;
use tradeoff::slack::render::limit_violations;

const CHANNEL: &str = "C2147483705";

/// The posted questions so far (messages with action blocks), oldest first.
fn questions(s: &StandIn) -> Vec<Call> {
    s.accepted()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && !buttons(c).is_empty())
        .collect()
}

fn latest_question(s: &StandIn) -> Call {
    questions(s).pop().expect("a question was posted")
}

/// The question id a posted question is about (from its block_id).
fn question_id(c: &Call) -> String {
    buttons(c)[0].0.split('|').nth(2).unwrap().to_owned()
}

async fn click_choice(h: &Harness, s: &StandIn, value: &str, user: &str, action_ts: &str) {
    let q = latest_question(s);
    let button = buttons(&q)
        .into_iter()
        .find(|(_, a, v)| a.starts_with("choice|") && v == value)
        .unwrap_or_else(|| panic!("no button {value} in {}", q.body));
    let payload = click(&q, &button, user, action_ts);
    assert_eq!(h.interact(&payload).await, 200);
    h.deliver().await;
}

fn all_bodies(s: &StandIn) -> String {
    s.calls()
        .iter()
        .map(|c| c.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_whole_conversation_in_a_thread_ends_with_the_card_broadcast() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;

    let ack = h.command("start", "U1").await;
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(
        stand_in.calls().is_empty(),
        "nothing is posted before the outbox runs"
    );
    h.deliver().await;

    let calls = stand_in.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let parent = &calls[0];
    assert_eq!(parent.method, "chat.postMessage");
    assert_eq!(parent.body["channel"], CHANNEL);
    assert!(parent.body.get("thread_ts").is_none());
    assert!(parent.body["text"]
        .as_str()
        .unwrap()
        .starts_with("<@U1> started a backend decision, answer in the thread"));
    let parent_ts = parent.ts.clone().unwrap();
    assert_eq!(calls[1].body["thread_ts"], parent_ts.as_str());
    assert_eq!(question_id(&calls[1]), "workload");
    let hint = calls[1].body["blocks"].to_string();
    assert!(hint.contains("reply in your own words"), "{hint}");

    // 1. A button, clicked by someone other than the starter.
    click_choice(&h, &stand_in, "realtime", "U2", "1700000001.000001").await;
    let update = stand_in
        .accepted()
        .into_iter()
        .find(|c| c.method == "chat.update")
        .expect("the answered question is updated");
    assert_eq!(update.body["ts"], calls[1].ts.clone().unwrap().as_str());
    assert_eq!(update.body["text"], "✓ Real-time, chosen by <@U2>");
    assert!(update.body["blocks"]
        .to_string()
        .contains("chosen by <@U2>"));
    assert!(buttons(&update).is_empty(), "the buttons are gone");
    assert_eq!(question_id(&latest_question(&stand_in)), "concurrency");

    // 2. A written reply, entity-escaped as Slack sends it.
    let r = reply(
        "&gt; 10k users at peak, maybe 100k",
        &parent_ts,
        "U3",
        "Ev001",
    );
    assert_eq!(h.event(&r, None).await, 200);
    h.deliver().await;
    assert_eq!(question_id(&latest_question(&stand_in)), "ai_ml");

    // 3. A reply that fits nothing, trying to ping the channel: told only to its author,
    //    and never echoed.
    let before = stand_in.calls().len();
    let r = reply(
        "&lt;!channel&gt; what do we pick?",
        &parent_ts,
        "U3",
        "Ev002",
    );
    assert_eq!(h.event(&r, None).await, 200);
    h.deliver().await;
    let told = &stand_in.calls()[before..];
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].method, "chat.postEphemeral");
    assert_eq!(told[0].body["user"], "U3");
    assert_eq!(told[0].body["thread_ts"], parent_ts.as_str());
    assert!(!all_bodies(&stand_in).contains("<!channel>"));

    click_choice(&h, &stand_in, "none", "U2", "1700000001.000002").await;
    assert_eq!(question_id(&latest_question(&stand_in)), "team_skills");

    // 4. `back` as a reply: the current question closes, the previous one is asked again.
    let r = reply("back", &parent_ts, "U1", "Ev003");
    assert_eq!(h.event(&r, None).await, 200);
    h.deliver().await;
    assert_eq!(question_id(&latest_question(&stand_in)), "ai_ml");
    click_choice(&h, &stand_in, "some", "U1", "1700000001.000003").await;
    assert_eq!(question_id(&latest_question(&stand_in)), "ml_runtime");

    let r = reply("A hosted model API", &parent_ts, "U2", "Ev004");
    assert_eq!(h.event(&r, None).await, 200);
    h.deliver().await;
    let r = reply("JavaScript &amp; TypeScript", &parent_ts, "U2", "Ev005");
    assert_eq!(h.event(&r, None).await, 200);
    h.deliver().await;
    assert_eq!(question_id(&latest_question(&stand_in)), "experience");

    // 5. `skip` as a button.
    let q = latest_question(&stand_in);
    let p = click(&q, &button(&q, "cmd|skip"), "U1", "1700000001.000004");
    assert_eq!(h.interact(&p).await, 200);
    h.deliver().await;

    // The rest: the first choice of each question, by button.
    for i in 0..20 {
        let q = latest_question(&stand_in);
        if stand_in
            .accepted()
            .iter()
            .any(|c| c.body["reply_broadcast"] == true)
        {
            break;
        }
        let first = buttons(&q)[0].2.clone();
        click_choice(&h, &stand_in, &first, "U2", &format!("1700000002.{i:06}")).await;
    }

    let accepted = stand_in.accepted();
    let at = accepted
        .iter()
        .position(|c| c.body["reply_broadcast"] == true)
        .unwrap();
    let card = accepted[at].clone();
    assert_eq!(card.method, "chat.postMessage");
    assert_eq!(card.body["thread_ts"], parent_ts.as_str());
    assert_eq!(card.body["reply_broadcast"], true);
    assert!(card.body["text"]
        .as_str()
        .unwrap()
        .starts_with("Recommendation: "));
    let blocks = card.body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let text = card.body["blocks"].to_string();
    for needle in [
        "What decided it",
        "Trade-offs, and how to soften them",
        "What would change the answer",
        "Node.js",
        "Python",
        "█",
    ] {
        assert!(text.contains(needle), "card lacks {needle}: {text}");
    }
    assert!(blocks.last().unwrap()["type"] == "context");

    // The chart follows the card in the thread: uploaded, then shared there.
    let shared = &accepted[at + 1..];
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(shared[0].method, "files.completeUploadExternal");
    assert_eq!(shared[0].body["thread_ts"], parent_ts.as_str());
    assert_eq!(shared[0].body["channel_id"], CHANNEL);
    let file = shared[0].body["files"][0]["id"].as_str().unwrap();
    let png = &stand_in.uploads()[file];
    assert!(png.starts_with(b"\x89PNG\r\n"), "a PNG");
    let asked = stand_in.calls_of("files.getUploadURLExternal");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].body["length"], png.len().to_string());

    // Every call: the bot token, in the thread (but the parent and the upload's first two
    // steps), within Block Kit limits.
    for c in stand_in.calls() {
        assert_eq!(c.authorization, format!("Bearer {BOT_TOKEN}"));
        let upload = c.method == "files.getUploadURLExternal" || c.method == "upload";
        if c.method != "chat.update" && c.ts != parent.ts && !upload {
            assert_eq!(c.body["thread_ts"], parent_ts.as_str(), "{}", c.body);
        }
        if c.method.starts_with("chat.") {
            assert_eq!(limit_violations(&c.body["blocks"]), Vec::<String>::new());
        }
    }

    // The result is kept for the channel.
    let result = h.command("result", "U9").await;
    assert_eq!(result["response_type"], "in_channel");
    assert_eq!(result["blocks"][0]["type"], "header");
    let stored = h
        .app
        .store
        .latest_result(Platform::Slack, &"T0001".into(), &CHANNEL.into())
        .unwrap()
        .unwrap();
    assert_eq!(stored.answers["workload"], "realtime");
    assert_eq!(stored.answers["concurrency"], "high");
    assert_eq!(stored.answers["ai_ml"], "some");
    assert_eq!(stored.answers["ml_runtime"], "hosted_api");
    assert_eq!(stored.answers["team_skills"], "javascript");
    assert!(!stored.answers.contains_key("experience"));
}

/// Starts a conversation and delivers its first messages; returns the parent's ts.
async fn started(h: &Harness, s: &StandIn) -> String {
    h.command("start", "U1").await;
    h.deliver().await;
    s.calls()[0].ts.clone().unwrap()
}

#[tokio::test]
async fn a_redelivered_event_and_a_double_click_act_once() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let parent = started(&h, &stand_in).await;

    // The same click delivered twice, and a second genuine click on the same button.
    let q = latest_question(&stand_in);
    let first = &buttons(&q)[0];
    let p = click(&q, first, "U2", "1700000001.000001");
    assert_eq!(h.interact(&p).await, 200);
    assert_eq!(h.interact(&p).await, 200);
    let again = click(&q, first, "U2", "1700000001.000009");
    assert_eq!(h.interact(&again).await, 200);
    h.deliver().await;
    assert_eq!(stand_in.calls_of("chat.update").len(), 1);
    assert_eq!(
        questions(&stand_in).len(),
        2,
        "one next question: {:#?}",
        stand_in.calls()
    );
    assert_eq!(stand_in.calls_of("chat.postEphemeral").len(), 0);

    // The same event, redelivered by Slack with X-Slack-Retry-Num.
    let r = reply("medium", &parent, "U3", "EvDUP");
    assert_eq!(h.event(&r, None).await, 200);
    assert_eq!(h.event(&r, Some("1")).await, 200);
    assert_eq!(h.event(&r, Some("2")).await, 200);
    h.deliver().await;
    assert_eq!(stand_in.calls_of("chat.update").len(), 2);
    assert_eq!(questions(&stand_in).len(), 3);
    assert_eq!(
        stand_in.calls_of("chat.postEphemeral").len(),
        0,
        "a redelivery is not read again (it would not fit the next question)"
    );
    let history = |h: &Harness| {
        let open = h
            .app
            .store
            .conversations_in_channel(Platform::Slack, &"T0001".into(), &CHANNEL.into())
            .unwrap();
        assert_eq!(open.len(), 1);
        open[0].1.history.len()
    };
    assert_eq!(history(&h), 2, "two answers, not more");

    // Skip, delivered twice and double-clicked: one question skipped, not three.
    let q = latest_question(&stand_in);
    let skip_button = button(&q, "cmd|skip");
    let skip = click(&q, &skip_button, "U2", "1700000003.000001");
    assert_eq!(h.interact(&skip).await, 200);
    assert_eq!(h.interact(&skip).await, 200);
    let skip_again = click(&q, &skip_button, "U2", "1700000003.000002");
    assert_eq!(h.interact(&skip_again).await, 200);
    h.deliver().await;
    assert_eq!(history(&h), 3);
    assert_eq!(questions(&stand_in).len(), 4);
    let calls = stand_in.calls();

    // The bot's own messages in the thread are not answers.
    let mut own = fixture("event_bot_message.json");
    own["event"]["thread_ts"] = json!(parent);
    assert_eq!(h.event(&own, None).await, 200);
    let mut own_user = reply("low", &parent, "UBOT", "EvOWN");
    own_user["event"]["user"] = json!("UBOT");
    assert_eq!(h.event(&own_user, None).await, 200);
    h.deliver().await;
    assert_eq!(stand_in.calls().len(), calls.len());
}

/// A thread reply whose handling fails gets a 500, and Slack's retry of it is handled
/// rather than ignored as a repeat: the answer is not lost.
#[tokio::test]
async fn an_event_that_failed_is_handled_when_slack_delivers_it_again() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let parent = started(&h, &stand_in).await;
    let store = h.app.store.clone();
    let (key, conversation) = store
        .conversations_in_channel(Platform::Slack, &"T0001".into(), &CHANNEL.into())
        .unwrap()
        .remove(0);
    // The conversation names a pack version the store does not have: reading it fails.
    let mut broken = conversation.clone();
    broken.pack_version = 99;
    common::save_conversation(&*store, &key, &broken);

    let r = reply("realtime", &parent, "U3", "EvFAIL");
    assert_eq!(h.event(&r, None).await, 500);
    assert_eq!(
        h.event(&r, Some("1")).await,
        500,
        "the retry is handled again, not ignored"
    );
    common::save_conversation(&*store, &key, &conversation);
    assert_eq!(h.event(&r, Some("2")).await, 200);
    h.deliver().await;
    let answered = store.conversation(&key).unwrap().unwrap();
    assert_eq!(answered.history.len(), 1, "the answer counted once");
    assert_eq!(
        questions(&stand_in).len(),
        2,
        "and the next question was asked"
    );
    // Handled at last, the event is a repeat from now on.
    assert_eq!(h.event(&r, Some("3")).await, 200);
    h.deliver().await;
    assert_eq!(store.conversation(&key).unwrap().unwrap().history.len(), 1);
}

/// When auth.test fails at start-up, Slack still starts, with its outbox running, and the
/// bot still never reads its own messages as answers: they carry its bot_id.
#[tokio::test]
async fn without_auth_test_the_bot_knows_its_own_messages_by_bot_id() {
    let stand_in = StandIn::start().await;
    stand_in.force(
        "auth.test",
        200,
        None,
        json!({ "ok": false, "error": "invalid_auth" }),
    );
    let dir = TempDir::new().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let config = tradeoff::slack::SlackConfig {
        signing_secret: tradeoff::slack::Secret::new(SECRET),
        bot_token: tradeoff::slack::Secret::new(BOT_TOKEN),
        api_url: stand_in.api_url(),
        app_token: None,
    };
    let running = tradeoff::slack::start(
        open_app(dir.path()),
        config,
        stopped,
        &tokio::runtime::Handle::current(),
    )
    .await
    .expect("Slack starts without auth.test");
    assert_eq!(stand_in.calls_of("auth.test").len(), 1);
    let bot = running
        .http
        .as_ref()
        .expect("the HTTP endpoints")
        .bot
        .clone();
    let h = Harness::serve(bot, &stand_in, TestClock::system()).await;

    h.command("start", "U1").await;
    common::until("the parent and the first question are posted", || {
        questions(&stand_in).len() == 1
    })
    .await;
    let parent = stand_in.calls_of("chat.postMessage")[0].ts.clone().unwrap();

    // The bot's own post, as Slack sends it: its user id (unknown to the bot now) and its
    // bot_id, with text that would answer the question.
    let mut own = reply("realtime", &parent, "UBOT", "EvOWN1");
    own["event"]["bot_id"] = json!("B0001");
    assert_eq!(h.event(&own, None).await, 200);
    let conversation = || {
        h.app
            .store
            .conversations_in_channel(Platform::Slack, &"T0001".into(), &CHANNEL.into())
            .unwrap()
            .remove(0)
            .1
    };
    assert_eq!(conversation().history.len(), 0, "its own post is no answer");

    let answer = reply("realtime", &parent, "U3", "EvUSER1");
    assert_eq!(h.event(&answer, None).await, 200);
    assert_eq!(conversation().history.len(), 1);
    common::until("the next question is posted", || {
        questions(&stand_in).len() == 2
    })
    .await;
    let _ = stop.send(true);
    running.shutdown().await;
}

/// A call Slack never answers is given up after the sender's limit and retried, instead of
/// holding up every message behind it.
#[tokio::test]
async fn a_post_slack_never_answers_is_retried_instead_of_holding_up_the_outbox() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let clock = TestClock::new();
    let h = Harness::start(dir.path(), &stand_in, clock.clone())
        .await
        .answering_within(std::time::Duration::from_millis(300));
    stand_in.set_outage("chat.postMessage", Some(Outage::Silent));

    h.command("start", "U1").await;
    let p = tokio::time::timeout(std::time::Duration::from_secs(5), h.pass())
        .await
        .expect("the pass gave up on the unanswered post");
    assert_eq!((p.sent, p.retried), (0, 1));
    let pending = h.app.store.outbox_pending(Platform::Slack).unwrap();
    assert_eq!(pending[0].attempts, 1);
    let error = pending[0].last_error.as_deref().unwrap_or_default();
    assert!(error.contains("no answer within 300 ms"), "{error}");

    stand_in.set_outage("chat.postMessage", None);
    clock.advance_ms(1000);
    h.deliver().await;
    let posts = stand_in.calls_of("chat.postMessage");
    let statuses: Vec<u16> = posts.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [0, 200, 200],
        "the unanswered try, then both posts"
    );
    assert_eq!(
        posts[2].body["thread_ts"],
        posts[1].ts.clone().unwrap().as_str(),
        "in order: the question in the parent's thread"
    );
}

#[tokio::test]
async fn rate_limits_server_errors_and_transient_errors_are_retried_and_arrive_once() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let clock = TestClock::new();
    let h = Harness::start(dir.path(), &stand_in, clock.clone()).await;
    stand_in.force(
        "chat.postMessage",
        429,
        Some(7),
        json!({"ok": false, "error": "ratelimited"}),
    );
    stand_in.force("chat.postMessage", 503, None, json!({"ok": false}));
    stand_in.force(
        "chat.postMessage",
        200,
        None,
        json!({"ok": false, "error": "internal_error"}),
    );

    h.command("start", "U1").await;
    let p = h.pass().await;
    assert_eq!((p.sent, p.retried), (0, 1));
    assert_eq!(
        p.next_due_ms,
        Some(clock.now_ms() + 7000),
        "Retry-After is honoured"
    );
    let p = h.pass().await;
    assert_eq!(
        (p.sent, p.retried),
        (0, 0),
        "nothing goes out before Retry-After"
    );
    clock.advance_ms(7000);
    let p = h.pass().await;
    assert_eq!((p.sent, p.retried), (0, 1), "503 retried");
    clock.advance_ms(60_000);
    let p = h.pass().await;
    assert_eq!(
        (p.sent, p.retried),
        (0, 1),
        "ok:false internal_error retried"
    );
    clock.advance_ms(60_000);
    h.deliver().await;

    let posts = stand_in.calls_of("chat.postMessage");
    assert_eq!(
        posts.len(),
        5,
        "3 failures, then the parent and the question"
    );
    let delivered: Vec<&Call> = posts.iter().filter(|c| c.ts.is_some()).collect();
    assert_eq!(delivered.len(), 2);
    assert!(
        delivered[0].body.get("thread_ts").is_none(),
        "the parent first, once"
    );
    assert_eq!(
        delivered[1].body["thread_ts"],
        delivered[0].ts.clone().unwrap().as_str()
    );
    assert!(h
        .app
        .store
        .outbox_pending(Platform::Slack)
        .unwrap()
        .is_empty());

    // A permanent error is set aside, not retried forever.
    stand_in.force(
        "chat.update",
        200,
        None,
        json!({"ok": false, "error": "message_not_found"}),
    );
    let q = latest_question(&stand_in);
    let p = click(&q, &buttons(&q)[0], "U2", "1700000001.000001");
    assert_eq!(h.interact(&p).await, 200);
    let p = h.pass().await;
    assert_eq!(
        (p.refused, p.sent),
        (1, 1),
        "the update is refused; the next question still goes"
    );
    assert_eq!(h.app.store.outbox_dead_letters().unwrap().len(), 1);
}

#[tokio::test]
async fn a_restart_between_acknowledgement_and_post_delivers_exactly_once() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let ack = h.command("start", "U1").await;
    assert_eq!(ack["response_type"], "ephemeral");
    // The process dies before the outbox ran: drop the server, the bot and the store.
    h.stop().await;
    assert!(stand_in.calls().is_empty());

    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    h.deliver().await;
    h.deliver().await;
    let calls = stand_in.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[1].body["text"]
        .as_str()
        .unwrap()
        .contains("What will this backend mainly do?"));

    // The conversation survived too: a reply in the thread is understood.
    let parent = calls[0].ts.clone().unwrap();
    let r = reply("real-time chat", &parent, "U2", "EvR1");
    assert_eq!(h.event(&r, None).await, 200);
    h.stop().await;
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    h.deliver().await;
    let calls = stand_in.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[2].method, "chat.update");
    assert_eq!(question_id(&calls[3]), "concurrency");
}

#[tokio::test]
async fn commands_answer_ephemerally_and_cancel_stops_the_thread() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;

    let help = h.command("help", "U1").await;
    assert_eq!(help["response_type"], "ephemeral");
    for (usage, _) in tradeoff::core::subcommand::help_lines("/tradeoff") {
        let text = help["text"].as_str().unwrap();
        assert!(text.contains(&format!("`{usage}`")), "{usage} in {text}");
    }
    assert_eq!(
        h.command("", "U1").await,
        help,
        "nothing at all asks for help"
    );
    let unknown = h.command("frobnicate <!channel>", "U1").await;
    assert_eq!(unknown["response_type"], "ephemeral");
    let text = unknown["text"].as_str().unwrap();
    assert!(text.contains("/tradeoff start") && text.contains("frobnicate"));
    let packs = h.command("packs", "U1").await;
    assert!(packs["text"].as_str().unwrap().contains("node-vs-python"));
    let none = h.command("result", "U1").await;
    assert_eq!(none["response_type"], "ephemeral");
    assert!(none["text"].as_str().unwrap().contains("no result"));
    let nothing = h.command("cancel", "U1").await;
    assert!(nothing["text"]
        .as_str()
        .unwrap()
        .contains("no decision running"));
    let bad_pack = h.command("start no-such-pack", "U1").await;
    assert!(bad_pack["text"].as_str().unwrap().contains("no-such-pack"));
    assert!(stand_in.calls().is_empty());

    started(&h, &stand_in).await;
    let cancelled = h.command("cancel", "U1").await;
    assert!(cancelled["text"].as_str().unwrap().starts_with("Cancelled"));
    h.deliver().await;
    let calls = stand_in.calls();
    let last_two: Vec<&str> = calls[calls.len() - 2..]
        .iter()
        .map(|c| c.method.as_str())
        .collect();
    assert_eq!(last_two, ["chat.update", "chat.postMessage"]);
    assert!(buttons(&calls[calls.len() - 2]).is_empty());
    assert!(h
        .app
        .store
        .conversations_in_channel(Platform::Slack, &"T0001".into(), &CHANNEL.into())
        .unwrap()
        .iter()
        .all(|(_, c)| !c.is_open()));
}

#[tokio::test]
async fn url_verification_answers_the_challenge() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let body = fixture("url_verification.json").to_string();
    let r = h
        .post_signed("/slack/events", JSON, body.into_bytes(), &[])
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

/// The bot on a store whose calls wait while the returned gate is closed (a stalled disk),
/// answering requests whose work outlasts 300 ms without waiting for it; with its stand-in,
/// and the store's directory (removed when dropped).
async fn stalling_harness() -> (StandIn, TempDir, Harness, common::Stall) {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let (app, stall) = common::stalling_app_in(dir.path(), &common::root());
    let clock = TestClock::new();
    let bot = tradeoff::slack::SlackBot::new(
        std::sync::Arc::new(app),
        std::sync::Arc::new(clock.clone()),
        Some("UBOT".into()),
    )
    .with_web_api(
        tradeoff::slack::api::client(&stand_in.api_url()),
        tradeoff::slack::Secret::new(BOT_TOKEN),
    )
    .with_answer_within(std::time::Duration::from_millis(300));
    let h = Harness::serve(std::sync::Arc::new(bot), &stand_in, clock).await;
    (stand_in, dir, h, stall)
}

const STILL_WORKING: &str = "taking longer than usual";

/// A click on the first choice of the latest question.
fn click_first_choice(s: &StandIn, user: &str, action_ts: &str) -> Value {
    let q = latest_question(s);
    let first = buttons(&q)
        .into_iter()
        .find(|(_, a, _)| a.starts_with("choice|"))
        .expect("the question has choices");
    click(&q, &first, user, action_ts)
}

/// Waits until at least `n` messages are queued (work finishing after its answer queues
/// them), then delivers them.
async fn deliver_when_queued(h: &Harness, n: usize) {
    common::until(&format!("{n} messages are queued"), || {
        h.app
            .store
            .outbox_pending(Platform::Slack)
            .is_ok_and(|p| p.len() >= n)
    })
    .await;
    h.deliver().await;
}

/// Slack shows an error for a command not answered within 3 s. A command held up by the
/// store is answered in time with a note, and its real answer follows as a message once
/// the store moves again: the same answer the command gives when nothing is held up.
#[tokio::test]
async fn a_command_held_up_by_the_store_is_answered_in_time_and_its_answer_follows() {
    let (stand_in, _dir, h, stall) = stalling_harness().await;
    let on_time = h.command("result", "U1").await;

    stall.close();
    let asked = std::time::Instant::now();
    let held_up = h.command("result", "U1").await;
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(2),
        "answered within Slack's deadline, not when the store moved"
    );
    assert!(
        held_up["text"].as_str().unwrap().contains(STILL_WORKING),
        "{held_up}"
    );
    assert_eq!(held_up["response_type"], "ephemeral");
    assert!(
        stand_in.calls().is_empty(),
        "nothing is posted before the work is done"
    );

    stall.open();
    deliver_when_queued(&h, 1).await;
    let posted = stand_in.calls_of("chat.postEphemeral");
    assert_eq!(posted.len(), 1, "{:?}", stand_in.calls());
    assert_eq!(posted[0].body["channel"], CHANNEL);
    assert_eq!(posted[0].body["user"], "U1");
    assert_eq!(posted[0].body["text"], on_time["text"]);
}

/// A process that stops waits for the answers still being prepared for requests it
/// acknowledged "still working": when the store moves within the limit, the answer is
/// queued (durable, delivered after a restart) before the bot lets go. Past the limit,
/// what is left is counted (and logged), never waited for forever.
#[tokio::test]
async fn stopping_waits_for_a_late_answer_to_be_queued() {
    let (_stand_in, _dir, h, stall) = stalling_harness().await;

    stall.close();
    let held_up = h.command("result", "U1").await;
    assert!(
        held_up["text"].as_str().unwrap().contains(STILL_WORKING),
        "{held_up}"
    );
    let limit = std::time::Duration::from_millis(200);
    assert_eq!(h.bot.finish_late_answers(limit).await, 1);

    stall.open_in(300);
    let limit = std::time::Duration::from_secs(10);
    assert_eq!(h.bot.finish_late_answers(limit).await, 0);
    let queued = h.app.store.outbox_pending(Platform::Slack).unwrap();
    assert_eq!(
        queued.len(),
        1,
        "the late answer is queued when finishing returns"
    );
    let op = queued[0].message.op.to_value().unwrap();
    assert_eq!(op["method"], "chat.postEphemeral", "{op}");
    assert_eq!(op["body"]["user"], "U1", "{op}");
}

/// A click whose work is held up by the store is acknowledged in time, and does not hold
/// up requests that need no store (this test's runtime has one thread: a handler that
/// blocked it would stop everything). Its answer is recorded once the store moves.
#[tokio::test]
async fn a_click_held_up_by_the_store_holds_up_nothing_else_and_counts_later() {
    let (stand_in, _dir, h, stall) = stalling_harness().await;
    started(&h, &stand_in).await;

    stall.close();
    let asked = std::time::Instant::now();
    assert_eq!(
        h.interact(&click_first_choice(&stand_in, "U2", "1700000001.000001"))
            .await,
        200
    );
    let help = tokio::time::timeout(std::time::Duration::from_secs(2), h.command("help", "U3"))
        .await
        .expect("another request is answered while the click waits for the store");
    assert!(help["text"].as_str().unwrap().contains("/tradeoff"));
    assert!(asked.elapsed() < std::time::Duration::from_secs(2));
    assert!(stand_in.calls_of("chat.update").is_empty());

    stall.open();
    deliver_when_queued(&h, 2).await;
    assert_eq!(
        stand_in.calls_of("chat.update").len(),
        1,
        "the question closed"
    );
    assert_eq!(questions(&stand_in).len(), 2, "and the next one was asked");
}

/// When the work of a click acknowledged before it was done fails, the clicker is told,
/// privately, with the error's id: the failure is not silent.
#[tokio::test]
async fn a_click_that_fails_after_its_acknowledgement_is_apologised_for() {
    let (stand_in, _dir, h, stall) = stalling_harness().await;
    started(&h, &stand_in).await;
    let store = h.app.store.clone();
    let (key, mut conversation) = store
        .conversations_in_channel(Platform::Slack, &"T0001".into(), &CHANNEL.into())
        .unwrap()
        .remove(0);
    // A pack version the store does not have: handling the click fails.
    conversation.pack_version = 99;
    common::save_conversation(&*store, &key, &conversation);

    stall.close();
    assert_eq!(
        h.interact(&click_first_choice(&stand_in, "U2", "1700000001.000001"))
            .await,
        200
    );
    stall.open();
    deliver_when_queued(&h, 1).await;
    let told = stand_in.calls_of("chat.postEphemeral");
    assert_eq!(told.len(), 1, "{:?}", stand_in.calls());
    assert_eq!(told[0].body["user"], "U2");
    assert!(
        told[0].body["text"].as_str().unwrap().contains("error id"),
        "{}",
        told[0].body
    );
}

/// Two people answer one question at the same moment, with steps on two threads that both
/// read the conversation before either saves (the worst a race can do). One answer is taken
/// and the next question asked once; the other person is told, privately, that the question
/// was answered, and their answer is not taken for the next question.
async fn racing_answers(send: impl AsyncFnOnce(&Harness, &StandIn)) {
    let (stand_in, _dir, h, stall) = stalling_harness().await;
    h.command("start", "U1").await;
    h.deliver().await;
    assert_eq!(question_id(&latest_question(&stand_in)), "workload");
    let before = stand_in.calls().len();

    stall.meet(2);
    send(&h, &stand_in).await;
    // The question closed, the next one, and the note to the one whose answer came second.
    deliver_when_queued(&h, 3).await;

    let sent = stand_in.calls()[before..].to_vec();
    let updates: Vec<_> = sent.iter().filter(|c| c.method == "chat.update").collect();
    assert_eq!(updates.len(), 1, "{sent:#?}");
    let text = updates[0].body["text"].as_str().unwrap();
    let (winner, loser) = if text.contains("<@U2>") {
        ("U2", "U3")
    } else {
        ("U3", "U2")
    };
    assert!(text.contains(&format!("chosen by <@{winner}>")), "{text}");
    let asked: Vec<_> = questions(&stand_in).iter().map(question_id).collect();
    assert_eq!(
        asked,
        ["workload", "concurrency"],
        "the next question, once"
    );
    let told = stand_in.calls_of("chat.postEphemeral");
    assert_eq!(told.len(), 1, "{sent:#?}");
    assert_eq!(told[0].body["user"], loser);
    assert!(
        told[0].body["text"]
            .as_str()
            .unwrap()
            .contains("already been answered"),
        "{}",
        told[0].body
    );
    let open = h
        .app
        .store
        .conversations_in_channel(
            Platform::Slack,
            &tradeoff::core::ids::WorkspaceId::new("T0001"),
            &tradeoff::core::ids::ChannelId::new(CHANNEL),
        )
        .unwrap();
    assert_eq!(open.len(), 1);
    common::assert_answered_once(&open[0].1, winner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clicks_on_one_question_take_one_and_tell_the_other() {
    racing_answers(async |h: &Harness, s: &StandIn| {
        let q = latest_question(s);
        let choices: Vec<_> = buttons(&q)
            .into_iter()
            .filter(|(_, a, _)| a.starts_with("choice|"))
            .collect();
        let first = click(&q, &choices[0], "U2", "1700000001.000001");
        let second = click(&q, &choices[1], "U3", "1700000001.000002");
        let (a, b) = tokio::join!(h.interact(&first), h.interact(&second));
        assert_eq!((a, b), (200, 200));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replies_to_one_question_take_one_and_tell_the_other() {
    racing_answers(async |h: &Harness, s: &StandIn| {
        let parent = s.calls()[0].ts.clone().unwrap();
        let first = reply("real-time", &parent, "U2", "EvRace1");
        let second = reply("crud api", &parent, "U3", "EvRace2");
        let (a, b) = tokio::join!(h.event(&first, None), h.event(&second, None));
        assert_eq!((a, b), (200, 200));
    })
    .await;
}

/// A click on a message of a decision the store does not know (a message older than the
/// data directory, or made up) is told to the clicker in the channel, since there is no
/// thread the bot knows to answer in; nothing is set aside as undeliverable.
#[tokio::test]
async fn a_click_for_an_unknown_decision_is_told_in_the_channel() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    assert_eq!(h.interact(&fixture("block_actions.json")).await, 200);
    h.deliver().await;
    let told = stand_in.calls_of("chat.postEphemeral");
    assert_eq!(told.len(), 1, "{:?}", stand_in.calls());
    assert!(told[0].body.get("thread_ts").is_none(), "{}", told[0].body);
    assert!(told[0].body["text"]
        .as_str()
        .unwrap()
        .contains("no decision running"));
    assert!(h.app.store.outbox_dead_letters().unwrap().is_empty());
}

/// Starts a decision and answers every question with its first choice, until the card is
/// queued (not delivered: the test decides how delivery goes).
async fn answer_to_the_card(h: &Harness, s: &StandIn) {
    h.command("start", "U1").await;
    h.deliver().await;
    for i in 0..20 {
        let q = latest_question(s);
        let first = buttons(&q)[0].2.clone();
        let button = buttons(&q)
            .into_iter()
            .find(|(_, a, v)| a.starts_with("choice|") && *v == first)
            .unwrap();
        let payload = click(&q, &button, "U2", &format!("1700000003.{i:06}"));
        assert_eq!(h.interact(&payload).await, 200);
        let queued: Vec<Value> = h
            .app
            .store
            .outbox_pending(Platform::Slack)
            .unwrap()
            .into_iter()
            .map(|e| e.message.op.to_value().unwrap())
            .collect();
        if queued.iter().any(|op| op["said"]["effect"] == "chart") {
            return;
        }
        h.deliver().await;
    }
    panic!("the decision never finished");
}

/// The calls that completed an upload, and the card's post.
fn charts_and_card(s: &StandIn) -> (Vec<Call>, Vec<Call>) {
    let accepted = s.accepted();
    (
        accepted
            .iter()
            .filter(|c| c.method == "files.completeUploadExternal")
            .cloned()
            .collect(),
        accepted
            .into_iter()
            .filter(|c| c.body["reply_broadcast"] == true)
            .collect(),
    )
}

#[tokio::test]
async fn a_failing_upload_step_is_retried_and_the_chart_arrives_once_after_the_card() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let clock = TestClock::new();
    let h = Harness::start(dir.path(), &stand_in, clock.clone()).await;
    answer_to_the_card(&h, &stand_in).await;
    // Each of the three steps fails once: a 5xx, a 429, a 5xx.
    let busy = json!({ "ok": false, "error": "ratelimited" });
    stand_in.force(
        "files.getUploadURLExternal",
        503,
        None,
        json!({ "ok": false }),
    );
    stand_in.force("upload", 429, Some(1), busy);
    stand_in.force(
        "files.completeUploadExternal",
        500,
        None,
        json!({ "ok": false }),
    );
    let mut passes = 0;
    loop {
        h.deliver().await;
        let (charts, cards) = charts_and_card(&stand_in);
        assert_eq!(cards.len(), 1, "the card is not held back by its chart");
        if !charts.is_empty() {
            break;
        }
        passes += 1;
        assert!(passes < 20, "{:#?}", stand_in.calls());
        clock.advance_ms(120_000);
    }
    let (charts, _) = charts_and_card(&stand_in);
    assert_eq!(charts.len(), 1, "the chart arrives once");
    // A failed step tries the whole upload again: four upload URLs asked for, one a try.
    assert_eq!(stand_in.calls_of("files.getUploadURLExternal").len(), 4);
    let card_at = stand_in
        .calls()
        .iter()
        .position(|c| c.body["reply_broadcast"] == true)
        .unwrap();
    let chart_at = stand_in
        .calls()
        .iter()
        .position(|c| c.method == "files.completeUploadExternal" && c.status == 200)
        .unwrap();
    assert!(card_at < chart_at);
    assert!(h
        .app
        .store
        .outbox_pending(Platform::Slack)
        .unwrap()
        .is_empty());
    assert!(h.app.store.outbox_dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn a_restart_between_the_card_and_its_chart_still_delivers_the_chart() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    answer_to_the_card(&h, &stand_in).await;
    stand_in.set_outage("files.getUploadURLExternal", Some(Outage::Unavailable));
    h.deliver().await;
    assert_eq!(charts_and_card(&stand_in).1.len(), 1, "the card is out");
    assert!(charts_and_card(&stand_in).0.is_empty());
    h.stop().await;

    stand_in.set_outage("files.getUploadURLExternal", None);
    let clock = TestClock::new();
    clock.advance_ms(600_000);
    let h = Harness::start(dir.path(), &stand_in, clock).await;
    h.deliver().await;
    let (charts, cards) = charts_and_card(&stand_in);
    assert_eq!(
        (charts.len(), cards.len()),
        (1, 1),
        "{:#?}",
        stand_in.calls()
    );
    let png = &stand_in.uploads()[charts[0].body["files"][0]["id"].as_str().unwrap()];
    let info = png::Decoder::new(png.as_slice()).read_info().unwrap();
    assert_eq!(info.info().width, 1200);
}

#[tokio::test]
async fn record_uploads_the_latest_result_as_a_markdown_file() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let none = h.command("record", "U9").await;
    assert_eq!(none["response_type"], "ephemeral");
    assert!(stand_in.calls().is_empty(), "nothing to record yet");

    answer_to_the_card(&h, &stand_in).await;
    h.deliver().await;
    let asked = h.command("record", "U9").await;
    assert_eq!(asked["response_type"], "ephemeral");
    let said = asked["text"].as_str().unwrap();
    assert!(
        said.contains("`docs/decisions/NNNN-backend-decision-node-js-or-python.md`"),
        "{said}"
    );
    h.deliver().await;
    let asked = stand_in.calls_of("files.getUploadURLExternal");
    assert_eq!(asked.len(), 2, "the chart, then the record");
    assert_eq!(
        asked[1].body["filename"],
        "NNNN-backend-decision-node-js-or-python.md"
    );
    let shared = stand_in.calls_of("files.completeUploadExternal");
    let record = shared.last().unwrap();
    assert_eq!(record.body["channel_id"], CHANNEL);
    // In the decision's thread, with its card.
    assert_eq!(record.body["thread_ts"], shared[0].body["thread_ts"]);
    assert!(record.body["thread_ts"].is_string());
    let file = record.body["files"][0]["id"].as_str().unwrap();
    let markdown = String::from_utf8(stand_in.uploads()[file].clone()).unwrap();
    assert!(
        markdown.starts_with("---\nstatus: proposed\n"),
        "{markdown}"
    );
    assert!(markdown.contains("## Considered Options\n\n- Node.js\n- Python\n"));
}

#[tokio::test]
async fn history_lists_the_channels_results_and_shows_one_again() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let empty = h.command("history", "U9").await;
    assert_eq!(empty["text"], "No decision or poll has finished here yet.");
    answer_to_the_card(&h, &stand_in).await;
    h.deliver().await;
    // Read back after a restart.
    h.stop().await;
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let listed = h.command("history", "U9").await;
    assert_eq!(listed["response_type"], "ephemeral");
    let text = listed["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("1. "), "{text}");
    assert!(
        lines[0].contains("(Node.js "),
        "scores, with numbers: {text}"
    );
    assert!(lines[0].contains("· a decision by "), "{text}");
    assert_eq!(lines[1], "Show one again with `/tradeoff history N`.");
    let again = h.command("history 1", "U9").await;
    assert_eq!(again["response_type"], "in_channel");
    assert_eq!(again["blocks"][0]["type"], "header");
    let missing = h.command("history 7", "U9").await;
    assert_eq!(missing["response_type"], "ephemeral");
}

#[tokio::test]
async fn the_cards_record_button_posts_that_decisions_record() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    answer_to_the_card(&h, &stand_in).await;
    h.deliver().await;
    let card = stand_in
        .accepted()
        .into_iter()
        .find(|c| c.body["reply_broadcast"] == true)
        .unwrap();
    let record = button(&card, "tradeoff_record");
    assert!(record.2.starts_with("c|"), "{record:?}");
    // The card's last line stays last; the button sits above it.
    let blocks = card.body["blocks"].as_array().unwrap();
    assert_eq!(blocks[blocks.len() - 2]["type"], "actions");
    assert_eq!(blocks.last().unwrap()["type"], "context");
    let p = click(&card, &record, "U7", "1700000009.000001");
    assert_eq!(h.interact(&p).await, 200);
    h.deliver().await;
    let asked = stand_in.calls_of("files.getUploadURLExternal");
    assert_eq!(
        asked.last().unwrap().body["filename"],
        "NNNN-backend-decision-node-js-or-python.md"
    );
    let shared = stand_in.calls_of("files.completeUploadExternal");
    assert_eq!(
        shared.last().unwrap().body["thread_ts"],
        card.body["thread_ts"]
    );
    // A value we did not make posts nothing.
    let before = stand_in.call_count();
    let forged = click(
        &card,
        &(record.0.clone(), record.1.clone(), "p|nosuchpoll|1".into()),
        "U7",
        "1700000009.000002",
    );
    assert_eq!(h.interact(&forged).await, 200);
    h.deliver().await;
    assert_eq!(stand_in.call_count(), before);
}
