//! Reading people's replies: folding text for comparison, recognising conversation commands,
//! and matching a free-text reply against a question's choices without ever guessing.

use super::pack::Question;

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
    pub fn parse(text: &str) -> Option<Command> {
        match fold(text).as_str() {
            "back" | "undo" | "previous" => Some(Command::Back),
            "skip" | "pass" | "not sure" | "don't know" | "dont know" => Some(Command::Skip),
            "restart" | "start over" => Some(Command::Restart),
            "cancel" | "stop" | "quit" => Some(Command::Cancel),
            "help" | "?" => Some(Command::Help),
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

/// What a reply means for one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Exactly one choice: its index.
    One(usize),
    /// Several choices fit; the indexes, in the question's order.
    Several(Vec<usize>),
    /// Nothing fits.
    None,
}

/// Matches a reply against a question's choices. In order of precedence: a choice's id or
/// label typed exactly, its position number ("2"), then the choices' phrases as whole words.
/// Two choices matched by phrases is ambiguous, never a pick.
pub fn match_choice(question: &Question, reply: &str) -> Match {
    let folded = fold(reply);
    if folded.is_empty() {
        return Match::None;
    }
    for (i, c) in question.choices.iter().enumerate() {
        if folded == c.id.as_str() || folded == fold(c.id.as_str()) || folded == fold(&c.label) {
            return Match::One(i);
        }
    }
    if let Ok(n) = folded.parse::<usize>() {
        if (1..=question.choices.len()).contains(&n) {
            return Match::One(n - 1);
        }
    }
    let hits: Vec<usize> = question
        .choices
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            contains_words(&folded, &fold(&c.label))
                || contains_words(&folded, &fold(c.id.as_str()))
                || c.phrases.iter().any(|p| contains_words(&folded, p))
        })
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        0 => Match::None,
        1 => Match::One(hits[0]),
        _ => Match::Several(hits),
    }
}

/// True when `needle` occurs in `haystack` on word boundaries (both already folded).
fn contains_words(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    haystack.match_indices(needle).any(|(start, _)| {
        let end = start + needle.len();
        let before_ok = haystack[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c == ' ');
        let after_ok = haystack[end..].chars().next().is_none_or(|c| c == ' ');
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_normalises_case_punctuation_and_space() {
        assert_eq!(
            fold("  Real-time!!  Chat,  please. "),
            "real-time chat please"
        );
        assert_eq!(fold("JS/TS"), "js/ts");
    }

    #[test]
    fn words_match_on_boundaries_only() {
        assert!(contains_words("we need live chat", "chat"));
        assert!(!contains_words("we need chatter", "chat"));
        assert!(contains_words("live notifications", "live notifications"));
    }

    #[test]
    fn commands_are_recognised_loosely() {
        assert_eq!(Command::parse(" Back "), Some(Command::Back));
        assert_eq!(Command::parse("Start over"), Some(Command::Restart));
        assert_eq!(Command::parse("backend"), None);
    }
}
