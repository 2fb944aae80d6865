//! `cargo xtask status [--json]`: the stack's status and latest events, the workflow's recent
//! executions, the approvals waiting for a reviewer and each reviewer's email subscription.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use hitl_aws::describe;
use kit_aws::workflow::Workflow;
use kit_deploy::stack;

use crate::{cli::Global, kit};

pub fn run(global: &Global, json: bool) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    let report = runtime.block_on(async {
        let aws = super::outputs::connect(&effective).await?;
        let cfn = aws.cloudformation();
        let name = effective.stack_name.as_str();
        let Some(deployed) = stack::find(&cfn, name).await? else {
            return anyhow::Ok(json!({ "stack": name, "status": "NOT_DEPLOYED" }));
        };
        let events: Vec<serde_json::Value> = cfn
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
            .collect();
        let mut executions = BTreeMap::<String, usize>::new();
        let mut recent = Vec::new();
        let outputs: BTreeMap<String, String> = deployed.outputs.iter().cloned().collect();
        if let Ok(workflow) = Workflow::of(&outputs) {
            for execution in workflow.list(&aws, 100).await? {
                *executions.entry(execution.status.clone()).or_default() += 1;
                if recent.len() < 5 {
                    recent.push(json!({
                        "name": execution.name,
                        "status": execution.status,
                        "started": execution.started,
                    }));
                }
            }
        }
        let pending = match deployed.output("TableName") {
            Some(table) => Some(pending_approvals(&aws, table).await?),
            None => None,
        };
        // Locally moto skips email subscriptions (the outboxes stand in for them).
        let topic = super::subscriptions::topic_arn(&aws, &deployed, name).await;
        let reviewers: Option<Vec<serde_json::Value>> = match topic {
            Some(topic) if aws.local.is_none() => {
                let listed = super::subscriptions::list(&aws, &topic).await?;
                let configured: Vec<String> = effective
                    .reviewers
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect();
                Some(
                    super::subscriptions::states(&configured, &listed)
                        .into_iter()
                        .map(|(reviewer, state)| {
                            json!({ "reviewer": reviewer, "subscription": state.describe() })
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        Ok(json!({
            "stack": name,
            "status": deployed.status.as_str(),
            "events": events,
            "executions": executions,
            "recent_executions": recent,
            "pending_approvals": pending,
            "reviewers": reviewers,
        }))
    })?;
    if json {
        anstream::println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    anstream::println!(
        "stack              {} ({})",
        report["stack"].as_str().unwrap_or(""),
        report["status"].as_str().unwrap_or("")
    );
    if let Some(pending) = report["pending_approvals"].as_u64() {
        anstream::println!("pending approvals  {pending}");
    }
    if let Some(counts) = report["executions"].as_object() {
        let text: Vec<String> = counts
            .iter()
            .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
            .collect();
        anstream::println!(
            "executions         {}",
            if text.is_empty() {
                "none".to_owned()
            } else {
                text.join(", ")
            }
        );
    }
    for execution in report["recent_executions"].as_array().into_iter().flatten() {
        anstream::println!(
            "  {:<10} {}  {}",
            execution["status"].as_str().unwrap_or(""),
            execution["started"].as_str().unwrap_or(""),
            execution["name"].as_str().unwrap_or("")
        );
    }
    if let Some(reviewers) = report["reviewers"].as_array() {
        anstream::println!("reviewers");
        for reviewer in reviewers {
            anstream::println!(
                "  {:<30} {}",
                reviewer["reviewer"].as_str().unwrap_or(""),
                reviewer["subscription"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(events) = report["events"].as_array().filter(|e| !e.is_empty()) {
        anstream::println!("latest events");
        for event in events {
            anstream::println!(
                "  {}  {} {}{}",
                event["time"].as_str().unwrap_or(""),
                event["status"].as_str().unwrap_or(""),
                event["resource"].as_str().unwrap_or(""),
                event["reason"]
                    .as_str()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Approval records still waiting for a decision (a scan: the table holds one item per
/// approval and one per reviewer link, and lives as long as the retention).
async fn pending_approvals(aws: &kit_aws::Aws, table: &str) -> Result<u64> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.sdk);
    let mut count = 0;
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .filter_expression("#s = :pending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the approvals table: {}", describe(&e)))?;
        count += page.count as u64;
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(count);
        }
    }
}
