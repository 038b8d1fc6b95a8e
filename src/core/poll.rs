//! Team polls: the poll record, what comes due when, and the round summary with the change
//! since the previous round. Pure: times are seconds since the epoch passed in; randomness
//! (the poll id and the anonymity salt) is handed in by the caller.
//!
//! Anonymous polls never keep a user id with the answers: a response is filed under a salted
//! hash of the user id, so a member can still change their answers until the close, and the
//! salt is dropped when the poll ends.

pub use super::card::answered_count;
use super::card::{team_card, Basis, Card, CardItem, CardSection};
use super::ids::{ChannelId, PackId, Platform, PollId, UserRef, WorkspaceId};
use super::pack::Pack;
use super::schedule::{describe, next_close, zone, PollSpec, Timing};
use super::score::Answers;
use super::tally::{team_outcome, Tally, TeamOutcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A summary posted this long after its deadline says it is late.
pub const LATE_AFTER_SECS: i64 = 120;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollState {
    Open,
    Closed,
}

/// What one round ended with, kept to describe the next round's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub round: u32,
    /// `None` when the round named no winner.
    pub recommendation: Option<String>,
    pub recommendation_label: String,
    /// option label -> score
    pub scores: Vec<(String, f64)>,
    /// criterion label -> the weight the team's answers gave it
    pub weights: Vec<(String, f64)>,
    pub respondents: u32,
    pub closed_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub id: PollId,
    pub platform: Platform,
    pub workspace: WorkspaceId,
    pub channel: ChannelId,
    pub creator: UserRef,
    pub pack: PackId,
    pub pack_version: u32,
    pub spec: PollSpec,
    /// The IANA zone the poll's times are read in.
    pub tz: String,
    pub round: u32,
    pub opened_at: i64,
    pub closes_at: Option<i64>,
    pub remind_at: Option<i64>,
    pub reminded: bool,
    pub state: PollState,
    /// Hex salt for anonymous response keys; emptied when the poll ends.
    pub salt: String,
    /// How many members answered this round.
    pub respondents: u32,
    pub previous: Option<RoundSummary>,
    /// The record's version in the store: how many times it has been saved (0 for one not
    /// saved yet). A change is saved only if the version it read is still current.
    #[serde(default)]
    pub version: u64,
}

/// What a poll needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Remind,
    Close,
}

/// A closed round as it is kept: everything its summary card, its poll message and the
/// channel's history are made from, whenever they are shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub poll: PollId,
    pub round: u32,
    pub platform: Platform,
    pub workspace: WorkspaceId,
    pub channel: ChannelId,
    pub creator: UserRef,
    pub pack: PackId,
    pub pack_version: u32,
    pub recurring: bool,
    pub anonymous: bool,
    /// The IANA zone the poll's times are read in.
    pub tz: String,
    /// The team's answers, counted.
    pub tally: Tally,
    /// Who answered, by name; always empty for an anonymous poll.
    pub by: Vec<String>,
    pub closed_at: i64,
    /// The deadline the round had, if any.
    pub due: Option<i64>,
    /// Seconds the summary was late by, when the bot was down at the deadline.
    pub late_by: Option<i64>,
    /// How the round before this one ended.
    pub previous: Option<RoundSummary>,
}

/// One closed round: its record, the team's result and the summary card.
#[derive(Clone, Debug)]
pub struct RoundResult {
    pub record: RoundRecord,
    pub team: TeamOutcome,
    pub card: Card,
    /// Set when a recurring poll opened its next round.
    pub next_round: Option<u32>,
}

/// What a poll shows, decided here and rendered by each platform when it is sent, from the
/// poll and its rounds as they are then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "poll_shows")]
pub enum PollEffect {
    /// A round's poll message, posted.
    Message { round: u32 },
    /// A round's poll message shown again as it stands: its count while open, closed after.
    Refresh { round: u32 },
    /// A closed round's summary card.
    Card { round: u32 },
    /// A closed round's chart, shown with its card once the card is out.
    Chart { round: u32 },
    /// The round's one reminder, naming whoever has not answered when it is sent.
    Remind { round: u32 },
}

