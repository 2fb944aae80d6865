//! Lambda's Runtime API, as the function instances reach it here: through the router, which
//! passes each call on to the `cargo lambda watch` that started the instance and sees the
//! instance take an invocation, for [`crate::clock`]. The instance's `AWS_LAMBDA_RUNTIME_API`
//! (cargo-lambda's `http://127.0.0.1:<port>/.rt/<function>`) becomes
//! `http://<router>/hitl-local/runtime/127.0.0.1:<port>/.rt/<function>`
//! (`xtask/local/cargo_run_built.sh`); the Rust runtime keeps a path in that address.
//!
//! The invocation an instance takes is the answer to its `GET …/runtime/invocation/next`
//! ("Using the Lambda runtime API for custom runtimes",
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>). cargo-lambda (1.9.2) names
//! it by an id of its own (the `/next` request's), not the invoke's, but copies Lambda's Cognito
//! identity header from the invoke onto that answer as it is: the router gives each invoke one,
//! [`CARRIER`], carrying its request id, and takes it off the answer before the instance sees
//! it.

/// Where the router serves the Runtime API.
pub const PATH: &str = "/hitl-local/runtime/";

/// The header that carries the router's request id from an invoke to the instance's answer from
/// `…/invocation/next` (Lambda's `Lambda-Runtime-Cognito-Identity`, which no invoke of the kit's
/// has).
pub const CARRIER: &str = "lambda-runtime-cognito-identity";

/// The identity the pool of which names the router as the carrier's sender.
const POOL: &str = "hitl-local-router";

/// The [`CARRIER`] header's value for the invocation `request_id`: a Cognito identity, as the
/// Rust runtime would read it, should it ever reach an instance.
pub fn carrier(request_id: &str) -> String {
    serde_json::json!({ "cognitoIdentityId": request_id, "cognitoIdentityPoolId": POOL })
        .to_string()
}

/// The Runtime API's address for `rest` (`<ip>:<port>/.rt/<path>`, after [`PATH`]): `None`
/// unless it is on this machine's loopback, on one of `ports` (the served stacks' watches), and
/// a Runtime API's path.
pub fn upstream(rest: &str, query: &str, ports: &[u16]) -> Option<String> {
    let (authority, path) = rest.split_once('/')?;
    let address: std::net::SocketAddr = authority.parse().ok()?;
    let served = address.ip().is_loopback() && ports.contains(&address.port());
    if !served || !path.starts_with(".rt/") {
        return None;
    }
    Some(match query {
        "" => format!("http://{authority}/{path}"),
        query => format!("http://{authority}/{path}?{query}"),
    })
}

/// The X-Ray trace root an invocation runs under, from the answer to `…/invocation/next`
/// (`Lambda-Runtime-Trace-Id`, which the runtime sets as `_X_AMZN_TRACE_ID`).
pub fn trace(headers: &[(String, String)]) -> Option<String> {
    let (_, trace) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("lambda-runtime-trace-id"))?;
    crate::ledger::trace_root(trace).map(str::to_owned)
}

/// The request id the router gave the invocation an instance took with the call `method`
/// `path`, answered `status` with `headers` (`None` unless it took one of the router's); the
/// carrier is taken off `headers` whatever the call.
pub fn taken(
    method: &str,
    path: &str,
    status: u16,
    headers: &mut Vec<(String, String)>,
) -> Option<String> {
    let at = headers
        .iter()
        .position(|(name, _)| name.eq_ignore_ascii_case(CARRIER))?;
    let (_, carried) = headers.remove(at);
    let next = method == "GET" && path.ends_with("/runtime/invocation/next");
    let identity: serde_json::Value = serde_json::from_str(&carried).ok()?;
    let id = identity["cognitoIdentityId"].as_str()?;
    (next && status == 200 && identity["cognitoIdentityPoolId"] == POOL).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_served_watchs_runtime_api_is_reached() {
        let rest = "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next";
        assert_eq!(
            upstream(rest, "", &[9000]).as_deref(),
            Some("http://127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next")
        );
        assert_eq!(
            upstream("[::1]:9000/.rt/a", "x=1", &[9000]).as_deref(),
            Some("http://[::1]:9000/.rt/a?x=1")
        );
        let elsewhere = [
            "10.0.0.1:9000/.rt/a",
            "example.com:80/.rt/a",
            "127.0.0.1/.rt/a",
            // moto, say: a loopback port no watch serves.
            "127.0.0.1:9001/.rt/a",
            // Not the Runtime API.
            "127.0.0.1:9000/2015-03-31/functions/review/invocations",
            "",
        ];
        for rest in elsewhere {
            assert_eq!(upstream(rest, "", &[9000]), None, "{rest}");
        }
    }

    #[test]
    fn an_invocation_is_taken_by_the_answer_to_next_that_carries_the_routers_id() {
        let carried = || {
            vec![(
                "Lambda-Runtime-Cognito-Identity".to_owned(),
                carrier("hitl-router-7"),
            )]
        };
        let next = "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next";
        let mut headers = carried();
        assert_eq!(
            taken("GET", next, 200, &mut headers).as_deref(),
            Some("hitl-router-7")
        );
        assert!(headers.is_empty(), "the instance never sees the carrier");
        // Nothing taken (an empty answer), or another call: the carrier still comes off.
        let response = "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/x/response";
        for (method, path, status) in [("GET", next, 204), ("POST", response, 202)] {
            let mut headers = carried();
            assert_eq!(taken(method, path, status, &mut headers), None);
            assert!(headers.is_empty());
        }
        // No carrier, or someone else's identity.
        assert_eq!(taken("GET", next, 200, &mut Vec::new()), None);
        let other = r#"{"cognitoIdentityId":"a","cognitoIdentityPoolId":"us-east-1:p"}"#;
        let mut headers = vec![(CARRIER.to_owned(), other.to_owned())];
        assert_eq!(taken("GET", next, 200, &mut headers), None);
    }
}
