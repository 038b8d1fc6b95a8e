//! Reading `/tradeoff poll ...` and working out when a poll closes. Pure: the current time
//! comes in as a parameter, time zones come from the IANA database (chrono-tz), so daylight
//! saving changes land where they should.
//!
//! The grammar, in any order after an optional pack id:
//!
//! ```text
//! for <duration>                 e.g. for 2d, for 1d12h, for 90m
//! until <YYYY-MM-DD> [HH:MM]     e.g. until 2026-12-04 17:00
//! every <day> <HH:MM>            e.g. every friday 16:00, every day 9:30, every weekday 17:00
//! tz <IANA zone>                 e.g. tz Europe/Berlin
//! remind <duration>              one nudge this long before the close
//! anonymous
//! close                          (alone) close the poll in this channel now
//! ```

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub const EXAMPLES: &str =
    "Examples: `poll for 2d`, `poll until 2026-12-04 17:00 tz Europe/Berlin`, \
`poll every friday 16:00 tz America/New_York`, `poll for 3d remind 2h anonymous`, `poll close`.";

/// Which days a recurring poll closes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Days {
    Every,
    Weekdays,
    On(#[serde(with = "weekday_serde")] Weekday),
}

mod weekday_serde {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("not a weekday: {s}")))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Timing {
    /// Open until someone closes it.
    Open,
    /// Closes this many seconds after it opens.
    For { seconds: i64 },
    /// Closes at this local time in the poll's zone.
    Until { at: NaiveDateTime },
    /// Closes at this local time on these days, then opens the next round.
    Every { days: Days, at: NaiveTime },
}

/// A parsed `/tradeoff poll ...` command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSpec {
    pub pack: Option<String>,
    pub timing: Timing,
    /// The IANA zone named with `tz`, if any.
    pub tz: Option<String>,
    pub anonymous: bool,
    /// Seconds before the close to nudge those who have not answered.
    pub remind: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollCommand {
    Open(PollSpec),
    Close,
    /// The channel's latest closed round, as CSV and JSON, privately.
    Export,
}

/// A poll command that could not be read: what was wrong, and examples.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} {EXAMPLES}")]
pub struct ScheduleError {
    pub problem: String,
}

fn err<T>(problem: impl Into<String>) -> Result<T, ScheduleError> {
    Err(ScheduleError {
        problem: problem.into(),
    })
}

/// Parses `30m`, `2h`, `2d`, `1w`, `1d12h`: a whole number of seconds, at least a minute.
pub fn parse_duration(text: &str) -> Result<i64, ScheduleError> {
    let t = text.trim().to_ascii_lowercase();
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut any = false;
    for ch in t.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return err(format!("I can't read the duration “{text}”: use a number with m, h, d or w, like 2d or 1d12h.")),
        };
        let n: i64 = number.parse().or_else(|_| {
            err(format!(
                "I can't read the duration “{text}”: each unit needs a number before it, like 2d."
            ))
        })?;
        total = total.saturating_add(n.saturating_mul(unit));
        number.clear();
        any = true;
    }
    if !number.is_empty() || !any {
        return err(format!(
            "I can't read the duration “{text}”: give a unit (m, h, d or w), like 2d."
        ));
    }
    if total < 60 {
        return err("A poll needs at least a minute.");
    }
    if total > 366 * 86_400 {
        return err("A poll can run for at most a year.");
    }
    Ok(total)
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let t = text.trim().to_ascii_lowercase();
    let (t, pm) = match (t.strip_suffix("pm"), t.strip_suffix("am")) {
        (Some(x), _) => (x.trim().to_owned(), Some(true)),
        (_, Some(x)) => (x.trim().to_owned(), Some(false)),
        _ => (t, None),
    };
    let (h, m) = match t.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => (t.parse::<u32>().ok()?, 0),
    };
    let h = match pm {
        Some(true) if (1..=11).contains(&h) => h + 12,
        Some(false) if h == 12 => 0,
        Some(_) if !(1..=12).contains(&h) => return None,
        _ => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

fn parse_days(text: &str) -> Option<Days> {
    let t = text.to_ascii_lowercase();
    match t.as_str() {
        "day" | "daily" => Some(Days::Every),
        "weekday" | "weekdays" | "workday" => Some(Days::Weekdays),
        _ => t
            .trim_end_matches('s')
            .parse::<Weekday>()
            .ok()
            .map(Days::On),
    }
}

/// Parses the words after `poll`. `packs` are the known pack ids, so a first word naming one
/// is taken as the pack.
pub fn parse_poll(args: &str, packs: &[String]) -> Result<PollCommand, ScheduleError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    if words.len() == 1 && words[0].eq_ignore_ascii_case("close") {
        return Ok(PollCommand::Close);
    }
    if words.len() == 1 && words[0].eq_ignore_ascii_case("export") {
        return Ok(PollCommand::Export);
    }
    let mut spec = PollSpec {
        pack: None,
        timing: Timing::Open,
        tz: None,
        anonymous: false,
        remind: None,
    };
    let mut i = 0;
    let mut timed = false;
    let mut set_timing = |spec: &mut PollSpec, timing: Timing| -> Result<(), ScheduleError> {
        if timed {
            return err("Give one of for, until or every, not several.");
        }
        timed = true;
        spec.timing = timing;
        Ok(())
    };
    while i < words.len() {
        let word = words[i].to_ascii_lowercase();
        let next = |n: usize| words.get(i + n).copied();
        match word.as_str() {
            "for" => {
                let d = next(1).ok_or_else(|| ScheduleError {
                    problem: "“for” needs a duration, like for 2d.".into(),
                })?;
                set_timing(
                    &mut spec,
                    Timing::For {
                        seconds: parse_duration(d)?,
                    },
                )?;
                i += 2;
            }
            "until" => {
                let date = next(1).ok_or_else(|| ScheduleError {
                    problem: "“until” needs a date, like until 2026-12-04 17:00.".into(),
                })?;
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").or_else(|_| {
                    err(format!(
                        "I can't read the date “{date}”: write it as YYYY-MM-DD, like 2026-12-04."
                    ))
                })?;
                let (time, used) = match next(2).and_then(parse_time) {
                    Some(t) => (t, 3),
                    None => (NaiveTime::from_hms_opt(17, 0, 0).expect("valid time"), 2),
                };
                set_timing(
                    &mut spec,
                    Timing::Until {
                        at: date.and_time(time),
                    },
                )?;
                i += used;
            }
            "every" => {
                let days = next(1).and_then(parse_days).ok_or_else(|| ScheduleError {
                    problem: format!(
                        "I can't read the day “{}”: use a weekday (friday), day, or weekday.",
                        next(1).unwrap_or("")
                    ),
                })?;
                let at = next(2).and_then(parse_time).ok_or_else(|| ScheduleError {
                    problem: format!(
                        "I can't read the time “{}”: use HH:MM, like 16:00.",
                        next(2).unwrap_or("")
                    ),
                })?;
                set_timing(&mut spec, Timing::Every { days, at })?;
                i += 3;
            }
            "tz" | "timezone" => {
                let zone = next(1).ok_or_else(|| ScheduleError {
                    problem: "“tz” needs a zone, like tz Europe/Berlin.".into(),
                })?;
                zone.parse::<Tz>()
                    .or_else(|_| err(format!("“{zone}” is not a time zone I know: use an IANA name like Europe/Berlin or America/New_York.")))?;
                spec.tz = Some(zone.to_owned());
                i += 2;
            }
            "remind" => {
                let d = next(1).ok_or_else(|| ScheduleError {
                    problem: "“remind” needs a duration, like remind 2h.".into(),
                })?;
                spec.remind = Some(parse_duration(d)?);
                i += 2;
            }
            "anonymous" | "anon" => {
                spec.anonymous = true;
                i += 1;
            }
            _ if i == 0 && packs.iter().any(|p| p == words[0]) => {
                spec.pack = Some(words[0].to_owned());
                i += 1;
            }
            _ => return err(format!("I don't understand “{}” here.", words[i])),
        }
    }
    if spec.remind.is_some() && spec.timing == Timing::Open {
        return err("A reminder needs a deadline: add for, until or every.");
    }
    Ok(PollCommand::Open(spec))
}