impl PollEffect {
    pub fn round(&self) -> u32 {
        match self {
            PollEffect::Message { round }
            | PollEffect::Refresh { round }
            | PollEffect::Card { round }
            | PollEffect::Chart { round }
            | PollEffect::Remind { round } => *round,
        }
    }
}

/// What follows a poll's opening.
pub fn after_open(poll: &Poll) -> Vec<PollEffect> {
    vec![PollEffect::Message { round: poll.round }]
}

/// What follows an answer: the count moves only when a member answers for the first time.
pub fn after_answer(poll: &Poll, first: bool) -> Vec<PollEffect> {
    if first {
        vec![PollEffect::Refresh { round: poll.round }]
    } else {
        Vec::new()
    }
}

/// What follows a round's close: its message closed, its card, and a recurring poll's
/// next round.
pub fn after_close(result: &RoundResult) -> Vec<PollEffect> {
    let round = result.record.round;
    let mut effects = vec![
        PollEffect::Refresh { round },
        PollEffect::Card { round },
        PollEffect::Chart { round },
    ];
    if let Some(next) = result.next_round {
        effects.push(PollEffect::Message { round: next });
    }
    effects
}

/// What follows a reminder coming due.
pub fn after_remind(poll: &Poll) -> Vec<PollEffect> {
    vec![PollEffect::Remind { round: poll.round }]
}

impl RoundRecord {
    /// Whether this record was counted with `pack`'s questions and choices.
    pub fn fits(&self, pack: &Pack) -> Result<(), String> {
        let shaped = self.tally.counts.len() == pack.questions.len()
            && self
                .tally
                .counts
                .iter()
                .zip(&pack.questions)
                .all(|(c, q)| c.len() == q.choices.len())
            && self.tally.applicable.len() == pack.questions.len()
            && self.tally.picks.len() == pack.candidates();
        if shaped && pack.id == self.pack {
            Ok(())
        } else {
            Err(format!(
                "round {} of poll {} was not counted with pack {} as loaded",
                self.round, self.poll, pack.id
            ))
        }
    }

    pub fn team(&self, pack: &Pack) -> TeamOutcome {
        team_outcome(pack, &self.tally)
    }

    /// How the round ended, as the next round's change is told from it.
    pub fn summary(&self, pack: &Pack) -> RoundSummary {
        round_summary(pack, &self.team(pack), self.round, self.closed_at)
    }

    /// " (round 2)" for a recurring poll, nothing otherwise: for titles.
    pub fn round_label(&self) -> String {
        if self.recurring {
            format!(" (round {})", self.round)
        } else {
            String::new()
        }
    }

    /// The round's summary card.
    pub fn card(&self, pack: &Pack) -> Card {
        let team = self.team(pack);
        let basis = Basis {
            by: self.by.clone(),
            at: self.closed_at,
        };
        let mut card = team_card(pack, self.pack_version, &team, &basis);
        if self.recurring {
            card.title = format!("{}{}", card.title, self.round_label());
        }
        let mut notes = Vec::new();
        if let Some(prev) = &self.previous {
            notes.push(CardItem {
                title: format!("Since round {}", prev.round),
                body: change_since(
                    prev,
                    &round_summary(pack, &team, self.round, self.closed_at),
                ),
            });
        }
        if let Some(late) = self.late_by {
            let due = self.due.map(|c| {
                ts(c)
                    .with_timezone(&zone(Some(&self.tz), None))
                    .format("%a %H:%M %Z")
                    .to_string()
            });
            notes.push(CardItem {
                title: "This summary is late".into(),
                body: format!(
                    "The bot was offline at the deadline ({}); it is posted {} late.",
                    due.unwrap_or_default(),
                    human_duration(late)
                ),
            });
        }
        if !notes.is_empty() {
            card.sections.insert(
                0,
                CardSection {
                    title: "Notes".into(),
                    items: notes,
                },
            );
        }
        if self.anonymous {
            card.footer = format!("Anonymous poll · {}", card.footer);
        }
        card
    }
}

