//! Team polls on Discord, end to end against the stand-in of Discord's REST API: signed
//! interactions through the real endpoint, the poll message posted and edited through the
//! outbox, members answering in the private (ephemeral) form, closing by the creator or an
//! admin only, the summary embed, deadlines and reminders on a controlled clock, anonymity
//! checked in the store's raw trees, and polls in different channels and guilds kept apart.

use crate::discord_support::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tradeoff::core::ids::{ChannelId, Platform, PollId, WorkspaceId};
use tradeoff::core::pack::Pack;
use tradeoff::polls::PollPresenter;

/// A member's permissions without Administrator (8) or Manage Server (32).
const MEMBER: &str = "311385508928";
/// The same with Manage Server.
const MANAGER: &str = "311385508960";

const ADA: Who = Who("1180000000000000010", "Ada Lovelace", MEMBER);
const BOB: Who = Who("1180000000000000021", "Bob", MEMBER);
const CY: Who = Who("1180000000000000022", "Cy", MEMBER);
const DEE: Who = Who("1180000000000000023", "Dee", MEMBER);
const MOD: Who = Who("1180000000000000024", "Mo the moderator", MANAGER);

const OTHER_CHANNEL: &str = "1180000000000000033";
const OTHER_GUILD: &str = "1180000000000000042";
const OTHER_GUILD_CHANNEL: &str = "1180000000000000043";

#[derive(Clone, Copy)]
struct Who(&'static str, &'static str, &'static str);

static NEXT_ID: AtomicU64 = AtomicU64::new(1_180_000_000_000_010_000);

/// A fixture as sent by `who` in `guild`/`channel`, with a fresh interaction id.
fn as_sent(mut v: Value, who: Who, guild: &str, channel: &str) -> Value {
    v["id"] = json!(NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string());
    v["member"]["user"]["id"] = json!(who.0);
    v["member"]["user"]["global_name"] = json!(who.1);
    v["member"]["user"]["username"] = json!(who.1.to_lowercase().replace(' ', "_"));
    v["member"]["nick"] = Value::Null;
    v["member"]["permissions"] = json!(who.2);
    v["guild_id"] = json!(guild);
    v["guild"]["id"] = json!(guild);
    v["authorizing_integration_owners"]["0"] = json!(guild);
    v["channel_id"] = json!(channel);
    v["channel"]["id"] = json!(channel);
    v["channel"]["guild_id"] = json!(guild);
    if v.get("message").is_some() {
        v["message"]["channel_id"] = json!(channel);
    }
    v
}

fn poll_command(schedule: Option<&str>, who: Who, guild: &str, channel: &str) -> Value {
    let mut v = fixture("command_poll");
    v["data"]["options"][0]["options"] = match schedule {
        Some(s) => json!([{ "name": "schedule", "type": 3, "value": s }]),
        None => json!([]),
    };
    as_sent(v, who, guild, channel)
}

fn click(fixture_name: &str, custom_id: &str, who: Who, guild: &str, channel: &str) -> Value {
    let mut v = fixture(fixture_name);
    v["data"]["custom_id"] = json!(custom_id);
    as_sent(v, who, guild, channel)
}

/// `who` presses the poll message's Answer button.
async fn press_answer(bot: &TestBot, poll: &PollId, who: Who, guild: &str, channel: &str) -> Value {
    bot.interact(&click(
        "component_poll_answer",
        &answer_button(poll),
        who,
        guild,
        channel,
    ))
    .await
}

/// `who` presses a button of their private form.
async fn press_form(bot: &TestBot, custom_id: &str, who: Who, guild: &str, channel: &str) -> Value {
    bot.interact(&click(
        "component_poll_form",
        custom_id,
        who,
        guild,
        channel,
    ))
    .await
}

fn answer_button(poll: &PollId) -> String {
    format!("tp:{poll}")
}

fn pack(bot: &TestBot) -> Arc<Pack> {
    bot.bot.app.catalog.latest("node-vs-python").unwrap().0
}

fn open_poll(bot: &TestBot, guild: &str, channel: &str) -> PollId {
    bot.store
        .open_poll_in(
            Platform::Discord,
            &WorkspaceId::new(guild),
            &ChannelId::new(channel),
        )
        .unwrap()
        .expect("a poll is open")
        .id
}

/// The question index a form shows, from its buttons' ids (`to:poll.<id>:<q>:<action>`).
fn form_question(data: &Value, poll: &PollId) -> Option<usize> {
    let prefix = format!("to:poll.{poll}:");
    data["components"]
        .as_array()?
        .iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find_map(|c| {
            c["custom_id"]
                .as_str()?
                .strip_prefix(&prefix)?
                .split(':')
                .next()?
                .parse()
                .ok()
        })
}

fn ephemeral(response: &Value) -> &Value {
    assert_eq!(response["type"], 4, "{response}");
    assert_eq!(response["data"]["flags"], 64, "private: {response}");
    assert_sendable(&response["data"]);
    &response["data"]
}

fn updated(response: &Value) -> &Value {
    assert_eq!(response["type"], 7, "the form updates in place: {response}");
    assert_sendable(&response["data"]);
    &response["data"]
}

/// Goes through the private form as `who`: a pick (question id -> choice id) where given,
/// Skip otherwise. Returns the form's last content (the thanks).
async fn answer(
    bot: &TestBot,
    poll: &PollId,
    who: Who,
    picks: &[(&str, &str)],
    guild: &str,
    channel: &str,
) -> String {
    let pack = pack(bot);
    let first = press_answer(bot, poll, who, guild, channel).await;
    let mut data = ephemeral(&first).clone();
    for _ in 0..30 {
        let Some(q) = form_question(&data, poll) else {
            return data["content"].as_str().unwrap().to_owned();
        };
        let question = &pack.questions[q];
        let action = match picks.iter().find(|(id, _)| *id == question.id.as_str()) {
            Some((_, choice)) => format!("c{}", question.choice_index(choice).unwrap()),
            None => "skip".to_owned(),
        };
        let custom_id = format!("to:poll.{poll}:{q}:{action}");
        let response = press_form(bot, &custom_id, who, guild, channel).await;
        data = updated(&response).clone();
    }
    panic!("the form never ended: {data}");
}

fn posts_to(standin: &StandIn, channel: &str) -> Vec<Value> {
    standin
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("/channels/{channel}/messages"))
        .map(|c| c.body)
        .collect()
}

