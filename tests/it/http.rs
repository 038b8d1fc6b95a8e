//! The HTTP app: built by one function, driven without a socket and on a real one.

use crate::common;

use axum::body::Body;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;
use tradeoff::http::{router, HttpState};

fn state(dir: &std::path::Path) -> HttpState {
    HttpState {
        app: Arc::new(common::app_in(dir, &common::root())),
        slack: None,
        discord: None,
    }
}

#[tokio::test]
async fn healthz_answers_without_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let response = router(state(dir.path()))
        .oneshot(
            axum::http::Request::get("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["packs"][0], "node-vs-python@1");
}

#[tokio::test]
async fn healthz_answers_on_a_real_socket_and_unknown_paths_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state(dir.path()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let missing = client
        .get(format!("http://{addr}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// A handler that panics is answered 500, with the id of the logged error, rather than
/// with a dropped connection; and the routes around it keep answering.
#[tokio::test]
async fn a_panicking_handler_is_answered_500() {
    async fn boom() -> &'static str {
        panic!("a handler's bug")
    }
    let app = tradeoff::http::catching_panics(
        axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .route("/fine", axum::routing::get(|| async { "fine" })),
    );
    let get = |path: &str| {
        axum::http::Request::builder()
            .uri(path)
            .body(Body::empty())
            .unwrap()
    };
    let answer = app.clone().oneshot(get("/boom")).await.unwrap();
    assert_eq!(answer.status(), 500);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"internal error E"), "{body:?}");
    let fine = app.oneshot(get("/fine")).await.unwrap();
    assert_eq!(fine.status(), 200);
}
