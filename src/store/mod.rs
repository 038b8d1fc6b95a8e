//! Persistence: the [`Store`] trait the rest of the program talks to, and its sled
//! implementation. Records are JSON in one sled tree per kind, so a store can be read with
//! nothing but sled and a JSON parser. sled is the only log: one writer applies and
//! flushes every write.

mod sled_store;
mod upgrade;
mod writer;

pub use sled_store::{sled_config, SledStore};
pub use writer::{Durability, Flush};

use crate::core::conversation::Conversation;
use crate::core::ids::{
    ChannelId, ConversationKey, PackId, Platform, PollId, UserRef, WorkspaceId,
};
use crate::core::poll::{Poll, RoundRecord};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} is in use by another tradeoff process; stop it, or pass a different --data-dir")]
    Locked { path: PathBuf },
    #[error("cannot open the data directory {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("upgrading the data directory's old journal: {0}")]
    Journal(std::io::Error),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A conditional write found its record changed since it was read: read it again and
    /// redo the step.
    #[error("a record changed since it was read")]
    Stale,
    /// A write carrying a delivery's key found the key already recorded: the delivery was
    /// handled before, and nothing of the write applied.
    #[error("this delivery was handled before")]
    Repeat,
    #[error("a stored {kind} record could not be read: {source}")]
    Corrupt {
        kind: &'static str,
        source: serde_json::Error,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A pack's two source files as they were loaded, kept per version so that a running
/// conversation always scores with the pack it started with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackSource {
    pub id: PackId,
    pub version: u32,
    pub criteria_name: String,
    pub criteria: String,
    pub prompts_name: String,
    pub prompts: String,
}

/// A finished conversation's result, kept per channel for `result` commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub key: ConversationKey,
    pub pack: PackId,
    pub pack_version: u32,
    /// question id -> choice id
    pub answers: BTreeMap<String, String>,
    /// `None` when the answers named no winner.
    pub recommendation: Option<String>,
    /// option id -> score 0–100
    pub scores: BTreeMap<String, f64>,
    pub started_by: UserRef,
    pub finished_at: i64,
    /// The names of those who answered, in the order they first did (empty in records
    /// written before it was kept).
    #[serde(default)]
    pub answered_by: Vec<String>,
}

/// A message waiting to go out to a platform. `op` is the adapter's own description of the
/// call (method and body); strings in it of the form `{{ref:NAME}}` are filled in from refs
/// set by earlier entries (e.g. the `ts` of a thread's parent message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewOutbox {
    pub platform: Platform,
    /// Entries of one lane go out one at a time, in the order they were queued: a lane is a
    /// thread or a channel.
    pub lane: String,
    pub op: OutboxOp,
    /// The ref this entry's result sets (the posted message's id), for later entries.
    pub produces: Option<String>,
}

/// An outbox operation, kept as the JSON text it is stored as. Queuing one serializes it
/// once, straight from the adapter's own types; only the sender parses it, when it is due.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboxOp(Box<RawValue>);

impl OutboxOp {
    /// The operation `op` describes. Serializing the adapters' operations cannot fail (they
    /// are plain data with string keys); if one ever did, the entry holds `null`, which the
    /// sender refuses, and the error is logged: it is never silently dropped.
    pub fn new(op: &impl Serialize) -> Self {
        OutboxOp(serde_json::value::to_raw_value(op).unwrap_or_else(|e| {
            tracing::error!("an outbox operation could not be serialized: {e}");
            RawValue::NULL.to_owned()
        }))
    }

    /// The operation as JSON, for the sender.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The stored JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl From<serde_json::Value> for OutboxOp {
    fn from(op: serde_json::Value) -> Self {
        OutboxOp::new(&op)
    }
}

impl PartialEq for OutboxOp {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A queued message. Stored as one flat JSON object: the [`NewOutbox`] fields next to the
/// delivery state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredEntry")]
pub struct OutboxEntry {
    pub id: u64,
    #[serde(flatten)]
    pub message: NewOutbox,
    pub attempts: u32,
    /// Milliseconds since the epoch before which the entry waits (a 429's Retry-After).
    pub not_before_ms: i64,
    pub last_error: Option<String>,
    /// When it was queued, in milliseconds since the epoch (0 in entries queued before
    /// this was kept).
    #[serde(default)]
    pub queued_ms: i64,
}

/// How an [`OutboxEntry`] is read back. `#[serde(flatten)]` writes the flat object well,
/// but reads through a buffer that cannot hold the operation's raw JSON, so reading names
/// the fields itself.
#[derive(Deserialize)]
struct StoredEntry {
    id: u64,
    platform: Platform,
    lane: String,
    op: OutboxOp,
    produces: Option<String>,
    attempts: u32,
    not_before_ms: i64,
    last_error: Option<String>,
    #[serde(default)]
    queued_ms: i64,
}

impl From<StoredEntry> for OutboxEntry {
    fn from(e: StoredEntry) -> Self {
        OutboxEntry {
            id: e.id,
            message: NewOutbox {
                platform: e.platform,
                lane: e.lane,
                op: e.op,
                produces: e.produces,
            },
            attempts: e.attempts,
            not_before_ms: e.not_before_ms,
            last_error: e.last_error,
            queued_ms: e.queued_ms,
        }
    }
}

/// Writes that must happen together: a conversation's new state, its result, and the
/// messages that tell people about it. Either all are saved or none is.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Saved only if the stored conversation is still at the `version` this one was read
    /// at (0: none was stored); it is saved as the next version. Otherwise the whole batch
    /// is refused with [`StoreError::Stale`]: read again and redo the step.
    pub conversation: Option<(ConversationKey, Conversation)>,
    /// The key of the delivery this batch handles (a platform's event id, a click) and
    /// when it came: the batch applies only the first time the key is seen, and records
    /// it; a repeat is refused with [`StoreError::Repeat`], nothing of it applied. Keys
    /// are forgotten by [`Store::forget_seen`].
    pub delivery: Option<(String, i64)>,
    pub result: Option<ResultRecord>,
    pub outbox: Vec<NewOutbox>,
    pub poll: Option<Poll>,
    /// A member's answers to a poll round, filed under their respondent key.
    pub response: Option<ResponseKey>,
    /// A closed round, kept for its summary and the channel's history.
    pub round: Option<RoundRecord>,
}

