//! `cargo xtask outputs [--json]`: the deployed stack's outputs, read from CloudFormation.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use kit_aws::Aws;
use kit_config::{Effective, values::Endpoint};
use kit_deploy::{self, stack};
use kit_local::runner::Runner;

use crate::{cli::Global, kit};

pub fn run(global: &Global, json: bool) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    let outputs = runtime.block_on(read(&effective))?;
    kit_deploy::save_outputs(&effective, &outputs)?;
    if json {
        anstream::println!("{}", serde_json::to_string_pretty(&outputs)?);
    } else {
        for (key, value) in &outputs {
            anstream::println!("{key}: {value}");
        }
    }
    Ok(())
}

/// Connects to where the environment lives (the local runner must be up for `endpoint: local`).
pub async fn connect(effective: &Effective) -> Result<Aws> {
    let local = match effective.endpoint {
        Endpoint::Local => Some(Runner::find().ok_or_else(|| {
            anyhow::anyhow!(
                "the local environment is not running: `cargo xtask deploy --env {}` starts it",
                effective.environment
            )
        })?),
        Endpoint::Aws => None,
    };
    Aws::connect(effective, local.as_ref().map(Runner::endpoint)).await
}

/// The stack's outputs; locally, the review pages' URL is cargo lambda watch's.
pub async fn read(effective: &Effective) -> Result<BTreeMap<String, String>> {
    let aws = connect(effective).await?;
    let Some(deployed) = stack::find(&aws.cloudformation(), &effective.stack_name).await? else {
        bail!(
            "{} is not deployed in {}: `cargo xtask deploy --env {}` first",
            effective.stack_name,
            aws.region(),
            effective.environment
        );
    };
    let mut outputs: BTreeMap<String, String> = deployed.outputs.into_iter().collect();
    if aws.local.is_some() {
        // moto drops the outputs naming an alias, which the local environment makes itself.
        let template =
            stack::deployed_template(&aws.cloudformation(), &effective.stack_name).await?;
        outputs.extend(kit_local::emulation::existing_alias_outputs(&aws, &template).await?);
    }
    let local_url = aws
        .local
        .as_ref()
        .and_then(|_| Runner::find()?.review_base_url(&effective.stack_name));
    if let Some(url) = local_url {
        kit_local::emulation::served_here(&mut outputs, &url);
    }
    Ok(outputs)
}
