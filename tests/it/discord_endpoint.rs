//! The interactions endpoint, over real HTTP on loopback, with requests signed by the
//! RFC 8032 test key: PING, refusals (401, 413, 400), `/tradeoff start`, button and menu
//! clicks; and the gateway path reaching the same handler with the same payloads.

use crate::discord_support::*;
use serde_json::{json, Value};
use serenity::model::application::Interaction;
use serenity::model::channel::Message;
use tradeoff::core::ids::Platform;
use tradeoff::discord::gateway::Gateway;
use tradeoff::outbox::Delivery;

const START_ID: &str = "1180000000000000100";

#[tokio::test]
async fn ping_gets_pong_with_the_published_signature() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    // The platform facts' vector: `1700000000{"type":1}` signed with the test key.
    bot.clock
        .0
        .store(1_700_000_000_000, std::sync::atomic::Ordering::SeqCst);
    let signature = "1695961a47c91a1ec033b819b7e87e3dbc583dd0cee6d1fd0216f58ac87b6228ae531ddbf91fb7bc28d7edf7f08604da16f54624f38a6bc0614e4dc13cd47f0f";
    let (status, body) = bot
        .post_raw(br#"{"type":1}"#, Some(signature), Some("1700000000"))
        .await;
    assert_eq!((status, body), (200, json!({ "type": 1 })));

    // Discord's full PING payload, signed now.
    let ping = serde_json::to_vec(&fixture("ping")).unwrap();
    let (status, body) = bot.post_signed(&ping).await;
    assert_eq!((status, body), (200, json!({ "type": 1 })));
}

