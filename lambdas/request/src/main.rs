//! The hitl request function. Step Functions invokes it from the approval task with
//! `{taskToken, executionArn, stateName, stateEnteredTime, retryCount, request}`
//! (`.waitForTaskToken`): it stores the approval and one link per reviewer, and sends each
//! reviewer his own link (`hitl_protocol::Requester`). The workflow then waits until the review
//! function sends the token back, or the task times out.
//!
//! Idempotent: a retried invocation finds the stored record and sends only what was not sent.
//! The task token is stored in the table and nowhere else: not in messages, links or logs.

mod handler;

use hitl_protocol::Settings;
use lambda_runtime::service_fn;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hitl_aws::init_logging();
    let metrics = hitl_aws::init_metrics();
    hitl_protocol::measures::describe();
    let settings = Settings::from_env()?;
    let aws = hitl_aws::function_config_loader().load().await;
    let requester = hitl_adapters::functions::requester(&aws, settings)?;
    lambda_runtime::run(service_fn(|event| {
        metrics.after(hitl_aws::ending::ended(handler::handle(&requester, event)))
    }))
    .await
}
