//! `cargo xtask deploy`: render, build (or, locally, start the runner), upload, deploy, and print
//! the outputs.

use std::time::Instant;

use anyhow::{Context, Result};
use kit_base::paths;

use kit_aws::Aws;
use kit_base::package;
use kit_base::status::{status, warning};
use kit_config::{Effective, values::Email, values::Endpoint};
use kit_deploy::{self, stack::Applied};
use kit_local::emulation;
use kit_tools::functions;
use kit_tools::install;

use crate::{
    cli::{Global, Method},
    kit,
};

pub fn run(global: &Global, emails: &[Email], yes: bool, method: Option<Method>) -> Result<()> {
    let started = Instant::now();
    let effective = kit::effective_for_render(global, emails)?;
    let template = kit_render::stack(&kit_render::Sources::kit(), &effective)?;
    let path = paths::template_path(effective.environment.as_str());
    paths::write_atomically(&path, &template)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if effective.reviewers.is_empty() {
        warning(format!(
            "{} has no reviewers: nobody would be asked; add --email ADDR",
            effective.stack_name
        ));
    }
    let runtime = crate::runtime::new()?;
    let outcome = match effective.endpoint {
        Endpoint::Local => {
            if method == Some(Method::ChangeSet) {
                // moto drops the outputs of stacks made from change sets.
                status("Using", "the direct method for the local environment");
            }
            // The functions compile while the tools install and the local environment starts
            // (the installers without their spinners: one spinner at a time).
            let compiling = std::thread::spawn(functions::dev_build);
            let started = install::quietly(|| {
                let venv = install::ensure()?;
                anyhow::Ok((super::local::up(&venv)?, venv))
            });
            let compiled = compiling
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the functions' build panicked")));
            let (runner, venv) = started?;
            compiled?;
            let aws = runtime.block_on(Aws::connect(&effective, Some(runner.endpoint())))?;
            let packages = package::local_placeholders(&effective.functions())?;
            // The emulator's stacks are disposable: recreating one needs no confirmation.
            let mut outcome = runtime.block_on(kit_deploy::direct(
                &aws, &effective, &template, &packages, true,
            ))?;
            runtime.block_on(emulation::complete(
                &aws,
                &runner,
                &venv,
                &effective.stack_name,
                &template,
                &mut outcome.outputs,
            ))?;
            // moto has no API Gateway data plane: the router serves the review API.
            if let Some(url) = runner.review_base_url(&effective.stack_name) {
                emulation::served_here(&mut outcome.outputs, &url);
            }
            kit_deploy::save_outputs(&effective, &outcome.outputs)?;
            outcome
        }
        Endpoint::Aws => {
            // Before installing anything: a missing target is the user's to fix.
            let arch = effective.lambda.architecture;
            functions::check_target(
                arch,
                &format!(
                    "deploy {} for the other architecture: `lambda.architecture: {}` in the config",
                    effective.environment,
                    arch.other().as_str()
                ),
            )?;
            let venv = install::ensure()?;
            let packages =
                functions::build(&venv, effective.lambda.architecture, &effective.functions())?;
            let aws = runtime.block_on(Aws::connect(&effective, None))?;
            match method.unwrap_or(Method::ChangeSet) {
                Method::Direct => runtime.block_on(kit_deploy::direct(
                    &aws, &effective, &template, &packages, yes,
                ))?,
                Method::ChangeSet => runtime.block_on(kit_deploy::change_set::deploy(
                    &aws, &effective, &template, &packages, yes,
                ))?,
            }
        }
    };
    report(&effective, &outcome, started);
    Ok(())
}

fn report(effective: &Effective, outcome: &kit_deploy::Outcome, started: Instant) {
    let what = match outcome.applied {
        Applied::Created => "created",
        Applied::Updated => "updated",
        Applied::Unchanged => "no changes",
    };
    status(
        "Deployed",
        format!(
            "{} ({what}, {} uploaded) in {:.1}s",
            effective.stack_name,
            bytes(outcome.uploaded),
            started.elapsed().as_secs_f64()
        ),
    );
    for (key, value) in &outcome.outputs {
        anstream::println!("{key}: {value}");
    }
    status(
        "Saved",
        paths::shown(&kit_deploy::outputs_path(effective)).display(),
    );
    let env = effective.environment.as_str();
    if effective.endpoint == kit_config::values::Endpoint::Aws
        && outcome.applied == Applied::Created
    {
        anstream::eprintln!(
            "\nEach reviewer gets an email from AWS Notifications asking to confirm the subscription. \
             Rather than clicking its link, run `cargo xtask confirm --env {env} '<link>'` with it: \
             then the one-click unsubscribe link in every approval email (which link scanners \
             follow) no longer works. `cargo xtask status --env {env}` shows who is confirmed."
        );
    }
    anstream::eprintln!(
        "\nNext: cargo xtask start --env {env} --event events/expense.json   (then open the link it prints)"
    );
}

pub fn bytes(n: u64) -> String {
    match n {
        0 => "0 B".to_owned(),
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}
