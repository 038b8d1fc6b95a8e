//! Slack's HTTP endpoints: `POST /slack/commands`, `/slack/interactions` and
//! `/slack/events`. Each checks the request's signature against the raw body first (401
//! when it fails, and nothing is processed), caps the body at 1 MiB (413), answers
//! malformed payloads with 400, and otherwise hands the parsed payload to the [`SlackBot`].
//! [`crate::http::router`] serves these routes with their bodies bounded: a larger declared
//! length is refused before the body is read, and a body must arrive in time.

use super::bot::SlackBot;
use super::config::Secret;
use super::payload::{self, PayloadError};
use super::verify::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::app::AppError;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Slack's payloads are small; anything bigger is refused (413), before it is read when its
/// `Content-Length` says so.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the endpoints share.
#[derive(Clone)]
pub struct SlackHttp {
    pub bot: Arc<SlackBot>,
    pub signing_secret: Secret,
}

/// The Slack routes, ready to merge into the server's router.
pub fn routes<S: Clone + Send + Sync + 'static>(state: SlackHttp) -> Router<S> {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Why a request was not processed, as the status Slack gets.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("signature: {0}")]
    Unsigned(#[from] verify::VerifyError),
    #[error(transparent)]
    Malformed(#[from] PayloadError),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = match &self {
            Rejection::Unsigned(_) => {
                crate::telemetry::signature_refused(crate::core::ids::Platform::Slack);
                StatusCode::UNAUTHORIZED
            }
            Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            Rejection::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        tracing::warn!(%status, "slack request rejected: {self}");
        (status, status.canonical_reason().unwrap_or("")).into_response()
    }
}

impl From<AppError> for Rejection {
    fn from(e: AppError) -> Self {
        Rejection::Internal(e.to_string())
    }
}

fn check(state: &SlackHttp, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify::verify(
        state.signing_secret.expose(),
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        body,
        state.bot.now(),
    )?;
    Ok(())
}

async fn commands(
    State(state): State<SlackHttp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, Rejection> {
    check(&state, &headers, &body)?;
    let cmd = payload::parse_command(&body)?;
    Ok(Json(state.bot.answer_command(cmd).await))
}

/// A modal's submission is answered with an empty 200 (the modal closes) or with its
/// errors as JSON; every other interaction with an empty 200.
async fn interactions(
    State(state): State<SlackHttp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    check(&state, &headers, &body)?;
    let event = payload::parse_interaction_form(&body)?;
    // A click without its user or its channel is the sender's error: refused here, before
    // anything is stored or posted, rather than failing later as an internal error.
    payload::actions(&event)?;
    Ok(match state.bot.answer_interaction(event).await? {
        Some(reply) => Json(reply).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

async fn events(
    State(state): State<SlackHttp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Rejection> {
    check(&state, &headers, &body)?;
    match payload::parse_event(&body)? {
        SlackPushEvent::UrlVerification(v) => {
            Ok(Json(serde_json::json!({ "challenge": v.challenge })).into_response())
        }
        SlackPushEvent::EventCallback(ev) => {
            if let Some(retry) = headers.get("x-slack-retry-num") {
                tracing::info!(event_id = %ev.event_id, ?retry, "event redelivered by Slack");
            }
            state.bot.answer_event(ev).await?;
            Ok(StatusCode::OK.into_response())
        }
        SlackPushEvent::AppRateLimited(_) => Ok(StatusCode::OK.into_response()),
    }
}
