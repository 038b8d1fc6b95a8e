//! Slack's Web API: the operations the bot queues in the outbox (as JSON, so they survive a
//! restart) and the [`SlackSender`] that performs them with slack-morphism's client, mapping
//! Slack's answers to [`Delivery`]: 429 waits its `Retry-After`, 5xx and transient
//! `ok:false` errors retry, other errors are refused for good.

use super::render::{self, Message};
use crate::app::App;
use crate::core::ids::PackId;
use crate::outbox::{Delivery, Sender};
use crate::store::{OutboxOp, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A client whose calls go to `{api_url}/{method}`, over https or, for a local stand-in,
/// plain http. slack-morphism's default connector is https-only.
pub fn client(api_url: &str) -> Arc<SlackHyperClient> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Arc::new(SlackClient::new(
        SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url),
    ))
}

/// `chat.postMessage`, in a thread when `thread_ts` is given. `broadcast` also shows a
/// thread reply in the channel.
pub fn post(channel: &str, thread_ts: Option<&str>, message: &Message, broadcast: bool) -> Value {
    let mut req = SlackApiChatPostMessageRequest::new(channel.into(), message.content());
    if let Some(ts) = thread_ts {
        req = req.with_thread_ts(ts.into());
        if broadcast {
            req = req.with_reply_broadcast(true);
        }
    }
    op("chat.postMessage", &req)
}

/// `chat.update` of the message at `ts`.
pub fn update(channel: &str, ts: &str, message: &Message) -> Value {
    op(
        "chat.update",
        &SlackApiChatUpdateRequest::new(channel.into(), message.content(), ts.into()),
    )
}

/// `chat.postEphemeral`: seen only by `user`.
pub fn ephemeral(channel: &str, user: &str, thread_ts: Option<&str>, message: &Message) -> Value {
    let req = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), message.content())
        .opt_thread_ts(thread_ts.map(Into::into));
    op("chat.postEphemeral", &req)
}

/// A command's answer (`response_type`, `text`, `blocks`) sent as a message, for when it
/// was ready only after the command had been acknowledged: `chat.postMessage` for an
/// `in_channel` answer, else `chat.postEphemeral` to `user`.
pub fn late_reply(channel: &str, user: &str, reply: &Value) -> Result<Value, serde_json::Error> {
    let content: SlackMessageContent = serde_json::from_value(reply.clone())?;
    Ok(if reply["response_type"] == "in_channel" {
        op(
            "chat.postMessage",
            &SlackApiChatPostMessageRequest::new(channel.into(), content),
        )
    } else {
        op(
            "chat.postEphemeral",
            &SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content),
        )
    })
}

/// A message rendered when it is sent rather than when it is queued: the queue then holds a
/// few hundred bytes of facts instead of kilobytes of Block Kit, which is what keeps saving
/// a `/tradeoff start` cheap. What is posted is exactly what rendering at queue time would
/// have posted: the facts are a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deferred {
    /// The thread's parent message: who started which pack.
    Parent {
        pack: PackId,
        version: u32,
        user: String,
    },
    /// A question, with the conversation's progress when it was asked.
    Question {
        pack: PackId,
        version: u32,
        question: usize,
        number: usize,
        total: usize,
        thread: String,
    },
}

/// `chat.postMessage` of a [`Deferred`] message. With `index` (a prefix and a thread key),
/// the sender also remembers, once the message is posted, that its `ts` belongs to that
/// thread: the ref `{prefix}{ts}` is set to the key. That is how a thread reply, which only
/// knows its parent's `ts`, finds its conversation.
pub fn post_deferred(
    channel: &str,
    thread_ts: Option<&str>,
    message: &Deferred,
    index: Option<(&str, &str)>,
) -> OutboxOp {
    #[derive(Serialize)]
    struct Index<'a> {
        prefix: &'a str,
        value: &'a str,
    }
    #[derive(Serialize)]
    struct Post<'a> {
        method: &'static str,
        channel: &'a str,
        thread_ts: Option<&'a str>,
        render: &'a Deferred,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<Index<'a>>,
    }
    OutboxOp::new(&Post {
        method: "chat.postMessage",
        channel,
        thread_ts,
        render: message,
        index: index.map(|(prefix, value)| Index { prefix, value }),
    })
}

