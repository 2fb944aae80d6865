//! The local runner (see docs/local.md): moto server, the router on moto's `MOTO_PORT`, the durable
//! execution emulator (`dex-local-runner`, which moto lacks) and `cargo lambda watch`, on free
//! loopback ports, started from the tools venv and recorded in a
//! state file so that later commands reuse them and `local down` stops them by PID.

use std::{
    collections::BTreeMap,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use kit_base::{
    local::dir,
    package::{FUNCTIONS, dev_features},
    paths,
};
use kit_tools::install::Venv;

use crate::process;

/// Instances per function in `cargo lambda watch`, and calls the router lets through at once,
/// unless the runner is started with another count (`local up --instances`).
pub const DEFAULT_INSTANCES: usize = 8;

/// The most instances per function a runner takes: each is a process of its own.
pub const MAX_INSTANCES: usize = 64;

/// What is running, as recorded in `<output dir>/local/runner.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Runner {
    pub moto_port: u16,
    pub router_port: u16,
    /// `dex-local-runner`: the durable execution APIs, behind the router.
    #[serde(default)]
    pub dex_port: u16,
    pub moto_pid: u32,
    /// The moto that serves DynamoDB's items ([`crate::items`]).
    #[serde(default)]
    pub items_port: u16,
    #[serde(default)]
    pub items_pid: u32,
    pub router_pid: u32,
    #[serde(default)]
    pub dex_pid: u32,
    /// The OpenID Connect provider sign-in's tests sign in with (`oidc_provider.py`).
    #[serde(default)]
    pub oidc_port: u16,
    #[serde(default)]
    pub oidc_pid: u32,
    /// The one `cargo lambda watch` of a runner recorded before each stack had its own
    /// ([`crate::stacks`]): stopped by `local down`.
    #[serde(default, skip_serializing)]
    pub lambda_pid: Option<u32>,
    /// How long the functions' role sessions last (`HITL_LOCAL_SESSION_SECONDS` when the
    /// runner started).
    #[serde(default = "default_session_seconds")]
    pub session_seconds: u64,
    /// Instances per function in each stack's `cargo lambda watch`, and calls of a function the
    /// router lets through at once.
    #[serde(default = "default_instances")]
    pub instances: usize,
}

fn default_session_seconds() -> u64 {
    crate::sessions::DEFAULT_LIFETIME_SECS
}

fn default_instances() -> usize {
    DEFAULT_INSTANCES
}

fn state_path() -> PathBuf {
    dir().join("runner.json")
}

/// Stops everything the state file names and removes it. Returns what was stopped.
pub fn down() -> Result<Vec<&'static str>> {
    down_at(&dir())
}

