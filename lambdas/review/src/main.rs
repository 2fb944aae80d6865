//! The hitl review function, behind API Gateway (REST proxy) or a Lambda function URL:
//! `GET|HEAD /approvals/{link id}` shows the review page and changes nothing;
//! `POST /approvals/{link id}` records a decision, but only once the orchestrator (Step
//! Functions, or the durable workflow) has accepted it: claim (`pending → deciding`,
//! conditional), `SendTaskSuccess` or `SendDurableExecutionCallbackSuccess`, then finalise,
//! expire or revert (`hitl_protocol::Reviewer`). Two racing POSTs resume the execution once; the
//! loser sees who decided. With the Slack app, `POST /slack/interactions` is its interactivity
//! endpoint (`hitl_protocol::Reviewer::interaction`). With sign-in, `GET /sign-in` is the identity
//! provider's redirect back, and a link opens and decides only for its reviewer, signed in
//! (`hitl_protocol::sign_in`).

mod clock;
mod downloads;
mod handler;
mod resume;
mod sign_in;

use hitl_adapters::{chat::SlackChannel, table::DynamoTable};
use hitl_protocol::Reviewer;
use lambda_http::service_fn;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    hitl_aws::init_logging();
    let metrics = hitl_aws::init_metrics();
    hitl_protocol::measures::describe();
    let table =
        std::env::var("TABLE_NAME").map_err(|_| "environment variable TABLE_NAME is not set")?;
    let aws = hitl_aws::function_config_loader().load().await;
    let escalate_to = std::env::var("ESCALATE_TO").unwrap_or_default();
    let slack = SlackChannel::from_env(&aws)?.and_then(SlackChannel::app);
    if let Some(app) = &slack {
        app.warm().await;
    }
    let sign_in = sign_in::Gate::from_env(&aws, &table)?;
    let table = DynamoTable::on(&aws, table);
    let context = handler::Context {
        reviewer: Reviewer {
            sign_in: sign_in.is_some(),
            table,
            orchestrator: resume::Orchestrator::from_env(&aws)?,
            clock: clock::SystemClock,
            slack,
            // An escalated approval's addressees may decide in Slack too.
            escalate_to: hitl_protocol::settings::list(&escalate_to),
        },
        downloads: downloads::Downloads::new(&aws),
        sign_in,
    };
    lambda_http::run(service_fn(|request| {
        metrics.after(hitl_aws::ending::ended(handler::handle(&context, request)))
    }))
    .await
}
