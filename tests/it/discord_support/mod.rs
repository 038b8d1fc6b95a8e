//! Shared by the Discord tests: a stand-in for Discord's REST API on loopback that records
//! every call and answers in Discord's shapes (or with a forced 429/5xx), a bot on a real
//! sled store served on port 0, a controlled clock, and request signing with the RFC 8032
//! test key.

#![allow(dead_code, reason = "each test file uses a different part")]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use tradeoff::app::App;
use tradeoff::discord::sender::DiscordSender;
use tradeoff::discord::{DiscordArgs, DiscordBot, Secret};
use tradeoff::outbox::{Clock, Pass};
use tradeoff::packs::Catalog;
use tradeoff::store::{SledStore, Store};

pub const PUBLIC_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
pub const SECRET_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub const APP_ID: &str = "1180000000000000001";
pub const GUILD: &str = "1180000000000000002";
pub const CHANNEL: &str = "1180000000000000003";
pub const BOT_TOKEN: &str = "MTE4MDAw.test-bot-token";
/// The fixtures' clock: 2024-05-01T10:00:00Z.
pub const NOW: i64 = 1_714_557_600;

/// A click on the component `custom_id` of a message in `thread`; `id` is the interaction's.
pub fn button_click(thread: &str, custom_id: &str, id: &str) -> Value {
    let mut c = fixture("component_button");
    c["id"] = json!(id);
    c["channel_id"] = json!(thread);
    c["channel"]["id"] = json!(thread);
    c["message"]["channel_id"] = json!(thread);
    c["data"]["custom_id"] = json!(custom_id);
    c
}

/// The thread of the first decision started: the stand-in's second call makes it, from the
/// start's answer.
pub fn first_thread(standin: &StandIn) -> String {
    standin.calls()[1]
        .path
        .split('/')
        .nth(4)
        .expect("a thread was made")
        .to_owned()
}

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/discord/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// Below `/api/v10`.
    pub path: String,
    pub body: Value,
    pub authorization: Option<String>,
    /// The files of a `multipart/form-data` call: (part name, file name, bytes).
    pub files: Vec<(String, String, Vec<u8>)>,
    /// The id of the message the call created, if it created one.
    pub created: Option<String>,
}

/// A `multipart/form-data` body as Discord reads it: the message from its `payload_json`
/// part, and the files of the other parts.
fn multipart(content_type: &str, body: &[u8]) -> (Value, Vec<(String, String, Vec<u8>)>) {
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    else {
        return (Value::Null, Vec::new());
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let mut payload = Value::Null;
    let mut files = Vec::new();
    let text = body;
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..]
        .windows(delimiter.len())
        .position(|w| w == delimiter.as_bytes())
    {
        starts.push(i + at);
        i += at + delimiter.len();
    }
    for pair in starts.windows(2) {
        let part = &text[pair[0] + delimiter.len()..pair[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let content = part[split + 4..].to_vec();
        let field = |key: &str| {
            head.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")))
                .and_then(|v| v.split('"').next())
                .map(str::to_owned)
        };
        match (field("name"), field("filename")) {
            (Some(name), None) if name == "payload_json" => {
                payload = serde_json::from_slice(&content).unwrap_or(Value::Null);
            }
            (Some(name), Some(file)) => files.push((name, file, content)),
            _ => {}
        }
    }
    (payload, files)
}

/// A canned answer: only for calls of this method, if given; status; body; Retry-After.
type Forced = (Option<String>, u16, Value, Option<String>);

#[derive(Default)]
struct StandInState {
    calls: Mutex<Vec<Call>>,
    forced: Mutex<VecDeque<Forced>>,
    next_id: AtomicU64,
    gateway_url: Mutex<Option<String>>,
}

/// Discord's REST API, as far as the bot uses it.
#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    state: Arc<StandInState>,
}

impl StandIn {
    pub async fn start() -> StandIn {
        let state = Arc::new(StandInState {
            next_id: AtomicU64::new(1_190_000_000_000_000_000),
            ..Default::default()
        });
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StandIn { url, state }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// What `GET /gateway` answers as the gateway's URL.
    pub fn set_gateway_url(&self, url: &str) {
        *self.state.gateway_url.lock().unwrap() = Some(url.to_owned());
    }

    /// The next request gets this status and body (and `Retry-After` header) instead.
    pub fn force(&self, status: u16, body: Value, retry_after: Option<&str>) {
        self.state.forced.lock().unwrap().push_back((
            None,
            status,
            body,
            retry_after.map(str::to_owned),
        ));
    }

    /// Answers the next call of `method` (GET, POST, PATCH…, or "PATCH multipart" for one
    /// carrying a file) so, whatever comes between.
    pub fn force_method(&self, method: &str, status: u16, body: Value, retry_after: Option<&str>) {
        self.state.forced.lock().unwrap().push_back((
            Some(method.to_owned()),
            status,
            body,
            retry_after.map(str::to_owned),
        ));
    }

    fn snowflake(&self) -> String {
        self.state
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }
}

fn bot_user() -> Value {
    json!({
        "avatar": null, "bot": true, "discriminator": "1234", "global_name": null,
        "id": APP_ID, "public_flags": 0, "username": "tradeoff"
    })
}

fn message_object(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "application_id": APP_ID,
        "attachments": [],
        "author": bot_user(),
        "channel_id": channel,
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "edited_timestamp": null,
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "flags": 0,
        "id": id,
        "mention_everyone": false,
        "mention_roles": [],
        "mentions": [],
        "pinned": false,
        "timestamp": "2024-05-01T10:00:01.000000+00:00",
        "tts": false,
        "type": 0
    })
}

