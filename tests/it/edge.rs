//! The edges of the real `tradeoff serve`, over loopback: a connection that trickles its
//! header, or sits idle, is closed within a bound; a body too large by its declared length
//! is refused before it is read, and a slow one gets 408; a stop lets a request in flight
//! finish while it closes idle connections at once; and thousands of correctly signed but
//! malformed payloads, made from a fixed seed, never get a 5xx or cause a panic at the
//! Slack and Discord endpoints.

use crate::common;
use crate::discord_support;
use crate::slack_support;

use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Value};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tradeoff::http::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT};

/// Added to every bound: the test machine may be busy. These tests check what happens (a
/// close, a refusal), not how fast.
const MARGIN: Duration = Duration::from_secs(5);

/// `tradeoff serve` with Slack (HTTP endpoints) and Discord (interactions endpoint) on,
/// each platform's API at a stand-in on loopback. Killed when dropped, if still running.
struct Serve {
    child: Child,
    addr: String,
    logs: Receiver<String>,
    seen: Vec<String>,
    slack: slack_support::StandIn,
    _discord: discord_support::StandIn,
    _dir: tempfile::TempDir,
}

impl Serve {
    async fn start() -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let slack = slack_support::StandIn::start().await;
        let discord = discord_support::StandIn::start().await;
        let discord_api = gateway_on_loopback(&discord.url).await;
        let addr = format!("127.0.0.1:{}", common::free_port());
        let mut child = common::serve_command(dir.path(), &addr)
            .env("SLACK_SIGNING_SECRET", slack_support::SECRET)
            .env("SLACK_BOT_TOKEN", slack_support::BOT_TOKEN)
            .env("SLACK_API_URL", slack.api_url())
            .env("DISCORD_TOKEN", discord_support::BOT_TOKEN)
            .env("DISCORD_PUBLIC_KEY", discord_support::PUBLIC_KEY)
            .env("DISCORD_APPLICATION_ID", discord_support::APP_ID)
            .env("DISCORD_API_URL", discord_api)
            .spawn()
            .unwrap();
        let logs = common::lines(child.stderr.take().unwrap());
        let seen = tokio::task::block_in_place(|| common::wait_for(&logs, "listening"));
        Serve {
            child,
            addr,
            logs,
            seen,
            slack,
            _discord: discord,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).await.unwrap()
    }

    /// Everything it logged, once it has ended: up to the end of its output.
    fn whole_log(&mut self) -> String {
        while let Ok(line) = self.logs.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Waits, at most `bound`, for the process to end.
    fn exited_within(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {bound:?} after the signal"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Discord's REST API as the stand-in at `stand_in` answers it, but for the gateway's
/// address: a loopback port where nothing listens. The bot's gateway client (on with
/// DISCORD_TOKEN) then fails on the machine instead of reaching out for Discord's.
async fn gateway_on_loopback(stand_in: &str) -> String {
    use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    use axum::routing::get;
    let url = format!("ws://127.0.0.1:{}", common::free_port());
    let gateway = json!({ "url": url });
    let gateway_bot = json!({
        "url": url, "shards": 1,
        "session_start_limit": { "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1 }
    });
    let upstream = stand_in.to_owned();
    let http = reqwest::Client::new();
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
        let request = http.request(method, format!("{upstream}{uri}")).body(body);
        let request = [header::AUTHORIZATION, header::CONTENT_TYPE]
            .into_iter()
            .filter_map(|name| Some((name.clone(), headers.get(&name)?.clone())))
            .fold(request, |r, (name, value)| r.header(name, value));
        async move {
            let Ok(answer) = request.send().await else {
                return StatusCode::BAD_GATEWAY.into_response();
            };
            let status = answer.status();
            let mut headers = HeaderMap::new();
            for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
                if let Some(value) = answer.headers().get(&name) {
                    headers.insert(name, value.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            (status, headers, body).into_response()
        }
    };
    let app = axum::Router::new()
        .route(
            "/api/v10/gateway",
            get(move || std::future::ready(axum::Json(gateway.clone()))),
        )
        .route(
            "/api/v10/gateway/bot",
            get(move || std::future::ready(axum::Json(gateway_bot.clone()))),
        )
        .fallback(forward);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Reads one response: its head, then as much body as its `Content-Length` says.
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed without an answer; read so far: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed in the middle of the body of {head:?}");
        body.extend_from_slice(&chunk[..n]);
    }
    Answer { status, head, body }
}

/// Waits, at most `bound`, for the server to close `stream` (end of stream, or a reset);
/// returns how long after `since` that was. Anything the server sends first fails the test.
async fn closed(stream: &mut TcpStream, since: Instant, bound: Duration) -> Duration {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(bound, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => since.elapsed(),
        Ok(Ok(n)) => panic!(
            "expected a close, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(_) => panic!("the connection is still open after {bound:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_trickling_its_header_is_closed_after_the_header_timeout() {
    let serve = Serve::start().await;
    let mut stream = serve.connect().await;
    let opened = Instant::now();
    stream
        .write_all(b"POST /slack/commands HTTP/1.1\r\nHost: tradeoff\r\nX-Slow: ")
        .await
        .unwrap();
    // A byte of the header every half second: the bound is on the whole header, not on
    // the gaps between its bytes.
    let mut buf = [0u8; 1024];
    let closed_after = loop {
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break opened.elapsed(),
            Ok(Ok(n)) => panic!(
                "answered a header still coming: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(_) => {
                if stream.write_all(b"a").await.is_err() {
                    break opened.elapsed();
                }
            }
        }
        assert!(
            opened.elapsed() < HEADER_READ_TIMEOUT + MARGIN,
            "a header still coming after {:?} holds its connection",
            opened.elapsed()
        );
    };
    assert!(
        closed_after >= HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "closed after {closed_after:?}, before the header timeout: for another reason?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_left_idle_is_closed_after_the_idle_timeout() {
    let serve = Serve::start().await;
    let mut stream = serve.connect().await;
    // Two requests on the one connection: it is kept alive.
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: tradeoff\r\n\r\n")
            .await
            .unwrap();
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            !answer
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "{answer:?}"
        );
    }
    let idle_since = Instant::now();
    let closed_after = closed(&mut stream, idle_since, HEADER_READ_TIMEOUT + MARGIN).await;
    assert!(
        closed_after >= HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "closed after {closed_after:?} idle, before the idle timeout"
    );
}

const ENDPOINTS: [&str; 4] = [
    "/slack/commands",
    "/slack/interactions",
    "/slack/events",
    "/discord/interactions",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_too_large_is_refused_before_it_is_sent() {
    let serve = Serve::start().await;
    for path in ENDPOINTS {
        let mut stream = serve.connect().await;
        stream
            .write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: tradeoff\r\nContent-Type: application/json\r\n\
                     Content-Length: 50000000\r\n\r\n{{"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        // The body never comes: the answer does not wait for it.
        let answer = tokio::time::timeout(MARGIN, read_answer(&mut stream))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer within {MARGIN:?}"));
        assert_eq!(answer.status, 413, "{path}: {answer:?}");
    }

    // Without a declared length, the body is cut off at the limit: 413 too.
    for (path, limit) in [
        ("/slack/events", tradeoff::slack::http::MAX_BODY),
        ("/discord/interactions", tradeoff::discord::http::MAX_BODY),
    ] {
        let mut stream = serve.connect().await;
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: tradeoff\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            limit + 1
        )
        .into_bytes();
        request.extend(std::iter::repeat_n(b' ', limit + 1));
        request.extend_from_slice(b"\r\n0\r\n\r\n");
        let (mut read, mut write) = stream.split();
        let (answer, _) = tokio::join!(
            tokio::time::timeout(MARGIN, read_answer(&mut read)),
            // The server may stop reading once it has refused.
            async { write.write_all(&request).await.ok() }
        );
        let answer = answer.unwrap_or_else(|_| panic!("{path}: no answer"));
        assert_eq!(answer.status, 413, "{path}: {answer:?}");
    }

    // A body within the limit goes through to the endpoint, which checks its signature.
    let http = reqwest::Client::new();
    for path in ENDPOINTS {
        let r = http
            .post(serve.url(path))
            .body(vec![b'x'; 1000])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_still_arriving_after_the_body_timeout_gets_408() {
    let serve = Serve::start().await;
    let mut stream = serve.connect().await;
    stream
        .write_all(
            b"POST /slack/events HTTP/1.1\r\nHost: tradeoff\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"type\":",
        )
        .await
        .unwrap();
    let headers_sent = Instant::now();
    // A byte every half second keeps the body moving, but never completes it in time.
    let reader = async {
        let (mut read, mut write) = stream.split();
        let trickle = async {
            for _ in 0..80 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if write.write_all(b" ").await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            answer = read_answer(&mut read) => answer,
            () = trickle => panic!("no answer to a body that never completes"),
        }
    };
    let answer = tokio::time::timeout(BODY_READ_TIMEOUT + MARGIN, reader)
        .await
        .expect("no answer within the body timeout");
    let answered_after = headers_sent.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{answer:?}"
    );
    assert!(
        answered_after >= BODY_READ_TIMEOUT - Duration::from_secs(1),
        "answered after {answered_after:?}, before the body timeout"
    );
    closed(&mut stream, Instant::now(), MARGIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_request_in_flight_finish_and_closes_idle_connections_at_once() {
    let mut serve = Serve::start().await;
    let mut idle = serve.connect().await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: tradeoff\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut idle).await.status, 200);

    // A signed url_verification, its body half sent when the stop comes.
    let body = json!({ "token": "t", "challenge": "c-4711", "type": "url_verification" })
        .to_string()
        .into_bytes();
    let ts = slack_support::TestClock::system().secs().to_string();
    let signature = tradeoff::slack::verify::sign(slack_support::SECRET, &ts, &body);
    let mut busy = serve.connect().await;
    busy.write_all(
        format!(
            "POST /slack/events HTTP/1.1\r\nHost: tradeoff\r\nContent-Type: application/json\r\n\
             X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    busy.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    serve.signal("-TERM");
    let stopped = Instant::now();
    let closed_after = closed(&mut idle, stopped, MARGIN).await;
    assert!(
        closed_after < HEADER_READ_TIMEOUT,
        "the idle connection was closed by its timeout ({closed_after:?}), not by the stop"
    );
    // No longer listening.
    assert!(TcpStream::connect(&serve.addr).await.is_err());

    busy.write_all(rest).await.unwrap();
    let answer = tokio::time::timeout(MARGIN, read_answer(&mut busy))
        .await
        .expect("the request in flight was not answered");
    assert_eq!(answer.status, 200, "{answer:?}");
    let challenge: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(challenge, json!({ "challenge": "c-4711" }));

    let status = tokio::task::block_in_place(|| serve.exited_within(Duration::from_secs(30)));
    let log = serve.whole_log();
    assert!(status.success(), "{status:?}: {log}");
}

// The fuzz.

/// The seed every run starts from: a failure found once is found again.
const SEED: [u8; 32] = *b"tradeoff: the edge fuzz's seed.!";
/// How many requests to make, a quarter to each endpoint...
const CASES: usize = 3000;
/// ...unless this runs out first (the test's bound in time)...
const BUDGET: Duration = Duration::from_secs(30);
/// ...and fewer than this many is a failure: the server would be far too slow.
const AT_LEAST: usize = 1000;
/// Requests in flight at once.
const IN_FLIGHT: usize = 8;
/// No body is made larger (the limit is tested above, and a refusal before the body is
/// sent can break the sending connection).
const LARGEST: usize = 900 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    SlackCommands,
    SlackInteractions,
    SlackEvents,
    Discord,
}

impl Endpoint {
    const ALL: [Endpoint; 4] = [
        Endpoint::SlackCommands,
        Endpoint::SlackInteractions,
        Endpoint::SlackEvents,
        Endpoint::Discord,
    ];

    fn path(self) -> &'static str {
        match self {
            Endpoint::SlackCommands => "/slack/commands",
            Endpoint::SlackInteractions => "/slack/interactions",
            Endpoint::SlackEvents => "/slack/events",
            Endpoint::Discord => "/discord/interactions",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Endpoint::SlackCommands | Endpoint::SlackInteractions => slack_support::FORM,
            Endpoint::SlackEvents | Endpoint::Discord => slack_support::JSON,
        }
    }
}

/// One request: where it goes, what was done to make it, and its body.
struct Case {
    endpoint: Endpoint,
    what: Vec<String>,
    body: Vec<u8>,
}

/// Strings that have broken parsers before: empty, control characters, entities, mentions,
/// right-to-left marks, numbers as strings, long runs of multi-byte characters.
const ODD: &[&str] = &[
    "",
    " ",
    "\0",
    "\u{7f}\u{1b}[31m",
    "&amp;&lt;&gt;&",
    "<@U123>",
    "<!channel>",
    "\u{202e}evil",
    "0",
    "-1",
    "1e400",
    "NaN",
    "null",
    "\"",
    "\\",
    "a\r\nX-Injected: 1",
    "%zz",
    "../../etc/passwd",
    "tradeoff|t1|workload|choices",
    "choice|realtime",
    "to:1180000000000000100:0:c0",
    "1700000000.000100",
];

/// Types that payloads carry, and a few they do not.
const TYPES: &[&str] = &[
    "block_actions",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "block_suggestion",
    "interactive_message",
    "event_callback",
    "url_verification",
    "app_rate_limited",
    "message",
    "app_mention",
    "reaction_added",
    "button",
    "static_select",
    "modal",
    "",
    "unknown",
];

/// Command words, real and not.
const WORDS: &[&str] = &[
    "start",
    "help",
    "poll",
    "results",
    "skip",
    "undo",
    "restart",
    "node-vs-python",
    "nope",
    "start node-vs-python",
    "start nope",
    "poll 5m",
    "poll every week",
];

struct Fuzz {
    rng: TestRng,
    command: Vec<(String, String)>,
    interactions: Vec<Value>,
    events: Vec<Value>,
    discord: Vec<Value>,
}

impl Fuzz {
    fn new() -> Fuzz {
        let command = slack_support::fixture("slash_command.json")
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let interactions = [
            "block_actions.json",
            "block_actions_select.json",
            "block_actions_poll_answer.json",
            "view_submission.json",
        ]
        .map(slack_support::fixture)
        .to_vec();
        let mut events = [
            "event_thread_reply.json",
            "event_bot_message.json",
            "url_verification.json",
        ]
        .map(slack_support::fixture)
        .to_vec();
        events.push(json!({
            "token": "XXYYZZ", "team_id": "T0001", "api_app_id": "A123456",
            "event": { "type": "reaction_added", "user": "U1", "reaction": "tada",
                       "item": { "type": "message", "channel": "C2147483705", "ts": "1700000000.000100" },
                       "event_ts": "1700000007.000700" },
            "type": "event_callback", "event_id": "Ev0PV52K23", "event_time": 1700000007
        }));
        events.push(json!({
            "token": "XXYYZZ", "type": "app_rate_limited", "team_id": "T0001",
            "minute_rate_limited": 1700000000, "api_app_id": "A123456"
        }));
        let discord = [
            "ping",
            "command_start",
            "command_poll",
            "component_button",
            "component_select",
            "component_poll_answer",
            "component_poll_form",
            "message_create",
        ]
        .map(discord_support::fixture)
        .to_vec();
        Fuzz {
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
            command,
            interactions,
            events,
            discord,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        pick(&mut self.rng, items)
    }

    fn case(&mut self, i: usize) -> Case {
        let endpoint = Endpoint::ALL[i % Endpoint::ALL.len()];
        let mut what = Vec::new();
        let mut body = if self.chance(0.08) {
            self.garbage(&mut what)
        } else {
            match endpoint {
                Endpoint::SlackCommands => self.command(&mut what),
                Endpoint::SlackInteractions => self.interaction(&mut what),
                Endpoint::SlackEvents => {
                    let mut event = pick(&mut self.rng, &self.events).clone();
                    if event.get("event_id").is_some() {
                        event["event_id"] = json!(format!("Ev{}", self.rng.random::<u64>()));
                    }
                    self.json_body(event, &mut what)
                }
                Endpoint::Discord => {
                    let mut interaction = pick(&mut self.rng, &self.discord).clone();
                    interaction["id"] = json!(self.snowflake());
                    self.json_body(interaction, &mut what)
                }
            }
        };
        if body.len() > LARGEST {
            body.truncate(LARGEST);
            what.push("cut to the largest size".into());
        }
        Case {
            endpoint,
            what,
            body,
        }
    }

    fn snowflake(&mut self) -> String {
        self.rng
            .random_range(1_180_000_000_000_000_000u64..1_190_000_000_000_000_000)
            .to_string()
    }

    /// Bytes that are no payload at all.
    fn garbage(&mut self, what: &mut Vec<String>) -> Vec<u8> {
        match self.below(5) {
            0 => {
                what.push("empty body".into());
                Vec::new()
            }
            1 => {
                let mut bytes = vec![0u8; self.below(4096)];
                self.rng.fill(&mut bytes[..]);
                what.push(format!("{} random bytes", bytes.len()));
                bytes
            }
            2 => {
                let text: String = (0..self.below(2048))
                    .map(|_| char::from(self.rng.random_range(0x20u8..0x7f)))
                    .collect();
                what.push("random printable text".into());
                text.into_bytes()
            }
            3 => {
                what.push("a random JSON value".into());
                let v = self.value(4);
                v.to_string().into_bytes()
            }
            _ => {
                let depth = self.rng.random_range(100..5000);
                what.push(format!("{depth} nested arrays"));
                let mut s = "[".repeat(depth);
                if self.chance(0.5) {
                    s.push_str(&"]".repeat(depth));
                }
                s.into_bytes()
            }
        }
    }

    /// A random JSON value, at most `depth` deep.
    fn value(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => json!(self.chance(0.5)),
            2 => json!(self.rng.random::<i64>()),
            3 => json!(self.rng.random::<f64>() * 1e300),
            4 => json!(self.pick(ODD).to_owned()),
            5 => (0..self.below(5)).map(|_| self.value(depth - 1)).collect(),
            _ => {
                let mut object = serde_json::Map::new();
                for _ in 0..self.below(5) {
                    let key = self.pick(&["type", "id", "user", "event", "value", "x"]);
                    object.insert((*key).to_owned(), self.value(depth - 1));
                }
                Value::Object(object)
            }
        }
    }

    /// A slash command's form, from the fixture, with one to three fields broken.
    fn command(&mut self, what: &mut Vec<String>) -> Vec<u8> {
        let mut fields = self.command.clone();
        let text = (*self.pick(WORDS)).to_owned();
        if let Some(f) = fields.iter_mut().find(|(k, _)| k == "text") {
            f.1 = text;
        }
        if let Some(f) = fields.iter_mut().find(|(k, _)| k == "user_id") {
            f.1 = format!("U{}", self.below(50));
        }
        if self.chance(0.1) {
            what.push("the fixture".into());
        } else {
            for _ in 0..self.rng.random_range(1..=3) {
                let at = self.below(fields.len().max(1));
                match self.below(8) {
                    0 if !fields.is_empty() => {
                        what.push(format!("dropped `{}`", fields[at].0));
                        fields.remove(at);
                    }
                    1 if !fields.is_empty() => {
                        what.push(format!("emptied `{}`", fields[at].0));
                        fields[at].1.clear();
                    }
                    2 if !fields.is_empty() => {
                        what.push(format!("repeated `{}`", fields[at].0));
                        let again = fields[at].clone();
                        fields.push(again);
                    }
                    3 if !fields.is_empty() => {
                        let len = self.rng.random_range(10_000..200_000);
                        what.push(format!("`{}` of {len} bytes", fields[at].0));
                        fields[at].1 = "x".repeat(len);
                    }
                    4 if !fields.is_empty() => {
                        let odd = (*self.pick(ODD)).to_owned();
                        what.push(format!("`{}` = {odd:?}", fields[at].0));
                        fields[at].1 = odd;
                    }
                    5 => {
                        let command = self.pick(&["tradeoff", "/", "/other", "//tradeoff", ""]);
                        what.push(format!("command {command:?}"));
                        fields.retain(|(k, _)| k != "command");
                        fields.push(("command".into(), (*command).to_owned()));
                    }
                    6 => {
                        let words = self.below(40);
                        let text: Vec<&str> = (0..words).map(|_| *self.pick(WORDS)).collect();
                        what.push(format!("text of {words} words"));
                        fields.retain(|(k, _)| k != "text");
                        fields.push(("text".into(), text.join(" ")));
                    }
                    _ => {
                        what.push("an unknown field".into());
                        fields.push((format!("x{}", self.below(1000)), self.pick(ODD).to_string()));
                    }
                }
            }
        }
        let body = serde_urlencoded::to_string(&fields).unwrap().into_bytes();
        self.bytes(body, what)
    }

    /// An interactivity form: `payload=` a fixture's JSON, broken, or no such field.
    fn interaction(&mut self, what: &mut Vec<String>) -> Vec<u8> {
        let mut payload = pick(&mut self.rng, &self.interactions).clone();
        if let Some(action) = payload.pointer_mut("/actions/0/action_ts") {
            *action = json!(format!("1700000001.{:06}", self.below(1_000_000)));
        }
        let text = match self.below(10) {
            0 => {
                let bad = self.pick(&["", "{", "[]", "null", "\"text\"", "not json", "{\"type\":"]);
                what.push(format!("payload {bad:?}"));
                (*bad).to_owned()
            }
            1 => {
                let text = payload.to_string();
                let cut = self.below(text.len());
                what.push(format!("payload cut at {cut}"));
                String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned()
            }
            _ => {
                self.mutate(&mut payload, what);
                payload.to_string()
            }
        };
        let form = match self.below(12) {
            0 => {
                what.push("no payload field".into());
                serde_urlencoded::to_string([("payloads", text)]).unwrap()
            }
            1 => {
                what.push("payload twice".into());
                serde_urlencoded::to_string([("payload", text.clone()), ("payload", text)]).unwrap()
            }
            2 => {
                what.push("the JSON bare, not in a form".into());
                text
            }
            _ => serde_urlencoded::to_string([("payload", text)]).unwrap(),
        };
        self.bytes(form.into_bytes(), what)
    }

    /// `value` mutated (or, now and then, as it is), as JSON, perhaps damaged as bytes.
    fn json_body(&mut self, mut value: Value, what: &mut Vec<String>) -> Vec<u8> {
        if self.chance(0.1) {
            what.push("the fixture".into());
        } else {
            self.mutate(&mut value, what);
        }
        let body = value.to_string().into_bytes();
        self.bytes(body, what)
    }

    /// Damages a body as bytes, now and then: cut short, bytes overwritten, bad escapes.
    fn bytes(&mut self, mut body: Vec<u8>, what: &mut Vec<String>) -> Vec<u8> {
        match self.below(20) {
            0 if !body.is_empty() => {
                let cut = self.below(body.len());
                what.push(format!("cut at byte {cut}"));
                body.truncate(cut);
            }
            1 if !body.is_empty() => {
                for _ in 0..self.rng.random_range(1..=5) {
                    let at = self.below(body.len());
                    body[at] = self.rng.random();
                }
                what.push("bytes overwritten".into());
            }
            2 => {
                let junk = *self.pick(&["%zz", "%FF%FE", "%", "&&==&", "%00", "\u{0}"]);
                let at = self.below(body.len() + 1);
                what.push(format!("{junk:?} inserted at {at}"));
                body.splice(at..at, junk.bytes());
            }
            _ => {}
        }
        body
    }

    /// One to three changes somewhere in `value`.
    fn mutate(&mut self, value: &mut Value, what: &mut Vec<String>) {
        for _ in 0..self.rng.random_range(1..=3) {
            let mut paths = Vec::new();
            pointers(value, String::new(), &mut paths);
            let path = self.pick(&paths).clone();
            let op = self.below(10);
            if op == 0 && !path.is_empty() {
                what.push(format!("removed {path}"));
                remove(value, &path);
                continue;
            }
            let replacement = match op {
                1 => Value::Null,
                2 => {
                    let wrong = [
                        json!(true),
                        json!(0),
                        json!(-1),
                        json!(i64::MAX),
                        json!(u64::MAX),
                        json!(1.5e308),
                        json!(""),
                        json!("x"),
                        json!([]),
                        json!({}),
                        json!([1, "a", null]),
                    ];
                    self.pick(&wrong).clone()
                }
                3 => {
                    let len = self.rng.random_range(10_000..200_000);
                    json!("y".repeat(len))
                }
                4 => json!(self.pick(ODD).repeat(self.rng.random_range(1..200))),
                5 => {
                    let mut nested = self.value(1);
                    for _ in 0..self.rng.random_range(1..150) {
                        nested = if self.chance(0.5) {
                            json!([nested])
                        } else {
                            json!({ "type": nested })
                        };
                    }
                    nested
                }
                6 => {
                    let kind = if self.chance(0.7) {
                        json!(self.pick(TYPES).to_owned())
                    } else {
                        json!(self.rng.random_range(-1i64..12))
                    };
                    let mut object = value.pointer(&path).cloned().unwrap_or_default();
                    if object.is_object() {
                        object["type"] = kind;
                        object
                    } else {
                        json!({ "type": kind })
                    }
                }
                7 => match value.pointer(&path) {
                    Some(Value::Array(items)) if !items.is_empty() => {
                        let n = self.rng.random_range(2..60);
                        Value::Array(items.iter().cycle().take(n).cloned().collect())
                    }
                    _ => json!(self.rng.random::<u64>().to_string()),
                },
                _ => self.value(3),
            };
            let shown = replacement.to_string();
            let shown: String = shown.chars().take(60).collect();
            what.push(format!("{path} = {shown}"));
            if let Some(at) = value.pointer_mut(&path) {
                *at = replacement;
            }
        }
    }
}

fn pick<'a, T>(rng: &mut TestRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Every JSON pointer into `value`, itself included (as "").
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Removes what the non-empty pointer `path` points at from its parent.
fn remove(value: &mut Value, path: &str) {
    let (parent, last) = path.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items.remove(i);
                }
            }
        }
        _ => {}
    }
}

/// What a request got: its status and body, or why it got no answer.
type Outcome = Result<(u16, String), String>;

/// Sends `case`, signed as its platform signs, at the system's time.
async fn send(http: &reqwest::Client, base: &str, case: &Case) -> Outcome {
    let url = format!("{base}{}", case.endpoint.path());
    let secs = slack_support::TestClock::system().secs();
    let request = match case.endpoint {
        Endpoint::Discord => {
            let ts = secs.to_string();
            http.post(&url)
                .header("content-type", case.endpoint.content_type())
                .header(
                    "x-signature-ed25519",
                    discord_support::sign(&ts, &case.body),
                )
                .header("x-signature-timestamp", ts)
                .body(case.body.clone())
        }
        _ => slack_support::signed(
            http,
            &url,
            secs,
            case.endpoint.content_type(),
            case.body.clone(),
            &[],
        ),
    };
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("{e:?}"))?;
    Ok((status, text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_malformed_payloads_never_get_a_5xx_nor_a_panic() {
    use futures_util::StreamExt;

    let mut serve = Serve::start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = serve.url("");

    // A decision under way first, in the channel and thread the fixtures click and reply
    // in, so that part of the fuzz reaches a conversation rather than nothing.
    let start = Case {
        endpoint: Endpoint::SlackCommands,
        what: vec!["start".into()],
        body: slack_support::command_form("start", "U2147483697"),
    };
    assert_eq!(send(&http, &base, &start).await.map(|r| r.0), Ok(200));
    common::until("the start's messages were posted", || {
        serve.slack.accepted().len() >= 2
    })
    .await;
    let discord_start = Case {
        endpoint: Endpoint::Discord,
        what: vec!["start".into()],
        body: discord_support::fixture("command_start")
            .to_string()
            .into_bytes(),
    };
    assert_eq!(
        send(&http, &base, &discord_start).await.map(|r| r.0),
        Ok(200)
    );

    let mut fuzz = Fuzz::new();
    let cases: Vec<Case> = (0..CASES).map(|i| fuzz.case(i)).collect();
    let began = Instant::now();
    let outcomes: Vec<(Case, Outcome)> = futures_util::stream::iter(cases)
        .map(|case| {
            let http = http.clone();
            let base = base.clone();
            async move {
                if began.elapsed() > BUDGET {
                    return None;
                }
                let outcome = send(&http, &base, &case).await;
                Some((case, outcome))
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .filter_map(|o| async move { o })
        .collect()
        .await;
    let took = began.elapsed();

    let mut failures = Vec::new();
    // (2xx, 4xx) answers per endpoint.
    let mut tally = [(0usize, 0usize); 4];
    for (case, outcome) in &outcomes {
        let slot = Endpoint::ALL
            .iter()
            .position(|e| *e == case.endpoint)
            .unwrap();
        let wrong = match outcome {
            Ok((status, _)) if (200..300).contains(status) => {
                tally[slot].0 += 1;
                None
            }
            // Every request is signed: a refused signature means the fuzz tests nothing.
            Ok((401, text)) => Some(format!("401 (signature refused): {text}")),
            Ok((status, _)) if (400..500).contains(status) => {
                tally[slot].1 += 1;
                None
            }
            Ok((status, text)) => Some(format!("{status}: {text}")),
            Err(e) => Some(format!("no answer: {e}")),
        };
        if let Some(wrong) = wrong {
            let shown: String = String::from_utf8_lossy(&case.body)
                .chars()
                .take(400)
                .collect();
            failures.push(format!(
                "{} [{}] -> {wrong}\n    body ({} bytes): {shown}",
                case.endpoint.path(),
                case.what.join("; "),
                case.body.len()
            ));
        }
    }

    // Still alive and answering.
    let health = http.get(serve.url("/healthz")).send().await;
    let healthy = matches!(&health, Ok(r) if r.status() == 200);
    let running = serve.child.try_wait().unwrap().is_none();
    serve.signal("-TERM");
    let status = tokio::task::block_in_place(|| serve.exited_within(Duration::from_secs(30)));
    let log = serve.whole_log();

    assert!(
        failures.is_empty(),
        "{} of {} answers were wrong; the first ones:\n{}",
        failures.len(),
        outcomes.len(),
        failures
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        outcomes.len() >= AT_LEAST,
        "only {} requests within {BUDGET:?}",
        outcomes.len()
    );
    for (endpoint, (ok, refused)) in Endpoint::ALL.iter().zip(tally) {
        assert!(
            ok > 0 && refused > 0,
            "{}: {ok} answered 2xx, {refused} 4xx: the fuzz should reach both",
            endpoint.path()
        );
    }
    assert!(running && healthy, "after the fuzz: {health:?}\n{log}");
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    for secret in [
        slack_support::SECRET,
        slack_support::BOT_TOKEN,
        discord_support::BOT_TOKEN,
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    assert!(status.success(), "{status:?}");
    eprintln!(
        "{} requests in {took:?}; (2xx, 4xx) per endpoint: {tally:?}",
        outcomes.len()
    );
}
