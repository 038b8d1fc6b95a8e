//! Request signing: Slack signs every HTTP request with the app's signing secret. A request
//! is accepted only when its signature matches and its timestamp is within five minutes of
//! `now`, which the caller passes in (so tests, and Slack's 2018 test vector, can use a
//! fixed time).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Slack's replay window, in seconds, either side of now.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no signature or timestamp header")]
    Missing,
    #[error("the timestamp is not a number")]
    BadTimestamp,
    #[error("the timestamp is more than five minutes from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks `signature` (`v0=<hex>`) over `v0:{timestamp}:{body}`, and the timestamp against
/// `now` (seconds since the epoch).
pub fn verify(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(VerifyError::Missing);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Mismatch)?;
    // An empty secret would accept anything signed with an empty key: never valid.
    if secret.is_empty() {
        return Err(VerifyError::Mismatch);
    }
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)
}

/// The `X-Slack-Signature` value for a body: what Slack sends, and what tests and the load
/// script sign with.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}
