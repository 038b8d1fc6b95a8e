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

impl Scripted {
    /// Answers the first sends with a 429 each, asking to wait these many milliseconds;
    /// then every send succeeds.
    fn rate_limited(waits: &[i64]) -> Self {
        let answers = waits
            .iter()
            .map(|wait| Delivery::Retry {
                after_ms: Some(*wait),
                error: "429".into(),
            })
            .collect();
        Scripted {
            answers: Mutex::new(answers),
            ..Scripted::default()
        }
    }
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

/// Lane "a" with messages `ns`, and after a's message `after`, message `n` of `lane`, for
/// each `(after, lane, n)` of `others`.
fn lane_a_with(ns: std::ops::Range<u32>, others: &[(u32, &str, u32)]) -> Vec<NewOutbox> {
    let mut items = Vec::new();
    for n in ns {
        items.push(msg("a", n, None, json!(null)));
        for (_, lane, m) in others.iter().filter(|(after, _, _)| *after == n) {
            items.push(msg(lane, *m, None, json!(null)));
        }
    }
    items
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
    let sender = Scripted::rate_limited(&[5000]);
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

/// A lane waiting on a rate limit with more queued than the worker holds at once does not
/// hold up lanes queued after it; every lane still goes out in order.
#[tokio::test]
async fn a_long_waiting_lane_does_not_hold_up_the_lanes_queued_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    // Lane a: 3000 messages (more than the 1,024 held at once). Lane b has one inside the
    // first window and one past it; lane c starts past it, twice, far apart.
    let items = lane_a_with(
        100..3100,
        &[
            (500, "b", 1),
            (2000, "b", 2),
            (2500, "c", 3),
            (2999, "c", 4),
        ],
    );
    queue(store.as_ref(), items);
    let sender = Scripted::rate_limited(&[30_000]);
    let clock = TestClock(AtomicI64::new(1_000));
    let outbox = Outbox::new(store.clone(), Platform::Slack);

    let pass = outbox.pass(&sender, &clock).await;
    assert_eq!(
        sent_ns(&sender),
        [100, 1, 2, 3, 4],
        "lane a waits; b and c go on, each in order"
    );
    assert_eq!((pass.sent, pass.retried), (4, 1));
    assert_eq!(pass.next_due_ms, Some(31_000));

    clock.0.store(31_000, Ordering::SeqCst);
    let pass = outbox.pass(&sender, &clock).await;
    assert_eq!(pass.sent, 3000);
    let sent = sent_ns(&sender);
    let a: Vec<u64> = sent[5..].to_vec();
    assert_eq!(
        a,
        (100..3100).collect::<Vec<u64>>(),
        "lane a in order, once"
    );
    assert!(store.outbox_pending(Platform::Slack).unwrap().is_empty());
}

/// Looking past a full window never takes a lane out of order: a lane with an entry held in
/// the window (here waiting on its own retry) keeps its later entries until their turn.
#[tokio::test]
async fn looking_past_the_window_keeps_every_lane_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let items = lane_a_with(100..1600, &[(300, "d", 1), (1400, "d", 2), (1500, "d", 3)]);
    queue(store.as_ref(), items);
    let sender = Scripted::rate_limited(&[30_000, 10_000]);
    let clock = TestClock(AtomicI64::new(1_000));
    let outbox = Outbox::new(store.clone(), Platform::Slack);

    outbox.pass(&sender, &clock).await;
    assert_eq!(sent_ns(&sender), [100, 1], "both lanes wait");
    // Queued later, past everything looked through so far.
    queue(store.as_ref(), vec![msg("d", 4, None, json!(null))]);
    clock.0.store(11_000, Ordering::SeqCst);
    outbox.pass(&sender, &clock).await;
    assert_eq!(
        sent_ns(&sender),
        [100, 1, 1],
        "d's first goes; its later ones, past the window, wait for their turn"
    );
    clock.0.store(31_000, Ordering::SeqCst);
    outbox.pass(&sender, &clock).await;
    let sent = sent_ns(&sender);
    let d: Vec<u64> = sent.iter().copied().filter(|n| *n < 100).collect();
    assert_eq!(d, [1, 1, 2, 3, 4], "lane d in order, d1 retried once");
    assert_eq!(sent.len(), 3 + 1500 + 3);
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
