//! The task token and the two identifiers derived from it.
//!
//! - [`ApprovalId`] `A` = the first 26 characters of lowercase base32 (RFC 4648, no padding) of
//!   SHA-256(task token): 130 bits, deterministic (a retried invocation finds its own record) and
//!   unguessable (the token is secret).
//! - [`LinkId`] `L` = the first 26 characters of lowercase base32 of
//!   SHA-256(`"link"` ‖ 0x00 ‖ token ‖ 0x00 ‖ reviewer); the NUL separators keep
//!   (token, reviewer) pairs from colliding by concatenation.
//!
//! Both are 26 characters of `[a-z2-7]`; anything else is not an id ([`LinkId::parse`]).

use std::fmt;

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of an approval or link id in characters (26 × 5 bits = 130 bits).
pub const ID_LEN: usize = 26;

/// The Step Functions task token. Secret: it lives in the approval record and goes to
/// `SendTaskSuccess`, nowhere else. `Debug` prints `TaskToken(<redacted>)`; there is no `Display`.
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

    /// The approval id `A` derived from this token.
    pub fn approval_id(&self) -> ApprovalId {
        ApprovalId(digest_id(&[self.0.as_bytes()]))
    }

    /// The link id `L` of `reviewer` (hashed exactly as given) for this token.
    pub fn link_id(&self, reviewer: &str) -> LinkId {
        LinkId(digest_id(&[
            b"link",
            &[0],
            self.0.as_bytes(),
            &[0],
            reviewer.as_bytes(),
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

/// The id `A` of an approval record (the table's key for it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApprovalId(String);

/// The id `L` in a reviewer's link `<base>/approvals/<L>`; its link item maps it to the
/// approval and the reviewer.
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

id_type!(ApprovalId, "an approval id");
id_type!(LinkId, "a link id");

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
    let digest = hasher.finalize();
    let mut encoded = [0u8; 52]; // BASE32_NOPAD.encode_len(32)
    BASE32_NOPAD.encode_mut(&digest, &mut encoded);
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

    #[test]
    fn approval_id_matches_an_independent_computation() {
        // Computed independently: base32(SHA-256("abc")) = "XJ4BNP4PAHH6UQKBIDPF3LRCEO…".
        let id = token("abc").approval_id();
        assert_eq!(id.as_str(), "xj4bnp4pahh6uqkbidpf3lrceo");
        assert_eq!(BASE32_NOPAD.encode_len(32), 52);
    }

    #[test]
    fn link_id_uses_nul_separators() {
        // Computed independently over b"link\0abc\0alice@example.com".
        let t = token("abc");
        assert_eq!(
            t.link_id("alice@example.com").as_str(),
            "et4ovgaq6p3da7aww63ozrnzpj"
        );
        // Without separators, ("ab", "c@x") and ("abc", "@x") would collide.
        assert_ne!(token("ab").link_id("c@x"), token("abc").link_id("@x"));
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
        let id = token("t").link_id("r@x.io");
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
        fn approval_id_is_26_base32_chars_and_deterministic(t in ".+") {
            prop_assume!(!t.trim().is_empty());
            let a = token(&t).approval_id();
            prop_assert!(is_base32_id(a.as_str()), "{}", a);
            prop_assert_eq!(&a, &token(&t).approval_id());
            prop_assert_eq!(ApprovalId::parse(a.as_str()), Some(a));
        }

        #[test]
        fn different_tokens_give_different_ids(a in "[ -~]{1,64}", b in "[ -~]{1,64}") {
            prop_assume!(a != b && !a.trim().is_empty() && !b.trim().is_empty());
            prop_assert_ne!(token(&a).approval_id(), token(&b).approval_id());
        }

        #[test]
        fn link_ids_differ_per_reviewer_and_from_the_approval_id(
            t in "[ -~]{1,64}",
            r1 in "[a-z0-9.]{1,20}@[a-z]{1,10}\\.[a-z]{2,4}",
            r2 in "[a-z0-9.]{1,20}@[a-z]{1,10}\\.[a-z]{2,4}",
        ) {
            prop_assume!(!t.trim().is_empty() && r1 != r2);
            let t = token(&t);
            let (l1, l2) = (t.link_id(&r1), t.link_id(&r2));
            prop_assert!(is_base32_id(l1.as_str()));
            prop_assert_ne!(&l1, &l2);
            let a = t.approval_id();
            prop_assert_ne!(l1.as_str(), a.as_str());
            prop_assert_ne!(l2.as_str(), a.as_str());
            prop_assert_eq!(LinkId::parse(l1.as_str()), Some(l1.clone()));
            prop_assert_eq!(&l1, &t.link_id(&r1));
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
        fn parse_rejects_uppercase_of_a_real_id(t in "[ -~]{1,32}", r in "[a-z]{1,8}@x\\.io") {
            prop_assume!(!t.trim().is_empty());
            let id = token(&t).link_id(&r);
            let upper = id.as_str().to_ascii_uppercase();
            prop_assume!(upper != id.as_str()); // all-digit ids are vanishingly rare
            prop_assert!(LinkId::parse(&upper).is_none());
        }
    }
}
