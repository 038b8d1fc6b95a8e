//! The platform-neutral core: decision packs, scoring, the conversation state machine, team
//! tallies and the summary card. No async, no I/O, no platform or storage crates: every
//! function takes data (and the time, where time matters) and returns data, so the
//! terminal, Slack and Discord all run exactly the same logic.

pub mod card;
pub mod chart;
pub mod conversation;
pub mod effect;
pub mod ids;
pub mod messages;
pub mod pack;
pub mod poll;
pub mod record;
pub mod schedule;
pub mod score;
pub mod subcommand;
pub mod tally;
pub mod text;
pub mod words;

pub use card::{outcome_card, team_card, Card};
pub use conversation::{Conversation, Event, Input, Next, Transition};
pub use ids::*;
pub use pack::{parse_pack, Pack, PackError};
pub use score::{evaluate, Answers, Confidence, Outcome, Pick};
pub use tally::{team_outcome, Tally, TeamOutcome};
