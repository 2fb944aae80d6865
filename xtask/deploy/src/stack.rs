//! One CloudFormation stack: read its state, create or update it directly, wait for it with its
//! events shown, delete it. The change-set method builds on the same waiting and reporting.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_cloudformation::{
    Client,
    types::{Capability, Parameter, StackStatus},
};
use indicatif::ProgressBar;

use hitl_aws::{describe, error_code};
use kit_base::status::{confirm, spinner, status};

/// What the kit sends for a stack.
pub struct Spec<'a> {
    pub name: &'a str,
    pub template: &'a str,
    /// Where CloudFormation reads `template` from.
    pub location: crate::template::Location,
    pub parameters: Vec<(String, String)>,
}

/// A deployed stack as the kit needs it.
#[derive(Debug)]
pub struct Deployed {
    pub status: StackStatus,
    pub outputs: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
}

impl Deployed {
    /// Whether the stack runs with exactly these parameters.
    pub fn has_parameters(&self, parameters: &[(String, String)]) -> bool {
        let mut ours = parameters.to_vec();
        let mut theirs = self.parameters.clone();
        ours.sort();
        theirs.sort();
        ours == theirs
    }

    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
}

/// The stack, or `None` when there is none (or only a deleted one).
pub async fn find(cfn: &Client, name: &str) -> Result<Option<Deployed>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => {
            let Some(stack) = out.stacks.unwrap_or_default().into_iter().next() else {
                return Ok(None);
            };
            let status = stack.stack_status.unwrap_or(StackStatus::DeleteComplete);
            if status == StackStatus::DeleteComplete {
                return Ok(None);
            }
            let outputs = pairs(stack.outputs, |o| Some((o.output_key?, o.output_value?)));
            let parameters = pairs(stack.parameters, |p| {
                Some((p.parameter_key?, p.parameter_value?))
            });
            Ok(Some(Deployed {
                status,
                outputs,
                parameters,
            }))
        }
        Err(e)
            if error_code(&e) == Some("ValidationError") && describe(&e).contains("not exist") =>
        {
            Ok(None)
        }
        Err(e) => bail!("cannot read stack {name}: {}", describe(&e)),
    }
}

/// The key/value pairs of a list CloudFormation may leave out, those with both halves.
fn pairs<T>(
    items: Option<Vec<T>>,
    pair: impl Fn(T) -> Option<(String, String)>,
) -> Vec<(String, String)> {
    items
        .unwrap_or_default()
        .into_iter()
        .filter_map(pair)
        .collect()
}

/// What the kit asks CloudFormation to allow: the stack creates IAM roles.
pub const CAPABILITIES: [Capability; 2] =
    [Capability::CapabilityIam, Capability::CapabilityNamedIam];

