//! The business request a workflow asks to approve, and the invocation that carries it.
//!
//! The `request` function is invoked with `{taskToken, executionArn, request}`. `request` is a
//! JSON object with a `title` (at most 200 characters) and a `requester` (an email address), an
//! optional `summary` (string), an optional `amount` (number) with an optional `currency`
//! (string); every other field is kept as `details`, in the request's order, and shown as is
//! (amounts as money, see [`crate::money`]). Its JSON form is at most
//! 32 KiB. A bad request fails the task at once with a [`RequestError`], whose `Display` is a
//! one-line message meant for the workflow's author.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::attachment::{self, Attachment, AttachmentError};
use crate::id::{ApprovalKey, TaskToken};
use crate::money;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest request, in bytes of compact JSON.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024;
/// Longest email address (RFC 5321 path limit), in characters.
const MAX_EMAIL_CHARS: usize = 254;

/// The workflow's first check, before any function runs: the input has a string `title` and a
/// string `requester` (the state machine's `Validate` choice). The error name and cause of the
/// input that fails it, as its `InvalidRequest` state gives them; the durable workflow gives the
/// same.
pub const INVALID_INPUT: (&str, &str) = (
    "InvalidRequest",
    "The workflow input needs a string `title` and a string `requester`.",
);

/// Whether `input` passes the workflow's first check ([`INVALID_INPUT`]).
pub fn has_title_and_requester(input: &Value) -> bool {
    ["title", "requester"]
        .iter()
        .all(|field| input.get(field).is_some_and(Value::is_string))
}

/// Why a request (or the event around it) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The invocation event is not a JSON object.
    EventNotAnObject,
    /// `taskToken`, `executionArn`, `stateName` or `stateEnteredTime` is missing, empty or not
    /// a string (or `approvalKey` is neither a string nor a number).
    MissingEventField(&'static str),
    /// `request` is missing or not a JSON object.
    NotAnObject,
    /// The request's compact JSON is over [`MAX_REQUEST_BYTES`].
    TooLarge { bytes: usize },
    /// A required string field (`title`, `requester`) is missing or blank.
    Missing(&'static str),
    /// A field that must be a string is something else.
    NotAString(&'static str),
    /// A field that must be a number is something else.
    NotANumber(&'static str),
    /// The title is over [`MAX_TITLE_CHARS`] characters.
    TitleTooLong { chars: usize },
    /// The requester is not an email address (the value, shortened).
    NotAnEmail(String),
    /// `currency` without `amount`.
    CurrencyWithoutAmount,
    /// No configured reviewer other than the requester: nobody could decide.
    NoReviewer,
    /// An attachment is malformed, or in a bucket the stack may not read.
    Attachment(AttachmentError),
    /// The quorum needs more reviewers than there are once the requester is left out.
    QuorumUnreachable { quorum: u32, reviewers: usize },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EventNotAnObject => f.write_str(
                "the event must be a JSON object {taskToken, executionArn, stateName, stateEnteredTime, retryCount, request}: invoke the function with lambda:invoke.waitForTaskToken",
            ),
            Self::MissingEventField("retryCount") => f.write_str(
                "the event's retryCount must be a whole number: pass retryCount: $$.State.RetryCount",
            ),
            Self::MissingEventField("approvalKey") => f.write_str(
                "the event's approvalKey must be a string or a number (inside a Map: $$.Map.Item.Index)",
            ),
            Self::MissingEventField(field) => write!(
                f,
                "the event has no {field}: pass taskToken: $$.Task.Token, executionArn: $$.Execution.Id, stateName: $$.State.Name and stateEnteredTime: $$.State.EnteredTime with lambda:invoke.waitForTaskToken",
            ),
            Self::NotAnObject => f.write_str(
                "request must be a JSON object with at least a title and a requester",
            ),
            Self::TooLarge { bytes } => write!(
                f,
                "request is {bytes} bytes of JSON; the limit is {MAX_REQUEST_BYTES} bytes (32 KiB): pass a reference to large data instead",
            ),
            Self::Missing("title") => f.write_str(
                "request.title is missing or empty: give the approval a short title (a string)",
            ),
            Self::Missing("requester") => f.write_str(
                "request.requester is missing or empty: give the requester's email address (a string)",
            ),
            Self::Missing(field) => write!(f, "request.{field} is missing or empty"),
            Self::NotAString(field) => write!(f, "request.{field} must be a string"),
            Self::NotANumber(field) => write!(f, "request.{field} must be a number"),
            Self::TitleTooLong { chars } => write!(
                f,
                "request.title is {chars} characters long; the limit is {MAX_TITLE_CHARS}: put the rest in request.summary",
            ),
            Self::NotAnEmail(value) => write!(
                f,
                "request.requester {value:?} is not an email address (expected name@domain.tld)",
            ),
            Self::CurrencyWithoutAmount => {
                f.write_str("request.currency is given without request.amount")
            }
            Self::NoReviewer => f.write_str(
                "no reviewer can decide this request: every configured reviewer is the requester, or none is configured",
            ),
            Self::Attachment(error) => error.fmt(f),
            Self::QuorumUnreachable { quorum, reviewers } => write!(
                f,
                "this request needs {quorum} approvals but only {reviewers} reviewers may decide it (the requester may not): lower quorum or add reviewers",
            ),
        }
    }
}

impl std::error::Error for RequestError {}

/// A validated business request. Its JSON form (serde) is the flat object it came from, with
/// `title` and `requester` trimmed; deserializing validates again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct ApprovalRequest {
    pub title: String,
    pub requester: String,
    pub summary: Option<String>,
    pub amount: Option<Number>,
    pub currency: Option<String>,
    /// S3 objects for the reviewers to look at.
    pub attachments: Vec<Attachment>,
    /// Every other field of the request, shown as is, in the order the request gave them.
    pub details: Vec<(String, Value)>,
}

