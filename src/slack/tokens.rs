//! Whether Slack takes the bot's tokens: `auth.test` for the bot token and
//! `apps.connections.open` for Socket Mode's app token, asked at start-up and, while Slack
//! refuses one, again with backoff. What they find is the service's readiness for Slack,
//! and a refusal is logged as an error that names the setting to fix.

use super::{api, socket};
use crate::app::App;
use std::sync::Arc;
use tokio::sync::watch;

/// The readiness parts Slack reports.
pub(super) const BOT_PART: &str = "slack";
pub(super) const SOCKET_PART: &str = "slack_socket_mode";

/// A token check against Slack's Web API.
#[derive(Clone, Copy)]
pub(super) enum Check {
    /// `auth.test` with the bot token.
    BotToken,
    /// `apps.connections.open` with the app-level token (Socket Mode).
    AppToken,
}

/// Why a check failed.
pub(super) struct Failed {
    check: Check,
    /// Slack's `ok:false` code, when it answered one.
    code: Option<String>,
    error: String,
}

/// Codes that mean the token itself is refused: only a new token fixes them.
const REFUSED: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
];

impl Failed {
    fn part(&self) -> &'static str {
        match self.check {
            Check::BotToken => BOT_PART,
            Check::AppToken => SOCKET_PART,
        }
    }

    /// What is wrong, and what to do.
    fn reason(&self) -> String {
        match (self.check, self.code.as_deref()) {
            (Check::BotToken, Some(code)) if REFUSED.contains(&code) => format!(
                "Slack refused SLACK_BOT_TOKEN ({code}): set it to the Bot User OAuth Token \
                 (xoxb-...) under OAuth & Permissions, and reinstall the app if it was removed"
            ),
            (Check::AppToken, Some(code)) if REFUSED.contains(&code) => format!(
                "Slack refused SLACK_APP_TOKEN ({code}): make an app-level token (xapp-...) \
                 with the connections:write scope under Basic Information"
            ),
            (Check::BotToken, _) => format!("auth.test failed: {}", self.error),
            (Check::AppToken, _) => format!("apps.connections.open failed: {}", self.error),
        }
    }

    pub(super) fn report(&self, app: &App) {
        let reason = self.reason();
        tracing::error!("{reason}; trying again with backoff");
        app.readiness.set(self.part(), false, reason);
    }
}

/// Asks Slack whether it takes `token`; for the bot token, the bot's own user id.
pub(super) async fn ask(
    client: &Arc<slack_morphism::prelude::SlackHyperClient>,
    token: &slack_morphism::prelude::SlackApiToken,
    check: Check,
) -> Result<Option<String>, Failed> {
    use slack_morphism::errors::SlackClientError;
    let session = client.open_session(token);
    let within = api::ANSWER_WITHIN;
    let answer = match check {
        Check::BotToken => tokio::time::timeout(within, session.auth_test())
            .await
            .map(|r| r.map(|me| Some(me.user_id.to_string()))),
        Check::AppToken => tokio::time::timeout(
            within,
            session.apps_connections_open(
                &slack_morphism::prelude::SlackApiAppsConnectionOpenRequest::new(),
            ),
        )
        .await
        .map(|r| r.map(|_| None)),
    };
    match answer {
        Ok(Ok(me)) => Ok(me),
        Ok(Err(SlackClientError::ApiError(e))) => Err(Failed {
            check,
            code: Some(e.code.clone()),
            error: format!("ok:false {}", e.code),
        }),
        Ok(Err(e)) => Err(Failed {
            check,
            code: None,
            error: e.to_string(),
        }),
        Err(_) => Err(Failed {
            check,
            code: None,
            error: format!("no answer within {} s", within.as_secs()),
        }),
    }
}

/// Asks again, with backoff, until Slack takes the token (then connects `socket`, when
/// given) or the service stops.
pub(super) async fn retry(
    app: Arc<App>,
    client: Arc<slack_morphism::prelude::SlackHyperClient>,
    token: slack_morphism::prelude::SlackApiToken,
    check: Check,
    mut stop: watch::Receiver<bool>,
    socket: Option<Arc<socket::SocketMode>>,
) {
    let mut failures = 0;
    loop {
        let wait = crate::readiness::retry_after(failures);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match ask(&client, &token, check).await {
            Ok(_) => break,
            Err(failed) => {
                failed.report(&app);
                failures += 1;
            }
        }
    }
    match (check, socket) {
        (Check::AppToken, Some(socket)) => match socket.start().await {
            Ok(()) => {
                tracing::info!("Slack takes the app token now: connected by Socket Mode");
                app.readiness
                    .set(SOCKET_PART, true, "connected by Socket Mode");
            }
            Err(e) => {
                tracing::error!("{e}");
                app.readiness.set(SOCKET_PART, false, e);
            }
        },
        _ => {
            tracing::info!("Slack takes the bot token now");
            app.readiness
                .set(BOT_PART, true, "the bot token is accepted (auth.test)");
        }
    }
}
