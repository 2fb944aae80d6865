//! The hitl durable workflow, the second orchestrator (`orchestrator: durable-function`): a
//! Lambda durable function that does what the state machine does. It validates the request
//! (an invalid one fails the execution at once, with the request function's error), then waits
//! on a callback whose submitter stores the approval and notifies the reviewers through the
//! request function's own protocol (`hitl_protocol::Requester`), with the callback id as the
//! record's token; the review
//! function completes the callback with the decision. It ends approved (succeeded), rejected
//! or expired (failed, `Rejected` or `Expired`), and tells the reviewers, as the state
//! machine's endings do.
//!
//! Replay-safe: the submitter and the ending's message are durable steps, replayed from their
//! checkpoints rather than run again; a submitter retried after a crash finds its record (the
//! callback id is the same) and sends only what was not sent.

mod workflow;

use std::sync::Arc;

use aws_durable_execution_sdk::{self as durable, DurableContext, Options};
use hitl_protocol::Settings;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), durable::lambda_runtime::Error> {
    hitl_aws::init_logging();
    let metrics = hitl_aws::init_metrics();
    hitl_protocol::measures::describe();
    let settings = Settings::from_env()?;
    let aws = hitl_aws::function_config_loader().load().await;
    // The SDK's checkpoint client on the workspace's one HTTPS client and credential chain.
    let options = Options::builder().sdk_config(aws.clone()).build()?;
    let requester = Arc::new(hitl_adapters::functions::requester(&aws, settings)?);
    // Flushed after each invocation as the SDK answers it, suspended or ended: the workflow's
    // own future is not polled to its end when the execution suspends.
    let invocation = durable::wrap(
        move |event: serde_json::Value, ctx: DurableContext| {
            workflow::run(requester.clone(), event, ctx)
        },
        options,
    );
    let metrics = &metrics;
    durable::lambda_runtime::run(durable::lambda_runtime::service_fn(|event| {
        metrics.after(hitl_aws::ending::ended(invocation(event)))
    }))
    .await
}