impl ApprovalRequest {
    /// Validates a request.
    pub fn from_value(value: &Value) -> Result<Self, RequestError> {
        let bytes = value.to_string().len();
        if bytes > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge { bytes });
        }
        let Value::Object(fields) = value else {
            return Err(RequestError::NotAnObject);
        };
        let title = required_string(fields, "title")?;
        let chars = title.chars().count();
        if chars > MAX_TITLE_CHARS {
            return Err(RequestError::TitleTooLong { chars });
        }
        let requester = required_string(fields, "requester")?;
        if !is_email(&requester) {
            return Err(RequestError::NotAnEmail(shorten(&requester, 64)));
        }
        let summary = optional_string(fields, "summary")?;
        let amount = match fields.get("amount") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.clone()),
            Some(_) => return Err(RequestError::NotANumber("amount")),
        };
        let currency = optional_string(fields, "currency")?;
        if currency.is_some() && amount.is_none() {
            return Err(RequestError::CurrencyWithoutAmount);
        }
        let attachments =
            attachment::from_value(fields.get("attachments")).map_err(RequestError::Attachment)?;
        let details = fields
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Self {
            title,
            requester,
            summary,
            amount,
            currency,
            attachments,
            details,
        })
    }

    /// `amount` and `currency` for display, as money: `1250.50 EUR` ([`money::amount_text`]).
    pub fn amount_text(&self) -> Option<String> {
        let amount = self.amount.as_ref()?;
        Some(money::amount_text(amount, self.currency.as_deref()))
    }

    /// The details as (key, text) pairs in the request's order: strings as they are, anything
    /// else as compact JSON with its objects' keys sorted (the table keeps no order inside a
    /// value, so the same value always reads the same).
    pub fn details_text(&self) -> impl Iterator<Item = (&str, String)> {
        self.details.iter().map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => sorted(other).to_string(),
            };
            (k.as_str(), text)
        })
    }

    /// The details' names, in order.
    pub fn detail_names(&self) -> Vec<String> {
        self.details.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Puts the details in the order of `names` (the order the request gave them, as stored
    /// beside it); a name it lacks goes last, by name. Without `names` (a record stored before
    /// the order was kept) they go by name, as they were shown then.
    pub fn order_details(&mut self, names: &[String]) {
        let rank = |key: &str| names.iter().position(|n| n == key).unwrap_or(names.len());
        self.details
            .sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    }

    /// Whether `self` and `other` are the same request once stored: numbers equal by value (the
    /// table gives `250.0` back as `250`), the details' order aside.
    pub fn same_request(&self, other: &ApprovalRequest) -> bool {
        let form = |r: &ApprovalRequest| stored_form(&Value::from(r.clone()));
        form(self) == form(other)
    }
}

/// `value` with every object's keys in sorted order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&fields[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// 2⁶⁴ and 2⁶³: the whole floats below them are integers of `u64` and `i64`.
const U64_END: f64 = 18_446_744_073_709_551_616.0;
const I64_END: f64 = 9_223_372_036_854_775_808.0;

/// `value` as the table gives it back: a number that is a whole number is an integer, objects
/// compare without order (serde_json's maps do).
fn stored_form(value: &Value) -> Value {
    match value {
        // A whole float is an integer (every whole f64 in range converts exactly).
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && (0.0..U64_END).contains(&f) => {
                Value::from(f as u64)
            }
            Some(f) if n.is_f64() && f.fract() == 0.0 && (-I64_END..0.0).contains(&f) => {
                Value::from(f as i64)
            }
            _ => Value::Number(n.clone()),
        },
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), stored_form(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stored_form).collect()),
        other => other.clone(),
    }
}

