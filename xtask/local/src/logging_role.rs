//! API Gateway's check of the account's logging role, which moto does not make: an
//! `UpdateAccount` (`PATCH /account`) naming a `cloudwatchRoleArn` that API Gateway may not
//! assume is refused with `BadRequestException`, "The role ARN does not have required
//! permissions set to API Gateway" (the error AWS answers for a role that does not exist, does
//! not trust `apigateway.amazonaws.com`, or that IAM has not propagated yet).

use serde_json::Value;

use crate::{
    access::Access,
    reply::{Reply, header},
};

/// The refusal of `body`'s `UpdateAccount`, or `None` when API Gateway may assume the role it
/// names (or it names none).
pub fn refused(access: &Access, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
    if method != "PATCH" || path != "/account" {
        return None;
    }
    let role_arn = role_of(body)?;
    let trusted = access.role(&role_arn).map(|role| {
        let context = kit_iam::Context::from([(
            "aws:sourceaccount".to_owned(),
            vec![kit_base::local::ACCOUNT_ID.to_owned()],
        )]);
        access
            .trusts(&role, "apigateway.amazonaws.com", context)
            .is_allowed()
    });
    if trusted == Ok(true) {
        return None;
    }
    eprintln!("router: API Gateway may not assume {role_arn} ({trusted:?})");
    let body = serde_json::json!({
        "message": "The role ARN does not have required permissions set to API Gateway",
    });
    Some((
        400,
        vec![
            header("Content-Type", "application/json"),
            header("x-amzn-ErrorType", "BadRequestException"),
        ],
        body.to_string().into_bytes(),
    ))
}

/// The role an `UpdateAccount` body's patch operations set.
fn role_of(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body["patchOperations"]
        .as_array()?
        .iter()
        .filter(|op| op["path"] == "/cloudwatchRoleArn")
        .find_map(|op| op["value"].as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_is_read_from_the_patch() {
        let body = br#"{"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/r"}]}"#;
        assert_eq!(
            role_of(body).as_deref(),
            Some("arn:aws:iam::123456789012:role/r")
        );
        let other =
            br#"{"patchOperations": [{"op": "replace", "path": "/features", "value": "x"}]}"#;
        assert_eq!(role_of(other), None);
    }
}
