//! The real `tradeoff serve` process with Slack turned on, against the stand-in Web API on
//! loopback: a start it acknowledged while Slack was down survives the process being
//! killed, or stopped, and its messages arrive once, in order, when the process is back.

use crate::common;

use crate::slack_support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::Receiver;

/// `tradeoff serve` with its store in `dir`, Slack's Web API at `stand_in`.
struct Serve {
    child: Child,
    url: String,
    logs: Receiver<String>,
}

impl Serve {
    fn start(dir: &Path, stand_in: &StandIn) -> Serve {
        let (child, url, logs) = tokio::task::block_in_place(|| {
            common::serve_slack(dir, &stand_in.api_url(), SECRET, BOT_TOKEN)
        });
        Serve { child, url, logs }
    }

    /// `/tradeoff start` from U1, signed at the system's time; returns the acknowledgement.
    async fn start_command(&self) -> Value {
        let http = reqwest::Client::new();
        let url = format!("{}/slack/commands", self.url);
        let r = signed(
            &http,
            &url,
            TestClock::system().secs(),
            FORM,
            command_form("start", "U1"),
            &[],
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Sends `signal` and waits (up to 30 s) for the process to end; returns whether it
    /// ended with success, and its log.
    fn stop(mut self, signal: &str) -> (bool, String) {
        let status = common::stop(&mut self.child, signal);
        let log: Vec<String> = self.logs.try_iter().collect();
        (status.success(), log.join("\n"))
    }
}

/// Starts a decision while chat.postMessage answers 503, ends the process with `signal`
/// once the bot has tried to post, brings Slack back, starts the process again on the same
/// store, and checks that the start's two messages arrived once each, in order.
async fn acknowledged_while_down_arrives_once_after(signal: &str, exits_cleanly: bool) {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    stand_in.set_outage("chat.postMessage", Some(Outage::Unavailable));

    let first = Serve::start(dir.path(), &stand_in);
    let ack = first.start_command().await;
    assert_eq!(ack["response_type"], "ephemeral", "{ack}");
    common::until("the bot tried to post, and Slack refused", || {
        stand_in
            .calls_of("chat.postMessage")
            .iter()
            .any(|c| c.status == 503)
    })
    .await;
    let (success, log) = tokio::task::block_in_place(|| first.stop(signal));
    assert_eq!(success, exits_cleanly, "after {signal}: {log}");
    assert!(stand_in.accepted().is_empty(), "nothing got through yet");

    stand_in.set_outage("chat.postMessage", None);
    let second = Serve::start(dir.path(), &stand_in);
    common::until("both messages of the start were posted", || {
        stand_in.accepted().len() >= 2
    })
    .await;
    let (success, log) = tokio::task::block_in_place(|| second.stop("-TERM"));
    assert!(success, "{log}");

    let posted = stand_in.accepted();
    assert_eq!(posted.len(), 2, "each message once: {posted:#?}");
    let (parent, question) = (&posted[0], &posted[1]);
    assert_eq!(parent.method, "chat.postMessage");
    assert!(
        parent.body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("<@U1>"),
        "the parent names who started: {}",
        parent.body
    );
    assert_eq!(question.method, "chat.postMessage");
    assert_eq!(
        question.body["thread_ts"].as_str(),
        parent.ts.as_deref(),
        "the first question is in the parent's thread"
    );
    assert!(!buttons(question).is_empty(), "{}", question.body);
    for call in stand_in.calls() {
        assert_eq!(call.authorization, format!("Bearer {BOT_TOKEN}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_acknowledged_while_slack_is_down_survives_a_kill() {
    acknowledged_while_down_arrives_once_after("-KILL", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_slack_is_down_keeps_the_messages_for_the_next_start() {
    acknowledged_while_down_arrives_once_after("-TERM", true).await;
}
