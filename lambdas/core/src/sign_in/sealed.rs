//! Values the review function hands the browser and reads back unchanged: the sign-in in
//! progress and the session. Each is its JSON in base64url, a dot, and an HMAC-SHA256 over the
//! cookie's name and that text with the stack's key (the name is signed, so that one cookie
//! cannot stand in for another). Readable by the browser, never forgeable; nothing secret goes
//! in one beyond what the browser itself already holds.

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Sha256;

/// `value` sealed under `key` for the cookie `name`.
pub fn seal(key: &[u8], name: &str, value: &impl Serialize) -> String {
    let text = BASE64URL_NOPAD.encode(&serde_json::to_vec(value).unwrap_or_default());
    let tag = mac(key, name, &text).finalize().into_bytes();
    format!("{text}.{}", BASE64URL_NOPAD.encode(&tag))
}

/// The value `sealed` holds, if `key` sealed it for the cookie `name` (checked in constant
/// time); `None` for anything else.
pub fn open<T: DeserializeOwned>(key: &[u8], name: &str, sealed: &str) -> Option<T> {
    let (text, tag) = sealed.split_once('.')?;
    let tag = BASE64URL_NOPAD.decode(tag.as_bytes()).ok()?;
    mac(key, name, text).verify_slice(&tag).ok()?;
    serde_json::from_slice(&BASE64URL_NOPAD.decode(text.as_bytes()).ok()?).ok()
}

fn mac(key: &[u8], name: &str, text: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(name.as_bytes());
    mac.update(b"=");
    mac.update(text.as_bytes());
    mac
}

/// The value of the cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_name() {
        let sealed = seal(KEY, "__Secure-hitl-session", &("ana@example.com", 42));
        let opened: Option<(String, u64)> = open(KEY, "__Secure-hitl-session", &sealed);
        assert_eq!(opened, Some(("ana@example.com".into(), 42)));
        let other_key = b"another key, another stack......";
        assert_eq!(
            open::<(String, u64)>(other_key, "__Secure-hitl-session", &sealed),
            None
        );
        assert_eq!(
            open::<(String, u64)>(KEY, "__Secure-hitl-sign-in", &sealed),
            None
        );
    }

    #[test]
    fn a_changed_value_or_tag_does_not_open() {
        let sealed = seal(KEY, "c", &"ana@example.com");
        let forged = seal(KEY, "c", &"mallory@example.com");
        let (text, _) = forged.split_once('.').unwrap();
        let (_, tag) = sealed.split_once('.').unwrap();
        assert_eq!(open::<String>(KEY, "c", &format!("{text}.{tag}")), None);
        let cut = &sealed[..sealed.len() - 2];
        assert_eq!(open::<String>(KEY, "c", cut), None);
        for junk in ["", ".", "x", "x.y", "..."] {
            assert_eq!(open::<String>(KEY, "c", junk), None, "{junk}");
        }
    }

    #[test]
    fn a_cookie_is_found_by_its_exact_name() {
        let header = "a=1; __Secure-hitl-session=v.t; x__Secure-hitl-session=no";
        assert_eq!(cookie(header, "__Secure-hitl-session"), Some("v.t"));
        assert_eq!(cookie(header, "b"), None);
        assert_eq!(cookie("", "a"), None);
    }
}
