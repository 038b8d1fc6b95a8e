//! Decision packs: the criteria of a source (`data/<id>.toml`) and the conversation that
//! weighs them (`prompts/<id>.toml`), parsed strictly and validated into a [`Pack`] whose
//! numbers are precomputed for scoring.
//!
//! Every mistake in a file is reported with the file and the field, e.g.
//! `prompts/node-vs-python.toml: questions[workload].choices[api].weights.speed: no criterion
//! "speed" in data/node-vs-python.toml`, so an operator can fix a pack without reading code.

use super::ids::{ChoiceId, CriterionId, OptionId, PackId, QuestionId};
use super::words::{fold, Command};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Ratings are on a 1–5 scale throughout: 1 is weak, 3 is middling, 5 is excellent.
pub const RATING_MIN: u8 = 1;
pub const RATING_MAX: u8 = 5;

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
    #[serde(default)]
    quotes: Vec<String>,
    source: RawSource,
    options: Vec<RawOption>,
    criteria: Vec<RawCriterion>,
    #[serde(default)]
    signals: Vec<RawSignal>,
    #[serde(default)]
    blends: Vec<RawBlend>,
}

/// A source is either a citation as one line, or its parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSource {
    Line(String),
    Parts(RawSourceParts),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourceParts {
    title: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    url: Option<String>,
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
    #[serde(default)]
    quotes: Vec<String>,
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
    summary: String,
    #[serde(default)]
    quotes: Vec<String>,
    #[serde(default)]
    base_cost: f64,
    layers: Vec<RawLayer>,
    #[serde(default)]
    tradeoffs: Vec<RawTradeoff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    option: String,
    role: String,
    needs: BTreeMap<String, f64>,
    criteria: Vec<String>,
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

/// Where a pack's quotes come from. Every part but the title is optional, and the card shows
/// only what the pack gives: an address is never guessed.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub title: String,
    pub author: Option<String>,
    pub publisher: Option<String>,
    pub date: Option<String>,
    pub url: Option<String>,
}

impl Source {
    /// A one-line citation, e.g. `“Title”, Author (Publisher), 22 December 2025`.
    pub fn citation(&self) -> String {
        let mut out = format!("“{}”", self.title);
        match (&self.author, &self.publisher) {
            (Some(a), Some(p)) => out.push_str(&format!(", {a} ({p})")),
            (Some(x), None) | (None, Some(x)) => out.push_str(&format!(", {x}")),
            (None, None) => {}
        }
        if let Some(d) = &self.date {
            out.push_str(&format!(", {d}"));
        }
        if let Some(u) = &self.url {
            out.push_str(&format!(", {u}"));
        }
        out
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.citation())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub id: CriterionId,
    pub label: String,
    /// Indexed like [`Pack::candidates`]: the options' ratings as written (1–5), then each
    /// blend's, as written or derived from its layers (see [`Blend`]).
    pub ratings: Vec<f64>,
    /// The source's own words behind this criterion, verbatim. Empty: our reading only.
    pub quotes: Vec<String>,
    /// Indexed like [`Pack::candidates`]: our one-line reading for each candidate.
    pub reasons: Vec<String>,
    /// Indexed like [`Pack::candidates`]: how to soften this criterion when that candidate is
    /// chosen although another is better here. Present for every candidate rated below the
    /// best option.
    pub mitigations: Vec<Option<String>>,
}

impl Criterion {
    /// A candidate's rating mapped onto 0..=1, so that the middle of the scale is 0.5.
    pub fn normalized(&self, candidate: usize) -> f64 {
        normalize(self.ratings[candidate])
    }
}

fn normalize(rating: f64) -> f64 {
    (rating - f64::from(RATING_MIN)) / f64::from(RATING_MAX - RATING_MIN)
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

/// One half of a blend: the part of the system that runs on one option.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub option: usize,
    /// What this half does, e.g. "real-time notifications and the API layer".
    pub role: String,
    /// (signal index, minimum total): the answers call for this layer when every one is met.
    pub needs: Vec<(usize, f64)>,
    /// The criteria on which the blend carries this layer's option's rating.
    pub criteria: Vec<usize>,
}

