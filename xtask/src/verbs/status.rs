//! `cargo xtask status [--json]`: the stack's status and latest events, the workflow's recent
//! executions, the approvals waiting for a reviewer, each reviewer's email subscription, and
//! the stack's alarms that are going off, and what its dead-letter queues hold.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

use aws_sdk_sqs::types::QueueAttributeName;
use hitl_aws::describe;
use kit_aws::workflow::Workflow;
use kit_deploy::stack;

use crate::{cli::Global, kit};

pub fn run(global: &Global, json: bool) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    let report = runtime.block_on(report(&effective))?;
    if json {
        anstream::println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

/// What `status --json` prints.
async fn report(effective: &kit_config::Effective) -> Result<Value> {
    let aws = super::outputs::connect(effective).await?;
    let cfn = aws.cloudformation();
    let name = effective.stack_name.as_str();
    let Some(deployed) = stack::find(&cfn, name).await? else {
        return Ok(json!({ "stack": name, "status": "NOT_DEPLOYED" }));
    };
    let events = latest_events(&aws, name).await;
    let approvals = match deployed.output("TableName") {
        Some(table) => Some(approvals(&aws, table).await?),
        None => None,
    };
    let pending = approvals.as_ref().map(|a| {
        a.values()
            .filter(|r| r.status_at(hitl_aws::now()) == "pending")
            .count()
    });
    let (executions, recent) = executions(effective, &aws, approvals.as_ref()).await?;
    // Locally moto skips email subscriptions (the outboxes stand in for them).
    let reviewers = match super::subscriptions::topic_arn(&aws, &deployed, name).await {
        Some(topic) if aws.local.is_none() => {
            Some(subscriber_states(&effective.reviewers, &aws, &topic).await?)
        }
        _ => None,
    };
    // An alarm email goes out only once its address confirmed.
    let alarm_topic = ("AlarmTopicArn", "AlarmTopic");
    let alarm_emails =
        match super::subscriptions::resource(&aws, &deployed, name, alarm_topic).await {
            Some(topic) if aws.local.is_none() && !effective.alarm_emails.is_empty() => {
                Some(subscriber_states(&effective.alarm_emails, &aws, &topic).await?)
            }
            _ => None,
        };
    // Alarms that cannot be read (no cloudwatch:DescribeAlarms) leave the rest of the report.
    let alarms = alarms(&aws, name)
        .await
        .unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));
    let dead_letters = dead_letters(&aws, &deployed, name).await;
    Ok(json!({
        "stack": name,
        "status": deployed.status.as_str(),
        "alarms": alarms,
        "dead_letters": dead_letters,
        "events": events,
        "executions": executions,
        "recent_executions": recent,
        "pending_approvals": pending,
        "reviewers": reviewers,
        "alarm_emails": alarm_emails,
    }))
}

/// The stack's alarms (named `<stack>-…`): how many, and those in `ALARM` with why.
async fn alarms(aws: &kit_aws::Aws, name: &str) -> Result<Value> {
    let prefix = format!("{name}-");
    let mut pages = aws
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .into_paginator()
        .send();
    let (mut total, mut firing) = (0, Vec::new());
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| anyhow::anyhow!("cannot read the stack's alarms: {}", describe(&e)))?;
        for alarm in page.metric_alarms.unwrap_or_default() {
            total += 1;
            if alarm.state_value.as_ref().map(|s| s.as_str()) == Some("ALARM") {
                firing.push(json!({ "name": alarm.alarm_name, "reason": alarm.state_reason }));
            }
        }
    }
    Ok(json!({ "total": total, "in_alarm": firing }))
}

/// The stack's dead-letter queues (by logical ID), each with how many messages it holds
/// (`null` when that cannot be read).
async fn dead_letters(aws: &kit_aws::Aws, deployed: &stack::Deployed, name: &str) -> Vec<Value> {
    let mut queues = Vec::new();
    for logical_id in DEAD_LETTER_QUEUES {
        let found = super::subscriptions::resource(aws, deployed, name, ("", logical_id)).await;
        let Some(url) = found else { continue };
        let attributes = aws
            .sqs()
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await;
        let messages = attributes.ok().and_then(|a| {
            let count = a
                .attributes?
                .remove(&QueueAttributeName::ApproximateNumberOfMessages)?;
            count.parse::<u64>().ok()
        });
        let queue = url.rsplit('/').next().unwrap_or(&url).to_owned();
        queues.push(json!({ "queue": queue, "messages": messages }));
    }
    queues
}

/// The logical IDs of the dead-letter queues a stack may have.
const DEAD_LETTER_QUEUES: [&str; 1] = ["RemindersDeadLetterQueue"];

