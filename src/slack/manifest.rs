//! The Slack app manifest (`tradeoff slack-manifest`): everything the flows use, so an
//! operator creates the app in one paste. Request URLs for HTTP delivery, or Socket Mode.

use serde_json::{json, Value};

/// The slash command the bot answers.
pub const COMMAND: &str = "/tradeoff";
/// Bot events: thread replies in public and private channels.
pub const BOT_EVENTS: &[&str] = &["message.channels", "message.groups"];
/// Bot scopes: the slash command, posting, reading the channels' messages for replies;
/// for polls, `users:read` (who may close a poll, the opener's time zone, and which channel
/// members are bots) and `channels:read`/`groups:read` (who to remind); `files:write` to
/// share a result's chart and record, and `im:write` to send a poll's export privately.
pub const BOT_SCOPES: &[&str] = &[
    "commands",
    "chat:write",
    "files:write",
    "im:write",
    "channels:history",
    "groups:history",
    "users:read",
    "channels:read",
    "groups:read",
];

/// Checks `--url`: Slack accepts only an `https://` address with a host for its request
/// URLs, and refuses a manifest with any other.
pub fn check_url(url: &str) -> Result<(), String> {
    let refused = |why: &str| {
        Err(format!(
            "--url {url:?} {why}: give the https:// address where Slack reaches `tradeoff serve`, \
             like https://tradeoff.example.com (or use --socket-mode, which needs no URL)"
        ))
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return refused("is not a URL");
    };
    if parsed.scheme() != "https" {
        return refused("is not https");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return refused("has no host");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return refused("has a query or fragment");
    }
    Ok(())
}

/// The manifest. `base_url` is where `tradeoff serve` is reachable (without a trailing
/// slash); with `socket_mode` no URL is needed and none is written.
pub fn manifest(base_url: Option<&str>, socket_mode: bool) -> Value {
    let base = base_url.map(|u| u.trim_end_matches('/'));
    let url = |path: &str| base.filter(|_| !socket_mode).map(|b| format!("{b}{path}"));
    let mut command = json!({
        "command": COMMAND,
        "description": "Choose a backend with your team: a few questions, a scored recommendation",
        "usage_hint": "start [pack] | poll [for 2d | until … | every …] | poll close | help | packs | result | cancel",
        "should_escape": false,
    });
    let mut events = json!({ "bot_events": BOT_EVENTS });
    let mut interactivity = json!({ "is_enabled": true });
    if let Some(u) = url("/slack/commands") {
        command["url"] = json!(u);
    }
    if let Some(u) = url("/slack/events") {
        events["request_url"] = json!(u);
    }
    if let Some(u) = url("/slack/interactions") {
        interactivity["request_url"] = json!(u);
    }
    json!({
        "_metadata": { "major_version": 1, "minor_version": 1 },
        "display_information": {
            "name": "tradeoff",
            "description": "Helps a team choose a backend technology, scored against a published comparison.",
            "background_color": "#2c2d30",
        },
        "features": {
            "bot_user": { "display_name": "tradeoff", "always_online": true },
            "slash_commands": [command],
        },
        "oauth_config": { "scopes": { "bot": BOT_SCOPES } },
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": false,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": false,
        },
    })
}
