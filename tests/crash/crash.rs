//! The real `tradeoff serve` with Slack on, under load from concurrent clients (starts,
//! clicks on the posted questions, replies in the threads), SIGKILLed at random moments
//! over and over on one data directory, against one stand-in Web API on loopback. What it
//! acknowledged is there afterwards, and each message reached Slack once, but for the
//! documented instant between Slack accepting a message and the store recording it.
//!
//! A reply the kill cut off before its 200 is delivered again in a later run, with
//! Slack's retry headers, as Slack does with an event it got no 2xx for: once that
//! redelivery is acknowledged, its answer must be there too.

use crate::common;

use crate::slack_support::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tradeoff::core::ids::{ChannelId, Platform, WorkspaceId};
use tradeoff::store::{SledStore, Store};

/// How many times the process is killed, each time on the same data directory.
const KILLS: usize = 32;
/// Clients sending requests at once.
const CLIENTS: usize = 4;
/// The seed of the kill times and of the clients' choices.
const SEED: u64 = 0x7ead_0ff5_c4a5_4001;
/// A kill comes this long after the load starts, at most (uniformly from 0). Well under
/// the 2.5 s after which the bot acknowledges a click whose work is still going on: every
/// click acknowledged before a kill was answered after its write.
const KILL_WITHIN_MS: u64 = 400;
/// The whole test, debug build included, on a slow machine.
const DEADLINE: Duration = Duration::from_secs(180);
/// How long the last process has to deliver what is queued.
const DRAIN_WITHIN: Duration = Duration::from_secs(30);
/// Conversations started and not yet finished, at most: past it, clients answer instead.
const OPEN_AT_MOST: usize = 6 * CLIENTS;
/// Slack's redeliveries of an event that got no 2xx (platform-facts: up to 3).
const EVENT_RETRIES: u32 = 3;

/// The fixtures' workspace and channel.
const TEAM: &str = "T0001";
const CHANNEL: &str = "C2147483705";

/// Messages between Slack's acceptance and the store's record at any one moment, at most:
/// the outbox sends one message at a time (`Outbox::pass` awaits each send, and records
/// it, before the next), and `serve` runs one outbox for Slack.
const IN_FLIGHT: usize = 1;

/// SplitMix64: a small seeded generator, so that a run's kill times are the same each time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a: the same number for the same thread in every run.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Who answers in a thread: one person per thread, whatever the client.
fn answerer(thread: &str) -> String {
    format!("U8{:05}", fnv(thread) % 100_000)
}

/// The choice (1 or 2, by position) every question of a thread is answered with. One rule
/// per thread makes every attempt at an answer say the same thing, so a check cannot be
/// confused by an attempt that went through without being acknowledged: a click repeated
/// on a question already answered is a repeat, and a reply that reaches the next question
/// instead (its number is read as that question's choice) answers it as the rule would.
fn position(thread: &str) -> usize {
    1 + (fnv(thread) >> 32) as usize % 2
}

/// `tradeoff serve` with its store in `dir`, Slack's Web API at `stand_in`. Killed when
/// dropped, so that a failing test leaves no process behind.
struct Serve {
    child: Child,
    url: String,
    logs: Receiver<String>,
}

impl Serve {
    /// Starts the process and waits until it listens. Blocks.
    fn start(dir: &Path, stand_in: &StandIn) -> Serve {
        let (child, url, logs) = common::serve_slack(dir, &stand_in.api_url(), SECRET, BOT_TOKEN);
        Serve { child, url, logs }
    }

