//! What the Slack tests share: a stand-in for Slack's Web API on loopback that records
//! every call and can be told to fail, a controlled clock, the bot served on port 0, and
//! signed requests built from the fixtures in `tests/fixtures/slack/`.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tradeoff::app::App;
use tradeoff::outbox::{Clock, Pass};
use tradeoff::slack::http::SlackHttp;
use tradeoff::slack::sender::SlackSender;
use tradeoff::slack::{verify, SlackBot};

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const START: i64 = 1_700_000_000;

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicI64>);

impl TestClock {
    pub fn new() -> Self {
        TestClock(Arc::new(AtomicI64::new(START * 1000)))
    }
    /// At the system's time: for signing requests to a bot that checks them by it.
    pub fn system() -> Self {
        TestClock(Arc::new(AtomicI64::new(
            tradeoff::outbox::SystemClock.now_ms(),
        )))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn secs(&self) -> i64 {
        self.0.load(Ordering::SeqCst) / 1000
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One call the stand-in received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub authorization: String,
    pub body: Value,
    /// The status it was answered with.
    pub status: u16,
    /// The `ts` it returned, for posts.
    pub ts: Option<String>,
}

/// A canned answer for the next call of a method.
#[derive(Clone, Debug)]
pub struct Forced {
    pub method: String,
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Value,
}

#[derive(Default)]
struct StandInState {
    calls: Mutex<Vec<Call>>,
    forced: Mutex<VecDeque<Forced>>,
    next_ts: AtomicU64,
    socket_url: Mutex<Option<String>>,
    /// users.info answers by user id (the `user` object); unknown ids get `user_not_found`.
    users: Mutex<HashMap<String, Value>>,
    /// conversations.members by channel.
    members: Mutex<HashMap<String, Vec<String>>>,
    /// Members per page of conversations.members, when smaller than the `limit` asked for.
    members_page: Mutex<Option<usize>>,
    /// Methods failing until further notice.
    outages: Mutex<HashMap<String, Outage>>,
    /// Where the stand-in listens, for the upload URLs it hands out.
    addr: Mutex<Option<SocketAddr>>,
    /// Files' bytes by file id, as uploaded to their upload URL.
    uploads: Mutex<HashMap<String, Vec<u8>>>,
}

/// How a method fails while it is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Answered 503.
    Unavailable,
    /// Never answered, as a connection Slack leaves open (the call is recorded with status 0).
    Silent,
}

/// Slack's Web API on 127.0.0.1, answering in Slack's formats.
#[derive(Clone)]
pub struct StandIn {
    pub addr: SocketAddr,
    state: Arc<StandInState>,
}

impl StandIn {
    pub async fn start() -> Self {
        let state = Arc::new(StandInState {
            next_ts: AtomicU64::new(100),
            ..Default::default()
        });
        // slack-morphism calls most methods with POST and a JSON body, and a few (users.info,
        // conversations.members, auth.test) with GET and query parameters.
        // A file's bytes go to the upload URL files.getUploadURLExternal handed out.
        let app = Router::new()
            .route("/api/{method}", post(api).get(api_get))
            .route("/upload/{file}", post(upload))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.addr.lock().unwrap() = Some(addr);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StandIn { addr, state }
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// How many calls were received so far.
    pub fn call_count(&self) -> usize {
        self.state.calls.lock().unwrap().len()
    }

    /// The calls received from the `from`th on (none if there are fewer): for a test that
    /// follows the calls as they come without copying them all each time.
    pub fn calls_from(&self, from: usize) -> Vec<Call> {
        let calls = self.state.calls.lock().unwrap();
        calls.get(from..).unwrap_or_default().to_vec()
    }

    /// Calls that Slack accepted (2xx with ok:true).
    pub fn accepted(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.status == 200 && (c.ts.is_some() || c.method == "chat.postEphemeral"))
            .collect()
    }

    pub fn force(&self, method: &str, status: u16, retry_after: Option<u64>, body: Value) {
        self.state.forced.lock().unwrap().push_back(Forced {
            method: method.into(),
            status,
            retry_after,
            body,
        });
    }

