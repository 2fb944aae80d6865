//! `cargo xtask local up|down|status`: the local environment's processes.

use anyhow::{Context, Result};
use kit_base::paths;

use kit_base::status::status;
use kit_local::runner::{self, Runner};
use kit_tools::install::{self, Venv};

use crate::cli::LocalAction;

pub fn run(action: LocalAction) -> Result<()> {
    match action {
        LocalAction::Up { faults, instances } => {
            // A spec that does not parse stops before anything starts.
            let faults = kit_local::faults::parse_spec(faults.as_deref().unwrap_or(""))
                .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
            let runner = up_with(&install::ensure()?, instances.map(usize::from))?;
            arm(&runner, &faults)
        }
        LocalAction::Down => {
            let stopped = runner::down()?;
            if stopped.is_empty() {
                status("Stopped", "nothing: the local environment was not running");
            } else {
                status("Stopped", stopped.join(", "));
            }
            Ok(())
        }
        LocalAction::Status => {
            match Runner::find() {
                None => anstream::println!(
                    "not running (`cargo xtask deploy --env local --email you@example.com` starts it)"
                ),
                Some(runner) => print_status(&runner),
            }
            Ok(())
        }
    }
}

/// What `runner` runs, and where.
fn print_status(runner: &Runner) {
    anstream::println!("moto server      {}", runner.moto_endpoint());
    anstream::println!(
        "router           http://127.0.0.1:{} (moto's MOTO_PORT)",
        runner.router_port
    );
    anstream::println!(
        "instances        {} of each function, at most",
        runner.instances
    );
    let stacks = kit_local::stacks::all(&kit_base::local::dir());
    if stacks.is_empty() {
        anstream::println!("stacks           none yet (a deploy serves its stack)");
    }
    for served in stacks {
        anstream::println!("stack            {}", served.stack);
        anstream::println!(
            "  functions      {} (cargo lambda watch)",
            served.lambda_endpoint()
        );
        anstream::println!(
            "  review pages   {}/approvals/<link id> (API Gateway's REST proxy, emulated)",
            served.review_base_url()
        );
    }
    anstream::println!(
        "logs             {}",
        paths::shown(&kit_base::local::dir()).display()
    );
}

/// Disarms the router's faults, then arms `faults`.
fn arm(runner: &Runner, faults: &[kit_local::faults::Fault]) -> Result<()> {
    let url = format!("{}{}", runner.endpoint(), kit_local::faults::PATH);
    let agent = ureq::Agent::new_with_defaults();
    agent
        .delete(&url)
        .call()
        .context("the router did not disarm its faults")?;
    for fault in faults {
        let body = serde_json::to_string(fault)?;
        agent
            .post(&url)
            .send(body)
            .context("the router did not arm a fault")?;
        let operation = if fault.operation.is_empty() {
            "every call"
        } else {
            &fault.operation
        };
        let rate = fault.rate.unwrap_or(1.0) * 100.0;
        let kind = serde_json::to_value(fault.kind)?;
        let kind = kind.as_str().unwrap_or_default();
        status(
            "Armed",
            format!("{kind} of {} ({operation}) at {rate}%", fault.service),
        );
    }
    Ok(())
}

/// The running runner, or a freshly started one.
pub fn up(venv: &Venv) -> Result<Runner> {
    up_with(venv, None)
}

/// The running runner (whatever its instances: a runner in use is never restarted from here,
/// and `instances` is said to differ), or one freshly started with `instances` of each function
/// (by default [`runner::DEFAULT_INSTANCES`]).
pub fn up_with(venv: &Venv, instances: Option<usize>) -> Result<Runner> {
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let asked = instances
        .unwrap_or(runner::DEFAULT_INSTANCES)
        .clamp(1, runner::MAX_INSTANCES);
    let (runner, started) = Runner::up(venv, &xtask, asked)?;
    if started {
        status(
            "Started",
            format!(
                "moto server on {} and the router on port {}",
                runner.moto_endpoint(),
                runner.router_port
            ),
        );
    } else if instances.is_some_and(|n| n != runner.instances) {
        kit_base::status::warning(format!(
            "the local environment runs on with {} instances of each function, as it was \
             started: `cargo xtask local down` first for {asked}",
            runner.instances
        ));
    }
    Ok(runner)
}
