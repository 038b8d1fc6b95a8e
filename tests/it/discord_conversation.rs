//! A whole decision against the stand-in of Discord's REST API: `/tradeoff start`, the
//! thread, answers by button and in writing (with back and skip), the summary embed in the
//! thread and the notice in the channel. Also: rate limits waited out, failures retried or
//! set aside, and `discord-register`'s bulk overwrite.

use crate::common;

use crate::discord_support::*;
use serde_json::{json, Value};
use serenity::model::channel::Message;
use tradeoff::core::ids::Platform;
use tradeoff::discord::gateway::Gateway;

const START_ID: &str = "1180000000000000100";

fn click(thread: &str, custom_id: &str, id: u64) -> Value {
    button_click(thread, custom_id, &id.to_string())
}

fn reply(thread: &str, content: &str, id: u64) -> Message {
    let mut m = fixture("message_create");
    m["id"] = json!(id.to_string());
    m["channel_id"] = json!(thread);
    m["content"] = json!(content);
    serde_json::from_value(m).unwrap()
}

/// Whether `c` posted a question (a message with buttons) in `thread`.
fn is_question(c: &Call, thread: &str) -> bool {
    c.method == "POST"
        && c.path == format!("/channels/{thread}/messages")
        && c.body["components"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

/// The question currently showing: the last message posted in the thread with buttons.
fn current_question(standin: &StandIn, thread: &str) -> Option<Value> {
    standin
        .calls()
        .into_iter()
        .rev()
        .find(|c| is_question(c, thread))
        .map(|c| c.body)
}

#[tokio::test]
async fn a_whole_decision_from_start_to_the_summary_embed() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let gateway = Gateway {
        bot: bot.bot.clone(),
    };

    let started = bot.interact(&fixture("command_start")).await;
    // The answer is the thread's starting message, with the pack's introduction.
    assert!(
        started["data"]["content"]
            .as_str()
            .unwrap()
            .contains("A few questions about your project"),
        "{started}"
    );
    assert_eq!(bot.deliver().await.sent, 3);
    let calls = standin.calls();
    assert_eq!(calls[0].method, "GET");
    let origin = calls[1].path.split('/').nth(4).unwrap().to_owned();
    // The thread is created from the answer's message and has its id.
    let thread = origin.clone();
    assert_eq!(
        calls[1].body,
        json!({ "name": "Backend decision: Ada Lovelace", "auto_archive_duration": 1440 })
    );
    assert!(
        is_question(&calls[2], &thread),
        "the first question: {:?}",
        calls[2]
    );

    // A reply that does not mention the bot arrives without its text (no MESSAGE_CONTENT
    // intent): ignored.
    gateway.on_message(reply(&thread, "", 500)).await;
    assert!(bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty());

    let mut id = 1000u64;
    let mut step = 0;
    let mut went_back = false;
    let mut skipped = false;
    while let Some(question) = current_question(&standin, &thread) {
        if step > 40 {
            panic!("the conversation does not end");
        }
        let first = &question["components"][0]["components"][0];
        let custom_id = first["custom_id"].as_str().unwrap().to_owned();
        let label = first["label"].as_str().unwrap().to_owned();
        id += 1;
        let before = standin.calls().len();
        match step {
            // Written: the label, mentioning the bot.
            1 | 4 => {
                gateway
                    .on_message(reply(&thread, &format!("<@{APP_ID}> {label}"), id))
                    .await
            }
            // Written commands.
            2 if !went_back => {
                went_back = true;
                gateway
                    .on_message(reply(&thread, &format!("<@{APP_ID}> back"), id))
                    .await
            }
            3 if !skipped => {
                skipped = true;
                gateway
                    .on_message(reply(&thread, &format!("<@!{APP_ID}> skip"), id))
                    .await
            }
            _ => {
                // The click is acknowledged; the question is closed by the outbox.
                let answer = bot.interact(&click(&thread, &custom_id, id)).await;
                assert_eq!(answer["type"], 6, "{answer}");
            }
        }
        bot.deliver().await;
        let new: Vec<Call> = standin.calls()[before..].to_vec();
        assert!(!new.is_empty(), "step {step} sent nothing");
        for call in &new {
            assert_sendable(&call.body);
            if call.method == "PATCH" && call.files.is_empty() {
                // An answer takes the buttons off the question it answered.
                assert_eq!(call.body["components"], json!([]));
            }
        }
        step += 1;
        if new.iter().any(|c| c.body["embeds"].is_array()) {
            break;
        }
    }
    assert!(went_back && skipped);

    let calls = standin.calls();
    let card = calls
        .iter()
        .find(|c| c.body["embeds"].is_array())
        .expect("the summary card was posted");
    assert_eq!(card.path, format!("/channels/{thread}/messages"));
    let embed = &card.body["embeds"][0];
    let description = embed["description"].as_str().unwrap();
    // Numbers, not only bars: "Node.js 72 / Python 58".
    let numbers = regex_like_scores(description);
    assert!(numbers, "{description}");
    assert!(embed["color"].as_u64().is_some());
    let fields = embed["fields"].as_array().unwrap();
    assert_eq!(fields[0]["name"], "Scores");
    assert!(fields[0]["value"].as_str().unwrap().contains('█'));
    assert!(fields
        .iter()
        .any(|f| f["name"].as_str().unwrap().starts_with("Why: ")));
    assert!(fields.iter().any(|f| f["name"]
        .as_str()
        .unwrap()
        .starts_with("Trade-off (our reading): ")));
    assert_eq!(
        fields.last().unwrap()["name"],
        "What would change the answer"
    );
    assert!(embed["footer"]["text"]
        .as_str()
        .unwrap()
        .contains("questions answered"));

    // The chart, attached to the card's message once it is posted: the embed shows it.
    let card_id = card.created.clone().expect("the card's message has an id");
    let chart = calls.last().unwrap();
    assert_eq!(chart.method, "PATCH");
    assert_eq!(chart.path, format!("/channels/{thread}/messages/{card_id}"));
    assert_eq!(chart.files.len(), 1);
    let (part, name, png) = &chart.files[0];
    assert_eq!(
        (part.as_str(), name.as_str()),
        ("files[0]", "tradeoff-chart.png")
    );
    assert!(png.starts_with(b"\x89PNG\r\n"));
    assert_eq!(
        chart.body["embeds"][0]["image"]["url"],
        "attachment://tradeoff-chart.png"
    );
    assert_eq!(
        chart.body["attachments"][0]["filename"],
        "tradeoff-chart.png"
    );
    assert_eq!(chart.body["embeds"][0]["title"], embed["title"]);

    // And a short notice in the parent channel, linking to the thread.
    let notice = calls
        .iter()
        .rev()
        .find(|c| c.method == "POST" && c.path == format!("/channels/{CHANNEL}/messages"))
        .unwrap();
    assert_eq!(notice.path, format!("/channels/{CHANNEL}/messages"));
    assert!(notice.body["content"]
        .as_str()
        .unwrap()
        .contains(&format!("<#{thread}>")));

    // Every message went out once: nothing left, nothing set aside.
    assert!(bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty());
    assert!(bot.store.outbox_dead_letters().unwrap().is_empty());

    // `/tradeoff result` in the channel shows the same card.
    let mut result = fixture("command_start");
    result["id"] = json!("1180000000000000900");
    // Discord sends a subcommand without arguments with an empty `options`.
    result["data"]["options"] = json!([{ "name": "result", "type": 1, "options": [] }]);
    let answer = bot.interact(&result).await;
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["embeds"][0], *embed);
}

