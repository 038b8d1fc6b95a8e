//! Block Kit: the bot's messages (the thread's parent, questions, answered questions, the
//! summary card) rendered from the core's values. Every piece of text is escaped for mrkdwn
//! where it lands in mrkdwn, and every Block Kit limit is enforced here, where the message
//! is built: long text is shortened with "…" or split over several blocks, so Slack never
//! refuses a message for its size.
//!
//! The ids of buttons and menus are defined here too ([`action_ids`], [`parse_action`]):
//! they carry the conversation's thread and question so a click needs no lookup.

use crate::core::card::{Card, CardItem, DRIVERS_TITLE, FLIP_TITLE, TRADEOFFS_TITLE};
use crate::core::conversation::{Conversation, Input};
use crate::core::messages::{answered_line, prompt_at, REPLY_HINT};
use crate::core::pack::Pack;
use crate::core::text::Command;
use serde_json::Value;
use slack_morphism::prelude::*;

/// Block Kit limits (api.slack.com/reference/block-kit), in characters.
pub mod limits {
    pub const BLOCKS: usize = 50;
    pub const HEADER_TEXT: usize = 150;
    pub const SECTION_TEXT: usize = 3000;
    pub const SECTION_FIELDS: usize = 10;
    pub const FIELD_TEXT: usize = 2000;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const ACTIONS_ELEMENTS: usize = 25;
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_VALUE: usize = 2000;
    pub const ACTION_ID: usize = 255;
    pub const BLOCK_ID: usize = 255;
    pub const OPTION_TEXT: usize = 75;
    pub const OPTION_VALUE: usize = 150;
    pub const SELECT_OPTIONS: usize = 100;
    pub const PLACEHOLDER: usize = 150;
    /// Not documented: messages whose blocks hold about 13,000 characters have been refused
    /// with `msg_blocks_too_long` while within every documented limit. Stay well below.
    pub const TOTAL_TEXT: usize = 12_000;
    /// `text` of chat.postMessage: Slack truncates beyond 40,000; the fallback needs far less.
    pub const FALLBACK_TEXT: usize = 3000;
}

/// Above this many choices a question shows a menu instead of buttons, so a thread stays
/// readable. Six short labels wrap onto two lines at most, and the command buttons are in an
/// actions block of their own either way.
pub const MAX_CHOICE_BUTTONS: usize = 6;

/// A message ready for chat.postMessage / chat.update: the notification text and blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

impl Message {
    pub fn content(&self) -> SlackMessageContent {
        SlackMessageContent::new()
            .with_text(self.text.clone())
            .with_blocks(self.blocks.clone())
    }

    pub fn blocks_json(&self) -> Value {
        serde_json::to_value(&self.blocks).unwrap_or(Value::Null)
    }
}

/// Escapes text for mrkdwn: `&`, `<` and `>`, and nothing else (Slack's rule). This is what
/// stops `<!channel>` or `<@U123>` typed by a user from pinging anyone.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, ending in "…" when shortened. Never cuts an `&amp;`-style
/// entity in half, so escaped text stays escaped.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1);
    let mut cut: String = text.chars().take(keep).collect();
    if let Some(amp) = cut.rfind('&') {
        if !cut[amp..].contains(';') && cut.len() - amp < 6 {
            cut.truncate(amp);
        }
    }
    cut.push('…');
    cut
}

/// `<@U123>` for a well-formed Slack user id; anything else is shown escaped, never as markup.
pub fn mention(user_id: &str) -> String {
    let well_formed = !user_id.is_empty()
        && user_id.len() <= 32
        && user_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if well_formed {
        format!("<@{user_id}>")
    } else {
        escape(user_id)
    }
}

// ---------------------------------------------------------------------------------------
// Action ids: block_id `tradeoff|<thread>|<question>|choices` (or `|commands`), action_id
// `choice|<choice id>`, `select` or `cmd|<command>`. Pack ids are `[a-z0-9_-]`, thread keys
// are ours, so `|` never occurs inside a part.
// ---------------------------------------------------------------------------------------

const PREFIX: &str = "tradeoff";

