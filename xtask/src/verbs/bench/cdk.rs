//! How long converting a rendered template into a CDK app takes (cdk-from-cfn, in process),
//! per environment and language. The files are not written: this is the conversion alone.

use anyhow::Result;

use crate::{
    cdk::{self, Lang, Refusal},
    cli::Global,
    kit, render,
    status::status,
};

pub fn run(global: &Global, iterations: u32) -> Result<()> {
    let config = kit::load_config(global)?;
    status(
        "Benchmarking",
        format!(
            "cdk conversion, {iterations} runs per environment and language ({} build of xtask)",
            super::profile()
        ),
    );
    println!(
        "{:<24} {:>10} {:>10} {:>10}",
        "environment, language", "min", "median", "p95"
    );
    for env in config.environment_names() {
        let effective = config.resolve(&env, &kit::overrides(global, &[]))?;
        let template = render::stack(&kit::sources(), &effective)?;
        for lang in [Lang::Typescript, Lang::Python] {
            let times = super::sample(iterations, || {
                cdk::convert(&template, lang).map_err(|refusal| match refusal {
                    Refusal::Inexpressible(reasons) => anyhow::anyhow!(reasons.join("; ")),
                    Refusal::Failed(reason) => anyhow::anyhow!(reason),
                })
            })?;
            super::row(&format!("{env}, {lang:?}").to_lowercase(), &times);
        }
    }
    Ok(())
}