    /// Fails every call of `method` as `outage` says, until it is set to `None`.
    pub fn set_outage(&self, method: &str, outage: Option<Outage>) {
        let mut outages = self.state.outages.lock().unwrap();
        match outage {
            Some(o) => outages.insert(method.to_owned(), o),
            None => outages.remove(method),
        };
    }

    /// What users.info says about `id`: `user` is merged over a plain member's record.
    pub fn set_user(&self, id: &str, user: Value) {
        let mut record = fixture("users_info.json")["user"].clone();
        record["id"] = json!(id);
        if let (Some(r), Some(u)) = (record.as_object_mut(), user.as_object()) {
            for (k, v) in u {
                r.insert(k.clone(), v.clone());
            }
        }
        self.state
            .users
            .lock()
            .unwrap()
            .insert(id.to_owned(), record);
    }

    pub fn set_members(&self, channel: &str, members: &[&str]) {
        self.state.members.lock().unwrap().insert(
            channel.to_owned(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
    }

    pub fn set_members_page(&self, size: usize) {
        *self.state.members_page.lock().unwrap() = Some(size);
    }

    /// The calls of one method, in order.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The files uploaded so far, by file id.
    pub fn uploads(&self) -> HashMap<String, Vec<u8>> {
        self.state.uploads.lock().unwrap().clone()
    }

    pub fn set_socket_url(&self, url: &str) {
        *self.state.socket_url.lock().unwrap() = Some(url.to_owned());
    }
}

/// A file's bytes, POSTed to its upload URL: recorded as a call of `upload`, kept when the
/// upload is answered 200.
async fn upload(
    State(state): State<Arc<StandInState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let bytes = body.to_vec();
    let call = json!({ "file": file, "length": bytes.len(),
                       "content_type": headers.get("content-type").and_then(|v| v.to_str().ok()) });
    let response = respond(state.clone(), "upload".into(), headers, call).await;
    if response.status() == StatusCode::OK {
        state.uploads.lock().unwrap().insert(file, bytes);
    }
    response
}

/// A GET call: its query parameters are recorded as the call's body.
async fn api_get(
    State(state): State<Arc<StandInState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let body: serde_json::Map<String, Value> =
        pairs.into_iter().map(|(k, v)| (k, json!(v))).collect();
    respond(state, method, headers, Value::Object(body)).await
}

async fn api(
    State(state): State<Arc<StandInState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    respond(state, method, headers, body).await
}

/// Answers a call, or records it and never answers while its method is silent.
async fn respond(
    state: Arc<StandInState>,
    method: String,
    headers: HeaderMap,
    body: Value,
) -> Response {
    let outage = state.outages.lock().unwrap().get(&method).copied();
    if outage != Some(Outage::Silent) {
        return answer(state, method, headers, body);
    }
    state.calls.lock().unwrap().push(Call {
        method,
        authorization: authorization(&headers),
        body,
        status: 0,
        ts: None,
    });
    std::future::pending().await
}

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn answer(state: Arc<StandInState>, method: String, headers: HeaderMap, body: Value) -> Response {
    let authorization = authorization(&headers);
    let unavailable = state.outages.lock().unwrap().get(&method) == Some(&Outage::Unavailable);
    let forced = if unavailable {
        Some(Forced {
            method: method.clone(),
            status: 503,
            retry_after: None,
            body: json!({ "ok": false, "error": "service_unavailable" }),
        })
    } else {
        let mut queue = state.forced.lock().unwrap();
        let at = queue.iter().position(|f| f.method == method);
        at.and_then(|i| queue.remove(i))
    };
    let mut call = Call {
        method: method.clone(),
        authorization,
        body: body.clone(),
        status: 200,
        ts: None,
    };
    let response = if let Some(f) = forced {
        call.status = f.status;
        let mut r = (StatusCode::from_u16(f.status).unwrap(), Json(f.body)).into_response();
        if let Some(s) = f.retry_after {
            r.headers_mut()
                .insert("retry-after", s.to_string().parse().unwrap());
        }
        r
    } else {
        let ts = format!(
            "{START}.{:06}",
            state.next_ts.fetch_add(100, Ordering::SeqCst)
        );
        let channel = body["channel"].clone();
        match method.as_str() {
            "chat.postMessage" => {
                call.ts = Some(ts.clone());
                Json(json!({
                    "ok": true, "channel": channel, "ts": ts,
                    "message": { "type": "message", "text": body["text"], "ts": ts, "bot_id": "B0001", "user": "UBOT" }
                }))
                .into_response()
            }
            "chat.update" => {
                call.ts = Some(body["ts"].as_str().unwrap_or_default().to_owned());
                Json(json!({
                    "ok": true, "channel": channel, "ts": body["ts"], "text": body["text"],
                    "message": { "text": body["text"] }
                }))
                .into_response()
            }
            "chat.postEphemeral" => Json(json!({ "ok": true, "message_ts": ts })).into_response(),
            "conversations.open" => {
                let user = match &body["users"] {
                    Value::Array(users) => users.first().and_then(Value::as_str).unwrap_or(""),
                    other => other.as_str().unwrap_or("").split(',').next().unwrap_or(""),
                };
                Json(json!({ "ok": true, "channel": { "id": format!("D{user}") } })).into_response()
            }
            "files.getUploadURLExternal" => {
                let addr = state.addr.lock().unwrap().unwrap();
                let file = format!("F{}", state.next_ts.fetch_add(1, Ordering::SeqCst));
                let length: usize = body["length"]
                    .as_str()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                if body["filename"].as_str().unwrap_or("").is_empty() || length == 0 {
                    Json(json!({ "ok": false, "error": "invalid_arguments" })).into_response()
                } else {
                    Json(json!({ "ok": true, "file_id": file,
                                 "upload_url": format!("http://{addr}/upload/{file}") }))
                    .into_response()
                }
            }
            "upload" => (StatusCode::OK, format!("OK - {}", body["length"])).into_response(),
            "files.completeUploadExternal" => {
                let uploads = state.uploads.lock().unwrap();
                let files = body["files"].as_array().cloned().unwrap_or_default();
                let all_there = !files.is_empty()
                    && files
                        .iter()
                        .all(|f| uploads.contains_key(f["id"].as_str().unwrap_or("")));
                if all_there && body["channel_id"].is_string() {
                    call.ts = Some(ts.clone());
                    Json(json!({ "ok": true, "files": files.iter().map(|f| json!({
                        "id": f["id"], "title": f["title"], "name": "tradeoff-chart.png",
                        "mimetype": "image/png" })).collect::<Vec<_>>() }))
                    .into_response()
                } else {
                    Json(json!({ "ok": false, "error": "file_not_found" })).into_response()
                }
            }
            "auth.test" => Json(json!({
                "ok": true, "url": "https://example.slack.com/", "team": "Example",
                "user": "tradeoff", "team_id": "T0001", "user_id": "UBOT", "bot_id": "B0001"
            }))
            .into_response(),
            "users.info" => {
                let user = body["user"].as_str().unwrap_or_default();
                match state.users.lock().unwrap().get(user) {
                    Some(u) => Json(json!({ "ok": true, "user": u })).into_response(),
                    None => Json(json!({ "ok": false, "error": "user_not_found" })).into_response(),
                }
            }
            "conversations.members" => {
                let channel = body["channel"].as_str().unwrap_or_default();
                let all = state.members.lock().unwrap().get(channel).cloned();
                match all {
                    None => {
                        Json(json!({ "ok": false, "error": "channel_not_found" })).into_response()
                    }
                    Some(all) => {
                        let limit: usize = body["limit"]
                            .as_str()
                            .and_then(|l| l.parse().ok())
                            .unwrap_or(100);
                        let page = state
                            .members_page
                            .lock()
                            .unwrap()
                            .unwrap_or(limit)
                            .min(limit);
                        // The cursor is the offset, base64-like opaque to the client.
                        let from: usize = body["cursor"]
                            .as_str()
                            .and_then(|c| c.strip_prefix("dXNlcj"))
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        let to = (from + page).min(all.len());
                        let next = if to < all.len() {
                            format!("dXNlcj{to}")
                        } else {
                            String::new()
                        };
                        Json(json!({
                            "ok": true,
                            "members": all[from..to],
                            "response_metadata": { "next_cursor": next }
                        }))
                        .into_response()
                    }
                }
            }
            "views.open" => {
                // Slack answers with the view as stored: the request's view plus its ids.
                let mut view = body["view"].clone();
                view["id"] = json!(format!("V{}", state.next_ts.load(Ordering::SeqCst)));
                view["team_id"] = json!("T0001");
                view["hash"] = json!(format!("{ts}.abcdef"));
                view["state"] = json!({ "values": {} });
                view["app_id"] = json!("A123456");
                view["bot_id"] = json!("B0001");
                view["root_view_id"] = view["id"].clone();
                Json(json!({ "ok": true, "view": view })).into_response()
            }
            "apps.connections.open" => {
                let url = state.socket_url.lock().unwrap().clone();
                match url {
                    Some(url) => Json(json!({ "ok": true, "url": url })).into_response(),
                    None => Json(json!({ "ok": false, "error": "invalid_auth" })).into_response(),
                }
            }
            _ => Json(json!({ "ok": false, "error": "unknown_method" })).into_response(),
        }
    };
    state.calls.lock().unwrap().push(call);
    response
}

/// The built-in packs, from the repository.
pub fn packs_dir() -> &'static FsPath {
    FsPath::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn open_app(dir: &FsPath) -> Arc<App> {
    Arc::new(tradeoff::cli::open_app(dir, Some(packs_dir())).unwrap())
}

/// The bot with its store in `dir`, served on 127.0.0.1:0, delivering to `stand_in`.
pub struct Harness {
    pub bot: Arc<SlackBot>,
    pub app: Arc<App>,
    pub clock: TestClock,
    pub sender: SlackSender,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    pub async fn start(dir: &FsPath, stand_in: &StandIn, clock: TestClock) -> Self {
        let app = open_app(dir);
        let bot = Arc::new(
            SlackBot::new(app.clone(), Arc::new(clock.clone()), Some("UBOT".into())).with_web_api(
                tradeoff::slack::api::client(&stand_in.api_url()),
                tradeoff::slack::Secret::new(BOT_TOKEN),
            ),
        );
        Self::serve(bot, stand_in, clock).await
    }

    /// Serves `bot` (built elsewhere, e.g. by `tradeoff::slack::start`) on 127.0.0.1:0.
    pub async fn serve(bot: Arc<SlackBot>, stand_in: &StandIn, clock: TestClock) -> Self {
        let app = bot.app.clone();
        let router = tradeoff::http::router(tradeoff::http::HttpState {
            app: app.clone(),
            slack: Some(SlackHttp {
                bot: bot.clone(),
                signing_secret: tradeoff::slack::Secret::new(SECRET),
            }),
            discord: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let sender = SlackSender::new(
            tradeoff::slack::api::client(&stand_in.api_url()),
            BOT_TOKEN,
            app.clone(),
        )
        .with_bot_user(Some("UBOT".into()));
        // No kept-alive connections: a test that stops the server must be able to drop
        // everything that holds the store.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Harness {
            bot,
            app,
            clock,
            sender,
            addr,
            http,
            server,
        }
    }

    /// The harness with its sender giving up on a message call unanswered for `within`.
    pub fn answering_within(self, within: std::time::Duration) -> Self {
        Harness {
            sender: self.sender.with_answer_within(within),
            ..self
        }
    }

    /// Stops the server and drops everything holding the store, as a crash would.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    /// One outbox pass at the clock's time.
    pub async fn pass(&self) -> Pass {
        self.bot.outbox.pass(&self.sender, &self.clock).await
    }

    /// Passes until nothing more is sent right now.
    pub async fn deliver(&self) {
        for _ in 0..50 {
            let p = self.pass().await;
            if p.sent == 0 && p.retried == 0 && p.refused == 0 {
                return;
            }
        }
        panic!("the outbox never settled");
    }

    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let url = format!("http://{}{path}", self.addr);
        signed(
            &self.http,
            &url,
            self.clock.secs(),
            content_type,
            body,
            extra,
        )
        .send()
        .await
        .unwrap()
    }

    /// `/tradeoff <text>` from `user`.
    pub async fn command(&self, text: &str, user: &str) -> Value {
        let r = self
            .post_signed("/slack/commands", FORM, command_form(text, user), &[])
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Sends a `block_actions` payload; returns the HTTP status.
    pub async fn interact(&self, payload: &Value) -> u16 {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        self.post_signed("/slack/interactions", FORM, body.into_bytes(), &[])
            .await
            .status()
            .as_u16()
    }

    pub async fn event(&self, event: &Value, retry: Option<&str>) -> u16 {
        let extra: Vec<(&str, &str)> = match retry {
            Some(n) => vec![
                ("x-slack-retry-num", n),
                ("x-slack-retry-reason", "http_timeout"),
            ],
            None => vec![],
        };
        self.post_signed(
            "/slack/events",
            JSON,
            event.to_string().into_bytes(),
            &extra,
        )
        .await
        .status()
        .as_u16()
    }
}

/// A request to `url` signed with [`SECRET`] at `secs`, as Slack signs them.
pub fn signed(
    http: &reqwest::Client,
    url: &str,
    secs: i64,
    content_type: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let ts = secs.to_string();
    let sig = verify::sign(SECRET, &ts, &body);
    let mut req = http
        .post(url)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req
}

/// The form body of `/tradeoff <text>` from `user`.
pub fn command_form(text: &str, user: &str) -> Vec<u8> {
    let mut fields = fixture("slash_command.json");
    fields["text"] = json!(text);
    fields["user_id"] = json!(user);
    form(&fields).into_bytes()
}

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

pub fn fixture(name: &str) -> Value {
    let path = FsPath::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/slack")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A JSON object of strings as a form body.
pub fn form(fields: &Value) -> String {
    let pairs: Vec<(String, String)> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

/// A click on `button` (block_id, action_id, value, as [`buttons`] lists them) of the
/// posted `message`.
pub fn click(
    message: &Call,
    button: &(String, String, String),
    user: &str,
    action_ts: &str,
) -> Value {
    let (block_id, action_id, value) = button;
    let message_ts = message.ts.as_deref().expect("the message was posted");
    let mut p = fixture("block_actions.json");
    p["user"]["id"] = json!(user);
    p["container"]["message_ts"] = json!(message_ts);
    p["message"]["ts"] = json!(message_ts);
    p["actions"][0]["block_id"] = json!(block_id);
    p["actions"][0]["action_id"] = json!(action_id);
    p["actions"][0]["value"] = json!(value);
    p["actions"][0]["action_ts"] = json!(action_ts);
    p
}

/// The button of `message` whose action_id is `action_id`.
pub fn button(message: &Call, action_id: &str) -> (String, String, String) {
    buttons(message)
        .into_iter()
        .find(|(_, a, _)| a == action_id)
        .unwrap_or_else(|| panic!("no button {action_id} in {}", message.body))
}

/// A reply in the thread under `thread_ts`.
pub fn reply(text: &str, thread_ts: &str, user: &str, event_id: &str) -> Value {
    let mut e = fixture("event_thread_reply.json");
    e["event"]["text"] = json!(text);
    e["event"]["thread_ts"] = json!(thread_ts);
    e["event"]["user"] = json!(user);
    e["event_id"] = json!(event_id);
    e
}

/// The buttons of a posted question: (block_id, action_id, value) of each element.
pub fn buttons(call: &Call) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in call.body["blocks"].as_array().into_iter().flatten() {
        if block["type"] == "actions" {
            for e in block["elements"].as_array().into_iter().flatten() {
                out.push((
                    block["block_id"].as_str().unwrap_or_default().to_owned(),
                    e["action_id"].as_str().unwrap_or_default().to_owned(),
                    e["value"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    out
}