/// `(key, value)` pairs as CloudFormation parameters.
pub fn parameters(pairs: &[(String, String)]) -> Vec<Parameter> {
    pairs
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

/// Brings the stack to a state CloudFormation accepts a change from: waits out an operation in
/// progress, stops on UPDATE_ROLLBACK_FAILED with the command that unblocks it, and deletes a
/// stack that can only be created again (after asking, or `yes`). Returns the stack to update,
/// or `None` to create.
pub async fn settle(
    cfn: &Client,
    name: &str,
    timeout: Duration,
    yes: bool,
) -> Result<Option<Deployed>> {
    let mut current = find(cfn, name).await?;
    if let Some(stack) = current.as_ref().filter(|s| in_progress(&s.status)) {
        status("Waiting", format!("for {name} ({})", stack.status));
        wait(cfn, name, timeout).await?;
        current = find(cfn, name).await?;
    }
    if let Some(why) = current.as_ref().and_then(|s| stuck(name, &s.status)) {
        bail!(why);
    }
    if let Some(stale) = current.as_ref().filter(|s| needs_recreate(&s.status)) {
        let question = format!(
            "{name} is {} and cannot be updated. Delete it and create it again?",
            stale.status
        );
        if !confirm(yes, &question)? {
            bail!("deploy cancelled: {name} is still {}", stale.status);
        }
        delete(cfn, name, timeout).await?;
        current = None;
    }
    Ok(current)
}

/// Waits for the operation just started and fails, naming each failed resource and its reason,
/// unless it ended CREATE_COMPLETE or UPDATE_COMPLETE.
pub async fn wait_for_success(cfn: &Client, name: &str, timeout: Duration) -> Result<()> {
    let finished = wait(cfn, name, timeout).await?;
    if !matches!(
        finished,
        StackStatus::CreateComplete | StackStatus::UpdateComplete
    ) {
        bail!(
            "{name} ended {finished}{}; fix the cause and deploy again",
            failures(cfn, name).await
        );
    }
    Ok(())
}

/// Creates or updates the stack from `spec` and waits for the result (direct method).
pub async fn apply_direct(
    cfn: &Client,
    spec: &Spec<'_>,
    timeout: Duration,
    yes: bool,
) -> Result<Applied> {
    let current = settle(cfn, spec.name, timeout, yes).await?;
    let applied = if current.is_none() {
        cfn.create_stack()
            .stack_name(spec.name)
            .set_template_body(spec.location.body(spec.template))
            .set_template_url(spec.location.url())
            .set_parameters(Some(parameters(&spec.parameters)))
            .set_capabilities(Some(CAPABILITIES.to_vec()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create stack {}: {}", spec.name, describe(&e)))?;
        Applied::Created
    } else {
        match cfn
            .update_stack()
            .stack_name(spec.name)
            .set_template_body(spec.location.body(spec.template))
            .set_template_url(spec.location.url())
            .set_parameters(Some(parameters(&spec.parameters)))
            .set_capabilities(Some(CAPABILITIES.to_vec()))
            .send()
            .await
        {
            Ok(_) => Applied::Updated,
            Err(e) if describe(&e).contains("No updates are to be performed") => {
                return Ok(Applied::Unchanged);
            }
            Err(e) => bail!("cannot update stack {}: {}", spec.name, describe(&e)),
        }
    };
    wait_for_success(cfn, spec.name, timeout).await?;
    Ok(applied)
}

/// Deletes the stack and waits; a stack that is not there is already deleted.
pub async fn delete(cfn: &Client, name: &str, timeout: Duration) -> Result<bool> {
    if find(cfn, name).await?.is_none() {
        return Ok(false);
    }
    cfn.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete stack {name}: {}", describe(&e)))?;
    let started = Instant::now();
    let progress = spinner("Deleting", name.to_owned());
    loop {
        match find(cfn, name).await? {
            None => break,
            Some(stack) if stack.status == StackStatus::DeleteFailed => {
                progress.finish_and_clear();
                bail!("{name} could not be deleted{}", failures(cfn, name).await);
            }
            Some(stack) => progress.set_message(format!("{name} ({})", stack.status)),
        }
        if started.elapsed() > timeout {
            progress.finish_and_clear();
            bail!(
                "{name} was still being deleted after {timeout:?}; `cargo xtask status` shows \
                 where it is, run destroy again to keep waiting"
            );
        }
        tokio::time::sleep(poll_interval(started)).await;
    }
    progress.finish_and_clear();
    Ok(true)
}

/// Polls until the stack is no longer in progress, showing each new event. Returns the status.
pub async fn wait(cfn: &Client, name: &str, timeout: Duration) -> Result<StackStatus> {
    let started = Instant::now();
    let since = aws_sdk_cloudformation::primitives::DateTime::from(std::time::SystemTime::now());
    let progress = spinner("Deploying", name.to_owned());
    let mut seen = std::collections::HashSet::new();
    loop {
        show_events(cfn, name, since, &mut seen, &progress).await;
        let Some(stack) = find(cfn, name).await? else {
            progress.finish_and_clear();
            bail!("{name} disappeared while deploying");
        };
        if !in_progress(&stack.status) {
            progress.finish_and_clear();
            return Ok(stack.status);
        }
        progress.set_message(format!("{name} ({})", stack.status));
        if started.elapsed() > timeout {
            progress.finish_and_clear();
            bail!(
                "{name} was still {} after {timeout:?}; `cargo xtask status` shows where it is; \
                 deploy again once it settles",
                stack.status
            );
        }
        tokio::time::sleep(poll_interval(started)).await;
    }
}

/// Fast at first (local stacks finish in a moment), then every two seconds.
fn poll_interval(started: Instant) -> Duration {
    if started.elapsed() < Duration::from_secs(5) {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(2)
    }
}

async fn show_events(
    cfn: &Client,
    name: &str,
    since: aws_sdk_cloudformation::primitives::DateTime,
    seen: &mut std::collections::HashSet<String>,
    progress: &ProgressBar,
) {
    let Ok(out) = cfn.describe_stack_events().stack_name(name).send().await else {
        return;
    };
    let mut events: Vec<_> = out
        .stack_events
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.timestamp.is_some_and(|t| t.secs() >= since.secs()))
        .filter(|e| seen.insert(e.event_id.clone().unwrap_or_default()))
        .collect();
    events.reverse(); // oldest first
    for event in events {
        let status = event
            .resource_status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let reason = event
            .resource_status_reason
            .filter(|_| status.ends_with("FAILED"))
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        progress.suspend(|| {
            anstream::eprintln!(
                "{:>12} {} {}{reason}",
                "",
                status,
                event.logical_resource_id.unwrap_or_default(),
            )
        });
    }
}

/// Each failed resource of the latest operation and its reason, as extra lines.
pub async fn failures(cfn: &Client, name: &str) -> String {
    let Ok(out) = cfn.describe_stack_events().stack_name(name).send().await else {
        return String::new();
    };
    let lines: Vec<String> = out
        .stack_events
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e.resource_status
                .as_ref()
                .is_some_and(|s| s.as_str().ends_with("FAILED"))
        })
        .take(10)
        .map(|e| {
            format!(
                "\n  {} ({}): {}",
                e.logical_resource_id.unwrap_or_default(),
                e.resource_type.unwrap_or_default(),
                e.resource_status_reason.unwrap_or_default()
            )
        })
        .collect();
    lines.concat()
}

