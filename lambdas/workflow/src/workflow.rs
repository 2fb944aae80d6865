//! One durable execution: validate, wait for the decision, end.

use std::{sync::Arc, time::Duration};

use aws_durable_execution_sdk::{
    BoxError, CallbackErrorKind, DurableContext, OperationError, OperationErrorKind, RetryDecision,
    StepContext, StepError, TypedError,
};
use hitl_adapters::functions::AwsRequester;
use hitl_core::{
    ApprovalKey, ApprovalRequest, Decision, Ending, INVALID_INPUT, TaskToken,
    has_title_and_requester,
};
use hitl_protocol::{Clock, Failure, ending};
use serde_json::Value;

/// The wait's name in the execution's history, and the approval key's state name.
pub const STEP: &str = "RequestApproval";

/// Attempts of the submitter (storing and notifying) before the execution fails: the state
/// machine's `Retry` of `Hitl.Transient` (three retries, 1, 2 and 4 seconds apart).
const SUBMIT_ATTEMPTS: u32 = 4;

pub async fn run(
    requester: Arc<AwsRequester>,
    event: Value,
    ctx: DurableContext,
) -> Result<Value, BoxError> {
    if !has_title_and_requester(&event) {
        let (error, cause) = INVALID_INPUT;
        hitl_protocol::measures::failed();
        return Err(Box::new(TypedError::with_type(error, cause)));
    }
    let request = ApprovalRequest::from_value(&event).map_err(|e| {
        tracing::warn!(error = %e, "refused an invalid request");
        hitl_protocol::measures::failed();
        failed(Failure::invalid(e))
    })?;
    let key = ApprovalKey {
        execution_arn: ctx.execution_arn().to_owned(),
        state_name: STEP.to_owned(),
        entered_time: String::new(),
        item: None,
    };
    // What the submitter would refuse (nobody left to review), refused before anything waits.
    let placeholder = TaskToken::new("validation").ok_or("a placeholder token")?;
    requester
        .new_approval(placeholder, None, &key, request.clone(), 0)
        .map_err(|e| {
            hitl_protocol::measures::failed();
            failed(Failure::invalid(e))
        })?;

    let submit = {
        let requester = requester.clone();
        let request = request.clone();
        move |_: StepContext, callback_id: String| async move {
            let token = TaskToken::new(&callback_id).ok_or("the callback id is empty")?;
            let now = requester.messenger.clock.now();
            let approval = requester
                .new_approval(token, None, &key, request, now)
                .map_err(|e| failed(Failure::invalid(e)))?;
            requester
                .request_approval(&approval, now)
                .await
                .map_err(failed)?;
            Ok(())
        }
    };
    let timeout = Duration::from_secs(requester.messenger.settings.approval_timeout_secs);
    let decided = ctx
        .wait_for_callback::<Value, _, _>(submit)
        .name(STEP)
        .timeout(timeout)
        .submitter_retry(retry)
        .await;
    match decided {
        Ok(approval) => decided_by(&ctx, &requester, &request, event, approval).await,
        Err(error) if timed_out(&error) => {
            announce(&ctx, &requester, &request, None).await;
            // Here, not in the announcing step, which may be attempted several times: only the
            // invocation that ends the execution gets this far.
            hitl_protocol::measures::expired();
            Err(Box::new(TypedError::with_type(
                hitl_core::errors::EXPIRED,
                "No reviewer decided within the approval timeout.",
            )))
        }
        // The submitter failed for good: its error (`Hitl.InvalidRequest`, `Hitl.Transient`)
        // ends the execution.
        Err(error) => {
            hitl_protocol::measures::failed();
            Err(Box::new(error))
        }
    }
}