/// The edits of messages in `channel`, but for those attaching a chart.
fn edits_in(standin: &StandIn, channel: &str) -> Vec<Value> {
    let prefix = format!("/channels/{channel}/messages/");
    standin
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH" && c.path.starts_with(&prefix) && c.files.is_empty())
        .map(|c| c.body)
        .collect()
}

/// The edits attaching a chart to a card in `channel`: (the card's message id, the body).
fn charts_in(standin: &StandIn, channel: &str) -> Vec<(String, Value)> {
    let prefix = format!("/channels/{channel}/messages/");
    standin
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH" && !c.files.is_empty())
        .filter_map(|c| Some((c.path.strip_prefix(&prefix)?.to_owned(), c.body)))
        .collect()
}

fn description(message: &Value) -> String {
    message["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn open_answer_change_close_and_the_summary_embed() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;

    let opened = bot
        .interact(&poll_command(Some("for 2d"), ADA, GUILD, CHANNEL))
        .await;
    let text = ephemeral(&opened)["content"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Your poll is open"), "{text}");
    let poll = open_poll(&bot, GUILD, CHANNEL);
    assert_eq!(bot.deliver().await.sent, 1);

    // The poll message: an embed with the count and the deadline, and the Answer button.
    let posts = posts_to(&standin, CHANNEL);
    assert_eq!(posts.len(), 1);
    let message = &posts[0];
    assert_sendable(message);
    assert_eq!(
        message["embeds"][0]["title"],
        "Team poll: Backend decision: Node.js or Python"
    );
    let d = description(message);
    assert!(d.contains("0 teammates have answered"), "{d}");
    assert!(d.contains(&format!("<t:{}:R>", NOW + 2 * 86_400)), "{d}");
    assert_eq!(
        message["components"][0]["components"][0]["custom_id"],
        answer_button(&poll)
    );
    assert_eq!(message["components"][0]["components"][0]["label"], "Answer");

    // Bob and Cy pick real-time; Dee goes for data and ML.
    let realtime = [("workload", "realtime"), ("concurrency", "high")];
    let thanks = answer(&bot, &poll, BOB, &realtime, GUILD, CHANNEL).await;
    // Delivered as it comes: each edit shows the count as it stands when sent.
    assert_eq!(bot.deliver().await.sent, 1, "one edit per new member");
    assert!(
        thanks
            .starts_with("**Thanks, your answers are in** (you can change them until the close)."),
        "{thanks}"
    );
    assert!(
        thanks.contains("Real-time"),
        "the member sees their own answers: {thanks}"
    );
    answer(&bot, &poll, CY, &realtime, GUILD, CHANNEL).await;
    assert_eq!(bot.deliver().await.sent, 1, "one edit per new member");
    answer(
        &bot,
        &poll,
        DEE,
        &[("workload", "data_ml"), ("ai_ml", "core")],
        GUILD,
        CHANNEL,
    )
    .await;
    assert_eq!(bot.deliver().await.sent, 1, "one edit per new member");

    // Dee changes her mind: Back undoes an answer, Skip skips; her last answers count and
    // the count stays at three (no new edit).
    let again = press_answer(&bot, &poll, DEE, GUILD, CHANNEL).await;
    let form = ephemeral(&again);
    assert!(
        form["content"]
            .as_str()
            .unwrap()
            .contains("answering again replaces your answers"),
        "{form}"
    );
    let first = pack(&bot).questions[0].choice_index("data_ml").unwrap();
    let r = press_form(
        &bot,
        &format!("to:poll.{poll}:0:c{first}"),
        DEE,
        GUILD,
        CHANNEL,
    )
    .await;
    let q1 = form_question(updated(&r), &poll).unwrap();
    let back = press_form(
        &bot,
        &format!("to:poll.{poll}:{q1}:back"),
        DEE,
        GUILD,
        CHANNEL,
    )
    .await;
    let data = updated(&back);
    assert_eq!(
        form_question(data, &poll),
        Some(0),
        "back to the first question"
    );
    assert!(data["content"]
        .as_str()
        .unwrap()
        .starts_with("Going back to"));
    let thanks = answer(&bot, &poll, DEE, &realtime, GUILD, CHANNEL).await;
    assert!(thanks.contains("Real-time"), "{thanks}");
    assert_eq!(
        bot.deliver().await.sent,
        0,
        "a changed answer is not a new member"
    );

    let edits = edits_in(&standin, CHANNEL);
    let counts: Vec<String> = edits.iter().map(description).collect();
    assert!(counts[0].contains("1 teammate has answered"), "{counts:?}");
    assert!(
        counts[1].contains("2 teammates have answered"),
        "{counts:?}"
    );
    assert!(
        counts[2].contains("3 teammates have answered"),
        "{counts:?}"
    );
    // The poll message never shows an answer before the close.
    let labels: Vec<String> = pack(&bot)
        .questions
        .iter()
        .flat_map(|q| q.choices.iter().map(|c| c.label.clone()))
        .collect();
    let title = &pack(&bot).title;
    for edit in &edits {
        assert_sendable(edit);
        let shown = format!("{} {}", edit["content"], description(edit));
        let shown = shown.replace(title.as_str(), "");
        for label in &labels {
            assert!(!shown.contains(label.as_str()), "{label} shown in {shown}");
        }
    }
    let message_id = standin
        .calls()
        .iter()
        .find(|c| c.method == "PATCH")
        .unwrap()
        .path
        .clone();
    assert!(
        edits_in(&standin, CHANNEL).len() == 3
            && standin
                .calls()
                .iter()
                .filter(|c| c.method == "PATCH")
                .all(|c| c.path == message_id),
        "every edit is of the one poll message"
    );

    // Bob may not close it, politely; Ada, who opened it, may.
    let refused = bot
        .interact(&poll_command(Some("close"), BOB, GUILD, CHANNEL))
        .await;
    assert_eq!(
        ephemeral(&refused)["content"],
        "Only Ada Lovelace, who opened this poll, or an admin can close it."
    );
    let closed = bot
        .interact(&poll_command(Some("close"), ADA, GUILD, CHANNEL))
        .await;
    assert_eq!(
        ephemeral(&closed)["content"],
        "Poll closed with 3 answered. The team's summary follows in this channel."
    );
    assert_eq!(bot.deliver().await.sent, 3);

    // The poll message loses its button; the summary embed follows with the split.
    let last_edit = edits_in(&standin, CHANNEL).pop().unwrap();
    assert_eq!(last_edit["components"], json!([]));
    assert!(description(&last_edit).starts_with("Closed · 3 teammates answered"));
    let summary = posts_to(&standin, CHANNEL).pop().unwrap();
    assert_sendable(&summary);
    let embed = &summary["embeds"][0];
    assert_eq!(
        embed["title"],
        "Team result: Backend decision: Node.js or Python"
    );
    let split = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .unwrap()
                .starts_with("How the individual answers split")
        })
        .expect("the split is on the card");
    assert_eq!(split["value"], "3 Node.js", "{split}");
    assert!(embed["description"].as_str().unwrap().contains("Node.js"));

    // Closed: the Answer button and an old form both say so.
    let late = press_answer(&bot, &poll, BOB, GUILD, CHANNEL).await;
    assert_eq!(
        ephemeral(&late)["content"],
        "This poll has closed; its summary is in the channel."
    );
    let old_form = press_form(&bot, &format!("to:poll.{poll}:0:c0"), BOB, GUILD, CHANNEL).await;
    assert_eq!(updated(&old_form)["components"], json!([]));
}

