//! `cargo xtask test`: the project's whole check, as CI runs it. fmt, clippy and the test suites,
//! then cfn-lint and checkov on the template of every environment, of the lint fixtures (three
//! reviewers, Slack, an override directory) and of the bootstrap stack, the end-to-end suites,
//! and `cdk synth` of the exported CDK apps.

use std::{
    path::PathBuf,
    process::{Command, Output},
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use kit_base::paths;

use kit_base::status::{error, status};
use kit_config::Config;
use kit_tools::install;

use super::run_command::run_command;
use crate::{cli::Global, kit};

pub fn run(global: &Global, lint_only: bool, aws: bool, faults: Option<&str>) -> Result<()> {
    let cargo = kit_base::cargo::program();
    let faults = faults.map(chaos_faults).transpose()?;
    if aws {
        return super::e2e_aws::run(global, &cargo);
    }
    let mut results: Vec<(&str, Result<()>)> = Vec::new();
    // The Python tools and the CDK toolchain download while cargo compiles.
    let installs = (!lint_only).then(|| std::thread::spawn(install_tools));
    if !lint_only {
        let steps: [(&str, &[&str]); 3] = [
            ("cargo fmt", &["fmt", "--all", "--", "--check"]),
            (
                "cargo clippy",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
            ("cargo test", &["test", "--workspace"]),
        ];
        for (name, args) in steps {
            status("Running", format!("{cargo} {}", args.join(" ")));
            let outcome = timed(name, || run_command(kit_base::cargo::command().args(args)));
            results.push((name, outcome));
        }
        results.push(("one build", timed("one build", one_build)));
    }
    if let Some(Err(e)) = installs.map(|i| i.join().unwrap_or_else(|_| bail!("panicked"))) {
        // Said again below by the step that needs them.
        kit_base::status::warning(format!("installing the tools failed: {e:#}"));
    }
    // `cdk synth` from here on, beside the rest: its release builds work the cores while the
    // linters and the end-to-end suites mostly wait.
    let cdk = (!lint_only).then(|| start_cdk_synth(&cargo));
    let templates = render_for_lint(global);
    match templates {
        Err(e) => results.push(("render", Err(e))),
        Ok(templates) => {
            results.push(("render", Ok(())));
            match install::ensure() {
                Err(e) => results.push(("tools", Err(e))),
                Ok(venv) => {
                    results.push((
                        "cfn-lint",
                        timed("cfn-lint", || cfn_lint(&venv, &templates)),
                    ));
                    results.push(("checkov", timed("checkov", || checkov(&venv, &templates))));
                    if !lint_only {
                        let table = || table_on_moto(&cargo);
                        results.push(("table on moto", timed("table on moto", table)));
                        let suites = || end_to_end(&cargo, faults);
                        results.push(("end-to-end", timed("end-to-end", suites)));
                    }
                }
            }
        }
    }
    if let Some(cdk) = cdk {
        results.push(("cdk synth", finish_cdk_synth(cdk)));
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| *name)
        .collect();
    for (name, outcome) in &results {
        if let Err(e) = outcome {
            error(format!("{name}: {e:#}"));
        }
    }
    println!(
        "checks: {} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The approvals table's conditional writes against a moto of their own
/// (`lambdas/adapters/tests/table_writes.rs`): the adapter's expressions, every path of them,
/// as DynamoDB takes them; the end-to-end suites reach only the paths their runs happen on.
fn table_on_moto(cargo: &str) -> Result<()> {
    let args = [
        "test",
        "--package",
        "hitl-adapters",
        "--features",
        "dynamodb",
        "--test",
        "table_writes",
        "--",
        "--ignored",
    ];
    status("Running", format!("{cargo} {}", args.join(" ")));
    run_command(kit_base::cargo::command().args(args))
}

/// `cdk synth` under way: how it ended, and how long it took.
type CdkSynth = JoinHandle<(Result<Option<Output>>, Duration)>;

/// `cdk synth` of the exported apps, started: it runs beside the linters and the end-to-end
/// suites, which mostly wait on the local environment's clocks while the CDK's release builds
/// work the cores. They share nothing they write (the suites' packages are the dev build's, in
/// `target/lambda/dev`; the apps' are release builds, in `target/lambda/<arch>`).
fn start_cdk_synth(cargo: &str) -> CdkSynth {
    let cargo = cargo.to_owned();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let outcome = cdk_synth(&cargo);
        (outcome, started.elapsed())
    })
}

/// How `cdk synth` ended; its output is said after everything else's.
fn finish_cdk_synth(cdk: CdkSynth) -> Result<()> {
    let (cdk_synth, took) = cdk
        .join()
        .unwrap_or_else(|_| (Err(anyhow::anyhow!("panicked")), Default::default()));
    let cdk_synth = cdk_synth.and_then(|output| match output {
        None => Ok(()),
        Some(output) => {
            print_output(&output);
            match output.status.success() {
                true => Ok(()),
                false => bail!("exited with {}", output.status),
            }
        }
    });
    status(
        if cdk_synth.is_ok() {
            "Passed"
        } else {
            "Failed"
        },
        format!("cdk synth in {took:.0?} (beside the linters and the end-to-end suites)"),
    );
    cdk_synth
}

/// `step`, with how long it took said after it.
fn timed(name: &str, step: impl FnOnce() -> Result<()>) -> Result<()> {
    let started = std::time::Instant::now();
    let outcome = step();
    status(
        if outcome.is_ok() { "Passed" } else { "Failed" },
        format!("{name} in {:.0?}", started.elapsed()),
    );
    outcome
}

/// The tools the later steps need, installed without a spinner of their own (cargo's output
/// runs meanwhile); the steps call the same functions again, which then return at once.
fn install_tools() -> Result<()> {
    install::quietly(|| {
        install::ensure()?;
        install::ensure_durable()?;
        install::ensure_oidc()?;
        if install::npm_available() {
            install::ensure_cdk_npm()?;
            install::ensure_cdk_python()?;
        }
        Ok(())
    })
}

/// The functions' dev build (the local environment's) reuses every dependency the xtask's build
/// compiled: the workspace-hack gives both the same features, so each third-party crate they
/// share is one artifact (same file, same hash), never compiled twice. A dependency added with
/// features of its own shows here, named.
fn one_build() -> Result<()> {
    type Artifacts = std::collections::BTreeMap<(String, String), serde_json::Value>;
    let artifacts = |args: &[&str]| -> Result<Artifacts> {
        let output = kit_base::cargo::command()
            .args(["build", "--message-format", "json"])
            .args(args)
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("cannot run cargo build")?;
        if !output.status.success() {
            bail!("cargo build {} failed", args.join(" "));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact")
            // Path dependencies are the workspace's own crates.
            .filter(|m| {
                !m["package_id"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("path+")
            })
            .map(|m| {
                let id = m["package_id"].as_str().unwrap_or_default().to_owned();
                let target = m["target"]["name"].as_str().unwrap_or_default().to_owned();
                ((id, target), m["filenames"].clone())
            })
            .collect())
    };
    status(
        "Checking",
        "that the functions' dev build shares the xtask's dependencies",
    );
    let xtask = artifacts(&["--package", "xtask"])?;
    let features = kit_base::package::dev_features();
    let mut args = vec!["--features", features.as_str()];
    for function in kit_base::package::FUNCTIONS {
        args.extend(["--bin", function]);
    }
    let functions = artifacts(&args)?;
    let twice: Vec<&str> = functions
        .iter()
        .filter(|(key, files)| xtask.get(*key).is_some_and(|theirs| theirs != *files))
        .map(|((_, target), _)| target.as_str())
        .collect();
    if !twice.is_empty() {
        bail!(
            "the functions' dev build compiles its own copy of {}: run `cargo hakari generate` \
             (cargo install cargo-hakari) to bring xtask/workspace-hack up to date",
            twice.join(", ")
        );
    }
    let shared = functions.keys().filter(|k| xtask.contains_key(*k)).count();
    status(
        "Shared",
        format!(
            "{shared} of the functions' {} dependency builds with the xtask",
            functions.len()
        ),
    );
    Ok(())
}

/// How long the functions' role sessions last in the end-to-end suites' local environment.
const SESSION_SECONDS: u64 = 30;

/// Tests at once in each suite: they spend their time waiting on the local environment's
/// clocks (sessions, expiries, reminders), not on the cores, and each one's approvals are its
/// own.
const TEST_THREADS: &str = "6";

/// The suites of each environment. The local environment serves every stack at once (each
/// stack's functions in a `cargo lambda watch` of their own, its faults its own), so each
/// environment's suites run in a chain of their own, the chains side by side: they spend their
/// time waiting on the local environment's clocks (sessions, expiries, reminders), not on the
/// cores. In a chain the binaries run one after the other (cargo runs test binaries one at a
/// time, in the order of their names: a chain is a few commands). Sign-in's suite deploys its
/// environment's sign-in twin (`local-sign-in`, `local-sign-in-df`) and arms the one OpenID
/// Connect provider's forgeries: one chain's runs at a time. The chaos suite arms faults for
/// every call of its stack's, and what it checks is timed by the protocol's watch of an
/// execution after a lost answer (seconds, where AWS takes milliseconds): it runs after its
/// chain's first suites, which mostly wait while `cdk synth`'s release builds work the cores.
/// The load test (on `local`, on a stack of its own) closes the shortest chain, the Step
/// Functions policies environment's.
const STEP_FUNCTIONS: &[&[&str]] = &[&["local", "local_step_functions"], SIGN_IN, &["chaos"]];
const LOAD: &[&str] = &["load"];
const DURABLE: &[&[&str]] = &[&["local", "local_durable"], SIGN_IN, &["chaos"]];
const SIGN_IN: &[&str] = &["local_sign_in"];
/// The policies environments (each orchestrator), each a chain of its own (each stack has its
/// own workspace in the Slack stand-in): the router's faults first and alone (they hit every
/// call of the stack's), then the two other suites side by side on the stack it deployed.
const POLICIES: [&str; 2] = ["local-policy", "local-policy-df"];
const FAULTS: &[&str] = &["local_faults"];
const BESIDE_FAULTS: [&str; 2] = ["local_policies", "local_slack"];
/// Build, deploy and destroy against a moto of its own.
const DEPLOY: &[&str] = &["deploy"];

/// `cargo test` of the `tests` binaries, their `#[ignore]`d tests only.
fn test_args(tests: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["test", "--package", "xtask"].map(String::from).to_vec();
    for test in tests {
        args.extend(["--test".to_owned(), (*test).to_owned()]);
    }
    args.extend(
        [
            "--no-fail-fast",
            "--",
            "--ignored",
            "--test-threads",
            TEST_THREADS,
        ]
        .map(String::from),
    );
    args
}

/// How the suites reach the local environment.
struct Suites<'a> {
    cargo: &'a str,
    out_dir: &'a std::path::Path,
    endpoint: String,
    /// The chaos suite's faults instead of its own (`--faults`).
    faults: Option<&'a str>,
    /// Held by a chain while it runs sign-in's suite ([`SIGN_IN`]).
    signing_in: std::sync::Mutex<()>,
}

/// A free loopback port: the fake Slack webhook's of a chain of suites (see the test support's
/// fake_webhook: each test binary of a stack listens on the same port, since a function keeps
/// the URL it read).
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .context("no free port for the fake Slack webhook")
}

impl Suites<'_> {
    fn command(&self, tests: &[&str], env: &str, slack_port: u16) -> Command {
        let args = test_args(tests);
        status(
            "Running",
            format!(
                "{} {} (local environment `{env}`, AWS_ENDPOINT_URL={})",
                self.cargo,
                args.join(" "),
                self.endpoint
            ),
        );
        let mut command = kit_base::cargo::command();
        command
            .args(args)
            .env("HITL_OUTPUT_DIR", self.out_dir)
            .env("HITL_E2E_ENV", env)
            .env("HITL_E2E_SLACK_PORT", slack_port.to_string())
            .env("HITL_LAMBDA_PROFILE", kit_tools::functions::DEV)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", kit_base::local::REGION)
            .env("AWS_ACCESS_KEY_ID", kit_base::local::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", kit_base::local::SECRET_KEY)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        if let Some(faults) = self.faults {
            command.env(CHAOS_FAULTS, faults);
        }
        command
    }

    /// The suites on `env`, one after the other, beside the other chains, with the fake Slack
    /// webhook on `slack_port`: their output said when they are done.
    fn chain(&self, tests: &[&str], env: &str, slack_port: u16) -> Beside {
        let command = self.command(tests, env, slack_port);
        Beside::spawn(format!("{} on `{env}`", tests.join(", ")), command)
    }

    /// The suite `test` in a process of its own beside another on `env`'s stack, deployed
    /// before: with a queue and a webhook port of its own.
    fn beside(&self, test: &str, env: &str) -> Beside {
        let mut command = self.command(&[test], env, 0);
        command
            .env("HITL_E2E_DEPLOYED", "1")
            .env("HITL_E2E_INBOX", test);
        Beside::spawn(format!("{test} on `{env}`"), command)
    }

    /// The commands of `steps` on `env`, one after the other (each whatever the one before did),
    /// with one fake Slack webhook port (the stack's functions keep the URL they read).
    fn steps(&self, steps: &[&[&str]], env: &str) -> Vec<Result<()>> {
        let slack_port = match free_port() {
            Ok(port) => port,
            Err(e) => return vec![Err(e)],
        };
        let step = |tests: &&[&str]| {
            let _one = (*tests == SIGN_IN)
                .then(|| self.signing_in.lock().unwrap_or_else(|e| e.into_inner()));
            self.chain(tests, env, slack_port).join()
        };
        steps.iter().map(step).collect()
    }

    /// A policies environment's suites.
    fn policies(&self, env: &str) -> Vec<Result<()>> {
        let slack_port = match free_port() {
            Ok(port) => port,
            Err(e) => return vec![Err(e)],
        };
        let mut outcomes = vec![self.chain(FAULTS, env, slack_port).join()];
        let beside = BESIDE_FAULTS.map(|test| self.beside(test, env));
        outcomes.extend(beside.map(Beside::join));
        outcomes
    }
}

