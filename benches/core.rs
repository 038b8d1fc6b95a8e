//! Benchmarks of the hot paths: scoring one answer set (with drivers, trade-offs and the
//! flip), aggregating 10,000 answer sets as a team poll does, and one conversation step
//! including its durable store write, and drawing a result's chart as a PNG.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use std::path::Path;
use std::sync::Arc;
use tradeoff::app::App;
use tradeoff::core::conversation::Input;
use tradeoff::core::ids::{ChannelId, ConversationKey, Platform, ThreadKey, UserRef, WorkspaceId};
use tradeoff::core::pack::Pack;
use tradeoff::core::score::{evaluate, Answers};
use tradeoff::core::tally::{team_outcome, Tally};
use tradeoff::packs::Catalog;
use tradeoff::store::{SledStore, Store};

fn pack() -> Pack {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    tradeoff::packs::read_dir(root).unwrap().remove(0).1
}

/// A deterministic spread of answer sets (a small linear congruential generator).
fn answer_sets(pack: &Pack, n: usize) -> Vec<Answers> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            Answers(
                pack.questions
                    .iter()
                    .map(|q| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let pick = (state >> 33) as usize % (q.choices.len() + 1);
                        (pick > 0).then(|| pick - 1)
                    })
                    .collect(),
            )
        })
        .collect()
}

fn scoring(c: &mut Criterion) {
    let pack = pack();
    let full = Answers::from_ids(
        &pack,
        [
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("ai_ml", "some"),
            ("ml_runtime", "hosted_api"),
            ("team_skills", "javascript"),
            ("experience", "mixed"),
            ("frontend", "one_language"),
            ("architecture", "microservices"),
            ("deadline", "months"),
            ("security", "standard"),
            ("hiring", "web_product"),
            ("growth", "rapid_spiky"),
        ],
    )
    .unwrap();
    c.bench_function("score one answer set (with flip)", |b| {
        b.iter(|| evaluate(&pack, black_box(&full)))
    });

    // Partly answered sets, as cards are made mid-way and for `result`: what a result's
    // confidence costs to work out when questions are still open.
    let varied = answer_sets(&pack, 1_000);
    c.bench_function("score 1,000 varied answer sets (with flip)", |b| {
        b.iter(|| {
            for a in &varied {
                black_box(evaluate(&pack, black_box(a)));
            }
        })
    });

    let sets = answer_sets(&pack, 10_000);
    c.bench_function("aggregate 10,000 answer sets", |b| {
        b.iter(|| {
            let mut tally = Tally::new(&pack);
            for a in &sets {
                tally.add(&pack, a);
            }
            team_outcome(&pack, black_box(&tally))
        })
    });
}

