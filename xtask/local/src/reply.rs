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
