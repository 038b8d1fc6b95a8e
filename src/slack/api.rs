//! Slack's Web API: the operations the bot queues in the outbox (as JSON, so they survive a
//! restart), and how a call's answer maps to [`Delivery`]: 429 waits its `Retry-After`,
//! 5xx and transient `ok:false` errors retry, other errors are refused for good. The
//! [sender](super::sender) performs the operations with slack-morphism's client.

use super::render::Message;
use crate::core::effect::{Effect, Said};
use crate::core::ids::{PackId, UserRef};
use crate::outbox::Delivery;
use crate::store::OutboxOp;
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

/// Where an effect goes on Slack. Strings may hold `{{ref:NAME}}` placeholders, filled in
/// when the entry is sent (the `ts` of a thread's parent, of the question asked last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `chat.postMessage`, in a thread when `thread_ts` is given; `broadcast` also shows a
    /// thread reply in the channel.
    Post {
        channel: String,
        thread_ts: Option<String>,
        broadcast: bool,
    },
    /// `chat.update` of the message at `ts`.
    Update { channel: String, ts: String },
    /// `chat.postEphemeral`: seen only by `user`.
    Ephemeral {
        channel: String,
        user: String,
        thread_ts: Option<String>,
    },
}

/// An outbox entry that shows a neutral effect on Slack: the effect, how it goes out, and
/// the conversation's thread key (its buttons carry it). It is rendered when it is sent, so
/// the queue holds a few hundred bytes of facts instead of kilobytes of Block Kit. With
/// `index` (a prefix and a thread key), the sender also remembers, once the message is
/// posted, that its `ts` belongs to that thread: the ref `{prefix}{ts}` is set to the key.
/// That is how a thread reply, which only knows its parent's `ts`, finds its conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shown {
    pub said: Said,
    pub via: Via,
    pub thread: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Index>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    pub prefix: String,
    pub value: String,
}

impl Shown {
    pub fn op(&self) -> OutboxOp {
        OutboxOp::new(self)
    }
}

/// A message queued by an earlier release as a description to render when sent (the
/// thread's parent, a question): read as the effect it stands for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Deferred {
    Parent {
        pack: PackId,
        version: u32,
        user: String,
    },
    Question {
        pack: PackId,
        version: u32,
        question: usize,
        number: usize,
        total: usize,
        thread: String,
    },
}

/// The [`Shown`] an entry of an earlier release's `{"method", "channel", "thread_ts",
/// "render", "index"}` shape stands for; `None` when `op` is not one.
pub fn earlier_release(op: &Value) -> Option<Result<Shown, serde_json::Error>> {
    #[derive(Deserialize)]
    struct Earlier {
        channel: String,
        thread_ts: Option<String>,
        render: Deferred,
        index: Option<Index>,
    }
    op.get("render")?;
    let earlier: Earlier = match serde_json::from_value(op.clone()) {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    let (said, thread) = match earlier.render {
        Deferred::Parent {
            pack,
            version,
            user,
        } => {
            let by = UserRef::new(user.clone(), user);
            let thread = earlier.index.as_ref().map(|i| i.value.clone());
            (
                Said {
                    pack,
                    version,
                    effect: Effect::Opened { by },
                },
                thread.unwrap_or_default(),
            )
        }
        Deferred::Question {
            pack,
            version,
            question,
            number,
            total,
            thread,
        } => (
            Said {
                pack,
                version,
                effect: Effect::Ask {
                    question,
                    number,
                    total,
                },
            },
            thread,
        ),
    };
    Some(Ok(Shown {
        said,
        via: Via::Post {
            channel: earlier.channel,
            thread_ts: earlier.thread_ts,
            broadcast: false,
        },
        thread,
        index: earlier.index,
    }))
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

/// What an error from the client means for the outbox.
pub fn classify(error: SlackClientError) -> Delivery {
    match error {
        SlackClientError::RateLimitError(e) => {
            crate::telemetry::rate_limited(crate::core::ids::Platform::Slack);
            Delivery::Retry {
                after_ms: e.retry_after.map(|d| d.as_millis() as i64),
                error: format!("rate limited ({})", e.code.as_deref().unwrap_or("429")),
            }
        }
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
