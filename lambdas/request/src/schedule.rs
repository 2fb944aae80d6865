//! An approval's reminder and escalation: one-time EventBridge Scheduler schedules made when
//! the request is stored, each invoking the remind function once at its time with
//! `{approvalId, nudge}` and then deleted by Scheduler. Nothing polls: an approval without a
//! policy has no schedule, and one decided early finds its schedules fire on a closed record,
//! which sends nothing.

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

impl Schedules {
    /// The nudges this stack sends, with the second each is due for `approval`.
    pub fn due(&self, approval: &Approval) -> Vec<(Nudge, u64)> {
        [
            (Nudge::Remind, self.remind_after_secs),
            (Nudge::Escalate, self.escalate_after_secs),
        ]
        .into_iter()
        .filter_map(|(nudge, after)| Some((nudge, approval.created_at.saturating_add(after?))))
        .collect()
    }

    /// Makes the approval's schedules; one already made (by an earlier attempt) is left as it
    /// is.
    pub async fn make(
        &self,
        scheduler: &aws_sdk_scheduler::Client,
        approval: &Approval,
    ) -> Result<(), String> {
        for (nudge, at) in self.due(approval) {
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
                Ok(_) => {}
                Err(error) if error_code(&error) == Some("ConflictException") => {}
                Err(error) => return Err(describe(&error)),
            }
        }
        Ok(())
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
        assert_eq!(schedules.due(&approval), [(Nudge::Remind, 1060)]);
        assert_eq!(
            name(&approval, Nudge::Escalate),
            "abcdefghijklmnopqrstuvwxyz-escalate"
        );
    }
}