/// True when the text holds "<label> <n> / <label> <n>".
fn regex_like_scores(text: &str) -> bool {
    text.split(" · ").any(|part| {
        let sides: Vec<&str> = part.split(" / ").collect();
        sides.len() >= 2
            && sides.iter().all(|s| {
                s.rsplit_once(' ')
                    .is_some_and(|(label, n)| !label.is_empty() && n.parse::<u8>().is_ok())
            })
    })
}

/// Starts a decision; returns the id of its thread.
async fn started_thread(standin: &StandIn, bot: &TestBot) -> String {
    bot.interact(&fixture("command_start")).await;
    bot.deliver().await;
    first_thread(standin)
}

#[tokio::test]
async fn a_cancel_in_the_thread_stops_the_decision() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let gateway = Gateway {
        bot: bot.bot.clone(),
    };
    let thread = started_thread(&standin, &bot).await;
    gateway
        .on_message(reply(&thread, &format!("<@{APP_ID}> cancel"), 77))
        .await;
    bot.deliver().await;
    let calls = standin.calls();
    let last = calls.last().unwrap();
    assert!(last.body["content"]
        .as_str()
        .unwrap()
        .starts_with("Cancelled."));
    // A button of the cancelled decision is refused, privately: a follow-up of the click
    // that only the clicker sees.
    let answer = bot
        .interact(&click(&thread, &format!("to:{START_ID}:0:c0"), 78))
        .await;
    assert_eq!(answer["type"], 6, "{answer}");
    bot.deliver().await;
    let told = standin.calls().pop().unwrap();
    assert!(
        told.method == "POST" && told.path.starts_with(&format!("/webhooks/{APP_ID}/")),
        "{told:?}"
    );
    assert_eq!(told.body["flags"], 64);
    assert!(told.body["content"].as_str().unwrap().contains("finished"));
    // The same reply delivered twice is taken once.
    let before = bot.store.outbox_pending(Platform::Discord).unwrap().len();
    gateway
        .on_message(reply(&thread, &format!("<@{APP_ID}> restart"), 77))
        .await;
    assert_eq!(
        bot.store.outbox_pending(Platform::Discord).unwrap().len(),
        before
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_retried() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&fixture("command_start")).await;

    standin.force(
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 2.5, "global": false }),
        Some("3"),
    );
    let pass = bot.deliver().await;
    assert_eq!((pass.sent, pass.retried), (0, 1));
    // The body's float `retry_after` wins over the whole-second header.
    assert_eq!(pass.next_due_ms, Some(NOW * 1000 + 2500));
    assert_eq!(standin.calls().len(), 1);

    // Not yet due: nothing is sent, and the lane keeps its order.
    bot.clock.advance_ms(2499);
    assert_eq!(bot.deliver().await.sent, 0);
    assert_eq!(standin.calls().len(), 1);

    bot.clock.advance_ms(1);
    assert_eq!(bot.deliver().await.sent, 3);
    let calls = standin.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].path, calls[1].path, "the same call, retried");

    // A 5xx is retried too (with backoff); a 4xx other than 429 is set aside for good.
    let mut second = fixture("command_start");
    second["id"] = json!("1180000000000000101");
    bot.interact(&second).await;
    standin.force(502, json!({ "message": "Bad Gateway" }), None);
    let pass = bot.deliver().await;
    assert_eq!(pass.retried, 1);
    bot.clock.advance_ms(1000);
    standin.force(
        403,
        json!({ "message": "Missing Permissions", "code": 50013 }),
        None,
    );
    let pass = bot.deliver().await;
    // The refused GET leaves its followers without the ref they need: set aside as well.
    assert_eq!(pass.refused, 3);
    let dead = bot.store.outbox_dead_letters().unwrap();
    assert!(dead[0].1.contains("50013"), "{}", dead[0].1);
}

