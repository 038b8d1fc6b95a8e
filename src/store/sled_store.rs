//! The sled implementation of [`Store`]. One tree per kind of record; values are JSON.
//!
//! Writes go to the [journal](super::journal) and are acknowledged once it is synced; a
//! background thread then applies them to the sled trees, and every read first applies
//! whatever is still pending, so a reader always sees every write acknowledged before it
//! started. Recovery replays the journal after the last checkpoint, so what a user was told
//! is saved survives a crash. A lock file keeps a second process off the same directory
//! with a clear error.

use super::journal::{self, Durability, Journal, Op, Reader, Tail};
use super::{
    Batch, OutboxEntry, PackSource, PollResponse, ResultRecord, Store, StoreError, StoreResult,
};
use crate::core::conversation::Conversation;
use crate::core::ids::{ChannelId, ConversationKey, PackId, Platform, PollId, WorkspaceId};
use crate::core::poll::{Poll, PollState};
use fs2::FileExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// The trees, by the number a journal record names them with. The numbers are stored in
// the journal: never reuse or renumber one.
const PACKS: u8 = 0;
const CONVERSATIONS: u8 = 1;
const RESULTS: u8 = 2;
const OUTBOX: u8 = 3;
const DEAD: u8 = 4;
const REFS: u8 = 5;
const SEEN: u8 = 6;
const POLLS: u8 = 7;
const RESPONSES: u8 = 8;
const TREE_NAMES: [&str; 9] = [
    "packs",
    "conversations",
    "results",
    "outbox",
    "outbox_dead",
    "refs",
    "seen",
    "polls",
    "poll_responses",
];

/// The meta tree's key for the last journal record known to be in sled's own files.
const CHECKPOINT: &[u8] = b"journal_applied";

/// An outbox id is its record's sequence number shifted by this, plus its place in the
/// batch: ids are unique, and increase in the order records are applied.
const ID_SHIFT: u32 = 16;

/// sled's page cache. Its default is 1 GiB; the bot reads little (a conversation when an
/// answer comes, the outbox's next entries), and what it reads was written moments before,
/// so it is in the OS's page cache anyway. 1 MiB keeps a busy server's peak memory about
/// 9 MB lower than 8 MiB did, with the same throughput.
const SLED_CACHE_BYTES: u64 = 1024 * 1024;

/// sled's segment size, which is also the size of each of its write buffers, for a new
/// database (sled's default is 512 KiB). Under load sled has several buffers allocated at
/// once: at 128 KiB a busy server's peak memory is 1.5 to 4 MB lower, with the same
/// throughput. sled refuses to open a database with another size than it was created
/// with, so an existing one keeps its own (see [`sled_segment_size`]).
const SLED_SEGMENT_BYTES: usize = 128 * 1024;

/// How often the applier wakes when nothing tells it to, and how often it checkpoints.
const APPLY_EVERY: Duration = Duration::from_millis(100);
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);
/// Records applied per hold of the apply lock, so readers are never held up for long.
const APPLY_CHUNK: u64 = 2048;

