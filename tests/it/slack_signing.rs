//! Request signing: Slack's official test vector, and the endpoints refusing forged, stale,
//! future, oversized and malformed requests without processing anything.

use crate::slack_support::*;
use tempfile::TempDir;
use tradeoff::core::ids::Platform;
use tradeoff::slack::verify::{sign, verify, VerifyError};

const VECTOR_TS: &str = "1531420618";
const VECTOR_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const VECTOR_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn check(sig: Option<&str>, ts: Option<&str>, body: &str, now: i64) -> Result<(), VerifyError> {
    verify(SECRET, sig, ts, body.as_bytes(), now)
}

#[test]
fn slacks_official_vector_passes_at_its_own_time() {
    let t: i64 = VECTOR_TS.parse().unwrap();
    assert_eq!(sign(SECRET, VECTOR_TS, VECTOR_BODY.as_bytes()), VECTOR_SIG);
    for now in [t, t + 10, t - 10, t + 300, t - 300] {
        assert_eq!(
            check(Some(VECTOR_SIG), Some(VECTOR_TS), VECTOR_BODY, now),
            Ok(())
        );
    }
}

#[test]
fn bad_missing_stale_and_future_signatures_are_refused() {
    let t: i64 = VECTOR_TS.parse().unwrap();
    let s = Some(VECTOR_SIG);
    let ts = Some(VECTOR_TS);
    assert_eq!(check(s, ts, VECTOR_BODY, t + 301), Err(VerifyError::Stale));
    assert_eq!(
        check(s, ts, VECTOR_BODY, t - 301),
        Err(VerifyError::Stale),
        "from the future"
    );
    assert_eq!(check(None, ts, VECTOR_BODY, t), Err(VerifyError::Missing));
    assert_eq!(check(s, None, VECTOR_BODY, t), Err(VerifyError::Missing));
    assert_eq!(
        check(s, Some("soon"), VECTOR_BODY, t),
        Err(VerifyError::BadTimestamp)
    );
    let tampered = VECTOR_BODY.replace("text=", "text=start");
    assert_eq!(check(s, ts, &tampered, t), Err(VerifyError::Mismatch));
    assert_eq!(
        check(Some("v0=zz"), ts, VECTOR_BODY, t),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        check(Some(&VECTOR_SIG[3..]), ts, VECTOR_BODY, t),
        Err(VerifyError::Mismatch)
    );
    // Signed for another time: the timestamp is part of what is signed.
    assert_eq!(
        check(s, Some("1531420619"), VECTOR_BODY, t),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify("another-secret", s, ts, VECTOR_BODY.as_bytes(), t),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify("", s, ts, VECTOR_BODY.as_bytes(), t),
        Err(VerifyError::Mismatch)
    );
}