/// The stack's five latest events (none when they cannot be read).
async fn latest_events(aws: &kit_aws::Aws, name: &str) -> Vec<Value> {
    aws.cloudformation()
        .describe_stack_events()
        .stack_name(name)
        .send()
        .await
        .map(|o| o.stack_events.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .take(5)
        .map(|e| {
            json!({
                "time": e.timestamp.map(|t| t.to_string()),
                "resource": e.logical_resource_id,
                "status": e.resource_status.map(|s| s.as_str().to_owned()),
                "reason": e.resource_status_reason,
            })
        })
        .collect()
}

/// The workflow's last hundred executions counted by status, and the most recent of them with
/// how their approvals ended.
async fn executions(
    effective: &kit_config::Effective,
    aws: &kit_aws::Aws,
    approvals: Option<&BTreeMap<String, Record>>,
) -> Result<(BTreeMap<String, usize>, Vec<Value>)> {
    let mut counts = BTreeMap::<String, usize>::new();
    let mut recent = Vec::new();
    // As `outputs` reads them: locally, the alias moto drops is read back.
    let outputs = super::outputs::read(effective).await?;
    if let Ok(workflow) = Workflow::of(&outputs) {
        for execution in workflow.list(aws, 100).await? {
            *counts.entry(execution.status.clone()).or_default() += 1;
            if recent.len() < RECENT_IN_JSON {
                let record = approvals.and_then(|a| a.get(&execution.arn));
                recent.push(recent_execution(&execution, record, hitl_aws::now()));
            }
        }
    }
    Ok((counts, recent))
}

/// Each configured address's email subscription to `topic` (the reviewers', the alarms').
async fn subscriber_states(
    addresses: &[kit_config::values::Email],
    aws: &kit_aws::Aws,
    topic: &str,
) -> Result<Vec<Value>> {
    let listed = super::subscriptions::list(aws, topic).await?;
    let configured: Vec<String> = addresses.iter().map(|r| r.as_str().to_owned()).collect();
    Ok(super::subscriptions::states(&configured, &listed)
        .into_iter()
        .map(|(reviewer, state)| json!({ "reviewer": reviewer, "subscription": state.describe() }))
        .collect())
}

/// The report for people.
fn print(report: &Value) {
    let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
    anstream::println!(
        "stack              {} ({})",
        text(&report["stack"]),
        text(&report["status"])
    );
    if let Some(pending) = report["pending_approvals"].as_u64() {
        anstream::println!("pending approvals  {pending}");
    }
    print_alarms(&report["alarms"]);
    for queue in report["dead_letters"].as_array().into_iter().flatten() {
        let messages = match queue["messages"].as_u64() {
            Some(0) => "empty".to_owned(),
            Some(n) => format!("{n} MESSAGES: see docs/operations.md"),
            None => "cannot be read".to_owned(),
        };
        anstream::println!("dead letters       {} {messages}", text(&queue["queue"]));
    }
    if let Some(counts) = report["executions"].as_object() {
        let counted: Vec<String> = counts
            .iter()
            .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
            .collect();
        let counted = if counted.is_empty() {
            "none".to_owned()
        } else {
            counted.join(", ")
        };
        anstream::println!("executions         {counted}");
    }
    let recent = report["recent_executions"].as_array().into_iter().flatten();
    for execution in recent.take(RECENT_SHOWN) {
        anstream::println!(
            "  {:<10} {}  {}  {}",
            text(&execution["status"]),
            text(&execution["started"]),
            text(&execution["name"]),
            ending_text(execution)
        );
    }
    for (key, title) in [("reviewers", "reviewers"), ("alarm_emails", "alarm emails")] {
        let Some(subscribers) = report[key].as_array().filter(|s| !s.is_empty()) else {
            continue;
        };
        anstream::println!("{title}");
        for subscriber in subscribers {
            let (who, state) = (&subscriber["reviewer"], &subscriber["subscription"]);
            anstream::println!("  {:<30} {}", text(who), text(state));
        }
    }
    if let Some(events) = report["events"].as_array().filter(|e| !e.is_empty()) {
        anstream::println!("latest events");
        for event in events {
            let reason = event["reason"].as_str().map(|r| format!(": {r}"));
            anstream::println!(
                "  {}  {} {}{}",
                text(&event["time"]),
                text(&event["status"]),
                text(&event["resource"]),
                reason.unwrap_or_default()
            );
        }
    }
}

/// The alarms' line, and one per alarm going off.
fn print_alarms(alarms: &Value) {
    if let Some(error) = alarms["error"].as_str() {
        anstream::println!("alarms             cannot be read: {error}");
    }
    let Some(total) = alarms["total"].as_u64() else {
        return;
    };
    let firing = alarms["in_alarm"].as_array().cloned().unwrap_or_default();
    match firing.len() {
        0 => anstream::println!("alarms             {total}, none in alarm"),
        n => anstream::println!("alarms             {total}, {n} IN ALARM"),
    }
    for alarm in firing {
        let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
        anstream::println!("  {}  {}", text(&alarm["name"]), text(&alarm["reason"]));
    }
}

/// How many recent executions the text shows, and `--json` lists.
const RECENT_SHOWN: usize = 5;
const RECENT_IN_JSON: usize = 50;

/// What the approvals table says of one execution's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// `pending`, `deciding`, `approved`, `rejected` or `expired`.
    status: String,
    decided_by: Option<String>,
    comment: Option<String>,
    /// Unix seconds: an open record past it expired (nothing writes that down, the workflow
    /// took its expired branch).
    expires_at: Option<u64>,
}

