//! Release builds of the functions through `cargo lambda build` (zig as the cross linker, from
//! the tools venv), packaged as deterministic zips.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use kit_base::{
    package::{self, Asset, FUNCTIONS},
    paths,
    status::spinner,
};
use kit_config::values::Architecture;

use crate::install::Venv;

/// Whether the Rust standard library for `target` is installed.
pub fn target_installed(target: &str) -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    sysroot
        .join("lib")
        .join("rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// Refuses early, with the command that fixes it, when the target is missing. cargo-lambda would
/// otherwise try to install it from the network.
pub fn check_target(arch: Architecture) -> Result<()> {
    let target = arch.rust_target();
    if !target_installed(target) {
        bail!(
            "the Rust target {target} (for {} functions) is not installed: run `rustup target add \
             {target}`, or build for the other architecture with --arch",
            arch.as_str()
        );
    }
    Ok(())
}

/// Where `cargo lambda build` leaves the binaries of an architecture.
fn lambda_dir(arch: Architecture) -> PathBuf {
    paths::root()
        .join("target")
        .join("lambda")
        .join(arch.as_str())
}

/// The Cargo profile of the packages: `release`, or `$HITL_LAMBDA_PROFILE` (the kit's tests
/// use a quicker one).
pub fn profile() -> String {
    std::env::var("HITL_LAMBDA_PROFILE").unwrap_or_else(|_| "release".to_owned())
}

/// Builds every function for `arch` and packages it.
pub fn build(venv: &Venv, arch: Architecture) -> Result<Vec<Asset>> {
    check_target(arch)?;
    let profile = profile();
    let out_dir = lambda_dir(arch);
    let log = paths::root()
        .join("target")
        .join("lambda")
        .join("build.log");
    std::fs::create_dir_all(&out_dir)?;
    let progress = spinner(
        "Compiling",
        format!(
            "{} for {} ({profile}, cargo lambda build)",
            FUNCTIONS.join(", "),
            arch.as_str()
        ),
    );
    let mut command = venv.cargo_lambda();
    command
        .args([
            "lambda",
            "build",
            "--profile",
            &profile,
            "--skip-target-check",
        ])
        .args(["--target", arch.rust_target()])
        .arg("--lambda-dir")
        .arg(&out_dir);
    for function in FUNCTIONS {
        command.args(["--bin", function]);
    }
    let output = command
        .output()
        .context("cannot run cargo-lambda from the tools venv")?;
    progress.finish_and_clear();
    std::fs::write(&log, [output.stdout.as_slice(), &output.stderr].concat())?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| l.contains("error"))
            .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("");
        bail!(
            "cargo lambda build failed ({}): {last}; full log in {}",
            output.status,
            paths::shown(&log).display()
        );
    }
    FUNCTIONS
        .iter()
        .map(|&function| {
            let binary = out_dir.join(function).join("bootstrap");
            let bytes = std::fs::read(&binary)
                .with_context(|| format!("cargo lambda build left no {}", binary.display()))?;
            Ok(Asset {
                function: function.to_owned(),
                zip: package::zip_bootstrap(&bytes)?,
            })
        })
        .collect()
}

/// Writes the packages next to the binaries: `target/lambda/<arch>/<function>.zip`.
pub fn write_zips(arch: Architecture, packages: &[Asset]) -> Result<Vec<PathBuf>> {
    packages
        .iter()
        .map(|asset| {
            let path = lambda_dir(arch).join(format!("{}.zip", asset.function));
            std::fs::write(&path, &asset.zip)?;
            Ok(path)
        })
        .collect()
}
