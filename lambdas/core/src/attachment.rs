//! A request's attachments: S3 objects the reviewers should look at, named in the request as
//! `attachments: [{bucket, key, name}]`. The record keeps only where they are; the review page
//! links to each through the review API (`<link id>/attachments/<n>`), which checks the link
//! and the approval and then redirects to a GET presigned at that moment ([`download`]): a URL
//! presigned with a role's temporary credentials stops working when they expire, whatever its
//! `X-Amz-Expires` ("Sharing objects with presigned URLs", S3 User Guide), so none is made
//! before the reviewer clicks.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a request's attachments are refused; `Display` is the one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentError {
    /// Malformed: the message names which attachment and field.
    Malformed(String),
    /// In a bucket the stack may not read.
    BucketNotAllowed {
        bucket: String,
        allowed: Vec<String>,
    },
}

impl fmt::Display for AttachmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(message) => f.write_str(message),
            Self::BucketNotAllowed { bucket, allowed } if allowed.is_empty() => write!(
                f,
                "request.attachments names bucket `{bucket}`, and this stack reads no attachments: list the bucket under attachment_buckets in hitl.yaml and deploy",
            ),
            Self::BucketNotAllowed { bucket, allowed } => write!(
                f,
                "request.attachments names bucket `{bucket}`, which is not one of attachment_buckets ({}): add it in hitl.yaml and deploy, or move the object",
                allowed.join(", "),
            ),
        }
    }
}

/// Most attachments one request may name.
pub const MAX_ATTACHMENTS: usize = 20;
/// S3's longest object key, in bytes of UTF-8.
const MAX_KEY_BYTES: usize = 1024;
/// Longest shown name, in characters.
const MAX_NAME_CHARS: usize = 200;
/// How long a download's presigned URL lives: long enough for the browser to follow the
/// redirect and start, short enough that a URL copied out of the address bar soon stops.
pub const DOWNLOAD_SECS: u64 = 300;

/// One S3 object the request points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub bucket: String,
    pub key: String,
    /// What the page and the messages call it: `name`, else the key's last segment.
    pub name: String,
}

