//! `cargo xtask bench`: the kit's numbers, each suite on its own. Benchmarks report; they never
//! assert a time.

mod cold_start;
mod deploy;
mod load;
mod render;
mod runtime_api;

use anyhow::Result;

use crate::cli::Global;

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

/// Runs in the build `cargo xtask` itself uses (the alias runs the dev profile): the numbers are
/// what a user waits for. The functions are measured in their release build.
pub fn run(global: &Global, suites: &[Suite], iterations: u32) -> Result<()> {
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

/// Min, median and p95 of sorted samples.
pub fn quantiles<T: Copy>(sorted: &[T]) -> (T, T, T) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (sorted[0], at(0.5), at(0.95))
}
