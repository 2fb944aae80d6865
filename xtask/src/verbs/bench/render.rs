//! How long rendering takes, per environment.

use anyhow::Result;

use crate::{cli::Global, kit, render, status::status};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
    let config = kit::load_config(global)?;
    status(
        "Benchmarking",
        format!(
            "render, {iterations} runs per environment ({} build of xtask)",
            super::profile()
        ),
    );
    super::row_heading("environment");
    for env in config.environment_names() {
        let effective = config.resolve(&env, &kit::overrides(global, &[]))?;
        let times = super::sample(iterations, || render::stack(&kit::sources(), &effective))?;
        super::row(&env, &times);
    }
    Ok(())
}
