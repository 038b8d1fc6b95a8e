//! The sled store on real directories: conversations survive a restart exactly where they
//! were, packs are versioned, a second process is refused, batches are atomic.

use crate::common;

use std::sync::Arc;
use tradeoff::core::conversation::{Input, Next, State};
use tradeoff::core::ids::{ChannelId, ConversationKey, Platform, ThreadKey, UserRef, WorkspaceId};
use tradeoff::packs::Catalog;
use tradeoff::store::{Batch, NewOutbox, SledStore, Store, StoreError};

fn key(thread: &str) -> ConversationKey {
    ConversationKey {
        platform: Platform::Slack,
        workspace: WorkspaceId::new("T1"),
        channel: ChannelId::new("C1"),
        thread: ThreadKey::new(thread),
        user: None,
    }
}

fn ada() -> UserRef {
    UserRef::new("U1", "Ada")
}

#[test]
fn a_conversation_resumes_exactly_where_it_was_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let app = common::app_in(dir.path(), &common::root());
        app.start(&key("1.0"), None, ada(), 10).unwrap();
        for (i, reply) in ["realtime", "high", "some"].iter().enumerate() {
            app.step(
                &key("1.0"),
                Input::Text((*reply).into()),
                &ada(),
                11 + i as i64,
            )
            .unwrap();
        }
        app.store.conversation(&key("1.0")).unwrap().unwrap()
        // The app and its store are dropped here, as when the process stops.
    };
    let app = common::app_in(dir.path(), &common::root());
    let after = app
        .store
        .conversation(&key("1.0"))
        .unwrap()
        .expect("still there");
    assert_eq!(after, before);
    let (pack, _, conversation) = app.open_conversation(&key("1.0")).unwrap().unwrap();
    assert_eq!(
        conversation.state,
        State::Asking(pack.question_index("ml_runtime").unwrap())
    );
    let update = app
        .step(&key("1.0"), Input::Text("hosted".into()), &ada(), 20)
        .unwrap();
    assert_eq!(
        update.transition.next,
        Next::Ask(pack.question_index("team_skills").unwrap())
    );
}

#[test]
fn conversations_in_different_threads_and_platforms_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let discord = ConversationKey {
        platform: Platform::Discord,
        ..key("1.0")
    };
    app.start(&key("1.0"), None, ada(), 0).unwrap();
    app.start(&key("2.0"), None, ada(), 0).unwrap();
    app.start(&discord, None, ada(), 0).unwrap();
    app.step(&key("1.0"), Input::Text("realtime".into()), &ada(), 1)
        .unwrap();
    assert!(app
        .store
        .conversation(&key("2.0"))
        .unwrap()
        .unwrap()
        .answers[0]
        .is_none());
    assert!(app.store.conversation(&discord).unwrap().unwrap().answers[0].is_none());
    let in_channel = app
        .store
        .conversations_in_channel(
            Platform::Slack,
            &WorkspaceId::new("T1"),
            &ChannelId::new("C1"),
        )
        .unwrap();
    assert_eq!(in_channel.len(), 2);
    assert!(in_channel.iter().any(|(k, _)| k == &key("1.0")));
}

#[test]
fn a_second_process_on_the_same_directory_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let err = SledStore::open(dir.path()).expect_err("the directory is locked");
    assert!(matches!(err, StoreError::Locked { .. }));
    assert!(
        err.to_string()
            .contains("in use by another tradeoff process"),
        "{err}"
    );
}

#[test]
fn a_running_conversation_keeps_the_pack_version_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let packs = tempfile::tempdir().unwrap();
    let write = |criteria: &str, prompts: &str| {
        std::fs::create_dir_all(packs.path().join("data")).unwrap();
        std::fs::create_dir_all(packs.path().join("prompts")).unwrap();
        std::fs::write(packs.path().join("data/node-vs-python.toml"), criteria).unwrap();
        std::fs::write(packs.path().join("prompts/node-vs-python.toml"), prompts).unwrap();
    };
    let (c, p) = common::shipped_sources();
    write(&c, &p);
    {
        let app = common::app_in(dir.path(), packs.path());
        assert_eq!(app.catalog.latest("node-vs-python").unwrap().1, 1);
        app.start(&key("1.0"), None, ada(), 0).unwrap();
    }
    // The operator renames a choice label and restarts.
    write(
        &c,
        &p.replace("label = \"Real-time\"", "label = \"Live features\""),
    );
    let app = common::app_in(dir.path(), packs.path());
    assert_eq!(app.catalog.latest("node-vs-python").unwrap().1, 2);
    let (pack, version, _) = app.open_conversation(&key("1.0")).unwrap().unwrap();
    assert_eq!(version, 1);
    assert_eq!(pack.questions[0].choices[0].label, "Real-time");
    // A new conversation gets the new version.
    let update = app.start(&key("2.0"), None, ada(), 0).unwrap();
    assert_eq!(update.version, 2);
    assert_eq!(update.pack.questions[0].choices[0].label, "Live features");
    // A poll's private form asks the questions of the poll's own version.
    let (old_pack, _, _) = app.open_conversation(&key("1.0")).unwrap().unwrap();
    let form = app
        .start_pinned(&key("form"), old_pack, 1, ada(), 0, |_| Vec::new())
        .unwrap();
    assert_eq!(form.version, 1);
    assert_eq!(form.conversation.pack_version, 1);
    assert_eq!(form.pack.questions[0].choices[0].label, "Real-time");
    // Reloading unchanged text does not bump the version.
    drop(app);
    let app = common::app_in(dir.path(), packs.path());
    assert_eq!(app.catalog.latest("node-vs-python").unwrap().1, 2);
}