/// Turns a [`post_deferred`] operation into the `chat.postMessage` it stands for.
fn render_deferred(app: &App, op: &Value) -> Result<Value, String> {
    let what: Deferred =
        serde_json::from_value(op["render"].clone()).map_err(|e| format!("bad message: {e}"))?;
    let channel = op["channel"].as_str().unwrap_or_default();
    let thread_ts = op["thread_ts"].as_str();
    let message = match &what {
        Deferred::Parent {
            pack,
            version,
            user,
        } => {
            let pack = app.catalog.get(pack, *version).map_err(|e| e.to_string())?;
            render::parent(&pack, user)
        }
        Deferred::Question {
            pack,
            version,
            question,
            number,
            total,
            thread,
        } => {
            let pack = app.catalog.get(pack, *version).map_err(|e| e.to_string())?;
            if *question >= pack.questions.len() {
                return Err(format!("no question {question} in {}", pack.id));
            }
            render::question_at(&pack, *question, (*number, *total), thread)
        }
    };
    let mut rendered = post(channel, thread_ts, &message, false);
    if let Some(index) = op.get("index") {
        rendered["index"] = index.clone();
    }
    Ok(rendered)
}

fn op(method: &str, body: &impl serde::Serialize) -> Value {
    json!({ "method": method, "body": serde_json::to_value(body).unwrap_or(Value::Null) })
}

/// `ok:false` errors that say "try again", not "this request is wrong".
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_is_limited",
];

/// How long a Web API call may go unanswered. slack-morphism's client has no timeout of its
/// own, and the outbox sends one message at a time: a call that never got an answer would
/// hold up every message behind it, for good.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// `call`'s result, or a transient failure when Slack does not answer `within`. (Slack may
/// still have acted on it: the retry that follows can post twice, which is better than
/// never posting what follows.)
pub async fn answered<T>(
    within: Duration,
    call: impl Future<Output = Result<T, SlackClientError>>,
) -> Result<T, Delivery> {
    match tokio::time::timeout(within, call).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(Delivery::Retry {
            after_ms: None,
            error: format!("no answer within {} ms", within.as_millis()),
        }),
    }
}

/// Performs queued operations against the Web API.
pub struct SlackSender {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    store: Arc<dyn Store>,
    /// Renders [`Deferred`] messages.
    app: Arc<App>,
    /// The bot's own user id: a poll reminder never mentions the bot.
    bot_user: Option<String>,
    answer_within: Duration,
}

impl SlackSender {
    pub fn new(client: Arc<SlackHyperClient>, bot_token: &str, app: Arc<App>) -> Self {
        SlackSender {
            client,
            token: SlackApiToken::new(bot_token.into()),
            store: app.store.clone(),
            app,
            bot_user: None,
            answer_within: ANSWER_WITHIN,
        }
    }

    pub fn with_bot_user(mut self, bot_user: Option<String>) -> Self {
        self.bot_user = bot_user;
        self
    }

    /// Gives up on a Web API call that goes unanswered for `within` (default
    /// [`ANSWER_WITHIN`]), and leaves its message to be retried.
    pub fn with_answer_within(mut self, within: Duration) -> Self {
        self.answer_within = within;
        self
    }