fn ts(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Poll {
    /// A new poll. `user_tz` is the opener's zone where the platform gives it.
    #[expect(
        clippy::too_many_arguments,
        reason = "a poll has this many independent facts"
    )]
    pub fn open(
        id: PollId,
        salt: String,
        key: (Platform, WorkspaceId, ChannelId),
        creator: UserRef,
        pack: &Pack,
        pack_version: u32,
        spec: PollSpec,
        user_tz: Option<&str>,
        now: i64,
    ) -> Poll {
        let tz = zone(spec.tz.as_deref(), user_tz);
        let mut poll = Poll {
            id,
            platform: key.0,
            workspace: key.1,
            channel: key.2,
            creator,
            pack: pack.id.clone(),
            pack_version,
            tz: tz.name().to_owned(),
            spec,
            round: 1,
            opened_at: now,
            closes_at: None,
            remind_at: None,
            reminded: false,
            state: PollState::Open,
            salt,
            respondents: 0,
            previous: None,
            version: 0,
        };
        poll.schedule(now);
        poll
    }

    fn zone(&self) -> chrono_tz::Tz {
        zone(Some(&self.tz), None)
    }

    /// Sets the close and reminder times of the current round, opened at `from`.
    fn schedule(&mut self, from: i64) {
        self.closes_at =
            next_close(&self.spec.timing, self.zone(), ts(from)).map(|t| t.timestamp());
        self.remind_at = match (self.closes_at, self.spec.remind) {
            (Some(c), Some(r)) if c - r > from => Some(c - r),
            _ => None,
        };
        self.reminded = false;
    }

    pub fn is_open(&self) -> bool {
        self.state == PollState::Open
    }

    pub fn is_recurring(&self) -> bool {
        matches!(self.spec.timing, Timing::Every { .. })
    }

    /// The key a member's response is filed under: their id, or for an anonymous poll a
    /// salted hash of it.
    pub fn respondent_key(&self, user: &UserRef) -> String {
        if self.spec.anonymous {
            let mut h = Sha256::new();
            h.update(self.salt.as_bytes());
            h.update([0x1f]);
            h.update(user.id.as_str().as_bytes());
            hex_prefix(&h.finalize(), 16)
        } else {
            user.id.to_string()
        }
    }

    /// What is due at `now`, if anything. A close that is due wins over a reminder.
    pub fn due(&self, now: i64) -> Option<Due> {
        if self.state != PollState::Open {
            return None;
        }
        if self.closes_at.is_some_and(|c| c <= now) {
            return Some(Due::Close);
        }
        if !self.reminded && self.remind_at.is_some_and(|r| r <= now) {
            return Some(Due::Remind);
        }
        None
    }

    /// The earliest time something will be due.
    pub fn next_due(&self) -> Option<i64> {
        if self.state != PollState::Open {
            return None;
        }
        let remind = self.remind_at.filter(|_| !self.reminded);
        match (self.closes_at, remind) {
            (Some(c), Some(r)) => Some(c.min(r)),
            (c, r) => c.or(r),
        }
    }

    /// Closes the current round with these responses, given by `names` (empty for an
    /// anonymous poll). A recurring poll opens its next round (after `now`: rounds missed
    /// while the bot was down are not replayed); any other poll ends.
    pub fn close_round<'a>(
        &mut self,
        pack: &Pack,
        responses: impl IntoIterator<Item = &'a Answers>,
        names: Vec<String>,
        now: i64,
    ) -> RoundResult {
        let mut tally = Tally::new(pack);
        for answers in responses {
            tally.add(pack, answers);
        }
        let record = RoundRecord {
            poll: self.id.clone(),
            round: self.round,
            platform: self.platform,
            workspace: self.workspace.clone(),
            channel: self.channel.clone(),
            creator: self.creator.clone(),
            pack: self.pack.clone(),
            pack_version: self.pack_version,
            recurring: self.is_recurring(),
            anonymous: self.spec.anonymous,
            tz: self.tz.clone(),
            tally,
            // An anonymous poll names nobody, whatever the caller passed.
            by: if self.spec.anonymous {
                Vec::new()
            } else {
                names
            },
            closed_at: now,
            due: self.closes_at,
            late_by: self
                .closes_at
                .map(|c| now - c)
                .filter(|&late| late > LATE_AFTER_SECS),
            previous: self.previous.clone(),
        };
        let team = record.team(pack);
        let card = record.card(pack);
        let next_round = if self.is_recurring() {
            self.previous = Some(round_summary(pack, &team, self.round, now));
            self.round += 1;
            self.opened_at = now;
            self.respondents = 0;
            self.schedule(now.max(self.closes_at.unwrap_or(now)));
            Some(self.round)
        } else {
            self.state = PollState::Closed;
            self.salt.clear();
            self.closes_at = Some(now);
            None
        };
        RoundResult {
            record,
            team,
            card,
            next_round,
        }
    }

    /// Ends the poll for good (a recurring one opens no further rounds) and drops the salt.
    pub fn end(&mut self, now: i64) {
        self.state = PollState::Closed;
        self.salt.clear();
        self.closes_at = Some(self.closes_at.map_or(now, |c| c.min(now)));
        self.remind_at = None;
    }

    /// " (round 2)" for a recurring poll, nothing otherwise: for titles.
    pub fn round_label(&self, round: u32) -> String {
        if self.is_recurring() {
            format!(" (round {round})")
        } else {
            String::new()
        }
    }

    /// One line for the poll message: timing and participation, never the answers.
    pub fn status_line(&self) -> String {
        let timing = describe(&self.spec.timing, self.zone(), self.closes_at.map(ts));
        let people = match self.respondents {
            1 => "1 teammate has answered".to_owned(),
            n => format!("{n} teammates have answered"),
        };
        match self.state {
            PollState::Open => format!("{people} · {timing}"),
            PollState::Closed => format!("Closed · {people}"),
        }
    }
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

