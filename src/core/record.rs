//! A result as an architecture decision record in the MADR layout (front matter with status,
//! date and deciders; context; considered options; the outcome with its scores; the drivers
//! with the source's words; consequences; what would change it; the source), made from the
//! result's card so that the record never says more or less than the card did.

use super::card::{Basis, Card, QUOTED};
use super::pack::Pack;
use super::score::Outcome;
use super::tally::Tally;
use chrono::DateTime;

/// Where MADR keeps its records, and the file name this one could have there.
pub fn suggested_path(pack: &Pack) -> String {
    let slug: String = pack
        .title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("docs/decisions/NNNN-{slug}.md")
}

/// The record of one decision: its context is the answers given.
pub fn of_decision(pack: &Pack, card: &Card, outcome: &Outcome, basis: &Basis) -> String {
    let context = outcome
        .given
        .iter()
        .map(|g| format!("- {} **{}**", g.question_text, g.choice_label))
        .collect();
    render(pack, card, basis, false, context)
}

/// The record of a team poll's round: its context is how the members answered, counted.
/// An anonymous poll names nobody, whatever `basis` holds.
pub fn of_team(pack: &Pack, card: &Card, tally: &Tally, basis: &Basis, anonymous: bool) -> String {
    let mut context = vec![format!(
        "{} a team poll{}; their answers, counted:",
        super::card::answered_count(tally.respondents),
        if anonymous {
            " anonymously (answers are not linked to names)"
        } else {
            ""
        }
    )];
    for (q, counts) in pack.questions.iter().zip(&tally.counts) {
        let mut chosen: Vec<(&str, u32)> = q
            .choices
            .iter()
            .zip(counts)
            .filter(|(_, &n)| n > 0)
            .map(|(c, &n)| (c.label.as_str(), n))
            .collect();
        if chosen.is_empty() {
            continue;
        }
        chosen.sort_by_key(|c| std::cmp::Reverse(c.1));
        let line = chosen
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect::<Vec<_>>()
            .join(" · ");
        context.push(format!("- {} {line}", q.text));
    }
    let nobody = Basis {
        by: Vec::new(),
        at: basis.at,
    };
    render(
        pack,
        card,
        if anonymous { &nobody } else { basis },
        anonymous,
        context,
    )
}

/// A YAML string: JSON's quoting is valid YAML, and keeps any name a plain string.
fn yaml(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Markdown that shows `s` as typed: its markup characters escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn render(
    pack: &Pack,
    card: &Card,
    basis: &Basis,
    anonymous: bool,
    context: Vec<String>,
) -> String {
    let date = DateTime::from_timestamp(basis.at, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str("---\nstatus: proposed\n");
    out.push_str(&format!("date: {date}\n"));
    if !basis.by.is_empty() {
        let names: Vec<String> = basis.by.iter().map(|n| yaml(n)).collect();
        out.push_str(&format!("deciders: [{}]\n", names.join(", ")));
    }
    out.push_str("---\n\n");
    out.push_str(&format!("# {} — {}\n\n", pack.title, card.recommendation));

    out.push_str("## Context and Problem Statement\n\n");
    out.push_str(&format!(
        "{}, scored against {}, on these answers:\n\n",
        pack.title,
        pack.source.citation()
    ));
    for line in &context {
        out.push_str(line);
        out.push('\n');
    }
    if anonymous {
        out.push_str("\nThe poll was anonymous: this record names nobody.\n");
    }

    out.push_str("\n## Decision Drivers\n\n");
    for d in &card.drivers {
        out.push_str(&format!("- {}\n", d.title));
        for line in d.body.lines() {
            out.push_str(&format!("\n  {}\n", quote_line(line)));
        }
    }

    out.push_str("\n## Considered Options\n\n");
    for s in &card.scores {
        out.push_str(&format!("- {}\n", s.label));
    }

    out.push_str("\n## Decision Outcome\n\n");
    out.push_str(&format!(
        "Chosen option: \"{}\". {}\n\n",
        card.recommendation, card.summary
    ));
    out.push_str(&format!("Scores (0–100): {}.\n", card.score_summary()));
    out.push_str(&format!("Confidence {}.\n", card.confidence_line()));

    out.push_str("\n### Consequences\n\n");
    for d in &card.drivers {
        out.push_str(&format!("- Good: {}.\n", sentence(&d.title)));
    }
    for t in &card.tradeoffs {
        out.push_str(&format!("- Bad: {}.\n", sentence(&t.title)));
        for line in t.body.lines() {
            out.push_str(&format!("\n  {}\n", quote_line(line)));
        }
    }

    out.push_str("\n## What Would Change the Decision\n\n");
    for line in card.flip.lines() {
        out.push_str(&format!("{line}\n"));
    }

    out.push_str("\n## More Information\n\n");
    for section in &card.sections {
        out.push_str(&format!("{}:\n\n", section.title));
        for item in &section.items {
            let mut lines = item.body.lines();
            match (lines.next(), lines.next()) {
                (Some(only), None) => {
                    out.push_str(&format!("- {}: {}\n", item.title, text(only)));
                }
                _ => {
                    out.push_str(&format!("- {}:\n", item.title));
                    for line in item.body.lines() {
                        out.push_str(&format!("  - {}\n", text(line)));
                    }
                }
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("{}\n", card.footer));
    out
}

/// A card's heading as a sentence: no doubled full stop at its end.
fn sentence(title: &str) -> &str {
    title.trim_end_matches('.')
}

/// A card body line as it stands in the record: the source's words as a block quote.
fn quote_line(line: &str) -> String {
    if line.starts_with(QUOTED) {
        format!("> {line}")
    } else {
        line.to_owned()
    }
}
