//! Benchmarks of the hot paths: scoring one answer set (with drivers, trade-offs and the
//! flip), aggregating 10,000 answer sets as a team poll does, and one conversation step
//! including its durable store write.

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

criterion_group!(benches, scoring, conversation_step);
criterion_main!(benches);
