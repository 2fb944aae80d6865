//! Each service's answer to a request AWS refuses, so that the AWS SDK in the function sees the
//! error code AWS gives: an authorization refused ([`access_denied`]), an expired session token
//! ([`expired_token`]), an access key AWS does not know ([`invalid_token`]).
//!
//! The services are named by their signing name (the service of the call's credential scope):
//! `dynamodb`, `ssm`, `states`, `lambda`, `scheduler`, `sns`, `sts`, `s3`. Their protocols and
//! how the AWS SDK for Rust reads an error from each (the generated `json_errors.rs`,
//! `rest_xml_wrapped_errors.rs` and `rest_xml_unwrapped_errors.rs` of aws-sdk-dynamodb 1.136,
//! aws-sdk-lambda 1.131, aws-sdk-sns 1.121, aws-sdk-s3 1.157):
//! - AWS JSON 1.0 / 1.1 (DynamoDB, Step Functions / SSM) and REST JSON (Lambda, Scheduler): the
//!   code is the `x-amzn-ErrorType` header, else the body's `code`, else its `__type`, cut at
//!   the first `:` and after the last `#`; the message is the body's `message` or `Message`.
//! - AWS Query (SNS, STS): `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>`.
//! - REST XML (S3): `<Error><Code>…</Code><Message>…</Message></Error>`.
//!
//! Request ids: every reply carries one, `x-amzn-RequestId` (the Query protocol also in its
//! body), S3's `x-amz-request-id` with `x-amz-id-2` (the headers the SDK reads them from).
//! They are made from a process-wide counter: unique, not random.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

/// A reply: HTTP status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// Why an authorization was refused: the policy type and whether it denied explicitly or
/// allowed nothing. The phrases are those of "Troubleshooting access denied error messages"
/// (IAM user guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No identity-based policy allows the action (implicit deny).
    NoIdentityPolicy,
    /// An identity-based policy denies it.
    IdentityPolicyDeny,
    /// No resource-based policy allows it (a resource policy was the only possible grant).
    NoResourcePolicy,
    /// A resource-based policy denies it.
    ResourcePolicyDeny,
    /// The permissions boundary allows nothing of it.
    NoPermissionsBoundary,
    /// The permissions boundary denies it.
    PermissionsBoundaryDeny,
    /// The session policy allows nothing of it.
    NoSessionPolicy,
    /// The session policy denies it.
    SessionPolicyDeny,
    /// A service control policy: always worded as an explicit deny, even an implicit one.
    ServiceControlPolicy,
    /// No VPC endpoint policy allows it.
    NoVpcEndpointPolicy,
    /// A VPC endpoint policy denies it.
    VpcEndpointPolicyDeny,
}

impl Reason {
    /// The `because …` / `with an explicit deny …` end of the message.
    fn phrase(self, action: &str) -> String {
        let none = |policy: &str| format!("because no {policy} allows the {action} action");
        let deny = |policy: &str| format!("with an explicit deny in {policy}");
        match self {
            Self::NoIdentityPolicy => none("identity-based policy"),
            Self::IdentityPolicyDeny => deny("an identity-based policy"),
            Self::NoResourcePolicy => none("resource-based policy"),
            Self::ResourcePolicyDeny => deny("a resource-based policy"),
            Self::NoPermissionsBoundary => none("permissions boundary"),
            Self::PermissionsBoundaryDeny => deny("a permissions boundary"),
            Self::NoSessionPolicy => none("session policy"),
            // The guide's example reads "a sessions policy", taken for a typo.
            Self::SessionPolicyDeny => deny("a session policy"),
            Self::ServiceControlPolicy => deny("a service control policy"),
            Self::NoVpcEndpointPolicy => none("VPC endpoint policy"),
            Self::VpcEndpointPolicyDeny => deny("a VPC endpoint policy"),
        }
    }
}

/// The message of a refusal: `User: ARN is not authorized to perform: ACTION on resource:
/// RESOURCE because …` ("Troubleshooting access denied error messages", IAM user guide; its
/// examples omit `on resource:` for an action on `*`).
pub fn message(principal_arn: &str, action: &str, resource: &str, reason: Reason) -> String {
    let on = if resource.is_empty() || resource == "*" {
        String::new()
    } else {
        format!(" on resource: {resource}")
    };
    format!(
        "User: {principal_arn} is not authorized to perform: {action}{on} {}",
        reason.phrase(action)
    )
}

