//! The outbox's sender for Discord: renders the neutral effects that were queued
//! ([`Shown`]) with the packs they name, and a poll's reminder with the members it names
//! decided then, performs each call with [`Rest`], and indexes a
//! new thread under its conversation so written replies in it are recognised.

use super::polls::poll_call;
use super::rest::{thread_ref, Rest};
use super::shown::{self, Shown};
use crate::app::App;
use crate::outbox::{Delivery, Sender};
use crate::polls::PollShown;
use serde_json::Value;
use std::sync::Arc;

/// Performs the outbox's Discord operations.
pub struct DiscordSender {
    pub rest: Rest,
    /// Its catalog renders [`Shown`] effects; its store keeps the threads' index.
    pub app: Arc<App>,
}

impl DiscordSender {
    /// The PNG of the chart a queued entry attaches: a conversation's or a poll round's.
    fn chart_of(&self, queued: &Value) -> Result<Vec<u8>, String> {
        if let Some(shown) = PollShown::of(queued) {
            return match self.app.poll_view(&shown?) {
                Ok(crate::polls::PollView::Chart { chart, .. }) => crate::chart::png(&chart),
                Ok(_) => Err("not a chart".into()),
                Err(_) => Err("the poll's round cannot be read".into()),
            };
        }
        let shown: Shown = serde_json::from_value(queued.clone()).map_err(|e| e.to_string())?;
        let pack = self
            .app
            .catalog
            .get(&shown.said.pack, shown.said.version)
            .map_err(|e| e.to_string())?;
        crate::chart::png(&shown.said.chart(&pack)?)
    }
}

impl Sender for DiscordSender {
    async fn send(&self, op: &Value) -> Delivery {
        if op.get("record").is_some() {
            return match super::records::record_call(&self.app, op) {
                Ok((call, name, markdown)) => {
                    self.rest
                        .call_with_files(
                            "POST",
                            call["path"].as_str().unwrap_or_default(),
                            &call["body"],
                            vec![(name, markdown, "text/markdown")],
                        )
                        .await
                }
                Err(e) => e.into(),
            };
        }
        if op.get("export").is_some() {
            return match super::records::export_call(&self.app, op) {
                Ok((path, body, files)) => {
                    self.rest.call_with_files("POST", &path, &body, files).await
                }
                Err(e) => e.into(),
            };
        }
        let original = op;
        let rendered;
        let op = if let Some(shown) = PollShown::of(op) {
            let shown = match shown {
                Ok(shown) => shown,
                Err(e) => return Delivery::Refused(e),
            };
            let call = self
                .app
                .poll_view(&shown)
                .and_then(|view| poll_call(self.app.store.as_ref(), &view, &shown));
            match call {
                Ok(Some(call)) => {
                    rendered = call;
                    &rendered
                }
                Ok(None) => return Delivery::Sent(None),
                Err(delivery) => return delivery,
            }
        } else if op.get("said").is_some() {
            let shown: Shown = match serde_json::from_value(op.clone()) {
                Ok(s) => s,
                Err(e) => return Delivery::Refused(format!("bad message: {e}")),
            };
            let pack = match self.app.catalog.get(&shown.said.pack, shown.said.version) {
                Ok(p) => p,
                Err(e) => return Delivery::Refused(format!("cannot render the message: {e}")),
            };
            match shown::render(&pack, &shown) {
                Ok(done) => {
                    rendered = done;
                    &rendered
                }
                Err(e) => return Delivery::Refused(format!("cannot render the message: {e}")),
            }
        } else if op.get("remind").is_some() {
            match super::polls::queued_reminder_call(self.app.store.as_ref(), op) {
                Ok(Some(call)) => {
                    rendered = call;
                    &rendered
                }
                Ok(None) => return Delivery::Sent(None),
                Err(error) => {
                    return Delivery::Retry {
                        after_ms: None,
                        error,
                    }
                }
            }
        } else {
            op
        };
        let (Some(method), Some(path)) = (
            op.get("method").and_then(Value::as_str),
            op.get("path").and_then(Value::as_str),
        ) else {
            return Delivery::Refused("malformed operation: no method or path".into());
        };
        let delivery = match op.get("file").and_then(Value::as_str) {
            Some(name) => match self.chart_of(original) {
                Ok(png) => {
                    let body = op.get("body").cloned().unwrap_or_default();
                    self.rest
                        .call_with_files(
                            method,
                            path,
                            &body,
                            vec![(name.to_owned(), png, "image/png")],
                        )
                        .await
                }
                Err(e) => return Delivery::Refused(format!("cannot draw the chart: {e}")),
            },
            None => self.rest.call(method, path, op.get("body")).await,
        };
        if let (Delivery::Sent(Some(thread)), Some(conversation)) =
            (&delivery, op.get("index_thread").and_then(Value::as_str))
        {
            // Written replies arrive with only the thread's id: remember whose thread it is.
            // Should this write fail, the thread exists but replies to it go unread; a retry
            // would fail anyway (one thread per message), so report the delivery as done.
            if let Err(e) = self.app.store.put_ref(&thread_ref(thread), conversation) {
                tracing::error!(%thread, "cannot record the conversation's thread: {e}");
            }
        }
        delivery
    }
}
