//! The edges of the real `tradeoff serve`, over loopback: a connection that trickles its
//! header, or sits idle, is closed within a bound; a body too large by its declared length
//! is refused before it is read, and a slow one gets 408; and a stop lets a request in
//! flight finish while it closes idle connections at once.

mod common;
mod discord_support;
mod slack_support;

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
    _slack: slack_support::StandIn,
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
            _slack: slack,
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
