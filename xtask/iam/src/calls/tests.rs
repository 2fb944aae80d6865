//! Tests of [`super::needed`]: requests shaped as the AWS SDK for Rust sends them (methods,
//! paths, `X-Amz-Target`, bodies), each service's covered operations and the refusals of what
//! is not covered.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::*;
use crate::{Context, Principal};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const TABLE: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/hitl-approvals";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:hitl-notify";
const EXECUTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:hitl-workflow:3/durable-execution/approval-7f3a/0b1c2d3e-aaaa-bbbb-cccc-000011112222";

/// An owned request, lent out as a [`Call`].
struct Request {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn call(&self) -> Call<'_> {
        Call {
            method: self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn needed(&self) -> Result<Vec<Needed>, Unknown> {
        needed(&self.call(), ACCOUNT, REGION)
    }

    /// The single authorization the request needs.
    fn one(&self) -> Needed {
        let mut found = self.needed().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.len(), 1, "{found:?}");
        found.remove(0)
    }
}

/// The `Authorization` header of a session's SigV4 signature for `service`.
fn signed(service: &str) -> Vec<(String, String)> {
    vec![
        (
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential=ASIAQEXAMPLE7RKEY123/20250102/{REGION}/{service}/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=5d67"
            ),
        ),
        ("x-amz-date".to_owned(), "20250102T030405Z".to_owned()),
        (
            "x-amz-security-token".to_owned(),
            "IQoJb3JpZ2luX2VjEXAMPLE".to_owned(),
        ),
    ]
}

/// An AWS JSON call: `POST /`, `X-Amz-Target`.
fn aws_json(service: &str, target: &str, version: &str, body: Value) -> Request {
    let mut headers = signed(service);
    headers.push((
        "content-type".to_owned(),
        format!("application/x-amz-json-{version}"),
    ));
    headers.push(("x-amz-target".to_owned(), target.to_owned()));
    headers.push((
        "host".to_owned(),
        format!("{service}.{REGION}.amazonaws.com"),
    ));
    Request {
        method: "POST",
        path: "/".to_owned(),
        query: String::new(),
        headers,
        body: body.to_string().into_bytes(),
    }
}

fn dynamodb(operation: &str, body: Value) -> Request {
    aws_json(
        "dynamodb",
        &format!("DynamoDB_20120810.{operation}"),
        "1.0",
        body,
    )
}

fn ssm(operation: &str, body: Value) -> Request {
    aws_json("ssm", &format!("AmazonSSM.{operation}"), "1.1", body)
}

fn sfn(operation: &str, body: Value) -> Request {
    aws_json(
        "states",
        &format!("AWSStepFunctions.{operation}"),
        "1.0",
        body,
    )
}

/// An AWS Query call: a form body.
fn query_protocol(service: &str, form: &str) -> Request {
    let mut headers = signed(service);
    headers.push((
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    ));
    Request {
        method: "POST",
        path: "/".to_owned(),
        query: String::new(),
        headers,
        body: form.as_bytes().to_vec(),
    }
}

