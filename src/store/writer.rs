//! The store's one writer: every write goes through it, and sled is the only log.
//!
//! Callers send their changes with a reply channel. The writer thread takes whatever has
//! queued, applies the whole group in one sled transaction across the trees, calls sled's
//! `flush` once, and only then replies to each caller: every write made while a flush runs
//! shares the next one (group commit). Async callers await the reply without holding a
//! thread.
//!
//! Reads see only what is durable. sled makes a transaction visible as soon as it applies,
//! before its flush; so the writer holds the read gate shut from applying a group until its
//! flush has returned, and readers wait at the gate for at most one flush.
//!
//! A flush that fails leaves sled holding changes that may not be on disk. The store stops
//! there for good: that group and every later write and read get an error, the log says
//! why, and sled is kept from writing anything more (so the failed group cannot reach the
//! disk later either). A restart recovers what sled made durable.

use super::{StoreError, StoreResult};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

/// Requests applied in one transaction at the most: a bound on how long readers wait.
const GROUP_LIMIT: usize = 1024;

/// One change to one key of one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Put {
        tree: u8,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Remove {
        tree: u8,
        key: Vec<u8>,
    },
    /// Puts only when the record stored at the key is at version `expect`; when it is not,
    /// nothing of the request applies ([`Refusal::Stale`]). A record's version is the
    /// `version` field of its JSON: 0 for an absent record, or one written before records
    /// had versions.
    PutVersioned {
        tree: u8,
        key: Vec<u8>,
        value: Vec<u8>,
        expect: u64,
    },
    /// Puts only when the key is absent; when it is there, nothing of the request applies,
    /// and `refusal` says why.
    PutFirst {
        tree: u8,
        key: Vec<u8>,
        value: Vec<u8>,
        refusal: Refusal,
    },
}

impl Op {
    pub(super) fn put(tree: u8, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put {
            tree,
            key: key.into(),
            value: value.into(),
        }
    }

    pub(super) fn remove(tree: u8, key: impl Into<Vec<u8>>) -> Op {
        Op::Remove {
            tree,
            key: key.into(),
        }
    }

    pub(super) fn put_versioned(
        tree: u8,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        expect: u64,
    ) -> Op {
        Op::PutVersioned {
            tree,
            key: key.into(),
            value: value.into(),
            expect,
        }
    }

    pub(super) fn put_first(
        tree: u8,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        refusal: Refusal,
    ) -> Op {
        Op::PutFirst {
            tree,
            key: key.into(),
            value: value.into(),
            refusal,
        }
    }
}

/// Which condition refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A record changed since it was read ([`Op::PutVersioned`]), or one appeared that
    /// was absent when read.
    Stale,
    /// A delivery's key was there already: it was handled before.
    Repeat,
}

impl From<Refusal> for StoreError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Stale => StoreError::Stale,
            Refusal::Repeat => StoreError::Repeat,
        }
    }
}

/// Resolves once a write is durable, or failed: see [`super::Store::commit_deferred`].
#[derive(Debug)]
pub struct Durability(tokio::sync::oneshot::Receiver<StoreResult<()>>);

