//! Files on Discord made from kept results: `/tradeoff record` (the channel's latest result
//! as a decision record, attached as Markdown) and `/tradeoff poll export` (a closed round
//! as CSV and JSON, in a private follow-up of the command). What is queued says which
//! result, not its text: the files are made when they are sent.

use super::handler::{DiscordBot, Response};
use super::render::Message;
use super::rest::op;
use crate::app::AppError;
use crate::core::ids::{ChannelId, Platform, WorkspaceId};
use crate::core::messages::record_reply;
use crate::records::{RecordOf, RecordShown};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A queued export: which round, and the command's interaction it follows up, privately.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportShown {
    pub export: crate::polls::ExportOf,
    pub application: String,
    pub token: String,
}

impl DiscordBot {
    /// Queues a poll round's export as a private follow-up of the command `c` (whose token
    /// lives 15 minutes).
    pub(super) fn queue_export(
        &self,
        of: crate::polls::ExportOf,
        c: &serenity::model::application::CommandInteraction,
    ) -> Result<(), AppError> {
        let shown = ExportShown {
            export: of,
            application: self.application_id.clone(),
            token: c.token.clone(),
        };
        self.app.queue_one(
            Platform::Discord,
            format!("discord:export:{}", c.id),
            &shown,
        )?;
        Ok(())
    }

    /// A click on a card's "Decision record" button (`value` after its prefix): queues that
    /// result's record where the card is, and says so privately.
    pub(super) fn record_click(
        &self,
        c: &serenity::model::application::ComponentInteraction,
        value: &str,
    ) -> Result<Response, AppError> {
        let guild = c.guild_id.map(|g| g.to_string()).unwrap_or_default();
        let here = (
            Platform::Discord,
            &WorkspaceId::new(&guild),
            &ChannelId::new(c.channel_id.to_string()),
        );
        let of = match value.strip_prefix("c|") {
            // A conversation's card: where it lives is stored under its id.
            Some(conversation) => self
                .location(conversation)?
                .filter(|key| key.workspace.as_str() == guild)
                .map(|key| RecordOf::Conversation { key }),
            None => RecordOf::of_button(&self.app, value, here)?,
        };
        let Some(of) = of else {
            return Ok(Response::private(
                "This button belongs to a result that is gone.",
            ));
        };
        self.queue_record(of, &c.channel_id.to_string())
    }

    /// `/tradeoff record` in `channel` (a channel, or a thread within it).
    pub(super) fn record(&self, guild: &str, channel: &str) -> Result<Response, AppError> {
        let of = self.app.latest_record(
            Platform::Discord,
            &WorkspaceId::new(guild),
            &ChannelId::new(channel),
        )?;
        self.queue_record(of, channel)
    }

    /// Queues the record `of` into `channel`, and says privately where to keep it.
    fn queue_record(&self, of: RecordOf, channel: &str) -> Result<Response, AppError> {
        let shown = RecordShown {
            record: of,
            channel: channel.to_owned(),
            thread_ts: None,
        };
        let path = self.app.queue_record(
            Platform::Discord,
            format!("discord:record:{channel}"),
            &shown,
        )?;
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
    let name = record.file_name();
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

/// The call that sends a queued export, and its files (name, bytes, type): the round's
/// CSV and JSON, made now, in a private follow-up.
pub fn export_call(
    app: &crate::app::App,
    queued: &Value,
) -> Result<(String, Value, Vec<super::rest::File>), AppError> {
    let shown: ExportShown = serde_json::from_value(queued.clone())
        .map_err(|e| crate::app::InternalError::new("queued export", e))?;
    let (export, csv) = app.export(&shown.export.poll, Some(shown.export.round))?;
    let name = format!("poll-{}-round-{}", export.poll, export.round);
    let files = vec![
        (format!("{name}.csv"), csv.into_bytes(), "text/csv"),
        (
            format!("{name}.json"),
            export.to_json().into_bytes(),
            "application/json",
        ),
    ];
    let mut body = Message {
        ephemeral: true,
        ..Message::text(format!("Poll export, round {}", export.round))
    }
    .to_json();
    body["attachments"] = json!(files
        .iter()
        .enumerate()
        .map(|(i, (name, _, _))| json!({ "id": i, "filename": name }))
        .collect::<Vec<_>>());
    let path = format!("/webhooks/{}/{}", shown.application, shown.token);
    Ok((path, body, files))
}
