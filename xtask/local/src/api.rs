//! The review API as API Gateway serves it, for the local environment: a REST API's default
//! endpoint `/{stage}/approvals/{id}` (`GET`, `HEAD`, `POST`), its attachments, the Slack app's
//! `POST /{stage}/slack/interactions` and sign-in's `GET /{stage}/sign-in`, with the Lambda proxy
//! integration.
//! The router turns each HTTP request into the version 1.0 event API Gateway gives the function
//! (the client's headers, `Host` included, plus the `X-Forwarded-*` ones API Gateway adds; the
//! stage in `requestContext`; the body as text) and the function's answer back into HTTP, so the
//! local tests exercise production's event shape. What API Gateway answers itself is answered
//! here too: `403 Missing Authentication Token` for a path or method the API does not have,
//! `502` for a function that failed or answered something API Gateway cannot read.
//!
//! Shapes follow "Input format of a Lambda function for proxy integration" and "Output format of
//! a Lambda function for proxy integration" in the API Gateway developer guide.

use base64::Engine;

use crate::reply::Reply;
use serde_json::{Map, Value, json};

/// The API's resources, as API Gateway names them in `resource` and `resourcePath`: the review
/// page, and an attachment's link.
pub const RESOURCE: &str = "/approvals/{id}";
pub const ATTACHMENT_RESOURCE: &str = "/approvals/{id}/attachments/{n}";
/// The Slack app's interactivity endpoint (only a stack with the app lets API Gateway invoke
/// the function for it: see `gateway::permitted`).
pub const SLACK_RESOURCE: &str = "/slack/interactions";
/// Sign-in's callback (only a stack with sign-in lets API Gateway invoke the function for it).
pub const SIGN_IN_RESOURCE: &str = "/sign-in";

/// The methods the API defines on each.
const METHODS: [&str; 3] = ["GET", "HEAD", "POST"];
const ATTACHMENT_METHODS: [&str; 2] = ["GET", "HEAD"];

/// A request the API routes to the function.
#[derive(Debug, PartialEq, Eq)]
pub struct Routed {
    pub stage: String,
    /// The path after the stage, percent-decoded (API Gateway's `path`).
    pub path: String,
    /// The `{id}` path parameter, percent-decoded (empty on the Slack resource).
    pub id: String,
    /// The `{n}` path parameter of an attachment's link, percent-decoded.
    pub n: Option<String>,
    /// The resource, when it has no path parameters (Slack's endpoint, sign-in's callback).
    pub fixed: Option<&'static str>,
}

impl Routed {
    /// The API resource the request reached.
    pub fn resource(&self) -> &'static str {
        match (self.fixed, &self.n) {
            (Some(fixed), _) => fixed,
            (None, Some(_)) => ATTACHMENT_RESOURCE,
            (None, None) => RESOURCE,
        }
    }

    /// `pathParameters`.
    fn parameters(&self) -> Value {
        match (self.fixed, &self.n) {
            (Some(_), _) => Value::Null,
            (None, Some(n)) => json!({ "id": self.id, "n": n }),
            (None, None) => json!({ "id": self.id }),
        }
    }
}