const KNOWN: [&str; 6] = [
    "title",
    "requester",
    "summary",
    "amount",
    "currency",
    "attachments",
];

impl TryFrom<Value> for ApprovalRequest {
    type Error = RequestError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(&value)
    }
}

/// The flat object: the known fields, then the details in order.
impl From<ApprovalRequest> for Value {
    fn from(request: ApprovalRequest) -> Self {
        let mut fields = Map::new();
        fields.insert("title".into(), request.title.into());
        fields.insert("requester".into(), request.requester.into());
        if let Some(summary) = request.summary {
            fields.insert("summary".into(), summary.into());
        }
        if let Some(amount) = request.amount {
            fields.insert("amount".into(), amount.into());
        }
        if let Some(currency) = request.currency {
            fields.insert("currency".into(), currency.into());
        }
        if !request.attachments.is_empty() {
            let list = serde_json::to_value(&request.attachments).unwrap_or(Value::Null);
            fields.insert("attachments".into(), list);
        }
        fields.extend(request.details);
        Value::Object(fields)
    }
}

/// The `request` function's input: `{taskToken, executionArn, stateName, stateEnteredTime,
/// request}`, and optionally `retryCount` (`$$.State.RetryCount`: a later attempt's token
/// replaces an earlier one's, never the other way) and `approvalKey` (a string telling apart
/// approvals asked for by one state entry, such as `$$.Map.Item.Index` inside a `Map`).
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub task_token: TaskToken,
    /// `retryCount` (`$$.State.RetryCount`): which attempt of the task this is; `None` when the
    /// workflow does not pass it.
    pub attempt: Option<u32>,
    pub key: ApprovalKey,
    pub request: ApprovalRequest,
}

