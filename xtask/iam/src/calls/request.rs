//! One call as the router received it ([`Call`]), what it needs ([`Needed`]) or why that is not
//! known ([`Unknown`]), and what every service's module reads calls with.

use std::fmt;

use serde_json::Value;

use crate::{Authorization, Context, Principal};

/// One HTTP request to an AWS API, as the router received it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path, raw (percent-encoded, as sent).
    pub path: &'a str,
    /// The query string without its `?`, raw.
    pub query: &'a str,
    /// The headers, names in any case.
    pub headers: &'a [(String, String)],
    /// The body, as sent.
    pub body: &'a [u8],
}

impl<'a> Call<'a> {
    /// The value of a header, by case-insensitive name (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query's parameters, decoded.
    pub(super) fn query_params(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The value of a query parameter (the first, if repeated), decoded.
    pub(super) fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// One authorization a call needs, before the principal is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// `service:Action`, as the SAR names it.
    pub action: String,
    /// The resource ARN AWS checks (`*` for an action with no resource type).
    pub resource: String,
    /// The condition keys of the request (names lower-cased).
    pub context: Context,
    /// SSM only: the call asked for decrypted values (`WithDecryption`). For a `SecureString`
    /// under a customer managed key AWS also authorizes `kms:Decrypt` through SSM: the router,
    /// which knows the parameter's key, adds [`ssm_decrypt`].
    pub with_decryption: bool,
}

impl Needed {
    pub(super) fn new(action: &str, resource: impl Into<String>) -> Self {
        Self {
            action: action.to_owned(),
            resource: resource.into(),
            context: Context::new(),
            with_decryption: false,
        }
    }

    /// Adds a value to a condition key (stored lower-cased).
    pub(super) fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
        self
    }

    /// Adds a value to a condition key when there is one.
    pub(super) fn with_some(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(value) => self.with(key, value),
            None => self,
        }
    }

    /// The authorization, made by `principal`.
    pub fn authorization(&self, principal: Principal) -> Authorization {
        Authorization {
            principal,
            action: self.action.clone(),
            resource: self.resource.clone(),
            context: self.context.clone(),
        }
    }
}

/// A call this module does not cover (or cannot read): the router refuses it loudly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The signing name of the call's service, when known.
    pub service: String,
    /// The operation, when known.
    pub operation: String,
    /// Why it is not covered.
    pub why: String,
}

impl Unknown {
    pub(super) fn new(service: &str, operation: &str, why: impl Into<String>) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = if self.service.is_empty() {
            "?"
        } else {
            &self.service
        };
        let operation = if self.operation.is_empty() {
            "?"
        } else {
            &self.operation
        };
        write!(f, "{service} {operation}: {}", self.why)
    }
}

impl std::error::Error for Unknown {}

/// Where the call's resources live: ARNs are built in this account, region and partition.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scope<'a> {
    pub(super) account: &'a str,
    pub(super) region: &'a str,
    pub(super) partition: &'static str,
}

impl Scope<'_> {
    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub(super) fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

/// The partition of a region ("Identify AWS resources with Amazon Resource Names", IAM user
/// guide: `aws`, `aws-cn`, `aws-us-gov`). The isolated partitions are not covered: `aws`.
pub(super) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The parameters of a Query-protocol call (SNS, STS): the query's and the form body's.
pub(super) fn query_protocol_params(call: &Call) -> Vec<(String, String)> {
    let mut params = call.query_params();
    params.extend(form_urlencoded::parse(call.body).into_owned());
    params
}

/// The first value of a parameter.
pub(super) fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The operation of an AWS JSON call: `X-Amz-Target: PREFIX.Operation`.
pub(super) fn json_target<'a>(
    call: &Call<'a>,
    service: &str,
    prefix: &str,
) -> Result<&'a str, Unknown> {
    let target = call
        .header("x-amz-target")
        .ok_or_else(|| Unknown::new(service, "", "no X-Amz-Target header"))?;
    target
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|op| !op.is_empty())
        .ok_or_else(|| Unknown::new(service, target, format!("X-Amz-Target is not {prefix}.*")))
}

/// The JSON body of a call.
pub(super) fn json_body(call: &Call, service: &str, operation: &str) -> Result<Value, Unknown> {
    let body = if call.body.is_empty() {
        b"{}".as_slice()
    } else {
        call.body
    };
    serde_json::from_slice(body)
        .map_err(|e| Unknown::new(service, operation, format!("the body is not JSON: {e}")))
}

/// A required, non-empty string member of a JSON object.
pub(super) fn required<'v>(
    value: &'v Value,
    key: &str,
    service: &str,
    operation: &str,
) -> Result<&'v str, Unknown> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Unknown::new(service, operation, format!("no {key} in the request")))
}

/// An optional string member of a JSON object.
pub(super) fn optional<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// A path split into its raw segments, after the leading `/`.
pub(super) fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

/// A raw path segment or query value, percent-decoded (as UTF-8).
pub(super) fn decoded(raw: &str, service: &str, operation: &str) -> Result<String, Unknown> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Unknown::new(service, operation, "a path segment is not UTF-8"))
}