pub struct SledStore {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

struct Inner {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    meta: sled::Tree,
    journal: Arc<Journal>,
    /// The reader that applies journal records to the trees; held for writing while
    /// applying and for reading while reading the trees, so a reader never sees half of
    /// a record.
    apply: RwLock<Reader>,
    /// The last record applied (mirrors the reader's, readable without the lock).
    applied: AtomicU64,
    /// Read-modify-write operations (a first-time check, a new pack version) hold this
    /// from their read to their append.
    rmw: Mutex<()>,
    stop: Mutex<bool>,
    wake: Condvar,
    // Held for the life of the store: the OS lock on the data directory.
    _lock: File,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

const SEP: u8 = 0x1f;

impl SledStore {
    /// Opens (creating if needed) the store in `dir`, replaying the journal.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        let open_err = |source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(open_err)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("tradeoff.lock"))
            .map_err(open_err)?;
        if lock.try_lock_exclusive().is_err() {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
            });
        }
        let db = open_sled(&sled_config(&dir.join("db")))?;
        let trees = TREE_NAMES
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()?;
        let meta = db.open_tree("meta")?;
        let journal_dir = dir.join("journal");
        let last = recover(&db, &trees, &meta, &journal_dir)?;
        let journal = Journal::create(&journal_dir, last).map_err(StoreError::Journal)?;
        let inner = Arc::new(Inner {
            db,
            trees,
            meta,
            journal,
            apply: RwLock::new(Reader::new(&journal_dir, last)),
            applied: AtomicU64::new(last),
            rmw: Mutex::new(()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            _lock: lock,
        });
        let spawn = |name: &str, run: fn(&Inner)| {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || run(&inner))
                .map_err(open_err)
        };
        let threads = vec![
            spawn("tradeoff-journal", |inner| {
                crate::background::defer_on_wake();
                inner.journal.run_writer();
            })?,
            // Applying the journal can wait while requests are being answered.
            spawn("tradeoff-apply", |inner| {
                crate::background::lower_priority();
                inner.run_applier();
            })?,
        ];
        Ok(SledStore { inner, threads })
    }

    /// The directory's database with every acknowledged write applied, for tests that
    /// read records directly.
    pub fn db(&self) -> &sled::Db {
        if let Err(e) = self.inner.catch_up(self.inner.journal.appended()) {
            tracing::error!("cannot apply the journal: {e}");
        }
        &self.inner.db
    }

    /// Appends a record and waits until it is on disk.
    fn write(&self, build: impl FnOnce(u64) -> Vec<Op>) -> StoreResult<u64> {
        let seq = self.inner.journal.append(build)?;
        self.inner.journal.wait_durable(seq)?;
        Ok(seq)
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> StoreResult<T>) -> StoreResult<T> {
        self.inner.read(f)
    }

    /// The ops of a batch; outbox ids come from the record's sequence number.
    fn batch_ops(&self, batch: Batch) -> (impl FnOnce(u64) -> Vec<Op>, usize) {
        let mut ops = Vec::with_capacity(4 + batch.outbox.len());
        if let Some(p) = &batch.poll {
            ops.push(Op::put(POLLS, p.id.as_str().as_bytes(), encode(p)));
        }
        if let Some(r) = &batch.response {
            ops.push(Op::put(
                RESPONSES,
                response_key(&r.poll, r.round, &r.respondent),
                encode(&r.response),
            ));
        }
        if let Some((k, c)) = &batch.conversation {
            ops.push(Op::put(CONVERSATIONS, k.storage_key(), encode(c)));
        }
        if let Some(r) = &batch.result {
            ops.push(Op::put(RESULTS, result_key(r), encode(r)));
        }
        let outbox = batch.outbox;
        let count = outbox.len();
        let build = move |seq: u64| {
            for (i, message) in outbox.into_iter().enumerate() {
                let entry = OutboxEntry {
                    id: outbox_id(seq, i),
                    message,
                    attempts: 0,
                    not_before_ms: 0,
                    last_error: None,
                };
                ops.push(Op::put(OUTBOX, entry.id.to_be_bytes(), encode(&entry)));
            }
            ops
        };
        (build, count)
    }
}

/// The settings the store opens its sled database (`db` in the data directory) with: for
/// tools and tests that read its trees directly, since sled refuses other segment sizes.
/// sled's own periodic flush is off: the journal makes writes durable, and the store's
/// checkpoints flush sled when it suits them.
pub fn sled_config(db_dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(db_dir)
        .cache_capacity(SLED_CACHE_BYTES)
        .segment_size(sled_segment_size(db_dir))
        .flush_every_ms(None)
}

/// The segment size of the sled database in `db_dir`, from the settings sled keeps there
/// (`conf`: lines such as `segment_size: 524288`, then a checksum); for a new database,
/// [`SLED_SEGMENT_BYTES`]. A `conf` that cannot be read is sled's to report when it opens.
fn sled_segment_size(db_dir: &Path) -> usize {
    std::fs::read(db_dir.join("conf"))
        .ok()
        .and_then(|conf| {
            String::from_utf8_lossy(&conf)
                .lines()
                .find_map(|line| line.strip_prefix("segment_size: ")?.trim().parse().ok())
        })
        .unwrap_or(SLED_SEGMENT_BYTES)
}

