//! The sled implementation of [`Store`]. One tree per kind of record; values are JSON.
//! Every write is flushed before it returns, so what a user was told is saved survives a
//! crash. A lock file keeps a second process off the same directory with a clear error.

use super::{
    Batch, NewOutbox, OutboxEntry, PackSource, PollResponse, ResultRecord, Store, StoreError,
    StoreResult,
};
use crate::core::conversation::Conversation;
use crate::core::ids::{ChannelId, ConversationKey, PackId, Platform, PollId, WorkspaceId};
use crate::core::poll::{Poll, PollState};
use fs2::FileExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

pub struct SledStore {
    db: sled::Db,
    packs: sled::Tree,
    conversations: sled::Tree,
    results: sled::Tree,
    outbox: sled::Tree,
    dead: sled::Tree,
    refs: sled::Tree,
    seen: sled::Tree,
    polls: sled::Tree,
    responses: sled::Tree,
    // Held for the life of the store: the OS lock on the data directory.
    _lock: File,
    /// Serialises id generation and the batch transaction, so outbox ids become visible in
    /// id order (the outbox reads only ids above the last it saw).
    commit_order: Mutex<()>,
    flush: FlushGate,
}

/// Group commit: writers that finish while a flush is running wait for the next flush, and
/// one flush then makes all of them durable. Under load this turns one disk sync per write
/// into one per batch of concurrent writes, without ever acknowledging an unflushed write.
#[derive(Default)]
struct FlushGate {
    state: Mutex<GateState>,
    done: Condvar,
}

impl FlushGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct GateState {
    /// Writes applied so far (a ticket counter).
    written: u64,
    /// Every write up to this ticket is on disk.
    flushed: u64,
    flushing: bool,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

const SEP: u8 = 0x1f;

impl SledStore {
    /// Opens (creating if needed) the store in `dir`.
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
        // sled's default page cache is 1 GiB; the bot's working set (open conversations, the
        // outbox) is small, and a chat bot should not grow to hundreds of MB under load.
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(16 * 1024 * 1024)
            .open()?;
        Ok(SledStore {
            packs: db.open_tree("packs")?,
            conversations: db.open_tree("conversations")?,
            results: db.open_tree("results")?,
            outbox: db.open_tree("outbox")?,
            dead: db.open_tree("outbox_dead")?,
            refs: db.open_tree("refs")?,
            seen: db.open_tree("seen")?,
            polls: db.open_tree("polls")?,
            responses: db.open_tree("poll_responses")?,
            db,
            _lock: lock,
            commit_order: Mutex::new(()),
            flush: FlushGate::default(),
        })
    }