/// The reply of `service` when AWS refuses `principal_arn` the `action` on `resource`.
///
/// - `dynamodb`: HTTP 400, `__type` `com.amazon.coral.service#AccessDeniedException` ("Error
///   handling with DynamoDB", DynamoDB developer guide: AccessDeniedException among the 400s;
///   the namespace is the one DynamoDB gives errors of its request layer).
/// - `ssm`, `states`: HTTP 400, `__type` `AccessDeniedException`. Their API references' "Common
///   Errors" pages have listed AccessDeniedException with 400 and, in the current shared
///   version, 403: 400 is kept, as for DynamoDB. The SDK reads the code either way.
/// - `lambda`, `scheduler`: HTTP 403, `x-amzn-ErrorType: AccessDeniedException`, body
///   `{"Message": …}` (Lambda API reference, "Common Errors": AccessDeniedException, 403).
/// - `sns`: HTTP 403, `AuthorizationError`, type `Sender` (SNS API reference, Publish:
///   AuthorizationError, 403). SNS writes the action as `SNS:Publish` (the IAM guide's SNS
///   example).
/// - `sts`: HTTP 403, `AccessDenied`.
/// - `s3`: HTTP 403, `AccessDenied`, with the message S3 gives requests from its own account or
///   organization, the resource quoted ("Troubleshoot access denied (403 Forbidden) errors in
///   Amazon S3", S3 user guide). Cross-account requests get a bare `Access Denied` instead.
/// - any other service: HTTP 403 in REST JSON with both the header and `__type`, which every
///   JSON protocol reads as `AccessDeniedException`.
pub fn access_denied(
    service: &str,
    principal_arn: &str,
    action: &str,
    resource: &str,
    reason: Reason,
) -> Reply {
    match service {
        "sns" => {
            let action = sns_action(action);
            let text = message(principal_arn, &action, resource, reason);
            query_error(403, SNS_XMLNS, "AuthorizationError", &text)
        }
        "sts" => query_error(
            403,
            STS_XMLNS,
            "AccessDenied",
            &message(principal_arn, action, resource, reason),
        ),
        "s3" => {
            let quoted = format!("\"{resource}\"");
            let text = message(principal_arn, action, &quoted, reason);
            s3_error(403, "AccessDenied", &text)
        }
        _ => json_error(
            service,
            "AccessDeniedException",
            &message(principal_arn, action, resource, reason),
        ),
    }
}

/// An access denial of `service` worded by the caller (`text`): for what the local
/// environment refuses without a policy to name, such as a call it cannot authorize.
pub fn refused(service: &str, text: &str) -> Reply {
    match service {
        "sns" => query_error(403, SNS_XMLNS, "AuthorizationError", text),
        "sts" => query_error(403, STS_XMLNS, "AccessDenied", text),
        "s3" => s3_error(403, "AccessDenied", text),
        _ => json_error(service, "AccessDeniedException", text),
    }
}

/// The reply of `service` to a request signed with an expired session token.
///
/// - JSON services: `ExpiredTokenException`, "The security token included in the request is
///   expired" (Lambda API reference, "Common Errors": 403; DynamoDB, SSM and Step Functions
///   answer their request-layer errors with 400, as for [`access_denied`]).
/// - `sns`, `sts`: `ExpiredToken`, 403.
/// - `s3`: `ExpiredToken`, 400, "The provided token has expired." (S3 API reference, "Error
///   responses": the list of error codes).
pub fn expired_token(service: &str) -> Reply {
    const TEXT: &str = "The security token included in the request is expired";
    match service {
        "sns" => query_error(403, SNS_XMLNS, "ExpiredToken", TEXT),
        "sts" => query_error(403, STS_XMLNS, "ExpiredToken", TEXT),
        "s3" => s3_error(400, "ExpiredToken", "The provided token has expired."),
        _ => json_error(service, "ExpiredTokenException", TEXT),
    }
}

