//! `cargo xtask start --event FILE`: start an execution of the approval workflow (the state
//! machine, or the durable workflow by an asynchronous invoke of its alias); locally, show the
//! messages the reviewers got, with their links.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use kit_aws::workflow::{Status, Workflow};
use kit_base::paths;
use sha2::{Digest, Sha256};

use kit_base::status::status;
use kit_deploy::stack;
use kit_local::emulation;

use crate::{cli::Global, kit};

pub fn run(global: &Global, event: &Path, name: Option<String>) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let input = read_event(event)?;
    if let Some(problem) = name
        .as_deref()
        .and_then(|n| kit_aws::workflow::execution_name_problem(effective.orchestrator, n))
    {
        bail!("--name {problem}");
    }
    let runtime = crate::runtime::new()?;
    runtime.block_on(async {
        let outputs = super::outputs::read(&effective).await?;
        let aws = super::outputs::connect(&effective).await?;
        let workflow = Workflow::of(&outputs)?;
        let name = name.unwrap_or_else(execution_name);
        let arn = workflow.start(&aws, &name, &input).await?;
        status("Started", &arn);
        let outboxes: Vec<emulation::Outbox> = if aws.local.is_some() {
            let template =
                stack::deployed_template(&aws.cloudformation(), &effective.stack_name).await?;
            emulation::outboxes(&effective.stack_name, &template)?
                .into_iter()
                .map(|(o, _)| o)
                .collect()
        } else {
            Vec::new()
        };
        let since = Instant::now();
        let mut shown = 0;
        // Long enough for the first invocation, which may compile the function.
        while since.elapsed() < Duration::from_secs(120) {
            let execution = workflow.describe(&aws, &arn).await?;
            match execution.status {
                Status::Running => {}
                Status::Succeeded => {
                    status("Succeeded", execution.output.unwrap_or_default());
                    return Ok(());
                }
                Status::Ended {
                    status,
                    error,
                    cause,
                } => bail!("the execution ended {status}: {error}: {cause}"),
            }
            if aws.local.is_none() {
                status(
                    "Waiting",
                    "for a reviewer: the request is out by email (`cargo xtask status` shows it)",
                );
                return Ok(());
            }
            for message in emulation::take_outbox(&aws, &outboxes, 1).await? {
                shown += 1;
                anstream::println!(
                    "\n── to {} ── {}\n{}",
                    message.reviewer,
                    message.subject,
                    message.body
                );
            }
            if shown > 0 {
                status(
                    "Waiting",
                    "for a reviewer: open the link above (`cargo xtask status` shows pending approvals)",
                );
                return Ok(());
            }
        }
        bail!(
            "no reviewer message after two minutes; see {}",
            paths::shown(
                &kit_local::stacks::function_log(&kit_base::local::dir(), &effective.stack_name)
            )
            .display()
        )
    })
}

/// The event file as compact JSON, or an error naming the file and where it is not JSON.
fn read_event(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the event ({}); sample events are in events/",
            paths::shown(path).display(),
            e.kind()
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not JSON: {e}",
            paths::shown(path).display(),
            e.line(),
            e.column()
        )
    })?;
    if !value.is_object() {
        bail!(
            "{}: the event must be a JSON object (with a title and a requester)",
            paths::shown(path).display()
        );
    }
    Ok(value.to_string())
}

/// `hitl-<unix seconds>-<8 hex>`: unique enough, and sorted by time in the console.
fn execution_name() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{}{:?}", std::process::id(), now).as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("hitl-{}-{hex}", now.as_secs())
}
