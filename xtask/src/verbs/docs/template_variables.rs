//! The template variables: every path of the render context (`kit_render::context::
//! StackContext`) as a sample environment that turns every option on serializes it, each with
//! its description from [`DESCRIPTIONS`]. A path without one, or a description of a path the
//! context no longer has, is an error: the reference never falls behind the code.

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::Value;

use kit_render::context::StackContext;

/// An environment with every option on, so that no part of the context is `null`.
const SAMPLE: &str = "\
project: example
environments:
  sample:
    approval_timeout: 3d
    reviewers: [ana@example.com, bo@example.com, cy@example.com]
    quorum: 2
    remind_after: 12h
    escalate_after: 2d
    escalate_to: [cfo@example.com]
    attachment_buckets: [acme-invoices]
    slack_webhook_parameter: /hitl/slack-webhook
    slack_webhook_kms_key: arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab
    alarm_emails: [ops@example.com]
    alarm_topic_arn: arn:aws:sns:us-east-1:123456789012:ops-alarms
    teams_webhook_parameter: /hitl/teams-webhook
    teams_webhook_kms_key: arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab
    sign_in:
      issuer: https://login.example.com/
      client_id: hitl-reviews
      client_secret_parameter: /hitl/oidc-secret
      kms_key: arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab
    tags: {team: finance}
    orchestrator: durable-function
";

