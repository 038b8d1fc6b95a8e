//! One scripted decision driven through Slack's endpoints and through Discord's, each
//! against its stand-in API on loopback: after every request, the neutral effects the
//! platform queued in its outbox are read from the store. They are the same on both
//! platforms (once each platform's user ids are named by role): what follows a step is
//! decided once, in the core, and the platforms only address and render it.

use crate::slack_support;

use serde_json::{json, Value};
use tradeoff::core::ids::Platform;
use tradeoff::store::Store;

/// The people in the script.
#[derive(Clone, Copy)]
enum Who {
    Lead,
    Colleague,
}

/// What the script does, step by step, after `start` by the lead.
#[derive(Clone, Copy)]
enum Act {
    /// Click choice `n` of the question asked last.
    Choose(usize, Who),
    /// Click choice `n` of the question asked before the last one (already answered).
    ChooseEarlier(usize, Who),
    /// Click a command button of the question asked last.
    Press(&'static str),
}

const SCRIPT: &[Act] = &[
    Act::Choose(0, Who::Lead),
    Act::ChooseEarlier(1, Who::Colleague),
    Act::Choose(0, Who::Colleague),
    Act::Press("skip"),
    Act::Press("back"),
    Act::Choose(1, Who::Lead),
];

/// The effects queued by one request: `said` of each entry that shows one (once, where a
/// platform shows one effect in two places: Discord's card is in the thread and announced
/// in the channel), with user ids replaced by the role named in `roles`, names dropped
/// (the fixtures name people differently), and times set to 0 (the test clocks differ).
fn normalised(ops: Vec<Value>, roles: &[(String, &str)]) -> Vec<Value> {
    fn walk(v: &mut Value, roles: &[(String, &str)]) {
        match v {
            Value::Object(map) => {
                if let (Some(Value::String(id)), true) = (map.get("id"), map.contains_key("name")) {
                    let role = roles
                        .iter()
                        .find(|(known, _)| known == id)
                        .map_or("someone else", |(_, role)| *role);
                    *v = json!({ "person": role });
                    return;
                }
                if let Some(at) = map.get_mut("at") {
                    *at = json!(0);
                }
                if let Some(Value::Array(by)) = map.get_mut("by") {
                    let n = by.len();
                    map.insert("by".into(), json!(n));
                }
                for (_, value) in map.iter_mut() {
                    walk(value, roles);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, roles)),
            _ => {}
        }
    }
    let mut effects: Vec<Value> = ops
        .into_iter()
        .filter_map(|op| op.get("said").cloned())
        .map(|mut said| {
            walk(&mut said, roles);
            said
        })
        .collect();
    effects.dedup();
    effects
}

fn queued(store: &dyn Store, platform: Platform) -> Vec<Value> {
    store
        .outbox_pending(platform)
        .unwrap()
        .into_iter()
        .map(|e| e.message.op.to_value().unwrap())
        .collect()
}

async fn slack_script() -> Vec<Vec<Value>> {
    use crate::slack_support::*;
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let user = |who: Who| match who {
        Who::Lead => "U0LEAD",
        Who::Colleague => "U0COLLEAGUE",
    };
    let roles = [
        ("U0LEAD".to_owned(), "lead"),
        ("U0COLLEAGUE".to_owned(), "colleague"),
    ];
    let questions = |s: &StandIn| -> Vec<Call> {
        s.accepted()
            .into_iter()
            .filter(|c| c.method == "chat.postMessage" && !buttons(c).is_empty())
            .collect()
    };
    let mut steps = Vec::new();
    h.command("start", user(Who::Lead)).await;
    steps.push(normalised(
        queued(h.app.store.as_ref(), Platform::Slack),
        &roles,
    ));
    h.deliver().await;
    let mut n = 0;
    for act in SCRIPT
        .iter()
        .copied()
        .chain(std::iter::repeat(Act::Choose(0, Who::Lead)))
    {
        let asked = questions(&stand_in);
        let Some(last) = asked.last() else {
            panic!("no question was asked")
        };
        if steps.len() > 40 {
            panic!("the decision does not end");
        }
        let (message, button, who) = match act {
            Act::Choose(i, who) => (last, choice(last, i), who),
            Act::ChooseEarlier(i, who) => (
                &asked[asked.len() - 2],
                choice(&asked[asked.len() - 2], i),
                who,
            ),
            Act::Press(command) => (last, button(last, &format!("cmd|{command}")), Who::Lead),
        };
        n += 1;
        let status = h
            .interact(&click(
                message,
                &button,
                user(who),
                &format!("1700000{n:03}.000100"),
            ))
            .await;
        assert_eq!(status, 200);
        let effects = normalised(queued(h.app.store.as_ref(), Platform::Slack), &roles);
        let done = effects.iter().any(|e| e["effect"] == "card");
        steps.push(effects);
        h.deliver().await;
        if done {
            break;
        }
    }
    steps
}

/// The `n`th choice button of a posted Slack question.
fn choice(call: &slack_support::Call, n: usize) -> (String, String, String) {
    slack_support::buttons(call)
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("choice|"))
        .nth(n)
        .expect("the question has that many choices")
}

