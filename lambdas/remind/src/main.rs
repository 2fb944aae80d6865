//! The hitl remind function. An approval's one-time schedule (EventBridge Scheduler) invokes it
//! with `{approvalId, nudge}` when its reminder or escalation is due; it sends them only while
//! the approval is open, at most once each (`request::remind`).

use lambda_runtime::{LambdaEvent, service_fn};
use request::{handler, remind, settings::Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hitl_aws::init_logging();
    let settings = Settings::from_env()?;
    let aws = hitl_aws::config_loader().load().await;
    let context = handler::Context::new(&aws, settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        remind::handle(&context, event.payload)
    }))
    .await
}