impl Runner {
    /// The endpoint for the kit's own AWS clients: the router, which passes their calls to moto
    /// and refuses what AWS would refuse and moto takes (see `router::refused_by_aws`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.router_port)
    }

    /// moto itself.
    pub fn moto_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto_port)
    }

    /// The endpoint the functions use: the router, which passes their calls to moto one
    /// DynamoDB write at a time (see `router`).
    pub fn functions_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.router_port)
    }

    /// The OpenID Connect provider's issuer (its discovery document says so: no trailing slash,
    /// and always this host, since it names itself after the `Host` it is asked on).
    pub fn oidc_issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.oidc_port)
    }

    /// The review API's stage URL of the deployed stack `stack`; `None` before its deploy.
    pub fn review_base_url(&self, stack: &str) -> Option<String> {
        crate::stacks::load(&dir(), stack).map(|served| served.review_base_url())
    }

    /// The stack `stack` served with its review API `api_id` at `stage`, on a router port of
    /// its own (the one it had, on a deploy again): asked of the router, which listens on it
    /// before it answers. Its functions are [`Runner::serve_functions`]'.
    pub fn serve_api(
        &self,
        stack: &str,
        api_id: &str,
        stage: &str,
    ) -> Result<crate::stacks::Served> {
        let url = format!("{}{}{stack}", self.endpoint(), crate::gateway::PATH);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let answer: serde_json::Value = agent
            .post(&url)
            .send_empty()
            .and_then(|mut a| a.body_mut().read_to_string())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .with_context(|| {
                format!(
                    "the router did not serve {stack}'s review API (a local environment started \
                     by an older kit? `cargo xtask local down`, then deploy again)"
                )
            })?;
        let api_port = answer["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("the router answered {answer} for {stack}'s review API"))?;
        let served = match crate::stacks::load(&dir(), stack) {
            Some(served) => crate::stacks::Served {
                api_id: api_id.to_owned(),
                stage: stage.to_owned(),
                api_port,
                ..served
            },
            None => crate::stacks::Served {
                stack: stack.to_owned(),
                api_id: api_id.to_owned(),
                stage: stage.to_owned(),
                api_port,
                lambda_port: free_ports::<1>()?[0],
                lambda_pid: None,
                env: BTreeMap::new(),
                timeouts: BTreeMap::new(),
            },
        };
        served.save(&dir())?;
        Ok(served)
    }

    /// The recorded runner, if its moto and router still answer.
    pub fn find() -> Option<Runner> {
        let text = std::fs::read_to_string(state_path()).ok()?;
        let runner: Runner = serde_json::from_str(&text).ok()?;
        let healthy = runner.items_pid != 0
            && process::alive(runner.moto_pid)
            && process::alive(runner.items_pid)
            && process::alive(runner.router_pid)
            && answers(runner.moto_port)
            && answers(runner.items_port)
            && answers(runner.router_port)
            && answers(runner.dex_port)
            && answers(runner.oidc_port);
        healthy.then_some(runner)
    }

    /// The running runner, or a new one running `instances` of each function: moto with
    /// execution of state machines on, and the router.
    pub fn up(venv: &Venv, xtask: &Path, instances: usize) -> Result<(Runner, bool)> {
        if let Some(runner) = Self::find() {
            return Ok((runner, false));
        }
        // Running, but slow to answer (its processes busy with suites side by side): never
        // stopped from here under what uses it.
        // (One recorded before DynamoDB's items had a moto of their own is stopped and started
        // anew.)
        if let Some(recorded) = recorded_at(&dir()).filter(|r| {
            r.items_pid != 0 && process::alive(r.moto_pid) && process::alive(r.router_pid)
        }) {
            return Self::answering(recorded);
        }
        down()?; // whatever is left of a broken one
        std::fs::create_dir_all(dir())?;
        let [moto_port, items_port, router_port, dex_port, oidc_port] = free_ports()?;
        let session_seconds = std::env::var("HITL_LOCAL_SESSION_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(crate::sessions::DEFAULT_LIFETIME_SECS);
        // moto's Step Functions interpreter calls Lambda (and everything else) on
        // localhost:$MOTO_PORT: that is the router's port.
        let moto_pid = process::spawn(
            moto_server(venv)
                .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
                .env("MOTO_PORT", router_port.to_string()),
            &dir().join("moto.log"),
        )?;
        let items_pid = process::spawn(
            moto_server(venv).args(["-H", "127.0.0.1", "-p", &items_port.to_string()]),
            &dir().join("moto-items.log"),
        )?;
        let mut runner = Runner {
            moto_port,
            router_port,
            dex_port,
            moto_pid,
            items_port,
            items_pid,
            router_pid: 0,
            dex_pid: 0,
            oidc_port,
            oidc_pid: 0,
            lambda_pid: None,
            session_seconds,
            instances: instances.clamp(1, MAX_INSTANCES),
        };
        runner.save()?; // so that `local down` finds moto even if the rest fails
        runner.router_pid = runner.spawn_router(xtask)?;
        runner.save()?;
        runner.dex_pid = runner.spawn_durable_emulator()?;
        runner.save()?;
        runner.oidc_pid = spawn_oidc_provider(oidc_port)?;
        runner.save()?;
        wait_until("moto server", &dir().join("moto.log"), || {
            enable_execution(moto_port).is_ok()
        })?;
        wait_until("moto server (items)", &dir().join("moto-items.log"), || {
            answers(items_port)
        })?;
        wait_until("the router", &dir().join("router.log"), || {
            answers(router_port)
        })?;
        wait_until("dex-local-runner", &dir().join("dex.log"), || {
            answers(dex_port)
        })?;
        wait_until(
            "the OpenID Connect provider",
            &dir().join("oidc.log"),
            || answers(oidc_port),
        )?;
        Ok((runner, true))
    }

    /// Starts the router on its port, in front of moto and the durable emulator.
    fn spawn_router(&self, xtask: &Path) -> Result<u32> {
        process::spawn(
            Command::new(xtask)
                .arg("local-router")
                .args(["--listen", &format!("127.0.0.1:{}", self.router_port)])
                .args(["--moto", &self.moto_endpoint()])
                .args(["--functions", &FUNCTIONS.join(",")])
                .args(["--durable", &format!("http://127.0.0.1:{}", self.dex_port)])
                .args(["--items", &format!("http://127.0.0.1:{}", self.items_port)])
                .args(["--concurrency", &self.instances.to_string()])
                .args(["--session-seconds", &self.session_seconds.to_string()]),
            &dir().join("router.log"),
        )
    }

    /// Starts the durable execution emulator on its port. It invokes the workflow through the
    /// router, which serves it from the stack's `cargo lambda watch` as it serves every function.
    fn spawn_durable_emulator(&self) -> Result<u32> {
        let durable = kit_tools::install::ensure_durable()?;
        process::spawn(
            Command::new(durable.bin("dex-local-runner"))
                .arg("start-server")
                .args(["--host", "127.0.0.1", "--port", &self.dex_port.to_string()])
                .args(["--lambda-endpoint", &self.endpoint()])
                .env("AWS_ACCESS_KEY_ID", kit_base::local::ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", kit_base::local::SECRET_KEY)
                .env("AWS_DEFAULT_REGION", kit_base::local::REGION)
                // The region in the executions' ARNs (the emulator's own default is us-west-2).
                .env("AWS_DEX_LOCAL_RUNNER_REGION", kit_base::local::REGION)
                .env_remove("AWS_PROFILE"),
            &dir().join("dex.log"),
        )
    }

    /// `recorded`, whose processes run, once it answers (within a minute), or why not.
    fn answering(recorded: Runner) -> Result<(Runner, bool)> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(runner) = Self::find() {
                return Ok((runner, false));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        bail!(
            "the local environment runs (moto PID {}, router PID {}) but has not answered for a \
             minute; see {} (then `cargo xtask local down`)",
            recorded.moto_pid,
            recorded.router_pid,
            paths::shown(&dir()).display()
        )
    }

    /// Starts `cargo lambda watch` serving the functions of the stack `served` with `env` (AWS
    /// endpoint, table, topic…), restarting it if it runs with another environment. Returns
    /// whether it (re)started.
    pub fn serve_functions(
        &self,
        venv: &Venv,
        served: &mut crate::stacks::Served,
        env: BTreeMap<String, String>,
    ) -> Result<bool> {
        // New instances start what this deploy compiled, also in a watch that runs on.
        if cfg!(unix) {
            publish_builds()?;
        }
        if let Some(pid) = served.lambda_pid {
            if served.env == env && process::alive(pid) && answers(served.lambda_port) {
                return Ok(false);
            }
            if process::runs(pid, "cargo-lambda") {
                process::stop_group(pid, Duration::from_secs(5));
            }
            served.lambda_pid = None;
            served.save(&dir())?;
        }
        let env_file = dir().join(format!("functions-{}.env", served.stack));
        let lines: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&env_file, lines)?;
        let log = crate::stacks::function_log(&dir(), &served.stack);
        let mut command = venv.cargo_lambda();
        start_instances_as_built(&mut command, self.router_port)?;
        command
            .args(["lambda", "watch", "--ignore-changes"])
            .args(["--features", &dev_features()])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &served.lambda_port.to_string()])
            // No `--timeout`: cargo-lambda (1.9.2) would lay it over its runtime API too, so an
            // instance idle that long gets an empty 408 for its next invocation, dies, and is
            // never started again (the stack's later invokes wait forever). The router cuts
            // what API Gateway cuts (`gateway::INTEGRATION_TIMEOUT`).
            // Several instances per function, as Lambda runs them: concurrent clicks race for real.
            .args(["--concurrency", &self.instances.to_string()])
            .arg("--env-file")
            .arg(&env_file)
            // The user's AWS settings must not reach the functions: they talk to moto only, with
            // their roles' sessions from the router (see `crate::credentials`).
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_DEFAULT_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN");
        served.lambda_pid = Some(process::spawn(&mut command, &log)?);
        served.env = env;
        served.save(&dir())?;
        let port = served.lambda_port;
        wait_until("cargo lambda watch", &log, || answers(port))?;
        Ok(true)
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(state_path(), text)
            .with_context(|| format!("cannot write {}", state_path().display()))
    }
}

