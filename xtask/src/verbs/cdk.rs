//! `cargo xtask cdk`: the environment's stack as a CDK app, written into a directory.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result, bail};
use kit_base::paths;

use kit_base::status::{error, status};
use kit_cdk::{self, Lang, Refusal, app};
use kit_config::values::Email;
use kit_tools::cdk_verify as verify;

use crate::{cli::Global, kit};

/// What the export does beside writing the app.
pub struct Options {
    /// Type-check, synthesize and compare the app.
    pub verify: bool,
    /// Build the environment's packages and record their digests, which the app checks.
    pub build: bool,
    /// Have the app set the account's API Gateway logging role.
    pub account_logging: bool,
}

pub fn run(
    global: &Global,
    lang: Lang,
    out: &Path,
    emails: &[Email],
    options: Options,
) -> Result<()> {
    let check = options.verify;
    let effective = kit::effective_for_render(global, emails)?;
    let template = kit_render::stack(&kit_render::Sources::kit(), &effective)?;
    let started = Instant::now();
    let conversion = convert(&effective, &template, lang, options.account_logging)?;
    let converted_in = started.elapsed();

    refuse_foreign_directory(out)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", out.display()))?;
    let architecture = effective.lambda.architecture.as_str();
    let lambda_dir = kit_tools::functions::lambda_dir(effective.lambda.architecture);
    let description = conversion.prepared.template["Description"].as_str();
    let spec = app::Spec {
        lang,
        stack_name: &effective.stack_name,
        environment: effective.environment.as_str(),
        region: effective.region.as_ref().map(|r| r.as_str()),
        description,
        architecture,
        lambda_dir: relative(&lambda_dir, &out),
        packages: packages(&effective, options.build)?,
        build: build_command(global, &effective),
    };
    let mut files = app::files(&spec, &conversion);
    let listed: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    files.push((MARKER.into(), listed.join("\n") + "\n"));
    write_files(&out, &files)?;
    let resources = conversion.prepared.template["Resources"]
        .as_object()
        .map_or(0, |r| r.len());
    status(
        "Exported",
        format!(
            "{} → {} ({} CDK app, {resources} resources, converted by cdk-from-cfn in {:.1?})",
            effective.stack_name,
            paths::shown(&out).display(),
            lang.name(),
            converted_in,
        ),
    );
    report_restored(&conversion);
    if check {
        let verified = verify::verify(
            &out,
            lang,
            &effective.stack_name,
            &conversion.rendered,
            &lambda_dir,
            &conversion.prepared.code,
        )?;
        status(
            "Verified",
            format!(
                "cdk synth of {} matches the rendered template ({} resources{})",
                effective.stack_name,
                verified.resources,
                if verified.stand_ins {
                    "; stand-in packages, since the functions are not built"
                } else {
                    ""
                }
            ),
        );
    } else {
        let next = match lang {
            Lang::Typescript => "npm install && npx cdk synth",
            Lang::Python => {
                "see its README (venv, pip install -r requirements.txt, npx aws-cdk@2 synth)"
            }
        };
        status(
            "Next",
            format!("cd {} && {next}", paths::shown(&out).display()),
        );
    }
    Ok(())
}

/// Written into every export: the files the kit owns there.
const MARKER: &str = ".hitl-export";

/// An export goes into a new or empty directory, or over an earlier export; never over
/// someone else's files.
fn refuse_foreign_directory(out: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    if entries.next().is_some() && !out.join(MARKER).is_file() {
        bail!(
            "{} is not empty and holds no earlier export (no {MARKER}): choose a new or empty \
             directory for --out",
            out.display()
        );
    }
    Ok(())
}

/// The rendered `template` converted by cdk-from-cfn; each part it cannot express said, and
/// refused. With `account_logging`, the app sets the account's API Gateway logging role.
fn convert(
    effective: &kit_config::Effective,
    template: &str,
    lang: Lang,
    account_logging: bool,
) -> Result<kit_cdk::Conversion> {
    // The stage's access logs need the account's API Gateway logging role, which the kit's
    // deploy sets where none works; asked, the app brings the bootstrap's role and the setting.
    let bootstrap = match account_logging {
        true => Some(kit_render::bootstrap(&kit_render::Sources::kit(), true)?),
        false => None,
    };
    match kit_cdk::convert(template, bootstrap.as_deref(), lang) {
        Ok(conversion) => Ok(conversion),
        Err(Refusal::Inexpressible(reasons)) => {
            for reason in &reasons {
                error(format!("{}: {reason}", effective.stack_name));
            }
            bail!(
                "cdk-from-cfn cannot express {} part(s) of the template; nothing was written \
                 (change the templates, or deploy with `cargo xtask deploy`)",
                reasons.len()
            );
        }
        Err(Refusal::Failed(reason)) => bail!("{}: {reason}", effective.stack_name),
    }
}

/// The environment's packages built, with each zip's digest; none with `build` false.
fn packages(effective: &kit_config::Effective, build: bool) -> Result<BTreeMap<String, String>> {
    if build {
        return built_packages(effective);
    }
    kit_base::status::warning(
        "not building the packages (--no-build): the app checks none of them",
    );
    Ok(BTreeMap::new())
}

/// The command that builds the environment's packages, as the app's messages give it.
fn build_command(global: &Global, effective: &kit_config::Effective) -> String {
    // Absolute: the app's messages are read anywhere.
    let config = global.config.as_ref().map(|c| {
        let absolute = std::path::absolute(c).unwrap_or(c.clone());
        format!("--config {} ", absolute.display())
    });
    format!(
        "cargo xtask {}--env {} build --arch {}",
        config.unwrap_or_default(),
        effective.environment,
        effective.lambda.architecture.as_str()
    )
}

/// Writes the app's files under `out`.
fn write_files(out: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    for (path, text) in files {
        let path = out.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        paths::write_atomically(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Says each attribute the app restores, with the resources it restores it on.
fn report_restored(conversion: &kit_cdk::Conversion) {
    let mut restored: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &conversion.prepared.restored {
        restored
            .entry(&r.attribute)
            .or_default()
            .push(&r.logical_id);
    }
    for (attribute, ids) in restored {
        status(
            "Restored",
            format!(
                "{attribute} of {} (cdk-from-cfn drops it; the app sets it again)",
                ids.join(", ")
            ),
        );
    }
}

/// Builds the environment's packages (what the app will package); the digest of each zip.
fn built_packages(effective: &kit_config::Effective) -> Result<BTreeMap<String, String>> {
    let architecture = effective.lambda.architecture;
    kit_tools::functions::check_target(
        architecture,
        &format!(
            "export {} for the other architecture: `lambda.architecture: {}` in the config",
            effective.environment,
            architecture.other().as_str()
        ),
    )?;
    let venv = kit_tools::install::ensure()?;
    let built = kit_tools::functions::build(&venv, architecture, &effective.functions())?;
    Ok(built
        .iter()
        .map(|asset| {
            let digest = kit_base::package::hex_sha256(&asset.zip);
            (format!("{}.zip", asset.function), digest)
        })
        .collect())
}

/// `to` as seen from `from` (both absolute), or `to` itself when there is no relative way.
fn relative(to: &Path, from: &Path) -> String {
    pathdiff::diff_paths(to, from)
        .unwrap_or_else(|| PathBuf::from(to))
        .display()
        .to_string()
}
