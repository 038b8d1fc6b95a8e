//! Poll exports: a closed round's responses, one row each (who answered, unless the poll
//! was anonymous: then nobody's id or name, ever), their answers, each member's own
//! recommendation and scores, and the team's summary, as CSV and as JSON. A cell a
//! spreadsheet would read as a formula is neutralised.

use crate::app::{App, AppError, InternalError, UserError};
use crate::core::ids::{PollId, UserRef};
use crate::core::pack::Pack;
use crate::core::poll::RoundRecord;
use crate::core::score::{evaluate, Answers, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;

/// One response, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The member's user id; `None` in an anonymous poll.
    pub user_id: Option<String>,
    /// The member's name; `None` in an anonymous poll.
    pub name: Option<String>,
    /// When they last answered (Unix seconds).
    pub answered_at: i64,
    /// question id -> the chosen choice's label, for the questions answered.
    pub answers: BTreeMap<String, String>,
    /// What their own answers recommend.
    pub recommendation: String,
    /// option label -> score, from their own answers.
    pub scores: BTreeMap<String, f64>,
}

/// A closed round, exported.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub poll: String,
    pub round: u32,
    pub pack: String,
    pub pack_version: u32,
    pub anonymous: bool,
    pub closed_at: i64,
    pub responses: Vec<Row>,
    /// The team's recommendation and scores, as the summary card gave them.
    pub team: TeamRow,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamRow {
    pub respondents: u32,
    pub recommendation: String,
    pub scores: BTreeMap<String, f64>,
    /// (recommendation label, members) of the members' own answers.
    pub split: Vec<(String, u32)>,
}

fn scores(outcome: &Outcome) -> BTreeMap<String, f64> {
    outcome
        .scores
        .iter()
        .map(|(_, label, s)| (label.clone(), (s * 10.0).round() / 10.0))
        .collect()
}

/// A cell as a spreadsheet will read it: one that would start a formula (`=`, `+`, `-`, `@`,
/// a tab or a carriage return) is prefixed with a quote, so it stays text.
pub fn neutralised(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

impl Export {
    /// The export of `record`, from its stored responses (`(respondent key, response)`).
    pub fn of(
        pack: &Pack,
        record: &RoundRecord,
        responses: Vec<(String, crate::store::PollResponse)>,
    ) -> Export {
        let mut rows: Vec<Row> = responses
            .into_iter()
            .filter_map(|(_, response)| {
                let answers = Answers::from_ids(
                    pack,
                    response
                        .answers
                        .iter()
                        .map(|(q, c)| (q.as_str(), c.as_str())),
                )
                .ok()?;
                let outcome = evaluate(pack, &answers);
                let labels = outcome
                    .given
                    .iter()
                    .map(|g| (g.question.to_string(), g.choice_label.clone()))
                    .collect();
                let who: Option<&UserRef> = if record.anonymous {
                    None
                } else {
                    response.user.as_ref()
                };
                Some(Row {
                    user_id: who.map(|u| u.id.to_string()),
                    name: who.map(|u| u.name.clone()),
                    answered_at: response.at,
                    answers: labels,
                    recommendation: outcome.recommendation_label.clone(),
                    scores: scores(&outcome),
                })
            })
            .collect();
        // An anonymous poll's rows carry no order of their own either: by answers.
        rows.sort_by(|a, b| {
            (a.name.as_deref(), &a.answers, a.answered_at).cmp(&(
                b.name.as_deref(),
                &b.answers,
                b.answered_at,
            ))
        });
        if record.anonymous {
            for row in &mut rows {
                row.answered_at = 0;
            }
        }
        let team = record.team(pack);
        Export {
            poll: record.poll.to_string(),
            round: record.round,
            pack: pack.id.to_string(),
            pack_version: record.pack_version,
            anonymous: record.anonymous,
            closed_at: record.closed_at,
            responses: rows,
            team: TeamRow {
                respondents: team.respondents,
                recommendation: team.outcome.recommendation_label.clone(),
                scores: scores(&team.outcome),
                split: team.split.clone(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One row per response, then the team's row: who (unless anonymous), when, each
    /// question's answer, the recommendation and each option's score.
    pub fn to_csv(&self, pack: &Pack) -> Result<String, InternalError> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let options: Vec<String> = pack.options.iter().map(|o| o.label.clone()).collect();
        let mut header: Vec<String> = Vec::new();
        if !self.anonymous {
            header.extend(["user_id".into(), "name".into(), "answered_at".into()]);
        }
        header.push("row".into());
        header.extend(pack.questions.iter().map(|q| q.id.to_string()));
        header.push("recommendation".into());
        header.extend(options.iter().map(|o| format!("score: {o}")));
        let write = |out: &mut csv::Writer<Vec<u8>>, cells: Vec<String>| {
            out.write_record(cells.iter().map(|c| neutralised(c)))
                .map_err(|e| InternalError::new("csv", e))
        };
        write(&mut out, header)?;
        for (i, row) in self.responses.iter().enumerate() {
            let mut cells = Vec::new();
            if !self.anonymous {
                cells.push(row.user_id.clone().unwrap_or_default());
                cells.push(row.name.clone().unwrap_or_default());
                cells.push(
                    chrono::DateTime::from_timestamp(row.answered_at, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                );
            }
            cells.push(format!("response {}", i + 1));
            for q in &pack.questions {
                cells.push(row.answers.get(q.id.as_str()).cloned().unwrap_or_default());
            }
            cells.push(row.recommendation.clone());
            for o in &options {
                cells.push(row.scores.get(o).map(|s| s.to_string()).unwrap_or_default());
            }
            write(&mut out, cells)?;
        }
        let mut team = Vec::new();
        if !self.anonymous {
            team.extend([String::new(), String::new(), String::new()]);
        }
        team.push(format!("team ({} answered)", self.team.respondents));
        team.extend(pack.questions.iter().map(|_| String::new()));
        team.push(self.team.recommendation.clone());
        for o in &options {
            team.push(
                self.team
                    .scores
                    .get(o)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            );
        }
        write(&mut out, team)?;
        let bytes = out.into_inner().map_err(|e| InternalError::new("csv", e))?;
        String::from_utf8(bytes).map_err(|e| InternalError::new("csv", e))
    }
}

impl App {
    /// The export of a poll's closed round: the latest one when `round` is `None`.
    pub fn export(&self, poll: &PollId, round: Option<u32>) -> Result<(Export, String), AppError> {
        let record = match round {
            Some(r) => self.store.round(poll, r)?,
            None => self
                .store
                .rounds()?
                .into_iter()
                .filter(|r| &r.poll == poll)
                .max_by_key(|r| r.round),
        }
        .ok_or(UserError::NoResult)?;
        let pack = self.catalog.get(&record.pack, record.pack_version)?;
        record
            .fits(&pack)
            .map_err(|e| InternalError::new("stored round", e))?;
        let responses = self.store.poll_responses(poll, record.round)?;
        let export = Export::of(&pack, &record, responses);
        let csv = export.to_csv(&pack)?;
        Ok((export, csv))
    }
}
