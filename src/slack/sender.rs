//! The outbox's sender for Slack: performs queued operations against the Web API,
//! rendering at send time the neutral effects that were queued ([`Shown`]), and indexing a
//! new thread's parent so replies in it are recognised.

use super::api::{self, answered, earlier_release, Shown, Via, ANSWER_WITHIN};
use super::polls::{poll_call, send_reminder};
use super::records::ExportShown;
use super::render;
use crate::app::App;
use crate::core::chart::Chart;
use crate::core::effect::Effect;
use crate::outbox::{Delivery, Sender};
use crate::polls::{PollShown, PollView};
use crate::records::RecordShown;
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
    /// Renders [`Shown`] effects with the packs they name.
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
                super::polls::send_queued_reminder(
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

impl SlackSender {
    /// Shows a poll's effect, rendered from the poll as it is now.
    async fn send_poll(&self, shown: &PollShown) -> Delivery {
        let view = match self.app.poll_view(shown) {
            Ok(view) => view,
            Err(delivery) => return delivery,
        };
        let call = match poll_call(&view, shown) {
            Ok(Some(call)) => call,
            Ok(None) => {
                return match &view {
                    PollView::Chart { record, chart, .. } => {
                        self.upload(record.channel.as_str(), None, chart).await
                    }
                    PollView::Remind { poll, answered } => send_reminder(
                        &self.client,
                        &self.token,
                        self.bot_user.as_deref(),
                        self.answer_within,
                        poll,
                        answered,
                    )
                    .await
                    .map_or_else(|d| d, Delivery::Sent),
                    _ => Delivery::Sent(None),
                }
            }
            Err(delivery) => return delivery,
        };
        match self.call(&call).await {
            Ok(created) => Delivery::Sent(created),
            Err(delivery) => delivery,
        }
    }
}

/// The chart's file name, as Slack shows it.
pub const CHART_FILE: &str = "tradeoff-chart.png";

/// A file to share: its name, title, alternative text, type and bytes.
struct File<'a> {
    name: &'a str,
    title: String,
    alt: Option<String>,
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl SlackSender {
    /// Uploads a conversation's chart into its thread: Slack's three steps
    /// (`files.getUploadURLExternal`, the bytes to the upload URL, then
    /// `files.completeUploadExternal` sharing it in the thread). A step that fails leaves
    /// the whole upload to be retried: a file never completed is never shown.
    async fn upload_chart(&self, shown: &Shown) -> Delivery {
        let Via::Post {
            channel, thread_ts, ..
        } = &shown.via
        else {
            return Delivery::Refused("a chart is posted, not updated".into());
        };
        let chart = match self
            .app
            .catalog
            .get(&shown.said.pack, shown.said.version)
            .map_err(|e| e.to_string())
            .and_then(|pack| shown.said.chart(&pack))
        {
            Ok(chart) => chart,
            Err(e) => return Delivery::Refused(format!("cannot draw the chart: {e}")),
        };
        self.upload(channel, thread_ts.as_deref(), &chart).await
    }

    /// Uploads `chart` into `channel`, in the thread of `thread_ts` when given.
    async fn upload(&self, channel: &str, thread_ts: Option<&str>, chart: &Chart) -> Delivery {
        let png = match crate::chart::png(chart) {
            Ok(png) => png,
            Err(e) => return Delivery::Refused(e),
        };
        let file = File {
            name: CHART_FILE,
            title: chart.headline.clone(),
            alt: Some(format!("Chart: {}. {}", chart.headline, chart.verdict)),
            content_type: "image/png",
            bytes: png,
        };
        self.upload_files(channel, thread_ts, vec![file]).await
    }

    /// Sends a queued decision record ([`RecordShown`]): made from the result as stored
    /// now, uploaded as a Markdown file.
    async fn send_record(&self, op: &Value) -> Delivery {
        let shown: RecordShown = match serde_json::from_value(op.clone()) {
            Ok(shown) => shown,
            Err(e) => return Delivery::Refused(format!("bad record: {e}")),
        };
        let record = match self.app.record(&shown.record) {
            Ok(record) => record,
            Err(e) => return e.into(),
        };
        let name = record.file_name();
        let file = File {
            name: &name,
            title: format!("Decision record: {name}"),
            alt: None,
            content_type: "text/markdown",
            bytes: record.markdown.into_bytes(),
        };
        self.upload_files(&shown.channel, shown.thread_ts.as_deref(), vec![file])
            .await
    }

    /// Sends a queued poll export ([`ExportShown`]) to its member in a direct message: the
    /// round's CSV and JSON, made now, shared in one upload.
    async fn send_export(&self, op: &Value) -> Delivery {
        let shown: ExportShown = match serde_json::from_value(op.clone()) {
            Ok(shown) => shown,
            Err(e) => return Delivery::Refused(format!("bad export: {e}")),
        };
        let (export, csv) = match self
            .app
            .export(&shown.export.poll, Some(shown.export.round))
        {
            Ok(made) => made,
            Err(e) => return e.into(),
        };
        let session = self.client.open_session(&self.token);
        let open = SlackApiConversationsOpenRequest::new().with_users(vec![shown.user.into()]);
        let dm = match answered(self.answer_within, session.conversations_open(&open)).await {
            Ok(opened) => opened.channel.id.to_string(),
            Err(delivery) => return delivery,
        };
        let name = format!("poll-{}-round-{}", export.poll, export.round);
        let (csv_name, json_name) = (format!("{name}.csv"), format!("{name}.json"));
        let files = vec![
            File {
                name: &csv_name,
                title: format!("Poll export, round {} (CSV)", export.round),
                alt: None,
                content_type: "text/csv",
                bytes: csv.into_bytes(),
            },
            File {
                name: &json_name,
                title: format!("Poll export, round {} (JSON)", export.round),
                alt: None,
                content_type: "application/json",
                bytes: export.to_json().into_bytes(),
            },
        ];
        self.upload_files(&dm, None, files).await
    }

    /// Uploads files into `channel` (in the thread of `thread_ts` when given), shared in one
    /// message: Slack's three steps, the first two for each file. A step that fails leaves
    /// the whole upload to be retried: files never completed are never shown.
    async fn upload_files(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        files: Vec<File<'_>>,
    ) -> Delivery {
        let within = self.answer_within;
        let session = self.client.open_session(&self.token);
        let upload = async {
            let mut done = Vec::with_capacity(files.len());
            for file in files {
                let File {
                    name,
                    title,
                    alt,
                    content_type,
                    bytes,
                } = file;
                let url = answered(
                    within,
                    session.get_upload_url_external(
                        &SlackApiFilesGetUploadUrlExternalRequest::new(name.into(), bytes.len())
                            .opt_alt_txt(alt),
                    ),
                )
                .await?;
                answered(
                    within,
                    session.files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                        url.upload_url,
                        bytes,
                        content_type.into(),
                    )),
                )
                .await?;
                done.push(SlackApiFilesComplete::new(url.file_id).with_title(title));
            }
            let complete = SlackApiFilesCompleteUploadExternalRequest::new(done)
                .with_channel_id(channel.into())
                .opt_thread_ts(thread_ts.map(Into::into));
            answered(within, session.files_complete_upload_external(&complete)).await?;
            Ok::<_, Delivery>(())
        };
        match upload.await {
            Ok(()) => Delivery::Sent(None),
            Err(delivery) => delivery,
        }
    }
}