/// The zone a poll runs in: the one named, else the user's (where the platform gives it),
/// else UTC.
pub fn zone(spec_tz: Option<&str>, user_tz: Option<&str>) -> Tz {
    spec_tz
        .or(user_tz)
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// A local time in `tz` as UTC. In a spring-forward gap the clock time does not exist: take
/// the first instant after the gap. In a fall-back overlap it exists twice: take the first.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward minute by minute to the end of the gap (gaps are at most hours).
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// When a poll opened at `opened` closes, if it has a deadline. For a recurring poll this is
/// the first matching local time strictly after `opened`.
pub fn next_close(timing: &Timing, tz: Tz, opened: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match timing {
        Timing::Open => None,
        Timing::For { seconds } => Some(opened + Duration::seconds(*seconds)),
        Timing::Until { at } => Some(local_to_utc(tz, *at)),
        Timing::Every { days, at } => {
            let local_start = opened.with_timezone(&tz).date_naive();
            (0..=8).find_map(|offset| {
                let date = local_start + Duration::days(offset);
                let matches = match days {
                    Days::Every => true,
                    Days::Weekdays => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
                    Days::On(d) => date.weekday() == *d,
                };
                let candidate = local_to_utc(tz, date.and_time(*at));
                (matches && candidate > opened).then_some(candidate)
            })
        }
    }
}

/// Describes the timing for the poll message, in the poll's zone.
pub fn describe(timing: &Timing, tz: Tz, closes: Option<DateTime<Utc>>) -> String {
    let when = |t: DateTime<Utc>| {
        t.with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    match (timing, closes) {
        (Timing::Every { days, at }, Some(c)) => {
            let days = match days {
                Days::Every => "every day".to_owned(),
                Days::Weekdays => "every weekday".to_owned(),
                Days::On(d) => format!("every {d}"),
            };
            format!(
                "Recurring {days} at {} ({tz}); this round closes {}",
                at.format("%H:%M"),
                when(c)
            )
        }
        (_, Some(c)) => format!("Closes {}", when(c)),
        _ => "Open until closed with `poll close`".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        assert_eq!(parse_duration("90m").unwrap(), 5_400);
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("2x").is_err());
        assert!(parse_duration("30s").is_err());
        assert!(parse_duration("0m").is_err());
    }

    #[test]
    fn every_friday_moves_with_daylight_saving() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let timing = Timing::Every {
            days: Days::On(Weekday::Fri),
            at: NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
        };
        // Friday 2026-10-30, EDT (UTC-4): 20:00 UTC.
        let first = next_close(&timing, tz, utc("2026-10-28T12:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-30T20:00:00Z"));
        // Clocks go back on Sunday 2026-11-01; Friday 2026-11-06 is EST (UTC-5): 21:00 UTC.
        let second = next_close(&timing, tz, first).unwrap();
        assert_eq!(second, utc("2026-11-06T21:00:00Z"));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_moves_to_after_it() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-03-29 02:30 does not exist in Berlin: clocks jump from 02:00 to 03:00 CEST.
        let at = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(local_to_utc(tz, at), utc("2026-03-29T01:00:00Z"));
    }
}