impl Durability {
    /// Returns once the write is on disk; an error if it could not be made durable.
    pub async fn wait(self) -> StoreResult<()> {
        match self.0.await {
            Ok(result) => result,
            Err(_) => Err(stopped()),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's writer has stopped".into())
}

enum Reply {
    Wait(mpsc::SyncSender<StoreResult<()>>),
    Later(tokio::sync::oneshot::Sender<StoreResult<()>>),
}

impl Reply {
    fn send(self, result: StoreResult<()>) {
        // A caller that gave up waiting is no longer listening; nothing to tell.
        let _ = match self {
            Reply::Wait(tx) => tx.send(result).map_err(|_| ()),
            Reply::Later(tx) => tx.send(result).map_err(|_| ()),
        };
    }
}

struct Request {
    ops: Vec<Op>,
    reply: Reply,
}

/// Why the store stopped, once it has.
#[derive(Default)]
pub(super) struct Health {
    failed: Option<String>,
}

/// What readers hold while they read: the trees as of the last durable write.
pub(super) struct ReadGuard<'a> {
    _gate: RwLockReadGuard<'a, Health>,
}

/// The handle callers write through. Dropping it lets the thread finish what is queued and
/// stop.
pub(super) struct Writer {
    /// Held while a request is queued, so that callers who number their records under it
    /// (outbox ids) queue them in that order.
    queue: Mutex<Option<mpsc::Sender<Request>>>,
    gate: Arc<RwLock<Health>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// How the writer makes a group durable: sled's own flush, or a stand-in for tests that
/// make the disk fail.
pub type Flush = Box<dyn Fn(&sled::Db) -> std::io::Result<()> + Send>;

pub(super) fn sled_flush() -> Flush {
    Box::new(|db: &sled::Db| db.flush().map(|_| ()).map_err(std::io::Error::other))
}

impl Writer {
    pub(super) fn start(
        db: sled::Db,
        trees: Vec<sled::Tree>,
        flush: Flush,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Request>();
        let gate = Arc::new(RwLock::new(Health::default()));
        let thread_gate = gate.clone();
        let thread = std::thread::Builder::new()
            .name("tradeoff-store".into())
            .spawn(move || run(&db, &trees, &flush, &rx, &thread_gate))?;
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
            gate,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Waits at the gate: a read that starts sees every write that returned before it.
    pub(super) fn read(&self) -> StoreResult<ReadGuard<'_>> {
        let guard = self.gate.read().unwrap_or_else(|e| e.into_inner());
        match &guard.failed {
            Some(why) => Err(StoreError::Unavailable(why.clone())),
            None => Ok(ReadGuard { _gate: guard }),
        }
    }

    /// Queues the ops that `build` makes, under the queue's lock (`build` may number them).
    fn queue<T>(&self, build: impl FnOnce() -> (Vec<Op>, T), reply: Reply) -> StoreResult<T> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let tx = queue.as_ref().ok_or_else(stopped)?;
        let (ops, value) = build();
        tx.send(Request { ops, reply }).map_err(|_| stopped())?;
        Ok(value)
    }

    /// Writes the ops `build` makes and waits until they are durable. A refused request is
    /// [`StoreError::Stale`] or [`StoreError::Repeat`].
    pub(super) fn write<T>(&self, build: impl FnOnce() -> (Vec<Op>, T)) -> StoreResult<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        let value = self.queue(build, Reply::Wait(tx))?;
        rx.recv().map_err(|_| stopped())??;
        Ok(value)
    }

    /// Queues the ops `build` makes and returns at once, with how to await their durability.
    pub(super) fn write_later<T>(
        &self,
        build: impl FnOnce() -> (Vec<Op>, T),
    ) -> StoreResult<(T, Durability)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let value = self.queue(build, Reply::Later(tx))?;
        Ok((value, Durability(rx)))
    }

    /// Lets the thread apply what is queued, and waits for it to stop.
    pub(super) fn stop(&self) {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    db: &sled::Db,
    trees: &[sled::Tree],
    flush: &Flush,
    rx: &mpsc::Receiver<Request>,
    gate: &RwLock<Health>,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            match rx.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let results = {
            let mut health = gate.write().unwrap_or_else(|e| e.into_inner());
            commit_group(db, trees, flush, &group, &mut health)
        };
        for (request, result) in group.into_iter().zip(results) {
            request.reply.send(result);
        }
    }
}

