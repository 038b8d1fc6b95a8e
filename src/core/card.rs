//! The summary card as a platform-neutral value, and its plain-text rendering for the
//! terminal. Slack and Discord render the same value in their own formats.
//!
//! A card keeps the source's words apart from ours: the drivers quote the source verbatim
//! and label the pack's reading as ours, and it says what the result rests on (the answers,
//! who gave them, the date, the source). It holds pack text and numbers, plus anything a
//! user typed only through [`CardItem`] bodies that adapters escape for where they land.

use super::pack::Pack;
use super::score::{Confidence, Outcome, Pick, CLOSE};
use super::tally::TeamOutcome;
use chrono::DateTime;
use serde::Serialize;

/// The card's list titles, the same on every platform.
pub const DRIVERS_TITLE: &str = "What decided it";
pub const TRADEOFFS_TITLE: &str = "Trade-offs, and how to soften them (our reading)";
pub const FLIP_TITLE: &str = "What would change the answer";
/// What a card line of the source's own words starts with.
pub const QUOTED: &str = "The article:";

/// How many of a criterion's quotes a card shows.
const QUOTES_SHOWN: usize = 2;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreLine {
    pub option: String,
    pub label: String,
    /// 0–100, rounded.
    pub score: u8,
}

impl ScoreLine {
    /// A ten-cell bar, e.g. `███████░░░`.
    pub fn bar(&self) -> String {
        let filled = (usize::from(self.score) + 5) / 10;
        format!("{}{}", "█".repeat(filled), "░".repeat(10 - filled))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CardItem {
    pub title: String,
    pub body: String,
}

/// A titled list, for what only some cards have (a team's split, where it agrees).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CardSection {
    pub title: String,
    pub items: Vec<CardItem>,
}

/// What a result rests on besides its answers: who gave them and when.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Basis {
    /// The names of those who answered, as the platform gave them; empty where nobody is
    /// named (the terminal, an anonymous poll).
    pub by: Vec<String>,
    /// When the result was made, in Unix seconds.
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Card {
    pub title: String,
    /// The recommendation's id (an option or a blend); `None` when nothing is recommended.
    pub pick: Option<String>,
    /// "Node.js", "Hybrid: Node.js + Python", or "No clear winner yet".
    pub recommendation: String,
    pub summary: String,
    pub confidence: Confidence,
    /// What the confidence means here, e.g. "nothing still open could change it".
    pub confidence_note: String,
    /// `#rrggbb` of the recommended option; none for a blend or no winner.
    pub color: Option<String>,
    pub scores: Vec<ScoreLine>,
    pub drivers: Vec<CardItem>,
    pub tradeoffs: Vec<CardItem>,
    /// What would change the answer, and what would settle it.
    pub flip: String,
    pub sections: Vec<CardSection>,
    pub footer: String,
}

impl Card {
    /// "Node.js 72 / Python 58"
    pub fn score_summary(&self) -> String {
        self.scores
            .iter()
            .map(|s| format!("{} {}", s.label, s.score))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// One line for notifications and fallbacks: "Recommendation: Node.js (Node.js 72 / Python 58)".
    pub fn headline(&self) -> String {
        format!(
            "Recommendation: {} ({})",
            self.recommendation,
            self.score_summary()
        )
    }

    /// "high: nothing still open could change it"
    pub fn confidence_line(&self) -> String {
        format!("{}: {}", self.confidence.as_str(), self.confidence_note)
    }

    /// The card as plain text, for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let rule = "─".repeat(60);
        out.push_str(&format!("{rule}\n{}\n{rule}\n", self.title));
        out.push_str(&format!(
            "Recommendation: {}\nConfidence {}\n{}\n\n",
            self.recommendation,
            self.confidence_line(),
            self.summary
        ));
        out.push_str("Scores\n");
        let width = self
            .scores
            .iter()
            .map(|s| s.label.chars().count())
            .max()
            .unwrap_or(0);
        for s in &self.scores {
            out.push_str(&format!(
                "  {:<width$}  {}  {:>3}\n",
                s.label,
                s.bar(),
                s.score
            ));
        }
        let list = |out: &mut String, title: &str, items: &[CardItem]| {
            if items.is_empty() {
                return;
            }
            out.push_str(&format!("\n{title}\n"));
            for item in items {
                out.push_str(&format!("  • {}\n", item.title));
                for line in item.body.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        };
        list(&mut out, DRIVERS_TITLE, &self.drivers);
        list(&mut out, TRADEOFFS_TITLE, &self.tradeoffs);
        for section in &self.sections {
            list(&mut out, &section.title, &section.items);
        }
        out.push_str(&format!("\n{FLIP_TITLE}\n"));
        for line in self.flip.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!("\n{}\n", self.footer));
        out
    }
}

fn score_lines(outcome: &Outcome) -> Vec<ScoreLine> {
    outcome
        .scores
        .iter()
        .map(|(id, label, s)| ScoreLine {
            option: id.clone(),
            label: label.clone(),
            score: s.round().clamp(0.0, 100.0) as u8,
        })
        .collect()
}

/// `“first” “second” (the article)`: the source's words, never more than [`QUOTES_SHOWN`].
fn quoted(quotes: &[String]) -> Option<String> {
    (!quotes.is_empty()).then(|| {
        let shown: Vec<String> = quotes
            .iter()
            .take(QUOTES_SHOWN)
            .map(|q| format!("“{q}”"))
            .collect();
        format!("{QUOTED} {}", shown.join(" "))
    })
}

fn points(p: f64) -> String {
    format!("+{p:.1} points")
}

/// "22 December 2025"
pub fn date(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

fn confidence_note(outcome: &Outcome) -> String {
    match (outcome.pick, outcome.confidence) {
        (None, _) => "nothing yet names a winner".into(),
        (Some(_), Confidence::High) => "nothing still open could change it".into(),
        (Some(_), Confidence::Medium) => {
            "no single answer still open could change it; several together could".into()
        }
        (Some(_), Confidence::Low) if outcome.margin < CLOSE => {
            format!(
                "the lead is {:.1} points, too close to call",
                outcome.margin
            )
        }
        (Some(_), Confidence::Low) => "one more answer could change it".into(),
    }
}

fn base(pack: &Pack, version: u32, outcome: &Outcome, title: String, footer_lead: String) -> Card {
    let settle = outcome.next_question.as_ref().map(|q| match outcome.pick {
        None => format!("Answering “{}” would decide it most.", q.text),
        Some(_) => format!("Answering “{}” would do most to settle it.", q.text),
    });
    let drivers = if outcome.drivers.is_empty() {
        vec![CardItem {
            title: "No answer tips it yet".into(),
            body: match (outcome.pick, quoted(&outcome.quotes)) {
                (None, Some(q)) => format!("The answers so far favour neither side.\n{q}"),
                (None, None) => "The answers so far favour neither side.".into(),
                (Some(_), _) => "The answers so far only narrow it down.".into(),
            },
        }]
    } else {
        outcome
            .drivers
            .iter()
            .map(|d| CardItem {
                title: match &d.layer {
                    Some(role) => format!(
                        "{} → {}, for {} ({})",
                        d.label,
                        d.favours_label,
                        role,
                        points(d.points)
                    ),
                    None => format!("{} → {} ({})", d.label, d.favours_label, points(d.points)),
                },
                body: [
                    quoted(&d.quotes),
                    Some(format!("Our reading: {}", d.reason)),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n"),
            })
            .collect()
    };
    let tradeoffs = if outcome.tradeoffs.is_empty() && outcome.pick.is_some() {
        vec![CardItem {
            title: "Nothing the answers weigh is given up".into(),
            body: "On every criterion your answers weighed, no option rates higher than this one."
                .into(),
        }]
    } else {
        outcome
            .tradeoffs
            .iter()
            .map(|t| CardItem {
                title: if t.gives_up == t.title {
                    t.title.clone()
                } else {
                    format!("{}: {}", t.title, t.gives_up)
                },
                body: format!("Soften it: {}", t.mitigation),
            })
            .collect()
    };
    let flip = [
        Some(
            outcome
                .flip
                .as_ref()
                .map(|f| f.sentence())
                .unwrap_or_else(|| {
                    "No change to a single answer would change this recommendation.".into()
                }),
        ),
        settle,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n");
    let mut sections = Vec::new();
    if !outcome.halves.is_empty() {
        let mut items: Vec<CardItem> = outcome
            .halves
            .iter()
            .map(|h| CardItem {
                title: h.option_label.clone(),
                body: capitalise(&h.role),
            })
            .collect();
        if let Some(q) = quoted(&outcome.quotes).filter(|_| outcome.pick.is_some()) {
            items.push(CardItem {
                title: "Why both".into(),
                body: q,
            });
        }
        sections.push(CardSection {
            title: "The two halves".into(),
            items,
        });
    }
    Card {
        title,
        pick: outcome.recommendation.clone(),
        recommendation: outcome.recommendation_label.clone(),
        summary: outcome.summary.clone(),
        confidence: outcome.confidence,
        confidence_note: confidence_note(outcome),
        color: match outcome.pick {
            Some(Pick::Option(o)) => pack.options[o].color.clone(),
            _ => None,
        },
        scores: score_lines(outcome),
        drivers,
        tradeoffs,
        flip,
        sections,
        footer: format!(
            "{footer_lead} · confidence {} · pack {}{}",
            outcome.confidence.as_str(),
            pack.id,
            // 0: scored straight from the files, with no stored version.
            if version > 0 {
                format!(" v{version}")
            } else {
                String::new()
            },
        ),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The section that says what a result rests on: the answers, who gave them, the source.
fn rests_on(pack: &Pack, answers: Option<String>, by: &[String]) -> CardSection {
    let mut items = Vec::new();
    if let Some(answers) = answers {
        items.push(CardItem {
            title: "The answers".into(),
            body: answers,
        });
    }
    if !by.is_empty() {
        items.push(CardItem {
            title: "Answered by".into(),
            body: by.join(", "),
        });
    }
    items.push(CardItem {
        title: "The source".into(),
        body: format!(
            "{}. Quotes are its words; “our reading” is this pack's.",
            pack.source.citation()
        ),
    });
    CardSection {
        title: "What this rests on".into(),
        items,
    }
}

/// The card for one conversation's result.
pub fn outcome_card(pack: &Pack, version: u32, outcome: &Outcome, basis: &Basis) -> Card {
    let mut card = base(
        pack,
        version,
        outcome,
        pack.title.clone(),
        format!(
            "{} of {} questions answered · {}",
            outcome.answered,
            outcome.applicable,
            date(basis.at)
        ),
    );
    let answers = (!outcome.given.is_empty()).then(|| {
        outcome
            .given
            .iter()
            .map(|g| format!("{} {}", g.question_text, g.choice_label))
            .collect::<Vec<_>>()
            .join("\n")
    });
    card.sections.push(rests_on(pack, answers, &basis.by));
    card
}

/// The card for a team poll's result.
/// "1 teammate answered", "3 teammates answered".
pub fn answered_count(n: u32) -> String {
    match n {
        1 => "1 teammate answered".to_owned(),
        n => format!("{n} teammates answered"),
    }
}

pub fn team_card(pack: &Pack, version: u32, team: &TeamOutcome, basis: &Basis) -> Card {
    let mut card = base(
        pack,
        version,
        &team.outcome,
        format!("Team result: {}", pack.title),
        format!("{} · {}", answered_count(team.respondents), date(basis.at)),
    );
    let split = team
        .split
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ");
    card.sections.push(CardSection {
        title: "How the individual answers split".into(),
        items: vec![CardItem {
            title: format!("{} answered", team.respondents),
            body: if split.is_empty() {
                "Nobody answered.".into()
            } else {
                split
            },
        }],
    });
    let describe = |a: &super::tally::Agreement| {
        let q = &pack.questions[a.question];
        CardItem {
            title: q.text.clone(),
            body: format!(
                "{:.0}% said “{}” ({} answered)",
                a.share * 100.0,
                q.choices[a.top_choice].label,
                a.answered
            ),
        }
    };
    if !team.agree.is_empty() {
        card.sections.push(CardSection {
            title: "Where the team agrees".into(),
            items: team.agree.iter().map(describe).collect(),
        });
    }
    if !team.disagree.is_empty() {
        card.sections.push(CardSection {
            title: "Where the team disagrees most".into(),
            items: team.disagree.iter().map(describe).collect(),
        });
    }
    card.sections.push(rests_on(pack, None, &basis.by));
    card
}
