use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::*;
use kit_config::{Config, Overrides};

fn kit() -> PathBuf {
    kit_base::paths::root()
}

fn fixture() -> Config {
    Config::load(&kit().join("xtask/tests/lint/three-reviewers.yaml")).unwrap()
}

fn render_env(config: &Config, env: &str) -> String {
    let effective = config.resolve(env, &Overrides::default()).unwrap();
    stack(&Sources::in_kit(&kit()), &effective).unwrap()
}

fn resources(text: &str) -> serde_yaml::Mapping {
    let doc: Value = serde_yaml::from_str(text).unwrap();
    doc["Resources"].as_mapping().unwrap().clone()
}

/// The statements of `role`'s first inline policy.
fn statements<'a>(doc: &'a Value, role: &str) -> &'a [Value] {
    doc["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{role} has no inline policy"))
}

fn of_type<'a>(resources: &'a serde_yaml::Mapping, kind: &str) -> Vec<&'a Value> {
    resources
        .values()
        .filter(|r| r["Type"].as_str() == Some(kind))
        .collect()
}

#[test]
fn rendering_is_byte_identical() {
    let config = fixture();
    assert_eq!(render_env(&config, "prod"), render_env(&config, "prod"));
}

#[test]
fn every_resource_of_the_design_is_there() {
    let text = render_env(&fixture(), "prod");
    let resources = resources(&text);
    for (kind, count) in [
        ("AWS::SNS::Topic", 1),
        ("AWS::SNS::Subscription", 3),
        ("AWS::DynamoDB::Table", 1),
        ("AWS::ApiGateway::RestApi", 1),
        ("AWS::ApiGateway::Method", 5),
        ("AWS::ApiGateway::Deployment", 1),
        ("AWS::ApiGateway::Stage", 1),
        // Review, request, and remind (every approval's expiry check).
        ("AWS::Lambda::Function", 3),
        ("AWS::Lambda::Permission", 1),
        ("AWS::Logs::LogGroup", 5),
        ("AWS::IAM::Role", 5),
        ("AWS::Scheduler::ScheduleGroup", 1),
        ("AWS::SQS::Queue", 1),
        ("AWS::StepFunctions::StateMachine", 1),
    ] {
        assert_eq!(of_type(&resources, kind).len(), count, "{kind}");
    }
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    for output in [
        "ReviewBaseUrl",
        "TopicArn",
        "TableName",
        "StateMachineArn",
        "RequestFunctionArn",
    ] {
        assert!(doc["Outputs"][output]["Export"].is_mapping(), "{output}");
    }
}

#[test]
fn config_values_reach_the_template() {
    let text = render_env(&fixture(), "prod");
    let resources = resources(&text);
    let function = &resources["RequestFunction"]["Properties"];
    assert_eq!(function["MemorySize"], Value::from(1769));
    assert_eq!(function["Timeout"], Value::from(30));
    assert_eq!(function["Architectures"][0], Value::from("x86_64"));
    let env = &function["Environment"]["Variables"];
    assert_eq!(env["APPROVAL_TIMEOUT_SECONDS"], Value::from("604800"));
    assert_eq!(
        env["SLACK_WEBHOOK_PARAMETER"],
        Value::from("/acme/hitl/slack-webhook")
    );
    assert_eq!(
        env["REVIEWERS"],
        Value::from("ana@example.com,bo@example.org,chen@example.net")
    );
    let table = &resources["ApprovalsTable"];
    assert_eq!(table["DeletionPolicy"], Value::from("Retain"));
    let staging = render_env(&fixture(), "staging");
    let staging_resources = self::resources(&staging);
    let staging_table = &staging_resources["ApprovalsTable"];
    assert_eq!(
        staging_table["DeletionPolicy"],
        Value::from("RetainExceptOnCreate")
    );
    assert_eq!(staging_table["UpdateReplacePolicy"], Value::from("Retain"));
    // The definition carries the approval timeout and the backstop above it.
    let Value::Tagged(sub) = &resources["StateMachine"]["Properties"]["DefinitionString"] else {
        panic!("DefinitionString is not !Sub");
    };
    let definition = &sub.value;
    let asl: serde_json::Value = serde_json::from_str(definition[0].as_str().unwrap()).unwrap();
    assert_eq!(asl["States"]["RequestApproval"]["TimeoutSeconds"], 604_800);
    assert_eq!(
        asl["TimeoutSeconds"],
        604_800 + context::BACKSTOP_MARGIN_SECONDS
    );
    // Tags: the kit's own, then the config's.
    let tags = &resources["Topic"]["Properties"]["Tags"];
    assert_eq!(tags[0]["Key"], Value::from("hitl:project"));
    assert_eq!(tags[3]["Key"], Value::from("team"));
}

