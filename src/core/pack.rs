//! Decision packs: the criteria of a source (`data/<id>.toml`) and the conversation that
//! weighs them (`prompts/<id>.toml`), parsed strictly and validated into a [`Pack`] whose
//! numbers are precomputed for scoring.
//!
//! Every mistake in a file is reported with the file and the field, e.g.
//! `prompts/node-vs-python.toml: questions[workload].choices[api].weights.speed: no criterion
//! "speed" in data/node-vs-python.toml`, so an operator can fix a pack without reading code.

use super::ids::{ChoiceId, CriterionId, OptionId, PackId, QuestionId};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Ratings are on a 1–5 scale throughout: 1 is weak, 3 is middling, 5 is excellent.
pub const RATING_MIN: u8 = 1;
pub const RATING_MAX: u8 = 5;

/// Words the conversation reserves for itself; a choice may not use them as its id or label.
pub const RESERVED_WORDS: &[&str] = &["back", "skip", "restart", "cancel", "help"];

/// A pack file failed to parse or validate. `file` and `field` say where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct PackError {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl PackError {
    fn new(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The files as written. `deny_unknown_fields` everywhere: a typo is an error, not a default.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CriteriaFile {
    id: String,
    title: String,
    #[serde(default)]
    description: String,
    source: String,
    options: Vec<RawOption>,
    criteria: Vec<RawCriterion>,
    #[serde(default)]
    signals: Vec<RawSignal>,
    #[serde(default)]
    blends: Vec<RawBlend>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    id: String,
    label: String,
    #[serde(default)]
    color: Option<String>,
    summary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    id: String,
    label: String,
    ratings: BTreeMap<String, u8>,
    facts: Vec<String>,
    reasons: BTreeMap<String, String>,
    #[serde(default)]
    mitigations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    id: String,
    label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlend {
    id: String,
    label: String,
    options: Vec<String>,
    summary: String,
    requires: BTreeMap<String, f64>,
    #[serde(default)]
    tradeoffs: Vec<RawTradeoff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTradeoff {
    title: String,
    mitigation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptsFile {
    pack: String,
    intro: String,
    questions: Vec<RawQuestion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    id: String,
    text: String,
    why: String,
    #[serde(default)]
    ask_if: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    choices: Vec<RawChoice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    id: String,
    label: String,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default, rename = "match")]
    phrases: Vec<String>,
    #[serde(default)]
    weights: BTreeMap<String, f64>,
    #[serde(default)]
    signals: BTreeMap<String, f64>,
}

// ---------------------------------------------------------------------------------------
// The validated pack.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct OptionDef {
    pub id: OptionId,
    pub label: String,
    /// `#rrggbb`, used by chat cards.
    pub color: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub id: CriterionId,
    pub label: String,
    /// Indexed like [`Pack::options`].
    pub ratings: Vec<u8>,
    pub facts: Vec<String>,
    /// Indexed like [`Pack::options`].
    pub reasons: Vec<String>,
    /// Indexed like [`Pack::options`]: how to soften this criterion when that option is
    /// chosen although it is not the best here. Present for every option rated below the top.
    pub mitigations: Vec<Option<String>>,
}

impl Criterion {
    /// A rating mapped onto 0..=1, so that the middle of the scale is 0.5.
    pub fn normalized(&self, option: usize) -> f64 {
        normalize(self.ratings[option])
    }
}

fn normalize(rating: u8) -> f64 {
    f64::from(rating - RATING_MIN) / f64::from(RATING_MAX - RATING_MIN)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tradeoff {
    pub title: String,
    pub mitigation: String,
}

/// A recommendation that combines options, e.g. the article's hybrid of a Python ML
/// service beside a Node.js real-time layer. It applies when every required signal reaches
/// its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    pub id: String,
    pub label: String,
    pub options: Vec<usize>,
    pub summary: String,
    /// (signal index, minimum total)
    pub requires: Vec<(usize, f64)>,
    pub tradeoffs: Vec<Tradeoff>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub id: ChoiceId,
    pub label: String,
    pub hint: Option<String>,
    /// Lower-cased phrases that select this choice in free text.
    pub phrases: Vec<String>,
    /// (criterion index, weight), weights > 0.
    pub weights: Vec<(usize, f64)>,
    /// Indexed like [`Pack::signals`].
    pub signals: Vec<f64>,
    /// Precomputed: for each option, sum of weight x normalized rating.
    pub option_evidence: Vec<f64>,
    /// Precomputed: sum of the weights.
    pub weight_total: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: QuestionId,
    pub text: String,
    pub why: String,
    /// Asked only when, for each (question index, choices), the earlier answer is one of
    /// those choices.
    pub ask_if: Vec<(usize, Vec<usize>)>,
    pub choices: Vec<Choice>,
    /// The largest weight total of any choice: what the question can weigh at most. An
    /// answer that spends less leaves the rest neutral, so every answer set shares one scale.
    pub budget: f64,
}

impl Question {
    pub fn choice_index(&self, id: &str) -> Option<usize> {
        self.choices.iter().position(|c| c.id.as_str() == id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub id: PackId,
    pub title: String,
    pub description: String,
    pub source: String,
    pub intro: String,
    pub options: Vec<OptionDef>,
    pub criteria: Vec<Criterion>,
    pub signals: Vec<Signal>,
    pub blends: Vec<Blend>,
    pub questions: Vec<Question>,
    /// Sum of every question's budget: the fixed denominator of scores.
    pub total_budget: f64,
}

impl Pack {
    pub fn question_index(&self, id: &str) -> Option<usize> {
        self.questions.iter().position(|q| q.id.as_str() == id)
    }

    pub fn option_index(&self, id: &str) -> Option<usize> {
        self.options.iter().position(|o| o.id.as_str() == id)
    }
}

impl fmt::Display for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: Vec<&str> = self.options.iter().map(|o| o.label.as_str()).collect();
        write!(
            f,
            "{} ({}): {}; {} criteria, {} questions",
            self.id,
            self.title,
            options.join(" vs "),
            self.criteria.len(),
            self.questions.len()
        )
    }
}

/// Parses and validates one pack from its two files. `criteria_name` and `prompts_name` are
/// the names used in error messages (the paths as the operator knows them).
pub fn parse_pack(
    criteria_name: &str,
    criteria_text: &str,
    prompts_name: &str,
    prompts_text: &str,
) -> Result<Pack, PackError> {
    let raw: CriteriaFile =
        toml::from_str(criteria_text).map_err(|e| toml_error(criteria_name, criteria_text, &e))?;
    let prompts: PromptsFile =
        toml::from_str(prompts_text).map_err(|e| toml_error(prompts_name, prompts_text, &e))?;
    Validator {
        data: criteria_name,
        prompts: prompts_name,
    }
    .build(raw, prompts)
}

/// toml's message names the offending key where serde knows it; we add the line and column.
fn toml_error(file: &str, text: &str, error: &toml::de::Error) -> PackError {
    let message = error.message().to_owned();
    let field = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}")
        }
        None => "document".to_owned(),
    };
    // Name the field itself where serde told us which one.
    let field =
        extract_backticked(&message).map_or(field.clone(), |name| format!("{name} ({field})"));
    PackError::new(file, field, message.trim().to_owned())
}

