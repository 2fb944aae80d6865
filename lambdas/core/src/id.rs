//! The task token and the two identifiers of the table.
//!
//! - [`ApprovalId`] `A` = the first 26 characters of lowercase base32 (RFC 4648, no padding) of
//!   SHA-256(`"approval"` ‖ 0 ‖ execution ‖ 0 ‖ state name ‖ 0 ‖ state entered time ‖ 0 ‖ item
//!   key), the [`ApprovalKey`]: the same for every attempt of one entry of the approval state
//!   (a `Retry` brings a new task token, not a new entry), so a retried invocation finds its own
//!   record. It is *not* secret (the execution history shows all of it) and opens nothing: the
//!   review function looks up link ids only.
//! - [`LinkId`] `L` = 130 random bits from the operating system's generator, made when a link is
//!   sent and kept nowhere: the table holds its [`LinkKey`], the first 26 base32 characters of
//!   SHA-256(`"link"` ‖ 0 ‖ L), which the review function computes from the URL. So nothing
//!   anyone can read derives a link: not the task token (which Step Functions keeps in the
//!   execution history, where anyone allowed `states:GetExecutionHistory` reads it), not the
//!   reviewers' addresses (in the template), not the table (which `ReadOnlyAccess` reads).
//!
//! Both are 26 characters of `[a-z2-7]`; anything else is not an id ([`LinkId::parse`]).

use std::fmt;

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of an approval or link id in characters (26 × 5 bits = 130 bits).
pub const ID_LEN: usize = 26;

/// The Step Functions task token. It decides the task, so the kit keeps it out of everything it
/// writes (messages, pages, logs): it lives in the approval record and goes to
/// `SendTaskSuccess`. Step Functions itself shows it in the execution history (the task's
/// parameters), which is why no link id is derived from it. `Debug` prints
/// `TaskToken(<redacted>)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskToken(String);

impl TaskToken {
    /// A token; `None` when it is empty or only whitespace.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (!token.trim().is_empty()).then_some(Self(token))
    }

    /// The token itself, for `SendTaskSuccess` and the table only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where an approval was asked for: the execution, the approval state's name and the time it
/// was entered (from the context object: `$$.Execution.Id`, `$$.State.Name`,
/// `$$.State.EnteredTime`), and an optional item key for a state that asks several approvals at
/// once from one entry (inside a `Map`: `$$.Map.Item.Index`). Every attempt of the task has the
/// same key; each attempt has its own task token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalKey {
    pub execution_arn: String,
    pub state_name: String,
    pub entered_time: String,
    pub item: Option<String>,
}

impl ApprovalKey {
    /// The approval id `A` of this key.
    pub fn approval_id(&self) -> ApprovalId {
        ApprovalId(digest_id(&[
            b"approval",
            &[0],
            self.execution_arn.as_bytes(),
            &[0],
            self.state_name.as_bytes(),
            &[0],
            self.entered_time.as_bytes(),
            &[0],
            self.item.as_deref().unwrap_or("").as_bytes(),
        ]))
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl TryFrom<String> for TaskToken {
    type Error = &'static str;

    fn try_from(token: String) -> Result<Self, Self::Error> {
        Self::new(token).ok_or("empty task token")
    }
}

impl From<TaskToken> for String {
    fn from(token: TaskToken) -> Self {
        token.0
    }
}

/// The key of a link item: a digest of the link id, so that reading the table gives no link.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkKey(String);

/// The id `A` of an approval record (the table's key for it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApprovalId(String);

/// The id `L` in a reviewer's link `<base>/approvals/<L>`. Never stored: its link item, keyed
/// by [`LinkId::key`], maps it to the approval and the reviewer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkId(String);

macro_rules! id_type {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// The id from its text form: exactly 26 characters of `[a-z2-7]`, else `None`
            /// (so every malformed id gets the same answer as an unknown one).
            pub fn parse(text: &str) -> Option<Self> {
                is_id(text).then(|| Self(text.to_owned()))
            }

            /// The 26-character text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = &'static str;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                if is_id(&text) {
                    Ok(Self(text))
                } else {
                    Err(concat!(
                        "not ",
                        $what,
                        ": expected 26 characters of a-z and 2-7"
                    ))
                }
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> Self {
                id.0
            }
        }
    };
}

/// Fills `bytes` from the operating system's random number generator.
///
/// # Panics
///
/// When the operating system has no randomness to give (no `getrandom(2)`, no
/// `/dev/urandom`): what this makes (link ids, sign-in secrets and keys) must never be
/// guessable, so there is no fallback.
pub fn os_random(bytes: &mut [u8]) {
    getrandom::getrandom(bytes).expect("the operating system's random number generator");
}

