//! One invocation: read the event, then the protocol's request side.

use hitl_adapters::functions::AwsRequester;
use hitl_core::Invocation;
use hitl_protocol::{Clock, Failure};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

/// A failure as Lambda reports it to the workflow: its kind is the error name the workflow
/// matches (`Hitl.InvalidRequest`, `Hitl.Transient`, `Hitl.Expired`).
pub fn diagnostic(failure: Failure) -> Diagnostic {
    Diagnostic {
        error_type: failure.kind().to_owned(),
        error_message: failure.message().to_owned(),
    }
}

/// The approval task's invocation: the event read, then `request_approval`.
pub async fn handle(
    requester: &AwsRequester,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let invocation = Invocation::from_event(&event.payload).map_err(|e| {
        tracing::warn!(error = %e, "refused an invalid request");
        diagnostic(Failure::invalid(e))
    })?;
    let now = requester.messenger.clock.now();
    let approval = requester
        .new_approval(
            invocation.task_token,
            invocation.attempt,
            &invocation.key,
            invocation.request,
            now,
        )
        .map_err(|e| diagnostic(Failure::invalid(e)))?;
    requester
        .request_approval(&approval, now)
        .await
        .map_err(diagnostic)
}