/// Suites running in a process beside others.
struct Beside(
    String,
    std::thread::JoinHandle<std::io::Result<std::process::Output>>,
);

impl Beside {
    /// Runs `command`, its output kept (said by [`Beside::join`]).
    fn spawn(what: String, mut command: Command) -> Beside {
        Beside(what, std::thread::spawn(move || command.output()))
    }

    /// Waits for the suites and says what they printed.
    fn join(self) -> Result<()> {
        let Beside(what, handle) = self;
        let output = handle
            .join()
            .map_err(|_| anyhow::anyhow!("{what}: panicked"))?
            .with_context(|| format!("{what}: cannot run cargo test"))?;
        status("Output", format!("of {what}, run beside the others:"));
        print_output(&output);
        match output.status.success() {
            true => Ok(()),
            false => bail!("{what}: exited with {}", output.status),
        }
    }
}

/// The local environment the suites share, under `out_dir` (started if it is not running), and
/// how the suites reach it: through AWS_ENDPOINT_URL, as they would reach AWS (the same code runs
/// against an account with `--aws`).
fn local_suites<'a>(
    cargo: &'a str,
    out_dir: &'a std::path::Path,
    xtask: &std::path::Path,
    faults: Option<&'a str>,
) -> Result<(kit_local::runner::Runner, Suites<'a>)> {
    // Sessions short enough that the suites meet their expiry (the attachments' downloads are
    // presigned after the session that served the page is over).
    run_command(
        Command::new(xtask)
            .args(["local", "up"])
            .env("HITL_OUTPUT_DIR", out_dir)
            .env("HITL_LOCAL_SESSION_SECONDS", SESSION_SECONDS.to_string()),
    )?;
    let runner = kit_local::runner::recorded_at(&out_dir.join("local"))
        .context("`local up` recorded no local environment")?;
    let suites = Suites {
        cargo,
        out_dir,
        endpoint: runner.endpoint(),
        faults,
        signing_in: std::sync::Mutex::new(()),
    };
    Ok((runner, suites))
}

