//! The outbox's sender for Slack: performs queued operations against the Web API,
//! rendering at send time the messages that were queued as a description
//! ([`Deferred`]), and indexing a new thread's parent so replies in it are recognised.

use super::api::{answered, post, Deferred, ANSWER_WITHIN};
use super::render;
use crate::app::App;
use crate::outbox::{Delivery, Sender};
use crate::store::Store;
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

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
