//! `/tradeoff record` on Discord: the channel's latest result as a decision record, queued
//! (which result, not its text) and attached as a Markdown file when it is sent.

use super::handler::{DiscordBot, Response};
use super::render::Message;
use super::rest::op;
use crate::app::AppError;
use crate::core::ids::{ChannelId, Platform, WorkspaceId};
use crate::core::messages::record_reply;
use crate::records::RecordOf;
use crate::store::{Batch, NewOutbox, OutboxOp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A queued record: which result, and the channel (or thread) it goes to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordShown {
    pub record: RecordOf,
    pub channel: String,
}

impl DiscordBot {
    /// `/tradeoff record` in `channel` (a channel, or a thread within it).
    pub(super) fn record(&self, guild: &str, channel: &str) -> Result<Response, AppError> {
        let of = self.app.latest_record(
            Platform::Discord,
            &WorkspaceId::new(guild),
            &ChannelId::new(channel),
        )?;
        let path = self.app.record(&of)?.path;
        let shown = RecordShown {
            record: of,
            channel: channel.to_owned(),
        };
        self.app.store.commit(Batch {
            outbox: vec![NewOutbox {
                platform: Platform::Discord,
                lane: format!("discord:record:{channel}"),
                op: OutboxOp::new(&shown),
                produces: None,
            }],
            ..Batch::default()
        })?;
        Ok(Response::private(record_reply(&path)))
    }
}

/// The call that posts a queued record, and the file it attaches (name, Markdown):
/// made from the result as it is stored now.
pub fn record_call(
    app: &crate::app::App,
    queued: &Value,
) -> Result<(Value, String, Vec<u8>), AppError> {
    let shown: RecordShown = serde_json::from_value(queued.clone())
        .map_err(|e| crate::app::InternalError::new("queued record", e))?;
    let record = app.record(&shown.record)?;
    let name = record
        .path
        .rsplit('/')
        .next()
        .unwrap_or("decision.md")
        .to_owned();
    let mut body = Message::text(format!("Decision record: `{name}`")).to_json();
    body["attachments"] =
        json!([{ "id": 0, "filename": name, "description": "Decision record (MADR)" }]);
    let call = op(
        "POST",
        format!("/channels/{}/messages", shown.channel),
        Some(body),
    );
    Ok((call, name, record.markdown.into_bytes()))
}