#[tokio::test]
async fn forged_stale_or_unsigned_requests_get_401() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let body = serde_json::to_vec(&fixture("command_start")).unwrap();
    let ts = NOW.to_string();
    let good = sign(&ts, &body);

    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] = b' ';
    // (what, body, signature, timestamp)
    type Case = (&'static str, Vec<u8>, Option<String>, Option<String>);
    let cases: Vec<Case> = vec![
        (
            "tampered body",
            tampered,
            Some(good.clone()),
            Some(ts.clone()),
        ),
        (
            "other timestamp",
            body.clone(),
            Some(good.clone()),
            Some((NOW + 1).to_string()),
        ),
        (
            "signature of something else",
            body.clone(),
            Some(sign(&ts, b"{}")),
            Some(ts.clone()),
        ),
        (
            "not hex",
            body.clone(),
            Some("zz".repeat(64)),
            Some(ts.clone()),
        ),
        ("no signature", body.clone(), None, Some(ts.clone())),
        ("no timestamp", body.clone(), Some(good.clone()), None),
        (
            "stale",
            body.clone(),
            Some(sign(&(NOW - 301).to_string(), &body)),
            Some((NOW - 301).to_string()),
        ),
    ];
    for (what, body, signature, timestamp) in cases {
        let (status, _) = bot
            .post_raw(&body, signature.as_deref(), timestamp.as_deref())
            .await;
        assert_eq!(status, 401, "{what}");
    }
    // Nothing was started by any of them.
    assert!(bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let huge = vec![b' '; (1 << 20) + 1];
    let (status, _) = bot.post_signed(&huge).await;
    assert_eq!(status, 413);

    let (status, _) = bot.post_signed(b"{not json").await;
    assert_eq!(status, 400);
    // Valid JSON, but not an interaction Discord would send.
    let (status, _) = bot.post_signed(br#"{"type":2,"id":"x"}"#).await;
    assert_eq!(status, 400);
    let mut broken = fixture("command_start");
    broken.as_object_mut().unwrap().remove("token");
    let (status, _) = bot.post_signed(&serde_json::to_vec(&broken).unwrap()).await;
    assert_eq!(status, 400);
}

fn op_calls(bot: &TestBot) -> Vec<Value> {
    bot.store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .into_iter()
        .map(|e| e.message.op.to_value().unwrap())
        .collect()
}

#[tokio::test]
async fn slash_command_answers_at_once_and_queues_the_thread() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let response = bot.interact(&fixture("command_start")).await;
    assert_eq!(response["type"], 4);
    let content = response["data"]["content"].as_str().unwrap();
    assert!(content.contains("started by **Ada Lovelace**"), "{content}");
    assert_sendable(&response["data"]);

    // Nothing has gone out yet; everything is queued, in order, in one lane: the look-up
    // of the answer's message id, then what the decision shows, as neutral effects.
    assert!(standin.calls().is_empty());
    let pending = bot.store.outbox_pending(Platform::Discord).unwrap();
    let ops = op_calls(&bot);
    assert_eq!(ops[0]["method"], "GET");
    assert_eq!(
        ops[0]["path"],
        format!("/webhooks/{APP_ID}/aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDEwMDpzdGFydC10b2tlbg/messages/@original")
    );
    let effects: Vec<(Value, Value)> = ops[1..]
        .iter()
        .map(|op| (op["said"]["effect"].clone(), op["via"].clone()))
        .collect();
    assert_eq!(
        effects,
        vec![
            (
                json!("opened"),
                json!({ "thread": {
                    "channel": CHANNEL,
                    "origin": format!("{{{{ref:discord:{START_ID}:origin}}}}"),
                }})
            ),
            (
                json!("ask"),
                json!({ "post": {
                    "thread": format!("{{{{ref:discord:{START_ID}:thread}}}}"),
                    "reply_to": null,
                }})
            ),
        ]
    );
    assert!(pending
        .iter()
        .all(|e| e.message.lane == pending[0].message.lane));

    // Delivered: the thread opens from the answer, and the first question lands in it.
    let pass = bot.deliver().await;
    assert_eq!(pass.sent, 3);
    let calls = standin.calls();
    let thread = calls[1].path.split('/').nth(4).unwrap().to_owned();
    assert_eq!(
        calls[1].path,
        format!("/channels/{CHANNEL}/messages/{thread}/threads")
    );
    assert_eq!(calls[1].body["name"], "Backend decision: Ada Lovelace");
    assert_eq!(
        calls[1].authorization.as_deref(),
        Some(&*format!("Bot {BOT_TOKEN}"))
    );
    assert_eq!(calls[2].path, format!("/channels/{thread}/messages"));
    let question = &calls[2].body;
    assert_sendable(question);
    assert!(question["content"]
        .as_str()
        .unwrap()
        .contains("What will this backend mainly do?"));
    let first_button = &question["components"][0]["components"][0];
    assert_eq!(first_button["custom_id"], format!("to:{START_ID}:0:c0"));
    assert_eq!(first_button["label"], "Real-time");
}

fn click(thread: &str, custom_id: &str, id: &str) -> Value {
    button_click(thread, custom_id, id)
}

async fn started(standin: &StandIn, bot: &TestBot) -> String {
    bot.interact(&fixture("command_start")).await;
    bot.deliver().await;
    first_thread(standin)
}

#[tokio::test]
async fn a_click_updates_its_message_and_asks_the_next_question() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let thread = started(&standin, &bot).await;

    let response = bot
        .interact(&click(
            &thread,
            &format!("to:{START_ID}:0:c0"),
            "1180000000000000300",
        ))
        .await;
    // Acknowledged; the outbox closes the question and asks the next one.
    assert_eq!(response["type"], 6);
    let sent = delivered(&standin, &bot).await;
    let closed = &sent[0];
    assert_eq!(closed.method, "PATCH");
    assert!(closed
        .path
        .starts_with(&format!("/channels/{thread}/messages/")));
    assert_eq!(closed.body["components"], json!([]));
    assert_eq!(
        closed.body["content"],
        "**What will this backend mainly do?**\n✓ Real-time, chosen by Grace"
    );
    assert_sendable(&closed.body);
    let next = sent.last().unwrap().clone();
    assert_eq!(next.path, format!("/channels/{thread}/messages"));
    assert!(next.body["content"]
        .as_str()
        .unwrap()
        .contains("How many simultaneous connections"));

    // The same button again: that question is answered; only the clicker is told.
    let again = bot
        .interact(&click(
            &thread,
            &format!("to:{START_ID}:0:c1"),
            "1180000000000000302",
        ))
        .await;
    assert_eq!(again["type"], 6);
    assert_told_privately(&delivered(&standin, &bot).await);

    // Skip as a button on the current question.
    let skip = bot
        .interact(&click(
            &thread,
            &format!("to:{START_ID}:1:skip"),
            "1180000000000000303",
        ))
        .await;
    assert_eq!(skip["type"], 6);
    let sent = delivered(&standin, &bot).await;
    assert!(sent[0].body["content"]
        .as_str()
        .unwrap()
        .contains("Skipped"));

    // A menu pick (the select fixture picks choice 1 of question 0) on a stale question.
    let mut select = fixture("component_select");
    select["channel_id"] = json!(thread);
    let stale = bot.interact(&select).await;
    assert_eq!(stale["type"], 6);
    assert_told_privately(&delivered(&standin, &bot).await);
}

