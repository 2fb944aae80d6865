//! `cargo xtask cdk --verify`: type-check and synthesize an exported app with the pinned CDK
//! toolchain (installed once under `target/tools/`), then compare what the CDK synthesized with
//! the rendered template.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

use super::{Lang, compare};
use crate::{deploy::assets, kit, status::spinner, tools};

/// What the check found.
pub struct Verified {
    pub resources: usize,
    /// The kit's packages were not built, so stand-in zips took their place.
    pub stand_ins: bool,
}

/// The packages the app should take: the built ones when they are there, else stand-ins
/// (the template does not depend on what the zips hold).
fn packages(lambda_dir: &Path, code: &[String]) -> Result<(PathBuf, bool)> {
    if code.iter().all(|zip| lambda_dir.join(zip).is_file()) {
        return Ok((lambda_dir.to_owned(), false));
    }
    let dir = kit::output_dir().join("cdk").join("stand-ins");
    std::fs::create_dir_all(&dir)?;
    for zip in code {
        let stand_in = assets::zip_bootstrap(b"a stand-in: build the functions for real ones")?;
        std::fs::write(dir.join(zip), stand_in)?;
    }
    Ok((dir, true))
}

pub fn verify(
    out: &Path,
    lang: Lang,
    stack_name: &str,
    rendered: &Json,
    lambda_dir: &Path,
    code: &[String],
) -> Result<Verified> {
    let npm = tools::ensure_cdk_npm()?;
    let (packages, stand_ins) = packages(lambda_dir, code)?;
    let app = match lang {
        Lang::Typescript => {
            let _linked = Linked::modules(out, &npm.modules())?;
            run(
                "Checking",
                "the app's types (tsc)",
                Command::new(npm.bin("tsc")).arg("-p").arg(out),
            )?;
            synth(out, &npm, &packages, None)?
        }
        Lang::Python => {
            let venv = tools::ensure_cdk_python()?;
            run(
                "Checking",
                "the app compiles (py_compile)",
                Command::new(venv.bin("python"))
                    .args(["-m", "py_compile", "app.py", "hitl_stack.py"])
                    .current_dir(out),
            )?;
            let python = format!("{} app.py", venv.bin("python").display());
            synth(out, &npm, &packages, Some(&python))?
        }
    };
    let path = app.join(format!("{stack_name}.template.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cdk synth wrote no {}", kit::shown(&path).display()))?;
    let synthesized: Json = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", kit::shown(&path).display()))?;
    let found = compare::differences(rendered, &synthesized, stack_name);
    if !found.is_empty() {
        for difference in &found {
            crate::status::error(difference);
        }
        bail!(
            "the synthesized template ({}) differs from the rendered one in {} place(s)",
            kit::shown(&path).display(),
            found.len()
        );
    }
    let resources = synthesized
        .get("Resources")
        .and_then(Json::as_object)
        .map_or(0, |r| r.len());
    Ok(Verified {
        resources,
        stand_ins,
    })
}

/// `cdk synth` in the app's directory (offline: no notices, no telemetry); the cloud assembly.
fn synth(
    out: &Path,
    npm: &tools::NodeModules,
    packages: &Path,
    app: Option<&str>,
) -> Result<PathBuf> {
    let assembly = out.join("cdk.out");
    let mut command = Command::new(npm.bin("cdk"));
    command
        .current_dir(out)
        .args([
            "synth",
            "--quiet",
            "--no-notices",
            "--no-version-reporting",
            "--output",
        ])
        .arg(&assembly)
        .arg("--context")
        .arg(format!("hitl:lambdaDir={}", packages.display()))
        .env("CDK_DISABLE_CLI_TELEMETRY", "true");
    if let Some(app) = app {
        command.args(["--app", app]);
    }
    run("Synthesizing", "the app (cdk synth)", &mut command)?;
    Ok(assembly)
}

/// Runs a check, its output kept and shown only when it fails.
fn run(verb: &'static str, what: &str, command: &mut Command) -> Result<()> {
    let progress = spinner(verb, what.to_owned());
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    progress.finish_and_clear();
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for line in tail.into_iter().rev() {
            eprintln!("  {line}");
        }
        bail!("{what} failed ({})", output.status);
    }
    Ok(())
}

/// `node_modules` of the app linked to the kit's toolchain for the check, unless the app has
/// its own; removed again afterwards.
struct Linked(Option<PathBuf>);

impl Linked {
    fn modules(out: &Path, modules: &Path) -> Result<Self> {
        let link = out.join("node_modules");
        if link.symlink_metadata().is_ok() {
            return Ok(Self(None));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(modules, &link)
            .with_context(|| format!("cannot link {}", link.display()))?;
        #[cfg(not(unix))]
        bail!("--verify needs `npm install` in {} first", out.display());
        #[cfg(unix)]
        Ok(Self(Some(link)))
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        if let Some(link) = &self.0 {
            let _ = std::fs::remove_file(link);
        }
    }
}