/// Where a poll response is filed, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseKey {
    pub poll: PollId,
    pub round: u32,
    /// The user id, or for an anonymous poll a salted hash of it.
    pub respondent: String,
    pub response: PollResponse,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResponse {
    /// question id -> choice id
    pub answers: BTreeMap<String, String>,
    pub at: i64,
    /// Who answered; always `None` in an anonymous poll.
    pub user: Option<UserRef>,
}

/// Everything the program persists. Implementations must make each write durable before
/// returning (but for [`Store::commit_deferred`]): a caller acknowledges a user only after
/// the write. A read sees every write that returned before it started, and nothing that is
/// not yet durable.
pub trait Store: Send + Sync + 'static {
    /// Records a pack's sources; returns its version, a new one only when the text changed.
    fn put_pack(&self, source: &PackSource) -> StoreResult<u32>;
    fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>>;

    fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>>;
    /// Saves a conversation as given, whatever is stored: for tools and tests. Steps are
    /// saved through [`Store::commit`], which checks the version they read.
    fn put_conversation(
        &self,
        key: &ConversationKey,
        conversation: &Conversation,
    ) -> StoreResult<()>;
    /// Open conversations in one channel, any thread or user.
    fn conversations_in_channel(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<(ConversationKey, Conversation)>>;

    fn put_result(&self, record: &ResultRecord) -> StoreResult<()>;
    fn latest_result(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<ResultRecord>>;

    /// A channel's results, oldest first.
    fn results_in(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<ResultRecord>>;

    /// Saves a batch atomically and durably; returns the ids given to its outbox entries.
    fn commit(&self, batch: Batch) -> StoreResult<Vec<u64>>;
    /// Saves a batch atomically, returning before it is durable: await the [`Durability`]
    /// before telling anyone it is saved. Lets an async caller wait without a thread.
    fn commit_deferred(&self, batch: Batch) -> StoreResult<(Vec<u64>, Durability)>;

    /// Queued messages for one platform, oldest first.
    fn outbox_pending(&self, platform: Platform) -> StoreResult<Vec<OutboxEntry>> {
        self.outbox_pending_after(platform, None, usize::MAX)
    }
    /// Up to `limit` queued messages for one platform with ids above `after`, oldest
    /// first. Ids become visible in order, so a reader that remembers the last id it saw
    /// misses nothing.
    fn outbox_pending_after(
        &self,
        platform: Platform,
        after: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxEntry>>;
    /// The oldest queued message of any platform: how long the outbox has been behind.
    fn outbox_oldest(&self) -> StoreResult<Option<OutboxEntry>>;
    /// Records a failed attempt (attempts, wait, error) on a queued entry.
    fn outbox_retry(&self, entry: &OutboxEntry) -> StoreResult<()>;
    /// Removes a delivered entry and, in the same write, records the ref it produced.
    /// A crash between the platform accepting the message and this write means the message
    /// is sent again at the next start: the one instant of at-least-once delivery.
    fn outbox_delivered(&self, id: u64, produced: Option<(&str, &str)>) -> StoreResult<()>;
    /// Moves an entry the platform refused for good aside, with the reason, for operators.
    fn outbox_dead(&self, entry: &OutboxEntry, reason: &str) -> StoreResult<()>;
    fn outbox_dead_letters(&self) -> StoreResult<Vec<(OutboxEntry, String)>>;

    fn poll(&self, id: &PollId) -> StoreResult<Option<Poll>>;
    /// Every poll that is still open, on any platform.
    fn open_polls(&self) -> StoreResult<Vec<Poll>>;
    /// The open poll in a channel, if any.
    fn open_poll_in(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<Poll>>;
    /// One member's response to a round, if they answered.
    fn poll_response(
        &self,
        poll: &PollId,
        round: u32,
        respondent: &str,
    ) -> StoreResult<Option<PollResponse>>;
    /// The responses to one round, keyed by respondent.
    fn poll_responses(&self, poll: &PollId, round: u32)
        -> StoreResult<Vec<(String, PollResponse)>>;

    /// A closed round of a poll.
    fn round(&self, poll: &PollId, round: u32) -> StoreResult<Option<RoundRecord>>;
    /// Every closed poll round, of every poll.
    fn rounds(&self) -> StoreResult<Vec<RoundRecord>>;
    /// The latest closed poll round in a channel. Rounds are kept by poll, so a channel's are
    /// found among them all (a store holds few polls next to its conversations).
    fn latest_round(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> StoreResult<Option<RoundRecord>> {
        Ok(self
            .rounds()?
            .into_iter()
            .filter(|r| {
                r.platform == platform && &r.workspace == workspace && &r.channel == channel
            })
            .max_by_key(|r| r.closed_at))
    }

    /// A value set by a delivered outbox entry (see [`NewOutbox::produces`]).
    fn get_ref(&self, name: &str) -> StoreResult<Option<String>>;
    fn put_ref(&self, name: &str, value: &str) -> StoreResult<()>;

    /// Forgets delivery keys (see [`Batch::delivery`]) recorded before `older_than`.
    fn forget_seen(&self, older_than: i64) -> StoreResult<usize>;
}
