//! `cargo xtask build [--arch]`: the functions' release packages.

use anyhow::Result;
use kit_base::paths;

use kit_base::status::status;
use kit_config::values::Architecture;
use kit_tools::functions;
use kit_tools::install;

use crate::{cli::Global, kit};

pub fn run(global: &Global, arch: Option<Architecture>) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let arch = arch.unwrap_or(effective.lambda.architecture);
    // Before installing anything: a missing target is the user's to fix.
    let other = arch.other().as_str();
    functions::check_target(
        arch,
        &format!("build for the other architecture with --arch {other}"),
    )?;
    let venv = install::ensure()?;
    let started = std::time::Instant::now();
    let packages = functions::build(&venv, arch, &effective.functions())?;
    for asset in &packages {
        let path = functions::zip_path(arch, &asset.function);
        status(
            "Packaged",
            format!(
                "{} → {} ({}, {})",
                asset.function,
                paths::shown(&path).display(),
                super::deploy::bytes(asset.zip.len() as u64),
                asset.key("…").trim_start_matches("…/")
            ),
        );
    }
    status(
        "Finished",
        format!(
            "{} for {} in {:.1}s",
            packages.len(),
            arch.as_str(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}
