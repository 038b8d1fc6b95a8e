//! Discord's REST API: one call maps to a [`Delivery`] (sent, retry later, refused); the
//! outbox's [sender](super::sender) performs its queued operations with it.
//!
//! reqwest against `{DISCORD_API_URL}/api/v10` rather than serenity's `Http`: serenity's
//! errors drop the 429 body's `retry_after`, which the outbox needs to wait out a rate limit
//! without losing the message, and its rate limiter ignores a custom base URL (0.12.5).

use super::config::Secret;
use crate::outbox::Delivery;
use serde_json::Value;
use std::time::Duration;

/// One queued call: `{"method", "path", "body"?, "index_thread"?}`. `path` is below
/// `/api/v10`. `index_thread` names the conversation whose thread this call creates.
pub fn op(method: &str, path: String, body: Option<Value>) -> Value {
    let mut op = serde_json::json!({ "method": method, "path": path });
    if let Some(body) = body {
        op["body"] = body;
    }
    op
}

/// The ref that maps a thread's channel id to the conversation living in it.
pub fn thread_ref(thread_id: &str) -> String {
    format!("discord:thread:{thread_id}")
}

/// A file a message carries: its name, bytes and content type.
pub type File = (String, Vec<u8>, &'static str);

#[derive(Clone)]
pub struct Rest {
    client: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl Rest {
    /// `api_url` is the host (`https://discord.com`), without `/api/v10`.
    pub fn new(api_url: &str, token: Option<Secret>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!(
                "DiscordBot (tradeoff, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .expect("a TLS backend is compiled in");
        Rest {
            client,
            base: format!("{}/api/v10", api_url.trim_end_matches('/')),
            token,
        }
    }

    /// Performs one call. Interaction webhooks and callbacks are authorised by the token in
    /// their path; every other call carries the bot token.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Delivery {
        match self.request(method, path) {
            Ok(request) => {
                let request = match body {
                    Some(body) => request.json(body),
                    None => request,
                };
                Self::send(request).await
            }
            Err(refused) => refused,
        }
    }

    /// Performs one call whose message carries files: `multipart/form-data` with the
    /// message as `payload_json` and the files as `files[0]`, `files[1]`… (name, bytes, type).
    pub async fn call_with_files(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        files: Vec<File>,
    ) -> Delivery {
        let mut form = reqwest::multipart::Form::new().text("payload_json", body.to_string());
        for (i, (name, bytes, content_type)) in files.into_iter().enumerate() {
            let part = match reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(content_type)
            {
                Ok(part) => part,
                Err(e) => return Delivery::Refused(format!("bad file type {content_type}: {e}")),
            };
            form = form.part(format!("files[{i}]"), part);
        }
        match self.request(method, path) {
            Ok(request) => Self::send(request.multipart(form)).await,
            Err(refused) => refused,
        }
    }

    fn request(&self, method: &str, path: &str) -> Result<reqwest::RequestBuilder, Delivery> {
        let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return Err(Delivery::Refused(format!("unknown method {method:?}")));
        };
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        let token_in_path = path.starts_with("/webhooks/") || path.starts_with("/interactions/");
        if let (false, Some(token)) = (token_in_path, &self.token) {
            request = request.header("Authorization", format!("Bot {}", token.expose()));
        }
        Ok(request)
    }

    async fn send(request: reqwest::RequestBuilder) -> Delivery {
        let response = match request.send().await {
            Ok(r) => r,
            // `without_url`: interaction paths carry a token.
            Err(e) => {
                return Delivery::Retry {
                    after_ms: None,
                    error: format!("network: {}", e.without_url()),
                }
            }
        };
        let status = response.status();
        let header_wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let text = response.text().await.unwrap_or_default();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            let id = json
                .as_ref()
                .and_then(|j| j.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Delivery::Sent(id);
        }
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if status.as_u16() == 429 {
            crate::telemetry::rate_limited(crate::core::ids::Platform::Discord);
            let body_wait = json
                .as_ref()
                .and_then(|j| j.get("retry_after"))
                .and_then(Value::as_f64);
            return Delivery::Retry {
                after_ms: body_wait
                    .or(header_wait)
                    .map(|s| (s * 1000.0).ceil().max(0.0) as i64),
                error: format!("429 rate limited {message}"),
            };
        }
        if status.is_server_error() {
            return Delivery::Retry {
                after_ms: header_wait.map(|s| (s * 1000.0).ceil() as i64),
                error: format!("{status} {message}"),
            };
        }
        let code = json
            .as_ref()
            .and_then(|j| j.get("code"))
            .map(Value::to_string)
            .unwrap_or_default();
        Delivery::Refused(format!("{status} {code} {message}").trim().to_owned())
    }
}
