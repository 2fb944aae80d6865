//! The reminders' scheduler: EventBridge Scheduler's one-time schedules, each invoking the
//! remind function once and then deleted.

use aws_sdk_scheduler::{
    Client,
    types::{
        ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
        RetryPolicy, Target,
    },
};
use hitl_core::dates::rfc3339;
use hitl_protocol::{Scheduled, Scheduler, Schedules};
use serde_json::Value;

use hitl_aws::{describe, error_code};

/// The stack's schedule group and what its schedules invoke; `None` when the stack has neither
/// a reminder nor an escalation (the protocol then makes no schedule).
pub struct EventBridgeScheduler {
    client: Client,
    schedules: Option<Schedules>,
}

impl EventBridgeScheduler {
    pub fn new(client: Client, schedules: Option<Schedules>) -> Self {
        Self { client, schedules }
    }
}

/// Scheduler's one-time expression for Unix second `at`, in UTC: `at(2025-03-01T09:30:00)`.
pub fn at_expression(at: u64) -> String {
    format!("at({})", rfc3339(at).trim_end_matches('Z'))
}

impl Scheduler for EventBridgeScheduler {
    async fn create(&self, name: &str, at: u64, input: &Value) -> Result<Scheduled, String> {
        let schedules = self
            .schedules
            .as_ref()
            .ok_or("the stack has no schedule group")?;
        let target = Target::builder()
            .arn(&schedules.target_arn)
            .role_arn(&schedules.role_arn)
            .input(input.to_string())
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(3)
                    .maximum_event_age_in_seconds(3600)
                    .build(),
            )
            .set_dead_letter_config(
                schedules
                    .dead_letter_arn
                    .as_ref()
                    .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
            )
            .build()
            .map_err(|e| e.to_string())?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| e.to_string())?;
        let made = self
            .client
            .create_schedule()
            .name(name)
            .group_name(&schedules.group)
            .schedule_expression(at_expression(at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match made {
            Ok(_) => Ok(Scheduled::Made),
            Err(error) if error_code(&error) == Some("ConflictException") => {
                Ok(Scheduled::AlreadyMade)
            }
            Err(error) => Err(describe(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_expressions_are_utc_without_the_zone() {
        assert_eq!(at_expression(1_740_821_400), "at(2025-03-01T09:30:00)");
    }
}
