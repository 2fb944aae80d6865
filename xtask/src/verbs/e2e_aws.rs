//! `cargo xtask test --aws --env NAME`: the end-to-end suites on throwaway environments in a
//! real account, destroyed afterwards whatever happened (an interrupt included).
//!
//! Four environments, each under a stack of its own (never `NAME`'s): the shared suite
//! (`local.rs`) with each orchestrator's own (`local_step_functions.rs`, `local_durable.rs`),
//! and the policies suite (`local_policies.rs`: three reviewers of whom two approve, a
//! reminder and an escalation a minute after the request, delivered by EventBridge Scheduler,
//! attachments in a throwaway bucket made for the run) on each orchestrator. They take `NAME`'s
//! region, profile and architecture; everything else is the suites' own (reviewers at
//! example.com, short timeouts, no Slack, tables deleted with their stacks, a stage throttle
//! above the suites' racing POSTs). The suites read the reviewers' messages from queues they
//! subscribe to the topics, so nobody's mailbox is needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::config::ProvideCredentials;

use hitl_aws::describe;
use kit_aws::Aws;
use kit_base::status::{status, warning};
use kit_config::{Effective, values::Architecture};

use crate::{cli::Global, kit};

/// The project name of every throwaway environment (stacks `hitl-e2e-<env>`).
pub const PROJECT: &str = "hitl-e2e";

/// Concurrent executions the suites need at least: twenty POSTs racing to the review function,
/// and the functions they resume (a throttled invoke behind API Gateway is a `500`).
pub const CONCURRENCY_NEEDED: i32 = 30;

/// One throwaway environment and the suites run on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub env: String,
    /// `step-functions` or `durable-function`.
    pub orchestrator: &'static str,
    /// The approval policies' environment (the policies suite), or the plain one.
    pub policies: bool,
}

impl Run {
    /// The four runs of one `test --aws`, named after `id` (8 hex digits).
    pub fn all(id: &str) -> Vec<Run> {
        let run = |suffix: &str, orchestrator, policies| Run {
            env: format!("e2e-{id}-{suffix}"),
            orchestrator,
            policies,
        };
        vec![
            run("sf", "step-functions", false),
            run("df", "durable-function", false),
            run("sp", "step-functions", true),
            run("dp", "durable-function", true),
        ]
    }

    /// The test binaries of the run.
    pub fn suites(&self) -> Vec<&'static str> {
        match (self.policies, self.orchestrator) {
            (true, _) => vec!["local_policies", "local_faults"],
            (false, "durable-function") => vec!["local", "local_durable"],
            (false, _) => vec!["local", "local_step_functions"],
        }
    }

    pub fn stack(&self) -> String {
        format!("{PROJECT}-{}", self.env)
    }

    /// The environment's part of the config.
    fn settings(&self, bucket: &str) -> String {
        let common = format!(
            "    orchestrator: {}
",
            self.orchestrator
        );
        if !self.policies {
            return format!(
                "  {}:
{common}    approval_timeout: 60s
",
                self.env
            );
        }
        format!(
            "  {}:
{common}    reviewers: [ana@example.com, ben@example.com, cyd@example.com]
    \
             quorum: 2
    remind_after: 60s
    escalate_after: 60s
    \
             escalate_to: [eve@example.com]
    attachment_buckets: [{bucket}]
    \
             approval_timeout: 5m
",
            self.env
        )
    }
}

/// The throwaway environments' config: what the suites need, and `base`'s region, profile and
/// architecture; the policies suites' attachments in `bucket`.
pub fn config(base: &Effective, runs: &[Run], bucket: &str) -> String {
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
    let environments: String = runs.iter().map(|r| r.settings(bucket)).collect();
    format!(
        "# Written by `cargo xtask test --aws` for one run of the end-to-end suites; their stacks\n\
         # are destroyed afterwards.\n\
         project: {PROJECT}\n\
         {region}{profile}\
         defaults:\n  \
           reviewers: [ana@example.com, ben@example.com]\n  \
           retention: 1h\n  \
           lambda:\n    \
             architecture: {architecture}\n  \
           table:\n    \
             deletion_policy: Delete\n  \
           api:\n    \
             throttle_rate: 50\n    \
             throttle_burst: 100\n\
         environments:\n{environments}"
    )
}

/// Eight hex digits naming one run.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("{:08x}", nanos ^ std::process::id().rotate_left(16))
}

