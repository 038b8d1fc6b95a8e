//! The sled implementation of [`Store`]. One tree per kind of record; values are JSON.
//!
//! sled is the only log: every write goes through the store's one [writer](super::writer),
//! which applies what has queued in one transaction and flushes once (group commit), and
//! reads see only what that flush made durable. A data directory from a release that kept a
//! journal of its own is [upgraded](super::upgrade) when it opens. A lock file keeps a
//! second process off the same directory with a clear error.

use super::upgrade;
use super::writer::{self, Durability, Flush, Op, Refusal, Writer};
use super::{
    Batch, OutboxEntry, PackSource, PollResponse, ResultRecord, Store, StoreError, StoreResult,
};
use crate::core::conversation::Conversation;
use crate::core::ids::{ChannelId, ConversationKey, PackId, Platform, PollId, WorkspaceId};
use crate::core::poll::{Poll, PollState, RoundRecord};
use crate::telemetry;
use fs2::FileExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

// The trees, by number. Data directories from before the writer name them so in their
// journal (see [`upgrade`]): never reuse or renumber one.
const PACKS: u8 = 0;
const CONVERSATIONS: u8 = 1;
const RESULTS: u8 = 2;
const OUTBOX: u8 = 3;
const DEAD: u8 = 4;
const REFS: u8 = 5;
const SEEN: u8 = 6;
const POLLS: u8 = 7;
const RESPONSES: u8 = 8;
const ROUNDS: u8 = 9;
const TREE_NAMES: [&str; 10] = [
    "packs",
    "conversations",
    "results",
    "outbox",
    "outbox_dead",
    "refs",
    "seen",
    "polls",
    "poll_responses",
    "poll_rounds",
];

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

pub struct SledStore {
    trees: Vec<sled::Tree>,
    db: sled::Db,
    writer: Writer,
    /// Outbox ids are handed out in the order entries are queued: the next one.
    next_id: Mutex<u64>,
    /// A new pack version is read, then written: one at a time.
    packs: Mutex<()>,
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
    /// Opens (creating if needed) the store in `dir`, upgrading an old journal if there is
    /// one.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_with(dir, writer::sled_flush())
    }

    /// [`SledStore::open`], making writes durable with `flush`: tests make the disk fail
    /// with it.
    #[doc(hidden)]
    pub fn open_with(dir: &Path, flush: Flush) -> StoreResult<Self> {
        let open_err = |source| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(open_err(std::io::Error::other(
                "it is a file, not a directory; pass --data-dir a directory (it is made if missing)",
            )));
        }
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
        upgrade::apply_old_journal(dir, &db, &trees)?;
        // Outbox ids keep growing past those already stored, whatever made them.
        let next_id = [OUTBOX, DEAD]
            .iter()
            .filter_map(|t| trees[*t as usize].last().ok().flatten())
            .filter_map(|(k, _)| k.as_ref().try_into().ok().map(u64::from_be_bytes))
            .map(|id| id + 1)
            .max()
            .unwrap_or(1);
        let writer = Writer::start(db.clone(), trees.clone(), flush).map_err(open_err)?;
        Ok(SledStore {
            trees,
            db,
            writer,
            next_id: Mutex::new(next_id),
            packs: Mutex::new(()),
            _lock: lock,
        })
    }

    /// The directory's database, for tests that read records directly.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Runs `f` on the trees as of the last durable write.
    fn read<T>(&self, f: impl FnOnce(&[sled::Tree]) -> StoreResult<T>) -> StoreResult<T> {
        let _durable = self.writer.read()?;
        f(&self.trees)
    }

    /// Writes `ops` and waits until they are durable.
    fn write(&self, ops: Vec<Op>) -> StoreResult<()> {
        self.writer.write(|| (ops, ()))
    }

    /// The ops of a batch, with its outbox entries numbered from `next`.
    fn batch_ops(batch: Batch, next: &mut u64) -> (Vec<Op>, Vec<u64>) {
        let mut ops = Vec::with_capacity(4 + batch.outbox.len());
        if let Some(read) = batch.poll {
            // The channel's open poll is marked apart: of two polls opened in one channel
            // at once, the second finds the mark and is refused as stale.
            let mark = open_poll_mark(read.platform, &read.workspace, &read.channel);
            if read.state != PollState::Open {
                ops.push(Op::remove(REFS, mark));
            } else if read.version == 0 {
                ops.push(Op::put_first(REFS, mark, read.id.as_str(), Refusal::Stale));
            }
            let key = read.id.as_str().as_bytes().to_vec();
            ops.push(next_version(POLLS, key, read));
        }
        if let Some(r) = &batch.response {
            ops.push(Op::put(
                RESPONSES,
                response_key(&r.poll, r.round, &r.respondent),
                encode(&r.response),
            ));
        }
        if let Some(r) = &batch.round {
            ops.push(Op::put(ROUNDS, round_key(&r.poll, r.round), encode(r)));
        }
        if let Some((key, read)) = batch.conversation {
            ops.push(next_version(CONVERSATIONS, key.storage_key(), read));
        }
        if let Some((key, at)) = &batch.delivery {
            ops.push(Op::put_first(
                SEEN,
                key.as_bytes(),
                at.to_be_bytes(),
                Refusal::Repeat,
            ));
        }
        if let Some(r) = &batch.result {
            ops.push(Op::put(RESULTS, result_key(r), encode(r)));
        }
        let mut ids = Vec::with_capacity(batch.outbox.len());
        let queued_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for message in batch.outbox {
            let entry = OutboxEntry {
                id: *next,
                message,
                attempts: 0,
                not_before_ms: 0,
                last_error: None,
                queued_ms,
            };
            *next += 1;
            ids.push(entry.id);
            ops.push(Op::put(OUTBOX, entry.id.to_be_bytes(), encode(&entry)));
        }
        (ops, ids)
    }

    /// Numbers a batch's outbox entries while the writer's queue is held, so ids become
    /// visible in the order they were given.
    fn numbered(&self, batch: Batch) -> impl FnOnce() -> (Vec<Op>, Vec<u64>) + '_ {
        move || {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            Self::batch_ops(batch, &mut next)
        }
    }
}

