//! Answering an interaction within Discord's 3 seconds when its work takes longer (a store
//! held up by a slow disk): the interaction is answered with a deferral straight away, and
//! the real answer, once the work is done, goes through the outbox to the interaction's
//! webhook (its token works for 15 minutes). Nothing the member did is dropped.

use super::handler::{DiscordBot, Response};
use super::render::Message;
use super::rest::op;
use crate::app::InternalError;
use crate::core::ids::Platform;
use crate::store::NewOutbox;
use serde_json::Value;
use serenity::model::application::Interaction;
use std::sync::Arc;
use tokio::sync::oneshot;

/// An interaction that can be answered late, and how.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    id: String,
    token: String,
    /// A command (deferred as "thinking", in the channel) or a component (deferred as an
    /// update of its message, which stays as it is meanwhile).
    command: bool,
}

impl Pending {
    /// Commands and component clicks; PING and autocomplete are answered at once anyway.
    pub(super) fn of(interaction: &Interaction) -> Option<Pending> {
        let (id, token, command) = match interaction {
            Interaction::Command(c) => (c.id, &c.token, true),
            Interaction::Component(c) => (c.id, &c.token, false),
            _ => return None,
        };
        Some(Pending {
            id: id.to_string(),
            token: token.clone(),
            command,
        })
    }

    /// The answer now, while the work goes on.
    pub(super) fn deferral(&self) -> Response {
        if self.command {
            Response::Deferred
        } else {
            Response::DeferredUpdate
        }
    }

    /// The calls that put `response` where the deferral said it would go. A command's
    /// deferral is a message in the channel: a public answer replaces it, and a private one
    /// replaces it with a follow-up only its member sees. A click's deferral left its
    /// message alone: an update edits that message, a new message is a follow-up.
    pub(super) fn calls(&self, application_id: &str, response: &Response) -> Vec<Value> {
        let webhook = format!("/webhooks/{application_id}/{}", self.token);
        let original = format!("{webhook}/messages/@original");
        let edit = |m: &Message| {
            let mut body = m.to_json();
            // Flags are set when a message is created; an edit leaves them alone.
            if let Some(fields) = body.as_object_mut() {
                fields.remove("flags");
            }
            op("PATCH", original.clone(), Some(body))
        };
        let follow_up = |m: &Message| op("POST", webhook.clone(), Some(m.to_json()));
        match response {
            Response::Message(m) if self.command && !m.ephemeral => vec![edit(m)],
            Response::Message(m) if self.command => {
                vec![op("DELETE", original.clone(), None), follow_up(m)]
            }
            Response::Message(m) => vec![follow_up(m)],
            Response::Update(m) => vec![edit(m)],
            Response::Pong | Response::Deferred | Response::DeferredUpdate => Vec::new(),
        }
    }
}

/// An interaction's answer. While it is held, a late response waits: the deferral this
/// answer carries must reach Discord first, or the response's edit of it would find
/// nothing to edit. Drop it once the answer is sent.
pub struct Answer {
    pub response: Response,
    _release: oneshot::Sender<()>,
}

impl DiscordBot {
    /// Handles an interaction off the async workers and answers it within Discord's
    /// deadline: with its response when the work is done in time, else with a deferral,
    /// the response following through the outbox once the answer is dropped.
    pub async fn answer_interaction(self: &Arc<Self>, interaction: Interaction) -> Answer {
        let pending = Pending::of(&interaction);
        let bot = self.clone();
        let work = async move {
            tokio::task::spawn_blocking(move || bot.handle_interaction(&interaction))
                .await
                .unwrap_or_else(|e| {
                    Response::private(InternalError::new("discord interaction", e).apology())
                })
        };
        let (release, released) = oneshot::channel::<()>();
        let Some(pending) = pending else {
            return Answer {
                response: work.await,
                _release: release,
            };
        };
        let deferral = pending.deferral();
        let bot = self.clone();
        let later = move |response| async move {
            // Sent, or dropped: either way the deferral has gone (or never will).
            let _ = released.await;
            bot.send_late(pending, response).await;
        };
        Answer {
            response: self.deadline.within(work, later).await.unwrap_or(deferral),
            _release: release,
        }
    }

    /// Queues the calls that deliver a late response.
    async fn send_late(self: Arc<Self>, pending: Pending, response: Response) {
        let entries: Vec<NewOutbox> = pending
            .calls(&self.application_id, &response)
            .into_iter()
            .map(|call| NewOutbox {
                platform: Platform::Discord,
                lane: format!("discord:late:{}", pending.id),
                op: call.into(),
                produces: None,
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.outbox.enqueue_off_the_runtime(entries).await {
            tracing::error!(interaction = %pending.id, "cannot queue a late interaction answer: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(command: bool) -> Pending {
        Pending {
            id: "1".into(),
            token: "tok".into(),
            command,
        }
    }

    fn message(ephemeral: bool) -> Message {
        Message {
            content: "hello".into(),
            ephemeral,
            ..Default::default()
        }
    }

    fn calls(p: &Pending, r: &Response) -> Vec<(String, String, Option<u64>)> {
        p.calls("app", r)
            .into_iter()
            .map(|c| {
                (
                    c["method"].as_str().unwrap().to_owned(),
                    c["path"].as_str().unwrap().to_owned(),
                    c["body"]["flags"].as_u64(),
                )
            })
            .collect()
    }

    #[test]
    fn a_late_answer_goes_where_its_deferral_said_it_would() {
        let original = "/webhooks/app/tok/messages/@original".to_owned();
        let webhook = "/webhooks/app/tok".to_owned();
        let command = pending(true);
        assert_eq!(command.deferral().to_json()["type"], 5);
        assert_eq!(
            calls(&command, &Response::Message(message(false))),
            [("PATCH".into(), original.clone(), None)]
        );
        assert_eq!(
            calls(&command, &Response::Message(message(true))),
            [
                ("DELETE".into(), original.clone(), None),
                ("POST".into(), webhook.clone(), Some(64))
            ],
            "a private answer is not left in the channel's deferral"
        );
        let click = pending(false);
        assert_eq!(click.deferral().to_json()["type"], 6);
        assert_eq!(
            calls(&click, &Response::Update(message(false))),
            [("PATCH".into(), original, None)]
        );
        assert_eq!(
            calls(&click, &Response::Message(message(true))),
            [("POST".into(), webhook, Some(64))],
            "the clicked message is never deleted"
        );
    }
}
