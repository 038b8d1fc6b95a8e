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

/// After answers raced to a conversation's first question: one was taken, `winner`'s, and
/// saved once (the conversation is at its second version: the start, the answer).
pub fn assert_answered_once(c: &tradeoff::core::conversation::Conversation, winner: &str) {
    assert_eq!(c.history, [0], "one answer, to the first question");
    assert_eq!(c.answers[0].as_ref().unwrap().by.id.as_str(), winner);
    assert_eq!(c.version, 2, "saved at the start and at the one answer");
}

/// Saves the conversation at `key` as it is given: tests use it to make one unreadable (a
/// pack version the store does not have) and to mend it again.
pub fn save_conversation(
    store: &dyn Store,
    key: &tradeoff::core::ids::ConversationKey,
    c: &tradeoff::core::conversation::Conversation,
) {
    store.put_conversation(key, c).unwrap();
}

/// A gate that store calls wait at while it is closed: a disk that has stalled. A Slack
/// `start` appends to the store on the async workers (the append is a copy into memory;
/// its sync is awaited), so a test must not stall one: that would block them, which the
/// real store's append does not.
#[derive(Clone, Default)]
pub struct Stall(
    Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    Arc<(std::sync::Mutex<Meeting>, std::sync::Condvar)>,
);

/// Reads held until a number of them have been made: see [`Stall::meet`].
#[derive(Default)]
struct Meeting {
    /// The sizes of the meetings to come, the next first.
    sizes: std::collections::VecDeque<usize>,
    /// Reads held at the next meeting so far.
    arrived: usize,
    /// Counts the meetings that have let their reads go.
    held: u64,
}

impl Stall {
    /// Holds the next `n` reads of a conversation or a poll, once read, until all `n` have
    /// read (at most 10 s): `n` changes racing on one record all read it before any of them
    /// can save, as real threads racing would at worst. Called again, the next `n` reads after
    /// those meet in turn.
    pub fn meet(&self, n: usize) {
        self.1 .0.lock().unwrap().sizes.push_back(n);
    }

    fn arrive(&self) {
        let (lock, arrived) = &*self.1;
        let mut m = lock.lock().unwrap();
        let Some(&size) = m.sizes.front() else {
            return;
        };
        m.arrived += 1;
        if m.arrived == size {
            m.sizes.pop_front();
            m.arrived = 0;
            m.held += 1;
            arrived.notify_all();
            return;
        }
        let held = m.held;
        let _ = arrived
            .wait_timeout_while(m, std::time::Duration::from_secs(10), |m| m.held == held)
            .unwrap();
    }

    pub fn close(&self) {
        *self.0 .0.lock().unwrap() = true;
    }

    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = false;
        self.0 .1.notify_all();
    }

    /// Opens the gate `ms` milliseconds from now, from a task of its own.
    pub fn open_in(&self, ms: u64) {
        let stall = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            stall.open();
        });
    }

    /// Waits while the gate is closed, for at most 20 s, so that a test whose code under
    /// test holds the gate's opener up fails instead of hanging.
    fn pass(&self) {
        let closed = self.0 .0.lock().unwrap();
        let _ = self
            .0
             .1
            .wait_timeout_while(closed, std::time::Duration::from_secs(20), |c| *c)
            .unwrap();
    }
}

/// The real sled store, with every call passing through a [`Stall`] first.
pub struct StallingStore {
    pub inner: Arc<dyn Store>,
    pub stall: Stall,
}

/// `inner`, with its calls waiting while the returned gate is closed.
pub fn stalling(inner: Arc<dyn Store>) -> (Arc<dyn Store>, Stall) {
    let stall = Stall::default();
    let store = Arc::new(StallingStore {
        inner,
        stall: stall.clone(),
    });
    (store, stall)
}

/// An app on a sled store in `dir` whose calls wait while the returned gate is closed.
pub fn stalling_app_in(dir: &Path, packs_root: &Path) -> (App, Stall) {
    let (store, stall) = stalling(Arc::new(SledStore::open(dir).expect("open store")));
    let sources = tradeoff::packs::read_dir(packs_root).expect("packs load");
    let catalog = Catalog::load(store.clone(), sources).expect("catalog");
    (App::new(store, catalog), stall)
}

mod stalling {
    use super::StallingStore;
    use tradeoff::core::conversation::Conversation;
    use tradeoff::core::ids::{ChannelId, ConversationKey, PackId, Platform, PollId, WorkspaceId};
    use tradeoff::core::poll::{Poll, RoundRecord};
    use tradeoff::store::*;

