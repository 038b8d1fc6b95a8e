//! Health that tells the truth: `/readyz` and `tradeoff health` say which part is not
//! ready and why (a bot token Slack refuses, a Socket Mode token it refuses, a stalled
//! store), and ready again once it is fixed, without a restart.

use crate::common;
use crate::slack_support::*;
use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

async fn readyz(addr: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn health(addr: &str) -> std::process::Output {
    common::binary()
        .args(["health", "--addr", addr])
        .output()
        .unwrap()
}

/// Waits (up to 20 s) until `/readyz` says ready.
async fn until_ready(addr: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = readyz(addr).await;
        if status == 200 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never ready: {:?}", readyz(addr).await);
}

fn serve(
    dir: &std::path::Path,
    stand_in: &StandIn,
    app_token: bool,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut cmd = common::serve_command(dir, &addr);
    cmd.env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", stand_in.api_url());
    if app_token {
        cmd.env("SLACK_APP_TOKEN", "xapp-test-token");
    }
    let mut child = cmd.spawn().unwrap();
    let logs = common::lines(child.stderr.take().unwrap());
    common::wait_for(&logs, "listening");
    (child, addr, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_token_slack_refuses_is_not_ready_until_slack_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    // Refused at start-up and at the first retry; taken at the second.
    for _ in 0..2 {
        stand_in.force(
            "auth.test",
            200,
            None,
            json!({ "ok": false, "error": "invalid_auth" }),
        );
    }
    let (mut child, addr, _logs) =
        tokio::task::block_in_place(|| serve(dir.path(), &stand_in, false));
    let (status, body) = readyz(&addr).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["parts"]["slack"]["ready"], false);
    let why = body["parts"]["slack"]["detail"].as_str().unwrap();
    assert!(
        why.contains("invalid_auth") && why.contains("SLACK_BOT_TOKEN"),
        "{why}"
    );
    assert!(!why.contains(BOT_TOKEN), "the token itself is never shown");
    assert_eq!(body["parts"]["store"]["ready"], true, "{body}");
    let out = tokio::task::block_in_place(|| health(&addr));
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("not ready") && said.contains("invalid_auth"),
        "{said}"
    );

    let body = until_ready(&addr).await;
    assert_eq!(body["parts"]["slack"]["ready"], true, "{body}");
    let out = tokio::task::block_in_place(|| health(&addr));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::stop(&mut child, "-TERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_mode_token_slack_refuses_is_not_ready_until_slack_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without a URL to give, the stand-in's apps.connections.open answers invalid_auth.
    let stand_in = StandIn::start().await;
    let (mut child, addr, _logs) =
        tokio::task::block_in_place(|| serve(dir.path(), &stand_in, true));
    let (status, body) = readyz(&addr).await;
    assert_eq!(status, 503, "{body}");
    let part = &body["parts"]["slack_socket_mode"];
    assert_eq!(part["ready"], false, "{body}");
    let why = part["detail"].as_str().unwrap();
    assert!(
        why.contains("SLACK_APP_TOKEN") && why.contains("invalid_auth"),
        "{why}"
    );
    assert_eq!(
        body["parts"]["slack"]["ready"], true,
        "the bot token is fine: {body}"
    );

    // Slack takes the token now.
    stand_in.set_socket_url("ws://127.0.0.1:9/socket");
    let body = until_ready(&addr).await;
    assert_eq!(body["parts"]["slack_socket_mode"]["ready"], true, "{body}");
    common::stop(&mut child, "-TERM");
}

/// A disk that stalls: a write waits in its flush, reads wait behind it, and `/readyz`
/// says the store does not answer; once the disk moves, ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_is_not_ready_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let stalled = Arc::new(AtomicBool::new(false));
    let held = stalled.clone();
    let flush: tradeoff::store::Flush = Box::new(move |db: &sled::Db| {
        while held.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        db.flush().map(|_| ()).map_err(std::io::Error::other)
    });
    let store: Arc<dyn tradeoff::store::Store> =
        Arc::new(tradeoff::store::SledStore::open_with(dir.path(), flush).unwrap());
    let catalog =
        tradeoff::packs::Catalog::load(store.clone(), tradeoff::packs::builtin()).unwrap();
    let app = Arc::new(tradeoff::app::App::new(store.clone(), catalog));
    let router = tradeoff::http::router(tradeoff::http::HttpState {
        app,
        slack: None,
        discord: None,
    });
    assert_eq!(ask(router.clone()).await.0, 200);

    stalled.store(true, Ordering::SeqCst);
    let writer = store.clone();
    let write = std::thread::spawn(move || writer.put_ref("a", "b"));
    std::thread::sleep(Duration::from_millis(100));
    let (status, body) = ask(router.clone()).await;
    assert_eq!(status, 503, "{body}");
    let why = body["parts"]["store"]["detail"].as_str().unwrap();
    assert!(why.contains("did not answer"), "{why}");

    stalled.store(false, Ordering::SeqCst);
    write.join().unwrap().unwrap();
    let (status, body) = ask(router).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parts"]["store"]["ready"], true);
}

/// The outbox part: a queued message's wait is told; one that has waited past 15 minutes
/// makes the outbox not ready.
#[tokio::test]
async fn a_message_waiting_past_fifteen_minutes_makes_the_outbox_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(tradeoff::store::SledStore::open(dir.path()).unwrap());
    let shared: Arc<dyn tradeoff::store::Store> = store.clone();
    let catalog =
        tradeoff::packs::Catalog::load(shared.clone(), tradeoff::packs::builtin()).unwrap();
    let router = tradeoff::http::router(tradeoff::http::HttpState {
        app: Arc::new(tradeoff::app::App::new(shared, catalog)),
        slack: None,
        discord: None,
    });
    let (_, body) = ask(router.clone()).await;
    assert_eq!(body["parts"]["outbox"]["detail"], "nothing queued");

    // A message queued twenty minutes ago, as the store keeps it.
    let queued_ms = chrono::Utc::now().timestamp_millis() - 20 * 60 * 1000;
    let entry = json!({
        "id": 1, "platform": "slack", "lane": "slack|T1|C1|1.0",
        "op": { "method": "chat.postMessage", "body": { "channel": "C1", "text": "x" } },
        "produces": null, "attempts": 3, "not_before_ms": 0, "last_error": "HTTP 503",
        "queued_ms": queued_ms,
    });
    let outbox = store.db().open_tree("outbox").unwrap();
    outbox
        .insert(1u64.to_be_bytes(), serde_json::to_vec(&entry).unwrap())
        .unwrap();
    let (status, body) = ask(router).await;
    assert_eq!(status, 503, "{body}");
    let part = &body["parts"]["outbox"];
    assert_eq!(part["ready"], false, "{body}");
    let detail = part["detail"].as_str().unwrap();
    assert!(detail.contains("(slack) has waited 120"), "{detail}");
}

/// `GET /readyz` of `router`: its status and JSON body.
async fn ask(router: axum::Router) -> (u16, Value) {
    let r = router
        .oneshot(
            axum::http::Request::get("/readyz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice::<Value>(&body).unwrap())
}