#[tokio::test]
async fn an_admin_may_close_a_poll_someone_else_opened() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&poll_command(None, ADA, GUILD, CHANNEL)).await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    answer(
        &bot,
        &poll,
        BOB,
        &[("workload", "data_ml"), ("ai_ml", "core")],
        GUILD,
        CHANNEL,
    )
    .await;
    let closed = bot
        .interact(&poll_command(Some("close"), MOD, GUILD, CHANNEL))
        .await;
    assert!(ephemeral(&closed)["content"]
        .as_str()
        .unwrap()
        .starts_with("Poll closed with 1 answered"));
    bot.deliver().await;
    let summary = posts_to(&standin, CHANNEL).pop().unwrap();
    assert!(summary["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("Python"));
    // Nothing left to close.
    let none = bot
        .interact(&poll_command(Some("close"), MOD, GUILD, CHANNEL))
        .await;
    assert_eq!(
        ephemeral(&none)["content"],
        "There is no open poll in this channel. Open one with `poll`."
    );
}

/// Who a reminder names is decided when it is sent, as on Slack: a member who answers
/// after it was queued is not pinged.
#[tokio::test]
async fn a_reminder_names_who_has_not_answered_when_it_is_sent() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&poll_command(
        Some("for 2h remind 30m"),
        ADA,
        GUILD,
        CHANNEL,
    ))
    .await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    bot.deliver().await;
    // Cy opens the form and leaves it: known not to have answered.
    ephemeral(&press_answer(&bot, &poll, CY, GUILD, CHANNEL).await);
    bot.deliver().await;
    let presenter: Arc<dyn PollPresenter> = bot.bot.poll_presenter();
    let lookup = move |p: Platform| (p == Platform::Discord).then(|| presenter.clone());
    let deadline = NOW + 2 * 3600;
    assert_eq!(bot.bot.app.run_due_polls(deadline - 1800, &lookup).0, 1);
    // Queued, not sent yet; Cy answers in the meantime.
    answer(&bot, &poll, CY, &[("workload", "api")], GUILD, CHANNEL).await;
    while bot.deliver().await.sent > 0 {}
    let reminder = posts_to(&standin, CHANNEL)
        .into_iter()
        .rev()
        .find(|m| m["content"].as_str().unwrap_or("").starts_with("Reminder"))
        .expect("the reminder went out");
    let content = reminder["content"].as_str().unwrap();
    assert!(!content.contains(CY.0), "{content}");
    assert!(content.contains("1 answered so far"), "{content}");
    assert_eq!(
        reminder["allowed_mentions"],
        json!({ "parse": [], "users": [] })
    );
}