async fn post(
    h: &Harness,
    path: &str,
    ts: Option<String>,
    sig: Option<String>,
    body: Vec<u8>,
) -> u16 {
    let mut req = h
        .http
        .post(format!("http://{}{path}", h.addr))
        .header("content-type", FORM)
        .body(body);
    if let Some(ts) = ts {
        req = req.header("x-slack-request-timestamp", ts);
    }
    if let Some(sig) = sig {
        req = req.header("x-slack-signature", sig);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_endpoints_refuse_what_is_not_signed_right_and_process_nothing() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let now = h.clock.secs();
    let body = form(&fixture("slash_command.json")).into_bytes();
    let good = |t: i64| {
        (
            Some(t.to_string()),
            Some(sign(SECRET, &t.to_string(), &body)),
        )
    };
    for path in ["/slack/commands", "/slack/interactions", "/slack/events"] {
        assert_eq!(
            post(&h, path, None, None, body.clone()).await,
            401,
            "{path} unsigned"
        );
        let (ts, _) = good(now);
        assert_eq!(post(&h, path, ts.clone(), None, body.clone()).await, 401);
        let wrong = Some(sign("not-the-secret", &now.to_string(), &body));
        assert_eq!(
            post(&h, path, ts, wrong, body.clone()).await,
            401,
            "{path} forged"
        );
        let (ts, sig) = good(now - 301);
        assert_eq!(
            post(&h, path, ts, sig, body.clone()).await,
            401,
            "{path} stale"
        );
        let (ts, sig) = good(now + 301);
        assert_eq!(
            post(&h, path, ts, sig, body.clone()).await,
            401,
            "{path} future"
        );
    }
    // The same request, signed right, is accepted: the refusals were about the signature.
    let (ts, sig) = good(now);
    assert_eq!(
        post(&h, "/slack/commands", ts, sig, body.clone()).await,
        200
    );
    h.deliver().await;
    assert_eq!(
        stand_in.calls().len(),
        2,
        "only the signed start did anything"
    );
    let open = h
        .app
        .store
        .conversations_in_channel(Platform::Slack, &"T0001".into(), &"C2147483705".into())
        .unwrap();
    assert_eq!(open.len(), 1);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_malformed_ones_400() {
    let stand_in = StandIn::start().await;
    let dir = TempDir::new().unwrap();
    let h = Harness::start(dir.path(), &stand_in, TestClock::new()).await;
    let huge = vec![b'a'; 1024 * 1024 + 1];
    for path in ["/slack/commands", "/slack/interactions", "/slack/events"] {
        let r = h.post_signed(path, FORM, huge.clone(), &[]).await;
        assert_eq!(r.status(), 413, "{path}");
    }
    let malformed: &[(&str, &[u8])] = &[
        ("/slack/commands", b"team_id=T1"),
        ("/slack/commands", b"\xff\xfe"),
        ("/slack/interactions", b"payload=%7Bnot json"),
        ("/slack/interactions", b"nothing=here"),
        (
            "/slack/interactions",
            b"payload=%7B%22type%22%3A%22block_actions%22%7D",
        ),
        ("/slack/events", b"{\"type\":\"event_callback\"}"),
        ("/slack/events", b"[1,2,3]"),
        ("/slack/events", b""),
    ];
    for (path, body) in malformed {
        let r = h.post_signed(path, FORM, body.to_vec(), &[]).await;
        assert_eq!(
            r.status(),
            400,
            "{path} {:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Signed clicks that lack what a click needs (its user, missing or null; a channel
    // anywhere): the sender's error, 400, with nothing stored or posted.
    let click = fixture("block_actions.json");
    let mut no_user = click.clone();
    no_user.as_object_mut().unwrap().remove("user");
    let mut null_user = click.clone();
    null_user["user"] = serde_json::Value::Null;
    let mut no_channel = click.clone();
    no_channel.as_object_mut().unwrap().remove("channel");
    no_channel["container"]
        .as_object_mut()
        .unwrap()
        .remove("channel_id");
    let mut long_user = click.clone();
    long_user["user"]["id"] = serde_json::json!("U".repeat(100_000));
    let mut odd_channel = click.clone();
    odd_channel["channel"]["id"] = serde_json::json!("C1/../x");
    for (what, payload) in [
        ("no user", no_user),
        ("a null user", null_user),
        ("no channel", no_channel),
        ("a 100,000-character user id", long_user),
        ("a channel id that is not an id", odd_channel),
    ] {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let r = h
            .post_signed("/slack/interactions", FORM, body.into_bytes(), &[])
            .await;
        assert_eq!(r.status(), 400, "a click with {what}");
    }
    // A command from an id that is not one: 400, before anything is posted or looked up.
    let long = "U".repeat(100_000);
    for (field, value) in [
        ("user_id", long.as_str()),
        ("team_id", "t1"),
        ("channel_id", "C 1"),
    ] {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("team_id", "T1"), ("channel_id", "C1"), ("user_id", "U1")] {
            form.append_pair(k, if k == field { value } else { v });
        }
        let body = form
            .append_pair("command", "/tradeoff")
            .append_pair("text", "poll")
            .finish();
        let r = h
            .post_signed("/slack/commands", FORM, body.into_bytes(), &[])
            .await;
        assert_eq!(r.status(), 400, "a command whose {field} is {:.20}", value);
    }
    assert!(stand_in.calls().is_empty());
}