/// The execution's end once the review function completed the callback with `approval`:
/// succeeded with the approval, or failed `Rejected` with the comment; the reviewers told.
async fn decided_by(
    ctx: &DurableContext,
    requester: &Arc<AwsRequester>,
    request: &ApprovalRequest,
    event: Value,
    approval: Value,
) -> Result<Value, BoxError> {
    let decision = match approval["decision"].as_str() {
        Some("approved") => Decision::Approved,
        Some("rejected") => Decision::Rejected,
        _ => {
            hitl_protocol::measures::failed();
            return Err(Box::new(TypedError::with_type(
                "UnknownDecision",
                "The callback came back without an approved or rejected decision.",
            )));
        }
    };
    let text = |field: &str| approval[field].as_str().unwrap_or_default().to_owned();
    let (reviewer, comment) = (text("reviewer"), text("comment"));
    announce(
        ctx,
        requester,
        request,
        Some((decision, reviewer, comment.clone())),
    )
    .await;
    match decision {
        Decision::Approved => Ok(output(event, approval)),
        Decision::Rejected => Err(Box::new(TypedError::with_type("Rejected", comment))),
    }
}

/// The execution's output: its input with the decision under `approval`, as the state
/// machine's `ResultPath: $.approval` leaves it.
fn output(mut event: Value, approval: Value) -> Value {
    if let Value::Object(fields) = &mut event {
        fields.insert("approval".to_owned(), approval);
    }
    event
}

/// Tells every reviewer how the approval ended, in a durable step (a replay does not send it
/// again). Like the state machine's `Notify…` states, a failure is logged and the execution
/// ends all the same.
async fn announce(
    ctx: &DurableContext,
    requester: &Arc<AwsRequester>,
    request: &ApprovalRequest,
    decided: Option<(Decision, String, String)>,
) {
    let name = match &decided {
        Some((Decision::Approved, ..)) => "NotifyApproved",
        Some((Decision::Rejected, ..)) => "NotifyRejected",
        None => "NotifyExpired",
    };
    let requester = requester.clone();
    let request = request.clone();
    let sent = ctx
        .step(move |_| async move {
            let ending = match &decided {
                Some((decision, reviewer, comment)) => Ending::Decided {
                    decision: *decision,
                    reviewer,
                    comment,
                },
                None => Ending::Expired,
            };
            ending::announce(&requester.messenger.notifier, &request, ending)
                .await
                .map_err(failed)?;
            Ok(())
        })
        .name(name)
        .await;
    if let Err(error) = sent {
        tracing::warn!(%error, step = name, "could not tell the reviewers how the approval ended");
    }
}

/// A request-side failure as the execution records it: its error name as the error type.
fn failed(failure: Failure) -> BoxError {
    Box::new(TypedError::with_type(
        failure.kind(),
        failure.message().to_owned(),
    ))
}

/// Whether the wait ended because nobody completed the callback in time.
fn timed_out(error: &OperationError) -> bool {
    matches!(error.kind(), OperationErrorKind::Callback(callback)
        if matches!(callback.kind(), CallbackErrorKind::TimedOut { .. }))
}

/// The submitter's retries: a transient failure is tried again, 1, 2 and 4 seconds apart, and
/// logged each time (`hitl_aws::ending`); an invalid request is not.
fn retry(error: &StepError, attempt: u32) -> RetryDecision {
    if error_type(error) == Some(Failure::INVALID) {
        return RetryDecision::Stop;
    }
    if attempt >= SUBMIT_ATTEMPTS {
        hitl_aws::ending::gave_up(error, attempt);
        return RetryDecision::Stop;
    }
    let delay = Duration::from_secs(1 << (attempt.saturating_sub(1)).min(4));
    hitl_aws::ending::retried(error, attempt, delay);
    RetryDecision::Retry { delay }
}

/// The error type of the first [`TypedError`] in `error`'s chain.
fn error_type<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a str> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(typed) = error.downcast_ref::<TypedError>() {
            return Some(typed.error_type());
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_output_is_the_input_with_the_decision() {
        let out = output(
            json!({"title": "T", "requester": "c@x.io"}),
            json!({"decision": "approved"}),
        );
        assert_eq!(
            out,
            json!({"title": "T", "requester": "c@x.io", "approval": {"decision": "approved"}})
        );
    }

    #[test]
    fn error_types_are_found_down_the_chain() {
        let typed = TypedError::with_type(Failure::INVALID, "bad");
        assert_eq!(error_type(&typed), Some(Failure::INVALID));
        let plain = std::io::Error::other("x");
        assert_eq!(error_type(&plain), None);
    }
}
