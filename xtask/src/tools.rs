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

use crate::{
    kit,
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
        command
            .current_dir(kit::root())
            .env("PATH", std::env::join_paths(paths).unwrap_or_default());
        command
    }
}

fn requirements_path() -> PathBuf {
    kit::root().join("xtask").join("requirements.txt")
}

/// The venv, created or brought up to date with the requirements first if needed.
pub fn ensure() -> Result<Venv> {
    let tools = kit::root().join("target").join("tools");
    let venv = Venv {
        dir: tools.join("venv"),
    };
    let requirements = std::fs::read_to_string(requirements_path())
        .with_context(|| format!("cannot read {}", requirements_path().display()))?;
    let stamp = venv.dir.join(".hitl-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(venv);
    }
    let pins: Vec<&str> = requirements
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    std::fs::create_dir_all(&tools)?;
    let log = tools.join("pip.log");
    let started = Instant::now();
    let progress = spinner(
        "Installing",
        format!(
            "Python tools ({}) into {}",
            pins.join(", "),
            kit::shown(&venv.dir).display()
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
    run_logged(
        Command::new(venv.bin("python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(requirements_path()),
        &log,
        &progress,
    )
    .with_context(|| {
        format!(
            "pip could not install the tools; see {}",
            kit::shown(&log).display()
        )
    })?;
    progress.finish_and_clear();
    std::fs::write(&stamp, &requirements)?;
    status(
        "Installed",
        format!("{} in {:.0?}", pins.join(", "), started.elapsed()),
    );
    Ok(venv)
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