/// A written reply whose handling fails gets an apology in reply, and the message is
/// forgotten: redelivered once the conversation reads again, it is taken as an answer.
#[tokio::test]
async fn a_written_reply_that_fails_is_apologised_for_and_read_again_later() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let gateway = Gateway {
        bot: bot.bot.clone(),
    };
    let thread = started_thread(&standin, &bot).await;
    let (key, conversation) = bot
        .store
        .conversations_in_channel(Platform::Discord, &GUILD.into(), &CHANNEL.into())
        .unwrap()
        .remove(0);
    // The conversation names a pack version the store does not have: reading it fails.
    let mut broken = conversation.clone();
    broken.pack_version = 99;
    common::save_conversation(&*bot.store, &key, &broken);

    let before = standin.calls().len();
    let answer = reply(&thread, &format!("<@{APP_ID}> real-time"), 7001);
    gateway.on_message(answer.clone()).await;
    bot.deliver().await;
    let sent = standin.calls()[before..].to_vec();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].path, format!("/channels/{thread}/messages"));
    let text = sent[0].body["content"].as_str().unwrap();
    assert!(text.starts_with("Sorry, something went wrong"), "{text}");
    assert_eq!(sent[0].body["message_reference"]["message_id"], "7001");
    assert_sendable(&sent[0].body);

    common::save_conversation(&*bot.store, &key, &conversation);
    gateway.on_message(answer).await;
    bot.deliver().await;
    let answered = bot.store.conversation(&key).unwrap().unwrap();
    assert_eq!(answered.history.len(), 1, "read again, and answered once");
}

/// Runs the `tradeoff` binary with `args`, against the stand-in.
async fn register(args: Vec<&'static str>, standin: &StandIn) -> std::process::Output {
    let url = standin.url.clone();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tradeoff"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DISCORD_TOKEN", BOT_TOKEN)
            .env("DISCORD_APPLICATION_ID", APP_ID)
            .env("DISCORD_API_URL", url)
            .env_remove("DISCORD_PUBLIC_KEY")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// `discord-register` waits out a rate limit and a server error and then succeeds; a
/// refusal stops it at once with Discord's reason, and a non-zero exit.
#[tokio::test]
async fn discord_register_retries_rate_limits_and_stops_on_a_refusal() {
    let standin = StandIn::start().await;
    standin.force(
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 0.05, "global": false }),
        None,
    );
    standin.force(503, json!({ "message": "upstream" }), Some("0"));
    let out = register(vec!["discord-register"], &standin).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = standin.calls();
    assert_eq!(calls.len(), 3, "two retries, then the overwrite");
    assert!(calls
        .iter()
        .all(|c| c.method == "PUT" && c.body == calls[2].body));

    standin.force(
        400,
        json!({ "message": "Invalid Form Body", "code": 50035 }),
        None,
    );
    let out = register(vec!["discord-register"], &standin).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Invalid Form Body"), "{stderr}");
    assert_eq!(standin.calls().len(), 4, "a refusal is not retried");
}