pub mod action_ids {
    pub const SELECT: &str = "select";
    pub fn choice(choice: &str) -> String {
        format!("choice|{choice}")
    }
    pub fn command(command: crate::core::text::Command) -> String {
        format!("cmd|{}", command.as_str())
    }
    pub fn block(thread: &str, question: &str, kind: &str) -> String {
        format!("{}|{thread}|{question}|{kind}", super::PREFIX)
    }
}

/// What a click means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// The conversation's thread key.
    pub thread: String,
    /// The question whose message holds the button.
    pub question: String,
    pub input: Input,
}

/// What a click means: the conversation's thread key, its question, and the core's input.
pub fn parse_action(block_id: &str, action_id: &str, value: &str) -> Option<Click> {
    let mut parts = block_id.split('|');
    if parts.next()? != PREFIX {
        return None;
    }
    let thread = parts.next()?.to_owned();
    let question = parts.next()?.to_owned();
    let input = match action_id.split_once('|') {
        Some(("choice", choice)) => Input::Choice {
            question: question.clone(),
            choice: choice.to_owned(),
        },
        Some(("cmd", name)) => Input::Pressed {
            question: question.clone(),
            command: Command::parse(name)?,
        },
        None if action_id == action_ids::SELECT && !value.is_empty() => Input::Choice {
            question: question.clone(),
            choice: value.to_owned(),
        },
        _ => return None,
    };
    Some(Click {
        thread,
        question,
        input,
    })
}

// ---------------------------------------------------------------------------------------
// A small block model, so limits can be enforced before converting to Block Kit types.
// ---------------------------------------------------------------------------------------

enum Block {
    Header(String),
    /// mrkdwn, already escaped.
    Section(String),
    Divider,
    /// mrkdwn, already escaped.
    Context(String),
    Actions(String, Vec<SlackActionBlockElement>),
}

impl Block {
    fn text_len(&self) -> usize {
        match self {
            Block::Header(t) | Block::Section(t) | Block::Context(t) => t.chars().count(),
            Block::Divider | Block::Actions(..) => 0,
        }
    }

    fn into_slack(self) -> SlackBlock {
        match self {
            Block::Header(t) => {
                SlackHeaderBlock::new(truncate(&t, limits::HEADER_TEXT).into()).into()
            }
            Block::Section(t) => SlackSectionBlock::new()
                .with_text(SlackBlockMarkDownText::new(truncate(&t, limits::SECTION_TEXT)).into())
                .into(),
            Block::Divider => SlackDividerBlock::new().into(),
            Block::Context(t) => SlackContextBlock::new(vec![SlackBlockMarkDownText::new(
                truncate(&t, limits::SECTION_TEXT),
            )
            .into()])
            .into(),
            Block::Actions(id, mut elements) => {
                elements.truncate(limits::ACTIONS_ELEMENTS);
                SlackActionsBlock::new(elements)
                    .with_block_id(truncate(&id, limits::BLOCK_ID).into())
                    .into()
            }
        }
    }
}

/// Appends `items` under a bold `title`, as many sections as the text needs: each item
/// stays whole where it fits, and one too long for a section on its own is shortened.
fn push_list(out: &mut Vec<Block>, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let mut current = format!("*{}*", escape(title));
    for item in items {
        let item = truncate(item, limits::SECTION_TEXT - 2);
        if current.chars().count() + 1 + item.chars().count() > limits::SECTION_TEXT {
            out.push(Block::Section(std::mem::take(&mut current)));
            current = item;
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&item);
        }
    }
    if !current.is_empty() {
        out.push(Block::Section(current));
    }
}

/// Keeps a message within the block count and the total-size ceiling: the first and last
/// blocks (header and footer) stay; middle blocks are dropped, then the longest texts shorten.
fn fit(mut blocks: Vec<Block>) -> Vec<SlackBlock> {
    if blocks.len() > limits::BLOCKS {
        let last = blocks.pop();
        blocks.truncate(limits::BLOCKS - 2);
        blocks.push(Block::Context(
            "…shortened to fit in one Slack message.".into(),
        ));
        blocks.extend(last);
    }
    loop {
        let total: usize = blocks.iter().map(Block::text_len).sum();
        if total <= limits::TOTAL_TEXT {
            break;
        }
        let Some((i, len)) = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (i, b.text_len()))
            .max_by_key(|(_, len)| *len)
        else {
            break;
        };
        if len <= 200 {
            break;
        }
        let target = len.saturating_sub(total - limits::TOTAL_TEXT).max(200);
        match &mut blocks[i] {
            Block::Header(t) | Block::Section(t) | Block::Context(t) => *t = truncate(t, target),
            Block::Divider | Block::Actions(..) => break,
        }
    }
    blocks.into_iter().map(Block::into_slack).collect()
}