#[tokio::test]
async fn the_deadline_closes_the_round_and_one_reminder_mentions_only_who_has_not_answered() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&poll_command(
        Some("for 2h remind 30m"),
        ADA,
        GUILD,
        CHANNEL,
    ))
    .await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    bot.deliver().await;
    answer(&bot, &poll, BOB, &[("workload", "api")], GUILD, CHANNEL).await;
    // Cy opens the form and answers one question, then leaves it.
    let r = press_answer(&bot, &poll, CY, GUILD, CHANNEL).await;
    ephemeral(&r);
    press_form(&bot, &format!("to:poll.{poll}:0:c0"), CY, GUILD, CHANNEL).await;
    // The form is kept in the store, not in the process: pressing Answer again (as after a
    // restart) picks up at the second question.
    let resumed = press_answer(&bot, &poll, CY, GUILD, CHANNEL).await;
    let data = ephemeral(&resumed);
    assert!(data["content"]
        .as_str()
        .unwrap()
        .starts_with("Picking up where you left off."));
    assert_eq!(form_question(data, &poll), Some(1));
    bot.deliver().await;

    let presenter: Arc<dyn PollPresenter> = bot.bot.poll_presenter();
    let lookup = move |p: Platform| (p == Platform::Discord).then(|| presenter.clone());
    let deadline = NOW + 2 * 3600;
    assert_eq!(bot.bot.app.run_due_polls(deadline - 1801, &lookup).0, 0);
    assert_eq!(bot.bot.app.run_due_polls(deadline - 1800, &lookup).0, 1);
    assert_eq!(
        bot.bot.app.run_due_polls(deadline - 1700, &lookup).0,
        0,
        "one nudge"
    );
    assert_eq!(bot.deliver().await.sent, 1);
    let reminder = posts_to(&standin, CHANNEL).pop().unwrap();
    let content = reminder["content"].as_str().unwrap();
    assert!(
        content.starts_with("Reminder: this team poll closes"),
        "{content}"
    );
    assert!(content.contains(&format!("<@{}>", CY.0)), "{content}");
    assert!(
        !content.contains(BOB.0) && !content.contains(ADA.0),
        "{content}"
    );
    assert_eq!(
        reminder["allowed_mentions"],
        json!({ "parse": [], "users": [CY.0] }),
        "exactly the member who has not answered may be pinged"
    );
    let poll_message_id = standin
        .calls()
        .iter()
        .find(|c| c.method == "PATCH")
        .unwrap()
        .path
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        reminder["message_reference"]["message_id"], poll_message_id,
        "the reminder answers the poll message"
    );

    // The deadline: the scheduler closes the round once, and the summary goes out.
    assert_eq!(bot.bot.app.run_due_polls(deadline, &lookup), (1, None));
    assert_eq!(bot.bot.app.run_due_polls(deadline + 60, &lookup).0, 0);
    assert_eq!(bot.deliver().await.sent, 3);
    let summary = posts_to(&standin, CHANNEL).pop().unwrap();
    assert_sendable(&summary);
    assert!(summary["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Team result"));
    let split = summary["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .unwrap()
                .starts_with("How the individual")
        })
        .unwrap()
        .clone();
    assert!(
        split["name"].as_str().unwrap().ends_with("1 answered"),
        "{split}"
    );
}