#[tokio::test]
async fn discord_register_sends_a_valid_bulk_overwrite() {
    let standin = StandIn::start().await;
    let out = register(vec!["discord-register", "--guild", GUILD], &standin).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = register(vec!["discord-register"], &standin).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The token never reaches the output.
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("test-bot-token"));
    }

    let calls = standin.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, "PUT");
    assert_eq!(
        calls[0].path,
        format!("/applications/{APP_ID}/guilds/{GUILD}/commands")
    );
    assert_eq!(calls[1].path, format!("/applications/{APP_ID}/commands"));
    assert_eq!(calls[0].body, calls[1].body);
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(&*format!("Bot {BOT_TOKEN}"))
    );

    let body = &calls[0].body;
    let commands = body.as_array().expect("a bulk overwrite is an array");
    assert_eq!(commands.len(), 1);
    let command = &commands[0];
    assert_eq!(command["name"], "tradeoff");
    assert_eq!(command["type"], 1);
    let valid_name = |n: &str| {
        (1..=32).contains(&n.chars().count())
            && n.chars().all(|c| {
                (c.is_alphanumeric() && !c.is_uppercase()) || matches!(c, '-' | '_' | '\'')
            })
    };
    let valid_description = |d: &Value| {
        d.as_str()
            .is_some_and(|d| (1..=100).contains(&d.chars().count()))
    };
    assert!(valid_description(&command["description"]));
    let subs = command["options"].as_array().unwrap();
    let names: Vec<&str> = subs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["start", "poll", "result", "history", "record", "cancel", "packs", "help"]
    );
    for sub in subs {
        assert_eq!(sub["type"], 1, "a subcommand");
        assert!(valid_name(sub["name"].as_str().unwrap()));
        assert!(valid_description(&sub["description"]));
    }
    let pack = &subs[0]["options"][0];
    assert_eq!(
        (pack["name"].as_str(), pack["type"].as_u64()),
        (Some("pack"), Some(3))
    );
    assert!(valid_description(&pack["description"]));
    let choices = pack["choices"].as_array().unwrap();
    assert!((1..=25).contains(&choices.len()));
    assert!(choices.iter().any(|c| c["value"] == "node-vs-python"));
    for c in choices {
        assert!(valid_description(&c["name"]), "choice name 1-100");
    }
}

/// The bot on a store whose calls wait while the returned gate is closed (a stalled disk),
/// deferring interactions whose work outlasts 300 ms.
async fn stalling_bot(standin: &StandIn) -> (TestBot, common::Stall) {
    let dir = tempfile::tempdir().unwrap();
    let sled = std::sync::Arc::new(tradeoff::store::SledStore::open(dir.path()).unwrap());
    let (store, stall) = common::stalling(sled.clone());
    let bot = TestBot::start_on(
        standin,
        dir,
        sled,
        store,
        Some(std::time::Duration::from_millis(300)),
    )
    .await;
    (bot, stall)
}

/// Waits (up to 10 s) until `bot` has `n` queued messages, then delivers them.
async fn deliver_when_queued(bot: &TestBot, n: usize) {
    common::until(&format!("{n} messages are queued"), || {
        bot.store
            .outbox_pending(Platform::Discord)
            .is_ok_and(|p| p.len() >= n)
    })
    .await;
    while bot.deliver().await.sent > 0 {}
}

fn command(sub: &str) -> Value {
    let mut c = fixture("command_start");
    c["data"]["options"] = json!([{ "name": sub, "type": 1, "options": [] }]);
    c
}

/// Discord shows "The application did not respond" after 3 s. A command held up by the
/// store is deferred in time, and its answer follows through the interaction's webhook:
/// a private answer as a private follow-up, the deferral in the channel removed.
#[tokio::test]
async fn a_command_held_up_by_the_store_is_deferred_and_its_private_answer_follows() {
    let standin = StandIn::start().await;
    let (bot, stall) = stalling_bot(&standin).await;
    let on_time = bot.interact(&command("result")).await;
    assert_eq!(on_time["data"]["flags"], 64, "{on_time}");

    stall.close();
    let asked = std::time::Instant::now();
    let deferred = bot.interact(&command("result")).await;
    assert!(asked.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(deferred, json!({ "type": 5 }));
    stall.open();
    deliver_when_queued(&bot, 2).await;
    let calls = standin.calls();
    let late: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.path.as_str()))
        .collect();
    let token = fixture("command_start")["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook = format!("/webhooks/{APP_ID}/{token}");
    let original = format!("{webhook}/messages/@original");
    assert_eq!(
        late,
        [("DELETE", original.as_str()), ("POST", webhook.as_str())]
    );
    assert_eq!(calls[1].body["content"], on_time["data"]["content"]);
    assert_eq!(calls[1].body["flags"], 64);
    assert_eq!(
        calls[1].authorization, None,
        "the token in the path is the authority"
    );

    // Through the gateway, the deferral goes to the interaction's callback.
    let gateway = Gateway {
        bot: bot.bot.clone(),
    };
    stall.close();
    let interaction = serde_json::from_value(command("result")).unwrap();
    assert!(matches!(
        gateway.on_interaction(interaction).await,
        tradeoff::outbox::Delivery::Sent(_)
    ));
    let callback = standin.calls().pop().unwrap();
    assert!(callback.path.ends_with("/callback"), "{}", callback.path);
    assert_eq!(callback.body, json!({ "type": 5 }));
    stall.open();
    deliver_when_queued(&bot, 2).await;
    assert_eq!(standin.calls().len(), 5, "{:?}", standin.calls());
}