/// A REST call.
fn rest(service: &str, method: &'static str, path: &str, query: &str, body: &str) -> Request {
    let mut headers = signed(service);
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// A path label as the SDK encodes it.
fn label(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

fn context(pairs: &[(&str, &str)]) -> Context {
    let mut context = Context::new();
    for (k, v) in pairs {
        context
            .entry((*k).to_owned())
            .or_default()
            .push((*v).to_owned());
    }
    context
}

fn needed_of(action: &str, resource: &str, pairs: &[(&str, &str)]) -> Needed {
    Needed {
        action: action.to_owned(),
        resource: resource.to_owned(),
        context: context(pairs),
        with_decryption: false,
    }
}

fn unknown(request: &Request) -> Unknown {
    match request.needed() {
        Ok(found) => panic!("expected Unknown, got {found:?}"),
        Err(unknown) => unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB

#[test]
fn dynamodb_item_operations_act_on_the_table() {
    let key = json!({"pk": {"S": "approval#7f3a"}});
    let get = dynamodb(
        "GetItem",
        json!({"TableName": "hitl-approvals", "Key": key, "ConsistentRead": true}),
    );
    assert_eq!(get.one(), needed_of("dynamodb:GetItem", TABLE, &[]));

    let put = dynamodb(
        "PutItem",
        json!({"TableName": "hitl-approvals", "Item": key,
               "ConditionExpression": "attribute_not_exists(pk)",
               "ReturnValues": "NONE", "ReturnConsumedCapacity": "TOTAL"}),
    );
    assert_eq!(
        put.one(),
        needed_of(
            "dynamodb:PutItem",
            TABLE,
            &[
                ("dynamodb:returnvalues", "NONE"),
                ("dynamodb:returnconsumedcapacity", "TOTAL")
            ]
        )
    );

    let update = dynamodb(
        "UpdateItem",
        json!({"TableName": "hitl-approvals", "Key": key,
               "UpdateExpression": "SET #s = :deciding",
               "ConditionExpression": "#s = :pending",
               "ExpressionAttributeNames": {"#s": "status"},
               "ExpressionAttributeValues": {":deciding": {"S": "deciding"}, ":pending": {"S": "pending"}},
               "ReturnValues": "ALL_NEW"}),
    );
    assert_eq!(
        update.one(),
        needed_of(
            "dynamodb:UpdateItem",
            TABLE,
            &[("dynamodb:returnvalues", "ALL_NEW")]
        )
    );

    let delete = dynamodb(
        "DeleteItem",
        json!({"TableName": "hitl-approvals", "Key": key}),
    );
    assert_eq!(delete.one(), needed_of("dynamodb:DeleteItem", TABLE, &[]));

    let describe = dynamodb("DescribeTable", json!({"TableName": "hitl-approvals"}));
    assert_eq!(
        describe.one(),
        needed_of("dynamodb:DescribeTable", TABLE, &[])
    );
}

#[test]
fn dynamodb_query_and_scan_act_on_the_index_they_name() {
    let by_index = dynamodb(
        "Query",
        json!({"TableName": "hitl-approvals", "IndexName": "by-requester",
               "KeyConditionExpression": "requester = :r",
               "ExpressionAttributeValues": {":r": {"S": "alice"}}, "Select": "COUNT"}),
    );
    assert_eq!(
        by_index.one(),
        needed_of(
            "dynamodb:Query",
            &format!("{TABLE}/index/by-requester"),
            &[("dynamodb:select", "COUNT")]
        )
    );
    let on_table = dynamodb(
        "Query",
        json!({"TableName": "hitl-approvals", "KeyConditionExpression": "pk = :pk"}),
    );
    assert_eq!(on_table.one(), needed_of("dynamodb:Query", TABLE, &[]));
    let scan = dynamodb(
        "Scan",
        json!({"TableName": "hitl-approvals", "IndexName": "by-status"}),
    );
    assert_eq!(
        scan.one(),
        needed_of("dynamodb:Scan", &format!("{TABLE}/index/by-status"), &[])
    );
}

#[test]
fn dynamodb_table_names_may_be_arns() {
    let other = "arn:aws:dynamodb:us-east-1:210987654321:table/shared";
    let get = dynamodb("GetItem", json!({"TableName": other, "Key": {}}));
    assert_eq!(get.one(), needed_of("dynamodb:GetItem", other, &[]));
    let query = dynamodb("Query", json!({"TableName": other, "IndexName": "gsi1"}));
    assert_eq!(
        query.one(),
        needed_of("dynamodb:Query", &format!("{other}/index/gsi1"), &[])
    );
}

#[test]
fn dynamodb_batches_need_their_action_on_each_table() {
    let other = "arn:aws:dynamodb:eu-west-1:123456789012:table/hitl-audit";
    let get = dynamodb(
        "BatchGetItem",
        json!({"RequestItems": {
            "hitl-approvals": {"Keys": [{"pk": {"S": "a"}}]},
            other: {"Keys": [{"pk": {"S": "b"}}]}
        }, "ReturnConsumedCapacity": "INDEXES"}),
    );
    assert_eq!(
        get.needed().unwrap(),
        vec![
            needed_of(
                "dynamodb:BatchGetItem",
                TABLE,
                &[("dynamodb:returnconsumedcapacity", "INDEXES")]
            ),
            needed_of(
                "dynamodb:BatchGetItem",
                other,
                &[("dynamodb:returnconsumedcapacity", "INDEXES")]
            ),
        ]
    );
    let write = dynamodb(
        "BatchWriteItem",
        json!({"RequestItems": {
            "hitl-approvals": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}],
            "hitl-audit": [{"DeleteRequest": {"Key": {"pk": {"S": "b"}}}}]
        }}),
    );
    assert_eq!(
        write.needed().unwrap(),
        vec![
            needed_of("dynamodb:BatchWriteItem", TABLE, &[]),
            needed_of("dynamodb:BatchWriteItem", other, &[]),
        ]
    );
    assert!(
        unknown(&dynamodb("BatchGetItem", json!({"RequestItems": {}})))
            .why
            .contains("RequestItems")
    );
}

#[test]
fn dynamodb_transactions_authorize_each_item_inside_the_enclosing_operation() {
    let get = dynamodb(
        "TransactGetItems",
        json!({"TransactItems": [
            {"Get": {"TableName": "hitl-approvals", "Key": {"pk": {"S": "a"}}}},
            {"Get": {"TableName": "hitl-approvals", "Key": {"pk": {"S": "b"}}}}
        ]}),
    );
    assert_eq!(
        get.needed().unwrap(),
        vec![needed_of(
            "dynamodb:GetItem",
            TABLE,
            &[("dynamodb:enclosingoperation", "TransactGetItems")]
        )]
    );
    let write = dynamodb(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": "hitl-approvals", "Item": {"pk": {"S": "a"}}}},
            {"Update": {"TableName": "hitl-approvals", "Key": {"pk": {"S": "b"}},
                        "UpdateExpression": "SET n = :n"}},
            {"ConditionCheck": {"TableName": "hitl-audit", "Key": {"pk": {"S": "c"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": "hitl-audit", "Key": {"pk": {"S": "d"}}}}
        ], "ClientRequestToken": "tok"}),
    );
    let audit = "arn:aws:dynamodb:eu-west-1:123456789012:table/hitl-audit";
    let inside = [("dynamodb:enclosingoperation", "TransactWriteItems")];
    assert_eq!(
        write.needed().unwrap(),
        vec![
            needed_of("dynamodb:PutItem", TABLE, &inside),
            needed_of("dynamodb:UpdateItem", TABLE, &inside),
            needed_of("dynamodb:ConditionCheckItem", audit, &inside),
            needed_of("dynamodb:DeleteItem", audit, &inside),
        ]
    );
    let odd = dynamodb(
        "TransactWriteItems",
        json!({"TransactItems": [{"Get": {"TableName": "hitl-approvals"}}]}),
    );
    assert!(unknown(&odd).why.contains("no known kind"));
}

#[test]
fn dynamodb_refuses_what_it_cannot_read() {
    let create = dynamodb("CreateTable", json!({"TableName": "t"}));
    assert_eq!(
        unknown(&create),
        Unknown::new("dynamodb", "CreateTable", "operation not covered")
    );
    assert!(
        unknown(&dynamodb("GetItem", json!({"Key": {}})))
            .why
            .contains("TableName")
    );
    assert!(
        unknown(&dynamodb("GetItem", json!({"TableName": ""})))
            .why
            .contains("TableName")
    );
    let mut garbled = dynamodb("GetItem", json!({}));
    garbled.body = b"{not json".to_vec();
    assert!(unknown(&garbled).why.contains("not JSON"));
    let wrong = aws_json("dynamodb", "AmazonSSM.GetParameter", "1.0", json!({}));
    assert!(unknown(&wrong).why.contains("X-Amz-Target"));
    let mut untargeted = dynamodb("GetItem", json!({}));
    untargeted.headers.retain(|(k, _)| k != "x-amz-target");
    assert!(unknown(&untargeted).why.contains("X-Amz-Target"));
}

// ---------------------------------------------------------------------------------------------
// SNS

#[test]
fn sns_publish_acts_on_the_topic_or_target() {
    let form = format!(
        "Action=Publish&Version=2010-03-31&TopicArn={}&Message=%7B%22approval%22%3A1%7D&Subject=Approval",
        label(TOPIC)
    );
    assert_eq!(
        query_protocol("sns", &form).one(),
        needed_of("sns:Publish", TOPIC, &[])
    );
    let endpoint = "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/app/0a1b";
    let form = format!(
        "Action=Publish&Version=2010-03-31&TargetArn={}&Message=hi",
        label(endpoint)
    );
    assert_eq!(
        query_protocol("sns", &form).one(),
        needed_of("sns:Publish", endpoint, &[])
    );
    let sms = query_protocol(
        "sns",
        "Action=Publish&Version=2010-03-31&PhoneNumber=%2B15555550100&Message=hi",
    );
    assert!(unknown(&sms).why.contains("SMS"));
    let nowhere = query_protocol("sns", "Action=Publish&Version=2010-03-31&Message=hi");
    assert!(unknown(&nowhere).why.contains("TargetArn"));
}

#[test]
fn sns_publish_batch_is_publish() {
    let form = format!(
        "Action=PublishBatch&Version=2010-03-31&TopicArn={}\
         &PublishBatchRequestEntries.member.1.Id=1&PublishBatchRequestEntries.member.1.Message=a",
        label(TOPIC)
    );
    assert_eq!(
        query_protocol("sns", &form).one(),
        needed_of("sns:Publish", TOPIC, &[])
    );
}

#[test]
fn sns_reads_act_on_the_topic() {
    for operation in ["GetTopicAttributes", "ListSubscriptionsByTopic"] {
        let form = format!(
            "Action={operation}&Version=2010-03-31&TopicArn={}",
            label(TOPIC)
        );
        assert_eq!(
            query_protocol("sns", &form).one(),
            needed_of(&format!("sns:{operation}"), TOPIC, &[])
        );
    }
    let subscribe = query_protocol("sns", "Action=Subscribe&Version=2010-03-31");
    assert_eq!(unknown(&subscribe).operation, "Subscribe");
}

// ---------------------------------------------------------------------------------------------
// SSM

#[test]
fn ssm_parameters_drop_the_leading_slash() {
    let get = ssm(
        "GetParameter",
        json!({"Name": "/hitl/slack-webhook", "WithDecryption": true}),
    );
    let found = get.one();
    assert_eq!(found.action, "ssm:GetParameter");
    assert_eq!(
        found.resource,
        "arn:aws:ssm:eu-west-1:123456789012:parameter/hitl/slack-webhook"
    );
    assert!(found.with_decryption);
    assert!(found.context.is_empty());

    let plain = ssm("GetParameter", json!({"Name": "slack"})).one();
    assert_eq!(
        plain.resource,
        "arn:aws:ssm:eu-west-1:123456789012:parameter/slack"
    );
    assert!(!plain.with_decryption);
}

#[test]
fn ssm_selectors_and_arns() {
    let versioned = ssm("GetParameter", json!({"Name": "/hitl/slack:3"})).one();
    assert_eq!(
        versioned.resource,
        "arn:aws:ssm:eu-west-1:123456789012:parameter/hitl/slack"
    );
    let shared = "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/key";
    let by_arn = ssm(
        "GetParameter",
        json!({"Name": format!("{shared}:prod"), "WithDecryption": false}),
    )
    .one();
    assert_eq!(by_arn.resource, shared);
}

#[test]
fn ssm_get_parameters_authorizes_each_name() {
    let get = ssm(
        "GetParameters",
        json!({"Names": ["/a/b", "c"], "WithDecryption": true}),
    );
    let found = get.needed().unwrap();
    let resources: Vec<&str> = found.iter().map(|n| n.resource.as_str()).collect();
    assert_eq!(
        resources,
        [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/a/b",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/c"
        ]
    );
    assert!(
        found
            .iter()
            .all(|n| n.action == "ssm:GetParameters" && n.with_decryption)
    );
    assert!(
        unknown(&ssm("GetParameters", json!({"Names": []})))
            .why
            .contains("Names")
    );
    assert_eq!(
        unknown(&ssm("PutParameter", json!({"Name": "x"}))).operation,
        "PutParameter"
    );
}

#[test]
fn decryption_through_a_service() {
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(
        decrypt_via("ssm.eu-west-1.amazonaws.com", key),
        needed_of(
            "kms:Decrypt",
            key,
            &[("kms:viaservice", "ssm.eu-west-1.amazonaws.com")]
        )
    );
    let parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/hitl/slack";
    assert_eq!(
        ssm_decrypt(REGION, key, parameter),
        needed_of(
            "kms:Decrypt",
            key,
            &[
                ("kms:viaservice", "ssm.eu-west-1.amazonaws.com"),
                ("kms:encryptioncontext:parameter_arn", parameter),
                ("kms:encryptioncontextkeys", "PARAMETER_ARN"),
            ]
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Step Functions

#[test]
fn sfn_task_callbacks_have_no_resource() {
    for (operation, body) in [
        (
            "SendTaskSuccess",
            json!({"taskToken": "AQCEAAAAKgAAAA", "output": "{}"}),
        ),
        (
            "SendTaskFailure",
            json!({"taskToken": "AQCEAAAAKgAAAA", "error": "Rejected"}),
        ),
        ("SendTaskHeartbeat", json!({"taskToken": "AQCEAAAAKgAAAA"})),
    ] {
        assert_eq!(
            sfn(operation, body).one(),
            needed_of(&format!("states:{operation}"), "*", &[])
        );
    }
}

#[test]
fn sfn_execution_operations_act_on_the_execution() {
    let execution = "arn:aws:states:eu-west-1:123456789012:execution:hitl-approval:approval-7f3a";
    for operation in ["DescribeExecution", "StopExecution", "GetExecutionHistory"] {
        assert_eq!(
            sfn(operation, json!({"executionArn": execution})).one(),
            needed_of(&format!("states:{operation}"), execution, &[])
        );
    }
    assert!(
        unknown(&sfn("DescribeExecution", json!({})))
            .why
            .contains("executionArn")
    );
}

#[test]
fn sfn_state_machine_operations_act_on_the_unqualified_state_machine() {
    let machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:hitl-approval";
    let start = sfn(
        "StartExecution",
        json!({"stateMachineArn": machine, "name": "approval-7f3a", "input": "{}"}),
    );
    assert_eq!(
        start.one(),
        needed_of("states:StartExecution", machine, &[])
    );
    let by_alias = sfn(
        "StartExecution",
        json!({"stateMachineArn": format!("{machine}:PROD"), "input": "{}"}),
    );
    assert_eq!(
        by_alias.one(),
        needed_of(
            "states:StartExecution",
            machine,
            &[("states:statemachinequalifier", "PROD")]
        )
    );
    let version = sfn(
        "DescribeStateMachine",
        json!({"stateMachineArn": format!("{machine}:12")}),
    );
    assert_eq!(
        version.one(),
        needed_of(
            "states:DescribeStateMachine",
            machine,
            &[("states:statemachinequalifier", "12")]
        )
    );
    assert_eq!(
        unknown(&sfn("CreateStateMachine", json!({}))).operation,
        "CreateStateMachine"
    );
}

// ---------------------------------------------------------------------------------------------
// EventBridge Scheduler

fn schedule_body(group: Option<&str>) -> String {
    let mut body = json!({
        "ScheduleExpression": "at(2025-01-03T09:00:00)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:hitl-remind",
            "RoleArn": "arn:aws:iam::123456789012:role/hitl-scheduler",
            "Input": "{\"approval\":\"7f3a\"}"
        },
        "ClientToken": "3f1e"
    });
    if let Some(group) = group {
        body["GroupName"] = json!(group);
    }
    body.to_string()
}

fn pass_role() -> Needed {
    needed_of(
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/hitl-scheduler",
        &[("iam:passedtoservice", "scheduler.amazonaws.com")],
    )
}

#[test]
fn scheduler_create_and_update_pass_the_target_role() {
    let create = rest(
        "scheduler",
        "POST",
        "/schedules/hitl-7f3a-reminder",
        "",
        &schedule_body(Some("hitl")),
    );
    assert_eq!(
        create.needed().unwrap(),
        vec![
            needed_of(
                "scheduler:CreateSchedule",
                "arn:aws:scheduler:eu-west-1:123456789012:schedule/hitl/hitl-7f3a-reminder",
                &[]
            ),
            pass_role(),
        ]
    );
    let update = rest(
        "scheduler",
        "PUT",
        "/schedules/hitl-7f3a-reminder",
        "",
        &schedule_body(None),
    );
    assert_eq!(
        update.needed().unwrap(),
        vec![
            needed_of(
                "scheduler:UpdateSchedule",
                "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/hitl-7f3a-reminder",
                &[]
            ),
            pass_role(),
        ]
    );
}

#[test]
fn scheduler_reads_and_deletes_take_the_group_from_the_query() {
    let get = rest("scheduler", "GET", "/schedules/a%20b", "groupName=hitl", "");
    assert_eq!(
        get.one(),
        needed_of(
            "scheduler:GetSchedule",
            "arn:aws:scheduler:eu-west-1:123456789012:schedule/hitl/a b",
            &[]
        )
    );
    let delete = rest("scheduler", "DELETE", "/schedules/x", "clientToken=t", "");
    assert_eq!(
        delete.one(),
        needed_of(
            "scheduler:DeleteSchedule",
            "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/x",
            &[]
        )
    );
}

#[test]
fn scheduler_refuses_what_it_does_not_cover() {
    let mut keyed: Value = serde_json::from_str(&schedule_body(None)).unwrap();
    keyed["KmsKeyArn"] = json!("arn:aws:kms:eu-west-1:123456789012:key/k");
    let create = rest("scheduler", "POST", "/schedules/x", "", &keyed.to_string());
    assert!(unknown(&create).why.contains("KmsKeyArn"));
    let untargeted = rest("scheduler", "POST", "/schedules/x", "", "{}");
    assert!(unknown(&untargeted).why.contains("RoleArn"));
    let list = rest("scheduler", "GET", "/schedules", "", "");
    assert!(unknown(&list).why.contains("not covered"));
    let patch = rest("scheduler", "PATCH", "/schedules/x", "", "");
    assert!(unknown(&patch).why.contains("method"));
    let empty = rest("scheduler", "GET", "/schedules/", "", "");
    assert!(unknown(&empty).why.contains("name"));
}

#[test]
fn scheduler_groups_act_on_the_group_and_their_tags() {
    let group = "arn:aws:scheduler:eu-west-1:123456789012:schedule-group/hitl";
    let create = rest(
        "scheduler",
        "POST",
        "/schedule-groups/hitl",
        "",
        r#"{"ClientToken":"t","Tags":[{"Key":"stack","Value":"hitl"},{"Key":"Owner","Value":"ops"}]}"#,
    );
    assert_eq!(
        create.one(),
        needed_of(
            "scheduler:CreateScheduleGroup",
            group,
            &[
                ("aws:requesttag/stack", "hitl"),
                ("aws:tagkeys", "stack"),
                ("aws:requesttag/owner", "ops"),
                ("aws:tagkeys", "Owner"),
            ]
        )
    );
    assert_eq!(
        rest("scheduler", "GET", "/schedule-groups/hitl", "", "").one(),
        needed_of("scheduler:GetScheduleGroup", group, &[])
    );
    assert_eq!(
        rest(
            "scheduler",
            "DELETE",
            "/schedule-groups/hitl",
            "clientToken=t",
            ""
        )
        .one(),
        needed_of("scheduler:DeleteScheduleGroup", group, &[])
    );
}

// ---------------------------------------------------------------------------------------------
// Lambda

fn invoke(function_name: &str, query: &str) -> Request {
    rest(
        "lambda",
        "POST",
        &format!("/2015-03-31/functions/{}/invocations", label(function_name)),
        query,
        r#"{"approval":"7f3a"}"#,
    )
    .header("x-amz-invocation-type", "Event")
}

#[test]
fn lambda_invoke_acts_on_the_function_as_named() {
    let function = "arn:aws:lambda:eu-west-1:123456789012:function:hitl-remind";
    let cases = [
        ("hitl-remind", "", function.to_owned()),
        ("hitl-remind:live", "", format!("{function}:live")),
        ("hitl-remind", "Qualifier=7", format!("{function}:7")),
        (
            "hitl-remind:live",
            "Qualifier=live",
            format!("{function}:live"),
        ),
        ("123456789012:function:hitl-remind", "", function.to_owned()),
        (
            "123456789012:function:hitl-remind:$LATEST",
            "",
            format!("{function}:$LATEST"),
        ),
        (function, "", function.to_owned()),
        (&format!("{function}:3"), "", format!("{function}:3")),
        (
            "arn:aws:lambda:us-east-1:210987654321:function:other",
            "",
            "arn:aws:lambda:us-east-1:210987654321:function:other".to_owned(),
        ),
    ];
    for (name, query, resource) in cases {
        assert_eq!(
            invoke(name, query).one(),
            needed_of("lambda:InvokeFunction", &resource, &[]),
            "{name} ?{query}"
        );
    }
    // The router's own path shape: a name left unencoded.
    let plain = rest(
        "lambda",
        "POST",
        "/2015-03-31/functions/hitl-remind/invocations",
        "",
        "{}",
    );
    assert_eq!(plain.one().resource, function);
}

#[test]
fn lambda_invoke_refuses_malformed_names() {
    assert!(
        unknown(&invoke("hitl-remind:live", "Qualifier=7"))
            .why
            .contains("differ")
    );
    assert!(unknown(&invoke("a:b:c", "")).why.contains("qualifier"));
    assert!(unknown(&invoke("", "")).why.contains("FunctionName"));
    assert!(
        unknown(&invoke("hitl-remind:", ""))
            .why
            .contains("qualifier")
    );
}

#[test]
fn lambda_function_reads_act_on_the_function() {
    let function = "arn:aws:lambda:eu-west-1:123456789012:function:hitl-review";
    let get = rest("lambda", "GET", "/2015-03-31/functions/hitl-review", "", "");
    assert_eq!(get.one(), needed_of("lambda:GetFunction", function, &[]));
    let configuration = rest(
        "lambda",
        "GET",
        "/2015-03-31/functions/hitl-review/configuration",
        "Qualifier=live",
        "",
    );
    assert_eq!(
        configuration.one(),
        needed_of(
            "lambda:GetFunctionConfiguration",
            &format!("{function}:live"),
            &[]
        )
    );
    let list = rest(
        "lambda",
        "GET",
        "/2025-12-01/functions/hitl-workflow/durable-executions",
        "Statuses=RUNNING&MaxItems=10",
        "",
    );
    assert_eq!(
        list.one(),
        needed_of(
            "lambda:ListDurableExecutionsByFunction",
            "arn:aws:lambda:eu-west-1:123456789012:function:hitl-workflow",
            &[]
        )
    );
}

#[test]
fn lambda_durable_executions_act_on_the_execution() {
    let base = format!("/2025-12-01/durable-executions/{}", label(EXECUTION));
    let cases = [
        (
            "POST",
            format!("{base}/checkpoint"),
            "",
            "CheckpointDurableExecution",
        ),
        (
            "GET",
            format!("{base}/state"),
            "CheckpointToken=tok&MaxItems=100",
            "GetDurableExecutionState",
        ),
        (
            "GET",
            base.clone(),
            "IncludeExecutionData=true",
            "GetDurableExecution",
        ),
        (
            "GET",
            format!("{base}/history"),
            "ReverseOrder=false",
            "GetDurableExecutionHistory",
        ),
        ("POST", format!("{base}/stop"), "", "StopDurableExecution"),
    ];
    for (method, path, query, operation) in cases {
        let body = if operation == "CheckpointDurableExecution" {
            r#"{"CheckpointToken":"tok","Updates":[{"Id":"1","Type":"STEP","Action":"SUCCEED","Payload":"\"ok\""}]}"#
        } else {
            ""
        };
        assert_eq!(
            rest("lambda", method, &path, query, body).one(),
            needed_of(&format!("lambda:{operation}"), EXECUTION, &[]),
            "{operation}"
        );
    }
}

#[test]
fn lambda_durable_refusals() {
    let base = format!("/2025-12-01/durable-executions/{}", label(EXECUTION));
    let chained = rest(
        "lambda",
        "POST",
        &format!("{base}/checkpoint"),
        "",
        r#"{"CheckpointToken":"t","Updates":[{"Id":"2","Type":"CHAINED_INVOKE","Action":"START","ChainedInvokeOptions":{"FunctionName":"other:1"}}]}"#,
    );
    assert!(unknown(&chained).why.contains("chained invoke"));
    let function_only = format!(
        "/2025-12-01/durable-executions/{}/state",
        label("arn:aws:lambda:eu-west-1:123456789012:function:hitl-workflow:3")
    );
    let malformed = rest("lambda", "GET", &function_only, "", "");
    assert!(
        unknown(&malformed)
            .why
            .contains("not a durable execution ARN")
    );
    // Unencoded slashes split the ARN: not an API path.
    let raw = rest(
        "lambda",
        "GET",
        &format!("/2025-12-01/durable-executions/{EXECUTION}"),
        "",
        "",
    );
    assert!(raw.needed().is_err());
    let unknown_verb = rest("lambda", "POST", &format!("{base}/resume"), "", "");
    assert!(unknown(&unknown_verb).why.contains("not covered"));
}

#[test]
fn lambda_callbacks_act_on_the_execution_they_belong_to() {
    let id = "Y2FsbGJhY2s+aWQ/d2l0aA==";
    for (outcome, operation) in [
        ("succeed", "SendDurableExecutionCallbackSuccess"),
        ("fail", "SendDurableExecutionCallbackFailure"),
        ("heartbeat", "SendDurableExecutionCallbackHeartbeat"),
    ] {
        let request = rest(
            "lambda",
            "POST",
            &format!(
                "/2025-12-01/durable-execution-callbacks/{}/{outcome}",
                label(id)
            ),
            "",
            r#"{"approved":true}"#,
        );
        // Without a resolver: loudly unknown.
        assert!(unknown(&request).why.contains("not resolved"));
        let resolve = |callback: &str| (callback == id).then(|| EXECUTION.to_owned());
        let found = needed_with(&request.call(), ACCOUNT, REGION, &resolve).unwrap();
        assert_eq!(
            found,
            vec![needed_of(&format!("lambda:{operation}"), EXECUTION, &[])]
        );
        assert_eq!(
            callback_needed(operation, EXECUTION).unwrap(),
            needed_of(&format!("lambda:{operation}"), EXECUTION, &[])
        );
    }
    let bad_outcome = rest(
        "lambda",
        "POST",
        "/2025-12-01/durable-execution-callbacks/abc/cancel",
        "",
        "",
    );
    assert!(unknown(&bad_outcome).why.contains("outcome"));
    assert!(callback_needed("Invoke", EXECUTION).is_err());
    assert!(
        callback_needed(
            "SendDurableExecutionCallbackSuccess",
            "arn:aws:lambda:eu-west-1:123456789012:function:hitl-workflow"
        )
        .is_err()
    );
}

#[test]
fn lambda_refuses_other_paths() {
    for (method, path) in [
        ("GET", "/2015-03-31/functions/"),
        ("DELETE", "/2015-03-31/functions/x"),
        ("POST", "/2014-11-13/functions/x/invoke-async/"),
        ("GET", "/2015-03-31/functions/x/policy"),
        ("POST", "/2025-12-01/durable-executions"),
    ] {
        let request = rest("lambda", method, path, "", "");
        assert!(request.needed().is_err(), "{method} {path}");
    }
}

// ---------------------------------------------------------------------------------------------
// S3

fn s3(method: &'static str, host: &str, path: &str, query: &str) -> Request {
    let mut request = rest("s3", method, path, query, "");
    request.headers.retain(|(k, _)| k != "content-type");
    request
        .header("host", host)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
}

fn s3_keys(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut keys = vec![
        ("s3:authtype", "REST-HEADER"),
        ("s3:signatureversion", "AWS4-HMAC-SHA256"),
        ("s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("s3:resourceaccount", ACCOUNT),
    ];
    keys.extend_from_slice(extra);
    keys
}

#[test]
fn s3_get_and_head_read_the_object() {
    let object = "arn:aws:s3:::hitl-attachments/approvals/7f3a/report Q1.pdf";
    let path_style = s3(
        "GET",
        "s3.eu-west-1.amazonaws.com",
        "/hitl-attachments/approvals/7f3a/report%20Q1.pdf",
        "x-id=GetObject",
    );
    assert_eq!(
        path_style.one(),
        needed_of("s3:GetObject", object, &s3_keys(&[]))
    );
    let virtual_host = s3(
        "GET",
        "hitl-attachments.s3.eu-west-1.amazonaws.com",
        "/approvals/7f3a/report%20Q1.pdf",
        "x-id=GetObject&response-content-disposition=attachment",
    );
    assert_eq!(
        virtual_host.one(),
        needed_of("s3:GetObject", object, &s3_keys(&[]))
    );
    let local = s3(
        "HEAD",
        "hitl-attachments.localhost:4566",
        "/approvals/7f3a/report%20Q1.pdf",
        "",
    );
    assert_eq!(
        local.one(),
        needed_of("s3:GetObject", object, &s3_keys(&[]))
    );
    let versioned = s3(
        "GET",
        "localhost:4566",
        "/hitl-attachments/approvals/7f3a/report%20Q1.pdf",
        "versionId=3HL4kqt",
    );
    assert_eq!(
        versioned.one(),
        needed_of(
            "s3:GetObjectVersion",
            object,
            &s3_keys(&[("s3:versionid", "3HL4kqt")])
        )
    );
    let dotted = s3("GET", "my.s3-files.s3.amazonaws.com", "/k", "");
    assert_eq!(dotted.one().resource, "arn:aws:s3:::my.s3-files/k");
}

#[test]
fn s3_a_presigned_url_is_authorized_as_its_query_string() {
    let query = "x-id=GetObject&X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=ASIAQEXAMPLE7RKEY123%2F20250102%2Feu-west-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20250102T030405Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host\
        &X-Amz-Security-Token=IQoJ&X-Amz-Signature=abc";
    let request = Request {
        method: "GET",
        path: "/hitl-attachments/a.pdf".to_owned(),
        query: query.to_owned(),
        headers: vec![("host".to_owned(), "localhost:4566".to_owned())],
        body: Vec::new(),
    };
    assert_eq!(
        request.one(),
        needed_of(
            "s3:GetObject",
            "arn:aws:s3:::hitl-attachments/a.pdf",
            &[
                ("s3:authtype", "REST-QUERY-STRING"),
                ("s3:signatureversion", "AWS4-HMAC-SHA256"),
                ("s3:resourceaccount", ACCOUNT),
            ]
        )
    );
}

#[test]
fn s3_writes_and_deletes() {
    let object = "arn:aws:s3:::hitl-attachments/a.pdf";
    let put = s3(
        "PUT",
        "localhost:4566",
        "/hitl-attachments/a.pdf",
        "x-id=PutObject",
    )
    .header("x-amz-server-side-encryption", "AES256")
    .header("If-None-Match", "*");
    assert_eq!(
        put.one(),
        needed_of(
            "s3:PutObject",
            object,
            &s3_keys(&[
                ("s3:x-amz-server-side-encryption", "AES256"),
                ("s3:if-none-match", "*")
            ])
        )
    );
    for (header, value) in [
        ("x-amz-tagging", "a=b"),
        ("x-amz-acl", "public-read"),
        ("x-amz-copy-source", "/other/key"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
        ("x-amz-object-lock-mode", "GOVERNANCE"),
    ] {
        let extra = s3(
            "PUT",
            "localhost:4566",
            "/hitl-attachments/a.pdf",
            "x-id=PutObject",
        )
        .header(header, value);
        assert!(unknown(&extra).why.contains(header), "{header}");
    }
    let kms = s3(
        "PUT",
        "localhost:4566",
        "/hitl-attachments/a.pdf",
        "x-id=PutObject",
    )
    .header("x-amz-server-side-encryption", "aws:kms");
    assert!(unknown(&kms).why.contains("KMS"));
    let part = s3(
        "PUT",
        "localhost:4566",
        "/hitl-attachments/a.pdf",
        "partNumber=1&uploadId=u",
    );
    assert!(unknown(&part).why.contains("partNumber"));

    let delete = s3(
        "DELETE",
        "localhost:4566",
        "/hitl-attachments/a.pdf",
        "x-id=DeleteObject",
    );
    assert_eq!(
        delete.one(),
        needed_of("s3:DeleteObject", object, &s3_keys(&[]))
    );
    let delete_version = s3(
        "DELETE",
        "localhost:4566",
        "/hitl-attachments/a.pdf",
        "x-id=DeleteObject&versionId=v1",
    );
    assert_eq!(
        delete_version.one(),
        needed_of(
            "s3:DeleteObjectVersion",
            object,
            &s3_keys(&[("s3:versionid", "v1")])
        )
    );
}

#[test]
fn s3_list_objects_v2_lists_the_bucket() {
    let list = s3(
        "GET",
        "hitl-attachments.s3.eu-west-1.amazonaws.com",
        "/",
        "list-type=2&prefix=approvals%2F7f3a%2F&delimiter=%2F&max-keys=100",
    );
    assert_eq!(
        list.one(),
        needed_of(
            "s3:ListBucket",
            "arn:aws:s3:::hitl-attachments",
            &s3_keys(&[
                ("s3:prefix", "approvals/7f3a/"),
                ("s3:delimiter", "/"),
                ("s3:max-keys", "100")
            ])
        )
    );
    let path_style = s3("GET", "localhost:4566", "/hitl-attachments", "list-type=2");
    assert_eq!(path_style.one().resource, "arn:aws:s3:::hitl-attachments");
}

#[test]
fn s3_refuses_what_it_does_not_cover() {
    for (method, host, path, query) in [
        ("GET", "localhost:4566", "/hitl-attachments", ""),
        (
            "GET",
            "localhost:4566",
            "/hitl-attachments/",
            "list-type=2&versions",
        ),
        ("PUT", "localhost:4566", "/hitl-attachments", ""),
        ("GET", "localhost:4566", "/hitl-attachments/a.pdf", "acl"),
        (
            "GET",
            "localhost:4566",
            "/hitl-attachments/a.pdf",
            "tagging",
        ),
        (
            "POST",
            "localhost:4566",
            "/hitl-attachments/a.pdf",
            "uploads",
        ),
        ("GET", "localhost:4566", "/", ""),
        (
            "GET",
            "ap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com",
            "/k",
            "",
        ),
    ] {
        let request = s3(method, host, path, query);
        assert!(request.needed().is_err(), "{method} {host}{path}?{query}");
    }
}

// ---------------------------------------------------------------------------------------------
// STS and the rest

#[test]
fn sts_get_caller_identity_needs_nothing() {
    let who = query_protocol("sts", "Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(who.needed(), Ok(Vec::new()));
    let assume = query_protocol("sts", "Action=AssumeRole&Version=2011-06-15&RoleArn=x");
    assert_eq!(unknown(&assume).operation, "AssumeRole");
}

#[test]
fn unsigned_and_unknown_services_are_unknown() {
    let mut unsigned = dynamodb("GetItem", json!({"TableName": "t"}));
    unsigned.headers.retain(|(k, _)| k != "authorization");
    assert!(unknown(&unsigned).why.contains("not signed"));
    let kms = aws_json("kms", "TrentService.Decrypt", "1.1", json!({}));
    let refused = unknown(&kms);
    assert_eq!(refused.service, "kms");
    assert_eq!(
        refused.to_string(),
        "kms ?: no operation of this service is covered"
    );
}

#[test]
fn partitions_follow_the_region() {
    let get = dynamodb("GetItem", json!({"TableName": "t"}));
    let china = needed(&get.call(), ACCOUNT, "cn-north-1").unwrap();
    assert_eq!(
        china[0].resource,
        "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t"
    );
    let gov = needed(&get.call(), ACCOUNT, "us-gov-west-1").unwrap();
    assert!(gov[0].resource.starts_with("arn:aws-us-gov:dynamodb:"));
}

#[test]
fn a_needed_becomes_an_authorization() {
    let found = dynamodb("GetItem", json!({"TableName": "hitl-approvals"})).one();
    let principal =
        Principal::Aws("arn:aws:sts::123456789012:assumed-role/hitl-review/s".to_owned());
    let authorization = found.authorization(principal.clone());
    assert_eq!(authorization.principal, principal);
    assert_eq!(authorization.action, "dynamodb:GetItem");
    assert_eq!(authorization.resource, TABLE);
}

#[test]
fn arbitrary_requests_do_not_panic() {
    let services = [
        "dynamodb",
        "sns",
        "ssm",
        "states",
        "scheduler",
        "lambda",
        "s3",
        "sts",
        "x",
    ];
    let methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", ""];
    let paths = [
        "",
        "/",
        "//",
        "/%",
        "/%ff%fe",
        "/a/b/c/d/e/f",
        "/schedules/%",
        "/2015-03-31/functions/%/invocations",
        "/2025-12-01/durable-executions/%E2%82/state",
        "/2025-12-01/durable-execution-callbacks//succeed",
        "/bucket/%",
        "/2015-03-31/functions/arn%3A%3A%3A/invocations",
    ];
    let queries = [
        "",
        "&&",
        "=",
        "%",
        "versionId",
        "list-type=2&prefix=%ff",
        "Qualifier=",
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        b"{\"TableName\":7,\"RequestItems\":[],\"TransactItems\":{},\"Names\":\"x\",\"Target\":1,\"Updates\":7}",
        b"Action=Publish&TopicArn=&Action=x",
    ];
    let targets = [
        "DynamoDB_20120810.TransactWriteItems",
        "DynamoDB_20120810.BatchGetItem",
        "AmazonSSM.GetParameters",
        "AWSStepFunctions.StartExecution",
        "DynamoDB_20120810.",
        ".",
    ];
    for service in services {
        for method in methods {
            for path in paths {
                for query in queries {
                    for (body, target) in bodies.iter().zip(targets) {
                        let mut request = rest(service, "GET", path, query, "");
                        request.method = method;
                        request.body = body.to_vec();
                        request = request
                            .header("x-amz-target", target)
                            .header("host", "b.localhost");
                        let _ = request.needed();
                    }
                }
            }
        }
    }
}
