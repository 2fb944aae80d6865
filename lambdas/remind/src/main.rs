//! The hitl remind function. An approval's one-time schedule (EventBridge Scheduler) invokes it
//! with `{approvalId, nudge}` when its reminder or escalation is due; it sends them only while
//! the approval is open, at most once each (`hitl_protocol::Messenger::nudge`).

use hitl_adapters::functions::AwsMessenger;
use hitl_core::Nudge;
use hitl_protocol::{Failure, Settings};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hitl_aws::init_logging();
    let settings = Settings::from_env()?;
    let aws = hitl_aws::config_loader().load().await;
    let messenger = hitl_adapters::functions::messenger(&aws, settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handle(&messenger, event.payload)
    }))
    .await
}

/// What a schedule invokes the function with.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    approval_id: String,
    nudge: Nudge,
}

/// One schedule's invocation: `{"sent": <messages sent>}`.
async fn handle(messenger: &AwsMessenger, event: Value) -> Result<Value, Diagnostic> {
    let failed = |failure: Failure| Diagnostic {
        error_type: failure.kind().to_owned(),
        error_message: failure.message().to_owned(),
    };
    let event: Event = serde_json::from_value(event)
        .map_err(|e| failed(Failure::invalid(format!("not a reminder event ({e})"))))?;
    let sent = messenger
        .nudge(&event.approval_id, event.nudge)
        .await
        .map_err(failed)?;
    Ok(json!({ "sent": sent }))
}
