//! SSM Parameter Store: AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Operation>`.
//!
//! SAR, "Actions, resources, and condition keys for AWS Systems Manager": `ssm:GetParameter`
//! and `ssm:GetParameters` act on the `parameter` resource,
//! `arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}`:
//! `/hitl/slack` is `parameter/hitl/slack`, `slack` is `parameter/slack`. `GetParameters` is
//! authorized once per name. A `Name` may be a parameter's ARN (shared parameters) and may end
//! in a selector, `name:version` or `name:label` (SSM API reference, GetParameter). Parameter
//! names cannot contain `:`, so the selector is dropped from the resource; the docs do not say
//! how a selector reaches IAM, and dropping it is the reading under which a policy on the
//! parameter's ARN covers its versions.
//!
//! `WithDecryption` is noted in [`Needed::with_decryption`]: the `kms:Decrypt` it may also need
//! depends on the parameter's key, which only the router knows ([`super::ssm_decrypt`]).

use serde_json::Value;

use super::request::{Needed, Scope, Unknown, json_body, json_target, required};

const SERVICE: &str = "ssm";

/// What an SSM call needs.
pub(super) fn needed(call: &super::request::Call, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let operation = json_target(call, SERVICE, "AmazonSSM")?;
    let body = json_body(call, SERVICE, operation)?;
    let decrypt = body
        .get("WithDecryption")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let names: Vec<&str> = match operation {
        "GetParameter" => vec![required(&body, "Name", SERVICE, operation)?],
        "GetParameters" => names(&body, operation)?,
        other => return Err(Unknown::new(SERVICE, other, "operation not covered")),
    };
    Ok(names
        .into_iter()
        .map(|name| Needed {
            with_decryption: decrypt,
            ..Needed::new(&format!("ssm:{operation}"), parameter_arn(name, scope))
        })
        .collect())
}

/// The `Names` of a `GetParameters`.
fn names<'v>(body: &'v Value, operation: &str) -> Result<Vec<&'v str>, Unknown> {
    let names: Vec<&str> = body
        .get("Names")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names.is_empty() || names.iter().any(|n| n.is_empty()) {
        return Err(Unknown::new(SERVICE, operation, "no Names in the request"));
    }
    Ok(names)
}

/// The ARN of a parameter named `name` (a name or an ARN, with or without a selector).
pub(super) fn parameter_arn(name: &str, scope: Scope) -> String {
    if name.starts_with("arn:") {
        // arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME[:SELECTOR]
        let fields: Vec<&str> = name.splitn(7, ':').collect();
        return fields[..fields.len().min(6)].join(":");
    }
    let bare = name.split(':').next().unwrap_or(name);
    let path = bare.strip_prefix('/').unwrap_or(bare);
    scope.arn(SERVICE, &format!("parameter/{path}"))
}