/// Routes `method raw_path` as the API does; `None` where API Gateway answers by itself.
pub fn route(method: &str, raw_path: &str) -> Option<Routed> {
    let rest = raw_path.strip_prefix('/')?;
    let (stage, rest) = rest.split_once('/')?;
    for (resource, only) in [(SLACK_RESOURCE, "POST"), (SIGN_IN_RESOURCE, "GET")] {
        if format!("/{rest}") == resource && method == only && !stage.is_empty() {
            return Some(Routed {
                stage: stage.to_owned(),
                path: resource.to_owned(),
                id: String::new(),
                n: None,
                fixed: Some(resource),
            });
        }
    }
    let rest = rest.strip_prefix("approvals/")?;
    let (id, n) = match rest.split('/').collect::<Vec<_>>().as_slice() {
        [id] if METHODS.contains(&method) => (*id, None),
        [id, "attachments", n] if ATTACHMENT_METHODS.contains(&method) => (*id, Some(*n)),
        _ => return None,
    };
    if stage.is_empty() || id.is_empty() || n.is_some_and(str::is_empty) {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let path = match n {
        Some(n) => format!("/approvals/{}/attachments/{}", decode(id), decode(n)),
        None => format!("/approvals/{}", decode(id)),
    };
    Some(Routed {
        stage: decode(stage),
        path,
        id: decode(id),
        n: n.map(decode),
        fixed: None,
    })
}

/// What the client sent, as the router received it.
pub struct Incoming<'a> {
    pub method: &'a str,
    pub query: &'a str,
    /// In the order received; names as sent.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
    pub port: u16,
    pub request_id: &'a str,
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// The version 1.0 proxy event for a routed request.
pub fn event(routed: &Routed, incoming: &Incoming) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    let forwarded = [
        ("X-Forwarded-For", incoming.source_ip.to_owned()),
        ("X-Forwarded-Port", incoming.port.to_string()),
        ("X-Forwarded-Proto", "http".to_owned()),
    ];
    let sent = incoming
        .headers
        .iter()
        .filter(|(name, _)| !forwarded.iter().any(|(f, _)| f.eq_ignore_ascii_case(name)));
    for (name, value) in sent
        .cloned()
        .chain(forwarded.iter().map(|(n, v)| (n.to_string(), v.clone())))
    {
        headers.insert(name.clone(), json!(value));
        match multi.get_mut(&name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                multi.insert(name, json!([value]));
            }
        }
    }
    let (query, multi_query) = query_maps(incoming.query);
    let host = incoming
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("127.0.0.1");
    let user_agent = incoming
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.as_str());
    let (body, base64) = match incoming.body {
        [] => (Value::Null, false),
        bytes => match std::str::from_utf8(bytes) {
            Ok(text) => (json!(text), false),
            Err(_) => (
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                true,
            ),
        },
    };
    json!({
        "resource": routed.resource(),
        "path": routed.path,
        "httpMethod": incoming.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": routed.parameters(),
        "stageVariables": null,
        "requestContext": {
            "accountId": kit_base::local::ACCOUNT_ID,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": routed.resource(),
            "httpMethod": incoming.method,
            "stage": routed.stage,
            "path": format!("/{}{}", routed.stage, routed.path),
            "requestId": incoming.request_id,
            "extendedRequestId": incoming.request_id,
            "requestTimeEpoch": incoming.now_ms,
            "protocol": "HTTP/1.1",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "identity": {
                "sourceIp": incoming.source_ip,
                "userAgent": user_agent,
            },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// `queryStringParameters` (the last value of each name) and
/// `multiValueQueryStringParameters`; both `null` without a query.
fn query_maps(query: &str) -> (Value, Value) {
    if query.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        single.insert(name.to_string(), json!(value));
        match multi.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                multi.insert(name.to_string(), json!([value]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// API Gateway's own answer for a path or method the API does not define.
pub fn missing_route() -> Reply {
    gateway_error(403, "Missing Authentication Token")
}

/// API Gateway's answer when the function failed or its output is not a proxy response.
pub fn bad_gateway() -> Reply {
    gateway_error(502, "Internal server error")
}

/// API Gateway's answer when the integration did not answer within its timeout.
pub fn timed_out() -> Reply {
    gateway_error(504, "Endpoint request timed out")
}

/// API Gateway's answer when it may not invoke the function (its resource policy does not let
/// API Gateway invoke it for this method): "Execution failed due to configuration error:
/// Invalid permissions on Lambda function", a 500 to the client.
pub fn not_permitted() -> Reply {
    gateway_error(500, "Internal server error")
}

fn gateway_error(status: u16, message: &str) -> Reply {
    (
        status,
        vec![("Content-Type".to_owned(), "application/json".to_owned())],
        json!({ "message": message }).to_string().into_bytes(),
    )
}

/// The HTTP answer for the function's output: `statusCode`, `headers` and `multiValueHeaders`
/// (merged, the latter winning), `body` (base64 when `isBase64Encoded`). Anything else is a 502,
/// as on API Gateway.
pub fn response(output: &[u8]) -> Reply {
    let Ok(Value::Object(output)) = serde_json::from_slice::<Value>(output) else {
        return bad_gateway();
    };
    let Some(status) = output
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
    else {
        return bad_gateway();
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(single)) = output.get("headers") {
        for (name, value) in single {
            if let Some(value) = value.as_str() {
                headers.push((name.clone(), value.to_owned()));
            }
        }
    }
    if let Some(Value::Object(multi)) = output.get("multiValueHeaders") {
        for (name, values) in multi {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            for value in values.as_array().into_iter().flatten() {
                if let Some(value) = value.as_str() {
                    headers.push((name.clone(), value.to_owned()));
                }
            }
        }
    }
    let body = match output.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if output.get("isBase64Encoded") == Some(&json!(true)) => {
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => bytes,
                Err(_) => return bad_gateway(),
            }
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(_) => return bad_gateway(),
    };
    (status, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apis_resource_and_methods_reach_the_function() {
        assert_eq!(
            route("GET", "/prod/approvals/abc%3Cx%3E"),
            Some(Routed {
                stage: "prod".into(),
                path: "/approvals/abc<x>".into(),
                id: "abc<x>".into(),
                n: None,
                fixed: None,
            })
        );
        let slack = route("POST", "/v1/slack/interactions").expect("routed");
        assert_eq!(
            (slack.resource(), slack.parameters()),
            (SLACK_RESOURCE, Value::Null)
        );
        assert_eq!(route("GET", "/v1/slack/interactions"), None);
        let sign_in = route("GET", "/v1/sign-in").expect("routed");
        assert_eq!(
            (sign_in.resource(), sign_in.parameters()),
            (SIGN_IN_RESOURCE, Value::Null)
        );
        assert_eq!(route("POST", "/v1/sign-in"), None);
        assert!(route("HEAD", "/v1/approvals/x").is_some());
        assert!(route("POST", "/v1/approvals/x").is_some());
        let attachment = route("GET", "/v1/approvals/x/attachments/2").expect("routed");
        assert_eq!(attachment.n.as_deref(), Some("2"));
        assert_eq!(attachment.resource(), ATTACHMENT_RESOURCE);
        assert!(route("HEAD", "/v1/approvals/x/attachments/2").is_some());
        assert_eq!(route("POST", "/v1/approvals/x/attachments/2"), None);
        assert_eq!(route("GET", "/v1/approvals/x/attachments/"), None);
        assert_eq!(route("GET", "/v1/approvals/x/attachments/2/3"), None);
        for (method, path) in [
            ("PUT", "/prod/approvals/x"),
            ("DELETE", "/prod/approvals/x"),
            ("GET", "/prod/approvals/"),
            ("GET", "/prod/approvals"),
            ("GET", "/prod/approvals/x/y"),
            ("GET", "/approvals/x"),
            ("GET", "//approvals/x"),
            ("GET", "/prod/other/x"),
            ("GET", "/"),
        ] {
            assert_eq!(route(method, path), None, "{method} {path}");
        }
    }

    fn incoming<'a>(
        headers: &'a [(String, String)],
        body: &'a [u8],
        query: &'a str,
    ) -> Incoming<'a> {
        Incoming {
            method: "POST",
            query,
            headers,
            body,
            source_ip: "127.0.0.1",
            port: 4010,
            request_id: "req-1",
            now_ms: 1_764_669_600_000,
        }
    }

    #[test]
    fn the_event_is_api_gateways_version_1_with_the_clients_host_and_the_stage() {
        let headers = vec![
            ("Host".to_owned(), "127.0.0.1:4010".to_owned()),
            ("Origin".to_owned(), "http://127.0.0.1:4010".to_owned()),
            ("Accept".to_owned(), "text/html".to_owned()),
            ("Accept".to_owned(), "*/*".to_owned()),
            ("X-Forwarded-For".to_owned(), "10.9.9.9".to_owned()),
        ];
        let routed = route("POST", "/prod/approvals/abc").expect("routed");
        let event = event(
            &routed,
            &incoming(&headers, b"decision=approve", "a=1&a=2&b=x"),
        );
        assert_eq!(event["resource"], "/approvals/{id}");
        assert_eq!(event["path"], "/approvals/abc");
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["headers"]["Host"], "127.0.0.1:4010");
        assert_eq!(event["headers"]["Origin"], "http://127.0.0.1:4010");
        assert_eq!(event["headers"]["Accept"], "*/*");
        assert_eq!(
            event["multiValueHeaders"]["Accept"],
            json!(["text/html", "*/*"])
        );
        // API Gateway sets X-Forwarded-For itself from the connection.
        assert_eq!(event["headers"]["X-Forwarded-For"], "127.0.0.1");
        assert_eq!(event["headers"]["X-Forwarded-Port"], "4010");
        assert_eq!(event["queryStringParameters"], json!({"a": "2", "b": "x"}));
        assert_eq!(
            event["multiValueQueryStringParameters"]["a"],
            json!(["1", "2"])
        );
        assert_eq!(event["pathParameters"], json!({"id": "abc"}));
        assert_eq!(event["requestContext"]["stage"], "prod");
        assert_eq!(event["requestContext"]["path"], "/prod/approvals/abc");
        assert_eq!(event["requestContext"]["domainName"], "127.0.0.1:4010");
        assert_eq!(event["body"], "decision=approve");
        assert_eq!(event["isBase64Encoded"], false);
        let empty = super::event(&routed, &incoming(&headers, b"", ""));
        assert_eq!(empty["body"], Value::Null);
        assert_eq!(empty["queryStringParameters"], Value::Null);
        let binary = super::event(&routed, &incoming(&headers, &[0xff, 0xfe], ""));
        assert_eq!(
            (binary["body"].as_str(), binary["isBase64Encoded"].as_bool()),
            (Some("//4="), Some(true))
        );
    }

    #[test]
    fn the_functions_proxy_response_becomes_http_and_anything_else_a_502() {
        let (status, headers, body) = response(
            br#"{"statusCode":409,"headers":{"content-type":"text/html","x-a":"1"},"multiValueHeaders":{"x-a":["2","3"]},"body":"<p>taken</p>","isBase64Encoded":false}"#,
        );
        assert_eq!(status, 409);
        assert_eq!(body, b"<p>taken</p>");
        assert!(headers.contains(&("content-type".into(), "text/html".into())));
        let x: Vec<_> = headers
            .iter()
            .filter(|(n, _)| n == "x-a")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(x, ["2", "3"]);
        let (_, _, body) = response(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#);
        assert_eq!(body, b"hi");
        for bad in [
            &b"not json"[..],
            br#"{"errorType":"Panic","errorMessage":"boom"}"#,
            br#"{"statusCode":"200"}"#,
            br#"{"statusCode":700}"#,
            br#"{"statusCode":200,"body":5}"#,
            br#"[]"#,
        ] {
            assert_eq!(response(bad).0, 502, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(missing_route().0, 403);
    }
}