    /// Sends `signal`, waits for the process to end; its exit status and its log since it
    /// listened. Blocks.
    fn stop(&mut self, signal: &str) -> (std::process::ExitStatus, String) {
        let status = common::stop(&mut self.child, signal);
        let log: Vec<String> = self.logs.try_iter().collect();
        (status, log.join("\n"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A thread as the stand-in saw it: its parent's ts (the `thread_ts` of its questions), the
/// question posted last, and whether the card was posted.
struct ThreadView {
    parent_ts: String,
    latest: Call,
    latest_question: String,
    finished: bool,
}

/// The thread key and question id of a posted question (its choices' block_id is
/// `tradeoff|<thread>|<question>|choices`).
fn question_of(call: &Call) -> Option<(String, String)> {
    call.body["blocks"]
        .as_array()?
        .iter()
        .filter_map(|b| b["block_id"].as_str())
        .find_map(|id| match id.split('|').collect::<Vec<_>>()[..] {
            ["tradeoff", thread, question, "choices"] => Some((thread.into(), question.into())),
            _ => None,
        })
}

fn accepted_post(call: &Call) -> bool {
    call.method == "chat.postMessage" && call.status == 200 && call.ts.is_some()
}

/// A reply Slack has not had a 2xx for, to be delivered again; and what it answers.
struct Unacked {
    event: Value,
    retries: u32,
    answers: (String, String),
}

/// An acknowledged click or reply, for a failure to tell about.
struct Ack {
    /// `click` or `reply`.
    kind: &'static str,
    /// The click's action_ts, the reply's event_id.
    id: String,
    run: usize,
    /// 1 for a first delivery, 2 and up for Slack's redeliveries.
    delivery: u32,
}

impl std::fmt::Display for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id, run, delivery) = (self.kind, &self.id, self.run, self.delivery);
        write!(f, "{kind} {id} in run {run}, delivery {delivery}")
    }
}

/// Everything the clients did and were told, across the runs.
#[derive(Default)]
struct Ledger {
    /// The users of acknowledged starts: each start is by a user of its own.
    starts: Vec<String>,
    /// (thread, question) answered by acknowledged clicks and replies.
    answered: BTreeMap<(String, String), Vec<Ack>>,
    clicks: usize,
    replies: usize,
    /// Of `replies`, redeliveries of a reply the killed process never acknowledged.
    redelivered: usize,
    /// Starts answered "still working": nothing promised yet, so nothing expected.
    late_starts: usize,
    /// Answers other than 200 from a live process: (status, body).
    refused: Vec<(u16, String)>,
    unacked: Vec<Unacked>,
    /// Threads a client is answering in right now.
    busy: BTreeSet<String>,
    /// The threads, from the stand-in's calls read so far.
    threads: BTreeMap<String, ThreadView>,
    by_parent: HashMap<String, String>,
    read: usize,
    next_id: u64,
    /// Requests sent and not yet answered or failed, now; and summed over the kills.
    in_flight: usize,
    in_flight_at_kills: usize,
}

impl Ledger {
    /// Reads the calls the stand-in received since the last look.
    fn follow(&mut self, stand_in: &StandIn) {
        let fresh = stand_in.calls_from(self.read);
        self.read += fresh.len();
        for call in fresh.into_iter().filter(accepted_post) {
            let parent = call.body["thread_ts"].as_str().map(str::to_owned);
            if let (Some((thread, question)), Some(parent_ts)) = (question_of(&call), parent) {
                self.by_parent.insert(parent_ts.clone(), thread.clone());
                let view = self.threads.entry(thread).or_insert(ThreadView {
                    parent_ts,
                    latest: call.clone(),
                    latest_question: question.clone(),
                    finished: false,
                });
                view.latest = call;
                view.latest_question = question;
            } else if call.body["reply_broadcast"] == true {
                let thread = call.body["thread_ts"]
                    .as_str()
                    .and_then(|ts| self.by_parent.get(ts));
                if let Some(view) = thread.and_then(|t| self.threads.get_mut(t)) {
                    view.finished = true;
                }
            }
        }
    }

    /// A thread whose latest question has no acknowledged answer and that no client is
    /// answering in, picked by `pick`; marked busy.
    fn take_ready(&mut self, pick: u64) -> Option<(String, String, Call)> {
        let ready: Vec<&String> = self
            .threads
            .iter()
            .filter(|(thread, v)| {
                !v.finished
                    && !self.busy.contains(*thread)
                    && !self
                        .answered
                        .contains_key(&((*thread).clone(), v.latest_question.clone()))
            })
            .map(|(thread, _)| thread)
            .collect();
        if ready.is_empty() {
            return None;
        }
        let thread = ready[(pick % ready.len() as u64) as usize].clone();
        self.busy.insert(thread.clone());
        let view = &self.threads[&thread];
        Some((thread, view.parent_ts.clone(), view.latest.clone()))
    }

