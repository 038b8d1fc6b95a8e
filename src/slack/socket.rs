//! Socket Mode: with an app-level token (`SLACK_APP_TOKEN`), the bot opens a websocket to
//! Slack (`apps.connections.open` on the configured API base) instead of waiting for HTTP
//! requests, so it needs no public URL. Envelopes go to the same [`SlackBot`] handlers as
//! the HTTP endpoints; slack-morphism acknowledges each one when its handler returns, and
//! the handlers return as soon as the state and the outbox are written.
//!
//! Socket Mode requests are not signed: the websocket itself is authenticated by the token.

use super::bot::SlackBot;
use super::payload::CommandRequest;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// The bot, as slack-morphism's listener hands it to the callbacks.
struct BotState(Arc<SlackBot>);

async fn bot(state: &SlackClientEventsUserState) -> Option<Arc<SlackBot>> {
    state
        .read()
        .await
        .get_user_state::<BotState>()
        .map(|s| s.0.clone())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let bot = bot(&state).await.ok_or("the Slack bot is not set up")?;
    let reply = bot.answer_command(CommandRequest::from(&event)).await;
    Ok(serde_json::from_value(reply)?)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let bot = bot(&state).await.ok_or("the Slack bot is not set up")?;
    // Errors were logged with an id; acknowledging keeps Slack from redelivering into the
    // same failure. A modal's errors go back in the acknowledgement.
    Ok(match bot.answer_interaction(event).await {
        Ok(Some(reply)) => SlackInteractionResponse::from(serde_json::from_value::<
            SlackViewSubmissionResponse,
        >(reply)?),
        _ => SlackInteractionResponse::Empty,
    })
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let bot = bot(&state).await.ok_or("the Slack bot is not set up")?;
    // A failure was logged with its id.
    let _ = bot.answer_event(event).await;
    Ok(())
}

/// Acknowledge even an envelope the callbacks could not handle: redelivery would fail the
/// same way. The error is logged.
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _state: SlackClientEventsUserState,
) -> http::StatusCode {
    tracing::error!("socket mode: {error}");
    http::StatusCode::OK
}

/// A Socket Mode connection, ready to [`SocketMode::start`].
pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
    token: SlackApiToken,
}

impl SocketMode {
    pub fn new(bot: Arc<SlackBot>, client: Arc<SlackHyperClient>, app_token: &str) -> Self {
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(BotState(bot)),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_push);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(1)
            .with_initial_backoff_in_seconds(1);
        SocketMode {
            listener: SlackClientSocketModeListener::new(&config, env, callbacks),
            token: SlackApiToken::new(app_token.into()),
        }
    }

    /// Opens the connection (calls `apps.connections.open`) and starts handling envelopes
    /// in the background.
    pub async fn start(&self) -> Result<(), String> {
        self.listener
            .listen_for(&self.token)
            .await
            .map_err(|e| format!("Socket Mode: cannot connect: {e}"))?;
        self.listener.start().await;
        Ok(())
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}
