//! The HTTP app: one function builds the whole router, so tests can drive it without a
//! socket (`router(state).oneshot(request)`) or bind it to port 0 for real traffic.

use crate::app::App;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<App>,
    /// Set when Slack is configured for HTTP delivery: adds the `/slack/*` endpoints.
    pub slack: Option<crate::slack::http::SlackHttp>,
    /// Set when Discord's interactions endpoint is configured.
    pub discord: Option<Arc<crate::discord::DiscordBot>>,
}

pub fn router(state: HttpState) -> Router {
    let mut router = Router::new().route("/healthz", get(healthz));
    if let Some(slack) = state.slack.clone() {
        router = router.merge(crate::slack::http::routes(slack));
    }
    let discord = state.discord.clone();
    let mut router = router.with_state(state);
    if let Some(bot) = discord {
        router = router.merge(crate::discord::http::routes(bot));
    }
    router
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<HttpState>,
) -> Json<serde_json::Value> {
    let packs: Vec<String> = state
        .app
        .catalog
        .list()
        .iter()
        .map(|(p, v)| format!("{}@{v}", p.id))
        .collect();
    Json(serde_json::json!({ "status": "ok", "packs": packs }))
}
