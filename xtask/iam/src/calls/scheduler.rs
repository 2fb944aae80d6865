//! EventBridge Scheduler: REST JSON (EventBridge Scheduler API reference, and the URI templates
//! of the AWS SDK for Rust's aws-sdk-scheduler serializers):
//! - `POST /schedules/{Name}` CreateSchedule, `GET` GetSchedule, `PUT` UpdateSchedule,
//!   `DELETE` DeleteSchedule. The group is the body's `GroupName` (create, update) or the
//!   query's `groupName` (get, delete); absent, the `default` group (API reference, the
//!   `GroupName` of UpdateSchedule and the others: omitted, Scheduler takes the default group).
//! - `POST|GET|DELETE /schedule-groups/{Name}`: CreateScheduleGroup, GetScheduleGroup,
//!   DeleteScheduleGroup.
//!
//! SAR, "Actions, resources, and condition keys for Amazon EventBridge Scheduler": the schedule
//! actions act on `schedule`, `arn:${Partition}:scheduler:${Region}:${Account}:schedule/${GroupName}/${ScheduleName}`;
//! the group actions on `schedule-group`, `…:schedule-group/${GroupName}`;
//! `CreateScheduleGroup` takes `aws:RequestTag/${TagKey}` and `aws:TagKeys` from its `Tags`.
//!
//! CreateSchedule and UpdateSchedule hand Scheduler the target's execution role, so the caller
//! also needs `iam:PassRole` on `Target.RoleArn` ("Set up the execution role", EventBridge
//! Scheduler user guide; the managed policy AmazonEventBridgeSchedulerFullAccess grants it with
//! `iam:PassedToService` = `scheduler.amazonaws.com`). IAM sets `iam:PassedToService` to the
//! service principal the role is passed to ("IAM and AWS STS condition context keys",
//! iam:PassedToService). `iam:AssociatedResourceArn` is documented only for services that tie
//! the role to a resource of theirs; no Scheduler page says Scheduler sets it, so it is absent.
//! A schedule with a customer managed key (`KmsKeyArn`) needs KMS permissions not covered here.

use serde_json::Value;

use super::request::{Needed, Scope, Unknown, decoded, json_body, optional, segments};

const SERVICE: &str = "scheduler";
/// Scheduler's service principal.
const PRINCIPAL: &str = "scheduler.amazonaws.com";

/// What a Scheduler call needs.
pub(super) fn needed(call: &super::request::Call, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    match segments(call.path).as_slice() {
        ["schedules", name] => schedule(call, &decoded(name, SERVICE, "")?, scope),
        ["schedule-groups", name] => group(call, &decoded(name, SERVICE, "")?, scope),
        _ => Err(Unknown::new(
            SERVICE,
            "",
            format!("path {} not covered", call.path),
        )),
    }
}

/// `/schedules/{Name}`.
fn schedule(call: &super::request::Call, name: &str, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let operation = match call.method {
        "POST" => "CreateSchedule",
        "GET" => "GetSchedule",
        "PUT" => "UpdateSchedule",
        "DELETE" => "DeleteSchedule",
        other => {
            return Err(Unknown::new(
                SERVICE,
                other,
                "method not covered on /schedules",
            ));
        }
    };
    if name.is_empty() {
        return Err(Unknown::new(SERVICE, operation, "no schedule name"));
    }
    let writes = matches!(operation, "CreateSchedule" | "UpdateSchedule");
    let body = if writes {
        json_body(call, SERVICE, operation)?
    } else {
        Value::Null
    };
    let group = if writes {
        optional(&body, "GroupName").map(str::to_owned)
    } else {
        call.query_param("groupName")
    }
    .filter(|g| !g.is_empty())
    .unwrap_or_else(|| "default".to_owned());
    let arn = scope.arn(SERVICE, &format!("schedule/{group}/{name}"));
    let mut found = vec![Needed::new(&format!("scheduler:{operation}"), arn)];
    if writes {
        found.push(pass_role(&body, operation)?);
    }
    Ok(found)
}

/// The `iam:PassRole` of a schedule's `Target.RoleArn`.
fn pass_role(body: &Value, operation: &str) -> Result<Needed, Unknown> {
    if body.get("KmsKeyArn").is_some_and(|k| !k.is_null()) {
        return Err(Unknown::new(
            SERVICE,
            operation,
            "a schedule under a customer managed key (KmsKeyArn) is not covered",
        ));
    }
    let role = body
        .get("Target")
        .and_then(|target| optional(target, "RoleArn"))
        .filter(|role| !role.is_empty())
        .ok_or_else(|| Unknown::new(SERVICE, operation, "no Target.RoleArn in the request"))?;
    Ok(Needed::new("iam:PassRole", role).with("iam:PassedToService", PRINCIPAL))
}

/// `/schedule-groups/{Name}`.
fn group(call: &super::request::Call, name: &str, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let operation = match call.method {
        "POST" => "CreateScheduleGroup",
        "GET" => "GetScheduleGroup",
        "DELETE" => "DeleteScheduleGroup",
        other => {
            return Err(Unknown::new(
                SERVICE,
                other,
                "method not covered on /schedule-groups",
            ));
        }
    };
    if name.is_empty() {
        return Err(Unknown::new(SERVICE, operation, "no schedule group name"));
    }
    let arn = scope.arn(SERVICE, &format!("schedule-group/{name}"));
    let mut needed = Needed::new(&format!("scheduler:{operation}"), arn);
    if operation == "CreateScheduleGroup" {
        let body = json_body(call, SERVICE, operation)?;
        needed = with_request_tags(needed, &body);
    }
    Ok(vec![needed])
}

/// `aws:RequestTag/KEY` and `aws:TagKeys` of a body's `Tags: [{"Key", "Value"}]`.
fn with_request_tags(mut needed: Needed, body: &Value) -> Needed {
    let tags = body
        .get("Tags")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for tag in tags {
        if let (Some(key), Some(value)) = (optional(tag, "Key"), optional(tag, "Value")) {
            needed = needed
                .with(&format!("aws:RequestTag/{key}"), value)
                .with("aws:TagKeys", key);
        }
    }
    needed
}