/// A recommendation that combines options, e.g. the article's hybrid of a Python ML
/// service beside a Node.js real-time layer: a candidate with a score of its own.
///
/// Its rating on a criterion is the one the criterion gives it, if any; else the rating of the
/// option of the layer that covers the criterion; else the mean of its options' ratings (half
/// the system runs on each). It is a candidate only when the answers call for every layer,
/// and its score carries `base_cost` weight units against it: what any second stack costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Blend {
    pub id: String,
    pub label: String,
    /// Its options, in the order its layers name them.
    pub options: Vec<usize>,
    pub summary: String,
    pub quotes: Vec<String>,
    pub layers: Vec<Layer>,
    pub base_cost: f64,
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
    /// Precomputed: for each candidate (options, then blends), sum of weight x normalized
    /// rating.
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
    /// The source's words for when nothing tips the decision, verbatim.
    pub quotes: Vec<String>,
    pub source: Source,
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

    /// How many candidates there are: every option, then every blend.
    pub fn candidates(&self) -> usize {
        self.options.len() + self.blends.len()
    }

    /// A candidate's id: an option's, or a blend's.
    pub fn candidate_id(&self, candidate: usize) -> &str {
        match candidate.checked_sub(self.options.len()) {
            None => self.options[candidate].id.as_str(),
            Some(b) => &self.blends[b].id,
        }
    }

    pub fn candidate_label(&self, candidate: usize) -> &str {
        match candidate.checked_sub(self.options.len()) {
            None => &self.options[candidate].label,
            Some(b) => &self.blends[b].label,
        }
    }

    /// Every quote the pack shows as the source's words, with where it stands in the files:
    /// `quotes`, `criteria[ID]` or `blends[ID]`.
    pub fn quotes(&self) -> Vec<(String, &str)> {
        let own = self
            .quotes
            .iter()
            .map(|q| ("quotes".to_owned(), q.as_str()));
        let criteria = self.criteria.iter().flat_map(|c| {
            c.quotes
                .iter()
                .map(move |q| (format!("criteria[{}]", c.id), q.as_str()))
        });
        let blends = self.blends.iter().flat_map(|b| {
            b.quotes
                .iter()
                .map(move |q| (format!("blends[{}]", b.id), q.as_str()))
        });
        own.chain(criteria).chain(blends).collect()
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

/// The quotes of `pack` that do not stand in `source_text`, with where each stands in the
/// pack's files. A quote must appear verbatim; only runs of white space (a line break in the
/// middle of a sentence, say) count as one space on both sides.
pub fn unquoted<'a>(pack: &'a Pack, source_text: &str) -> Vec<(String, &'a str)> {
    let text = collapse_space(source_text);
    pack.quotes()
        .into_iter()
        .filter(|(_, quote)| !text.contains(&collapse_space(quote)))
        .collect()
}

fn collapse_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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

fn source(file: &str, raw: RawSource) -> Result<Source, PackError> {
    let parts = match raw {
        RawSource::Line(title) => RawSourceParts {
            title,
            author: None,
            publisher: None,
            date: None,
            url: None,
        },
        RawSource::Parts(parts) => parts,
    };
    check_text(file, "source.title", &parts.title, 300)?;
    for (field, value) in [
        ("author", &parts.author),
        ("publisher", &parts.publisher),
        ("date", &parts.date),
    ] {
        if let Some(v) = value {
            check_text(file, &format!("source.{field}"), v, 150)?;
        }
    }
    if let Some(url) = &parts.url {
        check_text(file, "source.url", url, 300)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(' ') {
            return Err(PackError::new(
                file,
                "source.url",
                format!("{url:?} is not an http(s) address"),
            ));
        }
    }
    Ok(Source {
        title: parts.title,
        author: parts.author,
        publisher: parts.publisher,
        date: parts.date,
        url: parts.url,
    })
}

fn best_option_rating(option_ratings: &[f64]) -> f64 {
    option_ratings.iter().copied().fold(f64::MIN, f64::max)
}