impl Invocation {
    /// Reads and validates the event.
    pub fn from_event(event: &Value) -> Result<Self, RequestError> {
        let Value::Object(fields) = event else {
            return Err(RequestError::EventNotAnObject);
        };
        let text = |field: &'static str| {
            fields
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .ok_or(RequestError::MissingEventField(field))
        };
        let task_token = TaskToken::new(text("taskToken")?)
            .ok_or(RequestError::MissingEventField("taskToken"))?;
        let key = ApprovalKey {
            execution_arn: text("executionArn")?.to_owned(),
            state_name: text("stateName")?.to_owned(),
            entered_time: text("stateEnteredTime")?.to_owned(),
            item: match fields.get("approvalKey") {
                None | Some(Value::Null) => None,
                Some(Value::String(item)) => Some(item.clone()),
                Some(Value::Number(item)) => Some(item.to_string()),
                Some(_) => return Err(RequestError::MissingEventField("approvalKey")),
            },
        };
        let attempt = match fields.get("retryCount") {
            None | Some(Value::Null) => None,
            Some(count) => Some(
                count
                    .as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .ok_or(RequestError::MissingEventField("retryCount"))?,
            ),
        };
        let request = ApprovalRequest::from_value(fields.get("request").unwrap_or(&Value::Null))?;
        Ok(Self {
            task_token,
            attempt,
            key,
            request,
        })
    }
}

fn required_string(
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<String, RequestError> {
    optional_string(fields, field)?.ok_or(RequestError::Missing(field))
}

/// A trimmed string field; `None` when absent, null or blank.
fn optional_string(
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RequestError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(RequestError::NotAString(field)),
    }
}

/// An email-ish address: `local@domain.tld`, one `@`, no spaces, controls or address-list
/// punctuation, at most 254 characters. Not RFC 5322; enough to catch a name or a typo.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.chars().count() <= MAX_EMAIL_CHARS
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]{},;:\"\\".contains(c))
}

