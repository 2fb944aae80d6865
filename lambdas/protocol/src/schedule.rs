//! An approval's reminder, escalation and expiry check: one-time schedules made when the request
//! is stored, each invoking the remind function once at its time with `{approvalId, nudge}`, or
//! `{approvalId}` for the expiry check (and then deleted by the scheduler). Nothing polls: an
//! approval without a policy has only its expiry check, and one decided early finds its
//! schedules fire on a closed record, which sends nothing. A nudge due within a minute (a
//! retried or late request) is skipped: the scheduler could not deliver it on time, and might
//! refuse a time already past. A schedule that cannot be made is logged and counted, never a
//! reason to fail or hold up the approval.

use hitl_core::{Approval, EXPIRY_CHECK_SECS, Nudge};
use serde_json::json;

use crate::ports::Scheduler;

/// Where the schedules go and what they invoke, from the environment the template sets.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The stack's schedule group.
    pub group: String,
    /// The role the scheduler assumes to invoke the remind function.
    pub role_arn: String,
    /// The remind function.
    pub target_arn: String,
    /// Where the scheduler sends a schedule it could not deliver.
    pub dead_letter_arn: Option<String>,
    pub remind_after_secs: Option<u64>,
    pub escalate_after_secs: Option<u64>,
}

/// The schedule of `nudge` for an approval: `<approval id>-<nudge>`, unique in the group (a
/// retried request finds it made).
pub fn name(approval: &Approval, nudge: Nudge) -> String {
    format!("{}-{}", approval.id, nudge.as_str())
}

/// When the last expiry check is scheduled: [`EXPIRY_CHECK_SECS`] after the expiry, rounded up
/// to a whole minute. Scheduler runs a schedule within the minute of its time ("with 60 second
/// precision", Schedule types, EventBridge Scheduler User Guide), so on a minute's first second
/// it cannot run before the check's time, which `hitl_core::at_expiry` tells by the clock.
pub fn last_check(approval: &Approval) -> u64 {
    approval
        .expires_at
        .saturating_add(EXPIRY_CHECK_SECS)
        .div_ceil(60)
        .saturating_mul(60)
}

/// A nudge due sooner than this after now is not scheduled: EventBridge Scheduler runs a
/// one-time schedule within a minute of its time at best.
pub const SOONEST_SECS: u64 = 60;

impl Schedules {
    /// The nudges this stack sends for `approval` at `now`, with the second each is due; those
    /// due within [`SOONEST_SECS`] are left out.
    pub fn due(&self, approval: &Approval, now: u64) -> Vec<(Nudge, u64)> {
        [
            (Nudge::Remind, self.remind_after_secs),
            (Nudge::Escalate, self.escalate_after_secs),
        ]
        .into_iter()
        .filter_map(|(nudge, after)| Some((nudge, approval.created_at.saturating_add(after?))))
        .filter(|(_, at)| *at >= now.saturating_add(SOONEST_SECS))
        .collect()
    }

    /// Makes the approval's schedules: its nudges; its last expiry check
    /// (`<approval id>-expiry`, at [`last_check`], input `{approvalId}`
    /// with no nudge: `Messenger::expiry`); and with `chat_app` the check at the expiry itself,
    /// which updates the Slack app's message on time (`<approval id>-chat`). One already made
    /// (by an earlier attempt) is left as it is. Returns the schedules that could not be made,
    /// each with why (logged here).
    pub async fn make(
        &self,
        scheduler: &impl Scheduler,
        approval: &Approval,
        chat_app: bool,
        now: u64,
    ) -> Vec<(String, String)> {
        let id = approval.id.as_str();
        let mut wanted: Vec<(String, u64, serde_json::Value)> = self
            .due(approval, now)
            .into_iter()
            .map(|(nudge, at)| {
                let input = json!({"approvalId": id, "nudge": nudge});
                (name(approval, nudge), at, input)
            })
            .collect();
        let checks = [
            (chat_app, "chat", approval.expires_at),
            (true, "expiry", last_check(approval)),
        ];
        for (_, check, at) in checks.into_iter().filter(|(wanted, ..)| *wanted) {
            if at >= now.saturating_add(SOONEST_SECS) {
                wanted.push((format!("{id}-{check}"), at, json!({ "approvalId": id })));
            }
        }
        let mut failed = Vec::new();
        for (name, at, input) in wanted {
            if let Err(error) = scheduler.create(&name, at, &input).await {
                tracing::error!(approval = %approval.id, schedule = %name, %error, "a schedule could not be made");
                crate::measures::schedule_failed();
                failed.push((name, error));
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_named_by_approval_and_due_after_their_delays() {
        let approval: Approval = serde_json::from_value(json!({
            "id": "abcdefghijklmnopqrstuvwxyz", "task_token": "t", "status": "pending",
            "request": {"title": "T", "requester": "a@b.co"}, "execution_arn": "arn",
            "created_at": 1000, "expires_at": 5000, "ttl": 9000, "reviewers": ["r@b.co"],
        }))
        .expect("a record");
        let schedules = Schedules {
            group: "g".into(),
            role_arn: "role".into(),
            target_arn: "fn".into(),
            dead_letter_arn: None,
            remind_after_secs: Some(60),
            escalate_after_secs: None,
        };
        assert_eq!(schedules.due(&approval, 1000), [(Nudge::Remind, 1060)]);
        // A retried or late request: what is due within a minute is skipped.
        assert_eq!(schedules.due(&approval, 1001), []);
        assert_eq!(
            name(&approval, Nudge::Escalate),
            "abcdefghijklmnopqrstuvwxyz-escalate"
        );
        // The last expiry check on a minute's first second, never before its time.
        assert_eq!(EXPIRY_CHECK_SECS, 75);
        assert_eq!(last_check(&approval), 5100, "5000 + 75, rounded up");
        let mut on_the_minute = approval;
        on_the_minute.expires_at = 6045;
        assert_eq!(last_check(&on_the_minute), 6120);
    }
}
