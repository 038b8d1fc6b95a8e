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

/// Parses the form-encoded body of a slash command. Only the fields the bot reads are
/// decoded (Slack sends more: `token`, `response_url`, `trigger_id`, `api_app_id`,
/// enterprise fields); a missing or repeated one is an error.
pub fn parse_command(body: &[u8]) -> Result<CommandRequest, PayloadError> {
    let mut fields: [Option<String>; 6] = Default::default();
    const NAMES: [&str; 6] = [
        "team_id",
        "channel_id",
        "user_id",
        "user_name",
        "command",
        "text",
    ];
    for (key, value) in form_urlencoded::parse(body) {
        let Some(i) = NAMES.iter().position(|n| *n == key) else {
            continue;
        };
        if fields[i].replace(value.into_owned()).is_some() {
            return Err(PayloadError::Command(format!("duplicate field `{key}`")));
        }
    }
    let [team, channel, user, user_name, command, text] = fields;
    let required = |field: Option<String>, name: &str| {
        field
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PayloadError::Command(format!("`{name}` is missing or empty")))
    };
    let (team, channel, user, command) = (
        required(team, "team_id")?,
        required(channel, "channel_id")?,
        required(user, "user_id")?,
        required(command, "command")?,
    );
    for (name, value) in [
        ("team_id", &team),
        ("channel_id", &channel),
        ("user_id", &user),
    ] {
        slack_id(name, value).map_err(PayloadError::Command)?;
    }
    if !command.starts_with('/') {
        return Err(PayloadError::Command(format!(
            "command {command:?} does not start with /"
        )));
    }
    Ok(CommandRequest {
        team,
        channel,
        user,
        user_name: user_name.unwrap_or_default(),
        text: decode_entities(&text.unwrap_or_default()),
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

/// Who asked, and where: the person a late answer goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    pub team: String,
    pub channel: String,
    pub user: String,
}

impl From<CommandRequest> for Asker {
    fn from(cmd: CommandRequest) -> Self {
        Asker {
            team: cmd.team,
            channel: cmd.channel,
            user: cmd.user,
        }
    }
}

/// Who clicked where, for a `block_actions` interaction with a user and a channel.
pub fn clicker(event: &SlackInteractionEvent) -> Option<Asker> {
    let SlackInteractionEvent::BlockActions(ev) = event else {
        return None;
    };
    Some(Asker {
        team: ev.team.id.to_string(),
        channel: action_channel(ev)?,
        user: ev.user.as_ref()?.id.to_string(),
    })
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
    for (name, value) in [
        ("team", ev.team.id.0.as_str()),
        ("channel", channel.as_str()),
        ("user", user.id.0.as_str()),
    ] {
        slack_id(name, value).map_err(PayloadError::Interaction)?;
    }
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

/// The longest id (of a team, channel or user) taken from Slack. Slack's ids are a dozen
/// characters or so; the bound only keeps an absurd one from reaching the store and the
/// Web API's URLs.
const MAX_ID: usize = 64;

/// Checks an id from Slack: 1 to [`MAX_ID`] upper-case letters and digits, as Slack makes
/// them. What is wrong, otherwise.
fn slack_id(name: &str, id: &str) -> Result<(), String> {
    let fits = (1..=MAX_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if fits {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a Slack id (1 to {MAX_ID} upper-case letters and digits)"
        ))
    }
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

    #[test]
    fn command_form_reads_its_fields_once_and_skips_the_rest() {
        let body = "token=t&team_id=T1&channel_id=C1&user_id=U1&command=%2Ftradeoff\
                    &response_url=https%3A%2F%2Fhooks.slack.com%2Fx&text=start+a%26amp%3Bb";
        let ok = parse_command(body.as_bytes()).unwrap();
        assert_eq!(
            (ok.team, ok.channel, ok.user, ok.user_name, ok.text),
            (
                "T1".into(),
                "C1".into(),
                "U1".into(),
                String::new(),
                "start a&b".into()
            )
        );
        let twice = format!("{body}&team_id=T2");
        assert_eq!(
            parse_command(twice.as_bytes()),
            Err(PayloadError::Command("duplicate field `team_id`".into()))
        );
        let empty = body.replace("channel_id=C1", "channel_id=");
        assert!(parse_command(empty.as_bytes()).is_err());
        let no_slash = body.replace("command=%2Ftradeoff", "command=tradeoff");
        assert!(parse_command(no_slash.as_bytes()).is_err());
    }
}
