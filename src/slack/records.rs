//! Files on Slack made from kept results: `/tradeoff record` (the channel's latest result
//! as a decision record, uploaded as Markdown into the channel) and `/tradeoff poll
//! export` (a closed round as CSV and JSON, in a direct message to whoever asked). What is
//! queued says which result, not its text: the files are made when they are sent.

use super::bot::{ephemeral_reply, SlackBot};
use super::payload::CommandRequest;
use crate::core::ids::{ChannelId, Platform, WorkspaceId};
use crate::core::messages::record_reply;
use crate::records::{RecordOf, RecordShown};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A queued export: which round, and the member it goes to, in a direct message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportShown {
    pub export: crate::polls::ExportOf,
    pub user: String,
}

impl SlackBot {
    /// The `ts` of the thread a decision's record goes in: the thread of its conversation.
    /// A poll round's goes in the channel.
    fn thread_of(&self, of: &RecordOf) -> Result<Option<String>, crate::app::AppError> {
        let key = match of {
            RecordOf::Conversation { key } => key.clone(),
            RecordOf::Decision {
                platform,
                workspace,
                channel,
            } => match self
                .app
                .store
                .latest_result(*platform, workspace, channel)?
            {
                Some(stored) => stored.key,
                None => return Ok(None),
            },
            RecordOf::Round { .. } => return Ok(None),
        };
        Ok(self
            .app
            .store
            .get_ref(&super::bot::Place::from_key(&key).parent_ref())?)
    }

    /// Queues a poll round's export to `user`, privately.
    pub(super) fn queue_export(
        &self,
        of: crate::polls::ExportOf,
        team: &str,
        user: &str,
    ) -> Result<(), crate::app::AppError> {
        let shown = ExportShown {
            export: of,
            user: user.to_owned(),
        };
        self.app.queue_one(
            Platform::Slack,
            format!("slack|export|{team}|{user}"),
            &shown,
        )?;
        self.outbox.notify();
        Ok(())
    }

    /// A click on a card's "Decision record" button: queues that result's record into the
    /// channel. A value we did not make is ignored.
    pub(super) fn record_click(
        &self,
        a: &super::payload::ActionRequest,
    ) -> Result<(), crate::app::AppError> {
        let (team, channel) = (WorkspaceId::new(&*a.team), ChannelId::new(&*a.channel));
        let Some(of) =
            RecordOf::of_button(&self.app, &a.value, (Platform::Slack, &team, &channel))?
        else {
            tracing::debug!("a record button we did not make");
            return Ok(());
        };
        let (lane, shown) = self.record_shown(of, &a.team, &a.channel)?;
        self.app.queue_one(Platform::Slack, lane, &shown)?;
        self.outbox.notify();
        Ok(())
    }

    /// Where the record `of` goes out from `channel`: its lane, and the queued entry.
    fn record_shown(
        &self,
        of: RecordOf,
        team: &str,
        channel: &str,
    ) -> Result<(String, RecordShown), crate::app::AppError> {
        let shown = RecordShown {
            thread_ts: self.thread_of(&of)?,
            record: of,
            channel: channel.to_owned(),
        };
        Ok((format!("slack|record|{team}|{channel}"), shown))
    }

    /// `/tradeoff record`: queues the record of the channel's latest result, and says where
    /// to keep it. Blocks on the store: call it off the async workers.
    pub(super) fn record(&self, cmd: &CommandRequest) -> Value {
        let (team, channel) = (WorkspaceId::new(&*cmd.team), ChannelId::new(&*cmd.channel));
        let queued = self
            .app
            .latest_record(Platform::Slack, &team, &channel)
            .and_then(|of| self.record_shown(of, &cmd.team, &cmd.channel))
            .and_then(|(lane, shown)| self.app.queue_record(Platform::Slack, lane, &shown));
        match queued {
            Ok(path) => {
                self.outbox.notify();
                ephemeral_reply(&record_reply(&path))
            }
            Err(e) => ephemeral_reply(&e.user_text()),
        }
    }
}