impl Record {
    /// Its status at `now`: a pending one past its expiry is `expired` (one being decided may
    /// have been accepted and its settle failed: it says so itself, later).
    fn status_at(&self, now: u64) -> &str {
        let open = self.status == "pending";
        match self.expires_at {
            Some(at) if open && at <= now => "expired",
            _ => &self.status,
        }
    }
}

/// One recent execution, with how its approval ended: `approved` (by whom), `rejected` (by
/// whom, why) or `expired` from its record, `waiting` while open; a workflow that ended before
/// storing an approval (an invalid request) says its own status.
fn recent_execution(
    execution: &kit_aws::workflow::Summary,
    record: Option<&Record>,
    now: u64,
) -> serde_json::Value {
    let ending = match record.map(|r| r.status_at(now)) {
        Some("pending" | "deciding") => "waiting",
        Some(decided) => decided,
        None if execution.status == "RUNNING" => "waiting",
        None => "none",
    };
    let decided = matches!(ending, "approved" | "rejected");
    json!({
        "arn": execution.arn,
        "name": execution.name,
        "status": execution.status,
        "started": execution.started,
        "ending": ending,
        "by": record.filter(|_| decided).and_then(|r| r.decided_by.clone()),
        "comment": record.filter(|_| ending == "rejected").and_then(|r| r.comment.clone()),
    })
}

/// `approved by ana@example.com`, `rejected by ben@example.com: Over budget`, `expired`.
fn ending_text(execution: &serde_json::Value) -> String {
    let ending = execution["ending"].as_str().unwrap_or("");
    let by = execution["by"]
        .as_str()
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    let why = execution["comment"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    match ending {
        "none" => String::new(),
        _ => format!("{ending}{by}{why}"),
    }
}

/// The approval records, by execution (a scan: the table holds one item per approval and one
/// per reviewer link, and lives as long as the retention).
async fn approvals(aws: &kit_aws::Aws, table: &str) -> Result<BTreeMap<String, Record>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.sdk);
    let mut records = BTreeMap::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .filter_expression("attribute_exists(execution_arn)")
            .projection_expression("execution_arn, #s, decided_by, #c, expires_at")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#c", "comment")
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the approvals table: {}", describe(&e)))?;
        for item in page.items.unwrap_or_default() {
            let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(arn), Some(status)) = (text("execution_arn"), text("status")) {
                let record = Record {
                    status,
                    decided_by: text("decided_by"),
                    comment: text("comment"),
                    expires_at: item
                        .get("expires_at")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok()),
                };
                records.insert(arn, record);
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(records);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: &str) -> kit_aws::workflow::Summary {
        kit_aws::workflow::Summary {
            arn: "arn:x".into(),
            name: "hitl-1".into(),
            status: status.into(),
            started: "2026-12-04".into(),
        }
    }

    fn record(status: &str, by: Option<&str>, comment: &str) -> Record {
        Record {
            status: status.into(),
            decided_by: by.map(str::to_owned),
            comment: Some(comment.into()),
            expires_at: Some(NOW + 60),
        }
    }

    const NOW: u64 = 1_796_000_000;

    #[test]
    fn each_execution_says_how_its_approval_ended() {
        let shown = |execution: &str, record: Option<Record>| {
            ending_text(&recent_execution(&summary(execution), record.as_ref(), NOW))
        };
        assert_eq!(
            shown(
                "SUCCEEDED",
                Some(record("approved", Some("ana@example.com"), "ok"))
            ),
            "approved by ana@example.com"
        );
        assert_eq!(
            shown(
                "FAILED",
                Some(record("rejected", Some("ben@example.com"), "Over budget"))
            ),
            "rejected by ben@example.com: Over budget"
        );
        assert_eq!(
            shown("FAILED", Some(record("expired", None, ""))),
            "expired"
        );
        assert_eq!(
            shown("RUNNING", Some(record("pending", None, ""))),
            "waiting"
        );
        assert_eq!(shown("RUNNING", None), "waiting");
        // Nothing writes an expiry down: an open record past it expired.
        let mut late = record("pending", None, "");
        late.expires_at = Some(NOW);
        assert_eq!(shown("FAILED", Some(late)), "expired");
        assert_eq!(shown("FAILED", None), "");
    }
}