/// The reply of `service` to a request signed with an access key it does not know.
///
/// - JSON services: `UnrecognizedClientException`, "The security token included in the request
///   is invalid." ("Common Errors": 403; DynamoDB lists it among its 400s, "Error handling with
///   DynamoDB").
/// - `sns`, `sts`: `InvalidClientTokenId`, 403 ("Common Errors" of the Query APIs).
/// - `s3`: `InvalidAccessKeyId`, 403, "The AWS Access Key Id you provided does not exist in our
///   records." (S3 API reference, "Error responses").
pub fn invalid_token(service: &str) -> Reply {
    const TEXT: &str = "The security token included in the request is invalid.";
    match service {
        "sns" => query_error(403, SNS_XMLNS, "InvalidClientTokenId", TEXT),
        "sts" => query_error(403, STS_XMLNS, "InvalidClientTokenId", TEXT),
        "s3" => s3_error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        _ => json_error(service, "UnrecognizedClientException", TEXT),
    }
}

/// The XML namespace of SNS's Query API (2010-03-31).
const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// The XML namespace of STS's Query API (2011-06-15).
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// `sns:Publish` as SNS writes it in its messages: `SNS:Publish`.
fn sns_action(action: &str) -> String {
    match action.strip_prefix("sns:") {
        Some(name) => format!("SNS:{name}"),
        None => action.to_owned(),
    }
}

/// How a JSON service writes an error.
struct JsonShape {
    status: u16,
    content_type: &'static str,
    /// The body's `__type`, if it has one.
    type_name: Option<String>,
    /// `message` or `Message`.
    message_key: &'static str,
    /// Whether the code is also in `x-amzn-ErrorType` (REST JSON).
    error_type_header: bool,
}

/// The error shape of a JSON service: AWS JSON 1.0 / 1.1 for DynamoDB, Step Functions and SSM
/// (`__type` in the body), REST JSON for Lambda and Scheduler (`x-amzn-ErrorType`), both for
/// any other.
fn json_shape(service: &str, code: &str) -> JsonShape {
    let aws_json = |content_type, type_name| JsonShape {
        status: 400,
        content_type,
        type_name: Some(type_name),
        message_key: "message",
        error_type_header: false,
    };
    match service {
        "dynamodb" => aws_json(
            "application/x-amz-json-1.0",
            format!("com.amazon.coral.service#{code}"),
        ),
        "states" => aws_json("application/x-amz-json-1.0", code.to_owned()),
        "ssm" => aws_json("application/x-amz-json-1.1", code.to_owned()),
        "lambda" | "scheduler" => JsonShape {
            status: 403,
            content_type: "application/json",
            type_name: None,
            message_key: "Message",
            error_type_header: true,
        },
        _ => JsonShape {
            status: 403,
            content_type: "application/json",
            type_name: Some(code.to_owned()),
            message_key: "Message",
            error_type_header: true,
        },
    }
}

/// An error in the JSON protocol of `service`.
fn json_error(service: &str, code: &str, text: &str) -> Reply {
    let shape = json_shape(service, code);
    let mut body = Map::new();
    if let Some(type_name) = shape.type_name {
        body.insert("__type".to_owned(), Value::String(type_name));
    }
    body.insert(shape.message_key.to_owned(), Value::String(text.to_owned()));
    let mut headers = vec![
        ("x-amzn-RequestId".to_owned(), request_id()),
        ("Content-Type".to_owned(), shape.content_type.to_owned()),
    ];
    if shape.error_type_header {
        headers.push(("x-amzn-ErrorType".to_owned(), code.to_owned()));
    }
    let body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    (shape.status, headers, body)
}

/// An error in the AWS Query protocol (SNS, STS).
fn query_error(status: u16, xmlns: &str, code: &str, text: &str) -> Reply {
    let id = request_id();
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>Sender</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
        escape(code),
        escape(text)
    );
    let headers = vec![
        ("x-amzn-RequestId".to_owned(), id),
        ("Content-Type".to_owned(), "text/xml".to_owned()),
    ];
    (status, headers, body.into_bytes())
}

