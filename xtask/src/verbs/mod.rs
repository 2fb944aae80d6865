//! One module per verb of `cargo xtask`.

pub mod bench;
mod build;
mod cdk;
pub mod deploy;
mod destroy;
mod docs;
mod doctor;
mod e2e_aws;
mod least_privilege;
pub mod local;
pub mod outputs;
mod render;
mod run_command;
mod show_config;
mod slack;
mod start;
mod status;
mod subscriptions;
mod test;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Render { emails, all } => render::run(global, &emails, all),
        Command::Config { emails, json } => show_config::run(global, &emails, json),
        Command::Schema { write } => show_config::schema(write),
        Command::Docs { write } => docs::run(write),
        Command::Test {
            lint_only,
            aws,
            faults,
        } => test::run(global, lint_only, aws, faults.as_deref()),
        Command::Bench {
            suites,
            iterations,
            faults,
            rate,
        } => bench::run(global, &suites, iterations, faults.as_deref(), rate),
        Command::LocalRouter {
            listen,
            moto,
            functions,
            durable,
            items,
            concurrency,
            session_seconds,
        } => kit_local::router::serve(
            &listen,
            kit_local::shared::Upstreams {
                moto,
                durable,
                items,
                binaries: functions,
                concurrency,
                session_seconds,
            },
        ),
        Command::Build { arch } => build::run(global, arch),
        Command::Deploy {
            emails,
            yes,
            method,
        } => deploy::run(global, &emails, yes, method),
        Command::Destroy { yes, all } => destroy::run(global, yes, all),
        Command::Outputs { json } => outputs::run(global, json),
        Command::Status { json } => status::run(global, json),
        Command::Confirm { link } => subscriptions::confirm(global, &link),
        Command::Start { event, name } => start::run(global, &event, name),
        Command::Local { action } => local::run(action),
        Command::Slack {
            action: crate::cli::SlackAction::Manifest,
        } => slack::manifest(global),
        Command::Cdk {
            lang,
            out,
            emails,
            verify,
            no_build,
            api_gateway_account,
        } => cdk::run(
            global,
            lang,
            &out,
            &emails,
            cdk::Options {
                verify,
                build: !no_build,
                account_logging: api_gateway_account,
            },
        ),
        Command::Doctor => doctor::run(global),
    }
}
