//! `cargo xtask test --aws --env NAME`: the end-to-end suite (`xtask/tests/local.rs`) on a
//! throwaway environment in a real account, destroyed afterwards whatever happened.
//!
//! The throwaway environment takes the region, profile and architecture of `NAME`; everything
//! else is the suite's own (two reviewers at example.com, a 30-second approval timeout, no
//! Slack, a table deleted with the stack, a stage throttle above the suite's 20 racing POSTs),
//! under a stack name of its own, so that it never
//! touches `NAME`'s stack. The suite reads the reviewers' messages from a queue it subscribes to
//! the topic, so nobody's mailbox is needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::config::ProvideCredentials;

use hitl_aws::describe;
use kit_aws::Aws;
use kit_base::status::{status, warning};
use kit_config::{
    Effective,
    values::{Architecture, Orchestrator},
};

use crate::{cli::Global, kit};

/// The project name of every throwaway environment (stacks `hitl-e2e-<env>`).
pub const PROJECT: &str = "hitl-e2e";

/// The throwaway environment's config: what the suite needs, and `base`'s region, profile and
/// architecture.
pub fn config(base: &Effective, env: &str) -> String {
    let region = base
        .region
        .as_ref()
        .map(|r| format!("region: {}\n", r.as_str()))
        .unwrap_or_default();
    let profile = base
        .profile
        .as_ref()
        .map(|p| format!("profile: {p}\n"))
        .unwrap_or_default();
    let architecture = match base.lambda.architecture {
        Architecture::Arm64 => "arm64",
        Architecture::X86_64 => "x86_64",
    };
    let orchestrator = base.orchestrator.as_str();
    format!(
        "# Written by `cargo xtask test --aws` for one run of the end-to-end suite; its stack is\n\
         # destroyed afterwards.\n\
         project: {PROJECT}\n\
         {region}{profile}\
         defaults:\n  \
           reviewers: [ana@example.com, ben@example.com]\n\
         environments:\n  \
           {env}:\n    \
             orchestrator: {orchestrator}\n    \
             approval_timeout: 30s\n    \
             retention: 1h\n    \
             lambda:\n      \
               architecture: {architecture}\n    \
             table:\n      \
               deletion_policy: Delete\n    \
             api:\n      \
               throttle_rate: 50\n      \
               throttle_burst: 100\n"
    )
}

/// A fresh environment name: `e2e-` and eight hex digits (environment names have at most 16).
pub fn env_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("e2e-{:08x}", nanos ^ std::process::id().rotate_left(16))
}

/// Runs the suite on a throwaway environment modelled on `global.env`, then destroys it.
pub fn run(global: &Global, cargo: &str) -> Result<()> {
    let base = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    // Before anything is made: credentials the SDK can use, in a region.
    let aws = runtime.block_on(Aws::connect(&base, None))?;
    let provider = aws
        .sdk
        .credentials_provider()
        .context("no AWS credentials for the suite: configure them as for the AWS CLI")?;
    runtime
        .block_on(provider.provide_credentials())
        .map_err(|e| {
            anyhow::anyhow!(
                "no AWS credentials for the suite ({e}): configure them as for the AWS CLI"
            )
        })?;
    let env = env_name();
    let dir = kit_base::paths::root().join("target").join("e2e-aws");
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join(format!("{env}.yaml"));
    std::fs::write(&config_path, config(&base, &env))?;
    let stack = format!("{PROJECT}-{env}");
    status(
        "Running",
        format!(
            "the end-to-end suite on {stack} in {} (throwaway)",
            aws.region()
        ),
    );
    // The suites both orchestrators share, and those of this one's.
    let own = match base.orchestrator {
        Orchestrator::StepFunctions => "local_step_functions",
        Orchestrator::DurableFunction => "local_durable",
    };
    let mut command = kit_base::cargo::command();
    command
        .args([
            "test",
            "--package",
            "xtask",
            "--test",
            "local",
            "--test",
            own,
        ])
        .args(["--no-fail-fast", "--"])
        .arg("--ignored")
        .env("HITL_E2E_CONFIG", &config_path)
        .env("HITL_E2E_ENV", &env)
        .env("HITL_OUTPUT_DIR", &dir)
        .env("AWS_REGION", aws.region())
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(profile) = &base.profile {
        command.env("AWS_PROFILE", profile);
    }
    let browser = std::process::Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !browser {
        warning("chromedriver not found: the real-browser test is skipped");
        command.args(["--skip", "a_reviewer_approves_in_a_real_browser"]);
    }
    status(
        "Running",
        format!("{cargo} test --package xtask --test local --test {own} -- --ignored"),
    );
    // Now: once `cargo test` rebuilt this binary, /proc/self/exe names a deleted file.
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let outcome = super::run_command::run_command(&mut command);
    let teardown = teardown(&Teardown {
        runtime: &runtime,
        aws: &aws,
        xtask: &xtask,
        config: &config_path,
        env: &env,
        stack: &stack,
        dir: &dir,
        queue_expected: false,
    });
    match (outcome, teardown) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) => Err(e),
        (outcome, Err(e)) => {
            kit_base::status::error(format!("{e:#}"));
            outcome.and(Err(e))
        }
    }
}

