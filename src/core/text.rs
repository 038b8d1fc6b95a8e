//! Reading people's replies: folding text for comparison, recognising conversation commands,
//! and matching a free-text reply against a question's choices without ever guessing.

use super::pack::{Choice, Question};
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

/// Matches a reply against a question's choices. In order of precedence: a choice's id,
/// label or hint typed exactly, its position number ("2"), then the choices' labels, ids, hints and
/// phrases as whole words, then (for a single word of three letters or more) the start of a
/// label ("real" for Real-time), else of a word of a label or a phrase. Two choices matched at one step is ambiguous, never
/// a pick.
pub fn match_choice(question: &Question, reply: &str) -> Match {
    let folded = fold(reply);
    if folded.is_empty() {
        return Match::None;
    }
    for (i, c) in question.choices.iter().enumerate() {
        let hint = c.hint.as_deref().map(fold);
        if folded == c.id.as_str()
            || folded == fold(c.id.as_str())
            || folded == fold(&c.label)
            || hint.as_deref() == Some(folded.as_str())
        {
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
                || c.hint
                    .as_deref()
                    .is_some_and(|h| contains_words(&folded, &fold(h)))
                || c.phrases.iter().any(|p| contains_words(&folded, p))
        })
        .map(|(i, _)| i)
        .collect();
    let hits = if hits.is_empty() && folded.chars().count() >= 3 && !folded.contains(' ') {
        // The start of a label first ("real" is Real-time, not "Both real-time and ML"),
        // then the start of any word of a label or a phrase.
        let starting = |pick: &dyn Fn(&Choice) -> bool| -> Vec<usize> {
            (0..question.choices.len())
                .filter(|&i| pick(&question.choices[i]))
                .collect()
        };
        let labels = starting(&|c| fold(&c.label).starts_with(&folded));
        if labels.is_empty() {
            starting(&|c| {
                let label = fold(&c.label);
                std::iter::once(label.as_str())
                    .chain(c.phrases.iter().map(String::as_str))
                    .flat_map(|text| text.split(' '))
                    .any(|word| word.starts_with(&folded))
            })
        } else {
            labels
        }
    } else {
        hits
    };
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