#[test]
fn each_reviewer_gets_a_subscription_filtered_to_his_messages() {
    let text = render_env(&fixture(), "prod");
    let resources = resources(&text);
    for email in ["ana@example.com", "bo@example.org", "chen@example.net"] {
        let subscription = &resources[context::reviewer_logical_id(email).as_str()]["Properties"];
        assert_eq!(subscription["Endpoint"], Value::from(email));
        assert_eq!(
            subscription["FilterPolicyScope"],
            Value::from("MessageAttributes")
        );
        let allowed: Vec<&str> = subscription["FilterPolicy"]["reviewer"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(allowed, [email, "all"]);
    }
}

#[test]
fn the_api_deployment_changes_with_the_api_only() {
    let deployment = |config: &str| {
        let config = Config::parse(Path::new("hitl.yaml"), config.to_owned()).unwrap();
        resources(&render_env(&config, "prod"))
            .iter()
            .find(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGateway::Deployment"))
            .map(|(k, _)| k.as_str().unwrap().to_owned())
            .unwrap()
    };
    let base = deployment("project: shop\nenvironments:\n  prod:\n");
    let other_memory =
        deployment("project: shop\nenvironments:\n  prod:\n    lambda:\n      memory_mb: 512\n");
    assert_eq!(base, other_memory, "the API did not change");
    let other_name = deployment("project: other\nenvironments:\n  prod:\n");
    assert_ne!(base, other_name, "the API's name changed");
}

#[test]
fn an_override_directory_adds_resources_and_outputs() {
    let text = render_env(&fixture(), "staging");
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        doc["Resources"]["AuditQueue"]["Type"],
        Value::from("AWS::SQS::Queue")
    );
    assert!(doc["Outputs"]["AuditQueueUrl"].is_mapping());
    assert!(doc["Outputs"]["ReviewBaseUrl"].is_mapping());
    assert!(!render_env(&fixture(), "prod").contains("AuditQueue"));
}

/// IAM: no wildcard action in an Allow; a wildcard resource only under a comment saying why.
#[test]
fn iam_is_least_privilege() {
    let mut templates = vec![render_env(&fixture(), "prod")];
    templates.push(bootstrap(&Sources::in_kit(&kit()), true).unwrap());
    templates.push(bootstrap(&Sources::in_kit(&kit()), false).unwrap());
    for text in &templates {
        let doc: Value = serde_yaml::from_str(text).unwrap();
        let mut statements = Vec::new();
        collect_statements(&doc, &mut statements);
        assert!(!statements.is_empty());
        for statement in statements {
            let actions: Vec<&str> = match &statement["Action"] {
                Value::String(a) => vec![a.as_str()],
                Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if statement["Effect"].as_str() == Some("Allow") {
                for action in actions {
                    assert!(!action.contains('*'), "wildcard action {action}");
                }
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() == "Resource: \"*\"" {
                // The statement starts at the nearest `- Sid:` above; a comment sits just above it.
                let start = (0..i)
                    .rev()
                    .find(|&j| {
                        let l = lines[j].trim_start();
                        l.starts_with("- Sid:") || l.starts_with("- Effect:")
                    })
                    .unwrap();
                assert!(
                    lines[start - 1].trim_start().starts_with('#'),
                    "no comment before the statement of line {}",
                    i + 1
                );
            }
        }
    }
}

fn collect_statements<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("Statement") {
                    out.extend(child.as_sequence().into_iter().flatten());
                } else {
                    collect_statements(child, out);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| collect_statements(v, out)),
        Value::Tagged(tagged) => collect_statements(&tagged.value, out),
        _ => {}
    }
}

#[test]
fn every_skipped_check_says_why() {
    let text = render_env(&fixture(), "prod");
    let mut skips = 0;
    for (name, resource) in resources(&text) {
        for skip in resource["Metadata"]["checkov"]["skip"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            skips += 1;
            let comment = skip["comment"].as_str().unwrap_or("");
            assert!(
                comment.len() > 40,
                "{name:?} skips {:?} without a reason",
                skip["id"]
            );
        }
    }
    assert!(skips > 0);
}

fn overrides_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn render_with(dir: &Path) -> Result<String, Diagnostic> {
    let mut effective = fixture().resolve("prod", &Overrides::default()).unwrap();
    effective.templates = Some(dir.to_owned());
    stack(&Sources::in_kit(&kit()), &effective)
}

#[test]
fn an_override_replaces_the_partial_of_the_same_name() {
    let dir = overrides_dir(&[("outputs.yaml.hbs", "  OnlyOutput:\n    Value: !Ref Topic\n")]);
    let doc: Value = serde_yaml::from_str(&render_with(dir.path()).unwrap()).unwrap();
    let outputs = doc["Outputs"].as_mapping().unwrap();
    assert_eq!(outputs.len(), 1);
}

#[test]
fn a_syntax_error_in_an_override_names_its_file_and_line() {
    let dir = overrides_dir(&[(
        "extra_resources.yaml.hbs",
        "  Queue:\n    Type: {{#if x}}\n",
    )]);
    let err = render_with(dir.path()).unwrap_err();
    assert!(err.file.ends_with("extra_resources.yaml.hbs"), "{err}");
    assert!(err.line.is_some(), "{err}");
    assert!(err.message.contains("syntax error"), "{err}");
}

#[test]
fn a_missing_variable_names_the_template_and_the_variable() {
    let dir = overrides_dir(&[(
        "extra_outputs.yaml.hbs",
        "  X:\n    Value: {{no_such_thing}}\n",
    )]);
    let err = render_with(dir.path()).unwrap_err();
    assert!(err.file.ends_with("extra_outputs.yaml.hbs"), "{err}");
    assert_eq!(err.line, Some((2, 12)), "{err}");
    assert!(
        err.message
            .contains("`no_such_thing` is not a template variable"),
        "{err}"
    );
}

#[test]
fn an_override_that_breaks_the_yaml_is_refused() {
    let dir = overrides_dir(&[("extra_resources.yaml.hbs", "  Queue:\n   Type: [unclosed\n")]);
    let err = render_with(dir.path()).unwrap_err();
    assert!(err.message.contains("not valid YAML"), "{err}");
}

/// The Step Functions actions a role's policy allows.
fn states_actions(
    resources: &serde_yaml::Mapping,
    role: &str,
) -> std::collections::BTreeSet<String> {
    let mut statements = Vec::new();
    collect_statements(&resources[role], &mut statements);
    statements
        .into_iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Sequence(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => vec![],
        })
        .filter(|a| a.starts_with("states:"))
        .collect()
}

