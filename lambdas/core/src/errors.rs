//! The error names the kit's workflow sees: those a request attempt fails with (the request
//! function's, matched by the state machine's `Retry` and `Catch`, and the durable workflow's
//! submitter), and those an execution ends with (its expired branch, a rejection).

/// The request is at fault: the workflow fails at once.
pub const INVALID_REQUEST: &str = "Hitl.InvalidRequest";
/// A failure that may pass: the workflow tries the attempt again.
pub const TRANSIENT: &str = "Hitl.Transient";
/// The approval closed under an earlier attempt: the workflow's expired branch.
pub const EXPIRED_ATTEMPT: &str = "Hitl.Expired";
/// An execution that nobody decided in time ends with this error (its expired branch).
pub const EXPIRED: &str = "Expired";
/// A rejected execution ends with this error, the rejection's comment as its cause.
pub const REJECTED: &str = "Rejected";