async fn discord_script() -> Vec<Vec<Value>> {
    use crate::discord_support::*;
    let standin = StandIn::start().await;
    let bot = TestBot::start(&standin).await;
    let start = fixture("command_start");
    let lead = start["member"]["user"]["id"].as_str().unwrap().to_owned();
    let colleague = "1180000000000000777".to_owned();
    let roles = [(lead.clone(), "lead"), (colleague.clone(), "colleague")];
    let conversation = start["id"].as_str().unwrap().to_owned();
    let mut steps = Vec::new();
    bot.interact(&start).await;
    steps.push(normalised(
        queued(bot.store.as_ref(), Platform::Discord),
        &roles,
    ));
    bot.deliver().await;
    let thread = first_thread(&standin);
    // The question index of each question posted, in order.
    let asked = |s: &StandIn| -> Vec<usize> {
        s.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path == format!("/channels/{thread}/messages"))
            .filter_map(|c| {
                let id = c.body["components"][0]["components"][0]["custom_id"]
                    .as_str()?
                    .to_owned();
                id.split(':').nth(2)?.parse().ok()
            })
            .collect()
    };
    let mut n = 0;
    for act in SCRIPT
        .iter()
        .copied()
        .chain(std::iter::repeat(Act::Choose(0, Who::Lead)))
    {
        let questions = asked(&standin);
        if steps.len() > 40 {
            panic!("the decision does not end");
        }
        let last = *questions.last().expect("a question was asked");
        let (custom_id, who) = match act {
            Act::Choose(i, who) => (format!("to:{conversation}:{last}:c{i}"), who),
            Act::ChooseEarlier(i, who) => {
                let earlier = questions[questions.len() - 2];
                (format!("to:{conversation}:{earlier}:c{i}"), who)
            }
            Act::Press(command) => (format!("to:{conversation}:{last}:{command}"), Who::Lead),
        };
        n += 1;
        let mut click = button_click(&thread, &custom_id, &format!("11800000000000009{n:02}"));
        let id = match who {
            Who::Lead => &lead,
            Who::Colleague => &colleague,
        };
        click["member"]["user"]["id"] = json!(id);
        let answer = bot.interact(&click).await;
        assert_eq!(answer["type"], 6, "{answer}");
        let effects = normalised(queued(bot.store.as_ref(), Platform::Discord), &roles);
        let done = effects.iter().any(|e| e["effect"] == "card");
        steps.push(effects);
        bot.deliver().await;
        if done {
            break;
        }
    }
    steps
}

#[tokio::test]
async fn slack_and_discord_produce_the_same_effects_for_the_same_decision() {
    let slack = slack_script().await;
    let discord = discord_script().await;
    // The script reaches every kind of effect a decision has.
    let kinds: std::collections::BTreeSet<String> = slack
        .iter()
        .flatten()
        .map(|e| e["effect"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["answered", "ask", "card", "chart", "closed", "opened", "tell"]
            .map(String::from)
            .into()
    );
    // The colleague's click on the answered question is told to the colleague only.
    assert_eq!(
        slack[2],
        vec![json!({
            "pack": slack[0][0]["pack"],
            "version": slack[0][0]["version"],
            "effect": "tell",
            "to": { "person": "colleague" },
            "text": "That question has already been answered; this one is current.",
        })]
    );
    assert_eq!(slack.len(), discord.len(), "{slack:#?}\n{discord:#?}");
    for (i, (s, d)) in slack.iter().zip(&discord).enumerate() {
        assert_eq!(s, d, "step {i}: Slack queued {s:#?}, Discord {d:#?}");
    }
}