/// The settings the store opens its sled database (`db` in the data directory) with: for
/// tools and tests that read its trees directly, since sled refuses other segment sizes.
/// sled's own periodic flush is off: the writer flushes after each group of writes.
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

impl Drop for SledStore {
    /// Lets the writer finish what is queued, so the directory can be opened again at once.
    fn drop(&mut self) {
        self.writer.stop();
    }
}

/// A record that carries the version it was read at (see [`Op::PutVersioned`]).
trait Versioned: Serialize {
    fn version_mut(&mut self) -> &mut u64;
}

impl Versioned for Conversation {
    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }
}

impl Versioned for Poll {
    fn version_mut(&mut self) -> &mut u64 {
        &mut self.version
    }
}

/// Saves `read` as its next version, only if the stored record is still at the version it
/// was read at.
fn next_version(tree: u8, key: impl Into<Vec<u8>>, mut read: impl Versioned) -> Op {
    let version = read.version_mut();
    let expect = *version;
    *version += 1;
    Op::put_versioned(tree, key, encode(&read), expect)
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

/// Where a closed round's record is kept.
fn round_key(poll: &PollId, round: u32) -> Vec<u8> {
    let mut key = response_prefix(poll, round);
    key.pop();
    key
}

/// The ref that names the open poll of a channel, while one is open.
fn open_poll_mark(platform: Platform, workspace: &WorkspaceId, channel: &ChannelId) -> String {
    format!(
        "poll|open|{}",
        ConversationKey::channel_prefix(platform, workspace, channel)
    )
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
        let started = std::time::Instant::now();
        let queued = queued_per_platform(&batch);
        let written = self.writer.write(self.numbered(batch));
        telemetry::store_write(started.elapsed());
        if written.is_ok() {
            queued.count();
        }
        written
    }

    fn commit_deferred(&self, batch: Batch) -> StoreResult<(Vec<u64>, Durability)> {
        let queued = queued_per_platform(&batch);
        let written = self.writer.write_later(self.numbered(batch));
        // Counted when the write is accepted: a sync that fails stops the store for good.
        if written.is_ok() {
            queued.count();
        }
        written
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
            for item in s[OUTBOX as usize].range(start.to_be_bytes()..) {
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

    fn outbox_oldest(&self) -> StoreResult<Option<OutboxEntry>> {
        self.read(|s| match s[OUTBOX as usize].first()? {
            Some((_, bytes)) => Ok(Some(decode("outbox entry", &bytes)?)),
            None => Ok(None),
        })
    }

    // The outbox's bookkeeping waits for its flush like any write: reads see only durable
    // state, and the outbox reads what it recorded. Deliveries made at once share flushes.
    fn outbox_retry(&self, entry: &OutboxEntry) -> StoreResult<()> {
        self.write(vec![Op::put(OUTBOX, entry.id.to_be_bytes(), encode(entry))])?;
        Ok(())
    }

    fn outbox_delivered(&self, id: u64, produced: Option<(&str, &str)>) -> StoreResult<()> {
        let mut ops = vec![Op::remove(OUTBOX, id.to_be_bytes())];
        if let Some((name, value)) = produced {
            ops.push(Op::put(REFS, name.as_bytes(), value.as_bytes()));
        }
        self.write(ops)?;
        Ok(())
    }

    fn outbox_dead(&self, entry: &OutboxEntry, reason: &str) -> StoreResult<()> {
        let record = encode(&serde_json::json!({ "entry": entry, "reason": reason }));
        self.write(vec![
            Op::remove(OUTBOX, entry.id.to_be_bytes()),
            Op::put(DEAD, entry.id.to_be_bytes(), record),
        ])?;
        Ok(())
    }

    fn outbox_dead_letters(&self) -> StoreResult<Vec<(OutboxEntry, String)>> {
        #[derive(serde::Deserialize)]
        struct Dead {
            entry: OutboxEntry,
            reason: String,
        }
        self.read(|s| {
            s[DEAD as usize]
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
            s[POLLS as usize]
                .get(id.as_str().as_bytes())?
                .map(|b| decode("poll", &b))
                .transpose()
        })
    }

    fn open_polls(&self) -> StoreResult<Vec<Poll>> {
        self.read(|s| {
            let mut out = Vec::new();
            for item in s[POLLS as usize].iter() {
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
            s[RESPONSES as usize]
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
            s[RESPONSES as usize]
                .scan_prefix(&prefix)
                .map(|item| {
                    let (key, bytes) = item?;
                    let respondent = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    Ok((respondent, decode("poll response", &bytes)?))
                })
                .collect()
        })
    }

    fn round(&self, poll: &PollId, round: u32) -> StoreResult<Option<RoundRecord>> {
        self.read(|s| {
            s[ROUNDS as usize]
                .get(round_key(poll, round))?
                .map(|b| decode("poll round", &b))
                .transpose()
        })
    }

    fn rounds(&self) -> StoreResult<Vec<RoundRecord>> {
        self.read(|s| {
            s[ROUNDS as usize]
                .iter()
                .map(|item| decode("poll round", &item?.1))
                .collect()
        })
    }

    fn get_ref(&self, name: &str) -> StoreResult<Option<String>> {
        self.read(|s| {
            Ok(s[REFS as usize]
                .get(name.as_bytes())?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        })
    }

    fn put_ref(&self, name: &str, value: &str) -> StoreResult<()> {
        self.write(vec![Op::put(REFS, name.as_bytes(), value.as_bytes())])?;
        Ok(())
    }

    fn forget_seen(&self, older_than: i64) -> StoreResult<usize> {
        let old: Vec<sled::IVec> = self.read(|s| {
            let mut old = Vec::new();
            for item in s[SEEN as usize].iter() {
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
            self.write(chunk.iter().map(|k| Op::remove(SEEN, k.to_vec())).collect())?;
        }
        Ok(old.len())
    }

    fn put_pack(&self, source: &PackSource) -> StoreResult<u32> {
        let _one_at_a_time = self.packs.lock().unwrap_or_else(|e| e.into_inner());
        let latest = self.read(|s| {
            s[PACKS as usize]
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
        self.write(vec![Op::put(PACKS, pack_key(&source.id, next), value)])?;
        Ok(next)
    }

    fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>> {
        self.read(|s| {
            s[PACKS as usize]
                .get(pack_key(id, version))?
                .map(|b| decode("pack", &b))
                .transpose()
        })
    }

    fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>> {
        self.read(|s| {
            s[CONVERSATIONS as usize]
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
        self.write(vec![Op::put(CONVERSATIONS, key.storage_key(), value)])?;
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
            for item in s[CONVERSATIONS as usize].scan_prefix(prefix.as_bytes()) {
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
        self.write(vec![Op::put(RESULTS, result_key(record), value)])?;
        Ok(())
    }

    fn results_in(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<ResultRecord>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        self.read(|s| {
            s[RESULTS as usize]
                .scan_prefix(prefix.as_bytes())
                .map(|item| decode("result", &item?.1))
                .collect()
        })
    }

    fn latest_result(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<ResultRecord>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        self.read(|s| {
            s[RESULTS as usize]
                .scan_prefix(prefix.as_bytes())
                .next_back()
                .transpose()?
                .map(|(_, b)| decode("result", &b))
                .transpose()
        })
    }
}

/// How many messages a batch queues for each platform, for the outbox's depth.
struct Queued(Vec<(Platform, usize)>);

fn queued_per_platform(batch: &Batch) -> Queued {
    let mut per: Vec<(Platform, usize)> = Vec::new();
    for m in &batch.outbox {
        match per.iter_mut().find(|(p, _)| *p == m.platform) {
            Some((_, n)) => *n += 1,
            None => per.push((m.platform, 1)),
        }
    }
    Queued(per)
}

impl Queued {
    fn count(self) {
        for (platform, n) in self.0 {
            telemetry::outbox_moved(platform, n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewOutbox;

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

    /// One record in the format of the journal that releases before the writer kept.
    fn old_record(seq: u64, puts: &[(u8, &str, &str)]) -> Vec<u8> {
        let mut payload = seq.to_le_bytes().to_vec();
        payload.extend_from_slice(&(puts.len() as u32).to_le_bytes());
        for (tree, key, value) in puts {
            payload.extend_from_slice(&[*tree, 1]);
            for bytes in [key.as_bytes(), value.as_bytes()] {
                payload.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                payload.extend_from_slice(bytes);
            }
        }
        let mut record = (payload.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        record
    }

    /// An old data directory: sled's files with a checkpoint, and a journal holding one
    /// record at or before it, one after it, and a torn last record. Opening applies the
    /// one after the checkpoint, drops the torn one, and removes the journal.
    #[test]
    fn an_old_journal_is_applied_once_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled_config(&dir.path().join("db")).open().unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert(b"journal_applied", &7u64.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let journal = dir.path().join("journal");
        std::fs::create_dir(&journal).unwrap();
        let mut bytes = old_record(7, &[(REFS, "checkpointed", "old")]);
        bytes.extend(old_record(
            8,
            &[(REFS, "pending", "2"), (REFS, "more", "3")],
        ));
        let torn = old_record(9, &[(REFS, "torn", "4")]);
        bytes.extend_from_slice(&torn[..torn.len() / 2]);
        std::fs::write(journal.join(format!("{:020}.log", 1)), &bytes).unwrap();

        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.get_ref("pending").unwrap().as_deref(), Some("2"));
        assert_eq!(store.get_ref("more").unwrap().as_deref(), Some("3"));
        // At or before the checkpoint: sled had it already (here it did not, so it shows
        // that the record was not applied again).
        assert_eq!(store.get_ref("checkpointed").unwrap(), None);
        assert_eq!(store.get_ref("torn").unwrap(), None);
        assert!(!journal.exists(), "the journal is removed once applied");
        store.put_ref("after", "5").unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        for (name, value) in [("pending", "2"), ("more", "3"), ("after", "5")] {
            assert_eq!(store.get_ref(name).unwrap().as_deref(), Some(value));
        }
    }

    /// A bad record before a later segment is damage, not a crash's torn tail: the upgrade
    /// stops, says where, and removes nothing.
    #[test]
    fn a_damaged_old_journal_stops_the_upgrade_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        std::fs::create_dir_all(&journal).unwrap();
        let mut first = old_record(1, &[(REFS, "a", "1")]);
        let damaged = first.len() - 1;
        first[damaged] ^= 0xff;
        std::fs::write(journal.join(format!("{:020}.log", 1)), &first).unwrap();
        std::fs::write(
            journal.join(format!("{:020}.log", 2)),
            old_record(2, &[(REFS, "b", "2")]),
        )
        .unwrap();
        let err = SledStore::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("00000000000000000001.log") && err.contains("offset 0"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&journal).unwrap().count(), 2);
    }

    /// A flush that fails: the group is refused, nothing of it is readable, and the store
    /// takes no more writes or reads, saying why.
    #[test]
    fn a_failed_flush_stops_the_store_and_shows_nothing_of_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failing = fail.clone();
        let store = SledStore::open_with(
            dir.path(),
            Box::new(move |db: &sled::Db| {
                if failing.load(std::sync::atomic::Ordering::SeqCst) {
                    Err(std::io::Error::other("injected: the disk is full"))
                } else {
                    db.flush().map(|_| ()).map_err(std::io::Error::other)
                }
            }),
        )
        .unwrap();
        store.put_ref("before", "1").unwrap();
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = store.put_ref("lost", "2").unwrap_err().to_string();
        assert!(err.contains("injected: the disk is full"), "{err}");
        assert!(err.contains("accepts no more writes"), "{err}");
        let read = store.get_ref("lost").unwrap_err().to_string();
        assert!(read.contains("no reads"), "{read}");
        assert!(store.put_ref("later", "3").is_err());
        let delivered = store.commit(Batch {
            delivery: Some(("k".into(), 0)),
            ..Batch::default()
        });
        assert!(delivered.is_err());
        let (_, durability) = store.commit_deferred(Batch::default()).unwrap();
        assert!(block_on(durability.wait()).is_err());
    }

    /// Waits for a future on a runtime of its own (the test above is not async).
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A batch for one delivery, with one message in it.
    fn delivered(key: &str) -> Batch {
        Batch {
            delivery: Some((key.to_owned(), 0)),
            outbox: vec![NewOutbox {
                platform: Platform::Slack,
                lane: key.to_owned(),
                op: serde_json::json!({ "for": key }).into(),
                produces: None,
            }],
            ..Batch::default()
        }
    }

    /// Runs `write` on 8 threads at once; what each got.
    fn racing<T: Send + 'static>(
        store: &std::sync::Arc<SledStore>,
        write: impl Fn(&SledStore) -> T + Send + Sync + Clone + 'static,
    ) -> Vec<T> {
        (0..8)
            .map(|_| {
                let (store, write) = (store.clone(), write.clone());
                std::thread::spawn(move || write(&store))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    }

    /// A delivery's key is checked and recorded in its batch's own write: of many threads
    /// racing with the same key, exactly one batch applies, and the others are refused as
    /// repeats with nothing of them applied.
    #[test]
    fn racing_deliveries_apply_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        for round in 0..20 {
            let key = format!("click-{round}");
            let batch = delivered(&key);
            let results = racing(&store, move |s| s.commit(batch.clone()));
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "{key}: {results:?}");
            assert!(results
                .iter()
                .all(|r| matches!(r, Ok(_) | Err(StoreError::Repeat))));
        }
        assert_eq!(store.outbox_pending(Platform::Slack).unwrap().len(), 20);
        assert_eq!(store.forget_seen(1).unwrap(), 20);
        store
            .commit(delivered("click-0"))
            .expect("a forgotten key is new");
    }

    /// A conversation is saved only from the version it was read at: of many steps made
    /// from one read, one is saved (as the next version); the others are refused as stale,
    /// with nothing of them applied, and the one made from the new read is saved.
    #[test]
    fn racing_steps_from_one_read_save_once() {
        use crate::core::ids::{ThreadKey, UserRef};
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        let pack = crate::core::pack::parse_pack(
            "data/node-vs-python.toml",
            &std::fs::read_to_string("data/node-vs-python.toml").unwrap(),
            "prompts/node-vs-python.toml",
            &std::fs::read_to_string("prompts/node-vs-python.toml").unwrap(),
        )
        .unwrap();
        let key = ConversationKey {
            platform: Platform::Slack,
            workspace: WorkspaceId::new("T1"),
            channel: ChannelId::new("C1"),
            thread: ThreadKey::new("t1"),
            user: None,
        };
        let read = Conversation::start(&pack, 1, UserRef::new("U1", "ada"), 0);
        let step = |read: &Conversation, lane: &str| Batch {
            conversation: Some((key.clone(), read.clone())),
            outbox: vec![NewOutbox {
                platform: Platform::Slack,
                lane: lane.to_owned(),
                op: serde_json::json!({}).into(),
                produces: None,
            }],
            ..Batch::default()
        };
        let first = step(&read, "first");
        let results = racing(&store, move |s| s.commit(first.clone()));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::Stale))));
        let stored = store.conversation(&key).unwrap().unwrap();
        assert_eq!(stored.version, 1);
        assert_eq!(store.outbox_pending(Platform::Slack).unwrap().len(), 1);
        assert!(matches!(
            store.commit(step(&read, "stale")),
            Err(StoreError::Stale)
        ));
        store.commit(step(&stored, "again")).unwrap();
        assert_eq!(store.conversation(&key).unwrap().unwrap().version, 2);
        assert_eq!(store.outbox_pending(Platform::Slack).unwrap().len(), 2);
    }

    /// A record written before records had versions is at version 0; one that is not JSON
    /// matches no version, so no conditional write can replace it unread.
    #[test]
    fn records_without_a_version_are_at_zero() {
        assert_eq!(writer::version_of(br#"{"state":"finished"}"#), 0);
        assert_eq!(writer::version_of(br#"{"version":7,"x":[1,2]}"#), 7);
        assert_eq!(writer::version_of(b"\xff not json"), u64::MAX);
    }

    /// A write is visible to the next read once it returns, and an async write once its
    /// durability resolves.
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
