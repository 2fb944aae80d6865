//! `cargo xtask cdk --verify`: type-check and synthesize an exported app with the pinned CDK
//! toolchain (installed once under `target/tools/`), then compare what the CDK synthesized with
//! the rendered template.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

use kit_base::{package, paths, status::spinner};
use kit_cdk::{Lang, compare};

use crate::install;

/// What the check found.
pub struct Verified {
    pub resources: usize,
    /// The kit's packages were not built, so stand-in zips took their place.
    pub stand_ins: bool,
}

/// The packages the app should take: the built ones when they are there, else stand-ins, one
/// different zip per function (the template does not depend on what the zips hold).
fn packages(lambda_dir: &Path, code: &BTreeMap<String, String>) -> Result<(PathBuf, bool)> {
    if code.values().all(|zip| lambda_dir.join(zip).is_file()) {
        return Ok((lambda_dir.to_owned(), false));
    }
    let dir = paths::output_dir().join("cdk").join("stand-ins");
    std::fs::create_dir_all(&dir)?;
    for zip in code.values() {
        let text = format!("a stand-in for {zip}: build the functions for the real one");
        std::fs::write(dir.join(zip), package::zip_bootstrap(text.as_bytes())?)?;
    }
    Ok((dir, true))
}

/// Each function's `Code` names the asset of its own package: the file the CDK staged for that
/// key holds the bytes of the zip the app was told to take.
fn packages_match(
    assembly: &Path,
    stack_name: &str,
    synthesized: &Json,
    code: &BTreeMap<String, String>,
    packages: &Path,
) -> Result<Vec<String>> {
    let path = assembly.join(format!("{stack_name}.assets.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cdk synth wrote no {}", path.display()))?;
    let manifest: Json = serde_json::from_str(&text)?;
    let files = manifest["files"].as_object().cloned().unwrap_or_default();
    let mut found = Vec::new();
    for (id, zip) in code {
        let key = synthesized
            .pointer(&format!("/Resources/{id}/Properties/Code/S3Key"))
            .and_then(Json::as_str)
            .unwrap_or_default();
        let staged = files.values().find_map(|file| {
            let destinations = file["destinations"].as_object()?;
            destinations
                .values()
                .any(|d| d["objectKey"] == key)
                .then(|| file["source"]["path"].as_str())
                .flatten()
        });
        let same = staged.is_some_and(|staged| {
            std::fs::read(assembly.join(staged)).ok() == std::fs::read(packages.join(zip)).ok()
        });
        if !same {
            found.push(format!(
                "Resources.{id}.Properties.Code: the asset `{key}` is not {zip}"
            ));
        }
    }
    Ok(found)
}

