//! Requests from Slack, verified as Slack documents it ("Verifying requests from Slack",
//! <https://docs.slack.dev/authentication/verifying-requests-from-slack>): the header
//! `X-Slack-Signature` is `v0=` and the hex HMAC-SHA256, keyed with the app's signing secret,
//! of `v0:{X-Slack-Request-Timestamp}:{the raw body}`; it is compared in constant time, and a
//! timestamp more than five minutes from now is refused, so that a captured request cannot be
//! replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, either way (Slack's own five minutes).
pub const MAX_SKEW_SECS: u64 = 5 * 60;

/// Why a request is refused (each answered 401, and nothing recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No timestamp or no signature header.
    Unsigned,
    /// A timestamp that is no Unix time, or a signature that is not `v0=` and 64 hex digits.
    Malformed,
    /// A timestamp more than [`MAX_SKEW_SECS`] from now.
    Stale,
    /// A signature that is not the body's under the signing secret: forged, or altered.
    Forged,
}

/// Verifies a request: `timestamp` and `signature` as their headers gave them, `body` the raw
/// bytes as received (before any form decoding), at Unix time `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refusal::Unsigned);
    };
    let sent_at: u64 = timestamp.parse().map_err(|_| Refusal::Malformed)?;
    let hex = signature
        .strip_prefix("v0=")
        .filter(|hex| hex.len() == 64)
        .ok_or(Refusal::Malformed)?;
    let mut digest = [0u8; 32];
    data_encoding::HEXLOWER_PERMISSIVE
        .decode_mut(hex.as_bytes(), &mut digest)
        .map_err(|_| Refusal::Malformed)?;
    if sent_at.abs_diff(now) > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&digest)
        .map_err(|_| Refusal::Forged)
}

/// The `X-Slack-Signature` Slack sends with `body` at `timestamp` (the local stand-in signs
/// with it, as Slack does).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let mut hex = [0u8; 64];
    data_encoding::HEXLOWER.encode_mut(&digest, &mut hex);
    format!("v0={}", String::from_utf8_lossy(&hex))
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    // The worked example of Slack's "Verifying requests from Slack".
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: u64 = 1_531_420_618 + 60;

    fn check(timestamp: Option<&str>, signature: Option<&str>, body: &[u8]) -> Result<(), Refusal> {
        verify(SECRET, timestamp, signature, body, NOW)
    }

    #[test]
    fn slacks_worked_example_is_signed_and_verified_as_documented() {
        assert_eq!(sign(SECRET, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(check(Some(TIMESTAMP), Some(SIGNATURE), BODY), Ok(()));
        // Hex in capitals is the same digest.
        let upper = format!("v0={}", SIGNATURE[3..].to_uppercase());
        assert_eq!(check(Some(TIMESTAMP), Some(&upper), BODY), Ok(()));
    }

    #[test]
    fn unsigned_malformed_stale_forged_and_altered_requests_are_refused() {
        assert_eq!(check(None, Some(SIGNATURE), BODY), Err(Refusal::Unsigned));
        assert_eq!(check(Some(TIMESTAMP), None, BODY), Err(Refusal::Unsigned));
        for bad in ["", "v1=00", &SIGNATURE[3..], &SIGNATURE[..66], "v0=zz"] {
            assert_eq!(
                check(Some(TIMESTAMP), Some(bad), BODY),
                Err(Refusal::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            check(Some("soon"), Some(SIGNATURE), BODY),
            Err(Refusal::Malformed)
        );
        // Five minutes either way, and no further.
        let at = |now| verify(SECRET, Some(TIMESTAMP), Some(SIGNATURE), BODY, now);
        assert_eq!(at(1_531_420_618 + MAX_SKEW_SECS), Ok(()));
        assert_eq!(at(1_531_420_618 - MAX_SKEW_SECS), Ok(()));
        assert_eq!(at(1_531_420_618 + MAX_SKEW_SECS + 1), Err(Refusal::Stale));
        assert_eq!(at(1_531_420_618 - MAX_SKEW_SECS - 1), Err(Refusal::Stale));
        // Another secret, another timestamp, one byte of the body changed.
        let other = verify(
            b"another secret",
            Some(TIMESTAMP),
            Some(SIGNATURE),
            BODY,
            NOW,
        );
        assert_eq!(other, Err(Refusal::Forged));
        assert_eq!(
            check(Some("1531420619"), Some(SIGNATURE), BODY),
            Err(Refusal::Forged)
        );
        let mut altered = BODY.to_vec();
        altered[6] ^= 1;
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), &altered),
            Err(Refusal::Forged)
        );
    }

    proptest! {
        #[test]
        fn what_is_signed_verifies_and_any_change_is_forged(
            secret in proptest::collection::vec(any::<u8>(), 1..64),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<prop::sample::Index>(),
        ) {
            let signature = sign(&secret, TIMESTAMP, &body);
            prop_assert_eq!(verify(&secret, Some(TIMESTAMP), Some(&signature), &body, NOW), Ok(()));
            if !body.is_empty() {
                let mut altered = body.clone();
                altered[flip.index(body.len())] ^= 0x20;
                let checked = verify(&secret, Some(TIMESTAMP), Some(&signature), &altered, NOW);
                prop_assert_eq!(checked, Err(Refusal::Forged));
            }
        }
    }
}
