//! The integration tests, gathered in one test binary: one link instead of one per file,
//! and one copy of the crate and its dependencies on disk. Each file is a module; run one
//! with `cargo test --test it <module>::`. The crash test is apart (`tests/crash`): it loads
//! the machine, and runs alone.

mod common;
mod discord_support;
mod slack_support;

mod article_cases;
mod card_text;
mod chart;
mod cli;
mod conversation;
mod core_boundary;
mod discord_cards;
mod discord_conversation;
mod discord_endpoint;
mod discord_gateway;
mod discord_polls;
mod edge;
mod http;
mod metrics;
mod neutral_effects;
mod outbox;
mod pack_errors;
mod polls;
mod properties;
mod readiness;
mod readme;
mod record;
mod slack_flow;
mod slack_manifest;
mod slack_polls;
mod slack_process;
mod slack_render;
mod slack_signing;
mod slack_socket;
mod store;
mod stored_bytes;
mod terminal;
