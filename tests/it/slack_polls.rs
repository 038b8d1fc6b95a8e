//! Team polls on Slack, end to end against the stand-in of Slack's Web API: signed slash
//! commands and interactions through the real endpoints, `users.info` for admins and time
//! zones, the poll message posted and updated through the outbox, members answering in the
//! modal (Answer -> `views.open` -> `view_submission`), closing by the creator or an admin
//! only, the summary card, deadlines and reminders on a controlled clock, anonymity checked
//! in the store's raw trees, and polls in different channels and workspaces kept apart.

use crate::slack_support::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tradeoff::core::ids::{ChannelId, Platform, PollId, WorkspaceId};
use tradeoff::polls::PollPresenter;
use tradeoff::slack::polls::{modal_violations, SlackPollPresenter, ANSWER_ACTION};
use tradeoff::slack::render::limit_violations;
use tradeoff::store::{SledStore, Store};

const TEAM: &str = "T0001";
const OTHER_TEAM: &str = "T0002";
const CHANNEL: &str = "C2147483705";
const OTHER_CHANNEL: &str = "C2147483706";
const OTHER_TEAM_CHANNEL: &str = "C9000000001";

const ADA: &str = "U0ADA0001";
const BOB: &str = "U0BOB0002";
const CY: &str = "U0CY00003";
const DEE: &str = "U0DEE0004";
const MO: &str = "U0MO00005";
const HELPER_BOT: &str = "U0HELPBOT";

/// The people the stand-in's users.info knows: Ada (Berlin), Mo the admin, Sam the owner,
/// the others plain members in UTC; a helper bot.
fn people(stand_in: &StandIn) {
    stand_in.set_user(
        ADA,
        json!({ "real_name": "Ada Lovelace", "tz": "Europe/Berlin",
                "profile": { "display_name": "Ada Lovelace", "real_name": "Ada Lovelace" } }),
    );
    for (id, name) in [(BOB, "Bob"), (CY, "Cy"), (DEE, "Dee")] {
        stand_in.set_user(
            id,
            json!({ "real_name": name, "tz": "UTC", "profile": { "display_name": name } }),
        );
    }
    stand_in.set_user(
        MO,
        json!({ "real_name": "Mo", "is_admin": true, "tz": "America/New_York",
                "profile": { "display_name": "Mo the admin" } }),
    );
    stand_in.set_user(
        HELPER_BOT,
        json!({ "real_name": "Helper", "is_bot": true, "profile": { "display_name": "helper" } }),
    );
}

async fn setup() -> (tempfile::TempDir, StandIn, Harness) {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    people(&stand_in);
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    (dir, stand_in, h)
}

/// `/tradeoff <text>` from `user` in `team`/`channel`: the ephemeral answer's text.
async fn command(h: &Harness, text: &str, user: &str, team: &str, channel: &str) -> String {
    let mut fields = fixture("slash_command.json");
    fields["text"] = json!(text);
    fields["user_id"] = json!(user);
    fields["team_id"] = json!(team);
    fields["channel_id"] = json!(channel);
    let r = h
        .post_signed("/slack/commands", FORM, form(&fields).into_bytes(), &[])
        .await;
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral", "{reply}");
    reply["text"].as_str().unwrap().to_owned()
}

fn open_poll(h: &Harness, team: &str, channel: &str) -> tradeoff::core::poll::Poll {
    h.app
        .store
        .open_poll_in(
            Platform::Slack,
            &WorkspaceId::new(team),
            &ChannelId::new(channel),
        )
        .unwrap()
        .expect("a poll is open")
}

static TRIGGER: AtomicU64 = AtomicU64::new(1);

/// A click on the Answer button of `poll` by `user`; returns the trigger id it carried.
async fn click_answer(h: &Harness, poll: &PollId, user: &str, team: &str, channel: &str) -> String {
    let trigger = format!(
        "{}.1395872398.5d5ef8a16a2b1bd0e5c6f5a4d1a1bb20",
        TRIGGER.fetch_add(1, Ordering::Relaxed)
    );
    let mut p = fixture("block_actions_poll_answer.json");
    p["user"]["id"] = json!(user);
    p["user"]["team_id"] = json!(team);
    p["team"]["id"] = json!(team);
    p["channel"]["id"] = json!(channel);
    p["container"]["channel_id"] = json!(channel);
    p["trigger_id"] = json!(trigger);
    p["actions"][0]["value"] = json!(poll.to_string());
    p["actions"][0]["block_id"] = json!(format!("tradeoff_poll|{poll}"));
    assert_eq!(h.interact(&p).await, 200);
    trigger
}

