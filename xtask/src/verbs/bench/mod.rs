//! `cargo xtask bench`: the kit's numbers, each suite on its own. Benchmarks report; they never
//! assert a time.

mod cold_start;
mod deploy;
mod load;
mod render;
mod runtime_api;

use anyhow::{Context, Result, bail};

use crate::{cli::Global, kit, status::status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Rendering each environment's template
    Render,
    /// The release functions: zip size and cold start, next to a Python + boto3 handler
    Functions,
    /// A deploy with nothing changed, against a moto server (not in the default set)
    Deploy,
    /// Concurrent approvals on the local environment (`--env local`; not in the default set)
    Load,
}

pub fn run(global: &Global, suites: &[Suite], iterations: u32) -> Result<()> {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    let all = [Suite::Render, Suite::Functions];
    let suites = if suites.is_empty() { &all[..] } else { suites };
    for suite in suites {
        match suite {
            Suite::Render => render::run(global, iterations)?,
            Suite::Functions => cold_start::run(iterations.clamp(1, 50))?,
            Suite::Deploy => deploy::run(iterations.clamp(1, 20))?,
            Suite::Load => load::run(global, iterations.clamp(1, 1000) as usize)?,
        }
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

/// Min, median and p95 of sorted samples.
pub fn quantiles<T: Copy>(sorted: &[T]) -> (T, T, T) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (sorted[0], at(0.5), at(0.95))
}