/// A blend's rating, reason and mitigation on criterion `k`, where the criterion gives none:
/// the covering layer's option's, or else the mean of its options' (with the weaker one's
/// reason and mitigation, since that half is what falls short).
fn derive_blend_rating(c: &mut Criterion, k: usize, at: usize, blend: &Blend) {
    let from = match blend.layers.iter().find(|l| l.criteria.contains(&k)) {
        Some(layer) => {
            c.ratings[at] = c.ratings[layer.option];
            layer.option
        }
        None => {
            let mean = blend.options.iter().map(|&o| c.ratings[o]).sum::<f64>()
                / blend.options.len() as f64;
            c.ratings[at] = mean;
            blend
                .options
                .iter()
                .copied()
                .min_by(|&a, &b| c.ratings[a].total_cmp(&c.ratings[b]))
                .unwrap_or(blend.options[0])
        }
    };
    c.reasons[at] = c.reasons[from].clone();
    c.mitigations[at] = c.mitigations[from].clone();
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
        let source = source(data, raw.source)?;
        for (i, quote) in raw.quotes.iter().enumerate() {
            check_text(data, &format!("quotes[{i}]"), quote, 300)?;
        }
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

        // Blends are named before criteria are read: a criterion may rate a blend itself.
        unique(data, "blends", raw.blends.iter().map(|b| b.id.as_str()))?;
        if raw.blends.len() > 5 {
            return Err(PackError::new(
                data,
                "blends",
                "a pack can have at most five blends",
            ));
        }
        for b in &raw.blends {
            let at = format!("blends[{}]", b.id);
            check_id(data, &format!("{at}.id"), &b.id)?;
            if option_index(&b.id).is_some() {
                return Err(PackError::new(
                    data,
                    format!("{at}.id"),
                    "a blend cannot share an id with an option",
                ));
            }
        }
        // Candidates: the options, then the blends.
        let candidate_ids: Vec<&str> = options
            .iter()
            .map(|o| o.id.as_str())
            .chain(raw.blends.iter().map(|b| b.id.as_str()))
            .collect();
        let candidate_index = |id: &str| candidate_ids.iter().position(|c| *c == id);

        if raw.criteria.is_empty() {
            return Err(PackError::new(
                data,
                "criteria",
                "a pack needs at least one criterion",
            ));
        }
        unique(data, "criteria", raw.criteria.iter().map(|c| c.id.as_str()))?;
        // Per criterion: ratings, reasons and mitigations per candidate, a blend's still
        // `None` where the criterion does not give it one.
        let mut criteria = Vec::with_capacity(raw.criteria.len());
        let mut explicit: Vec<Vec<bool>> = Vec::with_capacity(raw.criteria.len());
        for c in raw.criteria {
            let at = format!("criteria[{}]", c.id);
            check_id(data, &format!("{at}.id"), &c.id)?;
            check_text(data, &format!("{at}.label"), &c.label, 80)?;
            for (field, keys) in [
                ("ratings", c.ratings.keys().collect::<Vec<_>>()),
                ("reasons", c.reasons.keys().collect()),
                ("mitigations", c.mitigations.keys().collect()),
            ] {
                for key in keys {
                    if candidate_index(key).is_none() {
                        return Err(PackError::new(
                            data,
                            format!("{at}.{field}.{key}"),
                            format!("no option or blend {key:?} in this pack"),
                        ));
                    }
                }
            }
            let mut ratings = Vec::with_capacity(candidate_ids.len());
            let mut reasons = Vec::with_capacity(candidate_ids.len());
            let mut rated = Vec::with_capacity(candidate_ids.len());
            for (i, id) in candidate_ids.iter().enumerate() {
                let is_option = i < options.len();
                let Some(&rating) = c.ratings.get(*id) else {
                    if is_option {
                        return Err(PackError::new(
                            data,
                            format!("{at}.ratings.{id}"),
                            "missing: every option needs a rating",
                        ));
                    }
                    if c.reasons.contains_key(*id) {
                        return Err(PackError::new(
                            data,
                            format!("{at}.reasons.{id}"),
                            "a blend's reason goes with a rating of its own here",
                        ));
                    }
                    ratings.push(f64::NAN);
                    reasons.push(String::new());
                    rated.push(false);
                    continue;
                };
                if !(RATING_MIN..=RATING_MAX).contains(&rating) {
                    return Err(PackError::new(
                        data,
                        format!("{at}.ratings.{id}"),
                        format!("rating {rating} is outside {RATING_MIN}-{RATING_MAX}"),
                    ));
                }
                ratings.push(f64::from(rating));
                let reason = c.reasons.get(*id).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{at}.reasons.{id}"),
                        "missing: every rating needs a one-line reason",
                    )
                })?;
                check_text(data, &format!("{at}.reasons.{id}"), reason, 300)?;
                reasons.push(reason.clone());
                rated.push(true);
            }
            for (i, quote) in c.quotes.iter().enumerate() {
                check_text(data, &format!("{at}.quotes[{i}]"), quote, 300)?;
            }
            let top = best_option_rating(&ratings[..options.len()]);
            let mut mitigations = Vec::with_capacity(candidate_ids.len());
            for (i, id) in candidate_ids.iter().enumerate() {
                let m = c.mitigations.get(*id).cloned();
                if rated[i] && ratings[i] < top && m.is_none() {
                    return Err(PackError::new(
                        data,
                        format!("{at}.mitigations.{id}"),
                        format!("missing: {id} is rated below the best here, so say how a team softens that"),
                    ));
                }
                if let Some(text) = &m {
                    check_text(data, &format!("{at}.mitigations.{id}"), text, 300)?;
                }
                mitigations.push(m);
            }
            explicit.push(rated);
            criteria.push(Criterion {
                id: CriterionId::new(c.id),
                label: c.label,
                ratings,
                quotes: c.quotes,
                reasons,
                mitigations,
            });
        }
        let criterion_index = |id: &str| criteria.iter().position(|c| c.id.as_str() == id);

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

        let mut blends = Vec::new();
        for b in raw.blends {
            let at = format!("blends[{}]", b.id);
            check_text(data, &format!("{at}.label"), &b.label, 60)?;
            check_text(data, &format!("{at}.summary"), &b.summary, 300)?;
            for (i, quote) in b.quotes.iter().enumerate() {
                check_text(data, &format!("{at}.quotes[{i}]"), quote, 300)?;
            }
            if !(b.base_cost.is_finite() && (0.0..=100.0).contains(&b.base_cost)) {
                return Err(PackError::new(
                    data,
                    format!("{at}.base_cost"),
                    "must be a number from 0 to 100",
                ));
            }
            if b.layers.len() < 2 {
                return Err(PackError::new(
                    data,
                    format!("{at}.layers"),
                    "a blend has at least two layers, each on one option",
                ));
            }
            let mut layers: Vec<Layer> = Vec::new();
            let mut covered = HashSet::new();
            for (li, l) in b.layers.iter().enumerate() {
                let lat = format!("{at}.layers[{li}]");
                let option = option_index(&l.option).ok_or_else(|| {
                    PackError::new(
                        data,
                        format!("{lat}.option"),
                        format!("no option {:?} in this pack", l.option),
                    )
                })?;
                if layers.iter().any(|x| x.option == option) {
                    return Err(PackError::new(
                        data,
                        format!("{lat}.option"),
                        format!(
                            "two layers run on {:?}: a blend's layers run on different options",
                            l.option
                        ),
                    ));
                }
                check_text(data, &format!("{lat}.role"), &l.role, 120)?;
                if l.needs.is_empty() {
                    return Err(PackError::new(
                        data,
                        format!("{lat}.needs"),
                        "name at least one signal that calls for this layer",
                    ));
                }
                let mut needs = Vec::new();
                for (signal, min) in &l.needs {
                    let i = signal_index(signal).ok_or_else(|| {
                        PackError::new(
                            data,
                            format!("{lat}.needs.{signal}"),
                            format!("no signal {signal:?} in this pack"),
                        )
                    })?;
                    if !(min.is_finite() && *min > 0.0) {
                        return Err(PackError::new(
                            data,
                            format!("{lat}.needs.{signal}"),
                            "must be a positive number",
                        ));
                    }
                    needs.push((i, *min));
                }
                let mut layer_criteria = Vec::new();
                for crit in &l.criteria {
                    let k = criterion_index(crit).ok_or_else(|| {
                        PackError::new(
                            data,
                            format!("{lat}.criteria"),
                            format!("no criterion {crit:?} in this pack"),
                        )
                    })?;
                    if !covered.insert(k) {
                        return Err(PackError::new(
                            data,
                            format!("{lat}.criteria"),
                            format!("criterion {crit:?} is in two layers"),
                        ));
                    }
                    layer_criteria.push(k);
                }
                layers.push(Layer {
                    option,
                    role: l.role.clone(),
                    needs,
                    criteria: layer_criteria,
                });
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
                options: layers.iter().map(|l| l.option).collect(),
                summary: b.summary,
                quotes: b.quotes,
                layers,
                base_cost: b.base_cost,
                tradeoffs,
            });
        }
        for (k, c) in criteria.iter_mut().enumerate() {
            for (bi, blend) in blends.iter().enumerate() {
                if !explicit[k][options.len() + bi] {
                    derive_blend_rating(c, k, options.len() + bi, blend);
                }
            }
        }

        let questions = self.questions(&prompts, &raw.id, &criteria, &signals)?;
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
            quotes: raw.quotes,
            source,
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
                // Typing a choice's id or label must select it: neither may read as a command.
                for (field, word) in [("id", c.id.as_str()), ("label", c.label.as_str())] {
                    if let Some(command) = Command::parse(word) {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.{field}"),
                            format!("{word:?} is read as the conversation command {:?}; typing it could never select this choice", command.as_str()),
                        ));
                    }
                }
                let folded = fold(&c.label);
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
                    let folded = fold(p);
                    if folded.is_empty() {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.match[{i}]"),
                            "must not be empty",
                        ));
                    }
                    if let Some(command) = Command::parse(p) {
                        return Err(PackError::new(
                            file,
                            format!("{cat}.match[{i}]"),
                            format!("{p:?} is read as the conversation command {:?}, never as this choice", command.as_str()),
                        ));
                    }
                    phrases.push(folded);
                }
                let option_evidence = (0..criteria.first().map_or(0, |c| c.ratings.len()))
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
