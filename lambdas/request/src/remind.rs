//! A reminder or an escalation, as its schedule invokes the remind function:
//! `{approvalId, nudge: "remind"|"escalate"}`. The record is marked first (at most once, only
//! while open: `Table::mark_nudged`), then each addressee gets a message with a fresh link of
//! his own. A decided or expired approval sends nothing.

use hitl_core::{Nudge, message::nudge_message, nudged};
use serde::Deserialize;
use serde_json::{Value, json};

use hitl_aws::now;

use crate::handler::{Context, Failure, publish};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    approval_id: String,
    nudge: Nudge,
}

pub async fn handle(context: &Context, event: Value) -> Result<Value, Failure> {
    let event: Event = serde_json::from_value(event)
        .map_err(|e| Failure::invalid(format!("not a reminder event ({e})")))?;
    let now = now();
    let Some(approval) = context.table.find(&event.approval_id).await? else {
        tracing::info!(approval = %event.approval_id, "no such approval: nothing to send");
        return Ok(json!({"sent": 0}));
    };
    let settings = &context.settings;
    let who = nudged(&approval, event.nudge, &settings.escalate_to, now);
    if who.is_empty()
        || !context
            .table
            .mark_nudged(&approval.id, event.nudge, now)
            .await?
    {
        tracing::info!(approval = %approval.id, nudge = event.nudge.as_str(), status = approval.status.as_str(), "closed, or sent before: nothing to send");
        return Ok(json!({"sent": 0}));
    }
    let mut sent = 0;
    for addressee in &who {
        let (link, item) = approval.new_link(addressee);
        context.table.put_link(&item).await?;
        let message = nudge_message(
            &approval,
            &link,
            &settings.review_base_url,
            event.nudge,
            now,
        );
        let published = publish(context, &message).await;
        // Marked already: a failure is logged and the others still get theirs (at most once).
        match published {
            Ok(_) => sent += 1,
            Err(error) => {
                tracing::error!(approval = %approval.id, error = error.message(), "a nudge could not be sent")
            }
        }
    }
    tracing::info!(approval = %approval.id, nudge = event.nudge.as_str(), sent, "nudged");
    Ok(json!({"sent": sent}))
}
