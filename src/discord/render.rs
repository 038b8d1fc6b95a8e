//! Discord's formats for what the bot says: a question as a message with buttons (or select
//! menus), the summary [`Card`] as an embed, and the limits Discord enforces. Every message
//! is cut to fit here, where it is rendered, so Discord never refuses one for its size.
//!
//! User text (names) is neutralised for Discord markdown, and every message carries
//! `allowed_mentions: {"parse": []}`, so an answer can never ping `@everyone` or a role.

use crate::core::card::{Card, CardItem, FLIP_TITLE};
use crate::core::chart::Chart;
use crate::core::messages::{Prompt, REPLY_HINT};
use crate::core::text::Command;
use serde::Serialize;
use serde_json::{json, Value};

/// Discord's documented limits, in characters.
pub mod limits {
    pub const CONTENT: usize = 2000;
    pub const EMBED_TITLE: usize = 256;
    pub const EMBED_DESCRIPTION: usize = 4096;
    pub const EMBED_FIELDS: usize = 25;
    pub const FIELD_NAME: usize = 256;
    pub const FIELD_VALUE: usize = 1024;
    pub const FOOTER: usize = 2048;
    /// Summed over every embed of one message.
    pub const EMBEDS_TOTAL: usize = 6000;
    pub const CUSTOM_ID: usize = 100;
    pub const BUTTON_LABEL: usize = 80;
    pub const ROWS: usize = 5;
    pub const BUTTONS_PER_ROW: usize = 5;
    pub const SELECT_OPTIONS: usize = 25;
    /// Select option label, value and description.
    pub const OPTION_TEXT: usize = 100;
    pub const PLACEHOLDER: usize = 150;
    pub const THREAD_NAME: usize = 100;
}

/// The colour of a blend (no single option's colour fits it).
const BLEND_COLOR: u32 = 0x8e_44_ad;
const ELLIPSIS: char = '…';

/// `text` cut to at most `max` characters, ending with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push(ELLIPSIS);
    out
}

/// Neutralises Discord markdown and mention syntax in user text: a backslash before each
/// character that could format, link or mention, and before `-` that would start a list.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for ch in text.chars() {
        let special = matches!(
            ch,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']' | '@'
        ) || (ch == '-' && line_start);
        if special {
            out.push('\\');
        }
        out.push(ch);
        line_start = ch == '\n' || (line_start && ch.is_whitespace());
    }
    out
}