/// What the chaos suite reads its faults from (`xtask/tests/chaos.rs`).
const CHAOS_FAULTS: &str = "HITL_CHAOS_FAULTS";

/// `spec` as the chaos suite's faults, once it is known to be one.
pub fn chaos_faults(spec: &str) -> Result<&str> {
    let faults =
        kit_local::faults::parse_spec(spec).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    if faults.is_empty() {
        bail!("--faults: name at least one fault, e.g. dynamodb:throttle:0.1");
    }
    Ok(spec)
}

/// `cargo xtask bench chaos`: the chaos suite with `each` approvals per scenario, on each
/// orchestrator, on the suites' local environment (left running, as `bench load` leaves it).
pub fn chaos(each: usize, faults: Option<&str>) -> Result<()> {
    let faults = faults.map(chaos_faults).transpose()?;
    let cargo = kit_base::cargo::program();
    let out_dir = paths::root().join("target").join("e2e");
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let (_, suites) = local_suites(&cargo, &out_dir, &xtask, faults)?;
    for env in ["local", "local-durable"] {
        let mut command = suites.command(&["chaos"], env, free_port()?);
        // The suite's own report (the faults it saw injected) shown.
        command
            .env("HITL_CHAOS_EACH", each.to_string())
            .arg("--nocapture");
        run_command(&mut command)?;
    }
    Ok(())
}