async fn answer(
    State(state): State<Arc<StandInState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_owned();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, files) = if content_type.starts_with("multipart/form-data") {
        multipart(content_type, &body)
    } else {
        (
            serde_json::from_slice(&body).unwrap_or(Value::Null),
            Vec::new(),
        )
    };
    let multipart = !files.is_empty();
    let index = {
        let mut calls = state.calls.lock().unwrap();
        calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            files,
            created: None,
        });
        calls.len() - 1
    };
    let forced = {
        let mut forced = state.forced.lock().unwrap();
        forced
            .iter()
            .position(|(only, ..)| {
                only.as_deref().is_none_or(|m| {
                    m == method.as_str() || (multipart && m == format!("{method} multipart"))
                })
            })
            .and_then(|at| forced.remove(at))
    };
    if let Some((_, status, body, retry_after)) = forced {
        let mut response =
            (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
        if let Some(r) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", r.parse().unwrap());
        }
        return response;
    }
    let id = || state.next_id.fetch_add(1, Ordering::Relaxed).to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let json = |v: Value| axum::Json(v).into_response();
    match (method.as_str(), parts.as_slice()) {
        // Where the gateway is: a websocket stand-in of the test's, when it set one.
        ("GET", ["gateway"]) => json(json!({
            "url": state.gateway_url.lock().unwrap().clone().unwrap_or_default()
        })),
        ("GET", ["webhooks", app, _token, "messages", "@original"]) if *app == APP_ID => json(
            message_object(&id(), CHANNEL, &json!({ "content": "started" })),
        ),
        // Discord gives a thread started from a message the message's id.
        ("POST", ["channels", parent, "messages", message, "threads"]) => json(json!({
            "flags": 0,
            "guild_id": GUILD,
            "id": message,
            "last_message_id": null,
            "member": { "flags": 1, "id": message, "join_timestamp": "2024-05-01T10:00:02.000000+00:00", "user_id": APP_ID },
            "member_count": 1,
            "message_count": 0,
            "name": body["name"],
            "owner_id": APP_ID,
            "parent_id": parent,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archive_timestamp": "2024-05-01T10:00:02.000000+00:00",
                "archived": false,
                "auto_archive_duration": body["auto_archive_duration"],
                "create_timestamp": "2024-05-01T10:00:02.000000+00:00",
                "locked": false
            },
            "total_message_sent": 0,
            "type": 11
        })),
        ("POST", ["channels", channel, "messages"]) => {
            let created = id();
            state.calls.lock().unwrap()[index].created = Some(created.clone());
            json(message_object(&created, channel, &body))
        }
        ("PATCH", ["channels", channel, "messages", message]) => {
            json(message_object(message, channel, &body))
        }
        ("PATCH", ["webhooks", app, _token, "messages", "@original"]) if *app == APP_ID => {
            json(message_object(&id(), CHANNEL, &body))
        }
        ("DELETE", ["webhooks", app, _token, "messages", "@original"]) if *app == APP_ID => {
            StatusCode::NO_CONTENT.into_response()
        }
        // A follow-up message to an interaction.
        ("POST", ["webhooks", app, _token]) if *app == APP_ID => {
            json(message_object(&id(), CHANNEL, &body))
        }
        ("POST", ["interactions", _id, _token, "callback"]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        ("PUT", ["applications", app, "commands"])
        | ("PUT", ["applications", app, "guilds", _, "commands"]) => {
            let commands: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!(id());
                    c["application_id"] = json!(app);
                    c["version"] = json!(id());
                    c["default_member_permissions"] = Value::Null;
                    c
                })
                .collect();
            json(Value::Array(commands))
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "404: Not Found", "code": 0 })),
        )
            .into_response(),
    }
}