fn fallback(text: &str) -> String {
    truncate(text, limits::FALLBACK_TEXT)
}

// ---------------------------------------------------------------------------------------
// The messages.
// ---------------------------------------------------------------------------------------

/// The message in the channel that the conversation's thread hangs from.
pub fn parent(pack: &Pack, user_id: &str) -> Message {
    let lead = format!(
        "{} started a backend decision, answer in the thread: *{}*",
        mention(user_id),
        escape(&pack.title)
    );
    Message {
        text: fallback(&lead),
        blocks: fit(vec![
            Block::Section(lead),
            Block::Context(escape(&pack.intro)),
        ]),
    }
}

fn button(text: &str, action_id: String, value: &str) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(truncate(text, limits::BUTTON_TEXT).as_str().into())
        .with_action_id(truncate(&action_id, limits::ACTION_ID).into())
        .with_value(truncate(value, limits::BUTTON_VALUE))
}

/// A question in the thread: its text and why it is asked, the numbered choices, buttons (a
/// menu when there are more than [`MAX_CHOICE_BUTTONS`]), the command buttons, and a line
/// saying that a written reply works too.
pub fn question(pack: &Pack, conversation: &Conversation, q: usize, thread: &str) -> Message {
    question_at(pack, q, conversation.progress(pack), thread)
}

/// [`question`], given the conversation's progress (question number, of how many).
pub fn question_at(pack: &Pack, q: usize, progress: (usize, usize), thread: &str) -> Message {
    let p = prompt_at(pack, q, progress);
    let head = format!("[{}/{}] {}", p.number, p.total, p.text);
    let mut blocks = vec![Block::Section(format!(
        "*{}*\n_Why we ask: {}_",
        escape(&head),
        escape(&p.why)
    ))];
    let listed: Vec<String> = p
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| match &c.hint {
            Some(h) => format!("{}. *{}*: {}", i + 1, escape(&c.label), escape(h)),
            None => format!("{}. *{}*", i + 1, escape(&c.label)),
        })
        .collect();
    push_list(&mut blocks, "", &listed);
    // push_list put an empty bold title first; the question already heads the list.
    if let Some(Block::Section(t)) = blocks.get_mut(1) {
        if let Some(rest) = t.strip_prefix("**\n") {
            *t = rest.to_owned();
        }
    }
    let choices: Vec<SlackActionBlockElement> = if p.choices.len() <= MAX_CHOICE_BUTTONS {
        p.choices
            .iter()
            .map(|c| button(&c.label, action_ids::choice(&c.id), &c.id).into())
            .collect()
    } else {
        let options = p
            .choices
            .iter()
            .take(limits::SELECT_OPTIONS)
            .map(|c| {
                let item = SlackBlockChoiceItem::new(
                    truncate(&c.label, limits::OPTION_TEXT).as_str().into(),
                    truncate(&c.id, limits::OPTION_VALUE),
                );
                match &c.hint {
                    Some(h) => {
                        item.with_description(truncate(h, limits::OPTION_TEXT).as_str().into())
                    }
                    None => item,
                }
            })
            .collect();
        vec![SlackBlockStaticSelectElement::new()
            .with_action_id(action_ids::SELECT.into())
            .with_placeholder(
                truncate("Choose an answer", limits::PLACEHOLDER)
                    .as_str()
                    .into(),
            )
            .with_options(options)
            .into()]
    };
    blocks.push(Block::Actions(
        action_ids::block(thread, &p.question_id, "choices"),
        choices,
    ));
    let commands = [
        ("Back", Command::Back),
        ("Skip", Command::Skip),
        ("Restart", Command::Restart),
        ("Cancel", Command::Cancel),
    ]
    .into_iter()
    .map(|(label, c)| {
        let b = button(label, action_ids::command(c), c.as_str());
        if c == Command::Cancel {
            b.with_style(SlackBlockButtonStyle::Danger).into()
        } else {
            b.into()
        }
    })
    .collect();
    blocks.push(Block::Actions(
        action_ids::block(thread, &p.question_id, "commands"),
        commands,
    ));
    blocks.push(Block::Context(escape(REPLY_HINT)));
    Message {
        text: fallback(&head),
        blocks: fit(blocks),
    }
}