/// A user's name as it may appear in a message: one line, escaped, at most 80 characters.
pub fn display_name(name: &str) -> String {
    let one_line: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    escape_markdown(&truncate(one_line.trim(), 80))
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmbedField {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmbedFooter {
    pub text: String,
}

/// An embed, in Discord's JSON shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Embed {
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub color: u32,
    pub fields: Vec<EmbedField>,
    pub footer: EmbedFooter,
}

impl Embed {
    /// Characters that count towards the 6000 of a message.
    pub fn total_chars(&self) -> usize {
        let n = |s: &str| s.chars().count();
        n(&self.title)
            + n(&self.description)
            + n(&self.footer.text)
            + self
                .fields
                .iter()
                .map(|f| n(&f.name) + n(&f.value))
                .sum::<usize>()
    }

    /// Cuts the embed to Discord's limits with at most `budget` characters in all. The first
    /// field (the scores) and the last (what would change the answer) are kept; fields in
    /// between give way first, replaced by a note saying how many were left out.
    pub fn fit(&mut self, budget: usize) {
        use limits::*;
        let cut = |s: &mut String, max: usize| *s = truncate(s, max);
        cut(&mut self.title, EMBED_TITLE);
        cut(&mut self.description, EMBED_DESCRIPTION);
        cut(&mut self.footer.text, FOOTER);
        for f in &mut self.fields {
            cut(&mut f.name, FIELD_NAME);
            cut(&mut f.value, FIELD_VALUE);
            // Discord refuses empty field names and values.
            if f.name.trim().is_empty() {
                f.name = "\u{200b}".into();
            }
            if f.value.trim().is_empty() {
                f.value = "—".into();
            }
        }
        if self.title.trim().is_empty() {
            self.title = "Result".into();
        }

        let mut fields = std::mem::take(&mut self.fields);
        let last = (fields.len() >= 2).then(|| fields.pop()).flatten();
        let mut omitted = 0usize;
        let assemble = |middle: &[EmbedField], omitted: usize| {
            let mut all = middle.to_vec();
            if omitted > 0 {
                all.push(EmbedField {
                    name: "More".into(),
                    value: format!("{omitted} more not shown here."),
                    inline: false,
                });
            }
            all.extend(last.clone());
            all
        };
        while fields.len() > 1 && assemble(&fields, omitted).len() > EMBED_FIELDS {
            fields.pop();
            omitted += 1;
        }
        self.fields = assemble(&fields, omitted);
        while self.total_chars() > budget && fields.len() > 1 {
            fields.pop();
            omitted += 1;
            self.fields = assemble(&fields, omitted);
        }
        // Still too long (huge title, description or remaining fields): cut the longest
        // text by the excess until it fits. Each round shortens something, so it ends.
        while self.total_chars() > budget {
            let excess = self.total_chars() - budget;
            let mut longest: &mut String = &mut self.description;
            for s in std::iter::once(&mut self.footer.text)
                .chain(std::iter::once(&mut self.title))
                .chain(
                    self.fields
                        .iter_mut()
                        .flat_map(|f| [&mut f.name, &mut f.value]),
                )
            {
                if s.chars().count() > longest.chars().count() {
                    longest = s;
                }
            }
            let len = longest.chars().count();
            if len <= 1 {
                break;
            }
            *longest = truncate(longest, len.saturating_sub(excess).max(1));
        }
    }
}

fn color_of(card: &Card) -> u32 {
    card.color
        .as_deref()
        .and_then(|c| u32::from_str_radix(c.trim_start_matches('#'), 16).ok())
        .unwrap_or(BLEND_COLOR)
}

fn item_field(prefix: &str, item: &CardItem) -> EmbedField {
    EmbedField {
        name: format!("{prefix}{}", escape_markdown(&item.title)),
        value: escape_markdown(&item.body),
        inline: false,
    }
}

/// The summary card as one embed, within every limit.
pub fn card_embed(card: &Card) -> Embed {
    let scores = card
        .scores
        .iter()
        .map(|s| {
            format!(
                "`{}` **{}** {}",
                s.bar(),
                s.score,
                escape_markdown(&s.label)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields = vec![EmbedField {
        name: "Scores".into(),
        value: if scores.is_empty() {
            "—".into()
        } else {
            scores
        },
        inline: false,
    }];
    fields.extend(card.drivers.iter().map(|d| item_field("Why: ", d)));
    fields.extend(
        card.tradeoffs
            .iter()
            .map(|t| item_field("Trade-off (our reading): ", t)),
    );
    for section in &card.sections {
        let prefix = format!("{}: ", escape_markdown(&section.title));
        fields.extend(section.items.iter().map(|i| item_field(&prefix, i)));
    }
    fields.push(EmbedField {
        name: FLIP_TITLE.into(),
        value: escape_markdown(&card.flip),
        inline: false,
    });
    let mut embed = Embed {
        title: card.title.clone(),
        description: format!(
            "**{}** · {} · confidence {}\n{}",
            escape_markdown(&card.recommendation),
            escape_markdown(&card.score_summary()),
            escape_markdown(&card.confidence_line()),
            escape_markdown(&card.summary)
        ),
        color: color_of(card),
        fields,
        footer: EmbedFooter {
            text: card.footer.clone(),
        },
    };
    embed.fit(limits::EMBEDS_TOTAL);
    embed
}

/// A message body: content, embeds, components, and no mentions ever parsed. Every message
/// the bot sends is built here, so the limits and the mention rule hold everywhere.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    pub content: String,
    pub embeds: Vec<Embed>,
    /// `None` leaves a message's components as they are (on an edit); `Some(vec![])`
    /// removes them.
    pub components: Option<Vec<Value>>,
    /// Reply to this message (a written answer).
    pub reply_to: Option<String>,
    /// Only the person who caused it sees it (interaction responses only).
    pub ephemeral: bool,
}

impl Message {
    pub fn text(content: impl Into<String>) -> Self {
        Message {
            content: content.into(),
            ..Default::default()
        }
    }

    /// The JSON body for a create, an edit, or an interaction response's `data`.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert(
            "content".into(),
            Value::String(truncate(&self.content, limits::CONTENT)),
        );
        let mut budget = limits::EMBEDS_TOTAL;
        let embeds: Vec<Value> = self
            .embeds
            .iter()
            .take(10)
            .map(|e| {
                let mut e = e.clone();
                e.fit(budget);
                budget = budget.saturating_sub(e.total_chars());
                serde_json::to_value(e).expect("embeds serialize")
            })
            .collect();
        if !embeds.is_empty() {
            body.insert("embeds".into(), Value::Array(embeds));
        }
        if let Some(components) = &self.components {
            body.insert("components".into(), Value::Array(components.clone()));
        }
        if let Some(id) = &self.reply_to {
            body.insert(
                "message_reference".into(),
                json!({ "message_id": id, "fail_if_not_exists": false }),
            );
        }
        if self.ephemeral {
            body.insert("flags".into(), json!(64));
        }
        body.insert("allowed_mentions".into(), json!({ "parse": [] }));
        Value::Object(body)
    }
}

/// What a button or menu of ours says: which conversation, which question, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentId {
    pub conversation: String,
    pub question: usize,
    pub action: ComponentAction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentAction {
    /// A choice's button: its index in the question.
    Choice(usize),
    /// A select menu of choices; the picked value is `c<index>`.
    Select(usize),
    Command(Command),
}

const ID_PREFIX: &str = "to";

impl ComponentId {
    /// `to:<conversation>:<question>:<action>`. Indexes, not ids: ids may be 64 characters
    /// each, and the conversation keeps its pack version, so indexes stay meaningful.
    pub fn encode(&self) -> String {
        let action = match self.action {
            ComponentAction::Choice(i) => format!("c{i}"),
            ComponentAction::Select(n) => format!("s{n}"),
            ComponentAction::Command(c) => c.as_str().to_owned(),
        };
        let id = format!(
            "{ID_PREFIX}:{}:{}:{action}",
            self.conversation, self.question
        );
        debug_assert!(id.len() <= limits::CUSTOM_ID, "custom_id too long: {id}");
        id
    }

    pub fn parse(custom_id: &str) -> Option<Self> {
        let mut parts = custom_id.split(':');
        if parts.next()? != ID_PREFIX {
            return None;
        }
        let conversation = parts.next()?.to_owned();
        let question = parts.next()?.parse().ok()?;
        let tail = parts.next()?;
        if parts.next().is_some() || conversation.is_empty() {
            return None;
        }
        // Commands first: "cancel" and "skip" begin like a choice and a select.
        let action = if let Some(command) = Command::parse(tail) {
            ComponentAction::Command(command)
        } else if let Some(i) = tail.strip_prefix('c') {
            ComponentAction::Choice(i.parse().ok()?)
        } else {
            ComponentAction::Select(tail.strip_prefix('s')?.parse().ok()?)
        };
        Some(ComponentId {
            conversation,
            question,
            action,
        })
    }
}

/// The value of a choice in a select menu.
pub fn select_value(choice: usize) -> String {
    format!("c{choice}")
}

pub fn parse_select_value(value: &str) -> Option<usize> {
    value.strip_prefix('c')?.parse().ok()
}

fn button(custom_id: String, label: &str, style: u8) -> Value {
    json!({
        "type": 2,
        "style": style,
        "label": truncate(label, limits::BUTTON_LABEL),
        "custom_id": custom_id,
    })
}

/// The components of a question: its choices as buttons (up to four rows of five), or as
/// select menus when there are more than twenty, then a row of commands.
pub fn question_components(conversation: &str, prompt: &Prompt) -> Vec<Value> {
    use limits::*;
    let id = |action| {
        ComponentId {
            conversation: conversation.to_owned(),
            question: prompt.question,
            action,
        }
        .encode()
    };
    let choice_rows = ROWS - 1;
    let mut rows = Vec::new();
    if prompt.choices.len() <= choice_rows * BUTTONS_PER_ROW {
        for (r, chunk) in prompt.choices.chunks(BUTTONS_PER_ROW).enumerate() {
            let buttons: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let index = r * BUTTONS_PER_ROW + i;
                    button(id(ComponentAction::Choice(index)), &c.label, 1)
                })
                .collect();
            rows.push(json!({ "type": 1, "components": buttons }));
        }
    } else {
        // More choices than buttons fit: select menus of 25. Past four menus, the rest can
        // still be typed (the message lists every choice).
        for (n, chunk) in prompt
            .choices
            .chunks(SELECT_OPTIONS)
            .take(choice_rows)
            .enumerate()
        {
            let options: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut option = json!({
                        "label": truncate(&c.label, OPTION_TEXT),
                        "value": select_value(n * SELECT_OPTIONS + i),
                    });
                    if let Some(hint) = &c.hint {
                        option["description"] = Value::String(truncate(hint, OPTION_TEXT));
                    }
                    option
                })
                .collect();
            let first = n * SELECT_OPTIONS + 1;
            let placeholder = format!("Choose an answer ({first}–{})", first + chunk.len() - 1);
            rows.push(json!({ "type": 1, "components": [{
                "type": 3,
                "custom_id": id(ComponentAction::Select(n)),
                "placeholder": truncate(&placeholder, PLACEHOLDER),
                "min_values": 1,
                "max_values": 1,
                "options": options,
            }]}));
        }
    }
    let commands = [
        (Command::Back, "Back", 2),
        (Command::Skip, "Skip", 2),
        (Command::Restart, "Restart", 2),
        (Command::Cancel, "Cancel", 4),
    ];
    let buttons: Vec<Value> = commands
        .iter()
        .map(|(c, label, style)| button(id(ComponentAction::Command(*c)), label, *style))
        .collect();
    rows.push(json!({ "type": 1, "components": buttons }));
    rows
}