/// The suites that need the tools venv (`#[ignore]`d in a plain `cargo test`): the local
/// environment end to end, on a runner of its own under `target/e2e` stopped afterwards whatever
/// happened, and build / deploy / destroy against moto's CloudFormation.
fn end_to_end(cargo: &str, faults: Option<&str>) -> Result<()> {
    let out_dir = paths::root().join("target").join("e2e");
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let (runner, suites) = local_suites(cargo, &out_dir, &xtask, faults)?;
    // Its moto and router are its own, and so is where that router writes its decisions.
    let mut deploy = suites.command(DEPLOY, "local", 0);
    deploy.env("HITL_OUTPUT_DIR", out_dir.join("deploy-suite"));
    let deploy = Beside::spawn("deploy".to_owned(), deploy);
    let outcomes = std::thread::scope(|scope| {
        let suites = &suites;
        let chains = [(STEP_FUNCTIONS, "local"), (DURABLE, "local-durable")]
            .map(|(steps, env)| scope.spawn(move || suites.steps(steps, env)));
        let policies = POLICIES.map(|env| {
            scope.spawn(move || {
                let mut outcomes = suites.policies(env);
                if env == POLICIES[0] {
                    outcomes.extend(suites.steps(&[LOAD], "local"));
                }
                outcomes
            })
        });
        let mut outcomes = Vec::new();
        for chain in chains.into_iter().chain(policies) {
            match chain.join() {
                Ok(chain) => outcomes.extend(chain),
                Err(_) => outcomes.push(Err(anyhow::anyhow!("a chain of suites panicked"))),
            }
        }
        outcomes.push(deploy.join());
        outcomes
    });
    let failed: Vec<String> = outcomes
        .into_iter()
        .filter_map(Result::err)
        .map(|e| format!("{e:#}"))
        .collect();
    let outcome = match failed.is_empty() {
        true => least_privilege(&out_dir),
        false => Err(anyhow::anyhow!("{}", failed.join("; "))),
    };
    // The stacks served, read before their teardown forgets them: none may leave a process.
    let local = out_dir.join("local");
    let served = kit_local::stacks::all(&local);
    let teardown = teardown_suites(&runner.endpoint(), &xtask, &out_dir);
    let outcome = outcome.and(teardown);
    // In-process: `cargo test` may have rebuilt (and so deleted) this very binary. Then check
    // that `local down` left no process and no port behind.
    let recorded = kit_local::runner::recorded_at(&local);
    let down = kit_local::runner::down_at(&local).and_then(|_| match &recorded {
        Some(runner) => kit_local::runner::verify_stopped(runner, &served),
        None => bail!("the end-to-end suites left no local environment to stop"),
    });
    outcome.and(down)
}