    /// The directory's database, for tests that read records directly.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    fn put<T: Serialize>(&self, tree: &sled::Tree, key: &[u8], value: &T) -> StoreResult<()> {
        tree.insert(key, encode(value))?;
        self.durable()
    }

    /// Returns once every write this thread made before the call is on disk.
    fn durable(&self) -> StoreResult<()> {
        let mut state = self.flush.lock();
        state.written += 1;
        let ticket = state.written;
        loop {
            if state.flushed >= ticket {
                return Ok(());
            }
            if state.flushing {
                state = self
                    .flush
                    .done
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // This thread flushes for everyone who wrote so far.
            state.flushing = true;
            let target = state.written;
            drop(state);
            let result = self.db.flush();
            state = self.flush.lock();
            state.flushing = false;
            if result.is_ok() {
                state.flushed = state.flushed.max(target);
            }
            self.flush.done.notify_all();
            result?;
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize to JSON")
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
        self.commit_batch(batch)
    }

    fn outbox_pending_after(
        &self,
        platform: crate::core::ids::Platform,
        after: Option<u64>,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for item in self.outbox.range(start.to_be_bytes()..) {
            let (_, bytes) = item?;
            let entry: OutboxEntry = decode("outbox entry", &bytes)?;
            if entry.message.platform == platform {
                out.push(entry);
            }
        }
        Ok(out)
    }

    fn outbox_retry(&self, entry: &OutboxEntry) -> StoreResult<()> {
        self.put(&self.outbox, &entry.id.to_be_bytes(), entry)
    }

    fn outbox_delivered(&self, id: u64, produced: Option<(&str, &str)>) -> StoreResult<()> {
        (&self.outbox, &self.refs)
            .transaction(|(outbox, refs)| {
                outbox.remove(&id.to_be_bytes())?;
                if let Some((name, value)) = produced {
                    refs.insert(name.as_bytes(), value.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_error)?;
        self.durable()?;
        Ok(())
    }

    fn outbox_dead(&self, entry: &OutboxEntry, reason: &str) -> StoreResult<()> {
        let record = serde_json::json!({ "entry": entry, "reason": reason });
        (&self.outbox, &self.dead)
            .transaction(|(outbox, dead)| {
                outbox.remove(&entry.id.to_be_bytes())?;
                dead.insert(&entry.id.to_be_bytes(), encode(&record))?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_error)?;
        self.durable()?;
        Ok(())
    }

    fn outbox_dead_letters(&self) -> StoreResult<Vec<(OutboxEntry, String)>> {
        #[derive(serde::Deserialize)]
        struct Dead {
            entry: OutboxEntry,
            reason: String,
        }
        self.dead
            .iter()
            .map(|item| {
                let (_, bytes) = item?;
                let d: Dead = decode("dead letter", &bytes)?;
                Ok((d.entry, d.reason))
            })
            .collect()
    }

    fn poll(&self, id: &PollId) -> StoreResult<Option<Poll>> {
        self.polls
            .get(id.as_str().as_bytes())?
            .map(|b| decode("poll", &b))
            .transpose()
    }

    fn open_polls(&self) -> StoreResult<Vec<Poll>> {
        let mut out = Vec::new();
        for item in self.polls.iter() {
            let (_, bytes) = item?;
            let poll: Poll = decode("poll", &bytes)?;
            if poll.state == PollState::Open {
                out.push(poll);
            }
        }
        Ok(out)
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
        self.responses
            .get(response_key(poll, round, respondent))?
            .map(|b| decode("poll response", &b))
            .transpose()
    }

    fn poll_responses(
        &self,
        poll: &PollId,
        round: u32,
    ) -> StoreResult<Vec<(String, PollResponse)>> {
        let prefix = response_prefix(poll, round);
        self.responses
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, bytes) = item?;
                let respondent = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                Ok((respondent, decode("poll response", &bytes)?))
            })
            .collect()
    }

    fn get_ref(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(self
            .refs
            .get(name.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn put_ref(&self, name: &str, value: &str) -> StoreResult<()> {
        self.refs.insert(name.as_bytes(), value.as_bytes())?;
        self.durable()?;
        Ok(())
    }

    fn first_time(&self, key: &str, now: i64) -> StoreResult<bool> {
        let inserted = self
            .seen
            .compare_and_swap(
                key.as_bytes(),
                None as Option<&[u8]>,
                Some(&now.to_be_bytes()[..]),
            )?
            .is_ok();
        if inserted {
            self.durable()?;
        }
        Ok(inserted)
    }

    fn forget_seen(&self, older_than: i64) -> StoreResult<usize> {
        let mut removed = 0;
        for item in self.seen.iter() {
            let (key, value) = item?;
            let at = value
                .as_ref()
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(i64::MIN);
            if at < older_than {
                self.seen.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn put_pack(&self, source: &PackSource) -> StoreResult<u32> {
        let latest = self
            .packs
            .scan_prefix(pack_prefix(&source.id))
            .next_back()
            .transpose()?;
        let next = match latest {
            Some((_, bytes)) => {
                let stored: PackSource = decode("pack", &bytes)?;
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
        self.put(&self.packs, &pack_key(&source.id, next), &record)?;
        Ok(next)
    }

    fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>> {
        self.packs
            .get(pack_key(id, version))?
            .map(|b| decode("pack", &b))
            .transpose()
    }

    fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>> {
        self.conversations
            .get(key.storage_key())?
            .map(|b| decode("conversation", &b))
            .transpose()
    }

    fn put_conversation(
        &self,
        key: &ConversationKey,
        conversation: &Conversation,
    ) -> StoreResult<()> {
        self.put(
            &self.conversations,
            key.storage_key().as_bytes(),
            conversation,
        )
    }

    fn conversations_in_channel(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<(ConversationKey, Conversation)>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        let mut out = Vec::new();
        for item in self.conversations.scan_prefix(prefix.as_bytes()) {
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
    }

    fn put_result(&self, record: &ResultRecord) -> StoreResult<()> {
        self.put(&self.results, &result_key(record), record)
    }

    fn latest_result(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<ResultRecord>> {
        let prefix = ConversationKey::channel_prefix(platform, workspace, channel);
        self.results
            .scan_prefix(prefix.as_bytes())
            .next_back()
            .transpose()?
            .map(|(_, b)| decode("result", &b))
            .transpose()
    }
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

impl SledStore {
    fn commit_batch(&self, batch: Batch) -> StoreResult<Vec<u64>> {
        // Encode first, outside the lock: only the ids and the transaction need it.
        let conversation = batch
            .conversation
            .map(|(k, c)| (k.storage_key(), encode(&c)));
        let result = batch.result.map(|r| (result_key(&r), encode(&r)));
        let poll = batch
            .poll
            .map(|p| (p.id.as_str().as_bytes().to_vec(), encode(&p)));
        let response = batch.response.map(|r| {
            (
                response_key(&r.poll, r.round, &r.respondent),
                encode(&r.response),
            )
        });
        // Ids and transaction under one lock: generate_id is monotonic across restarts, and
        // holding the lock until the transaction is applied makes ids visible in order. The
        // flush happens after the lock is released, shared with concurrent writers.
        let order = self.commit_order.lock().unwrap_or_else(|e| e.into_inner());
        let entries: Vec<(u64, Vec<u8>)> = batch
            .outbox
            .into_iter()
            .map(|message: NewOutbox| {
                let entry = OutboxEntry {
                    id: self.db.generate_id()?,
                    message,
                    attempts: 0,
                    not_before_ms: 0,
                    last_error: None,
                };
                Ok((entry.id, encode(&entry)))
            })
            .collect::<StoreResult<_>>()?;
        let trees = (
            &self.conversations,
            &self.results,
            &self.outbox,
            &self.polls,
            &self.responses,
        );
        trees
            .transaction(|(conversations, results, outbox, polls, responses)| {
                if let Some((key, bytes)) = &poll {
                    polls.insert(key.as_slice(), bytes.as_slice())?;
                }
                if let Some((key, bytes)) = &response {
                    responses.insert(key.as_slice(), bytes.as_slice())?;
                }
                if let Some((key, bytes)) = &conversation {
                    conversations.insert(key.as_bytes(), bytes.as_slice())?;
                }
                if let Some((key, bytes)) = &result {
                    results.insert(key.as_slice(), bytes.as_slice())?;
                }
                for (id, bytes) in &entries {
                    outbox.insert(&id.to_be_bytes(), bytes.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(tx_error)?;
        drop(order);
        self.durable()?;
        Ok(entries.iter().map(|(id, _)| *id).collect())
    }
}
