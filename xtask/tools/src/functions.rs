//! Release builds of the functions through `cargo lambda build` (zig as the cross linker, from
//! the tools venv), packaged as deterministic zips.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, ExitStatus, Stdio},
    time::Instant,
};

use indicatif::ProgressBar;

use anyhow::{Context, Result, bail};

use kit_base::{
    package::{self, Asset, FUNCTIONS, dev_features},
    paths,
    status::{spinner, status},
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
/// otherwise try to install it from the network. `instead` says how the verb at hand builds for
/// the other architecture (a flag, or the config).
pub fn check_target(arch: Architecture, instead: &str) -> Result<()> {
    let target = arch.rust_target();
    if !target_installed(target) {
        bail!(
            "the Rust target {target} (for {} functions) is not installed: run `rustup target add \
             {target}`, or {instead}",
            arch.as_str()
        );
    }
    Ok(())
}

/// Where the packages of an architecture are: `target/lambda/<arch>` for release builds (what
/// a deploy, an export and a user see), `target/lambda/<profile>/<arch>` for another profile,
/// so that the kit's tests never overwrite (or race with) the release packages.
pub fn lambda_dir(arch: Architecture) -> PathBuf {
    let lambda = paths::root().join("target").join("lambda");
    match profile().as_str() {
        RELEASE => lambda.join(arch.as_str()),
        other => lambda.join(other).join(arch.as_str()),
    }
}

const RELEASE: &str = "release";

/// The dev profile: packages of the functions' dev build (see [`build`]).
pub const DEV: &str = "dev";

/// The Cargo profile of the packages: `release`, or `$HITL_LAMBDA_PROFILE` (the kit's tests
/// use `dev`).
pub fn profile() -> String {
    std::env::var("HITL_LAMBDA_PROFILE").unwrap_or_else(|_| RELEASE.to_owned())
}

/// Builds `functions` for `arch` and packages them (the caller has checked the target with
/// [`check_target`]). One cargo build: the functions of one stack share one feature set.
///
/// With the `dev` profile (the kit's own tests), the packages hold the binaries of the
/// functions' dev build for this machine ([`dev_build`], no cargo-lambda, no zig): every
/// dependency is the one the xtask's build compiled, and the binaries are those `cargo lambda
/// watch` runs in the local environment. Only for this machine's architecture.
pub fn build(venv: &Venv, arch: Architecture, functions: &[&str]) -> Result<Vec<Asset>> {
    let profile = profile();
    if profile == DEV {
        return dev_packages(arch, functions);
    }
    let out_dir = lambda_dir(arch);
    let log = paths::root()
        .join("target")
        .join("lambda")
        .join("build.log");
    std::fs::create_dir_all(&out_dir)?;
    let what = format!(
        "{} for {} ({profile}, cargo lambda build)",
        functions.join(", "),
        arch.as_str()
    );
    let progress = spinner("Compiling", what.clone());
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
    // By package, not `--bin`: `--bin` leaves every workspace member selected, and cargo would
    // unify the features of all of them (the durable SDK's TLS stack into the Step Functions
    // stack's functions). Each function is the package of its name.
    for function in functions {
        command.args(["--package", function]);
    }
    let (finished, text) = follow(&mut command, &progress, &what)
        .context("cannot run cargo-lambda from the tools venv")?;
    progress.finish_and_clear();
    std::fs::write(&log, &text)?;
    if !finished.success() {
        let last = text
            .lines()
            .rev()
            .find(|l| l.contains("error"))
            .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("");
        bail!(
            "cargo lambda build failed ({}): {last}; full log in {}",
            finished,
            paths::shown(&log).display()
        );
    }
    functions
        .iter()
        .map(|&function| packaged(arch, function))
        .collect()
}

/// The package of a function's binary as cargo-lambda left it, written next to it as
/// `<function>.zip`. The zip is made again only when the binary changed: a stamp beside it
/// records the packaging's version, the binary's digest and the zip's digest, and the zip is
/// reused only when all three still match (a deploy with nothing changed zips nothing).
fn packaged(arch: Architecture, function: &str) -> Result<Asset> {
    let binary = lambda_dir(arch).join(function).join("bootstrap");
    let bytes = std::fs::read(&binary)
        .with_context(|| format!("cargo lambda build left no {}", binary.display()))?;
    package_binary(arch, function, &bytes)
}

/// The packages of the dev build's binaries (`target/debug/<function>`), for the kit's tests.
fn dev_packages(arch: Architecture, functions: &[&str]) -> Result<Vec<Asset>> {
    let host = match std::env::consts::ARCH {
        "x86_64" => Architecture::X86_64,
        "aarch64" => Architecture::Arm64,
        other => bail!(
            "HITL_LAMBDA_PROFILE={DEV} builds for this machine, and {other} is no Lambda architecture"
        ),
    };
    if arch != host {
        bail!(
            "HITL_LAMBDA_PROFILE={DEV} builds for this machine ({}), not {}: unset it to build \
             release packages",
            host.as_str(),
            arch.as_str()
        );
    }
    dev_build()?;
    let debug = paths::root().join("target").join("debug");
    functions
        .iter()
        .map(|&function| {
            let binary = debug.join(function);
            let bytes = std::fs::read(&binary)
                .with_context(|| format!("cargo build left no {}", binary.display()))?;
            package_binary(arch, function, &bytes)
        })
        .collect()
}

/// `bytes`, a function's binary, packaged as `<function>.zip` in the architecture's directory.
fn package_binary(arch: Architecture, function: &str, bytes: &[u8]) -> Result<Asset> {
    std::fs::create_dir_all(lambda_dir(arch))?;
    let zip_path = zip_path(arch, function);
    let stamp_path = zip_path.with_extension("zip.source");
    let stamp = |zip: &[u8]| {
        format!(
            "{} {} {}",
            package::ZIP_FORMAT,
            package::hex_sha256(bytes),
            package::hex_sha256(zip)
        )
    };
    let kept = std::fs::read(&zip_path)
        .ok()
        .filter(|zip| std::fs::read_to_string(&stamp_path).is_ok_and(|found| found == stamp(zip)));
    let zip = match kept {
        Some(zip) => zip,
        None => {
            let zip = package::zip_bootstrap(bytes)?;
            let _ = std::fs::remove_file(&stamp_path);
            let tmp = zip_path.with_extension("zip.tmp");
            std::fs::write(&tmp, &zip)?;
            std::fs::rename(&tmp, &zip_path)?;
            std::fs::write(&stamp_path, stamp(&zip))?;
            zip
        }
    };
    Ok(Asset {
        function: function.to_owned(),
        zip,
    })
}

/// Compiles the functions as `cargo lambda watch` will run them (debug, with the
/// workspace-hack, so every dependency the xtask compiled is reused), so that the first approval
/// does not wait for a compile.
pub fn dev_build() -> Result<()> {
    let started = Instant::now();
    let what = format!("{} (debug, for cargo lambda watch)", FUNCTIONS.join(", "));
    let progress = spinner("Compiling", what.clone());
    let mut command = kit_base::cargo::command();
    command.arg("build").args(["--features", &dev_features()]);
    for function in FUNCTIONS {
        command.args(["--bin", function]);
    }
    let (finished, errors) = follow(&mut command, &progress, &what).context("cannot run cargo")?;
    progress.finish_and_clear();
    if !finished.success() {
        bail!("the functions do not compile:\n{errors}");
    }
    status(
        "Compiled",
        format!(
            "{} in {:.1}s",
            FUNCTIONS.join(", "),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

/// Runs a cargo build, naming on `progress` each crate as cargo finishes compiling it. Returns
/// how it ended and what it wrote on stderr (the diagnostics, rendered as cargo renders them).
fn follow(
    command: &mut Command,
    progress: &ProgressBar,
    what: &str,
) -> std::io::Result<(ExitStatus, String)> {
    let mut child = command
        .args(["--message-format", "json-render-diagnostics"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut compiled = 0;
    for line in BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
    {
        let message: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if message["reason"] == "compiler-artifact" && message["fresh"] == false {
            compiled += 1;
            let name = message["target"]["name"].as_str().unwrap_or_default();
            progress.set_message(format!("{what}: {compiled} crates compiled, last {name}"));
        }
    }
    let finished = child.wait()?;
    Ok((finished, errors.join().unwrap_or_default()))
}

/// Where a function's package is: `target/lambda/<arch>/<function>.zip`, next to its binary.
pub fn zip_path(arch: Architecture, function: &str) -> PathBuf {
    lambda_dir(arch).join(format!("{function}.zip"))
}