/// Opens sled. Our lock file already keeps other processes out, so sled's own lock can only
/// be held by a store of this process that was just dropped: sled lets go of it when its
/// last background task ends, a moment later. Wait for that, briefly.
fn open_sled(config: &sled::Config) -> StoreResult<sled::Db> {
    let mut attempts = 0;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if attempts < 100 && e.to_string().contains("lock") => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

fn outbox_id(seq: u64, index: usize) -> u64 {
    (seq << ID_SHIFT) | index as u64
}

fn outbox_ids(seq: u64, count: usize) -> Vec<u64> {
    (0..count).map(|i| outbox_id(seq, i)).collect()
}

impl Drop for SledStore {
    /// Syncs the journal, applies it, checkpoints, and stops the threads, so the directory
    /// can be opened again at once.
    fn drop(&mut self) {
        self.inner.journal.stop();
        *self.inner.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.inner.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Applies every journal record after the checkpoint, cuts off a torn tail, checkpoints,
/// and removes the replayed segments. Returns the last sequence number in use.
fn recover(
    db: &sled::Db,
    trees: &[sled::Tree],
    meta: &sled::Tree,
    journal_dir: &Path,
) -> StoreResult<u64> {
    let checkpoint = meta
        .get(CHECKPOINT)?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0);
    let mut reader = Reader::new(journal_dir, checkpoint);
    let mut replayed = 0u64;
    let tail = reader.read_until(u64::MAX, &mut |_, ops| {
        replayed += 1;
        apply_ops(trees, ops)
    })?;
    if let (Tail::Torn, Some((path, offset))) = (&tail, reader.position()) {
        tracing::warn!(
            file = %path.display(),
            offset,
            "the journal ends in a record that was never completed (a crash while writing it); it was never acknowledged and is dropped"
        );
    }
    if replayed > 0 {
        tracing::info!(records = replayed, "replayed the store's journal");
    }
    // Outbox ids must keep growing past those already stored, whatever made them.
    let id_floor = [OUTBOX, DEAD]
        .iter()
        .filter_map(|t| trees[*t as usize].last().ok().flatten())
        .filter_map(|(k, _)| k.as_ref().try_into().ok().map(u64::from_be_bytes))
        .map(|id| (id >> ID_SHIFT) + 1)
        .max()
        .unwrap_or(0);
    let last = reader.last.max(checkpoint).max(id_floor);
    db.flush()?;
    meta.insert(CHECKPOINT, &last.to_be_bytes())?;
    db.flush()?;
    for (_, path) in journal::segments(journal_dir).map_err(StoreError::Journal)? {
        std::fs::remove_file(path).map_err(StoreError::Journal)?;
    }
    Ok(last)
}

fn apply_ops(trees: &[sled::Tree], ops: Vec<Op>) -> StoreResult<()> {
    let tree = |id: u8| {
        trees.get(id as usize).ok_or_else(|| {
            StoreError::Journal(std::io::Error::other(format!(
                "a journal record names tree {id}, which does not exist"
            )))
        })
    };
    for op in ops {
        match op {
            Op::Put {
                tree: id,
                key,
                value,
            } => tree(id)?.insert(key, value)?,
            Op::Remove { tree: id, key } => tree(id)?.remove(key)?,
        };
    }
    Ok(())
}

impl Inner {
    fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Runs `f` on the trees once every record appended before the call is applied.
    fn read<T>(&self, f: impl FnOnce(&Inner) -> StoreResult<T>) -> StoreResult<T> {
        let target = self.journal.appended();
        loop {
            {
                let _reading = self.apply.read().unwrap_or_else(|e| e.into_inner());
                if self.applied() >= target {
                    return f(self);
                }
            }
            self.catch_up(target)?;
        }
    }

    /// Applies records until `target` (or, for the applier, one chunk towards it).
    fn catch_up(&self, target: u64) -> StoreResult<()> {
        while self.applied() < target {
            let mut reader = self.apply.write().unwrap_or_else(|e| e.into_inner());
            let written = self.journal.write_out()?;
            let until = target.min(written).min(reader.last + APPLY_CHUNK);
            reader.read_until(until, &mut |_, ops| apply_ops(&self.trees, ops))?;
            self.applied.store(reader.last, Ordering::Release);
            if reader.last < until {
                return Err(StoreError::Journal(std::io::Error::other(format!(
                    "the journal ends at record {} before record {until}",
                    reader.last
                ))));
            }
        }
        Ok(())
    }

    /// The background thread: keeps the trees up to date and checkpoints, so that the
    /// journal stays short and a restart replays little.
    fn run_applier(&self) {
        let mut checkpointed = self.applied();
        let mut last_checkpoint = Instant::now();
        loop {
            let stopping = {
                let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
                let (stop, _) = self
                    .wake
                    .wait_timeout(stop, APPLY_EVERY)
                    .unwrap_or_else(|e| e.into_inner());
                *stop
            };
            let target = self.journal.appended();
            if let Err(e) = self.catch_up(target) {
                tracing::error!("cannot apply the journal: {e}");
            }
            let applied = self.applied();
            if applied > checkpointed && (stopping || last_checkpoint.elapsed() >= CHECKPOINT_EVERY)
            {
                match self.checkpoint(applied) {
                    Ok(()) => checkpointed = applied,
                    Err(e) => tracing::error!("cannot checkpoint the store: {e}"),
                }
                last_checkpoint = Instant::now();
            }
            if stopping {
                return;
            }
        }
    }

    /// Makes sled's files hold everything up to `applied`, records that, and deletes the
    /// journal segments it covers.
    fn checkpoint(&self, applied: u64) -> StoreResult<()> {
        self.db.flush()?;
        self.meta.insert(CHECKPOINT, &applied.to_be_bytes())?;
        self.db.flush()?;
        self.journal
            .remove_applied(applied)
            .map_err(StoreError::Journal)?;
        Ok(())
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are a few hundred bytes: one allocation instead of a doubling series.
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, value).expect("records serialize to JSON");
    out
}

fn decode<T: DeserializeOwned>(kind: &'static str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { kind, source })
}

fn pack_key(id: &PackId, version: u32) -> Vec<u8> {
    let mut key = id.as_str().as_bytes().to_vec();
    key.push(SEP);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn pack_prefix(id: &PackId) -> Vec<u8> {
    let mut key = id.as_str().as_bytes().to_vec();
    key.push(SEP);
    key
}

fn response_prefix(poll: &PollId, round: u32) -> Vec<u8> {
    let mut key = poll.as_str().as_bytes().to_vec();
    key.push(SEP);
    key.extend_from_slice(&round.to_be_bytes());
    key.push(SEP);
    key
}

fn response_key(poll: &PollId, round: u32, respondent: &str) -> Vec<u8> {
    let mut key = response_prefix(poll, round);
    key.extend_from_slice(respondent.as_bytes());
    key
}

fn result_key(record: &ResultRecord) -> Vec<u8> {
    let mut key = ConversationKey::channel_prefix(
        record.key.platform,
        &record.key.workspace,
        &record.key.channel,
    )
    .into_bytes();
    // Offset so that the big-endian bytes sort in time order, negative times included.
    key.extend_from_slice(&((record.finished_at as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(record.key.storage_key().as_bytes());
    key
}

impl Store for SledStore {
    fn commit(&self, batch: Batch) -> StoreResult<Vec<u64>> {
        let (build, count) = self.batch_ops(batch);
        let seq = self.write(build)?;
        Ok(outbox_ids(seq, count))
    }

    fn commit_deferred(&self, batch: Batch) -> StoreResult<(Vec<u64>, Durability)> {
        let (build, count) = self.batch_ops(batch);
        let seq = self.inner.journal.append(build)?;
        Ok((outbox_ids(seq, count), self.inner.journal.durability(seq)))
    }

    fn outbox_pending_after(
        &self,
        platform: Platform,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        self.read(|s| {
            let mut out = Vec::new();
            for item in s.trees[OUTBOX as usize].range(start.to_be_bytes()..) {
                let (_, bytes) = item?;
                let entry: OutboxEntry = decode("outbox entry", &bytes)?;
                if entry.message.platform == platform {
                    out.push(entry);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    // The outbox's own bookkeeping is appended without waiting for the sync (which follows
    // within a millisecond or so): the next entry of the lane reads it at once, and only a
    // crash in that moment could lose it, meaning one message posted twice, the same
    // at-least-once window as between a platform accepting a message and this record.
    fn outbox_retry(&self, entry: &OutboxEntry) -> StoreResult<()> {
        let value = encode(entry);
        self.inner
            .journal
            .append(|_| vec![Op::put(OUTBOX, entry.id.to_be_bytes(), value)])?;
        Ok(())
    }

    fn outbox_delivered(&self, id: u64, produced: Option<(&str, &str)>) -> StoreResult<()> {
        self.inner.journal.append(|_| {
            let mut ops = vec![Op::remove(OUTBOX, id.to_be_bytes())];
            if let Some((name, value)) = produced {
                ops.push(Op::put(REFS, name.as_bytes(), value.as_bytes()));
            }
            ops
        })?;
        Ok(())
    }

    fn outbox_dead(&self, entry: &OutboxEntry, reason: &str) -> StoreResult<()> {
        let record = encode(&serde_json::json!({ "entry": entry, "reason": reason }));
        self.write(|_| {
            vec![
                Op::remove(OUTBOX, entry.id.to_be_bytes()),
                Op::put(DEAD, entry.id.to_be_bytes(), record),
            ]
        })?;
        Ok(())
    }

    fn outbox_dead_letters(&self) -> StoreResult<Vec<(OutboxEntry, String)>> {
        #[derive(serde::Deserialize)]
        struct Dead {
            entry: OutboxEntry,
            reason: String,
        }
        self.read(|s| {
            s.trees[DEAD as usize]
                .iter()
                .map(|item| {
                    let (_, bytes) = item?;
                    let d: Dead = decode("dead letter", &bytes)?;
                    Ok((d.entry, d.reason))
                })
                .collect()
        })
    }

    fn poll(&self, id: &PollId) -> StoreResult<Option<Poll>> {
        self.read(|s| {
            s.trees[POLLS as usize]
                .get(id.as_str().as_bytes())?
                .map(|b| decode("poll", &b))
                .transpose()
        })
    }

    fn open_polls(&self) -> StoreResult<Vec<Poll>> {
        self.read(|s| {
            let mut out = Vec::new();
            for item in s.trees[POLLS as usize].iter() {
                let (_, bytes) = item?;
                let poll: Poll = decode("poll", &bytes)?;
                if poll.state == PollState::Open {
                    out.push(poll);
                }
            }
            Ok(out)
        })
    }

    fn open_poll_in(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<Poll>> {
        Ok(self
            .open_polls()?
            .into_iter()
            .find(|p| p.platform == platform && &p.workspace == workspace && &p.channel == channel))
    }

    fn poll_response(
        &self,
        poll: &PollId,
        round: u32,
        respondent: &str,
    ) -> StoreResult<Option<PollResponse>> {
        self.read(|s| {
            s.trees[RESPONSES as usize]
                .get(response_key(poll, round, respondent))?
                .map(|b| decode("poll response", &b))
                .transpose()
        })
    }

    fn poll_responses(
        &self,
        poll: &PollId,
        round: u32,
    ) -> StoreResult<Vec<(String, PollResponse)>> {
        let prefix = response_prefix(poll, round);
        self.read(|s| {
            s.trees[RESPONSES as usize]
                .scan_prefix(&prefix)
                .map(|item| {
                    let (key, bytes) = item?;
                    let respondent = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    Ok((respondent, decode("poll response", &bytes)?))
                })
                .collect()
        })
    }

    fn get_ref(&self, name: &str) -> StoreResult<Option<String>> {
        self.read(|s| {
            Ok(s.trees[REFS as usize]
                .get(name.as_bytes())?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        })
    }

    fn put_ref(&self, name: &str, value: &str) -> StoreResult<()> {
        self.write(|_| vec![Op::put(REFS, name.as_bytes(), value.as_bytes())])?;
        Ok(())
    }

    fn first_time(&self, key: &str, now: i64) -> StoreResult<bool> {
        let _rmw = self.inner.rmw.lock().unwrap_or_else(|e| e.into_inner());
        if self.read(|s| Ok(s.trees[SEEN as usize].contains_key(key.as_bytes())?))? {
            return Ok(false);
        }
        self.write(|_| vec![Op::put(SEEN, key.as_bytes(), now.to_be_bytes())])?;
        Ok(true)
    }

    fn unsee(&self, key: &str) -> StoreResult<()> {
        let _rmw = self.inner.rmw.lock().unwrap_or_else(|e| e.into_inner());
        self.write(|_| vec![Op::remove(SEEN, key.as_bytes())])?;
        Ok(())
    }

    fn forget_seen(&self, older_than: i64) -> StoreResult<usize> {
        let _rmw = self.inner.rmw.lock().unwrap_or_else(|e| e.into_inner());
        let old: Vec<sled::IVec> = self.read(|s| {
            let mut old = Vec::new();
            for item in s.trees[SEEN as usize].iter() {
                let (key, value) = item?;
                let at = value
                    .as_ref()
                    .try_into()
                    .map(i64::from_be_bytes)
                    .unwrap_or(i64::MIN);
                if at < older_than {
                    old.push(key);
                }
            }
            Ok(old)
        })?;
        for chunk in old.chunks(4096) {
            self.write(|_| chunk.iter().map(|k| Op::remove(SEEN, k.to_vec())).collect())?;
        }
        Ok(old.len())
    }

    fn put_pack(&self, source: &PackSource) -> StoreResult<u32> {
        let _rmw = self.inner.rmw.lock().unwrap_or_else(|e| e.into_inner());
        let latest = self.read(|s| {
            s.trees[PACKS as usize]
                .scan_prefix(pack_prefix(&source.id))
                .next_back()
                .transpose()?
                .map(|(_, bytes)| decode::<PackSource>("pack", &bytes))
                .transpose()
        })?;
        let next = match latest {
            Some(stored) => {
                if stored.criteria == source.criteria && stored.prompts == source.prompts {
                    return Ok(stored.version);
                }
                stored.version + 1
            }
            None => 1,
        };
        let record = PackSource {
            version: next,
            ..source.clone()
        };
        let value = encode(&record);
        self.write(|_| vec![Op::put(PACKS, pack_key(&source.id, next), value)])?;
        Ok(next)
    }

    fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>> {
        self.read(|s| {
            s.trees[PACKS as usize]
                .get(pack_key(id, version))?
                .map(|b| decode("pack", &b))
                .transpose()
        })
    }

    fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>> {
        self.read(|s| {
            s.trees[CONVERSATIONS as usize]
                .get(key.storage_key())?
                .map(|b| decode("conversation", &b))
                .transpose()
        })
    }

    fn put_conversation(
        &self,
        key: &ConversationKey,
        conversation: &Conversation,
    ) -> StoreResult<()> {
        let value = encode(conversation);
        self.write(|_| vec![Op::put(CONVERSATIONS, key.storage_key(), value)])?;
        Ok(())
    }

    fn conversations_in_channel(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<(ConversationKey, Conversation)>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        self.read(|s| {
            let mut out = Vec::new();
            for item in s.trees[CONVERSATIONS as usize].scan_prefix(prefix.as_bytes()) {
                let (key, bytes) = item?;
                let conversation: Conversation = decode("conversation", &bytes)?;
                let parts: Vec<&str> = std::str::from_utf8(&key)
                    .unwrap_or("")
                    .split('\u{1f}')
                    .collect();
                if let [_, _, _, thread, user] = parts.as_slice() {
                    let key = ConversationKey {
                        platform,
                        workspace: workspace.clone(),
                        channel: channel.clone(),
                        thread: (*thread).into(),
                        user: (!user.is_empty()).then(|| (*user).into()),
                    };
                    out.push((key, conversation));
                }
            }
            Ok(out)
        })
    }

    fn put_result(&self, record: &ResultRecord) -> StoreResult<()> {
        let value = encode(record);
        self.write(|_| vec![Op::put(RESULTS, result_key(record), value)])?;
        Ok(())
    }

    fn latest_result(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<ResultRecord>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        self.read(|s| {
            s.trees[RESULTS as usize]
                .scan_prefix(prefix.as_bytes())
                .next_back()
                .transpose()?
                .map(|(_, b)| decode("result", &b))
                .transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewOutbox;

    fn queue_one(store: &SledStore) -> u64 {
        let ids = store
            .commit(Batch {
                outbox: vec![NewOutbox {
                    platform: Platform::Slack,
                    lane: "lane".into(),
                    op: serde_json::json!({ "method": "chat.postMessage" }).into(),
                    produces: None,
                }],
                ..Batch::default()
            })
            .unwrap();
        ids[0]
    }

    /// A database created with sled's default segment size (every data directory made
    /// before the bot chose a smaller one) still opens, and keeps its size; a new one gets
    /// the smaller size.
    #[test]
    fn a_database_keeps_the_segment_size_it_was_created_with() {
        let old = tempfile::tempdir().unwrap();
        {
            let db = sled::open(old.path().join("db")).unwrap();
            db.insert("kept", "yes").unwrap();
            db.flush().unwrap();
        }
        assert_eq!(sled_segment_size(&old.path().join("db")), 512 * 1024);
        let store = SledStore::open(old.path()).expect("an existing database opens");
        assert_eq!(
            store.db().get("kept").unwrap().as_deref(),
            Some(&b"yes"[..])
        );
        drop(store);

        let new = tempfile::tempdir().unwrap();
        drop(SledStore::open(new.path()).unwrap());
        assert_eq!(
            sled_segment_size(&new.path().join("db")),
            SLED_SEGMENT_BYTES
        );
    }

    /// What a crash leaves behind: records synced to the journal that sled never saw, and a
    /// last record cut short. Opening again applies the first and drops the second.
    #[test]
    fn recovery_replays_the_journal_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let first_id = {
            let store = SledStore::open(dir.path()).unwrap();
            store.put_ref("before", "1").unwrap();
            queue_one(&store)
        };
        let checkpoint = {
            let db = sled_config(&dir.path().join("db")).open().unwrap();
            let meta = db.open_tree("meta").unwrap();
            let bytes = meta.get(CHECKPOINT).unwrap().unwrap();
            u64::from_be_bytes(bytes.as_ref().try_into().unwrap())
        };
        let mut bytes = Vec::new();
        journal::encode_record(
            &mut bytes,
            checkpoint + 1,
            &[Op::put(REFS, "replayed".as_bytes(), "2".as_bytes())],
        );
        let mut torn = Vec::new();
        journal::encode_record(
            &mut torn,
            checkpoint + 2,
            &[Op::put(REFS, "torn".as_bytes(), "3".as_bytes())],
        );
        bytes.extend_from_slice(&torn[..torn.len() / 2]);
        let segment = dir
            .path()
            .join("journal")
            .join(format!("{:020}.log", checkpoint + 1));
        std::fs::write(&segment, &bytes).unwrap();

        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.get_ref("before").unwrap().as_deref(), Some("1"));
        assert_eq!(store.get_ref("replayed").unwrap().as_deref(), Some("2"));
        assert_eq!(store.get_ref("torn").unwrap(), None);
        // Writing goes on after the replayed records, and outbox ids keep growing.
        store.put_ref("after", "4").unwrap();
        assert!(queue_one(&store) > first_id);
        drop(store);

        let store = SledStore::open(dir.path()).unwrap();
        for (name, value) in [("before", "1"), ("replayed", "2"), ("after", "4")] {
            assert_eq!(store.get_ref(name).unwrap().as_deref(), Some(value));
        }
        assert_eq!(store.get_ref("torn").unwrap(), None);
        assert_eq!(
            journal::segments(&dir.path().join("journal"))
                .unwrap()
                .len(),
            1
        );
    }

    /// A write is visible to the next read at once, before the background thread applies it,
    /// and an async write is visible too once appended.
    #[tokio::test]
    async fn reads_see_every_write_made_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 0..200 {
            store.put_ref(&format!("r{i}"), &i.to_string()).unwrap();
            assert_eq!(
                store.get_ref(&format!("r{i}")).unwrap(),
                Some(i.to_string())
            );
        }
        let (ids, durability) = store
            .commit_deferred(Batch {
                outbox: vec![NewOutbox {
                    platform: Platform::Discord,
                    lane: "l".into(),
                    op: serde_json::json!({}).into(),
                    produces: None,
                }],
                ..Batch::default()
            })
            .unwrap();
        durability.wait().await.unwrap();
        let pending = store.outbox_pending(Platform::Discord).unwrap();
        assert_eq!(pending.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    }
}