    fn open(&self) -> usize {
        let finished = self.threads.values().filter(|v| v.finished).count();
        self.starts.len().saturating_sub(finished)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// What the clients share, across the runs.
struct Load {
    stand_in: StandIn,
    ledger: Mutex<Ledger>,
    /// The run going on.
    run: std::sync::atomic::AtomicUsize,
}

impl Load {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }
}

/// One client: until `stop`, Slack's redeliveries first, then an answer in a thread that
/// waits for one, or a new start.
async fn client(load: Arc<Load>, url: String, stop: Arc<AtomicBool>, mut rng: Rng) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    while !stop.load(Ordering::SeqCst) {
        let redelivery = load.ledger().unacked.pop();
        if let Some(u) = redelivery {
            send_reply(&load, &http, &url, u).await;
            continue;
        }
        let roll = rng.below(10);
        let ready = {
            let mut ledger = load.ledger();
            ledger.follow(&load.stand_in);
            if roll < 7 {
                ledger.take_ready(rng.next())
            } else {
                None
            }
        };
        if let Some((thread, parent_ts, question)) = ready {
            if rng.below(2) == 0 {
                send_click(&load, &http, &url, &thread, &parent_ts, &question).await;
            } else {
                let id = load.ledger().id();
                let (_, question_id) = question_of(&question).unwrap();
                let mut event = reply(
                    &position(&thread).to_string(),
                    &parent_ts,
                    &answerer(&thread),
                    &format!("EvCRASH{id:06}"),
                );
                event["event"]["ts"] = json!(format!("1700000100.{id:06}"));
                event["event"]["event_ts"] = event["event"]["ts"].clone();
                let u = Unacked {
                    event,
                    retries: 0,
                    answers: (thread.clone(), question_id),
                };
                send_reply(&load, &http, &url, u).await;
                continue;
            }
            load.ledger().busy.remove(&thread);
        } else if load.ledger().open() < OPEN_AT_MOST {
            send_start(&load, &http, &url).await;
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn send_start(load: &Load, http: &reqwest::Client, url: &str) {
    let user = format!("U{:07}", load.ledger().id());
    let sent = signed(
        http,
        &format!("{url}/slack/commands"),
        TestClock::system().secs(),
        FORM,
        command_form("start", &user),
        &[],
    )
    .send();
    let sent = flying(load, sent).await;
    let Ok(r) = sent else { return };
    let status = r.status().as_u16();
    // The acknowledgement is the answer's text: a body cut off by the kill is none.
    let Ok(body) = r.json::<Value>().await else {
        return;
    };
    let text = body["text"].as_str().unwrap_or_default();
    let mut ledger = load.ledger();
    if status != 200 {
        ledger.refused.push((status, body.to_string()));
    } else if text.starts_with("Starting") {
        ledger.starts.push(user);
    } else if text.starts_with("This is taking longer") {
        ledger.late_starts += 1;
    } else {
        ledger.refused.push((status, body.to_string()));
    }
}

async fn send_click(
    load: &Load,
    http: &reqwest::Client,
    url: &str,
    thread: &str,
    parent_ts: &str,
    question: &Call,
) {
    let choices: Vec<_> = buttons(question)
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("choice|"))
        .collect();
    let button = &choices[position(thread) - 1];
    let id = load.ledger().id();
    let mut payload = click(
        question,
        button,
        &answerer(thread),
        &format!("1700000200.{id:06}"),
    );
    payload["container"]["thread_ts"] = json!(parent_ts);
    payload["message"]["thread_ts"] = json!(parent_ts);
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let sent = signed(
        http,
        &format!("{url}/slack/interactions"),
        TestClock::system().secs(),
        FORM,
        body.into_bytes(),
        &[],
    )
    .send();
    let sent = flying(load, sent).await;
    let Ok(r) = sent else { return };
    let status = r.status().as_u16();
    let mut ledger = load.ledger();
    if status == 200 {
        let (_, question_id) = question_of(question).unwrap();
        let ack = Ack {
            kind: "click",
            id: payload["actions"][0]["action_ts"]
                .as_str()
                .unwrap()
                .to_owned(),
            run: load.run.load(Ordering::SeqCst),
            delivery: 1,
        };
        let thread = thread.to_owned();
        ledger
            .answered
            .entry((thread, question_id))
            .or_default()
            .push(ack);
        ledger.clicks += 1;
    } else {
        ledger.refused.push((status, String::new()));
    }
}

/// Sends a reply event, or a redelivery of one (with Slack's retry headers); one that gets
/// no 2xx is kept for Slack's next redelivery, and its thread stays busy until then: only
/// the redelivery may answer the question, so that an answer lost with the first delivery
/// is not made up for by another client's.
async fn send_reply(load: &Load, http: &reqwest::Client, url: &str, u: Unacked) {
    let retry = u.retries.to_string();
    let headers: Vec<(&str, &str)> = if u.retries == 0 {
        vec![]
    } else {
        vec![
            ("x-slack-retry-num", retry.as_str()),
            ("x-slack-retry-reason", "http_timeout"),
        ]
    };
    let sent = signed(
        http,
        &format!("{url}/slack/events"),
        TestClock::system().secs(),
        JSON,
        u.event.to_string().into_bytes(),
        &headers,
    )
    .send();
    let sent = flying(load, sent).await;
    let status = sent.as_ref().map(|r| r.status().as_u16()).ok();
    let mut ledger = load.ledger();
    if let Some(status) = status.filter(|s| *s != 200) {
        ledger
            .refused
            .push((status, u.event["event_id"].to_string()));
    }
    if status == Some(200) {
        ledger.replies += 1;
        if u.retries > 0 {
            ledger.redelivered += 1;
        }
    } else if u.retries < EVENT_RETRIES {
        ledger.unacked.push(Unacked {
            retries: u.retries + 1,
            ..u
        });
        return;
    }
    ledger.busy.remove(&u.answers.0);
    if status == Some(200) {
        let ack = Ack {
            kind: "reply",
            id: u.event["event_id"].as_str().unwrap().to_owned(),
            run: load.run.load(Ordering::SeqCst),
            delivery: u.retries + 1,
        };
        ledger.answered.entry(u.answers).or_default().push(ack);
    }
}

/// Awaits a request, counted in flight meanwhile.
async fn flying<T>(load: &Load, request: impl std::future::Future<Output = T>) -> T {
    load.ledger().in_flight += 1;
    let done = request.await;
    load.ledger().in_flight -= 1;
    done
}

/// Fails the test, saying where it was, once the whole test has run past its bound.
fn within_deadline(began: Instant, what: &str) {
    assert!(
        began.elapsed() < DEADLINE,
        "the crash test ran past its bound of {DEADLINE:?} ({what})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_was_acknowledged_survives_kills_under_load_and_each_message_arrives_once() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let stand_in = StandIn::start().await;
    let load = Arc::new(Load {
        stand_in: stand_in.clone(),
        ledger: Mutex::new(Ledger::default()),
        run: Default::default(),
    });
    // Each run's log, to show with a failure.
    let mut logs: Vec<String> = Vec::new();
    let mut rng = Rng(SEED);
    // How many calls the stand-in had when each run started: the calls of run k are those
    // from run_starts[k] to run_starts[k + 1].
    let mut run_starts: Vec<usize> = Vec::new();

    for run in 0..KILLS {
        within_deadline(began, &format!("before run {run}"));
        run_starts.push(stand_in.call_count());
        let mut serve = tokio::task::block_in_place(|| Serve::start(dir.path(), &stand_in));
        load.run.store(run, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let seed = rng.next();
                tokio::spawn(client(
                    load.clone(),
                    serve.url.clone(),
                    stop.clone(),
                    Rng(seed),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.below(KILL_WITHIN_MS + 1))).await;
        // No new requests from here: those in flight are what the kill cuts off. (A request
        // sent to the dead process would only use up a reply's redeliveries.)
        stop.store(true, Ordering::SeqCst);
        {
            let mut ledger = load.ledger();
            ledger.in_flight_at_kills += ledger.in_flight;
        }
        let (status, log) = tokio::task::block_in_place(|| serve.stop("-KILL"));
        assert_eq!(
            status.signal(),
            Some(9),
            "run {run}: the process ended before it was killed ({status}): {log}"
        );
        logs.push(log);
        // Requests in flight fail at once: the process is gone.
        for c in clients {
            c.await.unwrap();
        }
    }

    // Once more, without load: what is queued goes out; then a clean stop.
    within_deadline(began, "before the last run");
    run_starts.push(stand_in.call_count());
    let mut serve = tokio::task::block_in_place(|| Serve::start(dir.path(), &stand_in));
    let drain_began = Instant::now();
    let (mut seen, mut quiet_since) = (stand_in.call_count(), Instant::now());
    while quiet_since.elapsed() < Duration::from_secs(1) {
        assert!(
            drain_began.elapsed() < DRAIN_WITHIN,
            "the stand-in kept getting calls for {DRAIN_WITHIN:?} after the last start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = stand_in.call_count();
        if now != seen {
            (seen, quiet_since) = (now, Instant::now());
        }
    }
    let (status, log) = tokio::task::block_in_place(|| serve.stop("-TERM"));
    assert!(status.success(), "the last run did not stop cleanly: {log}");
    drop(serve);
    within_deadline(began, "after the last run");

    let ledger = load.ledger.lock().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let pack = common::shipped();
    let calls = stand_in.accepted();
    let summary = format!(
        "{KILLS} kills; acknowledged: {} starts, {} clicks, {} replies ({} of them \
         redeliveries); {} starts answered late; {} requests in flight at the kills; {} \
         calls accepted by the stand-in",
        ledger.starts.len(),
        ledger.clicks,
        ledger.replies,
        ledger.redelivered,
        ledger.late_starts,
        ledger.in_flight_at_kills,
        calls.len(),
    );
    eprintln!("{summary}");

    // The load did what it is for: every kind of request was acknowledged, and the bot
    // answered nothing but 200 while it lived.
    assert!(
        !ledger.starts.is_empty() && ledger.clicks > 0 && ledger.replies > 0,
        "{summary}"
    );
    assert_eq!(ledger.refused, Vec::<(u16, String)>::new(), "{summary}");

    // Nothing is left to send, and nothing was refused.
    assert_eq!(
        store.outbox_pending(Platform::Slack).unwrap(),
        Vec::new(),
        "the outbox still holds messages after the last run"
    );
    assert_eq!(store.outbox_dead_letters().unwrap(), Vec::new());

    // 1. Every acknowledged start: its conversation is stored, its parent names its user,
    //    and its first question was posted under that parent, with the conversation's thread.
    let stored = store
        .conversations_in_channel(
            Platform::Slack,
            &WorkspaceId::new(TEAM),
            &ChannelId::new(CHANNEL),
        )
        .unwrap();
    let mut by_starter: HashMap<&str, Vec<_>> = HashMap::new();
    for (key, c) in &stored {
        by_starter
            .entry(c.started_by.id.as_str())
            .or_default()
            .push((key, c));
    }
    let first_question = pack.questions[0].id.to_string();
    let mut missing_starts = Vec::new();
    for user in &ledger.starts {
        let Some([(key, _)]) = by_starter.get(user.as_str()).map(Vec::as_slice) else {
            missing_starts.push(format!(
                "{user}: {} conversations stored",
                by_starter.get(user.as_str()).map_or(0, Vec::len)
            ));
            continue;
        };
        let mention = format!("<@{user}>");
        let parents: Vec<&str> = calls
            .iter()
            .filter(|c| accepted_post(c) && c.body.get("thread_ts").is_none())
            .filter(|c| {
                c.body["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&mention)
            })
            .filter_map(|c| c.ts.as_deref())
            .collect();
        let asked = calls.iter().any(|c| {
            accepted_post(c)
                && c.body["thread_ts"]
                    .as_str()
                    .is_some_and(|ts| parents.contains(&ts))
                && question_of(c) == Some((key.thread.as_str().to_owned(), first_question.clone()))
        });
        if !asked {
            missing_starts.push(format!(
                "{user}: thread {}, parents posted at {parents:?}, first question not posted under one",
                key.thread.as_str()
            ));
        }
    }
    // 2. Every acknowledged click and reply: its question holds its thread's answer, by
    //    its thread's answerer.
    let by_thread: HashMap<&str, _> = stored
        .iter()
        .map(|(key, c)| (key.thread.as_str(), c))
        .collect();
    let mut missing_answers = Vec::new();
    for ((thread, question), acks) in &ledger.answered {
        let q = pack.question_index(question).unwrap();
        let conversation = by_thread.get(thread.as_str());
        let recorded = conversation.and_then(|c| c.answers[q].as_ref());
        let expected = (position(thread) - 1, answerer(thread));
        if recorded.map(|r| (r.choice, r.by.id.as_str().to_owned())) != Some(expected.clone()) {
            // What the runs logged about the requests that answered it.
            let logged: Vec<String> = logs
                .iter()
                .enumerate()
                .flat_map(|(run, log)| log.lines().map(move |l| format!("run {run}: {l}")))
                .filter(|l| acks.iter().any(|a| l.contains(&a.id)))
                .collect();
            let acks: Vec<String> = acks.iter().map(Ack::to_string).collect();
            missing_answers.push(format!(
                "thread {thread}, question {question}: expected choice {} by {}, stored \
                 {recorded:?}; acknowledged: {acks:?}; logged: {logged:#?}; the \
                 conversation: {conversation:?}",
                expected.0, expected.1
            ));
        }
    }

    // 3. Duplicates. A message is the same message when its method and its whole body are
    //    the same: every body names what makes it unique (a parent its starter, a question
    //    its thread in its block_ids, an update the ts it edits, a notice its thread and
    //    the person it is for, the card its thread), so two identical calls are one message
    //    sent twice. The outbox sends again only a message whose delivery was not recorded:
    //    one that Slack accepted in the instant before a kill. It sends one message at a
    //    time and records it before the next, so the copy sent first is the last call its
    //    process made, a killed one; and each kill leaves at most IN_FLIGHT messages so,
    //    each sent again once at the next start: at most KILLS x IN_FLIGHT repeats in all,
    //    and no message sent more than once per kill.
    let all = stand_in.calls();
    let mut copies: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in all.iter().enumerate() {
        if c.status == 200 && (c.ts.is_some() || c.method == "chat.postEphemeral") {
            copies
                .entry(format!("{} {}", c.method, c.body))
                .or_default()
                .push(i);
        }
    }
    let run_of = |call: usize| run_starts.partition_point(|s| *s <= call) - 1;
    let mut repeats = 0;
    let mut unexplained = Vec::new();
    for (message, at) in copies.iter().filter(|(_, at)| at.len() > 1) {
        repeats += at.len() - 1;
        if at.len() - 1 > KILLS {
            unexplained.push(format!("sent {} times: {message}", at.len()));
        }
        for pair in at.windows(2) {
            let run = run_of(pair[0]);
            let last_of_a_killed_run = run < KILLS && pair[0] + 1 == run_starts[run + 1];
            if !last_of_a_killed_run {
                unexplained.push(format!(
                    "calls {pair:?} (runs {run} and {}): {message}",
                    run_of(pair[1])
                ));
            }
        }
    }
    if repeats > KILLS * IN_FLIGHT {
        unexplained.push(format!("{repeats} repeats for {KILLS} kills"));
    }
    let notices = calls
        .iter()
        .filter(|c| c.method == "chat.postEphemeral")
        .count();
    eprintln!("{repeats} repeated deliveries; {notices} ephemeral notices");

    let failed: Vec<String> = [
        ("acknowledged starts missing", missing_starts),
        ("acknowledged answers missing", missing_answers),
        ("messages sent again, not after a kill in the instant before their delivery was recorded", unexplained),
    ]
    .into_iter()
    .filter(|(_, found)| !found.is_empty())
    .map(|(what, found)| format!("{what}: {found:#?}"))
    .collect();
    assert!(failed.is_empty(), "{}\n{summary}", failed.join("\n"));
}
