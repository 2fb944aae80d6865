//! Deploying an environment: the bootstrap stack and its asset bucket, the function packages,
//! the stack itself, and its outputs saved for the other verbs.
//!
//! Talks to CloudFormation and S3 through `kit-aws`; renders the bootstrap stack with
//! `kit-render`. Starts no process.

pub mod assets;
pub mod change_set;
pub mod logging_role;
pub mod schedule_groups;
pub mod stack;
pub mod template;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};

use kit_aws::Aws;
use kit_base::{
    package::{self, Asset},
    paths,
    status::status,
};
use kit_config::Effective;

/// The per account and region stack holding the asset bucket (and API Gateway's logging role).
pub const BOOTSTRAP_STACK: &str = "hitl-bootstrap";

/// How long the kit waits for CloudFormation before giving up (the stack carries on).
pub const STACK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Deploys the bootstrap stack when needed and returns its bucket.
pub async fn bootstrap(aws: &Aws, yes: bool) -> Result<String> {
    let cfn = aws.cloudformation();
    let setting = logging_role::current(aws).await?;
    let deployed_template = stack::deployed_template(&cfn, BOOTSTRAP_STACK).await.ok();
    let stack_has_role = deployed_template
        .as_deref()
        .is_some_and(|t| t.contains(&format!("\n  {}:", logging_role::ROLE)));
    let plan = logging_role::plan(&setting, stack_has_role);
    if !stack_has_role {
        logging_role::report(&setting);
    }
    let template = kit_render::bootstrap(&kit_render::Sources::kit(), plan.render_role)?;
    let spec = stack::Spec {
        name: BOOTSTRAP_STACK,
        template: &template,
        location: template::Location::Body,
        parameters: Vec::new(),
    };
    // Deployed with this very template: nothing to ask CloudFormation (a no-change deploy stays
    // quick).
    let current = stack::find(&cfn, BOOTSTRAP_STACK).await?;
    let unchanged = match &current {
        // Only a stack that can be used as it is: one to recreate or unblock goes through
        // `apply_direct`, which handles each such status.
        Some(found)
            if !stack::in_progress(&found.status)
                && !stack::needs_recreate(&found.status)
                && stack::stuck(BOOTSTRAP_STACK, &found.status).is_none() =>
        {
            deployed_template.as_deref() == Some(template.as_str())
        }
        _ => false,
    };
    if let Some(found) = current.as_ref().filter(|_| unchanged)
        && let Some(bucket) = found.output("BucketName")
    {
        set_logging_role(aws, plan, found).await?;
        return Ok(bucket.to_owned());
    }
    apply_bootstrap(aws, &spec, current.is_none(), yes).await?;
    let deployed = stack::find(&cfn, BOOTSTRAP_STACK)
        .await?
        .context("the bootstrap stack vanished")?;
    set_logging_role(aws, plan, &deployed).await?;
    deployed
        .output("BucketName")
        .map(str::to_owned)
        .context("the bootstrap stack has no BucketName output; run `cargo xtask destroy --all` and deploy again")
}

/// Creates (`fresh`: there was none) or updates the bootstrap stack from `spec`, and says so.
/// Another deploy of the account (another environment's) may create it meanwhile: then
/// CloudFormation refuses this second CreateStack (AlreadyExistsException), and the other's
/// stack is used once it is done (brought up to date if this template differs).
async fn apply_bootstrap(aws: &Aws, spec: &stack::Spec<'_>, fresh: bool, yes: bool) -> Result<()> {
    let cfn = aws.cloudformation();
    let applied = match stack::apply_direct(&cfn, spec, STACK_TIMEOUT, yes).await {
        Err(e) if fresh && format!("{e:#}").contains("AlreadyExistsException") => {
            status(
                "Waiting",
                format!("for {BOOTSTRAP_STACK}, which another deploy is creating"),
            );
            stack::apply_direct(&cfn, spec, STACK_TIMEOUT, yes).await?
        }
        applied => applied?,
    };
    let done = match applied {
        stack::Applied::Unchanged => return Ok(()),
        stack::Applied::Created => "Created",
        stack::Applied::Updated => "Updated",
    };
    status(done, format!("{BOOTSTRAP_STACK} in {}", aws.region()));
    Ok(())
}