/// What each variable is, by path (`list[].field` for the fields of a list's items).
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("project", "The config's `project`."),
    ("environment", "The environment's name (`--env`)."),
    (
        "stack_name",
        "`<project>-<environment>`: the stack's name, and the prefix of every resource name.",
    ),
    (
        "approval_timeout_seconds",
        "`approval_timeout` in seconds: how long reviewers have.",
    ),
    (
        "execution_timeout_seconds",
        "The workflow's own timeout, the backstop: the approval timeout plus one hour.",
    ),
    (
        "retention_seconds",
        "`retention` in seconds: how long a record outlives its expiry (DynamoDB TTL).",
    ),
    (
        "reviewers",
        "The reviewers (`reviewers` and `--email`), in order.",
    ),
    ("reviewers[].email", "His address."),
    (
        "reviewers[].logical_id",
        "`ReviewerSubscription` + 8 hex digits of the address's SHA-256: his subscription's logical ID, the same across renders and whatever the order.",
    ),
    (
        "reviewer_list",
        "The reviewers' addresses, comma-separated (the request function's `REVIEWERS`).",
    ),
    (
        "subscribers",
        "Who the topic delivers to: the reviewers, then the `escalate_to` addresses that are not reviewers.",
    ),
    ("subscribers[].email", "The address."),
    (
        "subscribers[].logical_id",
        "Its subscription's logical ID, as `reviewers[].logical_id`.",
    ),
    ("quorum", "How many different reviewers must approve."),
    (
        "schedules",
        "The reminder and escalation settings; `null` when the environment has neither (no schedule group, no remind function).",
    ),
    (
        "schedules.remind_after_seconds",
        "`remind_after` in seconds; `null` without a reminder.",
    ),
    (
        "schedules.escalate_after_seconds",
        "`escalate_after` in seconds; `null` without escalation.",
    ),
    (
        "schedules.escalate_list",
        "The `escalate_to` addresses, comma-separated (empty without escalation).",
    ),
    (
        "attachment_buckets",
        "The buckets the review function may read attachments from (`attachment_buckets`).",
    ),
    (
        "attachment_bucket_list",
        "The same, comma-separated, for the request function's environment.",
    ),
    (
        "slack_webhook_parameter",
        "The SSM parameter's name holding the Slack webhook URL; `null` without Slack.",
    ),
    (
        "slack_webhook_kms_key",
        "The customer managed KMS key of that parameter; `null` when it is `aws/ssm`.",
    ),
    (
        "slack_parameter_path",
        "The parameter's name without its leading `/`, as it follows `parameter/` in an ARN; `null` without Slack.",
    ),
    (
        "slack_app",
        "The Slack app: `channel`, `api_url`, `bot_token_parameter` and `signing_secret_parameter` (names, never values), and `bot_token_path` and `signing_secret_path` (without the leading `/`, as they follow `parameter/` in an ARN), and `kms_key` (the parameters' customer managed key, `null` under aws/ssm); `null` without it.",
    ),
    (
        "sign_in",
        "Sign-in with the company's identity provider; `null` without it.",
    ),
    (
        "sign_in.issuer",
        "The provider's issuer, exactly as configured.",
    ),
    (
        "sign_in.client_id",
        "The review function's client at the provider.",
    ),
    (
        "sign_in.client_secret_parameter",
        "The SSM parameter's name holding the client secret (never the secret); `null` for a public client.",
    ),
    (
        "sign_in.client_secret_path",
        "That name without its leading `/`, as it follows `parameter/` in an ARN.",
    ),
    (
        "sign_in.claim",
        "The ID token's claim matched against the reviewers (`email` by default).",
    ),
    (
        "sign_in.kms_key",
        "The client secret parameter's customer managed KMS key; `null` when it is `aws/ssm`.",
    ),
    (
        "teams_webhook_kms_key",
        "The Teams parameter's customer managed KMS key; `null` when it is `aws/ssm`.",
    ),
    (
        "teams_webhook_parameter",
        "The SSM parameter's name holding the Teams Workflows webhook URL; `null` without Teams.",
    ),
    (
        "teams_parameter_path",
        "That name without its leading `/`, as it follows `parameter/` in an ARN; `null` without Teams.",
    ),
    ("alarms", "The stack's alarms and who they notify."),
    (
        "alarms.emails",
        "The alarm topic's subscribers (`alarm_emails`): `email` and `logical_id` (`AlarmSubscription` + 8 hex digits of the address's SHA-256); the topic exists only when there are any.",
    ),
    ("alarms.emails[].email", "His address."),
    (
        "alarms.emails[].logical_id",
        "His subscription's logical ID, the same across renders.",
    ),
    (
        "alarms.topic_arn",
        "`alarm_topic_arn`, an existing topic the alarms notify too; `null` without.",
    ),
    (
        "alarms.notify",
        "Whether the alarms notify anyone (`alarm_emails` or `alarm_topic_arn`).",
    ),
    (
        "alarms.names",
        "Every alarm's name (`<stack>-…`), as the alarm topic's policy lists them.",
    ),
    (
        "dashboard",
        "The dashboard's body: JSON under `!Sub`, whose only variables are `${AWS::Region}`, \
         `${AWS::Partition}` and `${AWS::AccountId}`.",
    ),
    (
        "alarms.functions",
        "The stack's functions, each with its errors and throttles alarms.",
    ),
    (
        "alarms.functions[].name",
        "The binary (`review`): the function is `<stack>-<name>`.",
    ),
    (
        "alarms.functions[].logical_id",
        "The name capitalised (`Review`): its alarms are `<logical_id>ErrorsAlarm` and `<logical_id>ThrottlesAlarm`.",
    ),
    ("lambda", "The functions' settings."),
    ("lambda.architecture", "`arm64` or `x86_64`."),
    ("lambda.memory_mb", "Memory in MB."),
    (
        "lambda.timeout_seconds",
        "The functions' timeout in seconds.",
    ),
    ("log_retention_days", "Every log group's retention in days."),
    ("api", "The review API."),
    ("api.stage_name", "The stage in every review link (`v1`)."),
    (
        "api.throttle_rate",
        "The stage's steady-state requests per second.",
    ),
    ("api.throttle_burst", "The stage's burst."),
    (
        "api.methods",
        "The methods of `/approvals/{id}`: GET, HEAD, POST.",
    ),
    ("api.methods[].verb", "`GET`, `HEAD` or `POST`."),
    ("api.methods[].logical_id", "The method's logical ID."),
    (
        "api.methods[].safe",
        "Whether the method never changes state (GET and HEAD).",
    ),
    (
        "api.attachment_methods",
        "The methods of an attachment's link, `/approvals/{id}/attachments/{n}`: GET, HEAD.",
    ),
    ("api.attachment_methods[].verb", "`GET` or `HEAD`."),
    (
        "api.attachment_methods[].logical_id",
        "The method's logical ID.",
    ),
    (
        "api.attachment_methods[].safe",
        "Always true: a download changes nothing.",
    ),
    (
        "api.deployment_id",
        "`ApiDeployment` + a hash of every API Gateway resource of the rendered template (an override's too): a change to what the API serves makes a new deployment. Filled in by the renderer.",
    ),
    (
        "api.deployed_methods",
        "The logical IDs of every method of the rendered template (the kit's and an override's), which the deployment waits for. Filled in by the renderer.",
    ),
    ("table", "The approvals table."),
    (
        "table.deletion_policy",
        "`RetainExceptOnCreate`, `Retain` or `Delete`.",
    ),
    (
        "table.update_replace_policy",
        "The same, with `Retain` for `RetainExceptOnCreate` (which `UpdateReplacePolicy` lacks).",
    ),
    (
        "tags",
        "Every resource's tags: `hitl:project`, `hitl:environment`, then the config's `tags`.",
    ),
    ("tags[].key", "The tag's key."),
    ("tags[].value", "The tag's value."),
    (
        "definition",
        "The state machine's definition (JSON, timeouts filled in), for `DefinitionString`.",
    ),
    (
        "orchestrator",
        "`step-functions` or `durable-function` (the review function's `ORCHESTRATOR`).",
    ),
    (
        "durable",
        "The durable workflow's settings; `null` under Step Functions.",
    ),
    (
        "durable.execution_timeout_seconds",
        "The execution's timeout: `execution_timeout_seconds`.",
    ),
    (
        "durable.retention_days",
        "How long a finished execution is kept: the retention in whole days, 1 to 90.",
    ),
    ("durable.alias", "The alias executions start on (`live`)."),
    (
        "durable.configuration",
        "A hash of the workflow function's whole rendered configuration, in its version's description, so that any change publishes a new version. Filled in by the renderer.",
    ),
];

