//! `cargo xtask`: the hitl kit's whole interface, on top of the kit's library crates (see
//! ARCHITECTURE.md for the map): the command line ([`cli`]) and one module per verb
//! ([`verbs`]).

mod cli;
mod kit;
mod runtime;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match verbs::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            kit_base::status::error(format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}
