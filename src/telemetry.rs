//! Prometheus metrics: every measure the service keeps is named here, once. They are
//! recorded through the `metrics` facade, which keeps nothing until [`install`] has set up
//! the Prometheus exporter (`serve --metrics-addr`, on a listener of its own, never the
//! public address). No label holds user data or ids: endpoints are route templates,
//! platforms and outcomes are fixed words.

use crate::core::ids::Platform;
use std::net::SocketAddr;
use std::time::Duration;

/// Starts recording, and serves the metrics at `http://{addr}/metrics` (any path answers
/// them). Call within the Tokio runtime, before anything is recorded.
pub fn install(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(&[
            0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0,
        ])
        .map_err(|e| e.to_string())?
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
    describe();
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(REQUESTS, "HTTP requests answered, by endpoint and status");
    describe_histogram!(
        ACK_SECONDS,
        Unit::Seconds,
        "time to answer an HTTP request, by endpoint"
    );
    describe_counter!(
        SIGNATURES_REFUSED,
        "requests refused for a missing, stale or wrong signature"
    );
    describe_histogram!(
        STORE_WRITE_SECONDS,
        Unit::Seconds,
        "time for a write to be durable in the store"
    );
    describe_gauge!(OUTBOX_DEPTH, "messages queued and not yet delivered");
    describe_gauge!(
        OUTBOX_OLDEST_SECONDS,
        Unit::Seconds,
        "age of the oldest message still queued"
    );
    describe_counter!(DELIVERIES, "delivery attempts, by outcome");
    describe_counter!(RATE_LIMITED, "rate limits (429) a platform answered");
    describe_counter!(STARTED, "decisions started");
    describe_counter!(FINISHED, "decisions finished with a result");
    describe_gauge!(POLLS_OPEN, "team polls open");
}

const REQUESTS: &str = "tradeoff_http_requests_total";
const ACK_SECONDS: &str = "tradeoff_http_answer_seconds";
const SIGNATURES_REFUSED: &str = "tradeoff_signatures_refused_total";
const STORE_WRITE_SECONDS: &str = "tradeoff_store_write_seconds";
const OUTBOX_DEPTH: &str = "tradeoff_outbox_depth";
const OUTBOX_OLDEST_SECONDS: &str = "tradeoff_outbox_oldest_seconds";
const DELIVERIES: &str = "tradeoff_deliveries_total";
const RATE_LIMITED: &str = "tradeoff_rate_limited_total";
const STARTED: &str = "tradeoff_decisions_started_total";
const FINISHED: &str = "tradeoff_decisions_finished_total";
const POLLS_OPEN: &str = "tradeoff_polls_open";

/// One HTTP request answered: `endpoint` is the route template (`/slack/commands`), or
/// "other" for a path no route has.
pub fn request(endpoint: &'static str, status: u16, took: Duration) {
    metrics::counter!(REQUESTS, "endpoint" => endpoint, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(ACK_SECONDS, "endpoint" => endpoint).record(took.as_secs_f64());
}

pub fn signature_refused(platform: Platform) {
    metrics::counter!(SIGNATURES_REFUSED, "platform" => platform.as_str()).increment(1);
}

pub fn store_write(took: Duration) {
    metrics::histogram!(STORE_WRITE_SECONDS).record(took.as_secs_f64());
}

/// `n` messages for `platform` were queued (negative: left the queue).
pub fn outbox_moved(platform: Platform, n: f64) {
    metrics::gauge!(OUTBOX_DEPTH, "platform" => platform.as_str()).increment(n);
}

/// The oldest message `platform` still has queued is this old (0: none).
pub fn outbox_oldest(platform: Platform, age: Duration) {
    metrics::gauge!(OUTBOX_OLDEST_SECONDS, "platform" => platform.as_str()).set(age.as_secs_f64());
}

/// What one delivery attempt did: "sent", "retried" or "refused".
pub fn delivery(platform: Platform, outcome: &'static str) {
    metrics::counter!(DELIVERIES, "platform" => platform.as_str(), "outcome" => outcome)
        .increment(1);
}

pub fn rate_limited(platform: Platform) {
    metrics::counter!(RATE_LIMITED, "platform" => platform.as_str()).increment(1);
}

pub fn decision_started(platform: Platform) {
    metrics::counter!(STARTED, "platform" => platform.as_str()).increment(1);
}

pub fn decision_finished(platform: Platform) {
    metrics::counter!(FINISHED, "platform" => platform.as_str()).increment(1);
}

pub fn polls_open(n: usize) {
    metrics::gauge!(POLLS_OPEN).set(n as f64);
}