/// Why the account's Lambda concurrency is too low for the suites, if it is: accounts start with
/// a low quota ("Lambda quotas", Lambda Developer Guide), and a throttled invoke behind API
/// Gateway answers `500` ("API Gateway errors"), which the racing tests would take for a defect.
pub fn concurrency_problem(unreserved: i32) -> Option<String> {
    (unreserved < CONCURRENCY_NEEDED).then(|| {
        format!(
            "this account runs at most {unreserved} Lambda invocations at once (unreserved \
             concurrency) and the suites send 20 requests together, needing {CONCURRENCY_NEEDED}: \
             ask for more (Service Quotas, AWS Lambda, \"Concurrent executions\") or use an account \
             that has it"
        )
    })
}

/// Runs the suites on throwaway environments modelled on `global.env`, then destroys them.
pub fn run(global: &Global, cargo: &str) -> Result<()> {
    let base = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    // Before anything is made: credentials the SDK can use, in a region, and the concurrency.
    let aws = runtime.block_on(Aws::connect(&base, None))?;
    let account = runtime.block_on(check_account(&aws))?;
    let id = run_id();
    let runs = Run::all(&id);
    let bucket = format!("{PROJECT}-{id}-{account}");
    let dir = kit_base::paths::root().join("target").join("e2e-aws");
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_file(dir.join(STACKS_FILE));
    let config_path = dir.join(format!("e2e-{id}.yaml"));
    std::fs::write(&config_path, config(&base, &runs, &bucket))?;
    // An interrupt stops the suites (they get it too), never the teardown.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    let _ = ctrlc::set_handler(move || {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        warning("interrupted: tearing down what the suites made first");
    });
    // Now: once `cargo test` rebuilt this binary, /proc/self/exe names a deleted file.
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let made = runtime.block_on(make_bucket(&aws, &bucket));
    let mut outcome = made;
    for run in &runs {
        if outcome.is_err() || interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        outcome = suites(cargo, &base, &aws, run, &config_path, &dir, &bucket);
    }
    let teardown = teardown_all(&runtime, &aws, &xtask, &config_path, &dir, &runs, &bucket);
    match (outcome, teardown) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) => Err(e),
        (outcome, Err(e)) => {
            kit_base::status::error(format!("{e:#}"));
            outcome.and(Err(e))
        }
    }
}

/// The account of the credentials, once they work and its concurrency suffices.
async fn check_account(aws: &Aws) -> Result<String> {
    let provider = aws
        .sdk
        .credentials_provider()
        .context("no AWS credentials for the suites: configure them as for the AWS CLI")?;
    provider.provide_credentials().await.map_err(|e| {
        anyhow::anyhow!(
            "no AWS credentials for the suites ({e}): configure them as for the AWS CLI"
        )
    })?;
    let settings = aws
        .lambda()
        .get_account_settings()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the account's Lambda settings: {}",
                describe(&e)
            )
        })?;
    let Some(unreserved) = settings
        .account_limit
        .and_then(|l| l.unreserved_concurrent_executions)
    else {
        bail!("Lambda's GetAccountSettings gave no unreserved concurrency for this account");
    };
    if let Some(problem) = concurrency_problem(unreserved) {
        bail!("{problem}");
    }
    let identity = aws_sdk_sts::Client::new(&aws.sdk)
        .get_caller_identity()
        .send()
        .await;
    identity
        .map_err(|e| anyhow::anyhow!("cannot tell the account: {}", describe(&e)))?
        .account
        .context("STS named no account")
}

/// The policies suites' throwaway bucket (its name has the account, so no one else has it).
async fn make_bucket(aws: &Aws, bucket: &str) -> Result<()> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let region = aws.region();
    let mut made = aws.s3().create_bucket().bucket(bucket);
    if region != "us-east-1" {
        let location = BucketLocationConstraint::from(region.as_str());
        made = made.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(location)
                .build(),
        );
    }
    made.send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot make the bucket {bucket}: {}", describe(&e)))?;
    status("Created", format!("bucket {bucket} for the attachments"));
    Ok(())
}

/// One run's suites.
fn suites(
    cargo: &str,
    base: &Effective,
    aws: &Aws,
    run: &Run,
    config: &Path,
    dir: &Path,
    bucket: &str,
) -> Result<()> {
    let mut command = kit_base::cargo::command();
    command.args(["test", "--package", "xtask"]);
    for suite in run.suites() {
        command.args(["--test", suite]);
    }
    command
        .args(["--no-fail-fast", "--"])
        .arg("--ignored")
        .env("HITL_E2E_CONFIG", config)
        .env("HITL_E2E_ENV", &run.env)
        .env("HITL_E2E_BUCKET", bucket)
        .env("HITL_OUTPUT_DIR", dir)
        .env("AWS_REGION", aws.region())
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(profile) = &base.profile {
        command.env("AWS_PROFILE", profile);
    }
    let browser = std::process::Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !browser && !run.policies {
        warning("chromedriver not found: the real-browser test is skipped");
        command.args(["--skip", "a_reviewer_approves_in_a_real_browser"]);
    }
    status(
        "Running",
        format!(
            "{cargo} test --package xtask --test {} -- --ignored on {} in {} (throwaway)",
            run.suites().join(" --test "),
            run.stack(),
            aws.region()
        ),
    );
    super::run_command::run_command(&mut command)
}

