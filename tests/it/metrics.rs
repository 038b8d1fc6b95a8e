//! The metrics of the real `tradeoff serve` (`--metrics-addr`, a listener of its own) after
//! a scripted decision on Slack against the stand-in Web API: each counter moved by what
//! the script did, and no label holds a user id, a channel, a team, or text.

use crate::common;
use crate::slack_support::*;
use std::collections::BTreeMap;

/// The samples of a Prometheus text page: `name{labels}` -> value.
fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, port: u16) -> String {
    http.get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_decision_and_name_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    let (addr, metrics_port) = (
        format!("127.0.0.1:{}", common::free_port()),
        common::free_port(),
    );
    let mut child = common::serve_command(dir.path(), &addr)
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", stand_in.api_url())
        .env("TRADEOFF_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .spawn()
        .unwrap();
    let logs = common::lines(child.stderr.take().unwrap());
    tokio::task::block_in_place(|| common::wait_for(&logs, "listening"));
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let now = || TestClock::system().secs();
    let user = "U0METRICS";

    let start = signed(
        &http,
        &url("/slack/commands"),
        now(),
        FORM,
        command_form("start", user),
        &[],
    );
    assert_eq!(start.send().await.unwrap().status(), 200);
    // A forged request: signed with another secret.
    let forged = http
        .post(url("/slack/commands"))
        .header("content-type", FORM)
        .header("x-slack-request-timestamp", now().to_string())
        .header("x-slack-signature", format!("v0={}", "0".repeat(64)))
        .body(command_form("start", user));
    assert_eq!(forged.send().await.unwrap().status(), 401);

    // Answer every question with its first choice, until the card is posted.
    let mut clicks = 0;
    let card = loop {
        let posted = stand_in.accepted();
        if let Some(card) = posted
            .iter()
            .find(|c| c.method == "chat.postMessage" && c.body["reply_broadcast"] == true)
        {
            break card.clone();
        }
        let asked: Vec<Call> = posted
            .into_iter()
            .filter(|c| c.method == "chat.postMessage" && !buttons(c).is_empty())
            .collect();
        if asked.len() > clicks {
            let question = asked.last().unwrap();
            let choice = buttons(question)
                .into_iter()
                .find(|(_, action, _)| action.starts_with("choice|"))
                .unwrap();
            clicks += 1;
            let payload = click(
                question,
                &choice,
                user,
                &format!("1700000{clicks:03}.000200"),
            );
            let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
            let r = signed(
                &http,
                &url("/slack/interactions"),
                now(),
                FORM,
                body.into_bytes(),
                &[],
            );
            assert_eq!(r.send().await.unwrap().status(), 200);
        }
        assert!(clicks < 30, "the decision does not end");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(card.body["text"].is_string());

    // Once everything queued is delivered, the counters are final.
    let mut page = String::new();
    for _ in 0..250 {
        page = scrape(&http, metrics_port).await;
        let s = samples(&page);
        let sent = s
            .get(r#"tradeoff_deliveries_total{platform="slack",outcome="sent"}"#)
            .copied()
            .unwrap_or(0.0);
        if s.get(r#"tradeoff_outbox_depth{platform="slack"}"#) == Some(&0.0)
            && sent as usize == chat_calls(&stand_in)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let s = samples(&page);
    let get = |key: &str| {
        s.get(key)
            .copied()
            .unwrap_or_else(|| panic!("no {key} in {page}"))
    };
    assert_eq!(
        get(r#"tradeoff_http_requests_total{endpoint="/slack/commands",status="200"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tradeoff_http_requests_total{endpoint="/slack/commands",status="401"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tradeoff_http_requests_total{endpoint="/slack/interactions",status="200"}"#),
        clicks as f64
    );
    assert_eq!(
        get(r#"tradeoff_signatures_refused_total{platform="slack"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tradeoff_decisions_started_total{platform="slack"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tradeoff_decisions_finished_total{platform="slack"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tradeoff_deliveries_total{platform="slack",outcome="sent"}"#),
        chat_calls(&stand_in) as f64
    );
    assert_eq!(get(r#"tradeoff_outbox_depth{platform="slack"}"#), 0.0);
    assert_eq!(
        get(r#"tradeoff_outbox_oldest_seconds{platform="slack"}"#),
        0.0
    );
    assert!(get("tradeoff_store_write_seconds_count") >= clicks as f64);
    assert_eq!(
        get(r#"tradeoff_http_answer_seconds_count{endpoint="/slack/commands"}"#),
        2.0
    );
    assert_eq!(get("tradeoff_polls_open"), 0.0);

    // Every label value is one of a few fixed words or numbers: never an id or text.
    let fixed = [
        "/healthz",
        "/slack/commands",
        "/slack/interactions",
        "/slack/events",
        "/discord/interactions",
        "other",
        "slack",
        "discord",
        "sent",
        "retried",
        "refused",
        "+Inf",
    ];
    for key in s.keys() {
        let Some((_, labels)) = key.split_once('{') else {
            continue;
        };
        for pair in labels.trim_end_matches('}').split(',') {
            let value = pair.split_once('=').unwrap().1.trim_matches('"');
            assert!(
                fixed.contains(&value) || value.parse::<f64>().is_ok(),
                "a label holds {value:?}: {key}"
            );
        }
    }
    for id in [user, "T0001", "C2147483705"] {
        assert!(!page.contains(id), "{id} in {page}");
    }
    common::stop(&mut child, "-TERM");
}

/// The messages the stand-in took from the outbox (`auth.test` is asked directly).
/// Messages delivered: chat calls, and uploads completed (the chart, three calls in all).
fn chat_calls(stand_in: &StandIn) -> usize {
    stand_in
        .accepted()
        .iter()
        .filter(|c| c.method.starts_with("chat.") || c.method == "files.completeUploadExternal")
        .count()
}