/// The Step Functions calls a function's code makes, as IAM actions (`.send_task_success` →
/// `states:SendTaskSuccess`, `.describe_execution()` → `states:DescribeExecution`): its own, and
/// those of the shared executions adapter when it uses it.
fn states_calls(function: &str) -> std::collections::BTreeSet<String> {
    let lambdas = kit().join("lambdas");
    let dir = lambdas.join(function).join("src");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let uses = |f: &std::path::PathBuf| {
        std::fs::read_to_string(f)
            .unwrap()
            .contains("executions::Executions")
    };
    if files.iter().any(uses) {
        files.push(lambdas.join("adapters/src/executions.rs"));
    }
    let mut calls = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for prefix in [
            ".send_task_",
            ".describe_execution",
            ".get_execution_history",
        ] {
            for (i, _) in text.match_indices(prefix) {
                let word: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let camel: String = word
                    .split('_')
                    .map(|part| {
                        let mut part = part.to_owned();
                        part[..1].make_ascii_uppercase();
                        part
                    })
                    .collect();
                calls.insert(format!("states:{camel}"));
            }
        }
    }
    calls
}

/// Each function's role allows exactly the Step Functions calls its code makes: the review
/// function resumes with SendTaskSuccess only (a rejection is a success carrying the decision)
/// and asks DescribeExecution when a task is gone; the remind function asks DescribeExecution
/// of a record open at the last expiry check; the request function calls none.
#[test]
fn the_roles_allow_the_step_functions_calls_the_code_makes_and_no_more() {
    let resources = resources(&render_env(&fixture(), "prod"));
    let review = states_calls("review");
    assert_eq!(
        review,
        [
            "states:DescribeExecution".to_owned(),
            "states:SendTaskSuccess".to_owned()
        ]
        .into()
    );
    assert_eq!(states_actions(&resources, "ReviewFunctionRole"), review);
    let remind = states_calls("remind");
    assert_eq!(remind, ["states:DescribeExecution".to_owned()].into());
    assert_eq!(states_actions(&resources, "RemindFunctionRole"), remind);
    assert_eq!(
        states_actions(&resources, "RequestFunctionRole"),
        states_calls("request")
    );
}

/// An SQS queue subscribed to the topic is not encrypted with the AWS managed key
/// `alias/aws/sqs`: SNS must be allowed to use the queue's key, and that key's policy cannot be
/// changed, so every delivery would fail with KMS access denied
/// (https://docs.aws.amazon.com/sns/latest/dg/sns-enable-encryption-for-topic-sqs-queue-subscriptions.html).
/// SQS-managed SSE, or a customer managed key whose policy admits SNS, works.
#[test]
fn no_queue_subscribed_to_the_topic_uses_the_aws_managed_sqs_key() {
    let mut subscribed = 0;
    for env in ["staging", "prod"] {
        let resources = resources(&render_env(&fixture(), env));
        for subscription in of_type(&resources, "AWS::SNS::Subscription") {
            let properties = &subscription["Properties"];
            if properties["Protocol"].as_str() != Some("sqs") {
                continue;
            }
            let Value::Tagged(endpoint) = &properties["Endpoint"] else {
                panic!("an SQS endpoint that is not !GetAtt Queue.Arn");
            };
            let queue = endpoint.value.as_str().unwrap().trim_end_matches(".Arn");
            let key = &resources[queue]["Properties"]["KmsMasterKeyId"];
            assert!(
                !key.as_str().is_some_and(|k| k.ends_with("alias/aws/sqs")),
                "{queue} in {env} is encrypted with alias/aws/sqs, which SNS cannot use"
            );
            subscribed += 1;
        }
    }
    assert_eq!(subscribed, 1, "the fixture subscribes its audit queue");
}

/// A method an override adds through `extra_resources` goes live: the deployment's name changes
/// with it, and the deployment waits for it.
#[test]
fn a_method_an_override_adds_gets_a_new_deployment_that_serves_it() {
    let deployment = |text: &str| {
        resources(text)
            .into_iter()
            .find(|(_, r)| r["Type"].as_str() == Some("AWS::ApiGateway::Deployment"))
            .map(|(k, r)| (k.as_str().unwrap().to_owned(), r["DependsOn"].clone()))
            .unwrap()
    };
    let extra = "  \
  ApprovalOptionsMethod:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref ApprovalResource
      HttpMethod: OPTIONS
      AuthorizationType: NONE
      Integration:
        Type: MOCK
";
    let plain = render_with(overrides_dir(&[]).path()).unwrap();
    let dir = overrides_dir(&[("extra_resources.yaml.hbs", extra)]);
    let with_method = render_with(dir.path()).unwrap();
    let (before, _) = deployment(&plain);
    let (after, depends_on) = deployment(&with_method);
    assert_ne!(before, after, "the new method would never be deployed");
    let waits_for: Vec<&str> = depends_on
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        waits_for.contains(&"ApprovalOptionsMethod"),
        "{waits_for:?}"
    );
    assert!(waits_for.contains(&"ApprovalPostMethod"), "{waits_for:?}");
    // Nothing about the API changed: the same deployment.
    assert_eq!(
        before,
        deployment(&render_with(overrides_dir(&[]).path()).unwrap()).0
    );
}

