//! `cargo xtask local up|down|status`: the local environment's processes.

use anyhow::{Context, Result};
use kit_base::paths;

use kit_base::status::status;
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
                    anstream::println!("moto server      {}", runner.moto_endpoint());
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
                    match runner.review_base_url() {
                        Some(url) => anstream::println!(
                            "review pages     {url}/approvals/<link id> (API Gateway's REST proxy, emulated)"
                        ),
                        None => {
                            anstream::println!("review pages     not yet (deploy sets up the API)")
                        }
                    }
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
                runner.moto_endpoint(),
                runner.router_port
            ),
        );
    }
    Ok(runner)
}