/// Gives `cargo lambda watch` a `cargo` whose `run --bin <function>` starts the function as the
/// deploy compiled it, instead of cargo checking the build (and waiting for its locks) at each
/// instance's start, and whose instances reach the Runtime API through the router on
/// `router_port` ([`crate::runtime_api`]) (`xtask/local/cargo_run_built.sh`). Without a POSIX
/// shell, cargo it is, and the router's clock starts without seeing an instance take an
/// invocation ([`crate::clock`]).
fn start_instances_as_built(command: &mut Command, router_port: u16) -> Result<()> {
    if !cfg!(unix) {
        return Ok(());
    }
    let built = dir().join("functions");
    const SHIM: &str = include_str!("../cargo_run_built.sh");
    let shim = dir().join("cargo_run_built.sh");
    if std::fs::read_to_string(&shim).ok().as_deref() != Some(SHIM) {
        // Other stacks' instances may be reading it: a new file takes its place whole.
        let new = dir().join(format!("cargo_run_built.sh.{}", std::process::id()));
        std::fs::write(&new, SHIM).with_context(|| format!("cannot write {}", new.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::rename(&new, &shim)?;
    }
    command
        .env("CARGO", &shim)
        .env("HITL_CARGO", kit_base::cargo::program())
        .env("HITL_BUILT", built)
        .env(
            "HITL_RUNTIME_PROXY",
            format!("http://127.0.0.1:{router_port}{}", crate::runtime_api::PATH),
        );
    Ok(())
}

/// The functions as the deploy compiled them, copied where only the local environment writes
/// (`<output dir>/local/functions`), each copy replacing the last whole: cargo replaces
/// `target/debug/<function>` by removing it first, even when nothing changed, so an instance
/// starting from there beside another stack's deploy could find no file, or half of one.
fn publish_builds() -> Result<()> {
    let built = dir().join("functions");
    std::fs::create_dir_all(&built)?;
    let debug = paths::cargo_target_dir().join("debug");
    for function in FUNCTIONS {
        let compiled = debug.join(function);
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let Some(compiled_at) = modified(&compiled) else {
            continue;
        };
        let copy = built.join(function);
        if modified(&copy).is_some_and(|copied_at| copied_at >= compiled_at) {
            continue;
        }
        let new = built.join(format!("{function}.{}", std::process::id()));
        std::fs::copy(&compiled, &new)
            .and_then(|_| std::fs::rename(&new, &copy))
            .with_context(|| format!("cannot copy {} to {}", compiled.display(), copy.display()))?;
    }
    Ok(())
}

/// moto's server as the local environment runs it: with a role's inline and trust policies
/// updated by a stack update, as CloudFormation updates them (`xtask/local/moto_server.py`).
pub fn moto_server(venv: &kit_tools::install::Venv) -> Command {
    let launcher = paths::root()
        .join("xtask")
        .join("local")
        .join("moto_server.py");
    let mut command = Command::new(venv.bin("python"));
    command.arg(launcher);
    command
}

/// Starts the OpenID Connect provider on `port`: oidc-provider-mock made to require PKCE
/// (`xtask/local/oidc_provider.py`), a nonce on every authorization (`-n true`).
fn spawn_oidc_provider(port: u16) -> Result<u32> {
    let venv = kit_tools::install::ensure_oidc()?;
    let launcher = paths::root()
        .join("xtask")
        .join("local")
        .join("oidc_provider.py");
    process::spawn(
        Command::new(venv.bin("python")).arg(launcher).args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-n",
            "true",
        ]),
        &dir().join("oidc.log"),
    )
}

