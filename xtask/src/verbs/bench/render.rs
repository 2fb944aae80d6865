//! How long rendering takes, per environment.

use anyhow::Result;

use kit_base::status::status;

use crate::{cli::Global, kit};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
    let config = kit::load_config(global)?;
    status(
        "Benchmarking",
        format!(
            "render, {iterations} runs per environment ({} build of xtask)",
            super::measure::profile()
        ),
    );
    super::measure::row_heading("environment");
    for env in config.environment_names() {
        let effective = config.resolve(&env, &kit::overrides(global, &[]))?;
        let times = super::measure::sample(iterations, || {
            kit_render::stack(&kit_render::Sources::kit(), &effective)
        })?;
        super::measure::row(&env, &times);
    }
    Ok(())
}