#[tokio::test]
async fn an_anonymous_poll_stores_no_user_id_with_the_answers() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&poll_command(
        Some("for 1d anonymous remind 2h"),
        ADA,
        GUILD,
        CHANNEL,
    ))
    .await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    answer(
        &bot,
        &poll,
        BOB,
        &[("workload", "realtime")],
        GUILD,
        CHANNEL,
    )
    .await;
    answer(&bot, &poll, CY, &[("workload", "data_ml")], GUILD, CHANNEL).await;
    // Dee's form is half-way.
    press_answer(&bot, &poll, DEE, GUILD, CHANNEL).await;
    press_form(&bot, &format!("to:poll.{poll}:0:c0"), DEE, GUILD, CHANNEL).await;
    // A reminder in an anonymous poll mentions nobody.
    let presenter: Arc<dyn PollPresenter> = bot.bot.poll_presenter();
    let lookup = move |p: Platform| (p == Platform::Discord).then(|| presenter.clone());
    assert_eq!(bot.bot.app.run_due_polls(NOW + 86_400 - 7200, &lookup).0, 1);
    bot.deliver().await;
    let reminder = posts_to(&standin, CHANNEL).pop().unwrap();
    assert_eq!(
        reminder["allowed_mentions"],
        json!({ "parse": [], "users": [] })
    );
    assert!(!reminder["content"].as_str().unwrap().contains("<@"));

    // Every tree of the store, raw: the answers are there, the members' ids are not.
    let mut dump = String::new();
    for name in bot.sled.db().tree_names() {
        for item in bot.sled.db().open_tree(&name).unwrap().iter() {
            let (k, v) = item.unwrap();
            dump.push_str(&String::from_utf8_lossy(&k));
            dump.push_str(&String::from_utf8_lossy(&v));
        }
    }
    assert!(
        dump.contains("realtime") && dump.contains("data_ml"),
        "answers are stored"
    );
    for who in [BOB, CY, DEE] {
        assert!(!dump.contains(who.0), "{} is in the store", who.1);
        assert!(!dump.contains(who.1), "{} is in the store", who.1);
    }
    let p = bot.store.poll(&poll).unwrap().unwrap();
    assert_eq!(p.respondents, 2);
}

