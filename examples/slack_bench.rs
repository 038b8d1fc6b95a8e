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
//! - `steps DIR N OUT (clicks | replies)`: fills `DIR` with `N` Slack decisions just
//!   started (the first question asked, its thread indexed), then writes to `OUT` one
//!   signed request per decision (signed with `SLACK_SIGNING_SECRET`, timestamped now):
//!   a click on the first question's first choice (`/slack/interactions`), or a thread
//!   reply naming that choice (`/slack/events`). A line is `path TAB timestamp TAB
//!   signature TAB content-type TAB body`, for `benches/slack_steps.lua`.

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

/// The data directory's app, and a conversation of `pack` started now: as the seed writes it.
fn open(dir: &str) -> std::sync::Arc<tradeoff::app::App> {
    std::sync::Arc::new(tradeoff::cli::open_app(std::path::Path::new(dir), None).unwrap())
}

/// Writes `conversation` as a delivered Slack start leaves it: decision `i`, in one of
/// 1,000 channels, its thread's parent and its question asked last at `ts`.
fn put_started(
    app: &tradeoff::app::App,
    i: usize,
    conversation: &tradeoff::core::conversation::Conversation,
) -> (String, String, String) {
    use tradeoff::core::ids::*;
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
    store.put_conversation(&key, conversation).unwrap();
    let lane = format!("slack|T0001|{channel}|{thread}");
    let ts = format!("1600000000.{i:06}");
    store
        .put_ref(&format!("slack|thread|T0001|{channel}|{ts}"), &thread)
        .unwrap();
    store.put_ref(&format!("{lane}|parent"), &ts).unwrap();
    store.put_ref(&format!("{lane}|current"), &ts).unwrap();
    (channel, thread, ts)
}

/// Runs `each(i)` for `0..n` on 32 threads, so the store groups their writes.
fn on_threads<T: Send + 'static>(
    n: usize,
    each: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<(usize, T)> {
    const THREADS: usize = 32;
    let each = std::sync::Arc::new(each);
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let each = each.clone();
            std::thread::spawn(move || {
                (t..n)
                    .step_by(THREADS)
                    .map(|i| (i, each(i)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut out: Vec<(usize, T)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    out.sort_by_key(|(i, _)| *i);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {n} decisions in {secs:.1} s ({:.0} per second)",
        n as f64 / secs
    );
    out
}

/// `seed DIR N`.
fn seed(dir: &str, n: usize) {
    use tradeoff::core::conversation::{Conversation, Input, Next};
    use tradeoff::core::ids::*;
    let app = open(dir);
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
    on_threads(n, move |i| {
        put_started(&app, i, &finished);
    });
}

/// `steps DIR N OUT KIND`.
fn steps(dir: &str, n: usize, out: &str, kind: &str) {
    use std::io::Write;
    use tradeoff::core::conversation::Conversation;
    use tradeoff::core::ids::*;
    let secret = std::env::var("SLACK_SIGNING_SECRET").expect("SLACK_SIGNING_SECRET");
    let app = open(dir);
    let (pack, version) = app.pack(None).unwrap();
    let by = UserRef::new("U0001", "load");
    let started = Conversation::start(&pack, version, by, now());
    let question = pack.questions[0].id.to_string();
    let choice = pack.questions[0].choices[0].clone();
    let placed = on_threads(n, move |i| put_started(&app, i, &started));
    let ts = now().to_string();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for (i, (channel, thread, parent)) in placed {
        let (path, content_type, body) = if kind == "clicks" {
            let payload = json!({
                "type": "block_actions",
                "user": { "id": "U0002", "username": "load", "name": "load", "team_id": "T0001" },
                "api_app_id": "A1",
                "container": { "type": "message", "message_ts": parent, "channel_id": channel,
                               "is_ephemeral": false, "thread_ts": parent },
                "trigger_id": format!("1.{i}.x"),
                "team": { "id": "T0001", "domain": "load" },
                "channel": { "id": channel, "name": "load" },
                "message": { "type": "message", "ts": parent, "thread_ts": parent, "text": "" },
                "response_url": "https://hooks.slack.com/actions/T0001/1/x",
                "actions": [{
                    "action_id": format!("choice|{}", choice.id),
                    "block_id": format!("tradeoff|{thread}|{question}|choices"),
                    "value": choice.id.to_string(), "type": "button",
                    "action_ts": format!("1700000001.{i:06}"),
                }],
            });
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &payload.to_string())
                .finish();
            (
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                body,
            )
        } else {
            let event = json!({
                "token": "x", "team_id": "T0001", "api_app_id": "A1",
                "event": { "type": "message", "channel": channel, "user": "U0002",
                           "text": choice.label, "ts": format!("1700000005.{i:06}"),
                           "thread_ts": parent, "event_ts": format!("1700000005.{i:06}"),
                           "channel_type": "channel", "team": "T0001" },
                "type": "event_callback", "event_id": format!("EvLoad{i:x}"),
                "event_time": 1_700_000_005,
                "authorizations": [{ "team_id": "T0001", "user_id": "UBOT", "is_bot": true }],
            });
            ("/slack/events", "application/json", event.to_string())
        };
        let signature = tradeoff::slack::verify::sign(&secret, &ts, body.as_bytes());
        writeln!(file, "{path}\t{ts}\t{signature}\t{content_type}\t{body}").unwrap();
    }
    file.flush().unwrap();
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
        "steps" => {
            let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
            let out = args.next().unwrap_or_default();
            let kind = args.next().unwrap_or_default();
            if kind != "clicks" && kind != "replies" {
                eprintln!("usage: slack_bench steps DIR N OUT (clicks | replies)");
                std::process::exit(2);
            }
            return steps(&addr, n, &out, &kind);
        }
        "bare" => Router::new().route("/slack/{endpoint}", post(bare)),
        "stand-in" => Router::new()
            .route("/api/{method}", any(stand_in))
            .route("/posted", axum::routing::get(posted)),
        _ => {
            eprintln!(
                "usage: slack_bench (bare | stand-in) ADDR, slack_bench seed DIR N, \
                 or slack_bench steps DIR N OUT (clicks | replies)"
            );
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
