//! The gateway way in: serenity's client, when `DISCORD_TOKEN` is set (no public URL
//! needed). Interactions go to the same handler as the HTTP endpoint, and the answer goes
//! back through the interaction callback; thread replies arrive as MESSAGE_CREATE.
//!
//! serenity's `Context` cannot be built outside a running shard, so the event handler only
//! forwards to [`Gateway`]'s methods, which tests call with the same payloads.

use super::handler::DiscordBot;
use crate::outbox::Delivery;
use serenity::all::{ConnectionStage, GatewayIntents, Ready};
use serenity::async_trait;
use serenity::client::{Context, EventHandler};
use serenity::model::application::Interaction;
use serenity::model::channel::Message;
use std::sync::Arc;

#[derive(Clone)]
pub struct Gateway {
    pub bot: Arc<DiscordBot>,
}

impl Gateway {
    /// Handles an interaction and sends its answer (or, when the work takes longer, its
    /// deferral) to `POST /interactions/{id}/{token}/callback`: the 3 seconds count.
    pub async fn on_interaction(&self, interaction: Interaction) -> Delivery {
        let (id, token) = match &interaction {
            Interaction::Command(c) => (c.id, c.token.clone()),
            Interaction::Component(c) => (c.id, c.token.clone()),
            Interaction::Autocomplete(c) => (c.id, c.token.clone()),
            Interaction::Modal(c) => (c.id, c.token.clone()),
            // PING never comes through the gateway.
            _ => return Delivery::Refused("no callback for this interaction".into()),
        };
        let answer = self.bot.answer_interaction(interaction).await;
        let delivery = self
            .bot
            .rest
            .call(
                "POST",
                &format!("/interactions/{id}/{token}/callback"),
                Some(&answer.response.to_json()),
            )
            .await;
        // Only now may a late response edit the deferral this callback carried.
        drop(answer);
        if !matches!(delivery, Delivery::Sent(_)) {
            tracing::warn!(interaction = %id, "the interaction answer did not go through: {delivery:?}");
        }
        delivery
    }

    pub async fn on_message(&self, message: Message) {
        let bot = self.bot.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || bot.handle_message(&message)).await {
            tracing::error!("the message handler failed: {e}");
        }
    }
}

#[async_trait]
impl EventHandler for Gateway {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to the Discord gateway");
        self.bot.set_bot_user_id(ready.user.id.to_string());
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        self.on_interaction(interaction).await;
    }

    async fn message(&self, _ctx: Context, message: Message) {
        self.on_message(message).await;
    }
}

/// The intents the bot asks for: guild messages (thread replies arrive as MESSAGE_CREATE),
/// and their text when MESSAGE_CONTENT is granted in the developer portal.
pub fn intents(message_content: bool) -> GatewayIntents {
    let mut intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES;
    if message_content {
        intents |= GatewayIntents::MESSAGE_CONTENT;
    }
    intents
}

/// The readiness part of the gateway connection.
pub const PART: &str = "discord_gateway";

/// Connects and runs until the connection fails for good.
pub async fn run(
    gateway: Gateway,
    token: &str,
    api_url: &str,
    message_content: bool,
) -> Result<(), String> {
    let mut builder = serenity::http::HttpBuilder::new(token);
    if api_url != super::config::DEFAULT_API_URL {
        // serenity's rate limiter ignores the proxy (0.12.5): off with it, and 429s are
        // waited out by our own REST client and outbox.
        builder = builder.proxy(api_url).ratelimiter_disabled(true);
    }
    let bot = gateway.bot.clone();
    let mut client =
        serenity::client::ClientBuilder::new_with_http(builder.build(), intents(message_content))
            .event_handler(gateway)
            .await
            .map_err(|e| format!("cannot set up the Discord client: {e}"))?;
    let watching = tokio::spawn(watch(client.shard_manager.clone(), bot));
    let ran = client
        .start()
        .await
        .map_err(|e| format!("the Discord gateway stopped: {e}"));
    watching.abort();
    ran
}

/// Reports the shard's connection every second: the one place the gateway's readiness is
/// set while it runs. A connection serenity restarts (closed
/// by Discord, or failing to resume) has no runner until it is connected again: not
/// ready meanwhile. (While serenity resumes a session in place, its runner keeps the
/// stage it had; that shows only once the resume fails.)
async fn watch(
    manager: std::sync::Arc<serenity::gateway::ShardManager>,
    bot: std::sync::Arc<super::DiscordBot>,
) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let stage = manager
            .runners
            .lock()
            .await
            .values()
            .next()
            .map(|r| r.stage);
        let (ready, detail) = match stage {
            Some(ConnectionStage::Connected) => (true, "connected to the gateway".to_owned()),
            Some(stage) => (
                false,
                format!("the gateway connection is {stage:?}").to_lowercase(),
            ),
            None => (false, "reconnecting to the gateway".to_owned()),
        };
        bot.app.readiness.set(PART, ready, detail);
    }
}
