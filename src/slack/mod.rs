//! The Slack app: `/tradeoff` in a channel, the conversation in a thread (answers by button
//! or by reply), and the summary card, over HTTP or Socket Mode.
//!
//! Read top to bottom: [`verify`] (request signatures) -> [`payload`] (Slack's JSON and
//! forms into facts) -> [`bot`] (what the bot does, through the app layer and the outbox)
//! -> [`render`] (Block Kit, escaped and within limits) -> [`api`] (the Web API calls the
//! outbox queues) -> [`sender`] (which performs them). [`polls`] are team polls; [`http`]
//! and [`socket`] are the two ways requests arrive; [`manifest`] describes the app to
//! Slack; [`config`] holds the settings.

pub mod api;
pub mod bot;
pub mod config;
pub mod http;
pub mod manifest;
pub mod payload;
pub mod polls;
pub mod render;
pub mod sender;
pub mod socket;
pub mod verify;

pub use bot::SlackBot;
pub use config::{Secret, SlackArgs, SlackConfig};

use crate::app::App;
use crate::outbox::SystemClock;
use std::sync::Arc;
use tokio::sync::watch;

/// The Slack app as `serve` runs it.
pub struct Running {
    /// The endpoints to mount, unless Socket Mode delivers the requests.
    pub http: Option<http::SlackHttp>,
    socket: Option<Arc<socket::SocketMode>>,
    bot: Arc<SlackBot>,
}

impl Running {
    /// Slack's entry for the poll scheduler ([`crate::polls::run_scheduler`]).
    pub fn scheduler_entry(
        &self,
    ) -> (
        crate::core::ids::Platform,
        Arc<dyn crate::polls::PollPresenter>,
        crate::outbox::Outbox,
    ) {
        self.bot.scheduler_entry()
    }

    /// Waits, at most `limit`, for the answers still being prepared for requests that
    /// were answered "still working". The number still unfinished.
    pub async fn finish_late_answers(&self, limit: std::time::Duration) -> usize {
        self.bot.finish_late_answers(limit).await
    }

    pub async fn shutdown(self) {
        if let Some(s) = self.socket {
            s.shutdown().await;
        }
    }
}

/// The readiness parts Slack reports.
const BOT_PART: &str = "slack";
const SOCKET_PART: &str = "slack_socket_mode";

/// A token check against Slack's Web API.
#[derive(Clone, Copy)]
enum Check {
    /// `auth.test` with the bot token.
    BotToken,
    /// `apps.connections.open` with the app-level token (Socket Mode).
    AppToken,
}

/// Why a check failed.
struct Failed {
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

    fn report(&self, app: &App) {
        let reason = self.reason();
        tracing::error!("{reason}; trying again with backoff");
        app.readiness.set(self.part(), false, reason);
    }
}

/// Asks Slack whether it takes `token`; for the bot token, the bot's own user id.
async fn ask(
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
async fn retry(
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

/// Starts the Slack app: asks Slack who the bot is, starts the outbox worker (on the
/// `background` runtime), and connects by Socket Mode when an app token is set.
/// Everything stops when `stop` turns true.
pub async fn start(
    app: Arc<App>,
    config: SlackConfig,
    stop: watch::Receiver<bool>,
    background: &tokio::runtime::Handle,
) -> Result<Running, String> {
    let client = api::client(&config.api_url);
    let token = slack_morphism::prelude::SlackApiToken::new(config.bot_token.expose().into());
    let bot_user = match ask(&client, &token, Check::BotToken).await {
        Ok(me) => {
            app.readiness
                .set(BOT_PART, true, "the bot token is accepted (auth.test)");
            me
        }
        Err(failed) => {
            failed.report(&app);
            tokio::spawn(retry(
                app.clone(),
                client.clone(),
                token.clone(),
                Check::BotToken,
                stop.clone(),
                None,
            ));
            None
        }
    };
    let bot = Arc::new(
        SlackBot::new(app.clone(), Arc::new(SystemClock), bot_user.clone())
            .with_web_api(client.clone(), config.bot_token.clone()),
    );
    let sender = sender::SlackSender::new(client.clone(), config.bot_token.expose(), app.clone())
        .with_bot_user(bot_user);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    background.spawn(
        bot.outbox
            .clone()
            .run(sender, Arc::new(SystemClock), stopped(stop.clone())),
    );
    match &config.app_token {
        Some(app_token) => {
            let socket = Arc::new(socket::SocketMode::new(
                bot.clone(),
                client.clone(),
                app_token.expose(),
            ));
            let app_token = slack_morphism::prelude::SlackApiToken::new(app_token.expose().into());
            match ask(&client, &app_token, Check::AppToken).await {
                Ok(_) => {
                    socket.start().await?;
                    app.readiness
                        .set(SOCKET_PART, true, "connected by Socket Mode");
                }
                Err(failed) => {
                    // Connected once Slack takes the token: it may have been revoked and
                    // made again, or Slack may have been unreachable.
                    failed.report(&app);
                    tokio::spawn(retry(
                        app.clone(),
                        client,
                        app_token,
                        Check::AppToken,
                        stop.clone(),
                        Some(socket.clone()),
                    ));
                }
            }
            tracing::info!(api = %config.api_url, "Slack is on, by Socket Mode");
            Ok(Running {
                http: None,
                socket: Some(socket),
                bot,
            })
        }
        None => {
            tracing::info!(api = %config.api_url, "Slack is on: POST /slack/commands, /slack/interactions, /slack/events");
            Ok(Running {
                http: Some(http::SlackHttp {
                    bot: bot.clone(),
                    signing_secret: config.signing_secret,
                }),
                socket: None,
                bot,
            })
        }
    }
}