/// An error of S3 (REST XML, unwrapped).
fn s3_error(status: u16, code: &str, text: &str) -> Reply {
    let id = s3_request_id();
    let host_id = format!("{id}{id}");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>{id}</RequestId><HostId>{host_id}</HostId></Error>",
        escape(code),
        escape(text)
    );
    let headers = vec![
        ("x-amz-request-id".to_owned(), id),
        ("x-amz-id-2".to_owned(), host_id),
        ("Content-Type".to_owned(), "application/xml".to_owned()),
    ];
    (status, headers, body.into_bytes())
}

/// XML character data. Control characters XML 1.0 does not allow become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

/// The next number of the process-wide request id counter, scrambled.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    splitmix64(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// SplitMix64: a bijective scramble of a counter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A request id shaped like the UUIDs of `x-amzn-RequestId`.
fn request_id() -> String {
    let high = next_id();
    let low = splitmix64(high);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        ((low >> 48) & 0x3fff) | 0x8000,
        low & 0xffff_ffff_ffff
    )
}

/// A request id shaped like S3's: 16 upper-case hexadecimal digits.
fn s3_request_id() -> String {
    format!("{:016X}", next_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/hitl-review/hitl-review";

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .1
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The SDK's `sanitize_error_code` (json_errors.rs): cut at the first `:`, then keep what
    /// follows the first `#`.
    fn sanitize(code: &str) -> &str {
        let code = code.split(':').next().unwrap_or(code);
        match code.find('#') {
            Some(at) => &code[at + 1..],
            None => code,
        }
    }

    /// The code and message the SDK reads from a JSON error (json_errors.rs).
    fn json_code(reply: &Reply) -> (String, String) {
        let body: Value = serde_json::from_slice(&reply.2).expect("JSON body");
        let field = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let code = header(reply, "x-amzn-errortype")
            .map(str::to_owned)
            .or_else(|| field("code"))
            .or_else(|| field("__type"))
            .expect("an error code");
        let message = field("message")
            .or_else(|| field("Message"))
            .or_else(|| field("errorMessage"))
            .expect("a message");
        (sanitize(&code).to_owned(), message)
    }

    fn unescape(text: &str) -> String {
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// The character data of the first `<tag>` after `from`.
    fn element(xml: &str, tag: &str) -> Option<String> {
        let open = format!("<{tag}>");
        let start = xml.find(&open)? + open.len();
        let end = start + xml[start..].find(&format!("</{tag}>"))?;
        Some(unescape(&xml[start..end]))
    }

    /// The root element's name, after any XML declaration.
    fn root(xml: &str) -> &str {
        let body = match xml.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r),
            None => xml,
        };
        let body = body.trim_start().trim_start_matches('<');
        body.split(|c: char| c == '>' || c.is_whitespace())
            .next()
            .unwrap_or("")
    }

    /// Root, code and message as the SDK reads an XML error (`ErrorResponse/Error` for the
    /// Query protocol, `Error` for S3).
    fn xml_code(reply: &Reply) -> (String, String, String) {
        let xml = std::str::from_utf8(&reply.2).expect("UTF-8");
        let error = &xml[xml.find("<Error>").expect("an Error element")..];
        (
            root(xml).to_owned(),
            element(error, "Code").expect("a Code"),
            element(error, "Message").expect("a Message"),
        )
    }

    #[test]
    fn messages_follow_the_iam_guide() {
        let action = "dynamodb:GetItem";
        let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/hitl-approvals";
        let cases = [
            (
                Reason::NoIdentityPolicy,
                "because no identity-based policy allows the dynamodb:GetItem action",
            ),
            (
                Reason::IdentityPolicyDeny,
                "with an explicit deny in an identity-based policy",
            ),
            (
                Reason::NoResourcePolicy,
                "because no resource-based policy allows the dynamodb:GetItem action",
            ),
            (
                Reason::ResourcePolicyDeny,
                "with an explicit deny in a resource-based policy",
            ),
            (
                Reason::NoPermissionsBoundary,
                "because no permissions boundary allows the dynamodb:GetItem action",
            ),
            (
                Reason::PermissionsBoundaryDeny,
                "with an explicit deny in a permissions boundary",
            ),
            (
                Reason::NoSessionPolicy,
                "because no session policy allows the dynamodb:GetItem action",
            ),
            (
                Reason::SessionPolicyDeny,
                "with an explicit deny in a session policy",
            ),
            (
                Reason::ServiceControlPolicy,
                "with an explicit deny in a service control policy",
            ),
            (
                Reason::NoVpcEndpointPolicy,
                "because no VPC endpoint policy allows the dynamodb:GetItem action",
            ),
            (
                Reason::VpcEndpointPolicyDeny,
                "with an explicit deny in a VPC endpoint policy",
            ),
        ];
        for (reason, phrase) in cases {
            assert_eq!(
                message(ROLE, action, table, reason),
                format!(
                    "User: {ROLE} is not authorized to perform: dynamodb:GetItem on resource: \
                     {table} {phrase}"
                )
            );
        }
    }

    #[test]
    fn an_action_on_every_resource_names_none() {
        assert_eq!(
            message(
                ROLE,
                "states:SendTaskSuccess",
                "*",
                Reason::NoIdentityPolicy
            ),
            format!(
                "User: {ROLE} is not authorized to perform: states:SendTaskSuccess because no \
                 identity-based policy allows the states:SendTaskSuccess action"
            )
        );
    }

    #[test]
    fn json_services_refuse_with_access_denied_exception() {
        let cases = [
            ("dynamodb", 400, "application/x-amz-json-1.0"),
            ("states", 400, "application/x-amz-json-1.0"),
            ("ssm", 400, "application/x-amz-json-1.1"),
            ("lambda", 403, "application/json"),
            ("scheduler", 403, "application/json"),
            ("somethingelse", 403, "application/json"),
        ];
        for (service, status, content_type) in cases {
            let resource = "arn:aws:x:eu-west-1:123456789012:thing/t";
            let reply = access_denied(service, ROLE, "x:Do", resource, Reason::NoIdentityPolicy);
            assert_eq!(reply.0, status, "{service}");
            assert_eq!(
                header(&reply, "content-type"),
                Some(content_type),
                "{service}"
            );
            assert!(header(&reply, "x-amzn-requestid").is_some(), "{service}");
            let (code, text) = json_code(&reply);
            assert_eq!(code, "AccessDeniedException", "{service}");
            assert_eq!(
                text,
                message(ROLE, "x:Do", resource, Reason::NoIdentityPolicy),
                "{service}"
            );
        }
    }

    #[test]
    fn dynamodb_names_the_coral_exception() {
        let reply = access_denied(
            "dynamodb",
            ROLE,
            "dynamodb:PutItem",
            "t",
            Reason::NoIdentityPolicy,
        );
        let body: Value = serde_json::from_slice(&reply.2).unwrap();
        assert_eq!(
            body["__type"],
            "com.amazon.coral.service#AccessDeniedException"
        );
        assert!(header(&reply, "x-amzn-errortype").is_none());
    }

    #[test]
    fn rest_json_services_name_the_code_in_a_header() {
        for service in ["lambda", "scheduler"] {
            let reply = access_denied(
                service,
                ROLE,
                "lambda:InvokeFunction",
                "f",
                Reason::NoIdentityPolicy,
            );
            assert_eq!(
                header(&reply, "x-amzn-ErrorType"),
                Some("AccessDeniedException")
            );
            let body: Value = serde_json::from_slice(&reply.2).unwrap();
            assert!(body.get("Message").is_some(), "{service}");
        }
    }

    #[test]
    fn sns_refuses_with_authorization_error() {
        let topic = "arn:aws:sns:eu-west-1:123456789012:hitl-notify";
        let reply = access_denied("sns", ROLE, "sns:Publish", topic, Reason::NoIdentityPolicy);
        assert_eq!(reply.0, 403);
        let (root, code, text) = xml_code(&reply);
        assert_eq!(root, "ErrorResponse");
        assert_eq!(code, "AuthorizationError");
        assert_eq!(
            text,
            format!(
                "User: {ROLE} is not authorized to perform: SNS:Publish on resource: {topic} \
                 because no identity-based policy allows the SNS:Publish action"
            )
        );
        let xml = std::str::from_utf8(&reply.2).unwrap();
        assert_eq!(element(xml, "Type").as_deref(), Some("Sender"));
        assert_eq!(
            element(xml, "RequestId").as_deref(),
            header(&reply, "x-amzn-RequestId")
        );
    }

    #[test]
    fn sts_refuses_with_access_denied() {
        let role = "arn:aws:iam::123456789012:role/x";
        let reply = access_denied(
            "sts",
            ROLE,
            "sts:AssumeRole",
            role,
            Reason::NoIdentityPolicy,
        );
        assert_eq!(reply.0, 403);
        let (root, code, _) = xml_code(&reply);
        assert_eq!(
            (root.as_str(), code.as_str()),
            ("ErrorResponse", "AccessDenied")
        );
    }

    #[test]
    fn s3_refuses_with_access_denied_and_its_request_ids() {
        let object = "arn:aws:s3:::attachments/a&b<c>.pdf";
        let reply = access_denied(
            "s3",
            ROLE,
            "s3:GetObject",
            object,
            Reason::IdentityPolicyDeny,
        );
        assert_eq!(reply.0, 403);
        let (root, code, text) = xml_code(&reply);
        assert_eq!((root.as_str(), code.as_str()), ("Error", "AccessDenied"));
        assert_eq!(
            text,
            format!(
                "User: {ROLE} is not authorized to perform: s3:GetObject on resource: \
                 \"{object}\" with an explicit deny in an identity-based policy"
            )
        );
        let id = header(&reply, "x-amz-request-id").expect("x-amz-request-id");
        assert_eq!(id.len(), 16);
        assert!(header(&reply, "x-amz-id-2").is_some());
        let xml = std::str::from_utf8(&reply.2).unwrap();
        assert_eq!(element(xml, "RequestId").as_deref(), Some(id));
    }

    #[test]
    fn expired_tokens() {
        for (service, status, code) in [
            ("dynamodb", 400, "ExpiredTokenException"),
            ("ssm", 400, "ExpiredTokenException"),
            ("states", 400, "ExpiredTokenException"),
            ("lambda", 403, "ExpiredTokenException"),
            ("scheduler", 403, "ExpiredTokenException"),
        ] {
            let reply = expired_token(service);
            assert_eq!(reply.0, status, "{service}");
            let (parsed, text) = json_code(&reply);
            assert_eq!(parsed, code, "{service}");
            assert_eq!(
                text,
                "The security token included in the request is expired"
            );
        }
        for service in ["sns", "sts"] {
            let reply = expired_token(service);
            assert_eq!(reply.0, 403);
            let (root, code, _) = xml_code(&reply);
            assert_eq!(
                (root.as_str(), code.as_str()),
                ("ErrorResponse", "ExpiredToken")
            );
        }
        let reply = expired_token("s3");
        assert_eq!(reply.0, 400);
        let (root, code, text) = xml_code(&reply);
        assert_eq!((root.as_str(), code.as_str()), ("Error", "ExpiredToken"));
        assert_eq!(text, "The provided token has expired.");
    }

    #[test]
    fn invalid_tokens() {
        for (service, status) in [
            ("dynamodb", 400),
            ("ssm", 400),
            ("states", 400),
            ("lambda", 403),
            ("scheduler", 403),
        ] {
            let reply = invalid_token(service);
            assert_eq!(reply.0, status, "{service}");
            let (code, text) = json_code(&reply);
            assert_eq!(code, "UnrecognizedClientException", "{service}");
            assert_eq!(
                text,
                "The security token included in the request is invalid."
            );
        }
        for service in ["sns", "sts"] {
            let reply = invalid_token(service);
            assert_eq!(reply.0, 403);
            let (_, code, _) = xml_code(&reply);
            assert_eq!(code, "InvalidClientTokenId");
        }
        let reply = invalid_token("s3");
        assert_eq!(reply.0, 403);
        let (_, code, _) = xml_code(&reply);
        assert_eq!(code, "InvalidAccessKeyId");
    }

    #[test]
    fn request_ids_differ() {
        let ids: std::collections::BTreeSet<String> = (0..100).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 100);
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for service in ["", "dynamodb", "s3", "sns", "\u{0}"] {
            for text in ["", "<>&\"'", "\u{fffd}\u{0}"] {
                let reply = access_denied(service, text, text, text, Reason::NoResourcePolicy);
                assert!(!reply.2.is_empty());
            }
        }
    }
}