/// A stop waits, up to its limit, for the answers to deferred interactions to be queued,
/// so the outbox sends them at its next start instead of their being lost.
#[tokio::test]
async fn stopping_waits_for_a_deferred_answer_to_be_queued() {
    let standin = StandIn::start().await;
    let (bot, stall) = stalling_bot(&standin).await;
    stall.close();
    assert_eq!(bot.interact(&command("result")).await, json!({ "type": 5 }));
    let limit = std::time::Duration::from_millis(200);
    assert_eq!(bot.bot.finish_late_answers(limit).await, 1, "still held up");

    stall.open_in(300);
    let limit = std::time::Duration::from_secs(10);
    assert_eq!(bot.bot.finish_late_answers(limit).await, 0);
    let queued = bot.store.outbox_pending(Platform::Discord).unwrap();
    let ops: Vec<Value> = queued
        .iter()
        .map(|q| q.message.op.to_value().unwrap())
        .collect();
    let methods: Vec<&str> = ops.iter().map(|o| o["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        ["DELETE", "POST"],
        "the deferral's removal and the private answer are queued when finishing returns"
    );
    assert_eq!(ops[1]["body"]["flags"], 64, "{}", ops[1]);
    assert!(standin.calls().is_empty(), "nothing sent yet");
}

/// A `/tradeoff start` held up by the store is deferred in time; once its write goes
/// through, the deferral becomes the thread's starting message, and the thread opens on it.
#[tokio::test]
async fn a_start_held_up_by_the_store_is_deferred_and_its_thread_opens_later() {
    let standin = StandIn::start().await;
    let (bot, stall) = stalling_bot(&standin).await;
    stall.close();
    let deferred = bot.interact(&fixture("command_start")).await;
    assert_eq!(deferred, json!({ "type": 5 }));
    stall.open();
    // The start's own three (its message's id, the thread, the first question), and the
    // edit that puts the start's message in place of the deferral.
    deliver_when_queued(&bot, 4).await;
    let calls = standin.calls();
    let edit = calls
        .iter()
        .find(|c| c.method == "PATCH" && c.path.ends_with("/messages/@original"))
        .expect("the deferral was replaced with the start's message");
    assert!(
        edit.body["content"]
            .as_str()
            .unwrap()
            .contains("started by"),
        "{}",
        edit.body
    );
    assert!(edit.body.get("flags").is_none(), "{}", edit.body);
    assert!(calls
        .iter()
        .any(|c| c.method == "POST" && c.path.ends_with("/threads")));
    assert!(
        calls.iter().any(|c| c.method == "POST"
            && c.path.ends_with("/messages")
            && c.body["components"]
                .as_array()
                .is_some_and(|rows| !rows.is_empty())),
        "the first question was asked: {calls:?}"
    );
}

/// A click held up by the store is deferred as an update (its message stays as it is), and
/// the update follows: the question shows its answer once the store moves.
#[tokio::test]
async fn a_click_held_up_by_the_store_is_deferred_and_its_update_follows() {
    let standin = StandIn::start().await;
    let (bot, stall) = stalling_bot(&standin).await;
    let thread = started_thread(&standin, &bot).await;
    let question = current_question(&standin, &thread).expect("a question was asked");
    let custom_id = question["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = standin.calls().len();

    stall.close();
    let deferred = bot.interact(&click(&thread, &custom_id, 90)).await;
    assert_eq!(deferred, json!({ "type": 6 }));
    stall.open();
    // The next question, and the update of the clicked one.
    deliver_when_queued(&bot, 2).await;
    let calls = standin.calls();
    let edit = calls[before..]
        .iter()
        .find(|c| {
            c.method == "PATCH" && c.path.starts_with(&format!("/channels/{thread}/messages/"))
        })
        .unwrap_or_else(|| panic!("the clicked question was not updated: {calls:?}"));
    assert!(
        edit.body["components"]
            .as_array()
            .is_none_or(|rows| rows.is_empty()),
        "an answered question keeps no buttons: {}",
        edit.body
    );
}

/// A late response edits the deferral, so it must not reach Discord before the deferral
/// does: it waits while the answer carrying the deferral is held (the gateway holds it
/// until its callback is sent), and is queued once the answer is dropped.
#[tokio::test]
async fn a_late_response_waits_until_its_deferral_has_gone_out() {
    let standin = StandIn::start().await;
    let (bot, stall) = stalling_bot(&standin).await;
    stall.close();
    let interaction = serde_json::from_value(fixture("command_start")).unwrap();
    let answer = bot.bot.answer_interaction(interaction).await;
    assert_eq!(answer.response.to_json(), json!({ "type": 5 }));
    stall.open();
    let queued = || bot.store.outbox_pending(Platform::Discord).unwrap().len();
    common::until("the start's own messages are queued", || queued() == 3).await;
    // The start is done; its response waits for the deferral.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        queued(),
        3,
        "the edit of the deferral waits while the answer is held"
    );
    drop(answer);
    deliver_when_queued(&bot, 4).await;
    assert!(standin
        .calls()
        .iter()
        .any(|c| c.method == "PATCH" && c.path.ends_with("/messages/@original")));
}

/// A decision started on a stalling bot, its first question showing: the bot, its gate,
/// and the thread.
async fn racing_start(standin: &StandIn) -> (TestBot, common::Stall, String) {
    let (bot, stall) = stalling_bot(standin).await;
    bot.interact(&fixture("command_start")).await;
    while bot.deliver().await.sent > 0 {}
    let thread = first_thread(standin);
    assert!(current_question(standin, &thread).is_some());
    (bot, stall, thread)
}

/// After two answers raced to the first question: one was taken, by `winner`, and saved
/// once; the next question was asked once.
fn assert_one_answer_taken(bot: &TestBot, standin: &StandIn, thread: &str, winner: &str) {
    let key = bot
        .store
        .conversations_in_channel(
            Platform::Discord,
            &tradeoff::core::ids::WorkspaceId::new(
                fixture("command_start")["guild_id"].as_str().unwrap(),
            ),
            &tradeoff::core::ids::ChannelId::new(CHANNEL),
        )
        .unwrap();
    assert_eq!(key.len(), 1);
    common::assert_answered_once(&key[0].1, winner);
    let asked = standin
        .calls()
        .iter()
        .filter(|c| is_question(c, thread))
        .count();
    assert_eq!(asked, 2, "the first question, and the next one once");
}

fn by(mut payload: Value, user: &str) -> Value {
    payload["member"]["user"]["id"] = json!(user);
    payload["member"]["user"]["username"] = json!(user);
    payload
}

/// Two people click different choices of one question at the same moment, with steps on
/// two threads that both read the conversation before either saves: one answer is taken,
/// and the other clicker is told, privately, that the question was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clicks_on_one_question_take_one_and_tell_the_other() {
    let standin = StandIn::start().await;
    let (bot, stall, thread) = racing_start(&standin).await;
    let question = current_question(&standin, &thread).unwrap();
    let custom = |i: usize| {
        question["components"][0]["components"][i]["custom_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = by(click(&thread, &custom(0), 2001), "1180000000000000021");
    let second = by(click(&thread, &custom(1), 2002), "1180000000000000022");
    // Each click reads the conversation to find its question, then again to step it.
    stall.meet(2);
    stall.meet(2);
    let (a, b) = tokio::join!(bot.interact(&first), bot.interact(&second));
    // Both are acknowledged; what each did follows through the outbox.
    assert_eq!((a["type"].clone(), b["type"].clone()), (json!(6), json!(6)));
    let before = standin.calls().len();
    while bot.deliver().await.sent > 0 {}
    let stored = bot.store.conversations_in_channel(
        Platform::Discord,
        &tradeoff::core::ids::WorkspaceId::new(
            fixture("command_start")["guild_id"].as_str().unwrap(),
        ),
        &tradeoff::core::ids::ChannelId::new(CHANNEL),
    );
    let winner = stored.unwrap()[0].1.answers[0]
        .as_ref()
        .expect("one answer was taken")
        .by
        .id
        .to_string();
    let told: Vec<Call> = standin.calls()[before..]
        .iter()
        .filter(|c| c.path.starts_with(&format!("/webhooks/{APP_ID}/")))
        .cloned()
        .collect();
    assert_eq!(told.len(), 1, "the other clicker is told once: {told:?}");
    assert_eq!(told[0].body["flags"], 64, "told privately: {:?}", told[0]);
    assert!(
        told[0].body["content"]
            .as_str()
            .unwrap()
            .contains("already been answered"),
        "{:?}",
        told[0]
    );
    assert_one_answer_taken(&bot, &standin, &thread, &winner);
}

/// Two written answers to one question at the same moment: one is taken, and the other's
/// writer is told in a reply to their message, not taken as the answer to the next question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replies_to_one_question_take_one_and_tell_the_other() {
    let standin = StandIn::start().await;
    let (bot, stall, thread) = racing_start(&standin).await;
    let gateway = Gateway {
        bot: bot.bot.clone(),
    };
    let written = |text: &str, id: u64, user: &str| {
        let mut m = reply(&thread, &format!("<@{APP_ID}> {text}"), id);
        m.author.id = user.parse().unwrap();
        m.author.name = user.to_owned();
        m.member = None;
        m
    };
    let before = standin.calls().len();
    stall.meet(2);
    tokio::join!(
        gateway.on_message(written("real-time", 3001, "1180000000000000021")),
        gateway.on_message(written("crud api", 3002, "1180000000000000022")),
    );
    while bot.deliver().await.sent > 0 {}
    let sent = standin.calls()[before..].to_vec();
    let told: Vec<_> = sent
        .iter()
        .filter(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("already been answered"))
        })
        .collect();
    assert_eq!(told.len(), 1, "{sent:#?}");
    let loser_message = told[0].body["message_reference"]["message_id"]
        .as_str()
        .unwrap();
    let winner = if loser_message == "3001" {
        "1180000000000000022"
    } else {
        "1180000000000000021"
    };
    assert_eq!(
        sent.iter().filter(|c| c.method == "PATCH").count(),
        1,
        "the answered question's buttons come off once: {sent:#?}"
    );
    assert_one_answer_taken(&bot, &standin, &thread, winner);
}