/// Points the account's API Gateway logging role at the bootstrap stack's, if `plan` says so.
async fn set_logging_role(
    aws: &Aws,
    plan: logging_role::Plan,
    bootstrap: &stack::Deployed,
) -> Result<()> {
    if !plan.set_account {
        return Ok(());
    }
    let role = bootstrap.output("LoggingRoleArn").context(
        "the bootstrap stack has no LoggingRoleArn output; run `cargo xtask destroy --all` and deploy again",
    )?;
    logging_role::set(aws, role).await
}

/// The stack's parameters: where its function packages are (the functions its orchestrator
/// deploys: `packages` holds those).
pub fn parameters(
    bucket: &str,
    project: &str,
    packages: &[Asset],
) -> Result<Vec<(String, String)>> {
    if packages.is_empty() {
        bail!("no function packages to deploy");
    }
    let mut parameters = vec![(
        package::ASSET_BUCKET_PARAMETER.to_owned(),
        bucket.to_owned(),
    )];
    for (parameter, function) in package::CODE_KEY_PARAMETERS {
        if let Some(asset) = packages.iter().find(|a| a.function == function) {
            parameters.push((parameter.to_owned(), asset.key(project)));
        }
    }
    Ok(parameters)
}

/// What a deploy did.
pub struct Outcome {
    pub applied: stack::Applied,
    pub uploaded: u64,
    pub outputs: BTreeMap<String, String>,
}

/// The asset bucket (deploying the bootstrap stack if needed) with `packages` uploaded to it:
/// the bucket, and the bytes uploaded.
pub async fn stage_packages(
    aws: &Aws,
    effective: &Effective,
    packages: &[Asset],
    yes: bool,
) -> Result<(String, u64)> {
    let bucket = bootstrap(aws, yes).await?;
    let uploaded = assets::upload(&aws.s3(), &bucket, effective.project.as_str(), packages).await?;
    Ok((bucket, uploaded))
}

/// The outcome of a deploy: the stack's outputs, read back and saved for the other verbs.
pub async fn finish(
    aws: &Aws,
    effective: &Effective,
    applied: stack::Applied,
    uploaded: u64,
) -> Result<Outcome> {
    let outputs: BTreeMap<String, String> =
        stack::find(&aws.cloudformation(), &effective.stack_name)
            .await?
            .context("the stack vanished after deploying")?
            .outputs
            .into_iter()
            .collect();
    save_outputs(effective, &outputs)?;
    Ok(Outcome {
        applied,
        uploaded,
        outputs,
    })
}

/// How often a deploy checks whether a schedule group it needs is still being deleted.
pub const GROUP_CHECKS: std::time::Duration = std::time::Duration::from_secs(2);

/// Deploys `template` as the environment's stack with `packages`, directly (no change set).
pub async fn direct(
    aws: &Aws,
    effective: &Effective,
    template: &str,
    packages: &[Asset],
    yes: bool,
) -> Result<Outcome> {
    template::needs_bucket(template.len())?; // before anything is deployed or uploaded
    schedule_groups::wait_until_deleted(aws, template, GROUP_CHECKS).await?;
    let (bucket, uploaded) = stage_packages(aws, effective, packages, yes).await?;
    let project = effective.project.as_str();
    let spec = stack::Spec {
        name: &effective.stack_name,
        template,
        location: template::stage(aws, &bucket, project, &effective.stack_name, template).await?,
        parameters: parameters(&bucket, project, packages)?,
    };
    let applied = stack::apply_direct(&aws.cloudformation(), &spec, STACK_TIMEOUT, yes).await?;
    finish(aws, effective, applied, uploaded).await
}

/// `target/hitl/<env>/outputs.json`.
pub fn outputs_path(effective: &Effective) -> PathBuf {
    paths::output_dir()
        .join(effective.environment.as_str())
        .join("outputs.json")
}

pub fn save_outputs(effective: &Effective, outputs: &BTreeMap<String, String>) -> Result<()> {
    let path = outputs_path(effective);
    paths::write_atomically(&path, &(serde_json::to_string_pretty(outputs)? + "\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}
