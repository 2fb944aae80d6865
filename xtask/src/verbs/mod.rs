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
        Command::Build
        | Command::Deploy
        | Command::Destroy
        | Command::Outputs
        | Command::Status
        | Command::Start
        | Command::Local
        | Command::Cdk
        | Command::Doctor => not_yet(&cli.command),
    }
}

fn not_yet(command: &Command) -> Result<()> {
    let name = match command {
        Command::Build => "build",
        Command::Deploy => "deploy",
        Command::Destroy => "destroy",
        Command::Outputs => "outputs",
        Command::Status => "status",
        Command::Start => "start",
        Command::Local => "local",
        Command::Cdk => "cdk",
        _ => "doctor",
    };
    bail!(
        "`cargo xtask {name}` is not available in this version of the kit yet; `cargo xtask \
         render` writes the CloudFormation template meanwhile"
    )
}