/// [`down`] for the runner whose files are in `dir`.
pub fn down_at(dir: &Path) -> Result<Vec<&'static str>> {
    let mut stopped = Vec::new();
    // Each stack's functions (whatever else is left), each tried whatever the others did.
    let stacks = crate::stacks::all(dir);
    for served in &stacks {
        if let Err(e) = crate::stacks::forget(dir, &served.stack) {
            eprintln!("warning: {e:#}");
        }
    }
    if !stacks.is_empty() {
        stopped.push("cargo lambda watch");
    }
    let state_path = dir.join("runner.json");
    let Ok(text) = std::fs::read_to_string(&state_path) else {
        return Ok(stopped);
    };
    if let Ok(runner) = serde_json::from_str::<Runner>(&text) {
        // The program each PID must still be: after a reboot a recorded PID may lead someone
        // else's process group.
        let named = [
            ("cargo lambda watch", runner.lambda_pid, "cargo-lambda"),
            ("router", Some(runner.router_pid), "local-router"),
            ("dex-local-runner", Some(runner.dex_pid), "dex-local-runner"),
            (
                "OpenID Connect provider",
                Some(runner.oidc_pid),
                "oidc_provider.py",
            ),
            ("moto server", Some(runner.moto_pid), "moto_server"),
            ("moto server (items)", Some(runner.items_pid), "moto_server"),
        ];
        for (name, pid, program) in named {
            let ours = |&p: &u32| p != 0 && process::alive(p) && process::runs(p, program);
            if let Some(pid) = pid.filter(ours) {
                process::stop_group(pid, Duration::from_secs(5));
                if !stopped.contains(&name) {
                    stopped.push(name);
                }
            }
        }
    }
    std::fs::remove_file(&state_path)?;
    Ok(stopped)
}