#[tokio::test]
async fn polls_in_two_channels_and_two_guilds_do_not_mix() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    for (guild, channel) in [
        (GUILD, CHANNEL),
        (GUILD, OTHER_CHANNEL),
        (OTHER_GUILD, OTHER_GUILD_CHANNEL),
    ] {
        let r = bot.interact(&poll_command(None, ADA, guild, channel)).await;
        assert!(ephemeral(&r)["content"]
            .as_str()
            .unwrap()
            .starts_with("Your poll is open"));
    }
    let here = open_poll(&bot, GUILD, CHANNEL);
    let next_door = open_poll(&bot, GUILD, OTHER_CHANNEL);
    let elsewhere = open_poll(&bot, OTHER_GUILD, OTHER_GUILD_CHANNEL);
    assert!(here != next_door && next_door != elsewhere && here != elsewhere);
    // A second poll in the same channel is refused.
    let twice = bot.interact(&poll_command(None, BOB, GUILD, CHANNEL)).await;
    assert!(ephemeral(&twice)["content"]
        .as_str()
        .unwrap()
        .starts_with("A poll is already open in this channel"));

    answer(
        &bot,
        &here,
        BOB,
        &[("workload", "realtime")],
        GUILD,
        CHANNEL,
    )
    .await;
    answer(&bot, &here, CY, &[("workload", "realtime")], GUILD, CHANNEL).await;
    answer(
        &bot,
        &elsewhere,
        BOB,
        &[("workload", "data_ml"), ("ai_ml", "core")],
        OTHER_GUILD,
        OTHER_GUILD_CHANNEL,
    )
    .await;
    // This guild's button, clicked in another guild, does nothing there.
    let forged = press_answer(&bot, &here, DEE, OTHER_GUILD, OTHER_GUILD_CHANNEL).await;
    assert_eq!(
        ephemeral(&forged)["content"],
        "This button belongs to a poll that is not open here."
    );
    let count = |id: &PollId| bot.store.poll(id).unwrap().unwrap().respondents;
    assert_eq!(
        (count(&here), count(&next_door), count(&elsewhere)),
        (2, 0, 1)
    );

    // Closing next door closes only next door, with nobody's answers.
    bot.interact(&poll_command(Some("close"), ADA, GUILD, OTHER_CHANNEL))
        .await;
    bot.deliver().await;
    let summary = posts_to(&standin, OTHER_CHANNEL).pop().unwrap();
    assert!(
        summary["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("0 teammates answered")
            || summary.to_string().contains("Nobody answered"),
        "{summary}"
    );
    assert_eq!(open_poll(&bot, GUILD, CHANNEL), here);
    assert_eq!(open_poll(&bot, OTHER_GUILD, OTHER_GUILD_CHANNEL), elsewhere);
    for (channel, n) in [(CHANNEL, 1), (OTHER_CHANNEL, 2), (OTHER_GUILD_CHANNEL, 1)] {
        assert_eq!(posts_to(&standin, channel).len(), n, "posts in {channel}");
    }
}

