//! Whether the service can do its work, part by part: the store, each platform's
//! credentials and connection, the outbox. The parts that run in the background (Slack's
//! `auth.test`, the Socket Mode and gateway connections) record their state here as it
//! changes; the store and the outbox are looked at when asked. `GET /readyz` and
//! `tradeoff health` report it, with the reason for each part that is not ready.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// One part's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Part {
    pub ready: bool,
    /// What it is doing, or why it is not ready and what to do.
    pub detail: String,
}

/// The parts recorded so far, by name.
#[derive(Debug, Default)]
pub struct Readiness {
    parts: RwLock<BTreeMap<&'static str, Part>>,
}

impl Readiness {
    pub fn set(&self, name: &'static str, ready: bool, detail: impl Into<String>) {
        let part = Part {
            ready,
            detail: detail.into(),
        };
        if let Ok(mut parts) = self.parts.write() {
            parts.insert(name, part);
        }
    }

    /// Every part recorded, by name.
    pub fn parts(&self) -> BTreeMap<&'static str, Part> {
        self.parts.read().map(|p| p.clone()).unwrap_or_default()
    }
}

/// How long a platform call that failed waits before it is tried again: 1 s, 2 s, 4 s ...
/// up to 5 minutes.
pub fn retry_after(failures: u32) -> std::time::Duration {
    std::time::Duration::from_millis(crate::outbox::doubling_ms(failures, 300_000) as u64)
}
