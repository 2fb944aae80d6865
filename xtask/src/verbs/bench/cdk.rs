//! How long converting a rendered template into a CDK app takes (cdk-from-cfn, in process),
//! per environment and language. The files are not written: this is the conversion alone.

use anyhow::Result;

use kit_base::status::status;
use kit_cdk::{self, Lang};

use crate::{cli::Global, kit};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
    let config = kit::load_config(global)?;
    status(
        "Benchmarking",
        format!(
            "cdk conversion, {iterations} runs per environment and language ({} build of xtask)",
            super::measure::profile()
        ),
    );
    super::measure::row_heading("environment, language");
    let bootstrap = kit_render::bootstrap(&kit_render::Sources::kit(), true)?;
    for env in config.environment_names() {
        let effective = config.resolve(&env, &kit::overrides(global, &[]))?;
        let template = kit_render::stack(&kit_render::Sources::kit(), &effective)?;
        for lang in [Lang::Typescript, Lang::Python] {
            let times = super::measure::sample(iterations, || {
                kit_cdk::convert(&template, Some(&bootstrap), lang)
            })?;
            super::measure::row(&format!("{env}, {}", lang.name()), &times);
        }
    }
    Ok(())
}
