//! `cargo xtask`: the hitl kit's whole interface. See ARCHITECTURE.md for the map.

mod aws;
mod build;
mod cdk;
mod cli;
mod config;
mod deploy;
mod diagnostic;
mod kit;
mod local;
mod render;
mod status;
mod tools;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match verbs::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            status::error(format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}
