//! How an invocation ended, said in its log under the runtime's span (`requestId`,
//! `xrayTraceId`): a failed invocation (what Lambda counts in the function's `Errors` metric), a
//! server error answered through API Gateway (its `5XXError`), and a durable step that failed
//! and is tried again in a later invocation (which no metric counts until the execution fails).
//! An operator finds there which request an alarm counted; the local environment's ledger of
//! injected faults reads the same lines (`kit_local::ledger`).

use std::fmt::Debug;

/// The message of a failed invocation.
pub const FAILED: &str = "the invocation failed";

/// The message of a 5xx answered to API Gateway.
pub const SERVER_ERROR: &str = "answered with a server error";

/// The message of a durable step that failed and is tried again.
pub const RETRIED: &str = "the step failed and is tried again";

/// `work`'s outcome, its error logged.
pub async fn ended<T, E: Debug>(work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let out = work.await;
    if let Err(error) = &out {
        tracing::error!(?error, "{FAILED}");
    }
    out
}

/// Logs an HTTP answer of `status` when it is a server error.
pub fn answered(status: u16) {
    if status >= 500 {
        tracing::warn!(status, "{SERVER_ERROR}");
    }
}

/// Logs a durable step's failure, tried again after `delay`, with the invocation's X-Ray trace
/// (the durable SDK logs under a span of its own, without it).
pub fn retried(error: &dyn std::fmt::Display, attempt: u32, delay: std::time::Duration) {
    let trace = std::env::var("_X_AMZN_TRACE_ID").unwrap_or_default();
    tracing::warn!(%error, attempt, ?delay, xray_trace_id = %trace, "{RETRIED}");
}