/// Applies and flushes one group, with the gate shut; per request, its outcome.
fn commit_group(
    db: &sled::Db,
    trees: &[sled::Tree],
    flush: &Flush,
    group: &[Request],
    health: &mut Health,
) -> Vec<StoreResult<()>> {
    let fail_all = |why: &str| {
        group
            .iter()
            .map(|_| Err(StoreError::Unavailable(why.to_owned())))
            .collect()
    };
    if let Some(why) = &health.failed {
        return fail_all(why);
    }
    // Every tree an op names exists: the store only builds ops for its own trees.
    if let Some(bad) = group
        .iter()
        .flat_map(|r| &r.ops)
        .map(tree_of)
        .find(|t| usize::from(*t) >= trees.len())
    {
        return fail_all(&format!("a write names tree {bad}, which does not exist"));
    }
    let applied: Result<Vec<Option<Refusal>>, TransactionError<()>> = trees.transaction(|tx| {
        let mut outcomes = Vec::with_capacity(group.len());
        for request in group {
            // A request's conditions are read with the group's earlier requests applied, so
            // of two requests made from one read, the second is refused.
            if let Some(refusal) = refusal(tx, &request.ops)? {
                outcomes.push(Some(refusal));
                continue;
            }
            for op in &request.ops {
                match op {
                    Op::Put { tree, key, value }
                    | Op::PutVersioned {
                        tree, key, value, ..
                    }
                    | Op::PutFirst {
                        tree, key, value, ..
                    } => {
                        tx[usize::from(*tree)].insert(key.as_slice(), value.as_slice())?;
                    }
                    Op::Remove { tree, key } => {
                        tx[usize::from(*tree)].remove(key.as_slice())?;
                    }
                }
            }
            outcomes.push(None);
        }
        Ok::<_, ConflictableTransactionError<()>>(outcomes)
    });
    let outcomes = match applied {
        Ok(outcomes) => outcomes,
        // Nothing of a failed transaction is applied: only this group is refused.
        Err(e) => {
            let why = format!("the store could not apply a write: {e:?}");
            tracing::error!("{why}");
            return fail_all(&why);
        }
    };
    match flush(db) {
        Ok(()) => outcomes
            .into_iter()
            .map(|refused| refused.map_or(Ok(()), |r| Err(r.into())))
            .collect(),
        Err(e) => {
            let why = format!(
                "the store could not write to disk ({e}); it accepts no more writes and serves no reads until tradeoff is restarted"
            );
            tracing::error!("{why}");
            health.failed = Some(why.clone());
            // sled flushes when its last handle is dropped, which would write out the group
            // its callers were just told had failed. Keep one handle for good instead: sled
            // writes nothing more, and the next start recovers what was durable.
            std::mem::forget(db.clone());
            fail_all(&why)
        }
    }
}

/// The first of a request's conditions that does not hold, if any.
fn refusal(
    tx: &[sled::transaction::TransactionalTree],
    ops: &[Op],
) -> Result<Option<Refusal>, ConflictableTransactionError<()>> {
    for op in ops {
        match op {
            Op::PutVersioned {
                tree, key, expect, ..
            } => {
                let stored = tx[usize::from(*tree)].get(key.as_slice())?;
                if stored.as_deref().map_or(0, version_of) != *expect {
                    return Ok(Some(Refusal::Stale));
                }
            }
            Op::PutFirst {
                tree, key, refusal, ..
            } => {
                if tx[usize::from(*tree)].get(key.as_slice())?.is_some() {
                    return Ok(Some(*refusal));
                }
            }
            Op::Put { .. } | Op::Remove { .. } => {}
        }
    }
    Ok(None)
}

/// The version of a stored JSON record: its `version` field, 0 when it has none. A record
/// that is not JSON has no version any write could expect but 0: `u64::MAX` refuses them all.
pub(super) fn version_of(record: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: u64,
    }
    serde_json::from_slice::<Versioned>(record).map_or(u64::MAX, |v| v.version)
}

fn tree_of(op: &Op) -> u8 {
    match op {
        Op::Put { tree, .. }
        | Op::Remove { tree, .. }
        | Op::PutVersioned { tree, .. }
        | Op::PutFirst { tree, .. } => *tree,
    }
}
