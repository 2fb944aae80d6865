//! What the protocol counts, through the `metrics` facade: the functions install a recorder that
//! writes CloudWatch's embedded metric format to their log (no API call), and without one (the
//! protocol's tests) each count is nothing. Every count is made where the protocol knows it for
//! certain, once: an approval when it is first stored, a vote when the table took it, a
//! decision when the orchestrator accepted it, an expiry when the workflow's wait ran out.

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

/// An approval stored for the first time (a retried attempt is not another).
pub const REQUESTED: &str = "ApprovalsRequested";
/// A reviewer's vote that counts: recorded short of the quorum, or deciding and accepted.
pub const VOTES: &str = "Votes";
/// A decision the orchestrator accepted, by `Outcome` (`approved`, `rejected`).
pub const DECISIONS: &str = "Decisions";
/// Seconds from the request to its accepted decision.
pub const TIME_TO_DECISION: &str = "TimeToDecision";
/// An approval nobody decided in time.
pub const EXPIRIES: &str = "Expiries";
/// An execution that failed otherwise than rejected or expired (the durable workflow counts its
/// own; the state machine's are counted from its log by a metric filter).
pub const EXECUTIONS_FAILED: &str = "ExecutionsFailed";
/// An approval still open at its last expiry check, in a way only its execution tells how to
/// settle (`hitl_core::AtExpiry::Unsettled`).
pub const UNSETTLED: &str = "UnsettledApprovals";
/// An approval's schedule that could not be made (a reminder, an escalation, an expiry check):
/// the approval goes on without it.
pub const SCHEDULES_FAILED: &str = "SchedulesFailed";
/// A reviewer's message that could not go, by `Channel` (`slack`, `teams`, `email`): one that
/// never fails the request (a chat post, a nudge), so nothing else shows it.
pub const NOTIFICATIONS_FAILED: &str = "NotificationsFailed";

/// Names the units, once, after the recorder is installed.
pub fn describe() {
    describe_counter!(REQUESTED, Unit::Count, "approvals requested");
    describe_counter!(VOTES, Unit::Count, "votes recorded");
    describe_counter!(DECISIONS, Unit::Count, "decisions accepted");
    describe_histogram!(TIME_TO_DECISION, Unit::Seconds, "request to decision");
    describe_counter!(EXPIRIES, Unit::Count, "approvals expired");
    describe_counter!(
        EXECUTIONS_FAILED,
        Unit::Count,
        "executions failed otherwise"
    );
    describe_counter!(NOTIFICATIONS_FAILED, Unit::Count, "messages not sent");
    describe_counter!(UNSETTLED, Unit::Count, "approvals open past expiry");
    describe_counter!(SCHEDULES_FAILED, Unit::Count, "schedules not made");
}

pub fn requested() {
    counter!(REQUESTED).increment(1);
}

pub fn voted() {
    counter!(VOTES).increment(1);
}

/// `outcome` (`approved`, `rejected`) accepted `seconds` after the request.
pub fn decided(outcome: &'static str, seconds: u64) {
    counter!(DECISIONS, "Outcome" => outcome).increment(1);
    // Whole seconds: f64 is exact far beyond any approval's age.
    #[allow(clippy::cast_precision_loss)]
    histogram!(TIME_TO_DECISION).record(seconds as f64);
}

pub fn expired() {
    counter!(EXPIRIES).increment(1);
}

pub fn failed() {
    counter!(EXECUTIONS_FAILED).increment(1);
}

pub fn schedule_failed() {
    counter!(SCHEDULES_FAILED).increment(1);
}

pub fn unsettled() {
    counter!(UNSETTLED).increment(1);
}

pub fn notification_failed(channel: &'static str) {
    counter!(NOTIFICATIONS_FAILED, "Channel" => channel).increment(1);
}