fn extract_backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

fn check_id(file: &str, field: &str, id: &str) -> Result<(), PackError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(PackError::new(
            file,
            field,
            format!("id {id:?} must be 1-64 characters of a-z, 0-9, '_' or '-'"),
        ))
    }
}

fn check_text(file: &str, field: &str, text: &str, max: usize) -> Result<(), PackError> {
    let len = text.chars().count();
    if text.trim().is_empty() {
        Err(PackError::new(file, field, "must not be empty"))
    } else if len > max {
        Err(PackError::new(
            file,
            field,
            format!("is {len} characters; at most {max} fit on a card"),
        ))
    } else {
        Ok(())
    }
}

fn unique<'a>(
    file: &str,
    field: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), PackError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(PackError::new(
                file,
                format!("{field}[{id}].id"),
                format!("duplicate id {id:?}"),
            ));
        }
    }
    Ok(())
}

struct Validator<'a> {
    data: &'a str,
    prompts: &'a str,
}

impl Validator<'_> {
    fn build(&self, raw: CriteriaFile, prompts: PromptsFile) -> Result<Pack, PackError> {
        let data = self.data;
        check_id(data, "id", &raw.id)?;
        check_text(data, "title", &raw.title, 150)?;
        check_text(data, "source", &raw.source, 500)?;
        if raw.options.len() < 2 {
            return Err(PackError::new(
                data,
                "options",
                "a pack needs at least two options",
            ));
        }
        if raw.options.len() > 10 {
            return Err(PackError::new(
                data,
                "options",
                "a pack can have at most ten options",
            ));
        }
        unique(data, "options", raw.options.iter().map(|o| o.id.as_str()))?;
        let mut options = Vec::with_capacity(raw.options.len());
        for o in raw.options {
            let at = format!("options[{}]", o.id);
            check_id(data, &format!("{at}.id"), &o.id)?;
            check_text(data, &format!("{at}.label"), &o.label, 40)?;
            check_text(data, &format!("{at}.summary"), &o.summary, 300)?;
            if let Some(color) = &o.color {
                let ok = color.len() == 7
                    && color.starts_with('#')
                    && color[1..].chars().all(|c| c.is_ascii_hexdigit());
                if !ok {
                    return Err(PackError::new(
                        data,
                        format!("{at}.color"),
                        format!("{color:?} is not a #rrggbb colour"),
                    ));
                }
            }
            options.push(OptionDef {
                id: OptionId::new(o.id),
                label: o.label,
                color: o.color,
                summary: o.summary,
            });
        }
        let option_index = |id: &str| options.iter().position(|o| o.id.as_str() == id);

        if raw.criteria.is_empty() {
            return Err(PackError::new(
                data,
                "criteria",
                "a pack needs at least one criterion",
            ));
        }
        unique(data, "criteria", raw.criteria.iter().map(|c| c.id.as_str()))?;
        let mut criteria = Vec::with_capacity(raw.criteria.len());
        for c in raw.criteria {
            let at = format!("criteria[{}]", c.id);
            check_id(data, &format!("{at}.id"), &c.id)?;
            check_text(data, &format!("{at}.label"), &c.label, 80)?;
            let per_option = |keys: Vec<&String>, field: &str| -> Result<(), PackError> {
                for key in keys {
                    if option_index(key).is_none() {
                        return Err(PackError::new(
                            data,
                            format!("{at}.{field}.{key}"),
                            format!("no option {key:?} in this pack"),
                        ));
                    }
                }
                Ok(())
            };
            per_option(c.ratings.keys().collect(), "ratings")?;
            per_option(c.reasons.keys().collect(), "reasons")?;
            per_option(c.mitigations.keys().collect(), "mitigations")?;
            let mut ratings = Vec::with_capacity(options.len());
            let mut reasons = Vec::with_capacity(options.len());
            for o in &options {
                let rating = *c.ratings.get(o.id.as_str()).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{at}.ratings.{}", o.id),
                        "missing: every option needs a rating",
                    )
                })?;
                if !(RATING_MIN..=RATING_MAX).contains(&rating) {
                    return Err(PackError::new(
                        data,
                        format!("{at}.ratings.{}", o.id),
                        format!("rating {rating} is outside {RATING_MIN}-{RATING_MAX}"),
                    ));
                }
                ratings.push(rating);
                let reason = c.reasons.get(o.id.as_str()).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{at}.reasons.{}", o.id),
                        "missing: every option needs a one-line reason",
                    )
                })?;
                check_text(data, &format!("{at}.reasons.{}", o.id), reason, 300)?;
                reasons.push(reason.clone());
            }
            if c.facts.is_empty() {
                return Err(PackError::new(
                    data,
                    format!("{at}.facts"),
                    "name at least one fact from the source",
                ));
            }
            for (i, fact) in c.facts.iter().enumerate() {
                check_text(data, &format!("{at}.facts[{i}]"), fact, 300)?;
            }
            let top = ratings.iter().copied().max().unwrap_or(RATING_MAX);
            let mut mitigations = Vec::with_capacity(options.len());
            for (i, o) in options.iter().enumerate() {
                let m = c.mitigations.get(o.id.as_str()).cloned();
                if ratings[i] < top && m.is_none() {
                    return Err(PackError::new(
                        data,
                        format!("{at}.mitigations.{}", o.id),
                        format!("missing: {} is rated below the best here, so say how a team softens that", o.id),
                    ));
                }
                if let Some(text) = &m {
                    check_text(data, &format!("{at}.mitigations.{}", o.id), text, 300)?;
                }
                mitigations.push(m);
            }
            criteria.push(Criterion {
                id: CriterionId::new(c.id),
                label: c.label,
                ratings,
                facts: c.facts,
                reasons,
                mitigations,
            });
        }

        unique(data, "signals", raw.signals.iter().map(|s| s.id.as_str()))?;
        let mut signals = Vec::new();
        for s in raw.signals {
            check_id(data, &format!("signals[{}].id", s.id), &s.id)?;
            check_text(data, &format!("signals[{}].label", s.id), &s.label, 80)?;
            signals.push(Signal {
                id: s.id,
                label: s.label,
            });
        }
        let signal_index = |id: &str| signals.iter().position(|s| s.id == id);

        unique(data, "blends", raw.blends.iter().map(|b| b.id.as_str()))?;
        let mut blends = Vec::new();
        for b in raw.blends {
            let at = format!("blends[{}]", b.id);
            check_id(data, &format!("{at}.id"), &b.id)?;
            if option_index(&b.id).is_some() {
                return Err(PackError::new(
                    data,
                    format!("{at}.id"),
                    "a blend cannot share an id with an option",
                ));
            }
            check_text(data, &format!("{at}.label"), &b.label, 60)?;
            check_text(data, &format!("{at}.summary"), &b.summary, 300)?;
            let mut members = Vec::new();
            for o in &b.options {
                let i = option_index(o).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{at}.options"),
                        format!("no option {o:?} in this pack"),
                    )
                })?;
                members.push(i);
            }
            if members.len() < 2 {
                return Err(PackError::new(
                    data,
                    format!("{at}.options"),
                    "a blend combines at least two options",
                ));
            }
            if b.requires.is_empty() {
                return Err(PackError::new(
                    data,
                    format!("{at}.requires"),
                    "a blend needs at least one required signal",
                ));
            }
            let mut requires = Vec::new();
            for (signal, min) in &b.requires {
                let i = signal_index(signal).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{at}.requires.{signal}"),
                        format!("no signal {signal:?} in this pack"),
                    )
                })?;
                if !(min.is_finite() && *min > 0.0) {
                    return Err(PackError::new(
                        data,
                        format!("{at}.requires.{signal}"),
                        "must be a positive number",
                    ));
                }
                requires.push((i, *min));
            }
            let mut tradeoffs = Vec::new();
            for (i, t) in b.tradeoffs.into_iter().enumerate() {
                check_text(data, &format!("{at}.tradeoffs[{i}].title"), &t.title, 200)?;
                check_text(
                    data,
                    &format!("{at}.tradeoffs[{i}].mitigation"),
                    &t.mitigation,
                    300,
                )?;
                tradeoffs.push(Tradeoff {
                    title: t.title,
                    mitigation: t.mitigation,
                });
            }
            blends.push(Blend {
                id: b.id,
                label: b.label,
                options: members,
                summary: b.summary,
                requires,
                tradeoffs,
            });
        }

        let questions = self.questions(&prompts, &raw.id, &options, &criteria, &signals)?;
        let total_budget = questions.iter().map(|q| q.budget).sum::<f64>();
        if total_budget <= 0.0 {
            return Err(PackError::new(
                self.prompts,
                "questions",
                "no choice weighs any criterion, so nothing can be scored",
            ));
        }
        Ok(Pack {
            id: PackId::new(raw.id),
            title: raw.title,
            description: raw.description,
            source: raw.source,
            intro: prompts.intro,
            options,
            criteria,
            signals,
            blends,
            questions,
            total_budget,
        })
    }

    fn questions(
        &self,
        prompts: &PromptsFile,
        pack_id: &str,
        options: &[OptionDef],
        criteria: &[Criterion],
        signals: &[Signal],
    ) -> Result<Vec<Question>, PackError> {
        let file = self.prompts;
        if prompts.pack != pack_id {
            return Err(PackError::new(
                file,
                "pack",
                format!(
                    "names pack {:?} but {} defines {pack_id:?}",
                    prompts.pack, self.data
                ),
            ));
        }
        check_text(file, "intro", &prompts.intro, 1000)?;
        if prompts.questions.is_empty() {
            return Err(PackError::new(
                file,
                "questions",
                "a pack needs at least one question",
            ));
        }
        unique(
            file,
            "questions",
            prompts.questions.iter().map(|q| q.id.as_str()),
        )?;
        let mut questions: Vec<Question> = Vec::with_capacity(prompts.questions.len());
        for q in &prompts.questions {
            let at = format!("questions[{}]", q.id);
            check_id(file, &format!("{at}.id"), &q.id)?;
            check_text(file, &format!("{at}.text"), &q.text, 300)?;
            check_text(file, &format!("{at}.why"), &q.why, 300)?;
            if q.choices.len() < 2 {
                return Err(PackError::new(
                    file,
                    format!("{at}.choices"),
                    "a question needs at least two choices",
                ));
            }
            if q.choices.len() > 25 {
                return Err(PackError::new(
                    file,
                    format!("{at}.choices"),
                    "a question can have at most 25 choices",
                ));
            }
            unique(
                file,
                &format!("{at}.choices"),
                q.choices.iter().map(|c| c.id.as_str()),
            )?;
            let mut ask_if = Vec::new();
            for (other, allowed) in &q.ask_if {
                // Conditions may only look back: the conversation asks in order.
                let qi = questions.iter().position(|p| p.id.as_str() == other).ok_or_else(|| {
                    PackError::new(
                        file,
                        format!("{at}.ask_if.{other}"),
                        format!("no earlier question {other:?} (conditions can only name questions asked before this one)"),
                    )
                })?;
                let mut idx = Vec::new();
                for choice in allowed {
                    let ci = questions[qi].choice_index(choice).ok_or_else(|| {
                        PackError::new(
                            file,
                            format!("{at}.ask_if.{other}"),
                            format!("question {other:?} has no choice {choice:?}"),
                        )
                    })?;
                    idx.push(ci);
                }
                ask_if.push((qi, idx));
            }
            let mut labels = HashSet::new();
            let mut choices = Vec::with_capacity(q.choices.len());
            for c in &q.choices {
                let cat = format!("{at}.choices[{}]", c.id);
                check_id(file, &format!("{cat}.id"), &c.id)?;
                check_text(file, &format!("{cat}.label"), &c.label, 60)?;
                if let Some(hint) = &c.hint {
                    check_text(file, &format!("{cat}.hint"), hint, 150)?;
                }
                let folded = super::text::fold(&c.label);
                for word in [c.id.as_str(), folded.as_str()] {
                    if RESERVED_WORDS.contains(&word) {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.id"),
                            format!("{word:?} is a conversation command (back, skip, restart, cancel, help)"),
                        ));
                    }
                }
                if !labels.insert(folded) {
                    return Err(PackError::new(
                        file,
                        format!("{cat}.label"),
                        "two choices share this label",
                    ));
                }
                let mut weights = Vec::new();
                for (crit, w) in &c.weights {
                    let ci = criteria
                        .iter()
                        .position(|k| k.id.as_str() == crit)
                        .ok_or_else(|| {
                            PackError::new(
                                file,
                                format!("{cat}.weights.{crit}"),
                                format!("no criterion {crit:?} in {}", self.data),
                            )
                        })?;
                    if !(w.is_finite() && *w > 0.0 && *w <= 100.0) {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.weights.{crit}"),
                            "must be a number above 0 and at most 100",
                        ));
                    }
                    weights.push((ci, *w));
                }
                let mut sig = vec![0.0; signals.len()];
                for (name, v) in &c.signals {
                    let si = signals.iter().position(|s| &s.id == name).ok_or_else(|| {
                        PackError::new(
                            file,
                            format!("{cat}.signals.{name}"),
                            format!("no signal {name:?} in {}", self.data),
                        )
                    })?;
                    if !v.is_finite() || v.abs() > 100.0 {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.signals.{name}"),
                            "must be a number from -100 to 100",
                        ));
                    }
                    sig[si] = *v;
                }
                let mut phrases = Vec::new();
                for (i, p) in c.phrases.iter().enumerate() {
                    let folded = super::text::fold(p);
                    if folded.is_empty() {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.match[{i}]"),
                            "must not be empty",
                        ));
                    }
                    phrases.push(folded);
                }
                let option_evidence = (0..options.len())
                    .map(|o| {
                        weights
                            .iter()
                            .map(|&(ci, w)| w * criteria[ci].normalized(o))
                            .sum()
                    })
                    .collect();
                let weight_total = weights.iter().map(|&(_, w)| w).sum();
                choices.push(Choice {
                    id: ChoiceId::new(c.id.clone()),
                    label: c.label.clone(),
                    hint: c.hint.clone(),
                    phrases,
                    weights,
                    signals: sig,
                    option_evidence,
                    weight_total,
                });
            }
            let budget = choices.iter().map(|c| c.weight_total).fold(0.0, f64::max);
            questions.push(Question {
                id: QuestionId::new(q.id.clone()),
                text: q.text.clone(),
                why: q.why.clone(),
                ask_if,
                choices,
                budget,
            });
        }
        Ok(questions)
    }
}
