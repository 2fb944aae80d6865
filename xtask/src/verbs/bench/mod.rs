//! `cargo xtask bench`: the kit's numbers, each suite on its own. Benchmarks report; they never
//! assert a time.

mod cdk;
mod cold_start;
mod deploy;
mod fresh;
mod load;
mod measure;
mod render;
mod runtime_api;

use anyhow::Result;

use crate::cli::{Global, Suite};

/// Runs in the build `cargo xtask` itself uses (the alias runs the dev profile): the numbers are
/// what a user waits for. The functions are measured in their release build.
pub fn run(
    global: &Global,
    suites: &[Suite],
    iterations: u32,
    faults: Option<&str>,
    rate: Option<f64>,
) -> Result<()> {
    if let Some(rate) = rate.filter(|_| !suites.contains(&Suite::Load)) {
        anyhow::bail!("--rate: only the load suite takes a rate: `bench load --rate {rate}`");
    }
    if let Some(spec) = faults {
        if !suites.contains(&Suite::Chaos) {
            anyhow::bail!(
                "--faults: only the chaos suite takes faults: `bench chaos --faults {spec}`"
            );
        }
        crate::verbs::test::chaos_faults(spec)?;
    }
    let all = [Suite::Render, Suite::Cdk, Suite::Functions];
    let suites = if suites.is_empty() { &all[..] } else { suites };
    for suite in suites {
        match suite {
            Suite::Render => render::run(global, iterations)?,
            Suite::Cdk => cdk::run(global, iterations)?,
            Suite::Functions => cold_start::run(iterations.clamp(1, 50))?,
            Suite::Deploy => deploy::run(iterations.clamp(1, 20))?,
            Suite::Load => {
                let rate = rate.unwrap_or(load::DEFAULT_RATE);
                load::run(global, iterations.clamp(1, 1000) as usize, rate)?
            }
            Suite::Fresh => fresh::run()?,
            // At most 100 on each orchestrator: all at once, on the local environment's 30-second
            // approvals, more would expire before their reviewers press.
            Suite::Chaos => {
                crate::verbs::test::chaos(iterations.clamp(4, 100) as usize / 4, faults)?
            }
        }
    }
    Ok(())
}
