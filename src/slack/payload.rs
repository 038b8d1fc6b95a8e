//! Incoming Slack payloads, parsed into the few facts the bot acts on. Slack's documented
//! shapes are modelled by slack-morphism; this module picks out what a conversation needs
//! and turns everything malformed into a [`PayloadError`] (answered with 400), never a panic.

use serde::Deserialize;
use slack_morphism::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed slash command: {0}")]
    Command(String),
    #[error("malformed interaction: {0}")]
    Interaction(String),
    #[error("malformed event: {0}")]
    Event(String),
}

/// A `/tradeoff ...` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    pub team: String,
    pub channel: String,
    pub user: String,
    pub user_name: String,
    /// What followed the command, e.g. `start node-vs-python`.
    pub text: String,
}

/// The form fields of a slash command that the bot reads (Slack sends more: `token`,
/// `response_url`, `trigger_id`, `api_app_id`, enterprise fields).
#[derive(Deserialize)]
struct CommandForm {
    team_id: String,
    channel_id: String,
    user_id: String,
    #[serde(default)]
    user_name: String,
    command: String,
    #[serde(default)]
    text: String,
}

/// Parses the form-encoded body of a slash command.
pub fn parse_command(body: &[u8]) -> Result<CommandRequest, PayloadError> {
    let form: CommandForm =
        serde_urlencoded::from_bytes(body).map_err(|e| PayloadError::Command(e.to_string()))?;
    if form.team_id.is_empty() || form.channel_id.is_empty() || form.user_id.is_empty() {
        return Err(PayloadError::Command(
            "team_id, channel_id and user_id must not be empty".into(),
        ));
    }
    if !form.command.starts_with('/') {
        return Err(PayloadError::Command(format!(
            "command {:?} does not start with /",
            form.command
        )));
    }
    Ok(CommandRequest {
        team: form.team_id,
        channel: form.channel_id,
        user: form.user_id,
        user_name: form.user_name,
        text: decode_entities(&form.text),
    })
}

impl From<&SlackCommandEvent> for CommandRequest {
    fn from(ev: &SlackCommandEvent) -> Self {
        CommandRequest {
            team: ev.team_id.to_string(),
            channel: ev.channel_id.to_string(),
            user: ev.user_id.to_string(),
            user_name: String::new(),
            text: decode_entities(ev.text.as_deref().unwrap_or("")),
        }
    }
}

/// One click on one of the bot's buttons or menus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    pub team: String,
    pub channel: String,
    pub user: String,
    pub user_name: String,
    pub block_id: String,
    pub action_id: String,
    /// The button's value, or the selected option's.
    pub value: String,
    /// Slack's time of the click: with the message and the action, identifies a delivery.
    pub action_ts: String,
    pub message_ts: String,
}

/// Parses the form body of an interactivity request (`payload=<JSON>`).
pub fn parse_interaction_form(body: &[u8]) -> Result<SlackInteractionEvent, PayloadError> {
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form =
        serde_urlencoded::from_bytes(body).map_err(|e| PayloadError::Interaction(e.to_string()))?;
    serde_json::from_str(&form.payload).map_err(|e| PayloadError::Interaction(e.to_string()))
}

/// The channel a `block_actions` click happened in: the payload's `channel`, else the
/// channel of the message that holds the button.
pub fn action_channel(ev: &SlackInteractionBlockActionsEvent) -> Option<String> {
    match (&ev.channel, &ev.container) {
        (Some(c), _) => Some(c.id.to_string()),
        (None, SlackInteractionActionContainer::Message(m)) => {
            m.channel_id.as_ref().map(ToString::to_string)
        }
        _ => None,
    }
}

/// The clicks of a `block_actions` interaction; other kinds carry none the bot handles.
pub fn actions(event: &SlackInteractionEvent) -> Result<Vec<ActionRequest>, PayloadError> {
    let SlackInteractionEvent::BlockActions(ev) = event else {
        return Ok(Vec::new());
    };
    let bad = |what: &str| PayloadError::Interaction(format!("block_actions without {what}"));
    let user = ev.user.as_ref().ok_or_else(|| bad("user"))?;
    let channel = action_channel(ev).ok_or_else(|| bad("channel"))?;
    let message_ts = match &ev.container {
        SlackInteractionActionContainer::Message(m) => m.message_ts.to_string(),
        _ => String::new(),
    };
    let user_name = user
        .username
        .clone()
        .or_else(|| user.name.clone())
        .unwrap_or_default();
    Ok(ev
        .actions
        .iter()
        .flatten()
        .map(|a| ActionRequest {
            team: ev.team.id.to_string(),
            channel: channel.clone(),
            user: user.id.to_string(),
            user_name: user_name.clone(),
            block_id: a
                .block_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            action_id: a.action_id.to_string(),
            value: a
                .value
                .clone()
                .or_else(|| a.selected_option.as_ref().map(|o| o.value.clone()))
                .unwrap_or_default(),
            action_ts: a
                .action_ts
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            message_ts: message_ts.clone(),
        })
        .collect())
}

/// A reply in a thread, from a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReply {
    pub team: String,
    pub channel: String,
    pub thread_ts: String,
    pub user: String,
    /// Decoded: `&amp;`, `&lt;`, `&gt;` are back to `&`, `<`, `>`.
    pub text: String,
}

/// Parses an Events API body.
pub fn parse_event(body: &[u8]) -> Result<SlackPushEvent, PayloadError> {
    serde_json::from_slice(body).map_err(|e| PayloadError::Event(e.to_string()))
}

/// The thread reply an `event_callback` carries, if it is one the bot should read: a plain
/// message from a person (no `bot_id`, not `bot_user`, no subtype such as an edit or a
/// join) inside a thread.
pub fn thread_reply(ev: &SlackPushEventCallback, bot_user: Option<&str>) -> Option<ThreadReply> {
    let SlackEventCallbackBody::Message(m) = &ev.event else {
        if let SlackEventCallbackBody::Unknown(v) = &ev.event {
            tracing::debug!(event_type = ?v.get("type"), "event ignored");
        }
        return None;
    };
    if m.sender.bot_id.is_some() || m.subtype.is_some() || m.hidden == Some(true) {
        return None;
    }
    let user = m.sender.user.as_ref()?.to_string();
    if bot_user == Some(user.as_str()) {
        return None;
    }
    let thread_ts = m.origin.thread_ts.as_ref()?.to_string();
    // The parent message itself has thread_ts == ts once it has replies.
    if thread_ts == m.origin.ts.to_string() {
        return None;
    }
    let text = m.content.as_ref()?.text.as_deref()?;
    Some(ThreadReply {
        team: ev.team_id.to_string(),
        channel: m.origin.channel.as_ref()?.to_string(),
        thread_ts,
        user,
        text: decode_entities(text),
    })
}

/// Slack escapes `&`, `<` and `>` in message text; the core must see what was typed.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (decoded, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(decoded);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode_once() {
        assert_eq!(decode_entities("R&amp;D &lt;b&gt;"), "R&D <b>");
        assert_eq!(decode_entities("&amp;lt;"), "&lt;");
        assert_eq!(decode_entities("a & b &x;"), "a & b &x;");
    }

    #[test]
    fn command_form_needs_its_ids() {
        assert!(parse_command(b"text=start").is_err());
        assert!(parse_command(b"%%%").is_err());
        let ok = parse_command(
            b"team_id=T1&channel_id=C1&user_id=U1&user_name=ada&command=%2Ftradeoff&text=start",
        )
        .unwrap();
        assert_eq!(ok.text, "start");
    }
}
