//! `tradeoff slack-manifest`: valid JSON naming everything the flows use, and URLs that
//! reach the real endpoints.

use serde_json::Value;
use std::process::Command;

fn manifest(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tradeoff"))
        .arg("slack-manifest")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the manifest is valid JSON")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn the_http_manifest_has_every_url_event_and_scope() {
    let m = manifest(&["--url", "https://tradeoff.example.com/"]);
    let command = &m["features"]["slash_commands"][0];
    assert_eq!(command["command"], "/tradeoff");
    assert_eq!(
        command["url"],
        "https://tradeoff.example.com/slack/commands"
    );
    assert!(command["usage_hint"].as_str().unwrap().contains("start"));
    assert!(command["usage_hint"].as_str().unwrap().contains("poll"));
    let settings = &m["settings"];
    assert_eq!(settings["interactivity"]["is_enabled"], true);
    assert_eq!(
        settings["interactivity"]["request_url"],
        "https://tradeoff.example.com/slack/interactions"
    );
    assert_eq!(
        settings["event_subscriptions"]["request_url"],
        "https://tradeoff.example.com/slack/events"
    );
    let events = strings(&settings["event_subscriptions"]["bot_events"]);
    assert!(events.contains(&"message.channels") && events.contains(&"message.groups"));
    let scopes = strings(&m["oauth_config"]["scopes"]["bot"]);
    for s in [
        "commands",
        "chat:write",
        "files:write",
        "im:write",
        "channels:history",
        "groups:history",
        "users:read",
        "channels:read",
        "groups:read",
    ] {
        assert!(scopes.contains(&s), "missing scope {s}");
    }
    assert_eq!(settings["socket_mode_enabled"], false);
    assert!(m["features"]["bot_user"]["display_name"].is_string());
    assert!(m["display_information"]["name"].is_string());
}

#[test]
fn the_socket_mode_manifest_needs_no_url() {
    let m = manifest(&["--socket-mode"]);
    assert_eq!(m["settings"]["socket_mode_enabled"], true);
    let text = m.to_string();
    assert!(
        !text.contains("request_url") && !text.contains("\"url\""),
        "{text}"
    );
    assert_eq!(m["features"]["slash_commands"][0]["command"], "/tradeoff");
    assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
}

#[test]
fn without_a_url_or_socket_mode_it_says_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_tradeoff"))
        .arg("slack-manifest")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
}