#[tokio::test]
async fn a_schedule_that_cannot_be_read_gets_a_private_error_with_examples() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    for schedule in [
        "for two days",
        "every fryday 16:00",
        "for 2d tz Mars/Olympus",
    ] {
        let r = bot
            .interact(&poll_command(Some(schedule), ADA, GUILD, CHANNEL))
            .await;
        let text = ephemeral(&r)["content"].as_str().unwrap().to_owned();
        assert!(text.contains("Examples:"), "{text}");
        assert!(text.contains("poll every friday 16:00"), "{text}");
        assert!(text.contains("`schedule` option"), "{text}");
    }
    assert!(bot
        .store
        .outbox_pending(Platform::Discord)
        .unwrap()
        .is_empty());
    assert!(bot
        .store
        .open_poll_in(
            Platform::Discord,
            &WorkspaceId::new(GUILD),
            &ChannelId::new(CHANNEL)
        )
        .unwrap()
        .is_none());
    // A time zone given with the schedule is used; without one, UTC (Discord gives none).
    bot.interact(&poll_command(
        Some("until 2024-05-03 17:00 tz Europe/Berlin"),
        ADA,
        GUILD,
        CHANNEL,
    ))
    .await;
    let poll = bot
        .store
        .poll(&open_poll(&bot, GUILD, CHANNEL))
        .unwrap()
        .unwrap();
    assert_eq!(poll.tz, "Europe/Berlin");
    assert_eq!(
        poll.closes_at,
        Some(NOW + 2 * 86_400 + 5 * 3600),
        "17:00 CEST is 15:00 UTC"
    );
    bot.interact(&poll_command(None, ADA, GUILD, OTHER_CHANNEL))
        .await;
    let utc = bot
        .store
        .poll(&open_poll(&bot, GUILD, OTHER_CHANNEL))
        .unwrap()
        .unwrap();
    assert_eq!(utc.tz, "UTC");
}

