//! The kit's Python tools (cfn-lint, checkov, moto, cargo-lambda with zig), installed on demand
//! into a virtual environment under `target/`, pinned by `xtask/requirements.txt`, and reused
//! while that file is unchanged.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;

use kit_base::{
    paths,
    status::{spinner, status},
};

pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// The path of a program installed in the venv.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// `cargo-lambda` from the venv, run from the kit's directory with the venv's `bin` first on
    /// `PATH` (it finds zig and its helpers there).
    pub fn cargo_lambda(&self) -> Command {
        let mut paths = vec![self.dir.join("bin")];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let mut command = Command::new(self.bin("cargo-lambda"));
        kit_base::cargo::clean_env(&mut command);
        command
            .current_dir(paths::root())
            .env("PATH", std::env::join_paths(paths).unwrap_or_default());
        command
    }
}

/// Installs without spinners while set (other output runs meanwhile); see [`quietly`].
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs `f` with the installers' spinners hidden (their `Installed` lines still print); they
/// show again afterwards, also when `f` panics.
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    struct Loud;
    impl Drop for Loud {
        fn drop(&mut self) {
            QUIET.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
    QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
    let _loud = Loud;
    f()
}

/// A spinner, unless [`quietly`] is on.
fn progress(verb: &'static str, message: String) -> ProgressBar {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        ProgressBar::hidden()
    } else {
        spinner(verb, message)
    }
}

fn requirements_path() -> PathBuf {
    paths::root().join("xtask").join("requirements.txt")
}

/// Whether the tools venv holds what `xtask/requirements.txt` pins (else the first verb that
/// needs it installs it).
pub fn installed() -> bool {
    let stamp = paths::tools_dir().join("venv").join(".hitl-requirements");
    match (
        std::fs::read_to_string(stamp),
        std::fs::read_to_string(requirements_path()),
    ) {
        (Ok(stamp), Ok(requirements)) => stamp == requirements,
        _ => false,
    }
}

/// The venv, created or brought up to date with the requirements first if needed.
pub fn ensure() -> Result<Venv> {
    let requirements = std::fs::read_to_string(requirements_path())
        .with_context(|| format!("cannot read {}", requirements_path().display()))?;
    ensure_venv("venv", &requirements, "Python tools")
}

/// The venv of the local environment's durable execution emulator (`dex-local-runner`), pinned
/// by `xtask/requirements-durable.txt`: apart from the tools, whose checkov pins an older boto3.
pub fn ensure_durable() -> Result<Venv> {
    let path = paths::root().join("xtask").join("requirements-durable.txt");
    let requirements = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    ensure_venv("durable", &requirements, "the durable execution emulator")
}

/// The venv of the local environment's OpenID Connect provider (`xtask/local/oidc_provider.py`
/// on oidc-provider-mock), pinned by `xtask/requirements-oidc.txt`.
pub fn ensure_oidc() -> Result<Venv> {
    let path = paths::root().join("xtask").join("requirements-oidc.txt");
    let requirements = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    ensure_venv("oidc", &requirements, "the OpenID Connect provider")
}

/// The venv in which exported Python CDK apps are checked: aws-cdk-lib for Python.
pub fn ensure_cdk_python() -> Result<Venv> {
    let requirements = kit_cdk::app::PYTHON_REQUIREMENTS.join("\n") + "\n";
    ensure_venv("cdk-python", &requirements, "aws-cdk-lib for Python")
}

