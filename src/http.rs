//! The HTTP app: one function builds the whole router, so tests can drive it without a
//! socket (`router(state).oneshot(request)`) or bind it to port 0 for real traffic; and
//! [`serve`], which serves it with every connection and every body bounded in time.

use crate::app::App;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;

/// How long a connection may take to deliver a request's headers, counted from when it
/// opens or from the end of the previous response. hyper's header timer also runs while a
/// kept-alive connection waits for its next request, so this is the idle timeout as well:
/// a connection that sends half a header, or nothing at all, is closed after it.
///
/// Slack and Discord send a request's headers in one go and give up on an answer after
/// 3 s, so a client still sending headers after 10 s is not one of them. It is not
/// shorter because a proxy that keeps connections to us reuses one just as we close it
/// now and then (its request then fails); the longer connections may stay idle, the
/// rarer that is.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the rest of a request may take to arrive once its headers are in: a body
/// slower than that is answered 408 and its connection closed. The platforms' bodies are
/// a few kilobytes, sent at once, and their answer is due within 3 s.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

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
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if let Some(slack) = state.slack.clone() {
        router = router.merge(bounded(
            crate::slack::http::routes(slack),
            crate::slack::http::MAX_BODY,
        ));
    }
    let discord = state.discord.clone();
    let mut router = router.with_state(state);
    if let Some(bot) = discord {
        router = router.merge(bounded(
            crate::discord::http::routes(bot),
            crate::discord::http::MAX_BODY,
        ));
    }
    catching_panics(router).layer(axum::middleware::from_fn(measured))
}

/// The endpoints the metrics name; any other path is "other", so a label never holds
/// what a client put in a URL.
const ENDPOINTS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/slack/commands",
    "/slack/interactions",
    "/slack/events",
    "/discord/interactions",
];

/// Counts each request by endpoint and status, and how long its answer took.
async fn measured(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let endpoint = ENDPOINTS
        .iter()
        .find(|e| **e == path)
        .copied()
        .unwrap_or("other");
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    crate::telemetry::request(endpoint, response.status().as_u16(), started.elapsed());
    response
}

/// `router`, answering a request whose handler panicked with a 500 and logging why, where
/// the connection would otherwise be dropped without an answer (and the platform would
/// show its own error, and retry).
pub fn catching_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |panic: Box<dyn std::any::Any + Send + 'static>| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            let error = crate::app::InternalError::new("a request's handler panicked", why);
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error {}", error.id),
            )
                .into_response()
        },
    ))
}

/// `routes` with their bodies bounded: a request whose `Content-Length` declares more than
/// `limit` bytes is answered 413 before any of its body is read; a body without a length
/// is cut off at `limit` (413 too); and a body must be in whole within
/// [`BODY_READ_TIMEOUT`] (else 408).
fn bounded<S: Clone + Send + Sync + 'static>(routes: Router<S>, limit: usize) -> Router<S> {
    routes
        .layer(axum::middleware::from_fn(read_body))
        .layer(RequestBodyLimitLayer::new(limit))
}

/// Reads the whole body before the handler runs, so that the time it takes to arrive is
/// bounded as a whole: the gap between two of its bytes is not what matters.
async fn read_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // Axum's extractor answers a body over the limit with 413 and a broken one with 400.
    let read = Bytes::from_request(Request::new(body), &());
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(rejection)) => {
            tracing::warn!(path = %parts.uri.path(), "request body refused: {rejection}");
            rejection.into_response()
        }
        Err(_) => {
            tracing::warn!(
                path = %parts.uri.path(),
                "request body not in within {BODY_READ_TIMEOUT:?}: answered 408"
            );
            (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                "the request body did not arrive in time",
            )
                .into_response()
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets
/// each connection finish the request it is answering (idle ones close at once), and
/// returns when every connection has closed.
///
/// HTTP/1.1 only: Slack and Discord (and the proxies in front of us) speak it, and hyper's
/// header timeout, which bounds both slow and idle connections, exists for HTTP/1 alone.
/// A connection opening with HTTP/2's preface is closed.
pub async fn serve(
    mut listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // axum's accept waits out errors such as running out of file descriptors.
        let (stream, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that went away, sent no valid request, or ran out of time: its
            // connection is closed, and there is no one to tell.
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection closed: {e}");
            }
        });
    }
    drop(listener);
    tracing::debug!("waiting for {} connection(s) to finish", graceful.count());
    graceful.shutdown().await;
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

/// How long `/readyz` waits for the store to answer a read.
const STORE_ANSWERS_WITHIN: Duration = Duration::from_secs(1);
/// A queued message that has waited longer than this makes the outbox not ready.
const OUTBOX_STUCK_AFTER: Duration = Duration::from_secs(15 * 60);

/// Readiness: `200 {"status":"ready","parts":{...}}`, or `503` with `"not ready"` and the
/// reason in each part that is not. The store must answer a read within a second (a read
/// waits for a flush in progress, so a stalled disk shows here, and a store stopped by a
/// failed flush refuses it); the outbox must have nothing that has waited 15 minutes; the
/// platforms report their own parts (tokens accepted, connections up).
async fn readyz(axum::extract::State(state): axum::extract::State<HttpState>) -> Response {
    let mut parts = state.app.readiness.parts();
    let store = state.app.store.clone();
    let probe = tokio::task::spawn_blocking(move || store.outbox_oldest());
    let part = |ready: bool, detail: String| crate::readiness::Part { ready, detail };
    match tokio::time::timeout(STORE_ANSWERS_WITHIN, probe).await {
        Ok(Ok(Ok(oldest))) => {
            parts.insert("store", part(true, "answers reads".into()));
            let now_ms = crate::outbox::Clock::now_ms(&crate::outbox::SystemClock);
            let outbox = match oldest {
                None => part(true, "nothing queued".into()),
                Some(entry) if entry.queued_ms == 0 => part(
                    true,
                    "messages are queued (by an earlier release, which did not record when)".into(),
                ),
                Some(entry) => {
                    let waited = Duration::from_millis((now_ms - entry.queued_ms).max(0) as u64);
                    let stuck = waited > OUTBOX_STUCK_AFTER;
                    let mut detail = format!(
                        "the oldest queued message ({}) has waited {} s",
                        entry.message.platform,
                        waited.as_secs()
                    );
                    if stuck {
                        detail.push_str(" (the log says why its deliveries fail)");
                    }
                    part(!stuck, detail)
                }
            };
            parts.insert("outbox", outbox);
        }
        Ok(Ok(Err(e))) => {
            parts.insert("store", part(false, e.to_string()));
        }
        Ok(Err(e)) => {
            parts.insert("store", part(false, format!("the read failed: {e}")));
        }
        Err(_) => {
            parts.insert(
                "store",
                part(
                    false,
                    format!(
                        "did not answer a read within {} s: the disk may be stalled",
                        STORE_ANSWERS_WITHIN.as_secs()
                    ),
                ),
            );
        }
    }
    let ready = parts.values().all(|p| p.ready);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "parts": parts,
    });
    (status, Json(body)).into_response()
}