/// A clock the test moves by hand.
pub struct TestClock(pub AtomicI64);

impl TestClock {
    pub fn at(seconds: i64) -> Arc<TestClock> {
        Arc::new(TestClock(AtomicI64::new(seconds * 1000)))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A bot on a real store, its HTTP app served on loopback, talking to a stand-in.
pub struct TestBot {
    pub bot: Arc<DiscordBot>,
    pub store: Arc<dyn Store>,
    /// The same store, for tests that read its trees directly.
    pub sled: Arc<SledStore>,
    pub clock: Arc<TestClock>,
    pub url: String,
    pub dir: TempDir,
    server: tokio::task::JoinHandle<()>,
}

pub fn args(api_url: &str) -> DiscordArgs {
    DiscordArgs {
        discord_token: Some(Secret::new(BOT_TOKEN)),
        discord_public_key: Some(PUBLIC_KEY.into()),
        discord_application_id: Some(APP_ID.into()),
        api_url: api_url.into(),
        discord_message_content: false,
    }
}

impl TestBot {
    pub async fn start(standin: &StandIn) -> TestBot {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(standin, dir).await
    }

    /// On an existing data directory (a restart).
    pub async fn start_in(standin: &StandIn, dir: TempDir) -> TestBot {
        let sled = Arc::new(SledStore::open(dir.path()).unwrap());
        let store: Arc<dyn Store> = sled.clone();
        Self::start_on(standin, dir, sled, store, None).await
    }

    /// On `store`, which reaches `sled` (itself, or a wrapper of it); with `answer_within`,
    /// interactions whose work takes longer are deferred after that long.
    pub async fn start_on(
        standin: &StandIn,
        dir: TempDir,
        sled: Arc<SledStore>,
        store: Arc<dyn Store>,
        answer_within: Option<std::time::Duration>,
    ) -> TestBot {
        let catalog = Catalog::load(store.clone(), tradeoff::packs::builtin()).unwrap();
        let app = Arc::new(App::new(store.clone(), catalog));
        let clock = TestClock::at(NOW);
        let config = args(&standin.url).config().unwrap().unwrap();
        let mut bot = DiscordBot::new(app.clone(), &config, clock.clone());
        if let Some(budget) = answer_within {
            bot = bot.with_answer_within(budget);
        }
        let bot = Arc::new(bot);
        let router = tradeoff::http::router(tradeoff::http::HttpState {
            app,
            slack: None,
            discord: Some(bot.clone()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        TestBot {
            bot,
            store,
            sled,
            clock,
            url,
            dir,
            server,
        }
    }

    /// Stops the bot as a crash would, between two outbox passes: the server, the bot and
    /// the store are dropped; the data directory is kept, for [`TestBot::start_in`].
    pub async fn stop(self) -> TempDir {
        let TestBot {
            bot,
            store,
            sled,
            server,
            dir,
            ..
        } = self;
        server.abort();
        let _ = server.await;
        drop((bot, store, sled));
        dir
    }

    pub fn sender(&self) -> DiscordSender {
        DiscordSender {
            rest: self.bot.rest.clone(),
            app: self.bot.app.clone(),
        }
    }

    /// One pass of the outbox, at the test clock's time.
    pub async fn deliver(&self) -> Pass {
        self.bot
            .outbox
            .pass(&self.sender(), self.clock.as_ref())
            .await
    }

    /// Posts a body to the interactions endpoint, signed at the clock's time.
    pub async fn post_signed(&self, body: &[u8]) -> (u16, Value) {
        let ts = (self.clock.now_ms() / 1000).to_string();
        let signature = sign(&ts, body);
        self.post_raw(body, Some(&signature), Some(&ts)).await
    }

    pub async fn post_raw(
        &self,
        body: &[u8],
        signature: Option<&str>,
        timestamp: Option<&str>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/discord/interactions", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            request = request.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            request = request.header("X-Signature-Timestamp", t);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn interact(&self, payload: &Value) -> Value {
        let (status, body) = self
            .post_signed(serde_json::to_string(payload).unwrap().as_bytes())
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

pub fn sign(timestamp: &str, body: &[u8]) -> String {
    let secret: [u8; 32] = hex::decode(SECRET_KEY).unwrap().try_into().unwrap();
    let key = SigningKey::from_bytes(&secret);
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    hex::encode(key.sign(&message).to_bytes())
}

/// Every message body the bot sends must suppress mentions and keep Discord's limits.
pub fn assert_sendable(body: &Value) {
    assert_eq!(
        body["allowed_mentions"],
        json!({ "parse": [] }),
        "mentions not suppressed: {body}"
    );
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(chars(&body["content"]) <= 2000, "content too long");
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    assert!(embeds.len() <= 10);
    let mut total = 0;
    for e in &embeds {
        assert!(chars(&e["title"]) <= 256);
        assert!(chars(&e["description"]) <= 4096);
        assert!(chars(&e["footer"]["text"]) <= 2048);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= 25, "{} fields", fields.len());
        for f in &fields {
            let (n, v) = (chars(&f["name"]), chars(&f["value"]));
            assert!((1..=256).contains(&n), "field name of {n}");
            assert!((1..=1024).contains(&v), "field value of {v}");
            total += n + v;
        }
        total += chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
    }
    assert!(total <= 6000, "embeds total {total}");
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    assert!(rows.len() <= 5, "{} rows", rows.len());
    let mut ids = std::collections::HashSet::new();
    for row in &rows {
        assert_eq!(row["type"], 1);
        let items = row["components"].as_array().unwrap();
        assert!((1..=5).contains(&items.len()));
        let selects = items.iter().filter(|c| c["type"] == 3).count();
        assert!(selects == 0 || items.len() == 1, "a select shares its row");
        for c in items {
            let id = c["custom_id"].as_str().unwrap();
            assert!((1..=100).contains(&id.len()), "custom_id {id}");
            assert!(ids.insert(id.to_owned()), "custom_id {id} repeated");
            assert!(chars(&c["label"]) <= 80);
            if c["type"] == 3 {
                let options = c["options"].as_array().unwrap();
                assert!((1..=25).contains(&options.len()));
                for o in options {
                    assert!((1..=100).contains(&chars(&o["label"])));
                    assert!((1..=100).contains(&chars(&o["value"])));
                    assert!(chars(&o["description"]) <= 100);
                }
            }
        }
    }
}
