//! How an invocation ended, said in its log with the invocation's X-Ray trace (a field of the
//! line, besides the runtime's span where there is one): a failed invocation (what Lambda counts
//! in the function's `Errors` metric), a server error answered through API Gateway (its
//! `5XXError`), and a durable step that failed and is tried again in a later invocation (which
//! no metric counts) or failed for good (its execution fails: `ExecutionsFailed`). An operator
//! finds there which request an alarm counted; the local environment's ledger of injected
//! faults reads the same lines (`kit_local::ledger`).

use std::fmt::{Debug, Display};

/// The message of a failed invocation.
pub const FAILED: &str = "the invocation failed";

/// The message of a 5xx answered to API Gateway.
pub const SERVER_ERROR: &str = "answered with a server error";

/// The message of a durable step that failed and is tried again.
pub const RETRIED: &str = "the step failed and is tried again";

/// The message of a durable step that failed for good: its execution fails.
pub const GAVE_UP: &str = "the step failed for good";

/// The invocation's X-Ray trace, as the runtime set it for this invocation (the durable SDK
/// logs under a span of its own, without it).
fn trace() -> String {
    std::env::var("_X_AMZN_TRACE_ID").unwrap_or_default()
}

/// `work`'s outcome, its error logged.
pub async fn ended<T, E: Debug>(work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let out = work.await;
    if let Err(error) = &out {
        tracing::error!(xray_trace_id = %trace(), ?error, "{FAILED}");
    }
    out
}

/// Logs an HTTP answer of `status` when it is a server error.
pub fn answered(status: u16) {
    if status >= 500 {
        tracing::warn!(xray_trace_id = %trace(), status, "{SERVER_ERROR}");
    }
}

/// Logs a durable step's failure, tried again after `delay`.
pub fn retried(error: &dyn Display, attempt: u32, delay: std::time::Duration) {
    tracing::warn!(xray_trace_id = %trace(), attempt, ?delay, %error, "{RETRIED}");
}

/// Logs a durable step's failure after its last attempt.
pub fn gave_up(error: &dyn Display, attempt: u32) {
    tracing::error!(xray_trace_id = %trace(), attempt, %error, "{GAVE_UP}");
}
