//! Running a child process whose output goes to the terminal as it comes.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `command` with inherited output; an error unless it exits successfully.
pub fn run_command(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    if !status.success() {
        bail!("exited with {status}");
    }
    Ok(())
}
