//! The real `tradeoff serve` connected to a stand-in of Discord's gateway on loopback (a
//! websocket speaking the gateway's JSON: HELLO, then READY to an IDENTIFY or RESUMED to a
//! RESUME): `/readyz` says the gateway is connected, not ready once the connection drops
//! (while the stand-in keeps the reconnection waiting), and ready again once it is back.

use crate::common;
use crate::discord_support::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

/// Plays the gateway: for each connection it lets in, HELLO, then READY or RESUMED, then
/// heartbeat ACKs until `drop_it` is notified, when it closes the connection as Discord
/// does when a session timed out. The next connection is let in only once `let_in` is
/// notified.
async fn gateway(listener: TcpListener, drop_it: Arc<Notify>, let_in: Arc<Notify>, url: String) {
    let mut first = true;
    loop {
        if !first {
            let_in.notified().await;
        }
        first = false;
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let hello = json!({ "op": 10, "d": { "heartbeat_interval": 45000 }, "s": null, "t": null });
        ws.send(Message::text(hello.to_string())).await.unwrap();
        loop {
            let frame = tokio::select! {
                frame = ws.next() => frame,
                _ = drop_it.notified() => {
                    // Discord's "session timed out": serenity starts the shard anew.
                    let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: 4009.into(),
                        reason: "session timed out".into(),
                    };
                    let _ = ws.send(Message::Close(Some(close))).await;
                    break;
                }
            };
            let Some(Ok(Message::Text(text))) = frame else {
                break;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            let reply = match v["op"].as_u64() {
                Some(2) => json!({ "op": 0, "s": 1, "t": "READY", "d": {
                    "v": 10,
                    "user": { "id": APP_ID, "username": "tradeoff", "discriminator": "0",
                              "global_name": null, "avatar": null, "bot": true },
                    "guilds": [],
                    "session_id": "session-1",
                    "resume_gateway_url": url,
                    "application": { "id": APP_ID, "flags": 0 },
                }}),
                Some(6) => json!({ "op": 0, "s": 2, "t": "RESUMED", "d": {} }),
                Some(1) => json!({ "op": 11, "s": null, "t": null, "d": null }),
                _ => continue,
            };
            ws.send(Message::text(reply.to_string())).await.unwrap();
        }
        drop(ws);
    }
}

async fn gateway_part(addr: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, body["parts"]["discord_gateway"].clone())
}

/// Waits (up to 20 s) until the gateway part's readiness is `ready`.
async fn until(addr: &str, ready: bool) -> (u16, Value) {
    for _ in 0..400 {
        let (status, part) = gateway_part(addr).await;
        if part["ready"] == ready {
            return (status, part);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the gateway part never became ready={ready}: {:?}",
        gateway_part(addr).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_gateway_is_not_ready_until_it_is_back() {
    let standin = StandIn::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}", listener.local_addr().unwrap());
    standin.set_gateway_url(&ws_url);
    let (drop_it, let_in) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    tokio::spawn(gateway(listener, drop_it.clone(), let_in.clone(), ws_url));

    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut child = common::serve_command(dir.path(), &addr)
        .env("DISCORD_TOKEN", BOT_TOKEN)
        .env("DISCORD_APPLICATION_ID", APP_ID)
        .env("DISCORD_API_URL", &standin.url)
        .spawn()
        .unwrap();
    let logs = common::lines(child.stderr.take().unwrap());
    tokio::task::block_in_place(|| common::wait_for(&logs, "listening"));

    let (status, part) = until(&addr, true).await;
    assert_eq!(status, 200, "{part}");
    assert_eq!(part["detail"], "connected to the gateway");

    // The connection drops, and the reconnection is kept waiting.
    drop_it.notify_one();
    let (status, part) = until(&addr, false).await;
    assert_eq!(status, 503, "{part}");
    assert!(
        part["detail"].as_str().unwrap().contains("gateway"),
        "{part}"
    );

    // Let it back in: connected again, without a restart.
    let_in.notify_one();
    let (status, part) = until(&addr, true).await;
    assert_eq!(status, 200, "{part}");
    common::stop(&mut child, "-TERM");
}
