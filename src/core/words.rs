//! The words the conversation itself understands, and how any text is folded before it is
//! compared. Packs are checked against these words when they load, and replies are read
//! with them: one list for both.

/// Lower-cases, turns punctuation other than `-`, `+`, `/` and `.` into spaces, and collapses
/// runs of white space, so "Real-time!" and "real-time" compare equal.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for ch in text.chars().flat_map(char::to_lowercase) {
        let keep = ch.is_alphanumeric() || matches!(ch, '-' | '+' | '/' | '.' | '_' | '#');
        if keep {
            out.push(ch);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    while out.ends_with(' ') || out.ends_with('.') {
        out.pop();
    }
    out
}

/// Commands understood at any point of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    Back,
    Skip,
    Restart,
    Cancel,
    Help,
}

impl Command {
    /// The command `text` says, if it says one. A pack's choices may not be read as one
    /// (see [`super::pack`]), so a reply that says a command always means it.
    pub fn parse(text: &str) -> Option<Command> {
        if text.trim() == "?" {
            return Some(Command::Help);
        }
        match fold(text).as_str() {
            "back" | "undo" | "previous" => Some(Command::Back),
            "skip" | "pass" | "not sure" | "don't know" | "dont know" => Some(Command::Skip),
            "restart" | "start over" => Some(Command::Restart),
            "cancel" | "stop" | "quit" => Some(Command::Cancel),
            "help" => Some(Command::Help),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Back => "back",
            Command::Skip => "skip",
            Command::Restart => "restart",
            Command::Cancel => "cancel",
            Command::Help => "help",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_loosely() {
        assert_eq!(Command::parse(" Back "), Some(Command::Back));
        assert_eq!(Command::parse("Start over"), Some(Command::Restart));
        assert_eq!(Command::parse("backend"), None);
        assert_eq!(Command::parse(" ? "), Some(Command::Help));
        assert_eq!(Command::parse("Not sure"), Some(Command::Skip));
    }
}
