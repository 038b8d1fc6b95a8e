//! The Discord bot: `/tradeoff` interactions (over HTTP or the gateway, one handler), the
//! conversation in a thread with buttons, the summary card as an embed, and delivery of
//! everything through the durable outbox.
//!
//! - [`config`]: settings and secrets.
//! - [`verify`]: the Ed25519 check of the interactions endpoint.
//! - [`render`]: questions and cards in Discord's formats, within Discord's limits.
//! - [`handler`]: interactions and replies -> the app -> responses and queued messages.
//! - [`polls`]: team polls: the poll message, the private answering form, the summary and
//!   reminders.
//! - [`http`]: `POST /discord/interactions`.
//! - `late`: answering within 3 seconds when the work takes longer.
//! - [`gateway`]: serenity's client feeding the same handler.
//! - [`rest`]: REST calls and the outbox's sender.
//! - [`commands`]: the `/tradeoff` definition and `discord-register`.

pub mod commands;
pub mod config;
pub mod gateway;
pub mod handler;
pub mod http;
mod late;
pub mod polls;
pub mod records;
pub mod render;
pub mod rest;
pub mod sender;
pub mod shown;
pub mod verify;

pub use config::{DiscordArgs, DiscordConfig, Secret};
pub use handler::{DiscordBot, Response};
pub use late::Answer;

use crate::app::App;
use crate::outbox::{Clock, SystemClock};
use std::future::Future;
use std::sync::Arc;

/// Starts the Discord bot inside `serve`: the outbox worker (on the `background` runtime),
/// and the gateway when a token is set. Returns the bot for the HTTP endpoint. Both tasks
/// stop when `shutdown` resolves.
pub fn spawn(
    app: Arc<App>,
    config: &DiscordConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    background: &tokio::runtime::Handle,
) -> Arc<DiscordBot> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let bot = Arc::new(DiscordBot::new(app.clone(), config, clock.clone()));
    let sender = sender::DiscordSender {
        rest: bot.rest.clone(),
        app: app.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut outbox_stop = stop_rx.clone();
    background.spawn(bot.outbox.clone().run(sender, clock, async move {
        let _ = outbox_stop.wait_for(|stop| *stop).await;
    }));
    if bot.verifier.is_some() {
        app.readiness.set(
            "discord_endpoint",
            true,
            "POST /discord/interactions, checked with DISCORD_PUBLIC_KEY",
        );
    }
    if let Some(token) = config.token.clone() {
        app.readiness
            .set(gateway::PART, false, "connecting to the gateway");
        let gateway = gateway::Gateway { bot: bot.clone() };
        let api_url = config.api_url.clone();
        let message_content = config.message_content;
        let mut gateway_stop = stop_rx;
        tokio::spawn(async move {
            tokio::select! {
                result = gateway::run(gateway, token.expose(), &api_url, message_content) => {
                    let why = match result {
                        Err(e) => e,
                        Ok(()) => "the gateway connection ended".into(),
                    };
                    tracing::error!("{why}; restart serve once it is fixed");
                    app.readiness.set(gateway::PART, false, why);
                }
                _ = gateway_stop.wait_for(|stop| *stop) => {}
            }
        });
    }
    tracing::info!(
        interactions_endpoint = bot.verifier.is_some(),
        gateway = config.token.is_some(),
        message_content = config.message_content,
        "Discord is on"
    );
    bot
}