/// What to tear down after a run of the suite.
pub struct Teardown<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub aws: &'a Aws,
    /// This binary, as found before `cargo test` could rebuild it.
    pub xtask: &'a Path,
    pub config: &'a Path,
    pub env: &'a str,
    pub stack: &'a str,
    pub dir: &'a Path,
    /// Whether the suite must have made its queue (it did not if the deploy failed).
    pub queue_expected: bool,
}

/// Destroys the stack and deletes the suite's queue; says what is left if either fails.
pub fn teardown(t: &Teardown) -> Result<()> {
    let destroyed = super::run_command::run_command(
        std::process::Command::new(t.xtask)
            .arg("--config")
            .arg(t.config)
            .args(["--env", t.env, "destroy", "--yes"])
            .env("HITL_OUTPUT_DIR", t.dir),
    );
    let queue = format!("{}-e2e-inbox", t.stack);
    let deleted = t
        .runtime
        .block_on(delete_queue(t.aws, &queue))
        .and_then(|existed| {
            if existed || !t.queue_expected {
                Ok(())
            } else {
                bail!("the suite made no queue {queue}")
            }
        });
    match (destroyed, deleted) {
        (Ok(()), Ok(())) => {
            status("Destroyed", format!("{} and the queue {queue}", t.stack));
            Ok(())
        }
        (destroyed, deleted) => bail!(
            "the suite's environment is not all gone (stack {}: {}; queue {queue}: {}): \
             `cargo xtask --config {} --env {} destroy --yes`, then delete the queue",
            t.stack,
            destroyed.map_or_else(|e| format!("{e:#}"), |()| "deleted".into()),
            deleted.map_or_else(|e| format!("{e:#}"), |()| "deleted".into()),
            PathBuf::from(t.config).display(),
            t.env,
        ),
    }
}

/// Deletes a queue by name; whether it was there.
pub async fn delete_queue(aws: &Aws, name: &str) -> Result<bool> {
    let sqs = aws.sqs();
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url.unwrap_or_default(),
        Err(e) if hitl_aws::error_code(&e).is_some_and(|c| c.contains("NonExistentQueue")) => {
            return Ok(false);
        }
        Err(e) => bail!("cannot find the queue {name}: {}", describe(&e)),
    };
    sqs.delete_queue()
        .queue_url(&url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete the queue {name}: {}", describe(&e)))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throwaway_config_is_a_valid_config_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let base = kit_config::Config::load(&kit_base::paths::root().join("hitl.yaml"))
            .unwrap()
            .resolve("prod", &Default::default())
            .unwrap();
        let env = env_name();
        assert!(env.len() <= 16 && env.starts_with("e2e-"), "{env}");
        let path = dir.path().join("e2e.yaml");
        std::fs::write(&path, config(&base, &env)).unwrap();
        let effective = kit_config::Config::load(&path)
            .unwrap()
            .resolve(&env, &Default::default())
            .unwrap();
        assert_eq!(effective.stack_name, format!("hitl-e2e-{env}"));
        assert_ne!(effective.stack_name, base.stack_name);
        assert_eq!(effective.region, base.region);
        assert_eq!(effective.profile, base.profile);
        assert_eq!(effective.lambda.architecture, base.lambda.architecture);
        assert_eq!(effective.approval_timeout.secs(), 30);
        assert!(effective.slack_webhook_parameter.is_none());
        assert_eq!(effective.reviewers.len(), 2);
        assert!(
            effective.api.throttle_burst.get() >= 20.0,
            "the race test sends 20 at once"
        );
    }
}