/// The bold first line of a question message; kept when the message is updated.
pub fn question_heading(text: &str) -> String {
    format!("**{}**", escape_markdown(text))
}

/// A question's message: the heading with its position, why it is asked, the choices
/// numbered (typing a number picks it), and how to answer. `lead` goes first (the pack's
/// introduction, or what the previous step did).
pub fn question_message(conversation: &str, prompt: &Prompt, lead: &[String]) -> Message {
    let mut content = question_text(prompt, lead);
    content.push_str(REPLY_HINT);
    Message {
        content,
        components: Some(question_components(conversation, prompt)),
        ..Default::default()
    }
}

/// A question's text without the hint on how to answer: the lead lines, the heading with its
/// position, why it is asked, and the choices numbered. Private forms (a poll's answers),
/// where nothing can be typed, use it alone.
pub fn question_text(prompt: &Prompt, lead: &[String]) -> String {
    let mut content = String::new();
    for line in lead {
        content.push_str(line);
        content.push_str("\n\n");
    }
    content.push_str(&format!(
        "{}\n-# Question {} of {} · Why we ask: {}\n",
        question_heading(&prompt.text),
        prompt.number,
        prompt.total,
        escape_markdown(&prompt.why)
    ));
    for (i, c) in prompt.choices.iter().enumerate() {
        content.push_str(&format!("{}. {}\n", i + 1, escape_markdown(&c.described())));
    }
    content
}