/// The runner recorded in `dir`, if any.
pub fn recorded_at(dir: &Path) -> Option<Runner> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("runner.json")).ok()?).ok()
}

/// Checks that nothing of `runner` and of the stacks it `served` is left: no process in any of
/// their process groups (the functions each `cargo lambda watch` ran included) and every port
/// free again.
pub fn verify_stopped(runner: &Runner, served: &[crate::stacks::Served]) -> Result<()> {
    let groups: Vec<u32> = [
        Some(runner.moto_pid),
        Some(runner.router_pid),
        Some(runner.dex_pid).filter(|&p| p != 0),
        Some(runner.oidc_pid).filter(|&p| p != 0),
        Some(runner.items_pid).filter(|&p| p != 0),
    ]
    .into_iter()
    .flatten()
    .chain(served.iter().filter_map(|s| s.lambda_pid))
    .collect();
    let left = process::members_of(&groups);
    if !left.is_empty() {
        bail!("processes of the local environment are still running: {left:?}");
    }
    let ports = [
        runner.moto_port,
        runner.router_port,
        runner.dex_port,
        runner.oidc_port,
        runner.items_port,
    ];
    let stacks = served.iter().flat_map(|s| [s.api_port, s.lambda_port]);
    for port in ports.into_iter().chain(stacks) {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!("port {port} of the local environment is still held");
        }
    }
    Ok(())
}

