//! `POST /discord/interactions`: Discord's HTTP way in. The body is read whole (at most
//! 1 MiB, else 413: at once when its `Content-Length` says more, as
//! [`crate::http::router`] serves it), its signature and age checked (401), parsed (400),
//! and handed to the same handler the gateway uses; its answer is the HTTP response.

use super::handler::{DiscordBot, Response};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serenity::model::application::Interaction;
use std::sync::Arc;

/// Larger bodies are refused with 413; one whose `Content-Length` says so, before any of it
/// is read.
pub const MAX_BODY: usize = 1 << 20;

/// The Discord routes, present when a public key is configured.
pub fn routes(bot: Arc<DiscordBot>) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(bot)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn interactions(
    State(bot): State<Arc<DiscordBot>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let Some(verifier) = &bot.verifier else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(why) = verifier.verify(
        header(&headers, "x-signature-ed25519"),
        header(&headers, "x-signature-timestamp"),
        &body,
        bot.now(),
    ) {
        tracing::warn!("refused a Discord interaction: {why}");
        crate::telemetry::signature_refused(crate::core::ids::Platform::Discord);
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "malformed JSON").into_response(),
    };
    // PING needs no model: answer it even if serenity's shape for it ever changes.
    if value.get("type").and_then(serde_json::Value::as_u64) == Some(1) {
        return Json(Response::Pong.to_json()).into_response();
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("an interaction did not parse: {e}");
            return (StatusCode::BAD_REQUEST, "malformed interaction").into_response();
        }
    };
    // Off the async workers (the handler writes to the store), answered within 3 s. A
    // late response is released when `answer` is dropped here, as this response goes out.
    let answer = bot.answer_interaction(interaction).await;
    Json(answer.response.to_json()).into_response()
}
