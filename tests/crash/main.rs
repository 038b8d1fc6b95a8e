//! The crash test, in a test binary of its own: it loads the machine and bounds itself in
//! time, so it runs alone rather than beside the other tests (`tests/it`), which would take
//! its CPU. Run it with `cargo test --test crash`.

#[path = "../it/common/mod.rs"]
mod common;
#[path = "../it/slack_support/mod.rs"]
mod slack_support;

mod crash;