/// The modal views.open was called with for `trigger`.
fn opened_view(stand_in: &StandIn, trigger: &str) -> Value {
    let call = stand_in
        .calls_of("views.open")
        .into_iter()
        .find(|c| c.body["trigger_id"] == trigger)
        .expect("views.open was called with the click's trigger_id");
    assert_eq!(call.authorization, format!("Bearer {BOT_TOKEN}"));
    let view = call.body["view"].clone();
    assert_eq!(modal_violations(&view), Vec::<String>::new(), "{view}");
    view
}

/// The choice a modal's menu for `question` starts with, if any.
fn prefilled(view: &Value, question: &str) -> Option<String> {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == format!("q|{question}"))?["element"]["initial_option"]["value"]
        .as_str()
        .map(str::to_owned)
}

/// Submits `view` as `user` with these picks (question id -> choice id): every input block
/// is in `state.values`, unpicked ones with `selected_option: null`, as Slack sends them.
/// Returns the HTTP status and body.
async fn submit(
    h: &Harness,
    view: &Value,
    user: &str,
    team: &str,
    picks: &[(&str, &str)],
) -> (u16, String) {
    let mut values = serde_json::Map::new();
    for block in view["blocks"].as_array().unwrap() {
        if block["type"] != "input" {
            continue;
        }
        let id = block["block_id"].as_str().unwrap();
        let question = id.strip_prefix("q|").unwrap();
        let selected = picks
            .iter()
            .find(|(q, _)| *q == question)
            .map(|(_, c)| {
                let option = block["element"]["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["value"] == *c)
                    .unwrap_or_else(|| panic!("{question} has no choice {c}"));
                json!({ "text": option["text"], "value": c })
            })
            .unwrap_or(Value::Null);
        values.insert(
            id.to_owned(),
            json!({ "choice": { "type": "static_select", "selected_option": selected } }),
        );
    }
    let mut p = fixture("view_submission.json");
    p["user"]["id"] = json!(user);
    p["user"]["team_id"] = json!(team);
    p["team"]["id"] = json!(team);
    p["view"]["team_id"] = json!(team);
    p["view"]["blocks"] = view["blocks"].clone();
    p["view"]["private_metadata"] = view["private_metadata"].clone();
    p["view"]["callback_id"] = view["callback_id"].clone();
    p["view"]["state"] = json!({ "values": values });
    let body = serde_urlencoded::to_string([("payload", p.to_string())]).unwrap();
    let r = h
        .post_signed("/slack/interactions", FORM, body.into_bytes(), &[])
        .await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Answer -> views.open -> view_submission, as `user`. Returns the modal that was opened.
async fn answer(
    h: &Harness,
    stand_in: &StandIn,
    poll: &PollId,
    user: &str,
    picks: &[(&str, &str)],
) -> Value {
    let trigger = click_answer(h, poll, user, TEAM, CHANNEL).await;
    let view = opened_view(stand_in, &trigger);
    let (status, body) = submit(h, &view, user, TEAM, picks).await;
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "an accepted submission closes the modal"
    );
    view
}

/// The text of a message's blocks, as Slack would show it (mrkdwn source).
fn shown(body: &Value) -> String {
    let mut out = String::new();
    for block in body["blocks"].as_array().into_iter().flatten() {
        out.push_str(block["text"]["text"].as_str().unwrap_or_default());
        out.push('\n');
        for e in block["elements"].as_array().into_iter().flatten() {
            out.push_str(e["text"].as_str().unwrap_or_default());
            out.push_str(e["text"]["text"].as_str().unwrap_or_default());
            out.push('\n');
        }
        for f in block["fields"].as_array().into_iter().flatten() {
            out.push_str(f["text"].as_str().unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

fn posts_in(stand_in: &StandIn, channel: &str) -> Vec<Value> {
    stand_in
        .calls_of("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["channel"] == channel)
        .map(|c| c.body)
        .collect()
}

fn updates_in(stand_in: &StandIn, channel: &str) -> Vec<Value> {
    stand_in
        .calls_of("chat.update")
        .into_iter()
        .filter(|c| c.body["channel"] == channel)
        .map(|c| c.body)
        .collect()
}

fn ephemerals_to(stand_in: &StandIn, user: &str) -> Vec<String> {
    stand_in
        .calls_of("chat.postEphemeral")
        .into_iter()
        .filter(|c| c.body["user"] == user)
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn lookup() -> impl Fn(Platform) -> Option<Arc<dyn PollPresenter>> {
    let presenter: Arc<dyn PollPresenter> = Arc::new(SlackPollPresenter);
    move |p| (p == Platform::Slack).then(|| presenter.clone())
}

#[tokio::test]
async fn open_answer_in_the_modal_change_close_and_the_summary_card() {
    let (_dir, stand_in, h) = setup().await;

    let text = command(&h, "poll for 2d", ADA, TEAM, CHANNEL).await;
    assert!(text.starts_with("Your poll is open"), "{text}");
    let poll = open_poll(&h, TEAM, CHANNEL);
    assert_eq!(poll.tz, "Europe/Berlin", "the opener's Slack time zone");
    assert_eq!(
        poll.creator.name, "Ada Lovelace",
        "the name from users.info"
    );
    assert_eq!(poll.closes_at, Some(START + 2 * 86_400));
    let asked = stand_in.calls_of("users.info");
    assert_eq!(asked.last().unwrap().body["user"], ADA);
    h.deliver().await;

    // The poll message: the count, the deadline, and the Answer button with the poll id.
    let posts = posts_in(&stand_in, CHANNEL);
    assert_eq!(posts.len(), 1);
    let message = &posts[0];
    assert_eq!(limit_violations(&message["blocks"]), Vec::<String>::new());
    let text = shown(message);
    assert!(
        text.contains("*Team poll: Backend decision: Node.js or Python*"),
        "{text}"
    );
    assert!(text.contains("0 teammates have answered"), "{text}");
    assert!(text.contains(&format!("Opened by <@{ADA}>")), "{text}");
    let buttons = buttons(&stand_in.calls_of("chat.postMessage")[0]);
    assert_eq!(
        buttons,
        vec![(
            format!("tradeoff_poll|{}", poll.id),
            "tradeoff_poll_answer".to_owned(),
            poll.id.to_string()
        )]
    );
    let message_ts = stand_in.calls_of("chat.postMessage")[0].ts.clone().unwrap();

    // Bob and Cy pick real-time; Dee goes for data and ML. The modal has every question.
    let view = answer(
        &h,
        &stand_in,
        &poll.id,
        BOB,
        &[("workload", "realtime"), ("concurrency", "high")],
    )
    .await;
    // Delivered as it comes: each update shows the count as it stands when sent.
    assert_eq!(h.pass().await.sent, 1, "one update per new member");
    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], "tradeoff_poll");
    assert_eq!(view["private_metadata"], poll.id.to_string());
    let pack = h.app.catalog.latest("node-vs-python").unwrap().0;
    let inputs: Vec<&Value> = view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "input")
        .collect();
    assert_eq!(inputs.len(), pack.questions.len());
    assert!(inputs.iter().all(|b| b["optional"] == true));
    let conditional = inputs
        .iter()
        .find(|b| b["block_id"] == "q|ml_runtime")
        .unwrap();
    assert!(
        conditional["hint"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Counts only if you answered “Some features” or “Core of the product”"),
        "{conditional}"
    );
    assert_eq!(prefilled(&view, "workload"), None, "nothing to prefill yet");
    answer(
        &h,
        &stand_in,
        &poll.id,
        CY,
        &[("workload", "realtime"), ("concurrency", "high")],
    )
    .await;
    assert_eq!(h.pass().await.sent, 1, "one update per new member");
    answer(
        &h,
        &stand_in,
        &poll.id,
        DEE,
        &[
            ("workload", "data_ml"),
            ("ai_ml", "core"),
            ("ml_runtime", "in_process"),
        ],
    )
    .await;
    assert_eq!(h.pass().await.sent, 1, "one update per new member");

    // Dee changes her mind: the modal opens with her answers, and her new ones replace
    // them. An answer to a question that no longer applies is dropped.
    let trigger = click_answer(&h, &poll.id, DEE, TEAM, CHANNEL).await;
    let again = opened_view(&stand_in, &trigger);
    assert_eq!(prefilled(&again, "workload").as_deref(), Some("data_ml"));
    assert_eq!(prefilled(&again, "ai_ml").as_deref(), Some("core"));
    assert_eq!(prefilled(&again, "concurrency"), None);
    assert!(shown(&again).contains("submitting again replaces your answers"));
    let (status, body) = submit(
        &h,
        &again,
        DEE,
        TEAM,
        &[
            ("workload", "realtime"),
            ("ai_ml", "none"),
            ("ml_runtime", "in_process"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let dee = h
        .app
        .poll_answers_of(&poll, &tradeoff::core::ids::UserRef::new(DEE, ""))
        .unwrap();
    assert_eq!(
        dee.into_iter().collect::<Vec<_>>(),
        vec![
            ("ai_ml".to_owned(), "none".to_owned()),
            ("workload".to_owned(), "realtime".to_owned())
        ]
    );
    assert_eq!(
        h.pass().await.sent,
        0,
        "a changed answer is not a new member"
    );

    // Every update is of the one poll message, counts up, and never shows an answer.
    let updates = updates_in(&stand_in, CHANNEL);
    assert_eq!(updates.len(), 3);
    for (n, u) in updates.iter().enumerate() {
        assert_eq!(u["ts"], message_ts);
        assert_eq!(limit_violations(&u["blocks"]), Vec::<String>::new());
        let text = shown(u);
        let count = if n == 0 {
            "1 teammate has answered".to_owned()
        } else {
            format!("{} teammates have answered", n + 1)
        };
        assert!(text.contains(&count), "{text}");
        let text = text.replace(pack.title.as_str(), "");
        for label in pack
            .questions
            .iter()
            .flat_map(|q| q.choices.iter().map(|c| c.label.as_str()))
        {
            assert!(!text.contains(label), "{label} shown in {text}");
        }
    }

    // Bob may not close it, politely; Ada, who opened it, may.
    assert_eq!(
        command(&h, "poll close", BOB, TEAM, CHANNEL).await,
        "Only Ada Lovelace, who opened this poll, or an admin can close it."
    );
    assert_eq!(
        command(&h, "poll close", ADA, TEAM, CHANNEL).await,
        "Poll closed with 3 answered. The team's summary follows in this channel."
    );
    assert_eq!(h.pass().await.sent, 3);

    // The poll message loses its button; the summary card follows with numbers and the split.
    let closed = updates_in(&stand_in, CHANNEL).pop().unwrap();
    assert_eq!(closed["ts"], message_ts);
    assert!(closed["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["type"] != "actions"));
    assert!(shown(&closed).contains("Closed · 3 teammates answered"));
    let card = posts_in(&stand_in, CHANNEL).pop().unwrap();
    assert_eq!(limit_violations(&card["blocks"]), Vec::<String>::new());
    assert_eq!(card["blocks"][0]["type"], "header");
    assert_eq!(
        card["blocks"][0]["text"]["text"],
        "Team result: Backend decision: Node.js or Python"
    );
    let text = shown(&card);
    assert!(
        text.contains("*How the individual answers split*\n• *3 answered*\n3 Node.js"),
        "{text}"
    );
    assert!(text.contains("*Recommendation: Node.js*"), "{text}");
    let scores = card["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(
        scores.contains("Node.js") && scores.contains("Python") && scores.contains("*"),
        "the scores are shown as numbers: {scores}"
    );
    assert!(scores.chars().any(|c| c.is_ascii_digit()), "{scores}");

    // Closed: the Answer button says so privately, and an old modal shows the error.
    click_answer(&h, &poll.id, BOB, TEAM, CHANNEL).await;
    h.deliver().await;
    assert_eq!(
        ephemerals_to(&stand_in, BOB),
        vec!["This poll has closed; its summary is in the channel.".to_owned()]
    );
    let (status, body) = submit(&h, &view, BOB, TEAM, &[("workload", "api")]).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({ "response_action": "errors", "errors": {
            "q|workload": "This poll has closed; its summary is in the channel." } })
    );
}

#[tokio::test]
async fn an_admin_may_close_a_poll_someone_else_opened_and_a_failed_lookup_means_no_admin() {
    let (_dir, stand_in, h) = setup().await;
    command(&h, "poll", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    answer(
        &h,
        &stand_in,
        &poll.id,
        BOB,
        &[("workload", "data_ml"), ("ai_ml", "core")],
    )
    .await;
    // users.info fails: Mo is treated as no admin, and told politely.
    stand_in.force("users.info", 500, None, json!({}));
    assert_eq!(
        command(&h, "poll close", MO, TEAM, CHANNEL).await,
        "Only Ada Lovelace, who opened this poll, or an admin can close it."
    );
    // Slack says Mo is an admin.
    let closed = command(&h, "poll close", MO, TEAM, CHANNEL).await;
    assert!(
        closed.starts_with("Poll closed with 1 answered"),
        "{closed}"
    );
    h.deliver().await;
    let card = posts_in(&stand_in, CHANNEL).pop().unwrap();
    assert!(
        shown(&card).contains("*Recommendation: Python*"),
        "{}",
        shown(&card)
    );
    // An owner counts as an admin too.
    stand_in.set_user(DEE, json!({ "is_owner": true }));
    command(&h, "poll", ADA, TEAM, CHANNEL).await;
    assert!(command(&h, "poll close", DEE, TEAM, CHANNEL)
        .await
        .starts_with("Poll closed with 0 answered"));
    assert_eq!(
        command(&h, "poll close", MO, TEAM, CHANNEL).await,
        "There is no open poll in this channel. Open one with `poll`."
    );
}

#[tokio::test]
async fn the_deadline_closes_the_round_and_one_reminder_mentions_only_who_has_not_answered() {
    let (_dir, stand_in, h) = setup().await;
    // The channel: the bot itself, another app's bot, and five people; 2 members a page.
    stand_in.set_members(CHANNEL, &["UBOT", ADA, BOB, HELPER_BOT, CY, DEE, MO]);
    stand_in.set_members_page(2);
    command(&h, "poll for 2h remind 30m", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    answer(&h, &stand_in, &poll.id, BOB, &[("workload", "api")]).await;
    answer(&h, &stand_in, &poll.id, MO, &[("workload", "realtime")]).await;
    h.deliver().await;

    let deadline = START + 2 * 3600;
    let lookup = lookup();
    assert_eq!(h.app.run_due_polls(deadline - 1801, &lookup).0, 0);
    assert_eq!(h.app.run_due_polls(deadline - 1800, &lookup).0, 1);
    assert_eq!(
        h.app.run_due_polls(deadline - 1700, &lookup).0,
        0,
        "one nudge"
    );
    assert_eq!(h.pass().await.sent, 1);

    let pages = stand_in.calls_of("conversations.members");
    assert_eq!(pages.len(), 4, "every page of members is read");
    assert!(pages.iter().all(|p| p.body["channel"] == CHANNEL));
    let reminder = posts_in(&stand_in, CHANNEL).pop().unwrap();
    assert_eq!(limit_violations(&reminder["blocks"]), Vec::<String>::new());
    let text = reminder["text"].as_str().unwrap();
    assert_eq!(
        text,
        format!(
            "Reminder: the team poll closes in 30 min (Wed 01:13 CET). <@{ADA}> <@{CY}> <@{DEE}>: \
             you have not answered this round yet; press *Answer* on the poll message."
        )
    );
    for absent in [BOB, MO, "UBOT", HELPER_BOT] {
        assert!(!text.contains(absent), "{absent} is mentioned: {text}");
    }

    // The deadline: the scheduler closes the round once, and the summary goes out.
    assert_eq!(h.app.run_due_polls(deadline, &lookup), (1, None));
    assert_eq!(h.app.run_due_polls(deadline + 60, &lookup).0, 0);
    assert_eq!(h.pass().await.sent, 3);
    let card = posts_in(&stand_in, CHANNEL).pop().unwrap();
    assert!(shown(&card).contains("• *2 answered*"), "{}", shown(&card));
    assert_eq!(
        card["blocks"][0]["text"]["text"],
        "Team result: Backend decision: Node.js or Python"
    );
}

#[tokio::test]
async fn a_reminder_for_a_poll_closed_meanwhile_posts_nothing() {
    let (_dir, stand_in, h) = setup().await;
    stand_in.set_members(CHANNEL, &[ADA, BOB]);
    command(&h, "poll for 2h remind 30m", ADA, TEAM, CHANNEL).await;
    h.deliver().await;
    assert_eq!(h.app.run_due_polls(START + 5400, &lookup()).0, 1);
    // Closed before the outbox got to the reminder.
    command(&h, "poll close", ADA, TEAM, CHANNEL).await;
    h.deliver().await;
    assert!(stand_in.calls_of("conversations.members").is_empty());
    assert!(posts_in(&stand_in, CHANNEL)
        .iter()
        .all(|p| !p["text"].as_str().unwrap().starts_with("Reminder")));
}

#[tokio::test]
async fn an_anonymous_poll_stores_no_user_id_with_the_answers_and_still_reminds_the_right_people() {
    let (dir, stand_in, h) = setup().await;
    stand_in.set_members(CHANNEL, &["UBOT", ADA, BOB, CY, DEE]);
    command(&h, "poll for 1d anonymous remind 2h", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    let view = answer(&h, &stand_in, &poll.id, BOB, &[("workload", "realtime")]).await;
    assert!(shown(&view).contains("This poll is anonymous"));
    answer(&h, &stand_in, &poll.id, CY, &[("workload", "data_ml")]).await;
    // Cy changes an answer: the salted key finds her response (prefilled, then replaced).
    let trigger = click_answer(&h, &poll.id, CY, TEAM, CHANNEL).await;
    let again = opened_view(&stand_in, &trigger);
    assert_eq!(prefilled(&again, "workload").as_deref(), Some("data_ml"));
    submit(&h, &again, CY, TEAM, &[("workload", "cpu_heavy")]).await;
    assert_eq!(open_poll(&h, TEAM, CHANNEL).respondents, 2);

    // The reminder hashes each member's id with the poll's salt: Bob and Cy have answered.
    assert_eq!(h.app.run_due_polls(START + 86_400 - 7200, &lookup()).0, 1);
    h.deliver().await;
    let reminder = posts_in(&stand_in, CHANNEL).pop().unwrap();
    let text = reminder["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{ADA}> <@{DEE}>: you have not answered")),
        "{text}"
    );
    assert!(!text.contains(BOB) && !text.contains(CY), "{text}");

    // Every tree of the store, raw: the answers are there, the members' ids are not.
    h.stop().await;
    let sled = SledStore::open(dir.path()).unwrap();
    let mut dump = String::new();
    for name in sled.db().tree_names() {
        for item in sled.db().open_tree(&name).unwrap().iter() {
            let (k, v) = item.unwrap();
            dump.push_str(&String::from_utf8_lossy(&k));
            dump.push_str(&String::from_utf8_lossy(&v));
        }
    }
    assert!(
        dump.contains("realtime") && dump.contains("cpu_heavy"),
        "answers are stored"
    );
    for who in [BOB, CY, "Bob", "Cy"] {
        assert!(!dump.contains(who), "{who} is in the store");
    }
    let stored = sled.poll(&poll.id).unwrap().unwrap();
    assert_eq!(stored.respondents, 2);
}

#[tokio::test]
async fn polls_in_two_channels_and_two_workspaces_do_not_mix() {
    let (_dir, stand_in, h) = setup().await;
    for (team, channel) in [
        (TEAM, CHANNEL),
        (TEAM, OTHER_CHANNEL),
        (OTHER_TEAM, OTHER_TEAM_CHANNEL),
    ] {
        let text = command(&h, "poll", ADA, team, channel).await;
        assert!(text.starts_with("Your poll is open"), "{text}");
    }
    let here = open_poll(&h, TEAM, CHANNEL).id;
    let next_door = open_poll(&h, TEAM, OTHER_CHANNEL).id;
    let elsewhere = open_poll(&h, OTHER_TEAM, OTHER_TEAM_CHANNEL).id;
    assert!(here != next_door && next_door != elsewhere && here != elsewhere);
    assert!(command(&h, "poll", BOB, TEAM, CHANNEL)
        .await
        .starts_with("A poll is already open in this channel"));

    answer(&h, &stand_in, &here, BOB, &[("workload", "realtime")]).await;
    answer(&h, &stand_in, &here, CY, &[("workload", "realtime")]).await;
    let trigger = click_answer(&h, &elsewhere, BOB, OTHER_TEAM, OTHER_TEAM_CHANNEL).await;
    let view = opened_view(&stand_in, &trigger);
    let (status, body) = submit(&h, &view, BOB, OTHER_TEAM, &[("workload", "data_ml")]).await;
    assert_eq!((status, body.as_str()), (200, ""));

    // This workspace's poll, clicked or submitted from another workspace, does nothing.
    let before = stand_in.calls_of("views.open").len();
    click_answer(&h, &here, DEE, OTHER_TEAM, OTHER_TEAM_CHANNEL).await;
    assert_eq!(stand_in.calls_of("views.open").len(), before);
    h.deliver().await;
    assert_eq!(
        ephemerals_to(&stand_in, DEE),
        vec!["This button belongs to a poll that is not open here.".to_owned()]
    );
    let mut forged = view.clone();
    forged["private_metadata"] = json!(here.to_string());
    let (_, body) = submit(&h, &forged, DEE, OTHER_TEAM, &[("workload", "api")]).await;
    assert!(body.contains("\"response_action\":\"errors\""), "{body}");
    assert!(body.contains("not open here"), "{body}");

    let count = |id: &PollId| h.app.store.poll(id).unwrap().unwrap().respondents;
    assert_eq!(
        (count(&here), count(&next_door), count(&elsewhere)),
        (2, 0, 1)
    );

    // Closing next door closes only next door, with nobody's answers.
    command(&h, "poll close", ADA, TEAM, OTHER_CHANNEL).await;
    h.deliver().await;
    let card = posts_in(&stand_in, OTHER_CHANNEL).pop().unwrap();
    assert!(
        shown(&card).contains("Nobody answered."),
        "{}",
        shown(&card)
    );
    assert_eq!(open_poll(&h, TEAM, CHANNEL).id, here);
    assert_eq!(open_poll(&h, OTHER_TEAM, OTHER_TEAM_CHANNEL).id, elsewhere);
    for (channel, n) in [(CHANNEL, 1), (OTHER_CHANNEL, 2), (OTHER_TEAM_CHANNEL, 1)] {
        assert_eq!(posts_in(&stand_in, channel).len(), n, "posts in {channel}");
    }
}

#[tokio::test]
async fn a_schedule_that_cannot_be_read_gets_a_private_error_with_examples() {
    let (_dir, stand_in, h) = setup().await;
    for schedule in [
        "poll for two days",
        "poll every fryday 16:00",
        "poll for 2d tz Mars/Olympus",
        "poll until 2023-02-30 10:00",
    ] {
        let text = command(&h, schedule, ADA, TEAM, CHANNEL).await;
        assert!(text.contains("Examples:"), "{text}");
        assert!(
            text.contains("`poll every friday 16:00 tz America/New_York`"),
            "{text}"
        );
        assert!(text.contains("`/tradeoff poll for 2d`"), "{text}");
    }
    assert!(h
        .app
        .store
        .outbox_pending(Platform::Slack)
        .unwrap()
        .is_empty());
    assert!(h
        .app
        .store
        .open_poll_in(
            Platform::Slack,
            &WorkspaceId::new(TEAM),
            &ChannelId::new(CHANNEL)
        )
        .unwrap()
        .is_none());
    assert!(stand_in.calls_of("chat.postMessage").is_empty());
    // The help lists polls.
    let help = command(&h, "help", ADA, TEAM, CHANNEL).await;
    assert!(help.contains("`/tradeoff poll close`"), "{help}");
}

#[tokio::test]
async fn times_are_read_in_the_users_slack_time_zone_unless_tz_is_given() {
    let (_dir, stand_in, h) = setup().await;
    // START is Tuesday 2023-11-14 22:13:20 UTC. Ada is in Berlin (CET, UTC+1).
    command(&h, "poll until 2023-11-16 17:00", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    assert_eq!(poll.tz, "Europe/Berlin");
    assert_eq!(
        poll.closes_at,
        Some(1_700_150_400),
        "17:00 CET is 16:00 UTC"
    );
    // `tz` wins over the user's zone.
    command(
        &h,
        "poll until 2023-11-16 17:00 tz America/New_York",
        ADA,
        TEAM,
        OTHER_CHANNEL,
    )
    .await;
    let ny = open_poll(&h, TEAM, OTHER_CHANNEL);
    assert_eq!(ny.tz, "America/New_York");
    assert_eq!(
        ny.closes_at,
        Some(1_700_150_400 + 6 * 3600),
        "17:00 EST is 22:00 UTC"
    );
    // Slack gives no zone (users.info fails): UTC.
    stand_in.force(
        "users.info",
        200,
        None,
        json!({ "ok": false, "error": "user_not_found" }),
    );
    command(
        &h,
        "poll until 2023-11-16 17:00",
        ADA,
        OTHER_TEAM,
        OTHER_TEAM_CHANNEL,
    )
    .await;
    let utc = open_poll(&h, OTHER_TEAM, OTHER_TEAM_CHANNEL);
    assert_eq!(utc.tz, "UTC");
    assert_eq!(utc.closes_at, Some(1_700_150_400 + 3600));
}

#[tokio::test]
async fn a_modal_that_cannot_open_in_time_says_so_privately() {
    let (_dir, stand_in, h) = setup().await;
    command(&h, "poll", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    stand_in.force(
        "views.open",
        200,
        None,
        json!({ "ok": false, "error": "expired_trigger_id" }),
    );
    click_answer(&h, &poll.id, BOB, TEAM, CHANNEL).await;
    h.deliver().await;
    assert_eq!(
        ephemerals_to(&stand_in, BOB),
        vec![
            "Sorry, I could not open the answering form in time. Please press Answer again."
                .to_owned()
        ]
    );
    // A submission with nothing chosen keeps the modal open with a hint.
    let trigger = click_answer(&h, &poll.id, BOB, TEAM, CHANNEL).await;
    let view = opened_view(&stand_in, &trigger);
    let (status, body) = submit(&h, &view, BOB, TEAM, &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Choose at least one answer"), "{body}");
    assert_eq!(open_poll(&h, TEAM, CHANNEL).respondents, 0);
}

#[tokio::test]
async fn a_recurring_poll_posts_each_summary_and_the_next_rounds_message() {
    let (_dir, stand_in, h) = setup().await;
    // Bob's zone is UTC; START is 22:13 UTC, so the first round closes at 23:00 that day.
    command(&h, "poll every day 23:00", BOB, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    answer(&h, &stand_in, &poll.id, CY, &[("workload", "realtime")]).await;
    h.deliver().await;
    let first_ts = stand_in.calls_of("chat.postMessage")[0].ts.clone().unwrap();
    let close = START - (START % 86_400) + 23 * 3600;
    assert_eq!(
        h.app.run_due_polls(close, &lookup()),
        (1, Some(close + 86_400))
    );
    assert_eq!(
        h.pass().await.sent,
        4,
        "closed update, summary, its chart, next round"
    );
    let posts = posts_in(&stand_in, CHANNEL);
    assert_eq!(
        posts[posts.len() - 2]["blocks"][0]["text"]["text"],
        "Team result: Backend decision: Node.js or Python (round 1)"
    );
    let next = &posts[posts.len() - 1];
    assert!(shown(next).contains("0 teammates have answered"));
    assert!(shown(next).contains("round 2"));
    // Round 2's answers update round 2's message, not round 1's.
    answer(&h, &stand_in, &poll.id, CY, &[("workload", "api")]).await;
    h.deliver().await;
    let last = updates_in(&stand_in, CHANNEL).pop().unwrap();
    assert_ne!(last["ts"], first_ts);
    assert!(shown(&last).contains("1 teammate has answered"));
}

#[tokio::test]
async fn poll_messages_are_queued_as_effects_and_shown_as_the_poll_stands_when_sent() {
    let (_dir, stand_in, h) = setup().await;
    command(&h, "poll for 2d", ADA, TEAM, CHANNEL).await;
    let poll = open_poll(&h, TEAM, CHANNEL);
    // Bob answers before the poll message has gone out.
    answer(
        &h,
        &stand_in,
        &poll.id,
        BOB,
        &[("workload", "realtime"), ("concurrency", "high")],
    )
    .await;
    command(&h, "poll close", ADA, TEAM, CHANNEL).await;

    // What is queued says what to show, not how: no Block Kit, no text, a few bytes each.
    let queued = h.app.store.outbox_pending(Platform::Slack).unwrap();
    let shows: Vec<String> = queued
        .iter()
        .map(|e| e.message.op.to_value().unwrap())
        .map(|op| {
            assert!(
                op.get("blocks").is_none() && op.get("body").is_none(),
                "{op}"
            );
            assert!(e_len(&op) < 160, "{op}");
            op["poll_shows"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(shows, ["message", "refresh", "refresh", "card", "chart"]);
    let record = h
        .app
        .store
        .round(&poll.id, 1)
        .unwrap()
        .expect("the round is kept");
    assert_eq!(record.tally.respondents, 1);
    assert_eq!(record.by.len(), 1, "who answered, by name");

    h.deliver().await;
    // The poll message went out after the close: it shows the round closed, with its count.
    let posts = posts_in(&stand_in, CHANNEL);
    let first = shown(&posts[0]);
    assert!(first.contains("1 teammate answered"), "{first}");
    assert!(
        !posts[0]["blocks"].to_string().contains(ANSWER_ACTION),
        "no Answer button on a closed round"
    );
    let poll_ts = stand_in.calls_of("chat.postMessage")[0].ts.clone().unwrap();
    let updates = updates_in(&stand_in, CHANNEL);
    assert_eq!(updates.len(), 2);
    assert!(updates.iter().all(|u| u["ts"] == poll_ts));
    let card = shown(&posts[1]);
    assert!(card.contains("Team result"), "{card}");
    assert!(card.contains("1 teammate answered"), "{card}");
    // The round's chart follows its card in the channel.
    let shared = stand_in.calls_of("files.completeUploadExternal");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].body["channel_id"], CHANNEL);
    assert!(shared[0].body.get("thread_ts").is_none());
    let png = &stand_in.uploads()[shared[0].body["files"][0]["id"].as_str().unwrap()];
    assert!(png.starts_with(b"\x89PNG"));

    // The channel's latest result is now the poll's: its record counts the answers.
    let said = command(&h, "record", ADA, TEAM, CHANNEL).await;
    assert!(said.contains("docs/decisions/"), "{said}");
    h.deliver().await;
    let shared = stand_in.calls_of("files.completeUploadExternal");
    assert_eq!(shared.len(), 2);
    let file = shared[1].body["files"][0]["id"].as_str().unwrap();
    let markdown = String::from_utf8(stand_in.uploads()[file].clone()).unwrap();
    assert!(
        markdown.contains("1 teammate answered a team poll;"),
        "{markdown}"
    );

    // The export: only the poll's creator (or an admin) gets it, in a direct message.
    let refused = command(&h, "poll export", BOB, TEAM, CHANNEL).await;
    assert!(refused.contains("or an admin can export it"), "{refused}");
    let said = command(&h, "poll export", ADA, TEAM, CHANNEL).await;
    assert!(said.contains("follows in a direct message"), "{said}");
    h.deliver().await;
    let opened = stand_in.calls_of("conversations.open");
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].body["users"], json!([ADA]));
    let shared = stand_in.calls_of("files.completeUploadExternal");
    let export = shared.last().unwrap();
    assert_eq!(export.body["channel_id"], format!("D{ADA}"));
    let files = export.body["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "CSV and JSON, shared at once");
    let csv =
        String::from_utf8(stand_in.uploads()[files[0]["id"].as_str().unwrap()].clone()).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "one response and the team: {csv}");
    assert_eq!(&rows[0][0], BOB, "who answered, by id");
    let json: Value =
        serde_json::from_slice(&stand_in.uploads()[files[1]["id"].as_str().unwrap()]).unwrap();
    assert_eq!(json["team"]["respondents"], 1);
}

fn e_len(op: &Value) -> usize {
    op.to_string().len()
}