/// `target/tools/<name>`, a venv with `requirements` installed (reused while they are the same).
fn ensure_venv(name: &str, requirements: &str, what: &str) -> Result<Venv> {
    let tools = paths::tools_dir();
    let venv = Venv {
        dir: tools.join(name),
    };
    let stamp = venv.dir.join(".hitl-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements) {
        return Ok(venv);
    }
    let pins: Vec<&str> = requirements
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    std::fs::create_dir_all(&tools)?;
    let log = tools.join(format!("{name}-pip.log"));
    let started = Instant::now();
    let progress = progress(
        "Installing",
        format!(
            "{what} ({}) into {}",
            pins.join(", "),
            paths::shown(&venv.dir).display()
        ),
    );
    if !venv.bin("python").exists() {
        let python = std::env::var("HITL_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        run_logged(
            Command::new(&python).args(["-m", "venv"]).arg(&venv.dir),
            &log,
            &progress,
        )
        .with_context(|| {
            format!(
                "`{python} -m venv` failed: install Python 3 with its venv module (Debian: \
                 apt-get install python3-venv), or set HITL_PYTHON to a Python 3 executable"
            )
        })?;
    }
    let pinned = venv.dir.join("hitl-requirements.txt");
    std::fs::write(&pinned, requirements)?;
    run_logged(
        Command::new(venv.bin("python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&pinned),
        &log,
        &progress,
    )
    .with_context(|| {
        format!(
            "pip could not install {what}; see {}",
            paths::shown(&log).display()
        )
    })?;
    progress.finish_and_clear();
    std::fs::write(&stamp, requirements)?;
    status(
        "Installed",
        format!("{} in {:.0?}", pins.join(", "), started.elapsed()),
    );
    Ok(venv)
}

/// An npm project under `target/tools` holding the CDK toolchain.
pub struct NodeModules {
    dir: PathBuf,
}

impl NodeModules {
    pub fn modules(&self) -> PathBuf {
        self.dir.join("node_modules")
    }

    /// A program of the installed packages (`cdk`, `tsc`).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.modules().join(".bin").join(name)
    }
}

/// Whether npm can be run at all.
pub fn npm_available() -> bool {
    Command::new("npm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `target/tools/cdk`: aws-cdk-lib, constructs, the aws-cdk CLI and TypeScript, at the versions
/// exported apps pin, installed from npm once and reused while the pins are the same.
pub fn ensure_cdk_npm() -> Result<NodeModules> {
    let tools = NodeModules {
        dir: paths::tools_dir().join("cdk"),
    };
    let dependencies: serde_json::Map<String, serde_json::Value> = kit_cdk::app::NPM_PACKAGES
        .iter()
        .map(|(name, version)| ((*name).to_owned(), serde_json::json!(version)))
        .collect();
    let manifest = serde_json::to_string_pretty(&serde_json::json!({
        "name": "hitl-cdk-tools",
        "private": true,
        "description": "The CDK toolchain `cargo xtask cdk --verify` checks exported apps with",
        "dependencies": dependencies,
    }))?;
    let stamp = tools.modules().join(".hitl-manifest");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(manifest.as_str()) {
        return Ok(tools);
    }
    if !npm_available() {
        bail!("npm not found: install Node.js with npm to check an exported app (`--verify`)");
    }
    std::fs::create_dir_all(&tools.dir)?;
    std::fs::write(tools.dir.join("package.json"), &manifest)?;
    let log = paths::tools_dir().join("npm.log");
    let started = Instant::now();
    let names: Vec<String> = kit_cdk::app::NPM_PACKAGES
        .iter()
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    let progress = progress(
        "Installing",
        format!(
            "{} into {}",
            names.join(", "),
            paths::shown(&tools.dir).display()
        ),
    );
    run_logged(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&tools.dir),
        &log,
        &progress,
    )
    .with_context(|| {
        format!(
            "npm could not install the CDK toolchain; see {}",
            paths::shown(&log).display()
        )
    })?;
    progress.finish_and_clear();
    std::fs::write(&stamp, &manifest)?;
    status(
        "Installed",
        format!("{} in {:.0?}", names.join(", "), started.elapsed()),
    );
    Ok(tools)
}

/// Runs `command` with its output appended to `log`, ticking `progress` while it runs.
fn run_logged(command: &mut Command, log: &Path, progress: &ProgressBar) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    if !status.success() {
        progress.finish_and_clear();
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!("{status}: {last}");
    }
    Ok(())
}
