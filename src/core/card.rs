//! The summary card as a platform-neutral value, and its plain-text rendering for the
//! terminal. Slack and Discord render the same value in their own formats.
//!
//! A card holds pack text and numbers, plus anything a user typed only through
//! [`CardItem`] bodies that adapters escape for where they land.

use super::pack::Pack;
use super::score::{Confidence, Outcome, Pick};
use super::tally::TeamOutcome;
use serde::Serialize;

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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Card {
    pub title: String,
    /// The recommendation's id (an option or a blend), for colours and tests.
    pub pick: String,
    /// "Node.js" or "Hybrid: Node.js + Python".
    pub recommendation: String,
    pub summary: String,
    pub confidence: Confidence,
    /// `#rrggbb` of the recommended option; none for a blend.
    pub color: Option<String>,
    pub scores: Vec<ScoreLine>,
    pub drivers: Vec<CardItem>,
    pub tradeoffs: Vec<CardItem>,
    /// What would change the answer.
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

    /// The card as plain text, for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let rule = "─".repeat(60);
        out.push_str(&format!("{rule}\n{}\n{rule}\n", self.title));
        out.push_str(&format!(
            "Recommendation: {}   (confidence: {})\n{}\n\n",
            self.recommendation,
            self.confidence.as_str(),
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
                out.push_str(&format!("  • {}\n    {}\n", item.title, item.body));
            }
        };
        list(&mut out, "What decided it", &self.drivers);
        list(
            &mut out,
            "Trade-offs, and how to soften them",
            &self.tradeoffs,
        );
        for section in &self.sections {
            list(&mut out, &section.title, &section.items);
        }
        out.push_str(&format!(
            "\nWhat would change the answer\n  {}\n",
            self.flip
        ));
        out.push_str(&format!("\n{}\n", self.footer));
        out
    }
}

fn score_lines(outcome: &Outcome) -> Vec<ScoreLine> {
    outcome
        .scores
        .iter()
        .map(|(id, label, s)| ScoreLine {
            option: id.to_string(),
            label: label.clone(),
            score: s.round().clamp(0.0, 100.0) as u8,
        })
        .collect()
}

fn base(pack: &Pack, version: u32, outcome: &Outcome, title: String, footer_lead: String) -> Card {
    let drivers = if outcome.drivers.is_empty() {
        vec![CardItem {
            title: "Not enough answers yet".into(),
            body: "No answer so far favours one side: this leans on the source's overall ratings."
                .into(),
        }]
    } else {
        outcome
            .drivers
            .iter()
            .map(|d| CardItem {
                title: format!("{} → {}", d.label, d.favours_label),
                body: format!("{} {}", d.reason, d.facts.join("; ")),
            })
            .collect()
    };
    let tradeoffs = outcome
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
        .collect();
    let flip = outcome
        .flip
        .as_ref()
        .map(|f| f.sentence())
        .unwrap_or_else(|| "No change to a single answer would change this recommendation.".into());
    Card {
        title,
        pick: outcome.recommendation.clone(),
        recommendation: outcome.recommendation_label.clone(),
        summary: outcome.summary.clone(),
        confidence: outcome.confidence,
        color: match outcome.pick {
            Pick::Option(o) => pack.options[o].color.clone(),
            Pick::Blend(_) => None,
        },
        scores: score_lines(outcome),
        drivers,
        tradeoffs,
        flip,
        sections: Vec::new(),
        footer: format!(
            "{footer_lead} · confidence {} · pack {}{} · source: {}",
            outcome.confidence.as_str(),
            pack.id,
            // 0: scored straight from the files, with no stored version.
            if version > 0 {
                format!(" v{version}")
            } else {
                String::new()
            },
            pack.source
        ),
    }
}

/// The card for one conversation's result.
pub fn outcome_card(pack: &Pack, version: u32, outcome: &Outcome) -> Card {
    base(
        pack,
        version,
        outcome,
        pack.title.clone(),
        format!(
            "{} of {} questions answered",
            outcome.answered, outcome.applicable
        ),
    )
}

/// The card for a team poll's result.
pub fn team_card(pack: &Pack, version: u32, team: &TeamOutcome) -> Card {
    let mut card = base(
        pack,
        version,
        &team.outcome,
        format!("Team result: {}", pack.title),
        format!("{} teammates answered", team.respondents),
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
    card
}
