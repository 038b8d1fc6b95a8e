//! Companion servers for `benches/slack_load.sh`:
//!
//! - `bare ADDR`: a bare axum handler on `POST /slack/commands` doing only the signature
//!   check `tradeoff serve` does (same code, same secret from `SLACK_SIGNING_SECRET`) and a
//!   fixed ephemeral answer: the baseline the real endpoint is compared with.
//! - `stand-in ADDR`: a minimal Web API (`auth.test`, `chat.postMessage`, `chat.update`,
//!   `chat.postEphemeral`) so the server under load delivers its outbox as in production.
//!   `GET /posted` answers how many messages were posted or updated (each gets a new `ts`),
//!   so the load script can time how long the outbox takes to deliver what the load queued.
//! - `seed DIR N`: fills the data directory `DIR` with `N` finished Slack decisions, each
//!   as a start leaves it once delivered (the conversation, with twelve answers, and the
//!   three refs its posts set), spread over 1,000 channels, through the store's own writer
//!   (from 32 threads, so writes are grouped): a store of a known size to load.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use tradeoff::slack::verify::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn bare(headers: HeaderMap, body: Bytes) -> Result<Json<Value>, StatusCode> {
    let secret = std::env::var("SLACK_SIGNING_SECRET").unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(
        &secret,
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        &body,
        now(),
    )
    .map_err(|_| StatusCode::UNAUTHORIZED)?;
    Ok(Json(
        json!({ "response_type": "ephemeral", "text": "Starting: the questions are in a thread." }),
    ))
}

static TS: AtomicU64 = AtomicU64::new(1);

async fn posted() -> String {
    (TS.load(Ordering::Relaxed) - 1).to_string()
}

async fn stand_in(
    axum::extract::Path(method): axum::extract::Path<String>,
    body: Bytes,
) -> Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Json(match method.as_str() {
        "auth.test" => {
            json!({ "ok": true, "user_id": "UBOT", "team_id": "T1", "url": "https://x.slack.com/", "team": "x", "user": "tradeoff" })
        }
        "chat.postMessage" | "chat.update" => {
            let ts = format!("1700000000.{:06}", TS.fetch_add(1, Ordering::Relaxed));
            json!({ "ok": true, "channel": body["channel"], "ts": ts, "message": { "ts": ts } })
        }
        _ => json!({ "ok": true }),
    })
}

/// `seed DIR N`.
fn seed(dir: &str, n: usize) {
    use std::sync::Arc;
    use tradeoff::core::conversation::{Conversation, Input, Next};
    use tradeoff::core::ids::*;
    let app = Arc::new(tradeoff::cli::open_app(std::path::Path::new(dir), None).unwrap());
    let (pack, version) = app.pack(None).unwrap();
    let by = UserRef::new("U0001", "load");
    let mut finished = Conversation::start(&pack, version, by.clone(), now());
    while let Next::Ask(q) = finished.next() {
        let question = &pack.questions[q];
        let input = Input::Choice {
            question: question.id.to_string(),
            choice: question.choices[0].id.to_string(),
        };
        finished.step(&pack, input, &by, now());
    }
    let started = std::time::Instant::now();
    const THREADS: usize = 32;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (app, finished) = (app.clone(), finished.clone());
            std::thread::spawn(move || {
                for i in (t..n).step_by(THREADS) {
                    let channel = format!("C{:04}", i % 1000);
                    let thread = format!("seed{i:x}");
                    let key = ConversationKey {
                        platform: Platform::Slack,
                        workspace: WorkspaceId::new("T0001"),
                        channel: ChannelId::new(channel.clone()),
                        thread: ThreadKey::new(thread.clone()),
                        user: None,
                    };
                    let store = &app.store;
                    store.put_conversation(&key, &finished).unwrap();
                    let lane = format!("slack|T0001|{channel}|{thread}");
                    let ts = format!("1600000000.{i:06}");
                    store
                        .put_ref(&format!("slack|thread|T0001|{channel}|{ts}"), &thread)
                        .unwrap();
                    store.put_ref(&format!("{lane}|parent"), &ts).unwrap();
                    store.put_ref(&format!("{lane}|current"), &ts).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {n} decisions in {secs:.1} s ({:.0} per second)",
        n as f64 / secs
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mode, addr) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    );
    let app = match mode.as_str() {
        "seed" => {
            let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
            return seed(&addr, n);
        }
        "bare" => Router::new().route("/slack/commands", post(bare)),
        "stand-in" => Router::new()
            .route("/api/{method}", any(stand_in))
            .route("/posted", axum::routing::get(posted)),
        _ => {
            eprintln!("usage: slack_bench (bare | stand-in) ADDR, or slack_bench seed DIR N");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