#[test]
fn results_are_kept_per_channel_latest_first() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let finish = |k: &ConversationKey, first: &str, at: i64| {
        app.start(k, None, ada(), at).unwrap();
        app.step(k, Input::Text(first.into()), &ada(), at).unwrap();
        let mut update = app.step(k, Input::Text("skip".into()), &ada(), at).unwrap();
        while update.transition.next != Next::Finished {
            update = app.step(k, Input::Text("skip".into()), &ada(), at).unwrap();
        }
        update
    };
    let err = app
        .latest_result(
            Platform::Slack,
            &WorkspaceId::new("T1"),
            &ChannelId::new("C1"),
        )
        .expect_err("no result yet");
    assert!(err.user_text().contains("no result"), "{}", err.user_text());
    finish(&key("1.0"), "data_ml", 100);
    let last = finish(&key("2.0"), "realtime", 200);
    assert!(last.outcome.is_some() && last.card().is_some());
    let (record, card) = app
        .latest_result(
            Platform::Slack,
            &WorkspaceId::new("T1"),
            &ChannelId::new("C1"),
        )
        .unwrap();
    assert_eq!(record.key, key("2.0"));
    assert_eq!(record.recommendation.as_deref(), Some("nodejs"));
    assert_eq!(card.pick.as_deref(), Some("nodejs"));
    assert_eq!(
        record.answers.get("workload").map(String::as_str),
        Some("realtime")
    );
}

/// A batch that handles one delivery.
fn delivery(key: &str, at: i64) -> Batch {
    Batch {
        delivery: Some((key.to_owned(), at)),
        ..Batch::default()
    }
}

#[test]
fn a_delivery_applies_once_and_old_keys_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let repeat = |r: Result<Vec<u64>, StoreError>| matches!(r, Err(StoreError::Repeat));
    store.commit(delivery("event:Ev1", 100)).unwrap();
    assert!(repeat(store.commit(delivery("event:Ev1", 101))));
    store.commit(delivery("event:Ev2", 500)).unwrap();
    assert_eq!(store.forget_seen(400).unwrap(), 1);
    store.commit(delivery("event:Ev1", 600)).unwrap();
    assert!(repeat(store.commit(delivery("event:Ev2", 600))));
    // A refused repeat applies nothing of its batch.
    let with_message = Batch {
        outbox: vec![NewOutbox {
            platform: Platform::Slack,
            lane: "l".into(),
            op: serde_json::json!({ "text": "again" }).into(),
            produces: None,
        }],
        ..delivery("event:Ev2", 601)
    };
    assert!(repeat(store.commit(with_message)));
    assert!(store.outbox_pending(Platform::Slack).unwrap().is_empty());
}

#[test]
fn the_catalog_serves_old_versions_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let sources = tradeoff::packs::read_dir(&common::root()).unwrap();
    let catalog = Catalog::load(store.clone(), sources).unwrap();
    let (pack, version) = catalog.default_pack().unwrap();
    let again = catalog.get(&pack.id, version).unwrap();
    assert_eq!(again.id, pack.id);
    assert!(catalog.get(&pack.id, version + 7).is_err());
}