impl Sender for SlackSender {
    async fn send(&self, op: &Value) -> Delivery {
        if op.get("record").is_some() {
            return self.send_record(op).await;
        }
        if op.get("export").is_some() {
            return self.send_export(op).await;
        }
        match PollShown::of(op) {
            Some(Ok(shown)) => return self.send_poll(&shown).await,
            Some(Err(e)) => return Delivery::Refused(e),
            None => {}
        }
        let shown = match op.get("said") {
            Some(_) => Some(serde_json::from_value::<Shown>(op.clone())),
            None => earlier_release(op),
        };
        if let Some(Ok(shown)) = &shown {
            if let Effect::Chart(_) = shown.said.effect {
                return self.upload_chart(shown).await;
            }
        }
        let rendered;
        let op = match shown {
            None => op,
            Some(Ok(shown)) => match render(&self.app, &shown) {
                Ok(done) => {
                    rendered = done;
                    &rendered
                }
                Err(e) => return Delivery::Refused(format!("cannot render the message: {e}")),
            },
            Some(Err(e)) => return Delivery::Refused(format!("bad message: {e}")),
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

/// The Web API call that shows an effect: its message rendered with the effect's pack, sent
/// the way [`Via`] says.
fn render(app: &App, shown: &Shown) -> Result<Value, String> {
    let said = &shown.said;
    let pack = app
        .catalog
        .get(&said.pack, said.version)
        .map_err(|e| e.to_string())?;
    said.fits(&pack)?;
    let message = match &said.effect {
        Effect::Opened { by } => render::parent(&pack, by.id.as_str()),
        Effect::Answered {
            question,
            choice,
            by,
        } => render::answered(&pack, *question, *choice, by.id.as_str()),
        Effect::Closed { question, note, .. } => render::closed(&pack, *question, note),
        Effect::Notice { text } | Effect::Tell { text, .. } => render::notice(text),
        Effect::Ask {
            question,
            number,
            total,
        } => render::question_at(&pack, *question, (*number, *total), &shown.thread),
        Effect::Card { .. } => render::with_record_button(
            render::card(&said.card(&pack)?),
            &crate::records::RecordOf::conversation_button(&shown.thread),
        ),
        Effect::Chart(_) => return Err("a chart is uploaded, not rendered".into()),
    };
    let mut rendered = match &shown.via {
        Via::Post {
            channel,
            thread_ts,
            broadcast,
        } => api::post(channel, thread_ts.as_deref(), &message, *broadcast),
        Via::Update { channel, ts } => api::update(channel, ts, &message),
        Via::Ephemeral {
            channel,
            user,
            thread_ts,
        } => api::ephemeral(channel, user, thread_ts.as_deref(), &message),
    };
    if let Some(index) = &shown.index {
        rendered["index"] = serde_json::json!({ "prefix": index.prefix, "value": index.value });
    }
    Ok(rendered)
}
