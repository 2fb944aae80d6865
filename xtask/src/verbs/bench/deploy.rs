//! A deploy with the stack already there and nothing changed, against a moto server started
//! here (`AWS_ENDPOINT_URL`): how long the kit takes to say "no changes", build check included.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use kit_base::paths;

use kit_base::status::status;
use kit_tools::install;

pub fn run(runs: u32) -> Result<()> {
    let venv = install::ensure()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut moto = kit_local::runner::moto_server(&venv)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start moto server")?;
    let out = paths::root().join("target").join("bench-deploy");
    let xtask = std::env::current_exe()?;
    let deploy = || {
        Command::new(&xtask)
            .current_dir(paths::root())
            .args(["--config", "xtask/tests/deploy/hitl.yaml", "--env", "dev"])
            .args(["deploy", "--yes"])
            .env("HITL_OUTPUT_DIR", &out)
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    };
    let result = (|| -> Result<Vec<Duration>> {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("moto server did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        status("Deploying", "the stack once (builds the functions)");
        let first = deploy()?;
        if !first.status.success() {
            bail!(
                "the first deploy failed: {}",
                String::from_utf8_lossy(&first.stderr)
            );
        }
        status(
            "Benchmarking",
            format!("{runs} deploys with nothing changed"),
        );
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let again = deploy()?;
            times.push(started.elapsed());
            let text = String::from_utf8_lossy(&again.stderr);
            if !again.status.success() || !text.contains("no changes") {
                bail!("a deploy with nothing changed did not say so: {text}");
            }
        }
        times.sort();
        Ok(times)
    })();
    let _ = moto.kill();
    let _ = moto.wait();
    let times = result?;
    let (min, median, p95) = super::measure::quantiles(&times);
    println!(
        "deploy, nothing changed: min {min:.2?}, median {median:.2?}, p95 {p95:.2?} (whole command, cargo-lambda's up-to-date check included)"
    );
    Ok(())
}
