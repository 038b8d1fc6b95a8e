//! Persistence: the [`Store`] trait the rest of the program talks to, and its sled
//! implementation. Records are JSON in one sled tree per kind, so a store can be read with
//! nothing but sled and a JSON parser.

mod sled_store;

pub use sled_store::SledStore;

use crate::core::conversation::Conversation;
use crate::core::ids::{ChannelId, ConversationKey, PackId, Platform, UserRef, WorkspaceId};
use serde::{Deserialize, Serialize};
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
    pub recommendation: String,
    /// option id -> score 0–100
    pub scores: BTreeMap<String, f64>,
    pub started_by: UserRef,
    pub finished_at: i64,
}

/// Everything the program persists. Implementations must make each write durable before
/// returning: a caller acknowledges a user only after the write.
pub trait Store: Send + Sync + 'static {
    /// Records a pack's sources; returns its version, a new one only when the text changed.
    fn put_pack(&self, source: &PackSource) -> StoreResult<u32>;
    fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>>;
    /// Every pack id with its latest version.
    fn pack_versions(&self) -> StoreResult<Vec<(PackId, u32)>>;

    fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>>;
    fn put_conversation(
        &self,
        key: &ConversationKey,
        conversation: &Conversation,
    ) -> StoreResult<()>;
    fn delete_conversation(&self, key: &ConversationKey) -> StoreResult<()>;
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
}
