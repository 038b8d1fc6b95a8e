//! Reading people's replies: folding text for comparison, recognising conversation commands,
//! and matching a free-text reply against a question's choices without ever guessing.

use super::pack::Question;
pub use super::words::{fold, Command};

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
}
