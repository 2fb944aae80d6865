//! The stack's CloudWatch dashboard (`<stack>-<region>`: dashboards are global in an account): what the functions count (the namespace
//! `hitl/<stack>`), what failed, the functions and the review API as AWS counts them, and the
//! stack's alarms. Its body is JSON, made here and placed in the template under `!Sub`, whose
//! only variables are `${AWS::Region}`, `${AWS::Partition}` and `${AWS::AccountId}`.

use kit_config::Effective;
use serde_json::{Value, json};

/// Five minutes, the alarms' period.
const PERIOD: u64 = 300;

/// The dashboard's body for `config`, whose alarms are `alarms` and whose API stage is `stage`.
pub fn body(config: &Effective, alarms: &[String], stage: &str) -> String {
    let stack = config.stack_name.as_str();
    let widgets = [
        graph((0, 0), "Approvals", "Sum", approvals(stack)),
        graph(
            (12, 0),
            "Time to decision (s)",
            "p50",
            time_to_decision(stack),
        ),
        graph((0, 6), "What failed", "Sum", failures(config)),
        graph((12, 6), "Functions", "Sum", functions(config)),
        graph((0, 12), "Review API", "Sum", api(stack, stage)),
        alarm_list((12, 12), alarms),
    ];
    json!({ "widgets": widgets }).to_string()
}

fn namespace(stack: &str) -> String {
    format!("hitl/{stack}")
}

fn approvals(stack: &str) -> Vec<Value> {
    let ns = namespace(stack);
    vec![
        json!([ns, "ApprovalsRequested"]),
        json!([ns, "Decisions", "Outcome", "approved"]),
        json!([ns, "Decisions", "Outcome", "rejected"]),
        json!([ns, "Expiries"]),
        json!([ns, "Votes"]),
    ]
}

fn time_to_decision(stack: &str) -> Vec<Value> {
    let ns = namespace(stack);
    ["p50", "p90", "Maximum"]
        .map(|stat| json!([ns, "TimeToDecision", { "stat": stat, "label": stat }]))
        .to_vec()
}

fn failures(config: &Effective) -> Vec<Value> {
    let stack = config.stack_name.as_str();
    let ns = namespace(stack);
    let mut metrics = vec![json!([ns, "ExecutionsFailed"])];
    for channel in ["email", "slack", "teams"] {
        metrics.push(json!([ns, "NotificationsFailed", "Channel", channel]));
    }
    let topic = format!("{stack}-approvals");
    metrics.push(json!([
        "AWS/SNS",
        "NumberOfNotificationsFailed",
        "TopicName",
        topic
    ]));
    let queue = format!("{stack}-reminders-dead-letters");
    let depth = "ApproximateNumberOfMessagesVisible";
    metrics.push(json!(["AWS/SQS", depth, "QueueName", queue, { "stat": "Maximum" }]));
    metrics
}

fn functions(config: &Effective) -> Vec<Value> {
    let stack = config.stack_name.as_str();
    let mut metrics = Vec::new();
    for function in config.functions() {
        let name = format!("{stack}-{function}");
        metrics.push(json!(["AWS/Lambda", "Errors", "FunctionName", name]));
        metrics.push(json!(["AWS/Lambda", "Throttles", "FunctionName", name]));
    }
    metrics
}

fn api(stack: &str, stage: &str) -> Vec<Value> {
    let dimensions = ["ApiName", &format!("{stack}-review"), "Stage", stage];
    let metric = |name: &str, extra: Value| {
        let mut row = vec![json!("AWS/ApiGateway"), json!(name)];
        row.extend(dimensions.iter().map(|d| json!(d)));
        if !extra.is_null() {
            row.push(extra);
        }
        Value::Array(row)
    };
    vec![
        metric("Count", Value::Null),
        metric("5XXError", Value::Null),
        metric("4XXError", Value::Null),
        metric("Latency", json!({ "stat": "p95", "yAxis": "right" })),
    ]
}

/// A line graph of `metrics` over five minutes, half the width, at `(x, y)` (the body's schema
/// requires both or neither).
fn graph((x, y): (u64, u64), title: &str, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD,
            "metrics": metrics,
        },
    })
}

/// Every alarm of the stack, with its state.
fn alarm_list((x, y): (u64, u64), alarms: &[String]) -> Value {
    let arns: Vec<String> = alarms
        .iter()
        .map(|name| {
            format!("arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{name}")
        })
        .collect();
    json!({
        "type": "alarm",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": { "title": "Alarms", "alarms": arns },
    })
}
