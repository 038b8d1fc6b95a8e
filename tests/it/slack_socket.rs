//! Socket Mode against a local stand-in: `apps.connections.open` on the stand-in Web API
//! hands out a `ws://` URL on loopback, where a websocket server plays Slack's side (hello,
//! envelopes, and reading the bot's acknowledgements).

use crate::slack_support::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tradeoff::slack::socket::SocketMode;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The next text frame from the bot, as JSON. The timeout only stops a broken test from
/// hanging; nothing here measures time.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the bot answered")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = frame {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Sends an envelope and returns the bot's acknowledgement, which must name it.
async fn exchange(ws: &mut Ws, envelope: Value) -> Value {
    send(ws, envelope.clone()).await;
    let ack = next_json(ws).await;
    assert_eq!(ack["envelope_id"], envelope["envelope_id"]);
    ack
}

/// A bot on a fresh store, connected by Socket Mode: the stand-in's
/// `apps.connections.open` hands it a websocket URL, where the test plays Slack's side.
struct Linked {
    stand_in: StandIn,
    h: Harness,
    socket: SocketMode,
    ws: Ws,
    _dir: TempDir,
}

async fn connect() -> Linked {
    let stand_in = StandIn::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    stand_in.set_socket_url(&format!("ws://{}/link", listener.local_addr().unwrap()));
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let socket = SocketMode::new(
        h.bot.clone(),
        tradeoff::slack::api::client(&stand_in.api_url()),
        "xapp-1-test",
    );
    socket.start().await.unwrap();
    let (tcp, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("the bot connected")
        .unwrap();
    let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    Linked {
        stand_in,
        h,
        socket,
        ws,
        _dir: dir,
    }
}

/// Slack's first frame on a new connection.
async fn hello(ws: &mut Ws) {
    send(ws, json!({
        "type": "hello", "num_connections": 1,
        "debug_info": { "host": "applink-test", "build_number": 1, "approximate_connection_time": 18060 },
        "connection_info": { "app_id": "A123456" }
    }))
    .await;
}

#[tokio::test]
async fn envelopes_reach_the_same_handlers_and_are_acknowledged() {
    let mut l = connect().await;
    let open = l.stand_in.calls();
    assert_eq!(open[0].method, "apps.connections.open");
    assert_eq!(open[0].authorization, "Bearer xapp-1-test");

    hello(&mut l.ws).await;

    // A slash command: the answer travels in the acknowledgement.
    let command = fixture("slash_command.json");
    let ack = exchange(
        &mut l.ws,
        json!({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": true,
            "payload": command
        }),
    )
    .await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral");
    assert!(ack["payload"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Starting"));
    l.h.deliver().await;
    let posts = l.stand_in.calls_of("chat.postMessage");
    assert_eq!(posts.len(), 2);
    let parent = posts[0].ts.clone().unwrap();
    let question = posts[1].clone();

    // A click, then a thread reply, as Socket Mode envelopes.
    let p = click(&question, &buttons(&question)[0], "U2", "1700000001.000001");
    exchange(&mut l.ws, json!({
        "envelope_id": "env-2", "type": "interactive", "accepts_response_payload": false, "payload": p
    }))
    .await;
    l.h.deliver().await;

    let r = reply("over 10k", &parent, "U3", "EvSock1");
    for retry in 0..2 {
        exchange(&mut l.ws, json!({
            "envelope_id": format!("env-3-{retry}"), "type": "events_api",
            "accepts_response_payload": false, "retry_attempt": retry, "retry_reason": "", "payload": r
        }))
        .await;
    }
    l.h.deliver().await;

    let updates = l.stand_in.calls_of("chat.update");
    assert_eq!(
        updates.len(),
        2,
        "one click and one reply (its redelivery ignored)"
    );
    assert_eq!(updates[0].body["text"], "✓ Real-time, chosen by <@U2>");
    assert_eq!(updates[1].body["text"], "✓ Over 10k, chosen by <@U3>");
    assert_eq!(
        l.stand_in.calls_of("chat.postMessage").len(),
        4,
        "parent and three questions"
    );
    l.socket.shutdown().await;
}

/// Polls over Socket Mode: the Answer click opens the modal, and a submission's outcome
/// travels in the acknowledgement (bare when accepted, the errors when the poll closed).
#[tokio::test]
async fn a_poll_modal_is_answered_over_socket_mode() {
    let mut l = connect().await;
    hello(&mut l.ws).await;

    let mut command = fixture("slash_command.json");
    command["text"] = json!("poll");
    let ack = exchange(
        &mut l.ws,
        json!({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": true,
            "payload": command
        }),
    )
    .await;
    assert!(ack["payload"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Your poll is open"));
    let poll =
        l.h.app
            .store
            .open_poll_in(
                tradeoff::core::ids::Platform::Slack,
                &"T0001".into(),
                &"C2147483705".into(),
            )
            .unwrap()
            .unwrap();

    let mut click = fixture("block_actions_poll_answer.json");
    click["actions"][0]["value"] = json!(poll.id.to_string());
    exchange(
        &mut l.ws,
        json!({
            "envelope_id": "env-2", "type": "interactive", "accepts_response_payload": false,
            "payload": click
        }),
    )
    .await;
    let opened = l.stand_in.calls_of("views.open");
    assert_eq!(opened.len(), 1);
    let view = opened[0].body["view"].clone();

    let mut submission = fixture("view_submission.json");
    submission["view"]["blocks"] = view["blocks"].clone();
    submission["view"]["private_metadata"] = view["private_metadata"].clone();
    submission["view"]["state"] = json!({ "values": { "q|workload": { "choice": {
        "type": "static_select",
        "selected_option": { "text": { "type": "plain_text", "text": "Real-time" }, "value": "realtime" }
    } } } });
    let ack = exchange(
        &mut l.ws,
        json!({
            "envelope_id": "env-3", "type": "interactive", "accepts_response_payload": true,
            "payload": submission
        }),
    )
    .await;
    assert!(
        ack.get("payload").is_none(),
        "accepted: a bare ack closes the modal: {ack}"
    );
    assert_eq!(
        l.h.app.store.poll(&poll.id).unwrap().unwrap().respondents,
        1
    );

    // Closed meanwhile: the same submission gets the error under the first question.
    l.h.app
        .close_poll(
            (
                tradeoff::core::ids::Platform::Slack,
                "T0001".into(),
                "C2147483705".into(),
            ),
            &poll.creator,
            false,
            l.h.clock.secs(),
            &tradeoff::slack::polls::SlackPollPresenter,
        )
        .unwrap();
    let ack = exchange(
        &mut l.ws,
        json!({
            "envelope_id": "env-4", "type": "interactive", "accepts_response_payload": true,
            "payload": submission
        }),
    )
    .await;
    assert_eq!(
        ack["payload"],
        json!({ "response_action": "errors", "errors": {
            "q|workload": "This poll has closed; its summary is in the channel." } })
    );
    l.socket.shutdown().await;
}
