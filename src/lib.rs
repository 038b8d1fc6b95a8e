//! tradeoff: a bot that helps a team choose a backend technology, scored against the
//! criteria of a published comparison.
//!
//! The layout reads from the inside out:
//!
//! - [`core`]: packs, scoring, the conversation state machine, team tallies, the card.
//!   Pure and platform-neutral.
//! - [`chart`]: a result's chart, drawn as a PNG.
//! - [`store`]: the `Store` trait and its sled implementation.
//! - [`packs`]: reads `data/` and `prompts/` from disk into validated packs.
//! - [`app`]: runs the core for one incoming event and persists the result.
//! - [`deadline`]: answering within the platforms' 3 seconds, and finishing later.
//! - [`outbox`]: durable, ordered delivery of outgoing messages, with retries.
//! - [`background`]: the lower-priority runtime deliveries and schedules run on.
//! - [`polls`]: team polls: opening, answering, closing, and the scheduler.
//! - [`records`]: decision records (MADR) of the results kept.
//! - [`exports`]: a closed poll round as CSV and JSON.
//! - [`history`]: a channel's past decisions and poll rounds.
//! - [`slack`]: the Slack app (HTTP endpoints, Socket Mode, Block Kit, Web API).
//! - [`terminal`]: the conversation on a terminal.
//! - [`discord`]: the Discord bot (interactions, threads, embeds).
//! - [`http`]: the one function that builds the HTTP app.
//! - [`cli`]: the command line.

pub mod app;
pub mod background;
pub mod chart;
pub mod cli;
pub mod core;
pub mod deadline;
pub mod discord;
pub mod exports;
pub mod history;
pub mod http;
pub mod outbox;
pub mod packs;
pub mod polls;
pub mod readiness;
pub mod records;
pub mod secret;
pub mod slack;
pub mod store;
pub mod telemetry;
pub mod terminal;
