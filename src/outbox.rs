//! Durable delivery of outgoing messages. Handlers queue messages in the store in the
//! same write as the state change they report (see [`crate::store::Batch`]) and answer
//! the platform; this worker then delivers them, in order within each lane (a thread),
//! retrying transient failures until they go through. A message queued before a crash is
//! delivered after the restart.
//!
//! Delivery is at-least-once across a crash in the moment between the platform accepting
//! a message and the store's record of it reaching the disk (about a millisecond); at all
//! other times it is exactly once.

use crate::core::ids::Platform;
use crate::store::{Batch, NewOutbox, OutboxEntry, Store, StoreError};
use crate::telemetry;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What a platform said to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted; with the id of what was created (a message `ts`, a thread id), if any.
    Sent(Option<String>),
    /// Try again later: a 429, a 5xx, a network error. `after_ms` is the platform's
    /// Retry-After where it gave one.
    Retry {
        after_ms: Option<i64>,
        error: String,
    },
    /// Refused for good (a bad request, a missing channel): retrying cannot help.
    Refused(String),
}

/// What happened, for a log line: whether it is retried is the caller's to say.
impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivery::Sent(_) => f.write_str("sent"),
            Delivery::Retry { error, .. } => f.write_str(error),
            Delivery::Refused(reason) => f.write_str(reason),
        }
    }
}

/// Performs one queued operation against a platform.
pub trait Sender: Send + Sync + 'static {
    fn send(&self, op: &Value) -> impl Future<Output = Delivery> + Send;
}

/// Milliseconds since the epoch; tests supply their own.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

const REF_OPEN: &str = "{{ref:";
const REF_CLOSE: &str = "}}";

/// The placeholder for a ref, to put in an operation's strings.
pub fn ref_placeholder(name: &str) -> String {
    format!("{REF_OPEN}{name}{REF_CLOSE}")
}

/// Why an operation's refs could not all be filled in.
#[derive(Debug)]
pub enum RefError {
    /// This ref was never set (or a placeholder is malformed): its producer was refused.
    Missing(String),
    /// The store could not be read; trying again later may work.
    Unreadable(StoreError),
}

/// Replaces every `{{ref:NAME}}` in the operation's strings, looking each name up.
pub fn resolve_refs(
    op: &Value,
    lookup: &dyn Fn(&str) -> Result<Option<String>, StoreError>,
) -> Result<Value, RefError> {
    Ok(match op {
        Value::String(s) if s.contains(REF_OPEN) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find(REF_OPEN) {
                out.push_str(&rest[..start]);
                let after = &rest[start + REF_OPEN.len()..];
                let end = after
                    .find(REF_CLOSE)
                    .ok_or_else(|| RefError::Missing(s.clone()))?;
                let name = &after[..end];
                let value = lookup(name).map_err(RefError::Unreadable)?;
                out.push_str(&value.ok_or_else(|| RefError::Missing(name.to_owned()))?);
                rest = &after[end + REF_CLOSE.len()..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_refs(v, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_refs(v, lookup)?)))
                .collect::<Result<_, RefError>>()?,
        ),
        other => other.clone(),
    })
}

/// Backoff for failures without a Retry-After: 1 s, 2 s, 4 s ... up to a minute.
pub fn backoff_ms(attempts: u32) -> i64 {
    doubling_ms(attempts, 60_000)
}

/// How long to wait after `failures` failures in a row: 1 s, doubling each time, up to
/// `cap_ms`.
pub fn doubling_ms(failures: u32, cap_ms: i64) -> i64 {
    1000_i64.saturating_mul(1 << failures.min(20)).min(cap_ms)
}

/// How many queued entries the worker holds in memory, read in id order: entries of a lane
/// come in id order, so reading the queue a window at a time keeps every lane in order.
const WINDOW: usize = 1024;
/// When every lane in a full window waits (a rate limit on a busy channel), the queue past
/// the window is looked through for lanes with nothing in it, so they are not held up: at
/// most this many entries per pass, taking entries while fewer than `2 * WINDOW` are held.
const LOOK_AHEAD: usize = 4096;

/// What one pass over the queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retried: usize,
    pub refused: usize,
    /// The earliest time a waiting entry becomes due, if any waits.
    pub next_due_ms: Option<i64>,
}

impl Pass {
    /// Something waits until `at_ms`: the next pass is due then at the latest.
    fn due_at(&mut self, at_ms: i64) {
        self.next_due_ms = Some(self.next_due_ms.map_or(at_ms, |d| d.min(at_ms)));
    }
}

/// The queue of one platform.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    platform: Platform,
    wake: Arc<Notify>,
    /// Entries read from the store and not yet delivered, by id; and the last id read.
    /// A pass reads only what was queued since the previous one, so a long backlog is not
    /// decoded again on every pass.
    queue: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    read_up_to: Option<u64>,
    pending: BTreeMap<u64, OutboxEntry>,
    /// How far past `read_up_to` the queue was looked through, if it was.
    ahead: Option<Ahead>,
}