/// A Slack parameter under a customer managed key: the request role may decrypt with that key,
/// only through SSM; under aws/ssm it gets no KMS permission at all.
#[test]
fn the_slack_parameters_key_is_granted_through_ssm_only() {
    let key_statements = |env: &str| -> Vec<Value> {
        let resources = resources(&render_env(&fixture(), env));
        let mut statements = Vec::new();
        collect_statements(&resources["RequestFunctionRole"], &mut statements);
        statements
            .into_iter()
            .filter(|s| s["Action"].as_str().is_some_and(|a| a.starts_with("kms:")))
            .cloned()
            .collect()
    };
    let prod = key_statements("prod");
    assert_eq!(prod.len(), 1, "{prod:?}");
    assert_eq!(prod[0]["Action"], Value::from("kms:Decrypt"));
    assert_eq!(
        prod[0]["Resource"],
        Value::from("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    );
    let Value::Tagged(via) = &prod[0]["Condition"]["StringEquals"]["kms:ViaService"] else {
        panic!("no kms:ViaService condition: {prod:?}");
    };
    assert_eq!(via.value, Value::from("ssm.${AWS::Region}.amazonaws.com"));
    assert!(key_statements("staging").is_empty());
}

/// `orchestrator: durable-function`: the durable workflow in place of the request function and
/// the state machine, with its DurableConfig, version and alias, and roles with exactly the
/// durable actions each side calls.
#[test]
fn the_durable_orchestrator_replaces_the_state_machine_and_the_request_function() {
    let text = render_env(&fixture(), "durable");
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let resources = resources(&text);
    assert!(of_type(&resources, "AWS::StepFunctions::StateMachine").is_empty());
    assert_eq!(of_type(&resources, "AWS::Lambda::Version").len(), 1);
    assert_eq!(of_type(&resources, "AWS::Lambda::Alias").len(), 1);
    let names: Vec<&str> = of_type(&resources, "AWS::Lambda::Function")
        .iter()
        .map(|f| f["Properties"]["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "acme-payments-durable-review",
            "acme-payments-durable-workflow",
            "acme-payments-durable-remind"
        ]
    );
    let workflow = &doc["Resources"]["WorkflowFunction"]["Properties"];
    // The backstop: the approval timeout (3d) and an hour; retention 180d capped at Lambda's 90.
    assert_eq!(
        workflow["DurableConfig"]["ExecutionTimeout"].as_u64(),
        Some(3 * 86_400 + 3_600)
    );
    assert_eq!(
        workflow["DurableConfig"]["RetentionPeriodInDays"].as_u64(),
        Some(90)
    );
    assert_eq!(
        workflow["Environment"]["Variables"]["APPROVAL_TIMEOUT_SECONDS"].as_str(),
        Some("259200")
    );
    // The version survives its replacement, for the executions still on it (deleting the
    // stack deletes the function with all its versions).
    let version = &doc["Resources"]["WorkflowVersion"];
    assert_eq!(version["DeletionPolicy"].as_str(), Some("Delete"));
    assert_eq!(version["UpdateReplacePolicy"].as_str(), Some("Retain"));
    let actions = |role: &str| -> Vec<String> {
        statements(&doc, role)
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::Sequence(list) => list
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
                one => vec![one.as_str().unwrap().to_owned()],
            })
            .collect()
    };
    let review = actions("ReviewFunctionRole");
    assert!(review.contains(&"lambda:SendDurableExecutionCallbackSuccess".to_owned()));
    assert!(
        !review.iter().any(|a| a.starts_with("states:")),
        "{review:?}"
    );
    let workflow_role = actions("WorkflowFunctionRole");
    for action in [
        "lambda:CheckpointDurableExecution",
        "lambda:GetDurableExecutionState",
        "dynamodb:PutItem",
        "sns:Publish",
        "kms:Decrypt",
    ] {
        assert!(workflow_role.contains(&action.to_owned()), "{action}");
    }
    assert!(
        !workflow_role
            .iter()
            .any(|a| a.contains("SendDurableExecutionCallback"))
    );
    let remind = actions("RemindFunctionRole");
    assert!(remind.contains(&"lambda:GetDurableExecution".to_owned()));
    assert!(
        !remind.iter().any(|a| a.starts_with("states:")),
        "{remind:?}"
    );
    // The review function knows which orchestrator to resume, the remind function which to
    // ask; the outputs name the alias.
    for function in ["ReviewFunction", "RemindFunction"] {
        assert_eq!(
            doc["Resources"][function]["Properties"]["Environment"]["Variables"]["ORCHESTRATOR"]
                .as_str(),
            Some("durable-function"),
            "{function}"
        );
    }
    assert!(doc["Outputs"]["WorkflowFunctionArn"].is_mapping());
    assert!(doc["Outputs"].get("StateMachineArn").is_none());
    assert!(doc["Parameters"].get("RequestCodeKey").is_none());
    assert!(doc["Parameters"]["WorkflowCodeKey"].is_mapping());
    // Step Functions environments render none of it.
    let prod = render_env(&fixture(), "prod");
    assert!(!prod.contains("Workflow") && !prod.contains("DurableConfig"));
}

