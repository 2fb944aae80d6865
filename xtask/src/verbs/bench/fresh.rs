//! `cargo xtask bench fresh`: the time to a first review link, as a new user meets it. The kit is
//! cloned (committed HEAD) into a temporary directory with an empty `target/` (cargo's registry
//! and pip's download cache stay as this machine has them), then the README's two first
//! commands run there: `deploy --env local`, then `start`, which prints the reviewer's link.
//! Every line they print is shown with the seconds since the clone, so the phases can be read
//! off; the clone is stopped (`local down`) and removed afterwards, whatever happened.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use kit_base::{paths, status::status};

pub fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hitl-fresh-{}", std::process::id()));
    let clone = dir.join("hitl");
    std::fs::create_dir_all(&dir)?;
    let result = measure(&clone);
    if clone.join("target").is_dir() {
        let _ = cargo_xtask(&clone, &["local", "down"]).output();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (deploy, start) = result?;
    println!(
        "fresh clone to a review link: deploy --env local {:.0?}, start {:.0?}, in all {:.0?}",
        deploy,
        start,
        deploy + start
    );
    Ok(())
}

fn measure(clone: &Path) -> Result<(Duration, Duration)> {
    let root = paths::root();
    let git = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&root)
        .arg(clone)
        .status()
        .context("cannot run git")?;
    if !git.success() {
        bail!("git clone of {} failed", root.display());
    }
    status("Cloned", format!("the kit's HEAD into {}", clone.display()));
    let started = Instant::now();
    timed(
        cargo_xtask(
            clone,
            &["deploy", "--env", "local", "--email", "you@example.com"],
        ),
        started,
        "deploy",
    )?;
    let deployed = started.elapsed();
    let output = timed(
        cargo_xtask(
            clone,
            &["start", "--env", "local", "--event", "events/expense.json"],
        ),
        started,
        "start",
    )?;
    if !output.contains("/approvals/") {
        bail!("start printed no review link");
    }
    Ok((deployed, started.elapsed() - deployed))
}

/// `cargo xtask ARGS` in `dir`, with nothing of this build's environment.
fn cargo_xtask(dir: &Path, args: &[&str]) -> Command {
    let mut command = kit_base::cargo::command();
    command.current_dir(dir).arg("xtask").args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HITL_") {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `command`, echoing each line of its output with the seconds since `since`; returns what
/// it printed.
fn timed(mut command: Command, since: Instant, what: &str) -> Result<String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let stdout = child.stdout.take().context("stdout")?;
    let stderr = child.stderr.take().context("stderr")?;
    let echo = move |stream: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                eprintln!("[{:>6.1}s] {line}", since.elapsed().as_secs_f64());
                all.push_str(&line);
                all.push('\n');
            }
            all
        })
    };
    let out = echo(Box::new(stdout));
    let err = echo(Box::new(stderr));
    let finished = child.wait()?;
    let text = out.join().unwrap_or_default() + &err.join().unwrap_or_default();
    if !finished.success() {
        bail!("{what} failed ({finished})");
    }
    Ok(text)
}