pub fn human_duration(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn round_summary(pack: &Pack, team: &TeamOutcome, round: u32, now: i64) -> RoundSummary {
    RoundSummary {
        round,
        recommendation: team.outcome.recommendation.clone(),
        recommendation_label: team.outcome.recommendation_label.clone(),
        scores: team
            .outcome
            .scores
            .iter()
            .map(|(_, l, s)| (l.clone(), *s))
            .collect(),
        weights: pack
            .criteria
            .iter()
            .zip(&team.weights)
            .map(|(c, w)| (c.label.clone(), *w))
            .collect(),
        respondents: team.respondents,
        closed_at: now,
    }
}

/// "Real-time apps up, AI and data ecosystem down; Node.js's lead down from 18 to 6 points."
pub fn change_since(prev: &RoundSummary, now: &RoundSummary) -> String {
    let prev_w: BTreeMap<&str, f64> = prev.weights.iter().map(|(l, w)| (l.as_str(), *w)).collect();
    let mut deltas: Vec<(&str, f64)> = now
        .weights
        .iter()
        .map(|(l, w)| {
            (
                l.as_str(),
                w - prev_w.get(l.as_str()).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, d)| d.abs() >= 0.25)
        .collect();
    deltas.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let mut parts: Vec<String> = deltas
        .iter()
        .take(2)
        .map(|(l, d)| format!("{l} {}", if *d > 0.0 { "up" } else { "down" }))
        .collect();
    let lead = |s: &RoundSummary| {
        let mut v: Vec<&(String, f64)> = s.scores.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        (v[0].0.clone(), v[0].1 - v.get(1).map_or(0.0, |x| x.1))
    };
    let (was_leader, was) = lead(prev);
    let (leader, is) = lead(now);
    parts.push(if leader == was_leader {
        let dir = if is.round() > was.round() {
            "up"
        } else if is.round() < was.round() {
            "down"
        } else {
            "unchanged at"
        };
        if dir == "unchanged at" {
            format!("{leader}'s lead unchanged at {:.0} points", is)
        } else {
            format!("{leader}'s lead {dir} from {:.0} to {:.0} points", was, is)
        }
    } else {
        format!(
            "{leader} now leads by {:.0} points (was {was_leader} by {:.0})",
            is, was
        )
    });
    if prev.recommendation != now.recommendation {
        parts.push(format!(
            "the recommendation moved from {} to {}",
            prev.recommendation_label, now.recommendation_label
        ));
    }
    let mut text = parts.join(", ");
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    format!(
        "{text}. {} answered, {} last round.",
        now.respondents, prev.respondents
    )
}
