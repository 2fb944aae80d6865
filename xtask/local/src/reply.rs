//! What the router answers, whether it answers itself or passes an upstream's answer on:
//! status, headers, body. One shape for every part of it (and `kit_iam`'s refusals).

use anyhow::Result;

/// An answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One header of a reply.
pub fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

/// Sends `reply` as the answer to `request`.
pub fn respond(request: tiny_http::Request, (status, headers, body): Reply) -> Result<()> {
    let mut response = tiny_http::Response::from_data(body).with_status_code(status);
    for (name, value) in headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    request.respond(response)?;
    Ok(())
}

/// The router's answer when it could not reach the upstream a call goes to (moto refused or
/// reset the connection, a function's runtime is gone): a 503 that says so, which the SDKs
/// retry, and never an empty answer.
pub fn unreachable(error: &anyhow::Error) -> Reply {
    let message = format!("the local environment's router could not reach its upstream: {error:#}");
    (
        503,
        vec![
            header("x-amzn-ErrorType", "ServiceUnavailable"),
            header("Content-Type", "application/json"),
        ],
        serde_json::json!({"__type": "ServiceUnavailable", "message": message})
            .to_string()
            .into_bytes(),
    )
}

/// The header of Lambda's answer to an invoke whose function failed.
pub const FUNCTION_ERROR_HEADER: &str = "X-Amz-Function-Error";

/// Lambda's answer to an invoke whose function failed outside its handler (the instance
/// timed out, or died): an `Unhandled` function error, `RequestId: <id> Error: <error>`.
pub fn function_error(request_id: &str, error_type: &str, error: &str) -> Reply {
    let body = serde_json::json!({
        "errorType": error_type,
        "errorMessage": format!("RequestId: {request_id} Error: {error}"),
    });
    (
        200,
        vec![
            header("x-amzn-RequestId", request_id),
            header(FUNCTION_ERROR_HEADER, "Unhandled"),
            header("X-Amz-Executed-Version", "$LATEST"),
            header("Content-Type", "application/json"),
        ],
        body.to_string().into_bytes(),
    )
}
