//! The credentials endpoint the functions' SDK asks (its container credentials provider:
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` = `<router>/hitl-local/credentials/<stack>`, and the
//! function's binary as `AWS_CONTAINER_AUTHORIZATION_TOKEN`): Lambda assumes the function's role
//! for it, which the role's trust policy must allow, and the answer is a session of that role
//! ([`crate::sessions`]).

use serde_json::json;

use crate::{
    reply::{Reply, header},
    sessions::now,
    shared::Shared,
};

/// The session for the function `authorization` names in `stack`, or the refusal.
pub fn issue(shared: &Shared, stack: &str, authorization: Option<&str>) -> Reply {
    let Some(binary) = authorization.filter(|b| shared.upstreams.binaries.iter().any(|k| k == b))
    else {
        return refused(403, "the token names none of the kit's functions");
    };
    let function = format!("{stack}-{binary}");
    let role = shared
        .access
        .function_role(&function)
        .and_then(|arn| shared.access.role(&arn));
    let role = match role {
        Ok(role) => role,
        Err(error) => return refused(500, &error),
    };
    // Lambda assumes an execution role with nothing in the context to condition on.
    let trusted = shared
        .access
        .trusts(&role, "lambda.amazonaws.com", kit_iam::Context::new());
    if !trusted.is_allowed() {
        let why = format!(
            "Lambda cannot assume {} for {function}: its trust policy does not allow \
             lambda.amazonaws.com",
            role.arn
        );
        eprintln!("router: {why}");
        return refused(403, &why);
    }
    let issued = shared.sessions.mint(&role.arn, &function, now());
    (
        200,
        vec![header("Content-Type", "application/json")],
        issued.to_string().into_bytes(),
    )
}

fn refused(status: u16, message: &str) -> Reply {
    (
        status,
        vec![header("Content-Type", "application/json")],
        json!({"code": "AccessDenied", "message": message})
            .to_string()
            .into_bytes(),
    )
}