/// What looking past the window found.
struct Ahead {
    scanned_to: u64,
    /// Lanes with an entry in the scanned stretch that was not taken: none of their later
    /// entries may be taken before the window reaches that one.
    passed_over: HashSet<String>,
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, platform: Platform) -> Self {
        Outbox {
            store,
            platform,
            wake: Arc::new(Notify::new()),
            queue: Arc::new(Mutex::new(Queue::default())),
        }
    }

    /// Tells the worker that something was queued. Cheap; call after every commit.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Queues messages on their own, with no change of state beside them (a notice, an
    /// apology, a late answer), and tells the worker. Durable when it returns.
    pub fn enqueue(&self, messages: Vec<NewOutbox>) -> Result<(), StoreError> {
        self.store.commit(Batch {
            outbox: messages,
            ..Batch::default()
        })?;
        self.notify();
        Ok(())
    }

    /// [`Outbox::enqueue`] from async code: on the blocking pool, since the commit waits
    /// for the disk. The error says what went wrong, for the caller to log with its context.
    pub async fn enqueue_off_the_runtime(&self, messages: Vec<NewOutbox>) -> Result<(), String> {
        let outbox = self.clone();
        match tokio::task::spawn_blocking(move || outbox.enqueue(messages)).await {
            Ok(queued) => queued.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the queuing task failed: {e}")),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads what was queued since the last read, keeping at most [`WINDOW`] entries in
    /// memory: a backlog stays in the store until its turn comes.
    fn refill(&self) -> Result<(), crate::store::StoreError> {
        let (after, room) = {
            let q = self.queue();
            (q.read_up_to, WINDOW.saturating_sub(q.pending.len()))
        };
        if room < WINDOW / 2 {
            return Ok(());
        }
        let fresh = self
            .store
            .outbox_pending_after(self.platform, after, room)?;
        let mut q = self.queue();
        for entry in fresh {
            q.read_up_to = Some(q.read_up_to.map_or(entry.id, |r| r.max(entry.id)));
            // One taken earlier by looking ahead is held already, perhaps with a newer
            // retry time than the store's copy.
            q.pending.entry(entry.id).or_insert(entry);
        }
        if let (Some(read), Some(ahead)) = (q.read_up_to, &q.ahead) {
            if read >= ahead.scanned_to {
                q.ahead = None;
            }
        }
        Ok(())
    }

    /// Looks through the queue past a full window, whose lanes all wait, for entries of
    /// lanes with nothing in the window: those are taken, each lane's in order. Returns
    /// how many were taken.
    fn look_ahead(&self) -> Result<usize, crate::store::StoreError> {
        let mut budget = LOOK_AHEAD;
        let mut taken = 0;
        while taken == 0 && budget > 0 {
            let (from, in_window) = {
                let q = self.queue();
                if q.pending.len() < WINDOW / 2 || q.pending.len() >= 2 * WINDOW {
                    // Not full: the window has read all there is. Or holding enough.
                    return Ok(taken);
                }
                let from = q.ahead.as_ref().map(|a| a.scanned_to).or(q.read_up_to);
                let lanes: HashSet<String> =
                    q.pending.values().map(|e| e.message.lane.clone()).collect();
                (from, lanes)
            };
            let fresh = self
                .store
                .outbox_pending_after(self.platform, from, budget.min(WINDOW))?;
            let Some(last) = fresh.last().map(|e| e.id) else {
                return Ok(taken);
            };
            budget -= fresh.len();
            let mut q = self.queue();
            let mut ahead = q.ahead.take().unwrap_or(Ahead {
                scanned_to: last,
                passed_over: HashSet::new(),
            });
            for entry in fresh {
                let lane = &entry.message.lane;
                if in_window.contains(lane) || ahead.passed_over.contains(lane) {
                    ahead.passed_over.insert(lane.clone());
                    continue;
                }
                q.pending.entry(entry.id).or_insert(entry);
                taken += 1;
            }
            ahead.scanned_to = last;
            q.ahead = Some(ahead);
        }
        Ok(taken)
    }

    /// What to deliver next: the heads of the lanes not in `blocked`, after reading what
    /// was queued since the last read, and looking past the window when all of its lanes
    /// wait. Empty when nothing more can go now.
    fn next_heads(
        &self,
        blocked: &HashSet<String>,
    ) -> Result<Vec<OutboxEntry>, crate::store::StoreError> {
        loop {
            self.refill()?;
            let heads = self.heads(blocked);
            if !heads.is_empty() || self.look_ahead()? == 0 {
                return Ok(heads);
            }
        }
    }

    /// The first entry of every lane not in `blocked`, oldest lane first.
    fn heads(&self, blocked: &HashSet<String>) -> Vec<OutboxEntry> {
        let q = self.queue();
        let mut seen: HashSet<&str> = HashSet::new();
        q.pending
            .values()
            .filter(|e| seen.insert(e.message.lane.as_str()))
            .filter(|e| !blocked.contains(&e.message.lane))
            .cloned()
            .collect()
    }

    /// Delivers everything that is due, lane by lane, each lane in order. An entry that
    /// must wait holds back the rest of its lane, never other lanes.
    pub async fn pass<S: Sender>(&self, sender: &S, clock: &dyn Clock) -> Pass {
        let mut pass = Pass::default();
        let mut blocked: HashSet<String> = HashSet::new();
        loop {
            let heads = match self.next_heads(&blocked) {
                Ok(heads) if heads.is_empty() => break,
                Ok(heads) => heads,
                Err(e) => {
                    tracing::error!(platform = %self.platform, "cannot read the outbox: {e}");
                    pass.due_at(clock.now_ms() + 1000);
                    break;
                }
            };
            for mut entry in heads {
                let lane = entry.message.lane.clone();
                let now = clock.now_ms();
                if entry.not_before_ms > now {
                    pass.due_at(entry.not_before_ms);
                    blocked.insert(lane);
                    continue;
                }
                let op = match entry.message.op.to_value() {
                    Ok(op) => op,
                    Err(e) => {
                        self.refuse(
                            &entry,
                            &format!("the operation is not JSON: {e}"),
                            &mut pass,
                        );
                        continue;
                    }
                };
                let op = match resolve_refs(&op, &|name| self.store.get_ref(name)) {
                    Ok(op) => op,
                    Err(RefError::Unreadable(e)) => {
                        // Not the ref's fault: the store could not be read. Try again soon.
                        tracing::error!(id = entry.id, "cannot read the outbox's refs: {e}");
                        pass.due_at(clock.now_ms() + 1000);
                        blocked.insert(lane);
                        continue;
                    }
                    Err(RefError::Missing(missing)) => {
                        // Its producer came earlier in this lane and was refused for good.
                        self.refuse(&entry, &format!("ref {missing} was never set"), &mut pass);
                        continue;
                    }
                };
                match sender.send(&op).await {
                    Delivery::Sent(produced) => {
                        telemetry::delivery(self.platform, "sent");
                        let produced = entry.message.produces.as_deref().zip(produced.as_deref());
                        match self.store.outbox_delivered(entry.id, produced) {
                            Ok(()) => {
                                self.queue().pending.remove(&entry.id);
                                telemetry::outbox_moved(self.platform, -1.0);
                            }
                            Err(e) => {
                                tracing::error!(
                                    id = entry.id,
                                    "delivered, but could not record it: {e}"
                                );
                                blocked.insert(lane);
                            }
                        }
                        pass.sent += 1;
                    }
                    Delivery::Retry { after_ms, error } => {
                        telemetry::delivery(self.platform, "retried");
                        entry.attempts += 1;
                        let wait = after_ms.unwrap_or_else(|| backoff_ms(entry.attempts - 1));
                        entry.not_before_ms = clock.now_ms() + wait;
                        tracing::warn!(
                            id = entry.id,
                            attempts = entry.attempts,
                            wait_ms = wait,
                            "delivery failed, will retry: {error}"
                        );
                        entry.last_error = Some(error);
                        if let Err(e) = self.store.outbox_retry(&entry) {
                            tracing::error!(id = entry.id, "cannot record the retry: {e}");
                        }
                        pass.retried += 1;
                        pass.due_at(entry.not_before_ms);
                        self.queue().pending.insert(entry.id, entry);
                        blocked.insert(lane);
                    }
                    Delivery::Refused(reason) => self.refuse(&entry, &reason, &mut pass),
                }
            }
        }
        self.oldest_age(clock);
        pass
    }

    /// Tells the metrics how long the oldest entry still queued has waited: the first of
    /// the window, which is read in the order entries were queued.
    fn oldest_age(&self, clock: &dyn Clock) {
        let oldest = self
            .queue()
            .pending
            .values()
            .next()
            .map(|e| e.queued_ms)
            .filter(|&q| q > 0);
        let age_ms = oldest.map_or(0, |q| (clock.now_ms() - q).max(0));
        telemetry::outbox_oldest(self.platform, Duration::from_millis(age_ms as u64));
    }

    fn refuse(&self, entry: &OutboxEntry, reason: &str, pass: &mut Pass) {
        telemetry::delivery(self.platform, "refused");
        tracing::error!(id = entry.id, lane = %entry.message.lane, "message refused for good, kept aside: {reason}");
        match self.store.outbox_dead(entry, reason) {
            Ok(()) => telemetry::outbox_moved(self.platform, -1.0),
            Err(e) => tracing::error!(id = entry.id, "cannot set the refused message aside: {e}"),
        }
        self.queue().pending.remove(&entry.id);
        pass.refused += 1;
    }

    /// Runs until `shutdown` resolves: a pass whenever something is queued, and when the
    /// earliest waiting entry comes due.
    pub async fn run<S: Sender>(
        self,
        sender: S,
        clock: Arc<dyn Clock>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let pass = self.pass(&sender, clock.as_ref()).await;
            let wait = pass.next_due_ms.map_or(Duration::from_secs(30), |due| {
                Duration::from_millis((due - clock.now_ms()).clamp(0, 30_000) as u64)
            });
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
