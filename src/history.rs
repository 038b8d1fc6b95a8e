//! A channel's history: its finished decisions and closed poll rounds, newest first, each
//! shown again as the card it ended with.

use crate::app::{App, AppError, UserError};
use crate::core::card::Card;
use crate::core::ids::{ChannelId, Platform, WorkspaceId};
use crate::core::messages::{past_line, HISTORY_SHOWN};
use crate::core::poll::RoundRecord;
use crate::store::ResultRecord;

/// One past result.
pub enum Past {
    Decision(ResultRecord),
    Round(RoundRecord),
}

impl Past {
    fn at(&self) -> i64 {
        match self {
            Past::Decision(r) => r.finished_at,
            Past::Round(r) => r.closed_at,
        }
    }

    /// Who ran it: "a decision by Ada", "a team poll by Ada, 4 answered".
    fn what(&self) -> String {
        match self {
            Past::Decision(r) => format!("a decision by {}", r.started_by.name),
            Past::Round(r) => format!(
                "a team poll{} by {}, {}",
                r.round_label(),
                r.creator.name,
                crate::core::card::answered_count(r.tally.respondents)
            ),
        }
    }
}

impl App {
    /// The channel's past results, newest first (at most [`HISTORY_SHOWN`]).
    pub fn history(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
    ) -> Result<Vec<Past>, AppError> {
        let mut past: Vec<Past> = self
            .store
            .results_in(platform, workspace, channel)?
            .into_iter()
            .map(Past::Decision)
            .chain(
                self.store
                    .rounds()?
                    .into_iter()
                    .filter(|r| {
                        r.platform == platform && &r.workspace == workspace && &r.channel == channel
                    })
                    .map(Past::Round),
            )
            .collect();
        past.sort_by_key(|p| std::cmp::Reverse(p.at()));
        past.truncate(HISTORY_SHOWN);
        Ok(past)
    }

    /// The card a past result ended with.
    pub fn past_card(&self, past: &Past) -> Result<Card, AppError> {
        match past {
            Past::Decision(r) => self.result_card(r),
            Past::Round(r) => {
                let pack = self.catalog.get(&r.pack, r.pack_version)?;
                r.fits(&pack)
                    .map_err(|e| crate::app::InternalError::new("stored round", e))?;
                Ok(r.card(&pack))
            }
        }
    }

    /// The history as numbered lines of text, 1 the newest (names as the platform gave
    /// them: escape them where they land).
    pub fn history_lines(&self, past: &[Past]) -> Result<Vec<String>, AppError> {
        past.iter()
            .enumerate()
            .map(|(i, p)| Ok(format!("{}. {}", i + 1, self.past_line(p)?)))
            .collect()
    }

    /// One past result in a line: when, what it recommended with its scores, who ran it.
    pub fn past_line(&self, past: &Past) -> Result<String, AppError> {
        Ok(past_line(past.at(), &self.past_card(past)?, &past.what()))
    }

    /// The card of the channel's `n`th past result (1 is the newest).
    pub fn history_card(
        &self,
        platform: Platform,
        workspace: &WorkspaceId,
        channel: &ChannelId,
        n: usize,
    ) -> Result<Card, AppError> {
        let past = self.history(platform, workspace, channel)?;
        let chosen = n
            .checked_sub(1)
            .and_then(|i| past.get(i))
            .ok_or(UserError::NoResult)?;
        self.past_card(chosen)
    }
}