id_type!(ApprovalId, "an approval id");
id_type!(LinkId, "a link id");
id_type!(LinkKey, "a link key");

impl LinkId {
    /// A new link id: 130 bits from the operating system's random number generator.
    ///
    /// # Panics
    ///
    /// When the operating system has no randomness to give (no `getrandom(2)`, no
    /// `/dev/urandom`): a link must never be guessable, so there is no fallback.
    pub fn random() -> Self {
        let mut bytes = [0u8; 17]; // 136 bits, of which the first 26 base32 digits keep 130
        os_random(&mut bytes);
        Self(encode_id(&bytes))
    }

    /// The key of this link's item in the table.
    pub fn key(&self) -> LinkKey {
        LinkKey(digest_id(&[b"link", &[0], self.0.as_bytes()]))
    }
}

/// True for exactly [`ID_LEN`] characters of the lowercase base32 alphabet `[a-z2-7]`.
fn is_id(text: &str) -> bool {
    text.len() == ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// First [`ID_LEN`] characters of lowercase unpadded base32 of SHA-256 over `parts`.
fn digest_id(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    encode_id(&hasher.finalize())
}

/// First [`ID_LEN`] characters of lowercase unpadded base32 of `bytes` (17 to 32 of them).
fn encode_id(bytes: &[u8]) -> String {
    let mut encoded = [0u8; 52]; // BASE32_NOPAD.encode_len(32)
    let encoded = &mut encoded[..BASE32_NOPAD.encode_len(bytes.len())];
    BASE32_NOPAD.encode_mut(bytes, encoded);
    encoded[..ID_LEN]
        .iter()
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token(text: &str) -> TaskToken {
        TaskToken::new(text).expect("non-empty token")
    }

    fn key(execution: &str, state: &str, entered: &str, item: Option<&str>) -> ApprovalKey {
        ApprovalKey {
            execution_arn: execution.into(),
            state_name: state.into(),
            entered_time: entered.into(),
            item: item.map(Into::into),
        }
    }

    #[test]
    fn approval_id_matches_an_independent_computation() {
        // python3 -c 'import base64,hashlib; print(base64.b32encode(hashlib.sha256(
        //   b"approval\0arn:x\0RequestApproval\02026-12-02T10:00:00.000Z\0").digest())[:26].lower())'
        let id = key("arn:x", "RequestApproval", "2026-12-02T10:00:00.000Z", None).approval_id();
        assert_eq!(id.as_str(), "5srfrwzmfn7kdyjhuedyehzk3t");
        assert_eq!(BASE32_NOPAD.encode_len(32), 52);
        assert_eq!(BASE32_NOPAD.encode_len(17), 28);
    }

    #[test]
    fn approval_ids_use_nul_separators_and_every_part() {
        let base = key("arn:x", "S", "t1", None).approval_id();
        // Without separators, ("arn:x", "S1") and ("arn:xS", "1") would collide.
        assert_ne!(
            key("arn:x", "S1", "t", None).approval_id(),
            key("arn:xS", "1", "t", None).approval_id()
        );
        for other in [
            key("arn:y", "S", "t1", None),
            key("arn:x", "T", "t1", None),
            key("arn:x", "S", "t2", None),
            key("arn:x", "S", "t1", Some("0")),
        ] {
            assert_ne!(other.approval_id(), base, "{other:?}");
        }
        // An empty item key is no item key.
        assert_eq!(key("arn:x", "S", "t1", Some("")).approval_id(), base);
    }

    #[test]
    fn a_link_key_is_the_digest_of_its_link_id() {
        // python3 -c 'import base64,hashlib; print(base64.b32encode(hashlib.sha256(
        //   b"link\0abcdefghijklmnopqrstuvwxyz").digest())[:26].lower())'
        let link = LinkId::parse("abcdefghijklmnopqrstuvwxyz").expect("an id");
        assert_eq!(link.key().as_str(), "4pesa2xozqdmfnpgnuidpkbm3d");
        assert_ne!(link.key().as_str(), link.as_str());
        // A key used as a link id opens nothing: its own key is another.
        assert_ne!(
            LinkId::parse(link.key().as_str()).expect("an id").key(),
            link.key()
        );
    }

    #[test]
    fn random_link_ids_are_ids_and_differ() {
        let ids: std::collections::HashSet<LinkId> = (0..1000).map(|_| LinkId::random()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert!(is_base32_id(id.as_str()), "{id}");
            assert_eq!(LinkId::parse(id.as_str()).as_ref(), Some(id));
        }
        // Every one of the 26 positions takes many values: the bits are not constant anywhere.
        for position in 0..ID_LEN {
            let seen: std::collections::HashSet<u8> = ids
                .iter()
                .map(|id| id.as_str().as_bytes()[position])
                .collect();
            assert!(seen.len() > 20, "position {position}: only {seen:?}");
        }
    }

    #[test]
    fn token_debug_is_redacted_and_empty_tokens_are_refused() {
        let t = token("AAAAKgAAAAIAAAAAAAAAAdistinctive-secret");
        assert_eq!(format!("{t:?}"), "TaskToken(<redacted>)");
        assert_eq!(format!("{:?}", Some(&t)), "Some(TaskToken(<redacted>))");
        assert!(TaskToken::new("").is_none());
        assert!(TaskToken::new("  \n").is_none());
        assert!(serde_json::from_str::<TaskToken>("\"\"").is_err());
        assert_eq!(t.expose(), "AAAAKgAAAAIAAAAAAAAAAdistinctive-secret");
    }

    #[test]
    fn ids_round_trip_through_serde_and_refuse_bad_text() {
        let id = LinkId::random();
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<LinkId>(&json).expect("parses"), id);
        assert!(serde_json::from_str::<LinkId>("\"short\"").is_err());
        assert!(serde_json::from_str::<ApprovalId>("\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"").is_err());
    }

    #[test]
    fn parse_examples() {
        assert!(LinkId::parse("abcdefghijklmnopqrstuvwxyz").is_some());
        assert!(LinkId::parse("22222222222222222222222222").is_some());
        assert!(LinkId::parse("77777777777777777777777777").is_some());
        for bad in [
            "",
            "abcdefghijklmnopqrstuvwxy",   // 25
            "abcdefghijklmnopqrstuvwxyza", // 27
            "Abcdefghijklmnopqrstuvwxyz",  // uppercase
            "abcdefghijklmnopqrstuvwxy1",  // 1 is not base32
            "abcdefghijklmnopqrstuvwxy8",  // 8 neither
            "abcdefghijklmnopqrstuvwxy0",
            "abcdefghijklmnopqrstuvwxy=",
            "abcdefghijklmnopqrstuvwxy/",
            "abcdefghijklmnopqrstuvwxyé",     // 26 chars but 27 bytes
            "abcdefghijklmnopqrstuvwx\u{e9}", // 25 chars, 26 bytes
            " abcdefghijklmnopqrstuvwxy",
        ] {
            assert!(LinkId::parse(bad).is_none(), "{bad:?} parsed");
            assert!(ApprovalId::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    fn is_base32_id(text: &str) -> bool {
        text.chars().count() == 26
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
    }

    proptest! {
        #[test]
        fn approval_id_is_26_base32_chars_and_deterministic(
            execution in ".+", state in ".+", entered in ".+", item in proptest::option::of(".*"),
        ) {
            let k = key(&execution, &state, &entered, item.as_deref());
            let a = k.approval_id();
            prop_assert!(is_base32_id(a.as_str()), "{}", a);
            prop_assert_eq!(&a, &k.clone().approval_id());
            prop_assert_eq!(ApprovalId::parse(a.as_str()), Some(a));
        }

        #[test]
        fn different_entries_give_different_ids(a in "[ -~]{1,64}", b in "[ -~]{1,64}") {
            prop_assume!(a != b);
            prop_assert_ne!(
                key("arn:x", "S", &a, None).approval_id(),
                key("arn:x", "S", &b, None).approval_id()
            );
        }

        #[test]
        fn parse_accepts_exactly_26_base32_chars(text in "[a-z2-7]{26}") {
            prop_assert_eq!(LinkId::parse(&text).map(String::from), Some(text));
        }

        #[test]
        fn parse_rejects_other_lengths(text in "[a-z2-7]{0,60}") {
            prop_assume!(text.len() != 26);
            prop_assert!(LinkId::parse(&text).is_none());
        }

        #[test]
        fn parse_rejects_any_char_outside_the_alphabet(
            prefix in "[a-z2-7]{0,25}",
            bad in "[^a-z2-7]",
        ) {
            let mut text = prefix;
            text.push_str(&bad);
            // Pad back to 26 characters (or more bytes, for multi-byte `bad`).
            while text.chars().count() < 26 {
                text.push('a');
            }
            prop_assert!(LinkId::parse(&text).is_none(), "{:?}", text);
        }

        #[test]
        fn parse_rejects_uppercase_of_a_real_id(_round in 0u8..32) {
            let id = LinkId::random();
            let upper = id.as_str().to_ascii_uppercase();
            prop_assume!(upper != id.as_str()); // all-digit ids are vanishingly rare
            prop_assert!(LinkId::parse(&upper).is_none());
        }
    }
}