    /// Each method passes the gate, then calls the real store's.
    macro_rules! through_the_gate {
        ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
            $(fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.stall.pass();
                self.inner.$name($($arg),*)
            })*
        };
    }

    impl Store for StallingStore {
        fn conversation(&self, key: &ConversationKey) -> StoreResult<Option<Conversation>> {
            self.stall.pass();
            let read = self.inner.conversation(key);
            self.stall.arrive();
            read
        }

        fn poll(&self, id: &PollId) -> StoreResult<Option<Poll>> {
            self.stall.pass();
            let read = self.inner.poll(id);
            self.stall.arrive();
            read
        }

        through_the_gate! {
            fn put_pack(&self, source: &PackSource) -> StoreResult<u32>;
            fn pack(&self, id: &PackId, version: u32) -> StoreResult<Option<PackSource>>;
            fn put_conversation(&self, key: &ConversationKey, c: &Conversation) -> StoreResult<()>;
            fn conversations_in_channel(
                &self,
                platform: Platform,
                workspace: &WorkspaceId,
                channel: &ChannelId
            ) -> StoreResult<Vec<(ConversationKey, Conversation)>>;
            fn put_result(&self, record: &ResultRecord) -> StoreResult<()>;
            fn latest_result(
                &self,
                platform: Platform,
                workspace: &WorkspaceId,
                channel: &ChannelId
            ) -> StoreResult<Option<ResultRecord>>;
            fn commit(&self, batch: Batch) -> StoreResult<Vec<u64>>;
            fn commit_deferred(&self, batch: Batch) -> StoreResult<(Vec<u64>, Durability)>;
            fn outbox_pending_after(
                &self,
                platform: Platform,
                after: Option<u64>,
                limit: usize
            ) -> StoreResult<Vec<OutboxEntry>>;
            fn outbox_oldest(&self) -> StoreResult<Option<OutboxEntry>>;
            fn outbox_retry(&self, entry: &OutboxEntry) -> StoreResult<()>;
            fn outbox_delivered(&self, id: u64, produced: Option<(&str, &str)>) -> StoreResult<()>;
            fn outbox_dead(&self, entry: &OutboxEntry, reason: &str) -> StoreResult<()>;
            fn outbox_dead_letters(&self) -> StoreResult<Vec<(OutboxEntry, String)>>;
            fn open_polls(&self) -> StoreResult<Vec<Poll>>;
            fn open_poll_in(
                &self,
                platform: Platform,
                workspace: &WorkspaceId,
                channel: &ChannelId
            ) -> StoreResult<Option<Poll>>;
            fn poll_response(
                &self,
                poll: &PollId,
                round: u32,
                respondent: &str
            ) -> StoreResult<Option<PollResponse>>;
            fn poll_responses(&self, poll: &PollId, round: u32) -> StoreResult<Vec<(String, PollResponse)>>;
            fn round(&self, poll: &PollId, round: u32) -> StoreResult<Option<RoundRecord>>;
            fn rounds(&self) -> StoreResult<Vec<RoundRecord>>;
            fn results_in(&self, platform: Platform, workspace: &WorkspaceId, channel: &ChannelId) -> StoreResult<Vec<ResultRecord>>;
            fn get_ref(&self, name: &str) -> StoreResult<Option<String>>;
            fn put_ref(&self, name: &str, value: &str) -> StoreResult<()>;
            fn forget_seen(&self, older_than: i64) -> StoreResult<usize>;
        }
    }
}

/// Waits (up to 10 s) until `done` holds; fails the test, naming `what`, if it never does.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

/// The `tradeoff` binary, run from the repository with no data or packs directory from
/// the environment.
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tradeoff"));
    cmd.current_dir(root())
        .env_remove("TRADEOFF_DATA_DIR")
        .env_remove("TRADEOFF_PACKS_DIR");
    cmd
}

/// `tradeoff serve` on `addr` with its store in `dir`, its log (at info) on stderr, and no
/// platform turned on by the environment it runs in.
pub fn serve_command(dir: &Path, addr: &str) -> std::process::Command {
    let mut cmd = binary();
    cmd.args(["serve", "--addr", addr, "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for var in [
        "SLACK_SIGNING_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_API_URL",
        "SLACK_APP_TOKEN",
        "DISCORD_TOKEN",
        "DISCORD_PUBLIC_KEY",
        "DISCORD_APPLICATION_ID",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `tradeoff serve` with its store in `dir` and Slack on over HTTP (signed with `secret`,
/// posting with `token` to the Web API at `api_url`), once it listens: the process, its
/// base URL and its log. Blocks.
pub fn serve_slack(
    dir: &Path,
    api_url: &str,
    secret: &str,
    token: &str,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = serve_command(dir, &addr)
        .env("SLACK_SIGNING_SECRET", secret)
        .env("SLACK_BOT_TOKEN", token)
        .env("SLACK_API_URL", api_url)
        .spawn()
        .unwrap();
    let logs = lines(child.stderr.take().unwrap());
    wait_for(&logs, "listening");
    (child, format!("http://{addr}"), logs)
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child's output, a line at a time, collected on a thread so a test can wait for one.
pub fn lines(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lines up to and including the first containing `needle`; fails the test, showing
/// them, if none comes within 20 s.
pub fn wait_for(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(line) => {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(e) => panic!("never saw {needle:?} ({e}); output so far: {seen:#?}"),
        }
    }
}

/// Sends `signal` (as `kill` spells it: `-TERM`, `-KILL`) to `child` and waits, at most
/// 30 s, for it to end.
pub fn stop(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the process did not end within 30 s of {signal}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