/// `help`, `packs` and a mistyped subcommand answer privately, from the same definition of
/// the commands as Slack's help and Discord's registration.
#[tokio::test]
async fn help_packs_and_a_mistyped_subcommand_answer_privately() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let help = bot.interact(&command("help")).await;
    assert_eq!(help["data"]["flags"], 64, "{help}");
    let text = help["data"]["content"].as_str().unwrap();
    for (usage, _) in tradeoff::core::subcommand::help_lines("/tradeoff") {
        assert!(text.contains(&format!("`{usage}`")), "{usage} in {text}");
    }
    let packs = bot.interact(&command("packs")).await;
    assert_eq!(packs["data"]["flags"], 64, "{packs}");
    assert!(packs["data"]["content"]
        .as_str()
        .unwrap()
        .contains("`node-vs-python`"));
    let unknown = bot.interact(&command("frobnicate")).await;
    assert_eq!(unknown["data"]["flags"], 64, "{unknown}");
    assert!(unknown["data"]["content"]
        .as_str()
        .unwrap()
        .starts_with("I don't know `/tradeoff frobnicate`."));
    assert!(standin.calls().is_empty(), "nothing posted");
}

/// Starts a decision and clicks every question's first choice until the card and its chart
/// are queued (not delivered); returns the thread.
async fn answer_to_the_card(bot: &TestBot, standin: &StandIn) -> String {
    bot.interact(&fixture("command_start")).await;
    bot.deliver().await;
    let thread = first_thread(standin);
    for id in 2000u64..2040 {
        let question = current_question(standin, &thread).expect("a question");
        let custom_id = question["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap()
            .to_owned();
        bot.interact(&click(&thread, &custom_id, id)).await;
        let queued = bot.store.outbox_pending(Platform::Discord).unwrap();
        if queued
            .iter()
            .any(|e| e.message.op.to_value().unwrap()["said"]["effect"] == "chart")
        {
            return thread;
        }
        bot.deliver().await;
    }
    panic!("the decision never finished");
}

/// The calls that attached a chart.
fn charts(standin: &StandIn) -> Vec<Call> {
    standin
        .calls()
        .into_iter()
        .filter(|c| !c.files.is_empty())
        .collect()
}

#[tokio::test]
async fn a_failing_chart_attachment_is_retried_and_attached_once_after_the_card() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let thread = answer_to_the_card(&bot, &standin).await;
    standin.force_method(
        "PATCH multipart",
        502,
        json!({ "message": "Bad Gateway" }),
        None,
    );
    standin.force_method(
        "PATCH multipart",
        429,
        json!({ "message": "You are being rate limited.", "retry_after": 0.2, "global": false }),
        Some("0.2"),
    );
    let mut tries = 0;
    while !bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty()
    {
        bot.deliver().await;
        bot.clock.advance_ms(60_000);
        tries += 1;
        assert!(tries < 20, "{:#?}", standin.calls());
    }
    let charts = charts(&standin);
    assert_eq!(charts.len(), 3, "two failed tries, then the one that took");
    let card = standin
        .calls()
        .into_iter()
        .find(|c| c.body["embeds"].is_array() && c.method == "POST")
        .unwrap();
    let card_id = card.created.unwrap();
    for chart in &charts {
        assert_eq!(chart.path, format!("/channels/{thread}/messages/{card_id}"));
    }
    assert!(bot.store.outbox_dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn a_restart_between_the_card_and_its_chart_still_attaches_the_chart() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    answer_to_the_card(&bot, &standin).await;
    standin.force_method("PATCH multipart", 503, json!({ "message": "down" }), None);
    bot.deliver().await;
    assert_eq!(charts(&standin).len(), 1, "one try, refused for now");
    let dir = bot.stop().await;

    let bot = TestBot::start_in(&standin, dir).await;
    bot.clock.advance_ms(600_000);
    while bot.deliver().await.sent > 0 {}
    let charts = charts(&standin);
    assert_eq!(charts.len(), 2, "{:#?}", standin.calls());
    assert!(charts[1].files[0].2.starts_with(b"\x89PNG"));
    assert!(bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty());
}

/// `command(sub)`, with its own interaction id.
fn command_with_id(sub: &str, id: &str) -> Value {
    let mut c = command(sub);
    c["id"] = json!(id);
    c
}

#[tokio::test]
async fn record_posts_the_latest_result_as_a_markdown_file() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    // Nothing to record yet: said privately.
    let none = bot
        .interact(&command_with_id("record", "1180000000000000901"))
        .await;
    assert_eq!(none["data"]["flags"], 64, "{none}");
    assert!(standin.calls().is_empty());

    answer_to_the_card(&bot, &standin).await;
    while bot.deliver().await.sent > 0 {}
    let asked = bot
        .interact(&command_with_id("record", "1180000000000000902"))
        .await;
    assert_eq!(asked["data"]["flags"], 64);
    let said = asked["data"]["content"].as_str().unwrap();
    assert!(
        said.contains("docs/decisions/NNNN-backend-decision-node-js-or-python.md"),
        "{said}"
    );
    while bot.deliver().await.sent > 0 {}
    let posted = standin.calls().into_iter().last().unwrap();
    assert_eq!(posted.method, "POST");
    assert_eq!(posted.path, format!("/channels/{CHANNEL}/messages"));
    assert_sendable(&posted.body);
    let (part, name, markdown) = &posted.files[0];
    assert_eq!(part, "files[0]");
    assert_eq!(name, "NNNN-backend-decision-node-js-or-python.md");
    let markdown = String::from_utf8(markdown.clone()).unwrap();
    assert!(
        markdown.starts_with("---\nstatus: proposed\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("deciders: [\"Grace\"]"),
        "who answered: {markdown}"
    );
    assert!(markdown.contains("## Decision Outcome"));
}

#[tokio::test]
async fn history_survives_a_restart_and_shows_a_result_again() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    answer_to_the_card(&bot, &standin).await;
    while bot.deliver().await.sent > 0 {}
    let dir = bot.stop().await;
    let bot = TestBot::start_in(&standin, dir).await;

    let mut listed = command_with_id("history", "1180000000000000903");
    listed["data"]["options"][0]["options"] = json!([]);
    let answer = bot.interact(&listed).await;
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    let text = answer["data"]["content"].as_str().unwrap();
    assert!(
        text.starts_with("1\\. ") || text.starts_with("1. "),
        "{text}"
    );
    assert!(text.contains("a decision by"), "{text}");
    assert!(
        text.ends_with("Show one again with `/tradeoff history N`."),
        "{text}"
    );

    let mut again = command_with_id("history", "1180000000000000904");
    again["data"]["options"][0]["options"] = json!([{ "name": "which", "type": 3, "value": "1" }]);
    let answer = bot.interact(&again).await;
    assert_eq!(answer["type"], 4);
    assert_eq!(
        answer["data"]["embeds"][0]["title"],
        "Backend decision: Node.js or Python"
    );
}

#[tokio::test]
async fn the_cards_record_button_posts_that_decisions_record() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let thread = answer_to_the_card(&bot, &standin).await;
    while bot.deliver().await.sent > 0 {}
    let card = standin
        .calls()
        .into_iter()
        .find(|c| c.method == "POST" && c.body["embeds"].is_array())
        .unwrap();
    let button = &card.body["components"][0]["components"][0];
    assert_eq!(button["label"], "Decision record");
    let custom_id = button["custom_id"].as_str().unwrap().to_owned();
    assert!(custom_id.starts_with("tr:c|") && custom_id.len() <= 100);
    let answer = bot.interact(&click(&thread, &custom_id, 3000)).await;
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    while bot.deliver().await.sent > 0 {}
    let posted = standin.calls().into_iter().last().unwrap();
    assert_eq!(posted.path, format!("/channels/{thread}/messages"));
    assert_eq!(
        posted.files[0].1,
        "NNNN-backend-decision-node-js-or-python.md"
    );
    // One made up is refused, privately.
    let forged = bot.interact(&click(&thread, "tr:c|nosuch", 3001)).await;
    assert!(forged["data"]["content"]
        .as_str()
        .unwrap()
        .contains("a result that is gone"));
}