/// Tears every run down (each tried, whatever the others did), and the bucket; names every
/// stack the suites made, and the commands that remove them, when anything is left.
fn teardown_all(
    runtime: &tokio::runtime::Runtime,
    aws: &Aws,
    xtask: &Path,
    config: &Path,
    dir: &Path,
    runs: &[Run],
    bucket: &str,
) -> Result<()> {
    let mut left = Vec::new();
    // The suites' own stacks first: one left by an interrupted test still imports its
    // environment's exports, which CloudFormation would then refuse to delete.
    let cfn = aws.cloudformation();
    for name in recorded_stacks(dir) {
        let deleted = kit_deploy::stack::delete(&cfn, &name, kit_deploy::STACK_TIMEOUT);
        if let Err(e) = runtime.block_on(deleted) {
            left.push(format!(
                "{e:#} (delete it: `aws cloudformation delete-stack --stack-name {name}`)"
            ));
        }
    }
    for run in runs {
        let torn = teardown(&Teardown {
            runtime,
            aws,
            xtask,
            config,
            env: &run.env,
            stack: &run.stack(),
            dir,
            queue_expected: false,
        });
        if let Err(e) = torn {
            left.push(format!("{e:#}"));
        }
    }
    match runtime.block_on(super::destroy::empty_and_delete_bucket(&aws.s3(), bucket)) {
        Ok(_) => status("Deleted", format!("bucket {bucket}")),
        Err(e) => left.push(format!(
            "bucket {bucket}: {e:#} (empty and delete it: `aws s3 rb s3://{bucket} --force`)"
        )),
    }
    if left.is_empty() {
        return Ok(());
    }
    let made: Vec<String> = recorded_stacks(dir)
        .into_iter()
        .chain(runs.iter().map(Run::stack))
        .collect();
    bail!(
        "not everything the suites made is gone: {}. The run made the stacks {} and the bucket \
         {bucket}",
        left.join("; "),
        made.join(", ")
    )
}

/// The stacks the suites noted in `dir` (see [`STACKS_FILE`]).
fn recorded_stacks(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(STACKS_FILE))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The file in which the suites note the stacks they make beside the environments' (see the
/// test support's `record_stack`).
pub const STACKS_FILE: &str = "stacks.txt";

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
        let id = run_id();
        let runs = Run::all(&id);
        let path = dir.path().join("e2e.yaml");
        std::fs::write(&path, config(&base, &runs, "hitl-e2e-bucket-123")).unwrap();
        let config = kit_config::Config::load(&path).unwrap();
        for run in &runs {
            assert!(run.env.len() <= 16, "{}", run.env);
            let effective = config
                .resolve_for_render(&run.env, &Default::default())
                .unwrap();
            assert_eq!(effective.stack_name, run.stack());
            assert_ne!(effective.stack_name, base.stack_name);
            assert_eq!(effective.region, base.region);
            assert_eq!(effective.profile, base.profile);
            assert_eq!(effective.lambda.architecture, base.lambda.architecture);
            assert_eq!(effective.orchestrator.as_str(), run.orchestrator);
            assert!(effective.slack_webhook_parameter.is_none());
            assert!(
                effective.api.throttle_burst.get() >= 20.0,
                "the race test sends 20 at once"
            );
            match run.policies {
                false => assert_eq!(effective.approval_timeout.secs(), 60),
                true => {
                    assert_eq!(effective.quorum.get(), 2);
                    assert_eq!(effective.reviewers.len(), 3);
                    assert_eq!(effective.remind_after.unwrap().secs(), 60);
                    assert_eq!(
                        effective.attachment_buckets[0].as_str(),
                        "hitl-e2e-bucket-123"
                    );
                }
            }
        }
        let suites: Vec<Vec<&str>> = runs.iter().map(Run::suites).collect();
        assert!(suites.contains(&vec!["local", "local_durable"]));
        assert!(suites.contains(&vec!["local_policies", "local_faults"]));
    }

    /// "Lambda quotas" (Lambda Developer Guide): a new account may run 10 at once.
    #[test]
    fn an_account_without_the_concurrency_the_suites_need_is_refused_first() {
        let problem = concurrency_problem(10).expect("too low");
        assert!(problem.contains("at most 10") && problem.contains("Concurrent executions"));
        assert!(concurrency_problem(1000).is_none());
    }
}