pub fn verify(
    out: &Path,
    lang: Lang,
    stack_name: &str,
    rendered: &Json,
    lambda_dir: &Path,
    code: &BTreeMap<String, String>,
) -> Result<Verified> {
    let npm = install::ensure_cdk_npm()?;
    let (packages, stand_ins) = packages(lambda_dir, code)?;
    let app = match lang {
        Lang::Typescript => {
            let _linked = Linked::modules(out, &npm.modules())?;
            run(
                "Checking",
                "the app's types (tsc)",
                Command::new(npm.bin("tsc")).arg("-p").arg(out),
            )?;
            // The types were just checked: ts-node need not check them again.
            synth(out, &npm, &packages, App::TypesChecked)?
        }
        Lang::Python => {
            let venv = install::ensure_cdk_python()?;
            run(
                "Checking",
                "the app compiles (py_compile)",
                Command::new(venv.bin("python"))
                    .args(["-m", "py_compile", "app.py", "hitl_stack.py"])
                    .current_dir(out),
            )?;
            let python = format!("\"{}\" app.py", venv.bin("python").display());
            synth(out, &npm, &packages, App::Command(&python))?
        }
    };
    let path = app.join(format!("{stack_name}.template.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cdk synth wrote no {}", paths::shown(&path).display()))?;
    let synthesized: Json = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", paths::shown(&path).display()))?;
    let mut found = compare::differences(rendered, &synthesized, stack_name);
    found.extend(packages_match(
        &app,
        stack_name,
        &synthesized,
        code,
        &packages,
    )?);
    if !found.is_empty() {
        for difference in &found {
            kit_base::status::error(difference);
        }
        bail!(
            "the synthesized template ({}) differs from the rendered one in {} place(s)",
            paths::shown(&path).display(),
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

/// `cdk synth` of the exported app in `out` (`--app` for Python) with the packages of
/// `packages`: its cloud assembly, or why it failed (the app's own message among its output).
pub fn synthesize(out: &Path, lang: Lang, packages: &Path) -> Result<PathBuf> {
    let npm = install::ensure_cdk_npm()?;
    match lang {
        Lang::Typescript => {
            let _linked = Linked::modules(out, &npm.modules())?;
            synth(out, &npm, packages, App::AsExported)
        }
        Lang::Python => {
            let venv = install::ensure_cdk_python()?;
            let python = format!("\"{}\" app.py", venv.bin("python").display());
            synth(out, &npm, packages, App::Command(&python))
        }
    }
}

/// How `cdk synth` runs the app.
enum App<'a> {
    /// As `cdk.json` says.
    AsExported,
    /// As `cdk.json` says, its types just checked by `tsc`: ts-node only transpiles.
    TypesChecked,
    /// This command (`--app`).
    Command(&'a str),
}

/// `cdk synth` in the app's directory (offline: no notices, no telemetry); the cloud assembly.
fn synth(out: &Path, npm: &install::NodeModules, packages: &Path, app: App) -> Result<PathBuf> {
    let assembly = out.join("cdk.out");
    if assembly.exists() {
        std::fs::remove_dir_all(&assembly)
            .with_context(|| format!("cannot remove the old {}", assembly.display()))?;
    }
    let mut command = Command::new(npm.bin("cdk"));
    // Offline: no credentials to look up an account with, no instance metadata to ask.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command.env("AWS_EC2_METADATA_DISABLED", "true");
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
    match app {
        App::AsExported => {}
        App::TypesChecked => {
            command.env("TS_NODE_TRANSPILE_ONLY", "true");
        }
        App::Command(app) => {
            command.args(["--app", app]);
        }
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
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        bail!("{what} failed ({}): {}", output.status, reason(&tail));
    }
    Ok(())
}

/// Why a check failed, from its output's last lines (`tail`, last first): the last line, and
/// when that is the CDK saying the app exited, the app's own last line before it (its refusal).
fn reason(tail: &[&str]) -> String {
    let mut lines = tail.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let last = lines.next().unwrap_or_default();
    match lines.next() {
        Some(app) if last.contains("Subprocess exited with error") => format!("{app} ({last})"),
        _ => last.to_owned(),
    }
}

/// `node_modules` of the app linked to the kit's toolchain for the check, unless the app has
/// its own; removed again afterwards.
struct Linked(Option<PathBuf>);

impl Linked {
    fn modules(out: &Path, modules: &Path) -> Result<Self> {
        let link = out.join("node_modules");
        // A link to the kit's toolchain left by an interrupted check is taken over.
        if std::fs::read_link(&link).is_ok_and(|target| target == modules) {
            return Ok(Self(Some(link)));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_apps_refusal_is_the_reason_given() {
        let exited = "python app.py: Subprocess exited with error 1";
        let tail = [exited, "", "x.zip is not the package", "warning"];
        assert_eq!(
            reason(&tail),
            format!("x.zip is not the package ({exited})")
        );
        assert_eq!(reason(&["", "tsc: error TS2322"]), "tsc: error TS2322");
        assert_eq!(reason(&[]), "");
    }

    /// A cloud assembly with one staged asset per package, and the stack naming them.
    fn assembly(dir: &Path, keys: [(&str, &str); 2]) -> Json {
        let mut files = serde_json::Map::new();
        for (key, content) in [("aaa.zip", "request bytes"), ("bbb.zip", "review bytes")] {
            let staged = format!("asset.{key}");
            std::fs::write(dir.join(&staged), content).unwrap();
            files.insert(
                key.to_owned(),
                json!({"source": {"path": staged, "packaging": "file"},
                       "destinations": {"d": {"objectKey": key}}}),
            );
        }
        std::fs::write(
            dir.join("s.assets.json"),
            json!({"version": "1", "files": files}).to_string(),
        )
        .unwrap();
        let code = |key: &str| json!({"Properties": {"Code": {"S3Key": key}}});
        json!({"Resources": {keys[0].0: code(keys[0].1), keys[1].0: code(keys[1].1)}})
    }

    #[test]
    fn each_function_must_get_the_asset_of_its_own_package() {
        let dir = tempfile::tempdir().unwrap();
        let packages = dir.path().join("packages");
        std::fs::create_dir(&packages).unwrap();
        std::fs::write(packages.join("request.zip"), "request bytes").unwrap();
        std::fs::write(packages.join("review.zip"), "review bytes").unwrap();
        let code = BTreeMap::from([
            ("RequestFunction".to_owned(), "request.zip".to_owned()),
            ("ReviewFunction".to_owned(), "review.zip".to_owned()),
        ]);
        let right = assembly(
            dir.path(),
            [
                ("RequestFunction", "aaa.zip"),
                ("ReviewFunction", "bbb.zip"),
            ],
        );
        let found = packages_match(dir.path(), "s", &right, &code, &packages).unwrap();
        assert!(found.is_empty(), "{found:?}");
        let swapped = assembly(
            dir.path(),
            [
                ("RequestFunction", "bbb.zip"),
                ("ReviewFunction", "aaa.zip"),
            ],
        );
        let found = packages_match(dir.path(), "s", &swapped, &code, &packages).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with(
            "Resources.RequestFunction.Properties.Code: the asset `bbb.zip` is not request.zip"
        ));
    }
}
