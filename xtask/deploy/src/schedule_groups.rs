//! A schedule group being deleted, waited out before a deploy. Deleting a stack deletes its
//! schedule group, which EventBridge Scheduler does in the background (the group is `DELETING`
//! while its schedules go); a stack made again right away would ask for a group of the same
//! name, and CloudFormation would fail it with a conflict. So a deploy first waits until no
//! group of the template is `DELETING`.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_scheduler::types::ScheduleGroupState;
use hitl_aws::{describe, error_code};
use kit_aws::Aws;
use kit_base::status::status;

/// How long a deploy waits for a group to finish deleting.
pub const PATIENCE: Duration = Duration::from_secs(600);

/// The `Name`s of the template's `AWS::Scheduler::ScheduleGroup`s.
pub fn names(template: &str) -> Vec<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template).unwrap_or_default();
    doc["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Scheduler::ScheduleGroup"))
        .filter_map(|(_, r)| r["Properties"]["Name"].as_str().map(str::to_owned))
        .collect()
}

/// Waits (checking every `every`) until none of the template's schedule groups is being
/// deleted; an error naming the group after [`PATIENCE`].
pub async fn wait_until_deleted(aws: &Aws, template: &str, every: Duration) -> Result<()> {
    let scheduler = aws.scheduler();
    for name in names(template) {
        let started = Instant::now();
        let mut said = false;
        while deleting(&scheduler, &name).await? {
            if started.elapsed() > PATIENCE {
                bail!(
                    "schedule group {name} is still being deleted after {} minutes: run the \
                     deploy again once `aws scheduler get-schedule-group --name {name}` finds \
                     none",
                    PATIENCE.as_secs() / 60
                );
            }
            if !said {
                status(
                    "Waiting",
                    format!("for schedule group {name} to finish deleting"),
                );
                said = true;
            }
            tokio::time::sleep(every).await;
        }
    }
    Ok(())
}

async fn deleting(scheduler: &aws_sdk_scheduler::Client, name: &str) -> Result<bool> {
    match scheduler.get_schedule_group().name(name).send().await {
        Ok(group) => Ok(group.state == Some(ScheduleGroupState::Deleting)),
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(false),
        Err(error) => bail!("cannot read schedule group {name}: {}", describe(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_schedule_groups_are_found_by_type() {
        let template = "Resources:\n  G:\n    Type: AWS::Scheduler::ScheduleGroup\n    \
                        Properties:\n      Name: shop-dev\n  T:\n    Type: AWS::SNS::Topic\n";
        assert_eq!(names(template), ["shop-dev"]);
        assert!(names("not: [yaml").is_empty());
    }
}