/// What `--aws` does after the suite, here on the local environment at `endpoint`: each
/// suite's stack destroyed and its queue deleted (each tried, whatever the other did).
fn teardown_suites(
    endpoint: &str,
    xtask: &std::path::Path,
    out_dir: &std::path::Path,
) -> Result<()> {
    let runtime = crate::runtime::new()?;
    let mut failed = Vec::new();
    for (config, project, env) in [
        ("xtask/tests/local/hitl.yaml", "e2e", "local"),
        ("xtask/tests/local/hitl.yaml", "e2e", "local-durable"),
        ("xtask/tests/local/hitl.yaml", "e2e", "local-policy"),
        ("xtask/tests/local/hitl.yaml", "e2e", "local-policy-df"),
        ("xtask/tests/local/hitl.yaml", "e2e", "local-sign-in"),
        ("xtask/tests/local/hitl.yaml", "e2e", "local-sign-in-df"),
        ("xtask/tests/load/hitl.yaml", "load", "local"),
    ] {
        let config = paths::root().join(config);
        let global = Global {
            config: Some(config.clone()),
            env: env.to_owned(),
            region: None,
            profile: None,
        };
        let torn = kit::effective(&global, &[])
            .map_err(anyhow::Error::from)
            .and_then(|effective| {
                runtime.block_on(kit_aws::Aws::connect(&effective, Some(endpoint.to_owned())))
            })
            .and_then(|aws| {
                super::e2e_aws::teardown(&super::e2e_aws::Teardown {
                    runtime: &runtime,
                    aws: &aws,
                    xtask,
                    config: &config,
                    env,
                    stack: &format!("{project}-{env}"),
                    dir: out_dir,
                    queue_expected: true,
                })
            });
        if let Err(e) = torn {
            failed.push(format!("{e:#}"));
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => bail!("{}", failed.join("; ")),
    }
}

/// Every statement of every role the suites deployed either allowed a call only it allowed (or
/// let a service assume the role, with each condition checked against what the service sent),
/// or says why it is there: from the local environment's decisions (`iam.jsonl`).
fn least_privilege(out_dir: &std::path::Path) -> Result<()> {
    let mut templates = Vec::new();
    for env in [
        "local",
        "local-durable",
        "local-policy",
        "local-policy-df",
        "local-sign-in",
        "local-sign-in-df",
    ] {
        let path = out_dir.join(env).join("template.yaml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        templates.push((format!("e2e-{env}"), text));
    }
    let example = paths::root().join("templates/examples/own-workflow.yaml");
    templates.push((
        "e2e-local-own-*".to_owned(),
        std::fs::read_to_string(example)?,
    ));
    let log = kit_local::access::log_path(&out_dir.join("local"));
    let lines = super::least_privilege::run(&log, &templates)?;
    status(
        "Checked",
        "least privilege: every statement is needed or says why",
    );
    for line in lines {
        println!("    {line}");
    }
    Ok(())
}

/// The exported CDK apps, synthesized by the CDK and compared with the rendered templates
/// (`#[ignore]`d in a plain `cargo test`), their output kept for the caller to show. The
/// toolchain is installed first, once, so the suite's tests do not race to install it. Without
/// npm this is skipped (`None`), and says so.
fn cdk_synth(cargo: &str) -> Result<Option<std::process::Output>> {
    if !install::npm_available() {
        kit_base::status::warning(
            "skipped `cdk synth` of the exported CDK apps: npm not found (install Node.js with \
             npm to run it)",
        );
        return Ok(None);
    }
    install::ensure_cdk_npm()?;
    install::ensure_cdk_python()?;
    let args = [
        "test",
        "--package",
        "xtask",
        "--test",
        "cdk",
        "--",
        "--ignored",
    ];
    status(
        "Running",
        format!(
            "{cargo} {} (output below, after the end-to-end suites)",
            args.join(" ")
        ),
    );
    // Beside the end-to-end suites, whose functions are cut at their timeouts: its release
    // builds take what CPU they leave.
    let output = kit_base::cargo::background_command()
        .args(args)
        // Release packages, as a user's export builds them.
        .env_remove("HITL_LAMBDA_PROFILE")
        .output()
        .context("cannot run cargo test")?;
    Ok(Some(output))
}

/// Lint fixtures: configs that switch on what the shipped one leaves off.
fn fixtures_dir() -> PathBuf {
    paths::root().join("xtask").join("tests").join("lint")
}

/// Renders every environment of the config and of each lint fixture, and the bootstrap stack.
fn render_for_lint(global: &Global) -> Result<Vec<PathBuf>> {
    let mut configs = vec![(kit::load_config(global)?, None)];
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .with_context(|| format!("cannot read {}", fixtures_dir().display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    fixtures.sort();
    for path in fixtures {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        configs.push((Config::load(&path)?, Some(name)));
    }
    let mut written = Vec::new();
    for (config, fixture) in &configs {
        for env in config.environment_names() {
            let effective = config.resolve_for_render(&env, &kit::overrides(global, &[]))?;
            let text = kit_render::stack(&kit_render::Sources::kit(), &effective)?;
            let path = match fixture {
                None => paths::template_path(&env),
                Some(name) => paths::output_dir()
                    .join("lint")
                    .join(format!("{name}-{env}"))
                    .join("template.yaml"),
            };
            paths::write_atomically(&path, &text)?;
            written.push(path);
        }
    }
    let bootstrap = paths::template_path("bootstrap");
    paths::write_atomically(
        &bootstrap,
        &kit_render::bootstrap(&kit_render::Sources::kit(), true)?,
    )?;
    written.push(bootstrap);
    let rendered = written.len();
    // The example stacks are linted as they are shipped.
    let examples = paths::root().join("templates").join("examples");
    let mut shipped: Vec<PathBuf> = std::fs::read_dir(&examples)
        .with_context(|| format!("cannot read {}", examples.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    shipped.sort();
    written.extend(shipped);
    status(
        "Rendered",
        format!(
            "{rendered} templates for linting (and {} example stack as shipped)",
            written.len() - rendered
        ),
    );
    Ok(written)
}

fn cfn_lint(venv: &install::Venv, templates: &[PathBuf]) -> Result<()> {
    status(
        "Linting",
        format!("{} templates with cfn-lint", templates.len()),
    );
    let output = Command::new(venv.bin("cfn-lint"))
        .args(templates.iter().map(|p| paths::shown(p)))
        .output()
        .context("cannot run cfn-lint")?;
    print_output(&output);
    // cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational.
    match output.status.code() {
        Some(0) | Some(8) => Ok(()),
        Some(code) if code & 0b110 != 0 => bail!("cfn-lint found errors or warnings"),
        _ => bail!("cfn-lint failed ({})", output.status),
    }
}

fn checkov(venv: &install::Venv, templates: &[PathBuf]) -> Result<()> {
    status(
        "Scanning",
        format!("{} templates with checkov", templates.len()),
    );
    let mut command = Command::new(venv.bin("checkov"));
    command.args([
        "--framework",
        "cloudformation",
        "--skip-download",
        "--compact",
        "--quiet",
    ]);
    for path in templates {
        command.arg("--file").arg(paths::shown(path));
    }
    let output = command.output().context("cannot run checkov")?;
    print_output(&output);
    if !output.status.success() {
        bail!("checkov found failed checks");
    }
    Ok(())
}

fn print_output(output: &std::process::Output) {
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}
