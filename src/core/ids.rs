//! Typed identifiers. A question id and a choice id are both strings on the wire, but
//! mixing them up is a bug the compiler can catch.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

string_id!(
    /// A decision pack, e.g. `node-vs-python`.
    PackId
);
string_id!(
    /// An option a pack decides between, e.g. `nodejs`.
    OptionId
);
string_id!(
    /// A criterion from the source, e.g. `io_concurrency`.
    CriterionId
);
string_id!(
    /// A question of a pack's conversation, e.g. `workload`.
    QuestionId
);
string_id!(
    /// A choice within one question, e.g. `realtime`.
    ChoiceId
);
string_id!(
    /// A workspace (Slack team) or guild (Discord); `local` in the terminal.
    WorkspaceId
);
string_id!(
    /// A channel on the platform; `terminal` in the terminal.
    ChannelId
);
string_id!(
    /// The thread a conversation lives in: Slack's parent `ts`, Discord's thread channel id.
    ThreadKey
);
string_id!(
    /// A user on the platform.
    UserId
);
string_id!(
    /// A team poll.
    PollId
);

/// Where a conversation happens. Part of every key so that platforms never mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Terminal,
    Slack,
    Discord,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Terminal => "terminal",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person as the core sees them: an id to record, a name to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: UserId,
    pub name: String,
}

impl UserRef {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: UserId::new(id),
            name: name.into(),
        }
    }
}

/// Identifies one conversation: a platform thread, and for private flows (the terminal, a
/// poll answer) the user too.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConversationKey {
    pub platform: Platform,
    pub workspace: WorkspaceId,
    pub channel: ChannelId,
    pub thread: ThreadKey,
    pub user: Option<UserId>,
}

impl ConversationKey {
    /// A stable string form used as a storage key. Parts are separated by a byte that
    /// cannot occur in platform ids, so two different keys never collide.
    pub fn storage_key(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.platform,
            self.workspace,
            self.channel,
            self.thread,
            self.user.as_ref().map(UserId::as_str).unwrap_or("")
        )
    }

    /// The prefix shared by every conversation in one channel.
    pub fn channel_prefix(
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> String {
        format!("{platform}\u{1f}{workspace}\u{1f}{channel}\u{1f}")
    }
}
