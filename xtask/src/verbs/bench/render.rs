//! How long rendering takes, per environment.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::{cli::Global, kit, render, status::status};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
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
        let (min, median, p95) = super::quantiles(&times);
        println!(
            "{env:<12} {:>10} {:>10} {:>10}",
            format!("{min:.2?}"),
            format!("{median:.2?}"),
            format!("{p95:.2?}")
        );
    }
    Ok(())
}
