//! What an approval still open at its last expiry check ([`AtExpiry::Unsettled`]) comes to,
//! once its execution has ended. The review function settles a record with the
//! orchestrator's answer; a record is left `deciding` past its expiry when that write never
//! landed (throttled past every retry, or its function died between the send and the write),
//! and `pending` with lost claims when a decision's answer was lost and nobody pressed since.
//! The execution's end tells which claim, if any, the workflow took ([`after_closed`]), as it
//! does for the review function's next press.
//!
//! [`AtExpiry::Unsettled`]: crate::rules::AtExpiry::Unsettled

use crate::errors::{EXPIRED, EXPIRED_ATTEMPT, INVALID_REQUEST, TRANSIENT};
use crate::record::{Approval, Claim, LostClaim, Status};
use crate::rules::{ExecutionState, SendOutcome, after_closed};

/// How the expiry check settles a record its execution outlived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The claim the record holds went through: finalised with it.
    Held(Claim),
    /// One of the record's lost claims went through: finalised with it (and its votes).
    Lost(LostClaim),
    /// The execution took its expired branch, or failed in its request step: none of them
    /// went through. Expired.
    Expired,
}

/// The errors an execution of the kit's workflow ends with when no decision went through: its
/// expired branch (`Expired`), and its request step failing for good (`Hitl.*`, never after
/// the task took a decision).
const NO_DECISION: [&str; 4] = [EXPIRED, EXPIRED_ATTEMPT, INVALID_REQUEST, TRANSIENT];

/// What `record` (open past its expiry) comes to when its execution stands as `state`
/// (`None`: the orchestrator could not say). The lost claims are weighed first, the earliest
/// first, as [`crate::rules::taken`] does. This writes with nobody watching, so it expires a
/// record only on an end that says no decision went through ([`NO_DECISION`]).
///
/// `None`, left open to be counted and alarmed on, when nobody can tell: the execution still
/// runs or cannot be read (or is gone: Step Functions keeps a closed execution 90 days), it
/// ended with a decision that is none of the record's claims, or in a way that does not say
/// whether it took one (stopped, timed out as a whole, failed in a state after the approval);
/// or the record's claim is broken.
pub fn settlement(record: &Approval, state: Option<&ExecutionState>) -> Option<Settlement> {
    let ended = state.filter(|s| **s != ExecutionState::Running)?;
    if record.status == Status::Deciding && record.claim().is_none() {
        return None;
    }
    let went_through = |claim: &Claim| after_closed(claim, ended) == SendOutcome::Accepted;
    if let Some(lost) = record.lost_claims.iter().find(|l| went_through(&l.claim)) {
        return Some(Settlement::Lost(lost.clone()));
    }
    if let Some(held) = record.claim().filter(went_through) {
        return Some(Settlement::Held(held));
    }
    match ended {
        ExecutionState::Failed { error, .. } if NO_DECISION.contains(&error.as_str()) => {
            Some(Settlement::Expired)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::rfc3339;
    use crate::record::{Decision, tests::sample};

    fn claim(decision: Decision, reviewer: &str, at: u64) -> Claim {
        Claim {
            decision,
            comment: format!("by {reviewer}"),
            reviewer: reviewer.into(),
            at,
            verified: None,
        }
    }

    /// A record past its expiry that holds `held` (deciding) or none (pending), with `lost`
    /// among its lost claims.
    fn open(held: Option<&Claim>, lost: &[&Claim]) -> Approval {
        let mut record = sample(serde_json::json!({"title": "T", "requester": "c@x.io"}));
        for claim in lost {
            record.apply_claim(claim);
            record.apply(crate::record::Transition::Revert);
        }
        if let Some(claim) = held {
            record.apply_claim(claim);
        }
        record
    }

    fn approved_by(claim: &Claim) -> ExecutionState {
        let approval = serde_json::json!({
            "decision": "approved", "reviewer": claim.reviewer, "comment": claim.comment,
            "decidedAt": rfc3339(claim.at),
        });
        ExecutionState::Succeeded(serde_json::json!({ "approval": approval }).to_string())
    }

    fn failed(error: &str, message: &str) -> ExecutionState {
        ExecutionState::Failed {
            error: error.into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_claim_the_execution_took_settles_the_record() {
        let ana = claim(Decision::Approved, "alice@example.com", 100);
        let ben = claim(Decision::Rejected, "bob@example.com", 200);
        let held = open(Some(&ben), &[&ana]);
        assert_eq!(held.status, Status::Deciding);
        let state = approved_by(&ana);
        let Some(Settlement::Lost(lost)) = settlement(&held, Some(&state)) else {
            panic!("ana's lost claim");
        };
        assert_eq!(lost.claim, ana);
        let rejected = failed("Rejected", "by bob@example.com");
        assert_eq!(
            settlement(&held, Some(&rejected)),
            Some(Settlement::Held(ben.clone()))
        );
        let pending = open(None, &[&ana, &ben]);
        assert_eq!(pending.status, Status::Pending);
        let Some(Settlement::Lost(lost)) = settlement(&pending, Some(&rejected)) else {
            panic!("ben's lost claim");
        };
        assert_eq!(lost.claim, ben);
    }

    #[test]
    fn an_execution_ended_without_a_decision_expires_the_record() {
        let ana = claim(Decision::Approved, "alice@example.com", 100);
        for record in [open(Some(&ana), &[]), open(None, &[&ana])] {
            for state in [
                failed(
                    "Expired",
                    "No reviewer decided within the approval timeout.",
                ),
                failed("Hitl.Transient", "the request task failed"),
            ] {
                assert_eq!(settlement(&record, Some(&state)), Some(Settlement::Expired));
            }
        }
    }

    /// Only the execution's end settles a record: while it runs, when it cannot be read, and
    /// when it took a decision the record does not hold, the record is left for the alarm.
    #[test]
    fn what_the_execution_cannot_tell_is_left_open() {
        let ana = claim(Decision::Approved, "alice@example.com", 100);
        let record = open(Some(&ana), &[]);
        let cy = claim(Decision::Approved, "cy@x.io", 300);
        for state in [
            None,
            Some(ExecutionState::Running),
            Some(approved_by(&cy)),
            Some(failed("Rejected", "by cy@x.io")),
            // Gone past Step Functions' 90 days; stopped, timed out as a whole, or failed in a
            // state after the approval: any of them may have come after a decision.
            Some(failed("ExecutionDoesNotExist", "")),
            Some(failed("", "")),
            Some(failed("States.Timeout", "")),
            Some(failed("States.TaskFailed", "the notification failed")),
        ] {
            assert_eq!(settlement(&record, state.as_ref()), None, "{state:?}");
        }
        let mut broken = record;
        broken.decided_by = None;
        let expired = failed("Expired", "");
        assert_eq!(settlement(&broken, Some(&expired)), None);
    }
}
