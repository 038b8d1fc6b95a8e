//! Checks that a request to the interactions endpoint comes from Discord: an Ed25519
//! signature over `timestamp + body`, made at most five minutes from our clock. serenity's
//! verifier checks the signature only; the age check is ours, with the clock passed in.

use serenity::interactions_endpoint::Verifier;

/// How far the signed timestamp may be from our clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

#[derive(Clone)]
pub struct RequestVerifier {
    inner: Verifier,
}

impl std::fmt::Debug for RequestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestVerifier").finish_non_exhaustive()
    }
}

/// Why a request was refused; all of them answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("missing signature headers")]
    Missing,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is more than {MAX_SKEW_SECONDS} s from now")]
    Stale,
}

impl RequestVerifier {
    /// `key` is the application's Ed25519 public key; [`super::config`] has checked it.
    pub fn new(key: [u8; 32]) -> Option<Self> {
        Verifier::try_new(key)
            .ok()
            .map(|inner| RequestVerifier { inner })
    }

    /// `now` in seconds since the epoch.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Rejected> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(Rejected::Missing);
        };
        self.inner
            .verify(signature, timestamp, body)
            .map_err(|()| Rejected::BadSignature)?;
        let at: i64 = timestamp.parse().map_err(|_| Rejected::BadTimestamp)?;
        if (now - at).abs() > MAX_SKEW_SECONDS {
            return Err(Rejected::Stale);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, test 1, and the signature of `1700000000{"type":1}` (platform facts).
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const SIGNATURE: &str = "1695961a47c91a1ec033b819b7e87e3dbc583dd0cee6d1fd0216f58ac87b6228ae531ddbf91fb7bc28d7edf7f08604da16f54624f38a6bc0614e4dc13cd47f0f";

    fn verifier() -> RequestVerifier {
        let key: [u8; 32] = hex::decode(PUBLIC).unwrap().try_into().unwrap();
        RequestVerifier::new(key).unwrap()
    }

    #[test]
    fn the_published_vector_passes_within_the_window_only() {
        let v = verifier();
        let body = br#"{"type":1}"#;
        let sig = Some(SIGNATURE);
        let ts = Some("1700000000");
        assert_eq!(v.verify(sig, ts, body, 1_700_000_000 + 299), Ok(()));
        assert_eq!(v.verify(sig, ts, body, 1_700_000_000 - 299), Ok(()));
        assert_eq!(
            v.verify(sig, ts, body, 1_700_000_000 + 301),
            Err(Rejected::Stale)
        );
    }

    #[test]
    fn any_change_is_refused() {
        let v = verifier();
        let now = 1_700_000_000;
        assert_eq!(
            v.verify(Some(SIGNATURE), Some("1700000000"), br#"{"type":2}"#, now),
            Err(Rejected::BadSignature)
        );
        assert_eq!(
            v.verify(Some(SIGNATURE), Some("1700000001"), br#"{"type":1}"#, now),
            Err(Rejected::BadSignature)
        );
        assert_eq!(
            v.verify(Some("00"), Some("1700000000"), br#"{"type":1}"#, now),
            Err(Rejected::BadSignature)
        );
        assert_eq!(
            v.verify(None, Some("1700000000"), br#"{"type":1}"#, now),
            Err(Rejected::Missing)
        );
    }
}