fn conversation_step(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(store.clone(), tradeoff::packs::read_dir(root).unwrap()).unwrap();
    let app = App::new(store, catalog);
    let user = UserRef::new("U1", "Ada");
    let mut n = 0u64;
    c.bench_function("conversation step with store write", |b| {
        b.iter_batched(
            || {
                n += 1;
                let key = ConversationKey {
                    platform: Platform::Slack,
                    workspace: WorkspaceId::new("T1"),
                    channel: ChannelId::new("C1"),
                    thread: ThreadKey::new(n.to_string()),
                    user: None,
                };
                app.start(&key, None, user.clone(), 0).unwrap();
                key
            },
            |key| {
                app.step(&key, Input::Text("we need live chat".into()), &user, 1)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
}

/// Queues the poll's effects as they are: the benchmark measures the summary, not a
/// platform's rendering.
struct Quiet;

impl tradeoff::polls::PollPresenter for Quiet {
    fn place(
        &self,
        poll: &tradeoff::core::poll::Poll,
        effect: tradeoff::core::poll::PollEffect,
    ) -> tradeoff::store::NewOutbox {
        tradeoff::polls::PollShown::entry(poll, effect, poll.id.to_string(), |r| r.to_string())
    }
}

/// The summary of a poll with 10,000 responses: in memory (tally, team result, card), and
/// through the app, reading every response back from sled.
fn poll_summary(c: &mut Criterion) {
    let pack = pack();
    let sets = answer_sets(&pack, 10_000);
    let spec = tradeoff::core::schedule::PollSpec {
        pack: None,
        timing: tradeoff::core::schedule::Timing::Open,
        tz: None,
        anonymous: false,
        remind: None,
    };
    let poll = tradeoff::core::poll::Poll::open(
        tradeoff::core::ids::PollId::new("p1"),
        "salt".into(),
        (
            Platform::Slack,
            WorkspaceId::new("T1"),
            ChannelId::new("C1"),
        ),
        UserRef::new("U0", "Lead"),
        &pack,
        1,
        spec,
        None,
        0,
    );
    c.bench_function("poll summary, 10,000 responses in memory", |b| {
        b.iter_batched(
            || poll.clone(),
            |mut p| p.close_round(&pack, &sets, Vec::new(), 10),
            BatchSize::SmallInput,
        )
    });

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(store.clone(), tradeoff::packs::read_dir(root).unwrap()).unwrap();
    let app = App::new(store, catalog);
    let channel = (
        Platform::Slack,
        WorkspaceId::new("T1"),
        ChannelId::new("C1"),
    );
    let lead = UserRef::new("U0", "Lead");
    let opened = match app
        .poll_command(channel.clone(), &lead, false, "", None, 0, &Quiet)
        .unwrap()
    {
        tradeoff::polls::PollAction::Opened(p) => p,
        _ => unreachable!(),
    };
    for (i, a) in sets.iter().enumerate() {
        let map = pack
            .questions
            .iter()
            .zip(&a.0)
            .filter_map(|(q, c)| Some((q.id.to_string(), q.choices[(*c)?].id.to_string())))
            .collect();
        app.answer_poll(
            &opened.id,
            &UserRef::new(format!("U{i}"), "x"),
            map,
            1,
            &Quiet,
        )
        .unwrap();
    }
    let stored = app.store.poll(&opened.id).unwrap().unwrap();
    let pack_arc = app.catalog.get(&stored.pack, stored.pack_version).unwrap();
    c.bench_function("poll summary, 10,000 responses read from sled", |b| {
        b.iter(|| {
            let responses = app.store.poll_responses(&stored.id, stored.round).unwrap();
            let answers: Vec<Answers> = responses
                .iter()
                .map(|(_, r)| {
                    Answers::from_ids(
                        &pack_arc,
                        r.answers.iter().map(|(q, c)| (q.as_str(), c.as_str())),
                    )
                    .unwrap()
                })
                .collect();
            stored
                .clone()
                .close_round(&pack_arc, &answers, Vec::new(), 10)
        })
    });
}

/// The work behind one Slack `/tradeoff start`, without HTTP: the app layer, queueing the
/// parent message and first question (as facts, rendered when sent), and waiting for the
/// store's flush. One at a time, each start waits a whole flush of its own; under load,
/// concurrent starts share one. The outbox is not running: the acknowledgement path alone,
/// as requests take it (within the answer deadline).
fn slack_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalog = Catalog::load(store.clone(), tradeoff::packs::read_dir(root).unwrap()).unwrap();
    let app = Arc::new(App::new(store, catalog));
    let bot = Arc::new(tradeoff::slack::SlackBot::new(
        app,
        Arc::new(tradeoff::outbox::SystemClock),
        Some("UBOT".into()),
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cmd = tradeoff::slack::payload::CommandRequest {
        team: "T1".into(),
        channel: "C1".into(),
        user: "U1".into(),
        user_name: "ada".into(),
        text: "start".into(),
    };
    c.bench_function("slack /tradeoff start, acknowledgement path", |b| {
        b.iter(|| runtime.block_on(bot.answer_command(cmd.clone())))
    });
}

/// A decision's chart and a team's (with its split and diverging questions), drawn and
/// encoded as a PNG.
fn charts(c: &mut Criterion) {
    let pack = pack();
    let sets = answer_sets(&pack, 40);
    let decision = tradeoff::core::chart::Chart::of_decision(&pack, 1, &evaluate(&pack, &sets[0]));
    let mut tally = Tally::new(&pack);
    for a in &sets {
        tally.add(&pack, a);
    }
    let team = team_outcome(&pack, &tally);
    let team = tradeoff::core::chart::Chart::of_team(&pack, 1, &team, &tally, &[], None);
    tradeoff::chart::png(&decision).unwrap();
    c.bench_function("chart of a decision, drawn and encoded", |b| {
        b.iter(|| black_box(tradeoff::chart::png(&decision).unwrap().len()))
    });
    c.bench_function("chart of a team poll, drawn and encoded", |b| {
        b.iter(|| black_box(tradeoff::chart::png(&team).unwrap().len()))
    });
}

criterion_group!(
    benches,
    scoring,
    conversation_step,
    poll_summary,
    slack_start,
    charts
);
criterion_main!(benches);
