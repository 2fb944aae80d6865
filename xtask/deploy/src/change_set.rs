//! The change-set method: create a change set, show what it would do (replacements flagged),
//! ask, execute, and wait with the stack's events shown.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, Replacement};

use hitl_aws::describe;
use kit_aws::Aws;
use kit_base::{
    package::Asset,
    status::{confirm, spinner, status},
};
use kit_config::Effective;

use crate::{Outcome, STACK_TIMEOUT, stack};

/// One line of a change set's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True` or `Conditional` when the resource would be replaced.
    pub replacement: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<8} {:<40} {}",
            self.action, self.logical_id, self.resource_type
        )?;
        match self.replacement.as_deref() {
            Some("True") => write!(f, "  (replaced)"),
            Some("Conditional") => write!(f, "  (may be replaced)"),
            _ => Ok(()),
        }
    }
}

/// Whether a failed change set only says there was nothing to change.
pub fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

pub async fn deploy(
    aws: &Aws,
    effective: &Effective,
    template: &str,
    packages: &[Asset],
    yes: bool,
) -> Result<Outcome> {
    crate::template::needs_bucket(template.len())?; // before anything is deployed or uploaded
    crate::schedule_groups::wait_until_deleted(aws, template, crate::GROUP_CHECKS).await?;
    let (bucket, uploaded) = crate::stage_packages(aws, effective, packages, yes).await?;
    let name = effective.stack_name.as_str();
    let cfn = aws.cloudformation();
    let current = stack::settle(&cfn, name, STACK_TIMEOUT, yes).await?;
    let parameters = crate::parameters(&bucket, effective.project.as_str(), packages)?;
    // The stack already runs this very template with these parameters: CloudFormation would
    // find nothing to change, so nothing is asked of it (a no-change deploy stays quick).
    if current
        .as_ref()
        .is_some_and(|s| s.has_parameters(&parameters))
        && stack::deployed_template(&cfn, name).await.ok().as_deref() == Some(template)
    {
        return crate::finish(aws, effective, stack::Applied::Unchanged, uploaded).await;
    }
    let change_type = if current.is_some() {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let project = effective.project.as_str();
    let location = crate::template::stage(aws, &bucket, project, name, template).await?;
    let change_set = format!("hitl-{}", hitl_aws::now());
    let created = cfn
        .create_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .change_set_type(change_type.clone())
        .set_template_body(location.body(template))
        .set_template_url(location.url())
        .set_parameters(Some(stack::parameters(&parameters)))
        .set_capabilities(Some(stack::CAPABILITIES.to_vec()))
        .send()
        .await;
    let changes = match created {
        // Some endpoints refuse an empty change set at once instead of failing it.
        Err(e) if is_empty_change_set(&describe(&e)) => None,
        Err(e) => bail!("cannot create a change set for {name}: {}", describe(&e)),
        Ok(_) => wait_for_change_set(aws, name, &change_set).await?,
    };
    let changes = match changes {
        Some(changes) if !changes.is_empty() => changes,
        _ => {
            discard(&cfn, name, &change_set).await;
            return crate::finish(aws, effective, stack::Applied::Unchanged, uploaded).await;
        }
    };
    status(
        "Changes",
        format!(
            "{name}: {} ({} resources)",
            summary(&changes),
            changes.len()
        ),
    );
    for change in &changes {
        anstream::eprintln!("{:>12} {change}", "");
    }
    if !confirm(yes, &format!("Deploy these changes to {name}?"))? {
        discard(&cfn, name, &change_set).await;
        bail!("deploy cancelled: nothing was changed");
    }
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot execute the change set: {}", describe(&e)))?;
    stack::wait_for_success(&cfn, name, STACK_TIMEOUT).await?;
    let applied = if change_type == ChangeSetType::Create {
        stack::Applied::Created
    } else {
        stack::Applied::Updated
    };
    crate::finish(aws, effective, applied, uploaded).await
}

/// Deletes a change set that will not be executed (best effort: it expires anyway).
async fn discard(cfn: &aws_sdk_cloudformation::Client, stack: &str, change_set: &str) {
    let _ = cfn
        .delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await;
}

/// "2 to add, 1 to modify, 0 to remove".
pub fn summary(changes: &[Change]) -> String {
    let count = |action: &str| changes.iter().filter(|c| c.action == action).count();
    format!(
        "{} to add, {} to modify, {} to remove",
        count("Add"),
        count("Modify"),
        count("Remove")
    )
}

/// Waits for the change set; `None` when it holds no changes.
async fn wait_for_change_set(
    aws: &Aws,
    stack: &str,
    change_set: &str,
) -> Result<Option<Vec<Change>>> {
    let cfn = aws.cloudformation();
    let started = Instant::now();
    let progress = spinner("Planning", format!("{stack} (change set {change_set})"));
    loop {
        let out = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the change set: {}", describe(&e)))?;
        match out.status {
            Some(ChangeSetStatus::CreateComplete) => {
                progress.finish_and_clear();
                let mut changes = Vec::new();
                let mut next = out.next_token.clone();
                collect(&mut changes, out.changes.unwrap_or_default());
                while let Some(token) = next {
                    let page = cfn
                        .describe_change_set()
                        .stack_name(stack)
                        .change_set_name(change_set)
                        .next_token(token)
                        .send()
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("cannot read the change set: {}", describe(&e))
                        })?;
                    next = page.next_token.clone();
                    collect(&mut changes, page.changes.unwrap_or_default());
                }
                return Ok(Some(changes));
            }
            Some(ChangeSetStatus::Failed) => {
                progress.finish_and_clear();
                let reason = out.status_reason.unwrap_or_default();
                if is_empty_change_set(&reason) {
                    return Ok(None);
                }
                bail!("CloudFormation refused the change set for {stack}: {reason}");
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(10 * 60) {
            progress.finish_and_clear();
            bail!("the change set for {stack} was not ready after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(if started.elapsed().as_secs() < 5 {
            200
        } else {
            2000
        }))
        .await;
    }
}

fn collect(into: &mut Vec<Change>, changes: Vec<aws_sdk_cloudformation::types::Change>) {
    into.extend(changes.into_iter().filter_map(|c| {
        let r = c.resource_change?;
        Some(Change {
            action: r.action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
            logical_id: r.logical_resource_id.unwrap_or_default(),
            resource_type: r.resource_type.unwrap_or_default(),
            replacement: r
                .replacement
                .filter(|x| *x != Replacement::False)
                .map(|x| x.as_str().to_owned()),
        })
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, replacement: Option<&str>) -> Change {
        Change {
            action: action.to_owned(),
            logical_id: id.to_owned(),
            resource_type: "AWS::Lambda::Function".to_owned(),
            replacement: replacement.map(str::to_owned),
        }
    }

    #[test]
    fn the_summary_counts_and_flags_replacements() {
        let changes = [
            change("Add", "Topic", None),
            change("Modify", "RequestFunction", Some("True")),
            change("Modify", "ReviewFunction", Some("Conditional")),
            change("Modify", "StateMachine", None),
        ];
        assert_eq!(summary(&changes), "1 to add, 3 to modify, 0 to remove");
        assert!(changes[1].to_string().ends_with("(replaced)"));
        assert!(changes[2].to_string().ends_with("(may be replaced)"));
        assert!(!changes[3].to_string().contains("replaced"));
    }

    #[test]
    fn only_cloudformations_no_change_reasons_count_as_empty() {
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_empty_change_set(
            "ValidationError: No updates are to be performed."
        ));
        assert!(!is_empty_change_set(
            "Template error: instance of Fn::GetAtt references undefined resource X"
        ));
    }
}
