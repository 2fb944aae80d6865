//! An approval's reminder and escalation: one-time EventBridge Scheduler schedules made when
//! the request is stored, each invoking the remind function once at its time with
//! `{approvalId, nudge}` and then deleted by Scheduler. Nothing polls: an approval without a
//! policy has no schedule, and one decided early finds its schedules fire on a closed record,
//! which sends nothing. A nudge due within a minute (a retried or late request) is skipped:
//! Scheduler could not deliver it on time, and might refuse a time already past. A schedule
//! that cannot be made is logged and counted, never a reason to fail or hold up the approval.

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use hitl_core::{Approval, Nudge, dates::rfc3339};
use serde_json::json;

use hitl_aws::{describe, error_code};

/// Where the schedules go and what they invoke, from the environment the template sets.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The stack's schedule group.
    pub group: String,
    /// The role Scheduler assumes to invoke the remind function.
    pub role_arn: String,
    /// The remind function.
    pub target_arn: String,
    pub remind_after_secs: Option<u64>,
    pub escalate_after_secs: Option<u64>,
}

/// The schedule of `nudge` for an approval: `<approval id>-<nudge>`, unique in the group (a
/// retried request finds it made).
pub fn name(approval: &Approval, nudge: Nudge) -> String {
    format!("{}-{}", approval.id, nudge.as_str())
}

/// Scheduler's one-time expression for Unix second `at`, in UTC: `at(2025-03-01T09:30:00)`.
pub fn at_expression(at: u64) -> String {
    format!("at({})", rfc3339(at).trim_end_matches('Z'))
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

    /// Makes the approval's schedules; one already made (by an earlier attempt) is left as it
    /// is. Returns the nudges that could not be scheduled, each with why (logged here).
    pub async fn make(
        &self,
        scheduler: &aws_sdk_scheduler::Client,
        approval: &Approval,
        now: u64,
    ) -> Vec<(Nudge, String)> {
        let mut failed = Vec::new();
        for (nudge, at) in self.due(approval, now) {
            if let Err(error) = self.make_one(scheduler, approval, nudge, at).await {
                tracing::error!(approval = %approval.id, nudge = nudge.as_str(), %error, "a nudge could not be scheduled");
                failed.push((nudge, error));
            }
        }
        failed
    }

    async fn make_one(
        &self,
        scheduler: &aws_sdk_scheduler::Client,
        approval: &Approval,
        nudge: Nudge,
        at: u64,
    ) -> Result<(), String> {
        {
            let input = json!({"approvalId": approval.id.as_str(), "nudge": nudge});
            let target = Target::builder()
                .arn(&self.target_arn)
                .role_arn(&self.role_arn)
                .input(input.to_string())
                .retry_policy(
                    RetryPolicy::builder()
                        .maximum_retry_attempts(3)
                        .maximum_event_age_in_seconds(3600)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?;
            let window = FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .map_err(|e| e.to_string())?;
            let made = scheduler
                .create_schedule()
                .name(name(approval, nudge))
                .group_name(&self.group)
                .schedule_expression(at_expression(at))
                .schedule_expression_timezone("UTC")
                .flexible_time_window(window)
                .target(target)
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await;
            match made {
                Ok(_) => Ok(()),
                Err(error) if error_code(&error) == Some("ConflictException") => Ok(()),
                Err(error) => Err(describe(&error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_named_by_approval_and_due_after_their_delays() {
        assert_eq!(at_expression(1_740_821_400), "at(2025-03-01T09:30:00)");
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
    }
}
