//! The hitl remind function. An approval's one-time schedule (EventBridge Scheduler) invokes it
//! with `{approvalId, nudge}` when its reminder or escalation is due; it sends them only while
//! the approval is open, at most once each (`hitl_protocol::Messenger::nudge`), and with the
//! Slack app in its message's thread. At the approval's expiry, and once more a little after,
//! it closes a record nobody decided, settles one its execution outlived from how the execution
//! ended (`ORCHESTRATOR`'s `DescribeExecution` or `GetDurableExecution`), counts one even that
//! cannot settle, and updates the app's message (`hitl_protocol::Messenger::expiry`).

use hitl_adapters::{executions::Executions, functions::AwsMessenger};
use hitl_core::Nudge;
use hitl_protocol::{Failure, Settings};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hitl_aws::init_logging();
    let metrics = hitl_aws::init_metrics();
    hitl_protocol::measures::describe();
    let settings = Settings::from_env()?;
    let aws = hitl_aws::function_config_loader().load().await;
    let messenger = hitl_adapters::functions::messenger(&aws, settings)?;
    let executions = Executions::from_env(&aws)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handled = handle(&messenger, &executions, event.payload);
        metrics.after(hitl_aws::ending::ended(handled))
    }))
    .await
}

/// What a schedule invokes the function with: a nudge, or (without one) the approval's expiry:
/// closed if nobody decided, settled from its execution if it outlived it, and the Slack app's
/// message brought up to date.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    approval_id: String,
    nudge: Option<Nudge>,
}

/// One schedule's invocation: `{"sent": <messages sent>}`, or `{"closed", "settled",
/// "unsettled", "updated"}` (`hitl_protocol::Expiry`).
async fn handle(
    messenger: &AwsMessenger,
    executions: &Executions,
    event: Value,
) -> Result<Value, Diagnostic> {
    let failed = |failure: Failure| Diagnostic {
        error_type: failure.kind().to_owned(),
        error_message: failure.message().to_owned(),
    };
    let event: Event = serde_json::from_value(event)
        .map_err(|e| failed(Failure::invalid(format!("not a reminder event ({e})"))))?;
    let Some(nudge) = event.nudge else {
        let expiry = messenger
            .expiry(&event.approval_id, executions)
            .await
            .map_err(failed)?;
        return Ok(json!({
            "closed": expiry.closed,
            "settled": expiry.settled.map(|s| s.as_str()),
            "unsettled": expiry.unsettled,
            "updated": expiry.updated,
        }));
    };
    let sent = messenger
        .nudge(&event.approval_id, nudge)
        .await
        .map_err(failed)?;
    Ok(json!({ "sent": sent }))
}