    async fn call(&self, op: &Value) -> Result<Option<String>, Delivery> {
        let method = op["method"].as_str().unwrap_or_default();
        let body = op["body"].clone();
        let bad = |e: serde_json::Error| Delivery::Refused(format!("{method}: bad operation: {e}"));
        let session = self.client.open_session(&self.token);
        let within = self.answer_within;
        match method {
            "chat.postMessage" => {
                let req: SlackApiChatPostMessageRequest =
                    serde_json::from_value(body).map_err(bad)?;
                let resp = answered(within, session.chat_post_message(&req)).await?;
                Ok(Some(resp.ts.to_string()))
            }
            "chat.update" => {
                let req: SlackApiChatUpdateRequest = serde_json::from_value(body).map_err(bad)?;
                let resp = answered(within, session.chat_update(&req)).await?;
                Ok(Some(resp.ts.to_string()))
            }
            "chat.postEphemeral" => {
                let req: SlackApiChatPostEphemeralRequest =
                    serde_json::from_value(body).map_err(bad)?;
                answered(within, session.chat_post_ephemeral(&req)).await?;
                Ok(None)
            }
            super::polls::REMIND_METHOD => {
                super::polls::send_reminder(
                    &self.client,
                    &self.token,
                    &self.store,
                    self.bot_user.as_deref(),
                    within,
                    &body,
                )
                .await
            }
            other => Err(Delivery::Refused(format!("unknown method {other:?}"))),
        }
    }
}

impl Sender for SlackSender {
    async fn send(&self, op: &Value) -> Delivery {
        let rendered;
        let op = if op.get("render").is_some() {
            match render_deferred(&self.app, op) {
                Ok(done) => {
                    rendered = done;
                    &rendered
                }
                Err(e) => return Delivery::Refused(format!("cannot render the message: {e}")),
            }
        } else {
            op
        };
        match self.call(op).await {
            Ok(created) => {
                if let (Some(ts), Some(prefix), Some(value)) = (
                    created.as_deref(),
                    op["index"]["prefix"].as_str(),
                    op["index"]["value"].as_str(),
                ) {
                    if let Err(e) = self.store.put_ref(&format!("{prefix}{ts}"), value) {
                        // Replies in this thread will not be recognised; the post itself
                        // went through, so retrying it would duplicate it.
                        tracing::error!("posted, but cannot index the thread: {e}");
                    }
                }
                Delivery::Sent(created)
            }
            Err(delivery) => delivery,
        }
    }
}

/// What an error from the client means for the outbox.
pub fn classify(error: SlackClientError) -> Delivery {
    match error {
        SlackClientError::RateLimitError(e) => Delivery::Retry {
            after_ms: e.retry_after.map(|d| d.as_millis() as i64),
            error: format!("rate limited ({})", e.code.as_deref().unwrap_or("429")),
        },
        SlackClientError::ApiError(e) if TRANSIENT.contains(&e.code.as_str()) => Delivery::Retry {
            after_ms: None,
            error: format!("ok:false {}", e.code),
        },
        SlackClientError::ApiError(e) => Delivery::Refused(format!("ok:false {}", e.code)),
        SlackClientError::HttpError(e)
            if e.status_code.is_server_error() || e.status_code.as_u16() == 408 =>
        {
            Delivery::Retry {
                after_ms: None,
                error: format!("HTTP {}", e.status_code),
            }
        }
        SlackClientError::HttpError(e) => Delivery::Refused(format!("HTTP {}", e.status_code)),
        // The connection failed or broke: nothing (or nothing known) reached Slack.
        SlackClientError::HttpProtocolError(e) => Delivery::Retry {
            after_ms: None,
            error: format!("network: {e}"),
        },
        SlackClientError::EndOfStream(e) => Delivery::Retry {
            after_ms: None,
            error: format!("network: {e}"),
        },
        SlackClientError::SystemError(e) => Delivery::Retry {
            after_ms: None,
            error: format!("system: {e}"),
        },
        // Slack answered 2xx with a body we cannot read: the call most likely went
        // through, so retrying could post twice.
        SlackClientError::ProtocolError(e) => Delivery::Refused(format!("unreadable answer: {e}")),
        SlackClientError::SocketModeProtocolError(e) => {
            Delivery::Refused(format!("socket mode: {e}"))
        }
    }
}