pub fn in_progress(status: &StackStatus) -> bool {
    status.as_str().ends_with("_IN_PROGRESS") && *status != StackStatus::ReviewInProgress
}

/// States from which CloudFormation accepts no update: the stack must be deleted first.
pub fn needs_recreate(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::RollbackComplete
            | StackStatus::RollbackFailed
            | StackStatus::DeleteFailed
            | StackStatus::ReviewInProgress
    )
}

/// The template the stack was last deployed with (what it is, whatever the config says now).
pub async fn deployed_template(cfn: &Client, name: &str) -> Result<String> {
    let out = cfn
        .get_template()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the template of {name}: {}", describe(&e)))?;
    out.template_body
        .ok_or_else(|| anyhow::anyhow!("{name} has no template"))
}

/// States the kit must not resolve by itself, with what the user should do.
pub fn stuck(name: &str, status: &StackStatus) -> Option<String> {
    (*status == StackStatus::UpdateRollbackFailed).then(|| {
        format!(
            "{name} is UPDATE_ROLLBACK_FAILED: CloudFormation needs the rollback finished first \
             (`aws cloudformation continue-update-rollback --stack-name {name}`, see the failed \
             resources with `cargo xtask status`), then deploy again"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stack_state_has_one_course_of_action() {
        let all = [
            "CREATE_IN_PROGRESS",
            "CREATE_FAILED",
            "CREATE_COMPLETE",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_FAILED",
            "ROLLBACK_COMPLETE",
            "DELETE_IN_PROGRESS",
            "DELETE_FAILED",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE",
            "UPDATE_FAILED",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_FAILED",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
            "REVIEW_IN_PROGRESS",
            "IMPORT_IN_PROGRESS",
            "IMPORT_COMPLETE",
            "IMPORT_ROLLBACK_IN_PROGRESS",
            "IMPORT_ROLLBACK_FAILED",
            "IMPORT_ROLLBACK_COMPLETE",
        ];
        let recreate = [
            "ROLLBACK_COMPLETE",
            "ROLLBACK_FAILED",
            "DELETE_FAILED",
            "REVIEW_IN_PROGRESS",
        ];
        for text in all {
            let status = StackStatus::from(text);
            let actions = [
                in_progress(&status),
                needs_recreate(&status),
                stuck("s", &status).is_some(),
            ];
            assert!(
                actions.iter().filter(|&&a| a).count() <= 1,
                "{text}: more than one course of action"
            );
            assert_eq!(needs_recreate(&status), recreate.contains(&text), "{text}");
            assert_eq!(
                in_progress(&status),
                text.ends_with("_IN_PROGRESS") && text != "REVIEW_IN_PROGRESS",
                "{text}"
            );
        }
        let message = stuck("hitl-prod", &StackStatus::UpdateRollbackFailed).unwrap();
        assert!(message.contains("continue-update-rollback --stack-name hitl-prod"));
    }
}