/// An answered question: the choice and who chose it; the buttons are gone.
pub fn answered(pack: &Pack, question: usize, choice: usize, user_id: &str) -> Message {
    // The core's wording with a stand-in for the person, escaped, then the mention put in:
    // the mention is the only markup in the line.
    const WHO: &str = "\u{e000}";
    let line = escape(&answered_line(pack, question, choice, WHO)).replace(WHO, &mention(user_id));
    Message {
        // The notification text is mrkdwn too: the person is a mention there as well, never
        // their raw id.
        text: fallback(&line),
        blocks: fit(vec![Block::Section(format!(
            "*{}*\n{line}",
            escape(&pack.questions[question].text)
        ))]),
    }
}

/// A question that was left without an answer (skipped, undone, cancelled): its text and
/// what happened, without buttons.
pub fn closed(pack: &Pack, question: usize, note: &str) -> Message {
    Message {
        text: fallback(note),
        blocks: fit(vec![Block::Section(format!(
            "*{}*\n_{}_",
            escape(&pack.questions[question].text),
            escape(note)
        ))]),
    }
}

/// A plain notice (a re-ask, a command's reply), escaped.
pub fn notice(text: &str) -> Message {
    Message {
        text: fallback(text),
        blocks: fit(vec![Block::Section(escape(text))]),
    }
}

/// The summary card: header, recommendation, scores with numbers and bars, what decided it,
/// the trade-offs with their mitigations, what would change the answer, and the context.
/// The record button's `action_id`; its value says which result (see
/// [`crate::records::RecordOf::button_value`]).
pub const RECORD_ACTION: &str = "tradeoff_record";

/// A card with its "Decision record" button, above the card's last line.
pub fn with_record_button(mut message: Message, value: &str) -> Message {
    let button = SlackBlockButtonElement::new("Decision record".into())
        .with_action_id(RECORD_ACTION.into())
        .with_value(truncate(value, 2000));
    let actions: SlackBlock = SlackActionsBlock::new(vec![button.into()])
        .with_block_id(RECORD_ACTION.into())
        .into();
    let at = message.blocks.len().saturating_sub(1);
    message.blocks.insert(at, actions);
    message
}