/// Queued messages are stored as one flat JSON object, as earlier versions wrote them: an
/// entry queued before an upgrade is still delivered after it.
#[test]
fn outbox_entries_keep_their_stored_layout() {
    use serde_json::{json, Value};
    use tradeoff::store::{Batch, NewOutbox};
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let op =
        json!({ "method": "chat.postMessage", "body": { "channel": "C1", "text": "a & <b>" } });
    let ids = store
        .commit(Batch {
            outbox: vec![NewOutbox {
                platform: Platform::Slack,
                lane: "slack|T1|C1|1.0".into(),
                op: op.clone().into(),
                produces: Some("slack|T1|C1|1.0|parent".into()),
            }],
            ..Batch::default()
        })
        .unwrap();
    let outbox = store.db().open_tree("outbox").unwrap();
    let mut stored: Value =
        serde_json::from_slice(&outbox.get(ids[0].to_be_bytes()).unwrap().unwrap()).unwrap();
    // When it was queued: now, give or take the test's run.
    let queued_ms = stored["queued_ms"].take().as_i64().unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(
        (now_ms - 60_000..=now_ms).contains(&queued_ms),
        "{queued_ms}"
    );
    assert_eq!(
        stored,
        json!({
            "id": ids[0], "platform": "slack", "lane": "slack|T1|C1|1.0", "op": op,
            "produces": "slack|T1|C1|1.0|parent", "attempts": 0, "not_before_ms": 0,
            "last_error": null, "queued_ms": null,
        })
    );

    // An entry as an earlier version wrote it, with its optional fields left out.
    let old_id = ids[0] + 1;
    let old = json!({
        "id": old_id, "platform": "slack", "lane": "slack|T1|C1|2.0",
        "op": { "method": "chat.update", "body": { "ts": "{{ref:x}}" } },
        "attempts": 2, "not_before_ms": 5,
    });
    outbox
        .insert(old_id.to_be_bytes(), serde_json::to_vec(&old).unwrap())
        .unwrap();
    let pending = store.outbox_pending(Platform::Slack).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].message.op.to_value().unwrap(), op);
    let read = &pending[1];
    assert_eq!((read.id, read.attempts, read.not_before_ms), (old_id, 2, 5));
    assert_eq!(
        (read.message.produces.as_deref(), read.last_error.as_deref()),
        (None, None)
    );
    assert_eq!(read.message.op.to_value().unwrap(), old["op"]);
}

/// An operation that cannot be serialized (here, a map with non-string keys) is queued as
/// `null`, which every sender refuses into the dead letters: it is never silently lost.
#[test]
fn an_unserializable_operation_is_queued_as_null() {
    let op: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert_eq!(tradeoff::store::OutboxOp::new(&op).as_str(), "null");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A data directory written by the last release with a journal of its own in front of
/// sled (`tests/fixtures/store-with-journal/make.sh` says how it was made): a terminal
/// conversation killed before its writes reached sled's files. Today's store applies the
/// journal once, removes it, and the conversation is there with all three answers.
#[test]
fn a_data_directory_from_the_journal_release_upgrades_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &common::root().join("tests/fixtures/store-with-journal/store"),
        dir.path(),
    );
    let key = ConversationKey {
        platform: Platform::Terminal,
        workspace: WorkspaceId::new("local"),
        channel: ChannelId::new("terminal"),
        thread: ThreadKey::new("node-vs-python"),
        user: Some("ada".into()),
    };
    // Before: sled's own files do not have the conversation; only the journal does.
    {
        let db = tradeoff::store::sled_config(&dir.path().join("db"))
            .open()
            .unwrap();
        let tree = db.open_tree("conversations").unwrap();
        assert!(
            tree.get(key.storage_key()).unwrap().is_none(),
            "the fixture must hold the conversation only in its journal"
        );
    }
    let store = SledStore::open(dir.path()).expect("the old directory opens");
    assert!(
        !dir.path().join("journal").exists(),
        "the journal is removed"
    );
    let c = store
        .conversation(&key)
        .unwrap()
        .expect("the journal's conversation is in sled now");
    let pack = common::shipped();
    assert_eq!(
        c.answer_set(),
        common::answers(
            &pack,
            &[
                ("workload", "realtime"),
                ("concurrency", "high"),
                ("ai_ml", "core"),
            ]
        ),
        "every acknowledged answer survived"
    );
    assert_eq!(c.answers.iter().flatten().next().unwrap().by.name, "ada");
    // And it stays there: the next start has nothing left to upgrade.
    drop(store);
    let store = SledStore::open(dir.path()).unwrap();
    assert!(store.conversation(&key).unwrap().is_some());
}

/// `cancel` said in a channel stops the caller's own latest decision there, else the one
/// most recently moved; never a member's private poll form, never one in another channel.
#[test]
fn cancel_picks_the_callers_own_decision_then_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_in(dir.path(), &common::root());
    let grace = UserRef::new("U2", "Grace");
    app.start(&key("1.0"), None, ada(), 100).unwrap();
    app.start(&key("2.0"), None, grace.clone(), 200).unwrap();
    let form = ConversationKey {
        user: Some("U3".into()),
        ..key("poll:p1")
    };
    app.start(&form, None, UserRef::new("U3", "Lin"), 300)
        .unwrap();
    let elsewhere = ConversationKey {
        channel: ChannelId::new("C9"),
        ..key("3.0")
    };
    app.start(&elsewhere, None, ada(), 400).unwrap();
    let (ws, channel) = (WorkspaceId::new("T1"), ChannelId::new("C1"));
    let pick = |by: &UserRef| app.to_cancel(Platform::Slack, &ws, &channel, by).unwrap();
    assert_eq!(pick(&ada()), key("1.0"), "Ada's own");
    assert_eq!(pick(&grace), key("2.0"), "Grace's own");
    let lin = UserRef::new("U3", "Lin");
    assert_eq!(
        pick(&lin),
        key("2.0"),
        "none of Lin's: the latest, not her form"
    );
    app.step(&key("1.0"), Input::Text("real-time".into()), &grace, 500)
        .unwrap();
    assert_eq!(pick(&lin), key("1.0"), "the one most recently moved");
}
