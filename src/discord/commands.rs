//! The `/tradeoff` command as Discord registers it, and `tradeoff discord-register`: one bulk
//! overwrite, global or for one guild (guild commands apply at once; global ones can take a
//! while to reach every client).

use super::render::truncate;
use super::rest::Rest;
use crate::core::subcommand::SUBCOMMANDS;
use crate::outbox::Delivery;
use serde_json::{json, Value};
use std::time::Duration;

pub const COMMAND: &str = "tradeoff";

/// The bulk-overwrite body: `/tradeoff` with its subcommands; `start` offers the packs
/// (id, title) as choices, at most 25 as Discord allows.
pub fn command_definitions(packs: &[(String, String)]) -> Value {
    let choices: Vec<Value> = packs
        .iter()
        .take(25)
        .map(|(id, title)| json!({ "name": truncate(title, 100), "value": truncate(id, 100) }))
        .collect();
    let options: Vec<Value> = SUBCOMMANDS
        .iter()
        .map(|spec| {
            let mut sub = json!({ "type": 1, "name": spec.name, "description": spec.summary });
            // The rest of a command as one string, read by the core's parsers (Discord
            // options cannot express a poll's free word order). `start` offers the packs.
            let option = spec.option.map(|(name, description)| {
                let mut option = json!({
                    "type": 3,
                    "name": name,
                    "description": description,
                    "required": false,
                });
                if spec.name == "start" {
                    option["choices"] = json!(choices);
                } else {
                    option["max_length"] = json!(200);
                }
                option
            });
            let pointless = spec.name == "start" && choices.is_empty();
            if let Some(option) = option.filter(|_| !pointless) {
                sub["options"] = json!([option]);
            }
            sub
        })
        .collect();
    json!([{
        "name": COMMAND,
        "type": 1,
        "description": "Choose a backend technology, scored against a published comparison.",
        // Guild channels only: a decision opens a thread, which DMs do not have.
        "contexts": [0],
        "options": options,
    }])
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("Discord refused the commands: {0}")]
    Refused(String),
    #[error("Discord kept failing: {0}")]
    GaveUp(String),
}

/// Sends the bulk overwrite; waits out rate limits and transient failures, a few times.
pub async fn register(
    rest: &Rest,
    application_id: &str,
    guild: Option<&str>,
    body: &Value,
) -> Result<(), RegisterError> {
    let path = match guild {
        Some(g) => format!("/applications/{application_id}/guilds/{g}/commands"),
        None => format!("/applications/{application_id}/commands"),
    };
    let mut last = String::new();
    for attempt in 0..5u32 {
        match rest.call("PUT", &path, Some(body)).await {
            Delivery::Sent(_) => return Ok(()),
            Delivery::Refused(reason) => return Err(RegisterError::Refused(reason)),
            Delivery::Retry { after_ms, error } => {
                let wait = after_ms.unwrap_or_else(|| crate::outbox::backoff_ms(attempt));
                tracing::warn!(wait_ms = wait, "registering commands: {error}; retrying");
                last = error;
                tokio::time::sleep(Duration::from_millis(wait.clamp(0, 60_000) as u64)).await;
            }
        }
    }
    Err(RegisterError::GaveUp(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions_follow_discord_rules() {
        let body = command_definitions(&[("node-vs-python".into(), "Backend".into())]);
        let name_ok = |n: &str| {
            (1..=32).contains(&n.chars().count())
                && n.chars().all(|c| {
                    (c.is_alphanumeric() && !c.is_uppercase()) || matches!(c, '-' | '_' | '\'')
                })
        };
        let command = &body[0];
        assert!(name_ok(command["name"].as_str().unwrap()));
        for sub in command["options"].as_array().unwrap() {
            assert!(name_ok(sub["name"].as_str().unwrap()));
            let d = sub["description"].as_str().unwrap().chars().count();
            assert!((1..=100).contains(&d), "{sub}");
            for option in sub["options"].as_array().into_iter().flatten() {
                assert!(name_ok(option["name"].as_str().unwrap()));
                let d = option["description"].as_str().unwrap().chars().count();
                assert!((1..=100).contains(&d), "{option}");
            }
        }
        let poll = &command["options"][1];
        assert_eq!(poll["name"], "poll");
        assert_eq!(
            (
                poll["options"][0]["name"].as_str(),
                poll["options"][0]["type"].as_u64()
            ),
            (Some("schedule"), Some(3)),
            "the schedule is one free-text option"
        );
    }
}