pub fn card(card: &Card) -> Message {
    let mut blocks = vec![
        Block::Header(card.title.clone()),
        Block::Section(format!(
            "*Recommendation: {}*\n{}\n_Confidence {}_",
            escape(&card.recommendation),
            escape(&card.summary),
            escape(&card.confidence_line())
        )),
        Block::Section(
            card.scores
                .iter()
                .map(|s| format!("`{}`  *{}*  {}", s.bar(), s.score, escape(&s.label)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Block::Divider,
    ];
    let items = |items: &[CardItem]| -> Vec<String> {
        items
            .iter()
            .map(|i| format!("• *{}*\n{}", escape(&i.title), escape(&i.body)))
            .collect()
    };
    push_list(&mut blocks, DRIVERS_TITLE, &items(&card.drivers));
    push_list(&mut blocks, TRADEOFFS_TITLE, &items(&card.tradeoffs));
    for section in &card.sections {
        push_list(&mut blocks, &section.title, &items(&section.items));
    }
    blocks.push(Block::Section(format!(
        "*{FLIP_TITLE}*\n{}",
        escape(&card.flip)
    )));
    blocks.push(Block::Context(escape(&card.footer)));
    Message {
        text: fallback(&card.headline()),
        blocks: fit(blocks),
    }
}

/// Every Block Kit limit a message's blocks break, as readable lines; empty when Slack would
/// accept them. Used by the tests on every message the bot renders.
pub fn limit_violations(blocks: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(blocks) = blocks.as_array() else {
        return vec!["blocks is not an array".into()];
    };
    if blocks.len() > limits::BLOCKS {
        out.push(format!("{} blocks (max {})", blocks.len(), limits::BLOCKS));
    }
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut total = 0;
    for (i, b) in blocks.iter().enumerate() {
        check(
            &mut out,
            format!("block {i} block_id"),
            len(&b["block_id"]),
            limits::BLOCK_ID,
        );
        match b["type"].as_str() {
            Some("header") => {
                total += len(&b["text"]["text"]);
                check(
                    &mut out,
                    format!("block {i} header"),
                    len(&b["text"]["text"]),
                    limits::HEADER_TEXT,
                );
            }
            Some("section") => {
                let n = len(&b["text"]["text"]);
                total += n;
                if n == 0 && b.get("fields").is_none() {
                    check(&mut out, format!("block {i} section text empty"), 1, 0);
                }
                check(
                    &mut out,
                    format!("block {i} section text"),
                    n,
                    limits::SECTION_TEXT,
                );
                let fields = b["fields"].as_array().cloned().unwrap_or_default();
                check(
                    &mut out,
                    format!("block {i} fields"),
                    fields.len(),
                    limits::SECTION_FIELDS,
                );
                for f in &fields {
                    total += len(&f["text"]);
                    check(
                        &mut out,
                        format!("block {i} field"),
                        len(&f["text"]),
                        limits::FIELD_TEXT,
                    );
                }
            }
            Some("context") => {
                let elements = b["elements"].as_array().cloned().unwrap_or_default();
                check(
                    &mut out,
                    format!("block {i} context elements"),
                    elements.len(),
                    limits::CONTEXT_ELEMENTS,
                );
                for e in &elements {
                    total += len(&e["text"]);
                    check(
                        &mut out,
                        format!("block {i} context text"),
                        len(&e["text"]),
                        limits::SECTION_TEXT,
                    );
                }
            }
            Some("actions") => {
                let elements = b["elements"].as_array().cloned().unwrap_or_default();
                check(
                    &mut out,
                    format!("block {i} actions elements"),
                    elements.len(),
                    limits::ACTIONS_ELEMENTS,
                );
                for e in &elements {
                    check(
                        &mut out,
                        format!("block {i} action_id"),
                        len(&e["action_id"]),
                        limits::ACTION_ID,
                    );
                    match e["type"].as_str() {
                        Some("button") => {
                            check(
                                &mut out,
                                format!("block {i} button text"),
                                len(&e["text"]["text"]),
                                limits::BUTTON_TEXT,
                            );
                            check(
                                &mut out,
                                format!("block {i} button value"),
                                len(&e["value"]),
                                limits::BUTTON_VALUE,
                            );
                        }
                        Some("static_select") => {
                            check(
                                &mut out,
                                format!("block {i} placeholder"),
                                len(&e["placeholder"]["text"]),
                                limits::PLACEHOLDER,
                            );
                            let options = e["options"].as_array().cloned().unwrap_or_default();
                            check(
                                &mut out,
                                format!("block {i} options"),
                                options.len(),
                                limits::SELECT_OPTIONS,
                            );
                            for o in &options {
                                check(
                                    &mut out,
                                    format!("block {i} option text"),
                                    len(&o["text"]["text"]),
                                    limits::OPTION_TEXT,
                                );
                                check(
                                    &mut out,
                                    format!("block {i} option value"),
                                    len(&o["value"]),
                                    limits::OPTION_VALUE,
                                );
                                check(
                                    &mut out,
                                    format!("block {i} option description"),
                                    len(&o["description"]["text"]),
                                    limits::OPTION_TEXT,
                                );
                            }
                        }
                        other => out_of_kind(&mut out, i, other),
                    }
                }
            }
            Some("divider") => {}
            other => out_of_kind(&mut out, i, other),
        }
    }
    if total > limits::TOTAL_TEXT {
        out.push(format!(
            "{total} characters of text (max {})",
            limits::TOTAL_TEXT
        ));
    }
    out
}

fn out_of_kind(out: &mut Vec<String>, i: usize, kind: Option<&str>) {
    out.push(format!("block {i}: unexpected element type {kind:?}"));
}

fn check(out: &mut Vec<String>, what: String, n: usize, max: usize) {
    if n > max {
        out.push(format!("{what}: {n} (max {max})"));
    }
}
