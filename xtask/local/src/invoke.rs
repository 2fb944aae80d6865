//! Lambda's `Invoke` API in front of `cargo lambda watch`, which serves each function binary by
//! its name (one `cargo lambda watch` per stack): which stack and binary a call invokes, and
//! what its answer becomes, as Lambda would give it.

use percent_encoding::percent_decode_str;

use crate::reply::{Reply, header};

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The `cargo lambda watch` of `stack`, at `path` (the function named by its binary).
    Lambda { stack: String, path: String },
    /// A Lambda invoke of a function the kit does not have.
    UnknownFunction(String),
    /// The durable execution APIs: the emulator ([`crate::durable`]).
    Durable,
    /// moto, unchanged.
    Moto,
}

/// Routes a request path. `binaries` are the function binaries (`request`, `review`); a
/// deployed function `<stack>-<binary>` (by name or ARN, with or without a qualifier) is served
/// by `<binary>` in the stack's `cargo lambda watch`.
pub fn route(path: &str, binaries: &[String]) -> Target {
    if path.starts_with(crate::durable::API_PREFIX) {
        return Target::Durable;
    }
    let Some(encoded) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
    else {
        return Target::Moto;
    };
    let name = percent_decode_str(encoded).decode_utf8_lossy();
    let function = if name.starts_with("arn:") {
        name.split(':').nth(6).unwrap_or("")
    } else {
        name.split(':').next().unwrap_or("")
    };
    match crate::stacks::of_function(function, binaries) {
        Some((stack, binary)) => Target::Lambda {
            stack: stack.to_owned(),
            path: format!("/2015-03-31/functions/{binary}/invocations"),
        },
        None => Target::UnknownFunction(function.to_owned()),
    }
}

/// What a cargo-lambda answer becomes, as Lambda's `Invoke` API would give it.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// Lambda answers a handler error with 200 and `X-Amz-Function-Error: Unhandled`, the error
/// document as the body; cargo-lambda answers it with 500. moto reads the request id of every
/// answer.
pub fn translate(status: u16, body: &[u8], request_id: &str) -> Translated {
    let mut headers = vec![header("x-amzn-RequestId", request_id)];
    let handler_error = status == 500
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("errorType").is_some());
    if handler_error {
        headers.push(header(crate::reply::FUNCTION_ERROR_HEADER, "Unhandled"));
        headers.push(header("X-Amz-Executed-Version", "$LATEST"));
        return Translated {
            status: 200,
            headers,
        };
    }
    if status == 200 {
        headers.push(header("X-Amz-Executed-Version", "$LATEST"));
    }
    Translated { status, headers }
}

/// Lambda's answer to a synchronous invoke that ran past the function's configured timeout
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html>): the invocation
/// is ended, an `Unhandled` function error. Its document is as observed from `aws lambda
/// invoke` (AWS documents `Sandbox.Timedout` for a timeout in the Init phase only). Here the
/// instance runs on, since cargo-lambda cannot end one invocation (see `crate::clock`).
pub fn timed_out(request_id: &str, timeout: std::time::Duration) -> Reply {
    let seconds = timeout.as_secs_f64();
    crate::reply::function_error(
        request_id,
        "Sandbox.Timedout",
        &format!("Task timed out after {seconds:.2} seconds"),
    )
}

/// Lambda's answer for a function that does not exist.
pub fn unknown_function(name: &str) -> Reply {
    not_found(&format!(
        "Function not found: {name} (the local environment serves the kit's functions only)"
    ))
}

/// Lambda's answer for a function of a stack the local environment does not serve (not
/// deployed here, or destroyed).
pub fn not_served(stack: &str, binary: &str) -> Reply {
    not_found(&format!(
        "Function not found: {stack}-{binary} (the stack {stack} is not deployed in the local \
         environment)"
    ))
}

fn not_found(message: &str) -> Reply {
    let body = serde_json::json!({ "Type": "User", "message": message });
    (
        404,
        vec![header("x-amzn-ErrorType", "ResourceNotFoundException")],
        body.to_string().into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binaries() -> Vec<String> {
        vec!["request".to_owned(), "review".to_owned()]
    }
    #[test]
    fn invokes_of_the_kits_functions_go_to_their_stacks_binaries() {
        let to_request = Target::Lambda {
            stack: "hitl-local".to_owned(),
            path: "/2015-03-31/functions/request/invocations".to_owned(),
        };
        for path in [
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahitl-local-request/invocations",
            "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hitl-local-request:$LATEST/invocations",
            "/2015-03-31/functions/hitl-local-request/invocations",
        ] {
            assert_eq!(route(path, &binaries()), to_request, "{path}");
        }
        // A binary's name alone is no deployed function.
        assert_eq!(
            route("/2015-03-31/functions/request/invocations", &binaries()),
            Target::UnknownFunction("request".to_owned())
        );
    }

    #[test]
    fn other_functions_are_unknown_and_other_calls_go_to_moto() {
        assert_eq!(
            route(
                "/2015-03-31/functions/someone-elses/invocations",
                &binaries()
            ),
            Target::UnknownFunction("someone-elses".to_owned())
        );
        assert_eq!(
            route(
                "/2015-03-31/functions/hitl-local-requester/invocations",
                &binaries()
            ),
            Target::UnknownFunction("hitl-local-requester".to_owned())
        );
        for path in [
            "/",
            "/2015-03-31/functions/request",
            "/moto-api/config",
            "/2015-03-31/functions",
        ] {
            assert_eq!(route(path, &binaries()), Target::Moto, "{path}");
        }
    }

    #[test]
    fn handler_errors_become_lambdas_function_errors() {
        let body = br#"{"errorType":"Hitl.InvalidRequest","errorMessage":"no title"}"#;
        let translated = translate(500, body, "id-1");
        assert_eq!(translated.status, 200);
        assert!(
            translated
                .headers
                .contains(&header("X-Amz-Function-Error", "Unhandled"))
        );
        assert!(
            translated
                .headers
                .contains(&header("x-amzn-RequestId", "id-1"))
        );
        // A 500 that is not a handler error stays one.
        assert_eq!(translate(500, b"<html>", "id-2").status, 500);
        let ok = translate(200, b"{}", "id-3");
        assert_eq!(ok.status, 200);
        assert!(!ok.headers.iter().any(|(n, _)| *n == "X-Amz-Function-Error"));
        assert!(ok.headers.contains(&header("x-amzn-RequestId", "id-3")));
    }
}
