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
pub mod records;
pub mod render;
pub mod sender;
pub mod socket;
mod tokens;
pub mod verify;

pub use bot::SlackBot;
pub use config::{Secret, SlackArgs, SlackConfig};

use crate::app::App;
use crate::outbox::SystemClock;
use std::sync::Arc;
use tokens::{Check, BOT_PART, SOCKET_PART};
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
    let bot_user = match tokens::ask(&client, &token, Check::BotToken).await {
        Ok(me) => {
            app.readiness
                .set(BOT_PART, true, "the bot token is accepted (auth.test)");
            me
        }
        Err(failed) => {
            failed.report(&app);
            tokio::spawn(tokens::retry(
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
            match tokens::ask(&client, &app_token, Check::AppToken).await {
                Ok(_) => {
                    socket.start().await?;
                    app.readiness
                        .set(SOCKET_PART, true, "connected by Socket Mode");
                }
                Err(failed) => {
                    // Connected once Slack takes the token: it may have been revoked and
                    // made again, or Slack may have been unreachable.
                    failed.report(&app);
                    tokio::spawn(tokens::retry(
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