/// What the outbox sends now.
async fn delivered(standin: &StandIn, bot: &TestBot) -> Vec<Call> {
    let before = standin.calls().len();
    bot.deliver().await;
    standin.calls()[before..].to_vec()
}

/// One message, a follow-up of the click that only the clicker sees.
fn assert_told_privately(sent: &[Call]) {
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "POST");
    assert!(
        sent[0].path.starts_with(&format!("/webhooks/{APP_ID}/")),
        "{sent:?}"
    );
    assert_eq!(sent[0].body["flags"], 64);
}

#[tokio::test]
async fn a_menu_pick_answers_like_a_button() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let thread = started(&standin, &bot).await;
    let mut select = fixture("component_select");
    select["channel_id"] = json!(thread);
    let response = bot.interact(&select).await;
    assert_eq!(response["type"], 6);
    let sent = delivered(&standin, &bot).await;
    assert!(sent[0].body["content"]
        .as_str()
        .unwrap()
        .contains("✓ API / CRUD, chosen by Ada Lovelace"));
}

/// The HTTP endpoint and the gateway get the same payloads; the answer the endpoint returns
/// is the answer the gateway sends to the callback, and both queue the same follow-ups.
#[tokio::test]
async fn gateway_and_http_reach_the_same_handler() {
    let standin_http = StandIn::start().await;
    let over_http = TestBot::start(&standin_http).await;
    let standin_gateway = StandIn::start().await;
    let over_gateway = TestBot::start(&standin_gateway).await;
    let gateway = Gateway {
        bot: over_gateway.bot.clone(),
    };

    let answer_http = over_http.interact(&fixture("command_start")).await;
    over_http.deliver().await;
    let start: Interaction = serde_json::from_value(fixture("command_start")).unwrap();
    assert!(matches!(
        gateway.on_interaction(start).await,
        Delivery::Sent(None)
    ));
    over_gateway.deliver().await;
    let start_http = standin_http.calls();
    let start_gateway = standin_gateway.calls();
    // The gateway's first call is the interaction callback, with the HTTP answer as body.
    let callback = &start_gateway[0];
    assert_eq!(
        callback.path,
        format!("/interactions/{START_ID}/aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDEwMDpzdGFydC10b2tlbg/callback")
    );
    assert_eq!(callback.body, answer_http);
    let same = |a: &[Call], b: &[Call]| {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!((&x.method, &x.body), (&y.method, &y.body));
        }
    };
    same(&start_http, &start_gateway[1..]);
    let thread_http = start_http[1].path.split('/').nth(4).unwrap().to_owned();
    let thread_gateway = start_gateway[2].path.split('/').nth(4).unwrap().to_owned();
    // Both stand-ins hand out the same ids, so even the paths match.
    assert_eq!(thread_http, thread_gateway);

    // A click, both ways.
    let click_http = click(
        &thread_http,
        &format!("to:{START_ID}:0:c0"),
        "1180000000000000300",
    );
    let click_gateway = click(
        &thread_gateway,
        &format!("to:{START_ID}:0:c0"),
        "1180000000000000300",
    );
    let answer_http = over_http.interact(&click_http).await;
    gateway
        .on_interaction(serde_json::from_value(click_gateway).unwrap())
        .await;
    let callback = standin_gateway.calls().last().unwrap().clone();
    assert!(callback.path.ends_with("/callback"));
    assert_eq!(callback.body, answer_http);

    // A written reply (MESSAGE_CREATE), both ways: the HTTP side has no gateway, so its
    // bot takes the same model through the same handler method.
    let reply = |thread: &str| {
        let mut m = fixture("message_create");
        m["channel_id"] = json!(thread);
        serde_json::from_value::<Message>(m).unwrap()
    };
    over_http.bot.handle_message(&reply(&thread_http));
    gateway.on_message(reply(&thread_gateway)).await;
    let (a, b) = (op_calls(&over_http), op_calls(&over_gateway));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}