#[tokio::test]
async fn a_recurring_poll_posts_each_summary_and_opens_the_next_round_message() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    // NOW is Wednesday 2024-05-01 10:00 UTC: the first round closes at 16:00 the same day.
    bot.interact(&poll_command(Some("every day 16:00"), ADA, GUILD, CHANNEL))
        .await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    answer(
        &bot,
        &poll,
        BOB,
        &[("workload", "realtime")],
        GUILD,
        CHANNEL,
    )
    .await;
    bot.deliver().await;
    let first_message = standin
        .calls()
        .iter()
        .find(|c| c.method == "PATCH")
        .unwrap()
        .path
        .clone();

    let presenter: Arc<dyn PollPresenter> = bot.bot.poll_presenter();
    let lookup = move |p: Platform| (p == Platform::Discord).then(|| presenter.clone());
    let close = NOW + 6 * 3600;
    assert_eq!(
        bot.bot.app.run_due_polls(close, &lookup),
        (1, Some(close + 86_400))
    );
    assert_eq!(
        bot.deliver().await.sent,
        4,
        "closed edit, summary, its chart, next round"
    );
    let posts = posts_to(&standin, CHANNEL);
    let summary = &posts[posts.len() - 2];
    assert_eq!(
        summary["embeds"][0]["title"],
        "Team result: Backend decision: Node.js or Python (round 1)"
    );
    let next = &posts[posts.len() - 1];
    assert!(
        description(next).starts_with("0 teammates have answered"),
        "{next}"
    );
    assert!(next["embeds"][0]["footer"]["text"]
        .as_str()
        .unwrap()
        .contains("round 2"));
    let closed_edit = edits_in(&standin, CHANNEL).pop().unwrap();
    assert_eq!(closed_edit["components"], json!([]));
    assert!(closed_edit["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .ends_with("(round 1)"));

    // Round 2's answers edit round 2's message, not round 1's.
    answer(&bot, &poll, BOB, &[("workload", "api")], GUILD, CHANNEL).await;
    bot.deliver().await;
    let last = standin
        .calls()
        .into_iter()
        .rfind(|c| c.method == "PATCH")
        .unwrap();
    assert_ne!(last.path, first_message);
    assert!(description(&last.body).starts_with("1 teammate has answered"));
}

#[tokio::test]
async fn poll_messages_are_queued_as_effects_and_shown_as_the_poll_stands_when_sent() {
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    bot.interact(&poll_command(Some("for 2d"), ADA, GUILD, CHANNEL))
        .await;
    let poll = open_poll(&bot, GUILD, CHANNEL);
    // Bob answers before the poll message has gone out; then Ada closes the poll.
    answer(&bot, &poll, BOB, &[("workload", "api")], GUILD, CHANNEL).await;
    bot.interact(&poll_command(Some("close"), ADA, GUILD, CHANNEL))
        .await;

    // What is queued says what to show, not how: no embed, no text, a few bytes each.
    let queued = bot.store.outbox_pending(Platform::Discord).unwrap();
    let shows: Vec<String> = queued
        .iter()
        .map(|e| e.message.op.to_value().unwrap())
        .map(|op| {
            assert!(
                op.get("body").is_none() && op.get("embeds").is_none(),
                "{op}"
            );
            assert!(op.to_string().len() < 160, "{op}");
            op["poll_shows"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(shows, ["message", "refresh", "refresh", "card", "chart"]);
    let record = bot
        .store
        .round(&poll, 1)
        .unwrap()
        .expect("the round is kept");
    assert_eq!(record.tally.respondents, 1);

    while bot.deliver().await.sent > 0 {}
    // The poll message went out after the close: it shows the round closed, with its count.
    let posts = posts_to(&standin, CHANNEL);
    assert!(
        description(&posts[0]).starts_with("Closed · 1 teammate answered"),
        "{}",
        posts[0]
    );
    assert_eq!(posts[0]["components"], json!([]), "no Answer button");
    let edits = edits_in(&standin, CHANNEL);
    assert_eq!(edits.len(), 2);
    assert_eq!(
        posts[1]["embeds"][0]["title"],
        "Team result: Backend decision: Node.js or Python"
    );
    // The round's chart, attached to its card once the card is out.
    let charts = charts_in(&standin, CHANNEL);
    let card = standin
        .calls()
        .into_iter()
        .filter(|c| c.created.is_some())
        .nth(1)
        .unwrap();
    assert_eq!(charts.len(), 1);
    assert_eq!(Some(&charts[0].0), card.created.as_ref());
    assert_eq!(
        charts[0].1["embeds"][0]["image"]["url"],
        "attachment://tradeoff-chart.png"
    );

    // The export: only the poll's creator (or an admin), as a private follow-up.
    let refused = bot
        .interact(&poll_command(Some("export"), BOB, GUILD, CHANNEL))
        .await;
    assert!(
        ephemeral(&refused)["content"]
            .as_str()
            .unwrap()
            .contains("or an admin can export it"),
        "{refused}"
    );
    let asked = bot
        .interact(&poll_command(Some("export"), ADA, GUILD, CHANNEL))
        .await;
    assert!(ephemeral(&asked)["content"]
        .as_str()
        .unwrap()
        .contains("The export of round 1"));
    while bot.deliver().await.sent > 0 {}
    let sent = standin.calls().into_iter().last().unwrap();
    assert_eq!(sent.method, "POST");
    assert!(
        sent.path.starts_with(&format!("/webhooks/{APP_ID}/")),
        "{}",
        sent.path
    );
    assert_eq!(sent.body["flags"], 64, "for the one who asked only");
    let names: Vec<&str> = sent.files.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("poll-{poll}-round-1.csv"),
            format!("poll-{poll}-round-1.json")
        ]
    );
    let csv = String::from_utf8(sent.files[0].2.clone()).unwrap();
    assert_eq!(
        csv::Reader::from_reader(csv.as_bytes()).records().count(),
        2,
        "{csv}"
    );
}