/// `attachments` of a request (absent or null: none).
pub fn from_value(value: Option<&Value>) -> Result<Vec<Attachment>, AttachmentError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("must be a list of {bucket, key, name} objects")),
    };
    if items.len() > MAX_ATTACHMENTS {
        return Err(invalid(&format!(
            "names {} objects; the limit is {MAX_ATTACHMENTS}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| one(i, item))
        .collect()
}

fn one(index: usize, item: &Value) -> Result<Attachment, AttachmentError> {
    let at = |what: &str| AttachmentError::Malformed(format!("request.attachments[{index}]{what}"));
    let Value::Object(fields) = item else {
        return Err(at(" must be an object {bucket, key, name}"));
    };
    let text = |field: &str| match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(at(&format!(".{field} must be a string"))),
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !["bucket", "key", "name"].contains(&k.as_str()))
    {
        return Err(at(&format!(
            " has an unknown field {other:?}: use bucket, key and name"
        )));
    }
    let bucket = text("bucket")?.ok_or_else(|| at(".bucket is missing"))?;
    let key = text("key")?.ok_or_else(|| at(".key is missing"))?;
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(at(
            ".key has a `.` or `..` segment, which browsers rewrite before S3 sees \
                       the download: rename the object",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(at(&format!(
            ".key is {} bytes; S3 keys are at most {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    let name = match text("name")? {
        Some(name) => name.trim().to_owned(),
        None => key
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or(&key)
            .to_owned(),
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(at(&format!(
            ".name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(Attachment {
        bucket: bucket.trim().to_owned(),
        key,
        name,
    })
}

fn invalid(what: &str) -> AttachmentError {
    AttachmentError::Malformed(format!("request.attachments {what}"))
}

/// Refuses an attachment in a bucket the stack may not read (`attachment_buckets`): the
/// review function's role could not open it, so the reviewers would get a broken link.
pub fn check_buckets(
    attachments: &[Attachment],
    allowed: &[impl AsRef<str>],
) -> Result<(), AttachmentError> {
    match attachments
        .iter()
        .find(|a| !allowed.iter().any(|b| b.as_ref() == a.bucket))
    {
        None => Ok(()),
        Some(outside) => Err(AttachmentError::BucketNotAllowed {
            bucket: outside.bucket.clone(),
            allowed: allowed.iter().map(|b| b.as_ref().to_owned()).collect(),
        }),
    }
}

/// How long a download's URL presigned at `now` may live: [`DOWNLOAD_SECS`], and not past the
/// approval's expiry; `None` once it has expired (no URL is made).
pub fn link_lifetime_secs(expires_at: u64, now: u64) -> Option<u64> {
    let left = expires_at.checked_sub(now).filter(|left| *left > 0)?;
    Some(left.min(DOWNLOAD_SECS))
}

/// The page's link to attachment `index` of the approval link `link_id` opens: relative to the
/// page (`…/approvals/<link id>`), so it works under any stage or domain.
pub fn download_href(link_id: &str, index: usize) -> String {
    format!("{link_id}/attachments/{index}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments_are_read_with_names_from_their_keys() {
        let list = from_value(Some(&json!([
            {"bucket": "shop-data", "key": "reports/2025/q1.csv"},
            {"bucket": "shop-data", "key": "a.pdf", "name": " Quote "},
        ])))
        .expect("valid");
        assert_eq!(list[0].name, "q1.csv");
        assert_eq!(list[1].name, "Quote");
        assert_eq!(from_value(None).expect("none"), []);
    }

    #[test]
    fn each_mistake_names_the_attachment_and_field() {
        let cases = [
            (json!("x"), "request.attachments must be a list"),
            (json!([1]), "request.attachments[0] must be an object"),
            (
                json!([{"key": "k"}]),
                "request.attachments[0].bucket is missing",
            ),
            (
                json!([{"bucket": "b", "key": 3}]),
                "request.attachments[0].key must be a string",
            ),
            (
                json!([{"bucket": "b", "key": "k", "url": "x"}]),
                "unknown field \"url\"",
            ),
            (
                json!([{"bucket": "b", "key": "k".repeat(1025)}]),
                "S3 keys are at most 1024",
            ),
            (
                json!([{"bucket": "b", "key": "reports/../q1.csv"}]),
                "request.attachments[0].key has a `.` or `..` segment",
            ),
            (
                json!([{"bucket": "b", "key": "./q1.csv"}]),
                "request.attachments[0].key has a `.` or `..` segment",
            ),
        ];
        for (value, expected) in cases {
            let message = from_value(Some(&value)).expect_err("refused").to_string();
            assert!(message.contains(expected), "{message}");
        }
        let many = json!(
            (0..21)
                .map(|i| json!({"bucket": "b", "key": i.to_string()}))
                .collect::<Vec<_>>()
        );
        assert!(from_value(Some(&many)).is_err());
    }

    #[test]
    fn a_bucket_outside_the_allowed_ones_is_refused() {
        let list = from_value(Some(&json!([{"bucket": "other", "key": "k"}]))).expect("valid");
        let message = check_buckets(&list, &["shop-data"])
            .expect_err("outside")
            .to_string();
        assert!(
            message.contains("`other`") && message.contains("shop-data"),
            "{message}"
        );
        assert!(check_buckets(&list, &["other"]).is_ok());
        let none: [&str; 0] = [];
        assert!(check_buckets(&list, &none).is_err());
    }

    #[test]
    fn links_live_until_the_approval_expires_and_at_most_seven_days() {
        assert_eq!(link_lifetime_secs(1_000, 400), Some(DOWNLOAD_SECS));
        assert_eq!(link_lifetime_secs(1_000, 900), Some(100));
        assert_eq!(link_lifetime_secs(30 * 86_400, 0), Some(DOWNLOAD_SECS));
        assert_eq!(link_lifetime_secs(1_000, 1_000), None);
        assert_eq!(link_lifetime_secs(1_000, 2_000), None);
    }

    #[test]
    fn the_pages_link_is_relative_to_the_page() {
        assert_eq!(download_href("abc", 2), "abc/attachments/2");
    }
}