/// Turns on moto's execution of state machines (off by default).
fn enable_execution(moto_port: u16) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    agent
        .post(format!("http://127.0.0.1:{moto_port}/moto-api/config"))
        .content_type("application/json")
        .send(r#"{"stepfunctions":{"execute_state_machine":true}}"#)?;
    Ok(())
}

/// Whether something accepts connections on the loopback port. A port nobody listens on is
/// refused at once; one whose listener is busy (moto under the suites' load, its backlog full)
/// may take a SYN retransmission, a second or more, to accept.
fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(3),
    )
    .is_ok()
}

fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot find a free port on 127.0.0.1")?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

fn wait_until(what: &str, log: &Path, mut ready: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "{what} did not start within a minute; see {} (then `cargo xtask local down`)",
        paths::shown(log).display()
    )
}

#[cfg(all(test, unix))]
mod tests {
    use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

    const SHIM: &str = include_str!("../cargo_run_built.sh");

    fn script(path: &Path, says: &str) {
        std::fs::write(path, format!("#!/bin/sh\necho {says} \"$@\"\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// What the shim does with `args`, the functions in `built` compiled, `cargo` the real one.
    fn shim(dir: &Path, args: &[&str]) -> String {
        let shim = dir.join("shim.sh");
        std::fs::write(&shim, SHIM).unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new(&shim)
            .args(args)
            .env("HITL_CARGO", dir.join("cargo"))
            .env("HITL_BUILT", dir.join("built"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn a_runner_recorded_before_its_instances_were_recorded_runs_the_default() {
        let recorded = r#"{"moto_port":1,"router_port":2,"moto_pid":3,"router_pid":4}"#;
        let runner: super::Runner = serde_json::from_str(recorded).unwrap();
        assert_eq!(runner.instances, super::DEFAULT_INSTANCES);
        let again: super::Runner =
            serde_json::from_str(&serde_json::to_string(&runner).unwrap()).unwrap();
        assert_eq!(again, runner);
    }

    #[test]
    fn an_instance_starts_the_compiled_function_and_the_rest_goes_to_cargo() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("built")).unwrap();
        script(&dir.path().join("cargo"), "cargo");
        script(&dir.path().join("built").join("review"), "review");
        let run = |bin: &str| {
            let args = ["run", "--features", "review/workspace-hack", "--bin", bin];
            shim(dir.path(), &args)
        };
        // The compiled function, with none of cargo's arguments.
        assert_eq!(run("review"), "review");
        // Not compiled yet: cargo builds and runs it.
        assert_eq!(
            run("remind"),
            "cargo run --features review/workspace-hack --bin remind"
        );
        assert_eq!(
            shim(dir.path(), &["metadata", "--format-version", "1"]),
            "cargo metadata --format-version 1"
        );
    }

    /// An instance reaches the Runtime API through the router, and nothing of the router's
    /// reaches the function's environment.
    #[test]
    fn an_instance_reaches_the_runtime_api_through_the_router() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("built");
        std::fs::create_dir(&built).unwrap();
        let says = "#!/bin/sh\necho \"$AWS_LAMBDA_RUNTIME_API ${HITL_RUNTIME_PROXY-unset}\"\n";
        std::fs::write(built.join("review"), says).unwrap();
        let executable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(built.join("review"), executable).unwrap();
        let shim = dir.path().join("shim.sh");
        std::fs::write(&shim, SHIM).unwrap();
        let out = Command::new("sh")
            .arg(&shim)
            .args(["run", "--bin", "review"])
            .env("HITL_BUILT", &built)
            .env(
                "HITL_RUNTIME_PROXY",
                "http://127.0.0.1:7/hitl-local/runtime/",
            )
            .env("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9000/.rt/review")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            "http://127.0.0.1:7/hitl-local/runtime/127.0.0.1:9000/.rt/review unset"
        );
    }
}