pub fn render() -> Result<String> {
    let config = kit_config::Config::parse(
        Path::new("(the template variables' sample)"),
        SAMPLE.to_owned(),
    )?;
    let effective = config.resolve_for_render("sample", &Default::default())?;
    let context = serde_json::to_value(StackContext::new(&effective, "{}".to_owned()))?;
    let mut paths = Vec::new();
    walk(&context, "", &mut paths);
    check(&paths, DESCRIPTIONS)?;
    let mut out = String::from("| variable | type | description |\n| --- | --- | --- |\n");
    for (path, kind) in &paths {
        let description = described(path, DESCRIPTIONS).unwrap_or_default();
        out.push_str(&format!("| `{path}` | {kind} | {description} |\n"));
    }
    Ok(out)
}

fn described<'a>(path: &str, descriptions: &[(&str, &'a str)]) -> Option<&'a str> {
    descriptions
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, d)| *d)
}

/// Fails naming every path without a description and every description without a path.
fn check(paths: &[(String, String)], descriptions: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = paths
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| described(p, descriptions).is_none())
        .collect();
    let gone: Vec<&str> = descriptions
        .iter()
        .map(|(p, _)| *p)
        .filter(|d| !paths.iter().any(|(p, _)| p == d))
        .collect();
    if !missing.is_empty() || !gone.is_empty() {
        bail!(
            "template variables without a description: [{}]; descriptions of no variable: [{}]: \
             bring DESCRIPTIONS in xtask/src/verbs/docs/template_variables.rs up to date",
            missing.join(", "),
            gone.join(", ")
        );
    }
    Ok(())
}

/// Every path under `value` with its JSON type, parents before their fields.
fn walk(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    let Value::Object(fields) = value else { return };
    for (key, field) in fields {
        let path = format!("{prefix}{key}");
        let items = field.as_array().and_then(|a| a.first());
        out.push((path.clone(), kind(field)));
        match (field, items) {
            (Value::Object(_), _) => walk(field, &format!("{path}."), out),
            (_, Some(item @ Value::Object(_))) => walk(item, &format!("{path}[]."), out),
            _ => {}
        }
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "boolean".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Object(_) => "object".to_owned(),
        Value::Array(items) => match items.first() {
            Some(item) => format!("list of {}s", kind(item)),
            None => "list".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_without_a_description_or_a_description_without_a_path_fails() {
        let paths = vec![("a".to_owned(), "string".to_owned())];
        assert!(check(&paths, &[("a", "A.")]).is_ok());
        let error = check(&paths, &[("b", "B.")]).unwrap_err().to_string();
        assert!(error.contains("without a description: [a]"), "{error}");
        assert!(error.contains("of no variable: [b]"), "{error}");
    }

    #[test]
    fn every_path_is_walked_with_list_items_as_brackets() {
        let mut out = Vec::new();
        walk(
            &serde_json::json!({"a": {"b": 1}, "l": [{"c": true}], "s": ["x"]}),
            "",
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["a", "a.b", "l", "l[].c", "s"]);
        assert_eq!(out[2].1, "list of objects");
    }
}
