//! Helpers shared by the integration tests: the shipped pack, the fixture pack, and apps on
//! real sled stores in temporary directories.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tradeoff::app::App;
use tradeoff::core::pack::{parse_pack, Pack};
use tradeoff::core::score::Answers;
use tradeoff::packs::Catalog;
use tradeoff::store::{SledStore, Store};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn shipped_sources() -> (String, String) {
    (
        read("data/node-vs-python.toml"),
        read("prompts/node-vs-python.toml"),
    )
}

pub fn shipped() -> Pack {
    let (c, p) = shipped_sources();
    parse_pack(
        "data/node-vs-python.toml",
        &c,
        "prompts/node-vs-python.toml",
        &p,
    )
    .expect("shipped pack is valid")
}

pub fn fixture_root() -> PathBuf {
    root().join("tests/fixtures/packs")
}

pub fn answers(pack: &Pack, pairs: &[(&str, &str)]) -> Answers {
    Answers::from_ids(pack, pairs.iter().copied()).expect("valid answers")
}

/// An app on a fresh sled store in `dir`, with the packs under `packs_root`.
pub fn app_in(dir: &Path, packs_root: &Path) -> App {
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir).expect("open store"));
    let sources = tradeoff::packs::read_dir(packs_root).expect("packs load");
    let catalog = Catalog::load(store.clone(), sources).expect("catalog");
    App::new(store, catalog)
}

/// Saves the conversation at `key` as it is given: tests use it to make one unreadable (a
/// pack version the store does not have) and to mend it again.
pub fn save_conversation(
    store: &dyn Store,
    key: &tradeoff::core::ids::ConversationKey,
    c: &tradeoff::core::conversation::Conversation,
) {
    store
        .commit(tradeoff::store::Batch {
            conversation: Some((key.clone(), c.clone())),
            ..Default::default()
        })
        .unwrap();
}
