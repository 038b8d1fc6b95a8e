//! The `/tradeoff` subcommands, defined once for every platform: Slack and Discord read a
//! command with [`Subcommand`], their help texts list [`help_lines`], and Discord registers
//! the commands from [`SUBCOMMANDS`].

/// One subcommand, as people see it.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// What follows the name, as help shows it ("" for nothing).
    pub args: &'static str,
    /// What it does, in at most 100 characters (Discord's limit for a description).
    pub summary: &'static str,
    /// Its one free-text option on Discord: the option's name and description.
    pub option: Option<(&'static str, &'static str)>,
    /// Further help lines: (what follows `/tradeoff`, what it does).
    pub more: &'static [(&'static str, &'static str)],
}

/// Every subcommand, in the order help and Discord's menu show them.
pub const SUBCOMMANDS: &[Spec] = &[
    Spec {
        name: "start",
        args: "[pack]",
        summary: "Start a backend decision in a new thread: a few questions, then a recommendation.",
        option: Some(("pack", "Which decision to make (default: the first).")),
        more: &[],
    },
    Spec {
        name: "poll",
        args: "[pack] [for 2d | until 2026-12-04 17:00 | every friday 16:00] [tz Europe/Berlin] [remind 2h] [anonymous]",
        summary: "Ask the whole team privately; the team's summary is posted at the close.",
        option: Some((
            "schedule",
            "e.g. for 2d tz Europe/Berlin remind 2h anonymous · every friday 16:00 · close",
        )),
        more: &[
            (
                "poll close",
                "Close this channel's poll now (its creator or an admin).",
            ),
            (
                "poll export",
                "The latest closed round as CSV and JSON, privately (its creator or an admin).",
            ),
        ],
    },
    Spec {
        name: "result",
        args: "",
        summary: "Show the latest result in this channel.",
        option: None,
        more: &[],
    },
    Spec {
        name: "history",
        args: "[N]",
        summary: "List this channel's past decisions and polls; with N, show that one again.",
        option: Some(("which", "The number in the list, to show that result again.")),
        more: &[],
    },
    Spec {
        name: "record",
        args: "",
        summary: "Post the latest result or poll summary here as a decision record (Markdown, MADR).",
        option: None,
        more: &[],
    },
    Spec {
        name: "cancel",
        args: "",
        summary: "Stop the decision in this thread; in a channel, your latest one there, else the latest.",
        option: None,
        more: &[],
    },
    Spec {
        name: "packs",
        args: "",
        summary: "List the decision packs.",
        option: None,
        more: &[],
    },
    Spec {
        name: "help",
        args: "",
        summary: "How to answer, and the commands.",
        option: None,
        more: &[],
    },
];

/// What `/tradeoff ...` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subcommand {
    Start {
        pack: Option<String>,
    },
    /// The poll's words, read by [`super::schedule::parse_poll`] against the packs.
    Poll {
        args: String,
    },
    Result,
    /// The channel's history; with a number, that entry's card.
    History {
        show: Option<usize>,
    },
    Record,
    Cancel,
    Packs,
    Help,
}

/// A subcommand that is not one of [`SUBCOMMANDS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("I don't know `{given}`.")]
pub struct Unknown {
    /// What was typed, cut to 40 characters.
    pub given: String,
}

impl Subcommand {
    /// Reads the text after `/tradeoff`, as Slack sends it: the subcommand's name, then its
    /// arguments. Nothing at all asks for help.
    pub fn parse(text: &str) -> Result<Self, Unknown> {
        let text = text.trim();
        let (name, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        Self::from_parts(name, Some(rest))
    }

    /// A subcommand by its name and the value of its option, as Discord sends them.
    pub fn from_parts(name: &str, option: Option<&str>) -> Result<Self, Unknown> {
        let option = option.map(str::trim).unwrap_or("");
        Ok(match name.to_lowercase().as_str() {
            "" | "help" => Subcommand::Help,
            "start" => Subcommand::Start {
                pack: option.split_whitespace().next().map(str::to_owned),
            },
            "poll" => Subcommand::Poll {
                args: option.to_owned(),
            },
            "result" => Subcommand::Result,
            "record" => Subcommand::Record,
            "history" => Subcommand::History {
                show: option
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok()),
            },
            "cancel" => Subcommand::Cancel,
            "packs" => Subcommand::Packs,
            _ => {
                return Err(Unknown {
                    given: name.chars().take(40).collect(),
                })
            }
        })
    }
}

/// Help's lines, in order: (the command as typed after `command`, what it does).
pub fn help_lines(command: &str) -> Vec<(String, &'static str)> {
    let mut lines = Vec::new();
    for spec in SUBCOMMANDS {
        let usage = match spec.args {
            "" => format!("{command} {}", spec.name),
            args => format!("{command} {} {args}", spec.name),
        };
        lines.push((usage, spec.summary));
        for (usage, what) in spec.more {
            lines.push((format!("{command} {usage}"), *what));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_and_discord_parts_read_the_same() {
        assert_eq!(
            Subcommand::parse(" start  fastapi-vs-express extra"),
            Ok(Subcommand::Start {
                pack: Some("fastapi-vs-express".into())
            })
        );
        assert_eq!(
            Subcommand::from_parts("start", Some("fastapi-vs-express")),
            Subcommand::parse("start fastapi-vs-express")
        );
        assert_eq!(
            Subcommand::parse("POLL for 2d anonymous"),
            Ok(Subcommand::Poll {
                args: "for 2d anonymous".into()
            })
        );
        assert_eq!(Subcommand::parse(""), Ok(Subcommand::Help));
        assert_eq!(Subcommand::from_parts("packs", None), Ok(Subcommand::Packs));
        assert_eq!(
            Subcommand::parse("strat"),
            Err(Unknown {
                given: "strat".into()
            })
        );
    }

    #[test]
    fn every_subcommand_is_read_and_helped() {
        let lines = help_lines("/tradeoff");
        for spec in SUBCOMMANDS {
            assert!(
                Subcommand::from_parts(spec.name, None).is_ok(),
                "{} is read",
                spec.name
            );
            assert!(lines
                .iter()
                .any(|(usage, _)| usage.starts_with(&format!("/tradeoff {}", spec.name))));
            assert!(
                (1..=100).contains(&spec.summary.chars().count()),
                "{spec:?}"
            );
        }
        assert!(lines.iter().any(|(u, _)| u == "/tradeoff poll close"));
    }
}