/// Two email addresses are the same person when equal ignoring case and surrounding spaces.
pub fn same_email(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// At most `max` characters of `text`, ending with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<ApprovalRequest, RequestError> {
        ApprovalRequest::from_value(&value)
    }

    fn message(value: Value) -> String {
        parse(value).expect_err("refused").to_string()
    }

    #[test]
    fn a_full_request_is_split_into_known_fields_and_details() {
        let r = parse(json!({
            "title": "  Buy a laptop ",
            "requester": "Ann@Example.com",
            "summary": "For the new hire",
            "amount": 1250.5,
            "currency": "EUR",
            "costCenter": "R&D",
            "items": [1, 2],
        }))
        .expect("valid");
        assert_eq!(r.title, "Buy a laptop");
        assert_eq!(r.requester, "Ann@Example.com");
        assert_eq!(r.summary.as_deref(), Some("For the new hire"));
        assert_eq!(r.amount_text().as_deref(), Some("1250.50 EUR"));
        let details: Vec<_> = r.details_text().collect();
        assert_eq!(
            details,
            [
                ("costCenter", "R&D".to_owned()),
                ("items", "[1,2]".to_owned())
            ]
        );
    }

    #[test]
    fn details_keep_the_requests_order() {
        let text = r#"{"title": "T", "requester": "a@b.co", "zeta": 1, "alpha": {"y": 2, "x": 1}, "mid": "m"}"#;
        let value: Value = serde_json::from_str(text).expect("JSON");
        let r = parse(value).expect("valid");
        let details: Vec<_> = r.details_text().collect();
        assert_eq!(
            details,
            [
                ("zeta", "1".to_owned()),
                ("alpha", r#"{"x":1,"y":2}"#.to_owned()),
                ("mid", "m".to_owned())
            ]
        );
        // The flat form keeps the order too: known fields first, then the details.
        let keys: Vec<String> = match Value::from(r.clone()) {
            Value::Object(fields) => fields.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        };
        assert_eq!(keys, ["title", "requester", "zeta", "alpha", "mid"]);
        assert_eq!(r.detail_names(), ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn details_are_put_back_in_the_stored_order_or_by_name() {
        let r = parse(json!({"title": "T", "requester": "a@b.co", "b": 1, "c": 2, "a": 3}))
            .expect("valid");
        let names = |r: &ApprovalRequest| r.detail_names().join(",");
        let mut shuffled = r.clone();
        shuffled.details.reverse();
        let mut stored = shuffled.clone();
        stored.order_details(&r.detail_names());
        assert_eq!(names(&stored), names(&r));
        // An old record has no order: by name, as it was shown then.
        let mut old = shuffled.clone();
        old.order_details(&[]);
        assert_eq!(names(&old), "a,b,c");
        // A name the order lacks goes last.
        let mut partial = shuffled;
        partial.order_details(&["c".to_owned()]);
        assert_eq!(names(&partial), "c,a,b");
    }

    #[test]
    fn requests_are_the_same_once_stored_whatever_the_number_form_or_order() {
        let r = parse(json!({"title": "T", "requester": "a@b.co", "amount": 250.0, "x": [1.0, 0.5], "y": 1e17}))
            .expect("valid");
        let again = parse(json!({"title": "T", "requester": "a@b.co", "y": 100_000_000_000_000_000_u64, "x": [1, 0.5], "amount": 250}))
            .expect("valid");
        assert_ne!(r, again, "serde_json tells 250 from 250.0");
        assert!(r.same_request(&again) && again.same_request(&r));
        let other = parse(
            json!({"title": "T", "requester": "a@b.co", "amount": 250.5, "x": [1, 0.5], "y": 1e17}),
        )
        .expect("valid");
        assert!(!r.same_request(&other));
        let negative = |n: Value| parse(json!({"title": "T", "requester": "a@b.co", "amount": n}));
        assert!(
            negative(json!(-4.0))
                .expect("valid")
                .same_request(&negative(json!(-4)).expect("valid"))
        );
    }

    #[test]
    fn a_minimal_request_is_enough() {
        let r =
            parse(json!({"title": "T", "requester": "a@b.co", "summary": null, "amount": null}))
                .expect("valid");
        assert_eq!(r.summary, None);
        assert_eq!(r.amount_text(), None);
        assert!(r.details.is_empty());
        let r = parse(json!({"title": "T", "requester": "a@b.co", "amount": 7})).expect("valid");
        assert_eq!(r.amount_text().as_deref(), Some("7"));
    }

    #[test]
    fn the_json_form_round_trips() {
        let r = parse(json!({"title": "T", "requester": "a@b.co", "amount": 3, "currency": "USD", "x": {"y": true}, "attachments": [{"bucket": "b-1", "key": "k/a.csv", "name": "a.csv"}]}))
            .expect("valid");
        let value = serde_json::to_value(&r).expect("serializes");
        assert_eq!(
            value,
            json!({"title": "T", "requester": "a@b.co", "amount": 3, "currency": "USD", "x": {"y": true}, "attachments": [{"bucket": "b-1", "key": "k/a.csv", "name": "a.csv"}]})
        );
        assert_eq!(
            serde_json::from_value::<ApprovalRequest>(value).expect("parses"),
            r
        );
        assert!(serde_json::from_value::<ApprovalRequest>(json!({"title": "T"})).is_err());
    }

    #[test]
    fn each_mistake_has_its_clear_message() {
        let cases = [
            (
                json!("buy"),
                "request must be a JSON object with at least a title and a requester",
            ),
            (
                json!({"requester": "a@b.co"}),
                "request.title is missing or empty: give the approval a short title (a string)",
            ),
            (
                json!({"title": "  ", "requester": "a@b.co"}),
                "request.title is missing or empty: give the approval a short title (a string)",
            ),
            (
                json!({"title": 5, "requester": "a@b.co"}),
                "request.title must be a string",
            ),
            (
                json!({"title": "T"}),
                "request.requester is missing or empty: give the requester's email address (a string)",
            ),
            (
                json!({"title": "T", "requester": ""}),
                "request.requester is missing or empty: give the requester's email address (a string)",
            ),
            (
                json!({"title": "T", "requester": ["a@b.co"]}),
                "request.requester must be a string",
            ),
            (
                json!({"title": "T", "requester": "Ann Smith"}),
                "request.requester \"Ann Smith\" is not an email address (expected name@domain.tld)",
            ),
            (
                json!({"title": "T", "requester": "a@b.co", "summary": 1}),
                "request.summary must be a string",
            ),
            (
                json!({"title": "T", "requester": "a@b.co", "amount": "12"}),
                "request.amount must be a number",
            ),
            (
                json!({"title": "T", "requester": "a@b.co", "amount": 1, "currency": 978}),
                "request.currency must be a string",
            ),
            (
                json!({"title": "T", "requester": "a@b.co", "currency": "EUR"}),
                "request.currency is given without request.amount",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(message(value.clone()), expected, "for {value}");
        }
    }

    #[test]
    fn title_limit_counts_characters() {
        let ok = "é".repeat(MAX_TITLE_CHARS);
        assert!(parse(json!({"title": ok, "requester": "a@b.co"})).is_ok());
        let long = "é".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(
            message(json!({"title": long, "requester": "a@b.co"})),
            "request.title is 201 characters long; the limit is 200: put the rest in request.summary"
        );
    }

    #[test]
    fn payload_limit_is_32_kib_of_json() {
        let base = json!({"title": "T", "requester": "a@b.co", "blob": ""})
            .to_string()
            .len();
        let fits = "x".repeat(MAX_REQUEST_BYTES - base);
        assert!(parse(json!({"title": "T", "requester": "a@b.co", "blob": fits})).is_ok());
        let over = "x".repeat(MAX_REQUEST_BYTES - base + 1);
        assert_eq!(
            message(json!({"title": "T", "requester": "a@b.co", "blob": over})),
            "request is 32769 bytes of JSON; the limit is 32768 bytes (32 KiB): pass a reference to large data instead"
        );
        // The size is checked first: a huge non-object is "too large", not "not an object".
        let huge = Value::String("x".repeat(40_000));
        assert!(matches!(parse(huge), Err(RequestError::TooLarge { .. })));
    }

    #[test]
    fn a_long_bad_requester_is_shortened_and_quoted_on_one_line() {
        let text =
            message(json!({"title": "T", "requester": format!("line\n{}", "x".repeat(500))}));
        assert!(!text.contains('\n'));
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("…"));
    }

    #[test]
    fn email_ish() {
        for good in ["a@b.co", "first.last+tag@sub.example.org", "ÅSA@exämple.se"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "ann",
            "@b.co",
            "a@",
            "a@b",
            "a@.b.co",
            "a@b.co.",
            "a@b..co",
            "a@b@c.co",
            "a b@c.co",
            "Ann <a@b.co>",
            "a@b.co,c@d.co",
            "a\n@b.co",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
        assert!(!is_email(&format!("{}@b.co", "a".repeat(250))));
    }

    #[test]
    fn same_email_ignores_case_and_spaces() {
        assert!(same_email("Ann@Example.COM", " ann@example.com "));
        assert!(!same_email("ann@example.com", "anna@example.com"));
    }

    #[test]
    fn invocation_reads_token_key_and_request() {
        let mut event = json!({
            "taskToken": "tok",
            "executionArn": "arn:aws:states:eu-west-1:1:execution:m:e",
            "stateName": "RequestApproval",
            "stateEnteredTime": "2026-12-02T10:00:00.123Z",
            "request": {"title": "T", "requester": "a@b.co"},
        });
        let inv = Invocation::from_event(&event).expect("valid");
        assert_eq!(inv.task_token.expose(), "tok");
        assert_eq!(
            inv.key,
            ApprovalKey {
                execution_arn: "arn:aws:states:eu-west-1:1:execution:m:e".into(),
                state_name: "RequestApproval".into(),
                entered_time: "2026-12-02T10:00:00.123Z".into(),
                item: None,
            }
        );
        assert_eq!(inv.request.title, "T");
        assert_eq!(inv.attempt, None);
        // A retry: another token and attempt, the same key.
        event["taskToken"] = json!("tok-2");
        event["retryCount"] = json!(2);
        let retry = Invocation::from_event(&event).expect("valid");
        assert_eq!(retry.key.approval_id(), inv.key.approval_id());
        assert_eq!(retry.attempt, Some(2));
        // Inside a Map: the item index tells the approvals apart.
        event["approvalKey"] = json!(3);
        let item = Invocation::from_event(&event).expect("valid");
        assert_eq!(item.key.item.as_deref(), Some("3"));
        assert_ne!(item.key.approval_id(), inv.key.approval_id());
    }

    #[test]
    fn invocation_mistakes() {
        let request = json!({"title": "T", "requester": "a@b.co"});
        let event = |patch: Value| {
            let mut event = json!({
                "taskToken": "t", "executionArn": "e", "stateName": "S",
                "stateEnteredTime": "now", "request": request,
            });
            for (field, value) in patch.as_object().expect("a patch") {
                match value {
                    Value::Null => event.as_object_mut().expect("object").remove(field),
                    value => event
                        .as_object_mut()
                        .expect("object")
                        .insert(field.clone(), value.clone()),
                };
            }
            event
        };
        let cases = [
            (json!([]), RequestError::EventNotAnObject),
            (
                event(json!({"taskToken": null})),
                RequestError::MissingEventField("taskToken"),
            ),
            (
                event(json!({"taskToken": " "})),
                RequestError::MissingEventField("taskToken"),
            ),
            (
                event(json!({"executionArn": null})),
                RequestError::MissingEventField("executionArn"),
            ),
            (
                event(json!({"stateName": null})),
                RequestError::MissingEventField("stateName"),
            ),
            (
                event(json!({"stateEnteredTime": 5})),
                RequestError::MissingEventField("stateEnteredTime"),
            ),
            (
                event(json!({"approvalKey": [1]})),
                RequestError::MissingEventField("approvalKey"),
            ),
            (event(json!({"request": null})), RequestError::NotAnObject),
            (
                event(json!({"request": {"title": "T"}})),
                RequestError::Missing("requester"),
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(Invocation::from_event(&event), Err(expected), "for {event}");
        }
        assert!(Invocation::from_event(&event(json!({}))).is_ok());
        assert_eq!(
            RequestError::MissingEventField("stateEnteredTime").to_string(),
            "the event has no stateEnteredTime: pass taskToken: $$.Task.Token, executionArn: $$.Execution.Id, stateName: $$.State.Name and stateEnteredTime: $$.State.EnteredTime with lambda:invoke.waitForTaskToken"
        );
    }

    /// The durable workflow's first check is the state machine's `Validate` choice, with the
    /// same error and cause as its `InvalidRequest` state.
    #[test]
    fn the_first_check_is_the_state_machines() {
        let asl: Value =
            serde_json::from_str(include_str!("../../../statemachine/approval.asl.json"))
                .expect("the ASL is JSON");
        let fail = &asl["States"]["InvalidRequest"];
        assert_eq!(
            (
                fail["Error"].as_str().unwrap(),
                fail["Cause"].as_str().unwrap()
            ),
            INVALID_INPUT
        );
        let conditions = asl["States"]["Validate"]["Choices"][0]["And"].to_string();
        for field in ["$.title", "$.requester"] {
            assert!(conditions.contains(field), "{conditions}");
        }
        assert!(has_title_and_requester(
            &json!({"title": "T", "requester": "r"})
        ));
        for bad in [
            json!({"title": "T"}),
            json!({"title": 1, "requester": "r"}),
            json!({"requester": "r", "title": null}),
            json!("text"),
        ] {
            assert!(!has_title_and_requester(&bad), "{bad}");
        }
    }
}
