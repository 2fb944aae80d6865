//! `cargo xtask bench`: how long rendering takes, per environment.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cli::Global, kit, render, status::status};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    let config = kit::load_config(global)?;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    status(
        "Benchmarking",
        format!("render, {iterations} runs per environment ({profile} build of xtask)"),
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10}",
        "environment", "min", "median", "p95"
    );
    for env in config.environment_names() {
        let effective = config.resolve(&env, &kit::overrides(global, &[]))?;
        // Warm the file cache and the allocator once.
        render::stack(&kit::sources(), &effective)?;
        let mut times: Vec<Duration> = (0..iterations.max(1))
            .map(|_| {
                let start = Instant::now();
                let rendered = render::stack(&kit::sources(), &effective);
                let elapsed = start.elapsed();
                std::hint::black_box(rendered).map(|_| elapsed)
            })
            .collect::<Result<_, _>>()?;
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{env:<12} {:>10} {:>10} {:>10}",
            format!("{:.2?}", times[0]),
            format!("{:.2?}", at(0.5)),
            format!("{:.2?}", at(0.95))
        );
    }
    Ok(())
}

/// Measures the release build, as users' deploys will run: builds it and runs it with the same
/// arguments.
fn rerun_in_release() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    status("Building", "xtask in release mode for the benchmark");
    let status = std::process::Command::new(cargo)
        .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .current_dir(kit::root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("the release benchmark failed ({status})");
    }
    Ok(())
}
