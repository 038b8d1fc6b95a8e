//! The outbox: messages queued with a state change go out in order per lane, wait out
//! Retry-After, survive a restart, fill in refs from earlier deliveries, and set aside what
//! the platform refuses for good.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tradeoff::core::ids::Platform;
use tradeoff::outbox::{ref_placeholder, Clock, Delivery, Outbox, Sender};
use tradeoff::store::{Batch, NewOutbox, SledStore, Store};

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A sender that answers from a script and records what it was asked to send.
#[derive(Default)]
struct Scripted {
    answers: Mutex<Vec<Delivery>>,
    sent: Mutex<Vec<Value>>,
}

impl Sender for Scripted {
    async fn send(&self, op: &Value) -> Delivery {
        self.sent.lock().unwrap().push(op.clone());
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            Delivery::Sent(Some(format!("id-{}", op["n"])))
        } else {
            answers.remove(0)
        }
    }
}

fn msg(lane: &str, n: u32, produces: Option<&str>, extra: Value) -> NewOutbox {
    NewOutbox {
        platform: Platform::Slack,
        lane: lane.into(),
        op: json!({ "n": n, "extra": extra }).into(),
        produces: produces.map(str::to_owned),
    }
}

fn queue(store: &dyn Store, items: Vec<NewOutbox>) {
    store
        .commit(Batch {
            outbox: items,
            ..Batch::default()
        })
        .unwrap();
}

fn sent_ns(s: &Scripted) -> Vec<u64> {
    s.sent
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["n"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_retry_holds_back_its_lane_only_and_honours_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    queue(
        store.as_ref(),
        vec![
            msg("a", 1, None, json!(null)),
            msg("a", 2, None, json!(null)),
            msg("b", 3, None, json!(null)),
        ],
    );
    let sender = Scripted::default();
    sender.answers.lock().unwrap().push(Delivery::Retry {
        after_ms: Some(5000),
        error: "429".into(),
    });
    let clock = TestClock(AtomicI64::new(1_000));
    let outbox = Outbox::new(store.clone(), Platform::Slack);

    let pass = outbox.pass(&sender, &clock).await;
    assert_eq!((pass.sent, pass.retried), (1, 1));
    assert_eq!(pass.next_due_ms, Some(6_000));
    assert_eq!(sent_ns(&sender), [1, 3], "lane a waits; lane b goes on");

    clock.0.store(5_999, Ordering::SeqCst);
    assert_eq!(
        outbox.pass(&sender, &clock).await.sent,
        0,
        "not before Retry-After"
    );
    clock.0.store(6_000, Ordering::SeqCst);
    assert_eq!(outbox.pass(&sender, &clock).await.sent, 2);
    assert_eq!(
        sent_ns(&sender),
        [1, 3, 1, 2],
        "each message delivered once, in order"
    );
    assert!(store.outbox_pending(Platform::Slack).unwrap().is_empty());
}

#[tokio::test]
async fn queued_messages_survive_a_restart_and_go_out_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        queue(&store, vec![msg("a", 1, None, json!(null))]);
        // The process dies before the worker runs.
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let sender = Scripted::default();
    let clock = TestClock(AtomicI64::new(0));
    let outbox = Outbox::new(store.clone(), Platform::Slack);
    outbox.pass(&sender, &clock).await;
    outbox.pass(&sender, &clock).await;
    assert_eq!(sent_ns(&sender), [1]);
}

#[tokio::test]
async fn refs_from_earlier_deliveries_are_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    queue(
        store.as_ref(),
        vec![
            msg("t", 1, Some("parent"), json!(null)),
            msg(
                "t",
                2,
                None,
                json!({ "thread_ts": ref_placeholder("parent"), "text": format!("in {}", ref_placeholder("parent")) }),
            ),
        ],
    );
    let sender = Scripted::default();
    Outbox::new(store.clone(), Platform::Slack)
        .pass(&sender, &TestClock(AtomicI64::new(0)))
        .await;
    let sent = sender.sent.lock().unwrap();
    assert_eq!(sent[1]["extra"]["thread_ts"], "id-1");
    assert_eq!(sent[1]["extra"]["text"], "in id-1");
    assert_eq!(store.get_ref("parent").unwrap().as_deref(), Some("id-1"));
}

#[tokio::test]
async fn refused_messages_are_set_aside_and_their_dependants_too() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    queue(
        store.as_ref(),
        vec![
            msg("t", 1, Some("p"), json!(null)),
            msg("t", 2, None, json!({ "thread_ts": ref_placeholder("p") })),
            msg("u", 3, None, json!(null)),
        ],
    );
    let sender = Scripted::default();
    sender
        .answers
        .lock()
        .unwrap()
        .push(Delivery::Refused("channel_not_found".into()));
    let pass = Outbox::new(store.clone(), Platform::Slack)
        .pass(&sender, &TestClock(AtomicI64::new(0)))
        .await;
    assert_eq!((pass.sent, pass.refused), (1, 2));
    let dead = store.outbox_dead_letters().unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].1, "channel_not_found");
    assert!(dead[1].1.contains("ref p"), "{}", dead[1].1);
    assert!(store.outbox_pending(Platform::Slack).unwrap().is_empty());
}

#[tokio::test]
async fn platforms_have_separate_queues() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut discord = msg("d", 9, None, json!(null));
    discord.platform = Platform::Discord;
    queue(
        store.as_ref(),
        vec![msg("s", 1, None, json!(null)), discord],
    );
    let sender = Scripted::default();
    Outbox::new(store.clone(), Platform::Slack)
        .pass(&sender, &TestClock(AtomicI64::new(0)))
        .await;
    assert_eq!(sent_ns(&sender), [1]);
    assert_eq!(store.outbox_pending(Platform::Discord).unwrap().len(), 1);
}