/// The message showing the card: a one-line headline (the notification text) and the embed.
/// What the custom_id of a card's "Decision record" button starts with; the rest is the
/// button's value ([`crate::records::RecordOf::conversation_button`], `round_button`).
pub const RECORD_BUTTON: &str = "tr:";

/// A card with its "Decision record" button.
pub fn with_record_button(mut message: Message, value: &str) -> Message {
    message.components = Some(vec![json!({ "type": 1, "components": [{
        "type": 2,
        "style": 2,
        "label": "Decision record",
        "custom_id": truncate(&format!("{RECORD_BUTTON}{value}"), 100),
    }]})]);
    message
}

/// The chart's file name, as its message's attachment.
pub const CHART_FILE: &str = "tradeoff-chart.png";

/// The card's message with its chart attached ([`CHART_FILE`], sent as `files[0]`) and
/// shown in the embed: the body of the edit that adds the chart to a posted card.
pub fn card_with_chart(card: &Card, chart: &Chart) -> Value {
    let mut body = card_message(card).to_json();
    body["embeds"][0]["image"] = serde_json::json!({ "url": format!("attachment://{CHART_FILE}") });
    body["attachments"] = serde_json::json!([{
        "id": 0,
        "filename": CHART_FILE,
        "description": truncate(&format!("Chart: {}. {}", chart.headline, chart.verdict), 1024),
    }]);
    body
}

pub fn card_message(card: &Card) -> Message {
    Message {
        content: escape_markdown(&card.headline()),
        embeds: vec![card_embed(card)],
        ..Default::default()
    }
}

/// "Backend decision: Ada", within Discord's 100 characters (thread names are plain text).
pub fn thread_name(user: &str) -> String {
    let one_line: String = user
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let name = format!("Backend decision: {}", one_line.trim());
    truncate(name.trim(), limits::THREAD_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
    }

    #[test]
    fn markdown_and_mentions_are_neutralised() {
        assert_eq!(escape_markdown("@everyone"), "\\@everyone");
        assert_eq!(escape_markdown("<@&123>"), "\\<\\@&123\\>");
        assert_eq!(escape_markdown("**bold** a-b"), "\\*\\*bold\\*\\* a-b");
        assert_eq!(escape_markdown("- item"), "\\- item");
    }

    #[test]
    fn component_ids_round_trip() {
        for action in [
            ComponentAction::Choice(3),
            ComponentAction::Select(1),
            ComponentAction::Command(Command::Skip),
            ComponentAction::Command(Command::Cancel),
        ] {
            let id = ComponentId {
                conversation: "1234567890123456789".into(),
                question: 11,
                action,
            };
            let encoded = id.encode();
            assert!(encoded.len() <= limits::CUSTOM_ID);
            assert_eq!(ComponentId::parse(&encoded), Some(id));
        }
        assert_eq!(ComponentId::parse("other:1:2:c3"), None);
        assert_eq!(ComponentId::parse("to:1:2:nonsense"), None);
    }
}
