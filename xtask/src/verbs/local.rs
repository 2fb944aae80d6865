//! `cargo xtask local up|down|status`: the local environment's processes.

use std::{process::Command, time::Instant};

use anyhow::{Context, Result, bail};
use kit_base::paths;

use kit_base::package::FUNCTIONS;
use kit_base::status::{spinner, status};
use kit_local::runner::{self, Runner};
use kit_tools::install::{self, Venv};

use crate::cli::LocalAction;

pub fn run(action: LocalAction) -> Result<()> {
    match action {
        LocalAction::Up => {
            up(&install::ensure()?)?;
            Ok(())
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
                Some(runner) => {
                    anstream::println!("moto server      {}", runner.endpoint());
                    anstream::println!(
                        "router           http://127.0.0.1:{} (moto's MOTO_PORT)",
                        runner.router_port
                    );
                    match runner.lambda_pid {
                        Some(_) => anstream::println!(
                            "functions        http://127.0.0.1:{} (cargo lambda watch)",
                            runner.lambda_port
                        ),
                        None => {
                            anstream::println!("functions        not started (deploy starts them)")
                        }
                    }
                    anstream::println!("review pages     {}", runner.review_base_url());
                    anstream::println!(
                        "logs             {}",
                        paths::shown(&kit_base::local::dir()).display()
                    );
                }
            }
            Ok(())
        }
    }
}

/// The running runner, or a freshly started one.
pub fn up(venv: &Venv) -> Result<Runner> {
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let (runner, started) = Runner::up(venv, &xtask)?;
    if started {
        status(
            "Started",
            format!(
                "moto server on {} and the router on port {}",
                runner.endpoint(),
                runner.router_port
            ),
        );
    }
    Ok(runner)
}

/// Compiles the functions as `cargo lambda watch` will run them, so that the first approval does
/// not wait for a compile.
pub fn compile_functions() -> Result<()> {
    let started = Instant::now();
    let progress = spinner(
        "Compiling",
        format!("{} (debug, for cargo lambda watch)", FUNCTIONS.join(", ")),
    );
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(paths::root())
        .args(["build", "--quiet"]);
    for function in FUNCTIONS {
        command.args(["--bin", function]);
    }
    let output = command.output().context("cannot run cargo")?;
    progress.finish_and_clear();
    if !output.status.success() {
        bail!(
            "the functions do not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    status(
        "Compiled",
        format!(
            "{} in {:.1}s",
            FUNCTIONS.join(", "),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}
