//! Lambda's Runtime API, as the function instances reach it here: through the router, which
//! passes each call on to the `cargo lambda watch` that started the instance and sees the
//! instance take an invocation, for [`crate::clock`]. The instance's `AWS_LAMBDA_RUNTIME_API`
//! (cargo-lambda's `http://127.0.0.1:<port>/.rt/<function>`) becomes
//! `http://<router>/hitl-local/runtime/127.0.0.1:<port>/.rt/<function>`
//! (`xtask/local/cargo_run_built.sh`); the Rust runtime keeps a path in that address.
//!
//! The invocation an instance takes is the answer to its `GET …/runtime/invocation/next`, named
//! by its `Lambda-Runtime-Aws-Request-Id` ("Using the Lambda runtime API for custom runtimes",
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>). cargo-lambda takes that id
//! from the invoke's own header of that name, which the router sets to its request id.

/// Where the router serves the Runtime API.
pub const PATH: &str = "/hitl-local/runtime/";

/// The header of the invocation's request id, on an invoke to cargo-lambda and on the answer
/// to `…/invocation/next`.
pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";

/// The Runtime API's address for `rest` (`<ip>:<port>/<path>`, after [`PATH`]): `None` unless
/// it is on this machine's loopback.
pub fn upstream(rest: &str, query: &str) -> Option<String> {
    let (authority, path) = rest.split_once('/')?;
    let address: std::net::SocketAddr = authority.parse().ok()?;
    if !address.ip().is_loopback() {
        return None;
    }
    Some(match query {
        "" => format!("http://{authority}/{path}"),
        query => format!("http://{authority}/{path}?{query}"),
    })
}

/// The request id of the invocation an instance took with the call `method` `path`, answered
/// `status` with `headers`: `None` unless it took one.
pub fn taken<'a>(
    method: &str,
    path: &str,
    status: u16,
    headers: &'a [(String, String)],
) -> Option<&'a str> {
    let next = method == "GET" && path.ends_with("/runtime/invocation/next");
    let id = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(REQUEST_ID));
    id.filter(|_| next && status == 200)
        .map(|(_, id)| id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_runtime_api_on_loopback_is_reached() {
        let rest = "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next";
        assert_eq!(
            upstream(rest, "").as_deref(),
            Some("http://127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next")
        );
        assert_eq!(
            upstream("[::1]:9000/a", "x=1").as_deref(),
            Some("http://[::1]:9000/a?x=1")
        );
        for elsewhere in [
            "10.0.0.1:9000/.rt",
            "example.com:80/.rt",
            "127.0.0.1/.rt",
            "",
        ] {
            assert_eq!(upstream(elsewhere, ""), None, "{elsewhere}");
        }
    }

    #[test]
    fn an_invocation_is_taken_by_the_answer_to_next_only() {
        let id = vec![(
            "Lambda-Runtime-Aws-Request-Id".to_owned(),
            "hitl-router-7".to_owned(),
        )];
        let next = "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/next";
        assert_eq!(taken("GET", next, 200, &id), Some("hitl-router-7"));
        // Nothing to take (cargo-lambda's 204), or another call.
        assert_eq!(taken("GET", next, 204, &id), None);
        let response =
            "127.0.0.1:9000/.rt/review/2018-06-01/runtime/invocation/hitl-router-7/response";
        assert_eq!(taken("POST", response, 202, &id), None);
        assert_eq!(taken("GET", next, 200, &[]), None);
    }
}
