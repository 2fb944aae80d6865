//! One module per verb of `cargo xtask`.

mod bench;
mod render;
mod show_config;
mod test;

use anyhow::{Result, bail};

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Render { emails, all } => render::run(global, &emails, all),
        Command::Config { emails, json } => show_config::run(global, &emails, json),
        Command::Schema { write } => show_config::schema(write),
        Command::Test { lint_only } => test::run(global, lint_only),
        Command::Bench { iterations } => bench::run(global, iterations),
        Command::LocalRouter {
            listen,
            moto,
            lambda,
            functions,
        } => crate::local::router::serve(
            &listen,
            crate::local::router::Upstreams {
                moto,
                lambda,
                binaries: functions,
            },
        ),
        Command::Build => not_yet("build"),
        Command::Deploy => not_yet("deploy"),
        Command::Destroy => not_yet("destroy"),
        Command::Outputs => not_yet("outputs"),
        Command::Status => not_yet("status"),
        Command::Start => not_yet("start"),
        Command::Local => not_yet("local"),
        Command::Cdk => not_yet("cdk"),
        Command::Doctor => not_yet("doctor"),
    }
}

fn not_yet(name: &str) -> Result<()> {
    bail!(
        "`cargo xtask {name}` is not available in this version of the kit yet; `cargo xtask \
         render` writes the CloudFormation template meanwhile"
    )
}