/// The approval policies reach the functions; the review role reads the attachment buckets'
/// objects alone; the schedules have their group, their function and a role that may invoke it
/// only; the escalation address is subscribed once like a reviewer.
#[test]
fn the_policies_reach_the_functions_with_rights_for_exactly_what_they_do() {
    let text = render_env(&fixture(), "policies");
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let statement = |role: &str, sid: &str| -> Value {
        statements(&doc, role)
            .iter()
            .find(|s| s["Sid"].as_str() == Some(sid))
            .unwrap_or_else(|| panic!("{role} has no {sid} statement"))
            .clone()
    };
    let attachments = statement("ReviewFunctionRole", "Attachments");
    assert_eq!(attachments["Action"].as_str(), Some("s3:GetObject"));
    let buckets = serde_yaml::to_string(&attachments["Resource"]).unwrap();
    assert!(
        buckets.contains("s3:::acme-datasets.eu/*") && buckets.contains("s3:::acme-invoices/*"),
        "{buckets}"
    );
    assert_eq!(attachments["Resource"].as_sequence().unwrap().len(), 2);
    let env = &doc["Resources"]["RequestFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["QUORUM"].as_str(), Some("2"));
    assert_eq!(
        env["ATTACHMENT_BUCKETS"].as_str(),
        Some("acme-datasets.eu,acme-invoices")
    );
    assert_eq!(env["REMIND_AFTER_SECONDS"].as_str(), Some("43200"));
    assert_eq!(env["ESCALATE_AFTER_SECONDS"].as_str(), Some("86400"));
    let remind = &doc["Resources"]["RemindFunction"]["Properties"];
    assert_eq!(
        remind["Environment"]["Variables"]["ESCALATE_TO"].as_str(),
        Some("ana@example.com,cfo@example.com")
    );
    let create = statement("RequestFunctionRole", "Schedules");
    assert_eq!(create["Action"].as_str(), Some("scheduler:CreateSchedule"));
    let pass = statement("RequestFunctionRole", "PassSchedulerRole");
    assert_eq!(
        pass["Condition"]["StringEquals"]["iam:PassedToService"].as_str(),
        Some("scheduler.amazonaws.com")
    );
    let invoke = statement("SchedulerRole", "Remind");
    assert_eq!(invoke["Action"].as_str(), Some("lambda:InvokeFunction"));
    let resources = resources(&text);
    // The reviewers' topic's subscribers (the alarm topic has its own).
    let subscribed: Vec<&str> = of_type(&resources, "AWS::SNS::Subscription")
        .iter()
        .filter(|s| !format!("{:?}", s["Properties"]["TopicArn"]).contains("AlarmTopic"))
        .map(|s| s["Properties"]["Endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        subscribed,
        [
            "ana@example.com",
            "bo@example.org",
            "chen@example.net",
            "cfo@example.com"
        ]
    );
    // Without the keys: none of it, but every approval's expiry check.
    let plain = render_env(&fixture(), "prod");
    for absent in [
        "Sid: Attachments",
        "ATTACHMENT_BUCKETS",
        "REMIND_AFTER_SECONDS",
        "ESCALATE_TO",
    ] {
        assert!(!plain.contains(absent), "{absent}");
    }
    for present in [
        "RemindFunction",
        "ScheduleGroup",
        "RemindCodeKey",
        "Sid: Schedules",
    ] {
        assert!(plain.contains(present), "{present}");
    }
    assert!(plain.contains("QUORUM: \"1\""));
}

/// The durable workflow's version names its configuration: a version freezes the function's
/// configuration ("Function versions", Lambda Developer Guide), so a new reviewer, quorum,
/// timeout or memory size must publish a new version for the alias, and an unchanged config
/// must not.
#[test]
fn the_durable_version_changes_with_the_functions_configuration() {
    let description = |text: &str| -> String {
        let doc: Value = serde_yaml::from_str(text).unwrap();
        let described = &doc["Resources"]["WorkflowVersion"]["Properties"]["Description"];
        serde_yaml::to_string(described).unwrap()
    };
    let config = fixture();
    let base = config.resolve("durable", &Overrides::default()).unwrap();
    let render = |effective: &kit_config::Effective| {
        description(&stack(&Sources::in_kit(&kit()), effective).unwrap())
    };
    let first = render(&base);
    assert!(
        first.contains("package ${WorkflowCodeKey}, configuration "),
        "{first}"
    );
    assert_eq!(render(&base), first);
    let more = Overrides {
        emails: vec!["new@example.com".parse().unwrap()],
        ..Overrides::default()
    };
    let changed = [
        config.resolve("durable", &more).unwrap(),
        kit_config::Effective {
            approval_timeout: "2h".parse().unwrap(),
            ..base.clone()
        },
        kit_config::Effective {
            lambda: kit_config::EffectiveLambda {
                memory_mb: kit_config::values::MemoryMb::new(512),
                ..base.lambda.clone()
            },
            ..base.clone()
        },
    ];
    for effective in &changed {
        assert_ne!(render(effective), first);
    }
}

/// EventBridge Scheduler assumes its role with `aws:SourceArn` set to the schedule GROUP's ARN
/// ("Confused deputy prevention", EventBridge Scheduler User Guide), never a schedule's.
#[test]
fn scheduler_may_assume_its_role_for_the_stacks_schedule_group_only() {
    let text = render_env(&fixture(), "policies");
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let trust = &doc["Resources"]["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        [0];
    assert_eq!(
        trust["Principal"]["Service"].as_str(),
        Some("scheduler.amazonaws.com")
    );
    let Value::Tagged(source) = &trust["Condition"]["StringEquals"]["aws:SourceArn"] else {
        panic!("aws:SourceArn is not an !Sub: {:?}", trust["Condition"]);
    };
    assert_eq!(
        source.value.as_str(),
        Some(
            "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:\
             schedule-group/acme-payments-policies"
        )
    );
}

/// The Slack app: its interactivity route and output, its settings (names, never secrets) in
/// each function that calls Slack, and exactly its two parameters readable: the bot token by
/// every function that posts, the signing secret by the review function alone. The defaults'
/// webhook is replaced.
#[test]
fn the_slack_app_gets_its_route_its_output_and_exactly_its_two_parameters() {
    for env in ["slack", "slack-durable"] {
        let text = render_env(&fixture(), env);
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let resources = resources(&text);
        let method = &resources["SlackInteractionsMethod"]["Properties"];
        assert_eq!(method["HttpMethod"], Value::from("POST"));
        assert!(doc["Outputs"]["SlackInteractionsUrl"].is_mapping(), "{env}");
        assert!(!text.contains("SLACK_WEBHOOK_PARAMETER") && !text.contains("slack-webhook"));
        let parameters = |role: &str| -> Vec<String> {
            let mut found = Vec::new();
            collect_statements(&resources[role], &mut found);
            found
                .iter()
                .filter(|s| s["Action"].as_str() == Some("ssm:GetParameter"))
                .flat_map(|s| s["Resource"].as_sequence().cloned().unwrap_or_default())
                .map(|r| format!("{r:?}"))
                .collect()
        };
        let review = parameters("ReviewFunctionRole");
        assert_eq!(review.len(), 2, "{review:?}");
        assert!(
            review
                .iter()
                .any(|r| r.contains("parameter/acme/hitl/slack-signing-secret"))
        );
        let poster = if env == "slack" {
            "RequestFunctionRole"
        } else {
            "WorkflowFunctionRole"
        };
        for role in [poster, "RemindFunctionRole"] {
            let read = parameters(role);
            assert_eq!(read.len(), 1, "{role}: {read:?}");
            assert!(
                read[0].contains("parameter/acme/hitl/slack-bot-token"),
                "{read:?}"
            );
        }
        let env_of =
            |function: &str| &resources[function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            env_of("ReviewFunction")["SLACK_CHANNEL"],
            Value::from("C0123456789")
        );
        assert_eq!(
            env_of("RemindFunction")["SLACK_BOT_TOKEN_PARAMETER"],
            Value::from("/acme/hitl/slack-bot-token")
        );
    }
    let gov = render_env(&fixture(), "slack-durable");
    assert!(gov.contains("SLACK_API_URL: \"https://slack-gov.com/api/\""));
    // Its parameters under a customer managed key: each role that reads them may decrypt with
    // it, through SSM only; under aws/ssm (`slack`) no KMS statement at all.
    let key_statements = |text: &str, role: &str| -> usize {
        let resources = resources(text);
        let mut found = Vec::new();
        collect_statements(&resources[role], &mut found);
        found
            .iter()
            .filter(|s| s["Sid"].as_str() == Some("SlackAppKey"))
            .count()
    };
    for role in [
        "ReviewFunctionRole",
        "WorkflowFunctionRole",
        "RemindFunctionRole",
    ] {
        assert_eq!(key_statements(&gov, role), 1, "{role}");
    }
    assert!(gov.contains("kms:ViaService"));
    let sfn = render_env(&fixture(), "slack");
    assert!(sfn.contains("ESCALATE_TO: \"cfo@example.com\""));
    assert_eq!(key_statements(&sfn, "ReviewFunctionRole"), 0);
}

/// Sign-in: the callback's route, its permission and output, the provider's settings (the client
/// secret's parameter name, never a secret) in the review function alone, and that parameter
/// readable by it alone; nothing of it without sign-in.
#[test]
fn sign_in_gets_its_callback_its_settings_and_its_secrets_parameter_alone() {
    for (env, secret) in [("policies", true), ("policies-durable", false)] {
        let text = render_env(&fixture(), env);
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let resources = resources(&text);
        let method = &resources["SignInMethod"]["Properties"];
        assert_eq!(method["HttpMethod"], Value::from("GET"));
        assert_eq!(
            resources["SignInResource"]["Properties"]["PathPart"],
            Value::from("sign-in")
        );
        let permission = format!("{:?}", resources["SignInInvokePermission"]["Properties"]);
        assert!(permission.contains("/GET/sign-in"), "{permission}");
        assert!(doc["Outputs"]["SignInRedirectUri"].is_mapping(), "{env}");
        let review = &resources["ReviewFunction"]["Properties"]["Environment"]["Variables"];
        assert!(
            review["OIDC_ISSUER"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
        let redirect = format!("{:?}", review["OIDC_REDIRECT_URI"]);
        assert!(redirect.contains("/v1/sign-in"), "{redirect}");
        assert_eq!(review["OIDC_CLIENT_SECRET_PARAMETER"].is_string(), secret);
        let mut found = Vec::new();
        collect_statements(&resources["ReviewFunctionRole"], &mut found);
        let reads_secret = found
            .iter()
            .filter(|s| s["Sid"].as_str() == Some("SignInClientSecret"))
            .map(|s| format!("{:?}", s["Resource"]))
            .collect::<Vec<_>>();
        match secret {
            true => assert!(
                reads_secret.len() == 1
                    && reads_secret[0].contains("parameter/acme/hitl/oidc-secret"),
                "{reads_secret:?}"
            ),
            false => assert!(reads_secret.is_empty(), "{reads_secret:?}"),
        }
        for (name, resource) in &resources {
            if name.as_str() != Some("ReviewFunction") {
                assert!(!format!("{resource:?}").contains("OIDC_"), "{name:?}");
            }
        }
    }
    let without = render_env(&fixture(), "slack");
    assert!(!without.contains("SignIn") && !without.contains("OIDC_"));
    assert!(!without.contains("SIGN_IN") && !without.contains("TEAMS_"));
}

/// With sign-in, the functions that post to the shared channels know it (their messages carry a
/// channel link); with Teams, they name its parameter and may read it, and nothing else may.
#[test]
fn the_posting_functions_know_of_sign_in_and_read_the_teams_parameter_alone() {
    let text = render_env(&fixture(), "policies");
    let resources = resources(&text);
    let request = &resources["RequestFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(request["SIGN_IN"], Value::from("true"));
    assert_eq!(
        request["TEAMS_WEBHOOK_PARAMETER"],
        Value::from("/acme/hitl/teams-webhook")
    );
    for role in [
        "RequestFunctionRole",
        "ReviewFunctionRole",
        "RemindFunctionRole",
    ] {
        let mut found = Vec::new();
        collect_statements(&resources[role], &mut found);
        let teams: Vec<String> = found
            .iter()
            .filter(|s| s["Sid"].as_str() == Some("TeamsWebhook"))
            .map(|s| format!("{:?}", s["Resource"]))
            .collect();
        match role {
            "RequestFunctionRole" => assert!(
                teams.len() == 1 && teams[0].contains("parameter/acme/hitl/teams-webhook"),
                "{teams:?}"
            ),
            _ => assert!(teams.is_empty(), "{role}: {teams:?}"),
        }
    }
    let durable = render_env(&fixture(), "policies-durable");
    assert!(durable.contains("SIGN_IN: \"true\"") && !durable.contains("TEAMS_"));
    // Their parameters under a customer managed key: the role that reads each may decrypt with
    // it, through SSM only; none without (`policies-durable`).
    for (text, role, sid, count) in [
        (&text, "RequestFunctionRole", "TeamsWebhookKey", 1),
        (&text, "ReviewFunctionRole", "SignInClientSecretKey", 1),
        (&durable, "WorkflowFunctionRole", "TeamsWebhookKey", 0),
        (&durable, "ReviewFunctionRole", "SignInClientSecretKey", 0),
    ] {
        let of_text = self::resources(text);
        let mut found = Vec::new();
        collect_statements(&of_text[role], &mut found);
        let keys: Vec<_> = found
            .iter()
            .filter(|s| s["Sid"].as_str() == Some(sid))
            .collect();
        assert_eq!(keys.len(), count, "{role} {sid}");
        for key in keys {
            let via = format!("{:?}", key["Condition"]["StringEquals"]["kms:ViaService"]);
            assert!(via.contains("ssm."), "{via}");
        }
    }
}

/// The alarms: one on each function's errors and throttles, the API's 5XX, the reviewers'
/// failed deliveries, and (Step Functions) executions past the backstop; each notifies the
/// stack's alarm topic (its subscribers the config's) and the configured topic, or nobody.
#[test]
fn every_function_and_service_has_its_alarm_and_it_notifies_who_the_config_says() {
    let alarms_of = |env: &str| -> Vec<(String, Value)> {
        let text = render_env(&fixture(), env);
        of_type(&resources(&text), "AWS::CloudWatch::Alarm")
            .into_iter()
            .map(|a| {
                let name = a["Properties"]["AlarmName"].as_str().unwrap().to_owned();
                (name, a["Properties"]["AlarmActions"].clone())
            })
            .collect()
    };
    let policies = alarms_of("policies");
    let names: Vec<&str> = policies.iter().map(|(n, _)| n.as_str()).collect();
    let stack = "acme-payments-policies";
    for function in ["request", "review", "remind"] {
        for what in ["errors", "throttles"] {
            assert!(
                names.contains(&format!("{stack}-{function}-{what}").as_str()),
                "{names:?}"
            );
        }
    }
    let services = [
        "api-5xx",
        "notifications-failed",
        "executions-failed",
        "executions-timed-out",
        "unsettled-approvals",
        "schedules-failed",
        "reminders-dead-letters",
        "remind-dead-letter-errors",
    ];
    for name in services {
        assert!(
            names.contains(&format!("{stack}-{name}").as_str()),
            "{names:?}"
        );
    }
    assert_eq!(names.len(), 14);
    for (name, actions) in &policies {
        let actions = format!("{actions:?}");
        assert!(
            actions.contains("AlarmTopic") && actions.contains("acme-ops"),
            "{name}: {actions}"
        );
    }
    let text = render_env(&fixture(), "policies");
    let resources = resources(&text);
    assert_eq!(
        of_type(&resources, "AWS::SNS::Subscription")
            .iter()
            .filter(|s| { format!("{:?}", s["Properties"]["TopicArn"]).contains("AlarmTopic") })
            .count(),
        2
    );
    // The topic's policy names every alarm of the stack, and no other.
    let policy = &resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    let sources = format!("{:?}", policy["Condition"]["ArnEquals"]["aws:SourceArn"]);
    for (name, _) in &policies {
        assert!(
            sources.contains(&format!(":alarm:{name}\"")),
            "{name} not in {sources}"
        );
    }
    assert_eq!(
        sources.matches(":alarm:").count(),
        policies.len(),
        "{sources}"
    );
    // The durable workflow's: its functions and its executions; the configured topic alone.
    let durable = alarms_of("durable");
    assert_eq!(durable.len(), 14, "{durable:?}");
    assert!(
        durable
            .iter()
            .any(|(n, _)| n.ends_with("-executions-timed-out"))
    );
    assert!(
        durable
            .iter()
            .all(|(_, a)| format!("{a:?}").contains("acme-ops"))
    );
    assert!(durable.iter().any(|(n, _)| n.ends_with("-workflow-errors")));
    // Nobody to notify: the alarms stand (the console and `status` show them), with no action.
    let staging = alarms_of("staging");
    assert!(staging.iter().all(|(_, a)| a.is_null()), "{staging:?}");
    assert!(!render_env(&fixture(), "staging").contains("AlarmTopic"));
}

/// A reminder that cannot go is kept: Scheduler's dead-letter queue on each schedule (made by
/// the request side, which names the queue), the remind function's for its failed asynchronous
/// invocations, each sender allowed `sqs:SendMessage` on that queue alone; the queue encrypted,
/// kept 14 days, alarmed on. Without reminders there is no queue.
#[test]
fn reminders_that_cannot_go_land_in_an_encrypted_alarmed_queue() {
    let text = render_env(&fixture(), "policies");
    let resources = resources(&text);
    let queue = &resources["RemindersDeadLetterQueue"]["Properties"];
    assert_eq!(
        queue["QueueName"],
        "acme-payments-policies-reminders-dead-letters"
    );
    assert_eq!(queue["SqsManagedSseEnabled"], true);
    assert_eq!(queue["MessageRetentionPeriod"], 1_209_600);
    let queue_arn = |value: &Value| {
        matches!(value, Value::Tagged(t)
            if t.tag == "GetAtt" && t.value.as_str() == Some("RemindersDeadLetterQueue.Arn"))
    };
    let function = &resources["RemindFunction"]["Properties"];
    assert!(queue_arn(&function["DeadLetterConfig"]["TargetArn"]));
    let variables = &resources["RequestFunction"]["Properties"]["Environment"]["Variables"];
    assert!(queue_arn(&variables["SCHEDULE_DEAD_LETTER_ARN"]));
    for role in ["SchedulerRole", "RemindFunctionRole"] {
        let statements =
            &resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
        let sends: Vec<&Value> = statements
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|s| format!("{:?}", s["Action"]).contains("sqs:"))
            .collect();
        assert_eq!(sends.len(), 1, "{role}: {statements:?}");
        assert_eq!(sends[0]["Action"], "sqs:SendMessage", "{role}");
        assert!(queue_arn(&sends[0]["Resource"]), "{role}");
    }
    let alarm = &resources["RemindersDeadLettersAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(alarm["Statistic"], "Maximum");
    assert_eq!(alarm["Dimensions"][0]["Value"], queue["QueueName"]);
    // Every stack has it: every approval's expiry check is a schedule.
    let staging = render_env(&fixture(), "staging");
    assert!(staging.contains("RemindersDeadLetterQueue"), "staging");
}

/// What the functions count reaches CloudWatch in the stack's own namespace: each function is
/// told it, the state machine's log is counted into it, and the dashboard shows it beside what
/// failed, the functions, the review API and every alarm of the stack.
#[test]
fn the_dashboard_shows_the_stacks_metrics_and_every_alarm() {
    for env in ["policies", "durable"] {
        let text = render_env(&fixture(), env);
        let resources = resources(&text);
        let stack = format!("acme-payments-{env}");
        let namespace = format!("hitl/{stack}");
        for function in of_type(&resources, "AWS::Lambda::Function") {
            let variables = &function["Properties"]["Environment"]["Variables"];
            assert_eq!(
                variables["METRICS_NAMESPACE"].as_str(),
                Some(namespace.as_str())
            );
        }
        let Value::Tagged(body) = &resources["Dashboard"]["Properties"]["DashboardBody"] else {
            panic!("the dashboard's body is not under !Sub");
        };
        let body = body.value.as_str().unwrap();
        let variables: Vec<&str> = body
            .split("${")
            .skip(1)
            .map(|v| v.split('}').next().unwrap())
            .collect();
        assert!(
            variables
                .iter()
                .all(|v| ["AWS::Region", "AWS::Partition", "AWS::AccountId"].contains(v)),
            "{variables:?}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        // "x: Required: Yes, if y is specified" and the other way (Dashboard Body Structure and
        // Syntax, CloudWatch API Reference): PutDashboard refuses a body with one alone.
        for widget in widgets {
            assert_eq!(widget["x"].is_u64(), widget["y"].is_u64(), "{widget}");
        }
        let shown = body.to_string();
        for metric in [
            "ApprovalsRequested",
            "Decisions",
            "TimeToDecision",
            "Expiries",
            "Votes",
            "ExecutionsFailed",
            "NotificationsFailed",
        ] {
            assert!(
                shown.contains(&format!("[\"{namespace}\",\"{metric}\"")),
                "{metric}"
            );
        }
        let listed =
            widgets.iter().find(|w| w["type"] == "alarm").unwrap()["properties"]["alarms"].clone();
        let alarms = of_type(&resources, "AWS::CloudWatch::Alarm");
        assert_eq!(listed.as_array().unwrap().len(), alarms.len());
        for alarm in alarms {
            let name = alarm["Properties"]["AlarmName"].as_str().unwrap();
            assert!(
                listed.to_string().contains(&format!(":alarm:{name}\"")),
                "{name}"
            );
        }
        let filters = of_type(&resources, "AWS::Logs::MetricFilter");
        if env == "durable" {
            assert!(filters.is_empty(), "the durable workflow counts its own");
            continue;
        }
        assert_eq!(filters.len(), 2);
        for filter in filters {
            let transformation = &filter["Properties"]["MetricTransformations"][0];
            assert_eq!(
                transformation["MetricNamespace"].as_str(),
                Some(namespace.as_str())
            );
        }
    }
}
