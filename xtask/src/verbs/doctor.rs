//! `cargo xtask doctor`: what the kit needs on this machine and in the account, each with the
//! command that fixes it. Reads only: it installs, starts and changes nothing.

mod caller;
mod finding;
mod permissions;
mod simulate;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::Result;
use aws_sdk_s3::config::ProvideCredentials;
use kit_base::{local, paths};
use kit_config::{Effective, values::Endpoint};
use kit_deploy::BOOTSTRAP_STACK;
use kit_tools::{functions, install};

use crate::{cli::Global, kit};
use finding::{Finding, Weight, found};

pub fn run(global: &Global) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let mut findings = machine(&effective);
    findings.extend(account(&effective));
    for f in &findings {
        let (verb, style) = match f.weight {
            Weight::Ok => ("ok", anstyle::AnsiColor::Green),
            Weight::Optional => ("optional", anstyle::AnsiColor::Yellow),
            Weight::Missing => ("missing", anstyle::AnsiColor::Red),
        };
        let style = style.on_default().bold();
        anstream::println!("{style}{verb:>9}{style:#} {:<22} {}", f.what, f.note);
    }
    let missing: Vec<&str> = findings
        .iter()
        .filter(|f| f.weight == Weight::Missing)
        .map(|f| f.what)
        .collect();
    if !missing.is_empty() {
        anyhow::bail!("the kit cannot work here yet: {}", missing.join(", "));
    }
    Ok(())
}

/// The output of `program args`, if it ran and succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The toolchain, the functions' targets, Python, npm and Chromium.
fn machine(effective: &Effective) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.push(match output("rustc", &["--version"]) {
        Some(version) => found(Weight::Ok, "Rust", version),
        None => found(
            Weight::Missing,
            "Rust",
            "install it with rustup (https://rustup.rs)",
        ),
    });
    let arch = effective.lambda.architecture;
    // The local environment builds for this machine only: no Lambda target is required there.
    let cloud = effective.endpoint == Endpoint::Aws;
    for candidate in [arch, arch.other()] {
        let target = candidate.rust_target();
        let ours = candidate == arch && cloud;
        let (weight, note) = match (functions::target_installed(target), ours) {
            (true, _) => (Weight::Ok, format!("{target} installed")),
            (false, true) => (
                Weight::Missing,
                format!(
                    "{target} for {}'s {} functions: rustup target add {target}",
                    effective.environment,
                    candidate.as_str()
                ),
            ),
            (false, false) => (
                Weight::Optional,
                format!(
                    "{target}, for {} functions elsewhere: rustup target add {target}",
                    candidate.as_str()
                ),
            ),
        };
        findings.push(found(weight, "Lambda target", note));
    }
    let python = std::env::var("HITL_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    findings.push(
        match output(
            &python,
            &[
                "-c",
                "import ensurepip, venv, sys; print(sys.version.split()[0])",
            ],
        ) {
            Some(version) => found(
                Weight::Ok,
                "Python with venv",
                format!(
                    "{python} {version}; the tools go into {} ({})",
                    paths::shown(&paths::tools_dir().join("venv")).display(),
                    if install::installed() {
                        "installed"
                    } else {
                        "installed on first use"
                    }
                ),
            ),
            None => found(
                Weight::Missing,
                "Python with venv",
                format!(
                    "`{python} -m venv` is not available: install Python 3 with its venv module \
                     (Debian: apt-get install python3-venv), or set HITL_PYTHON"
                ),
            ),
        },
    );
    findings.push(match output("npm", &["--version"]) {
        Some(version) => found(
            Weight::Ok,
            "npm",
            format!("{version} (cdk --verify, cdk synth)"),
        ),
        None => found(
            Weight::Optional,
            "npm",
            "for `cargo xtask cdk --verify` and the CDK checks of `cargo xtask test`: install \
             Node.js with npm",
        ),
    });
    let browser = ["chromium", "chromedriver"]
        .into_iter()
        .all(|p| output(p, &["--version"]).is_some());
    findings.push(if browser {
        found(
            Weight::Ok,
            "Chromium",
            "chromium and chromedriver (the browser test)",
        )
    } else {
        found(
            Weight::Optional,
            "Chromium",
            "for the browser test of `cargo xtask test`: apt-get install chromium chromium-driver",
        )
    });
    findings
}

/// The credentials and region a deploy of this environment would use, the bootstrap stack, and
/// the caller's permissions.
fn account(effective: &Effective) -> Vec<Finding> {
    if effective.endpoint == Endpoint::Local {
        return vec![found(
            Weight::Ok,
            "AWS",
            format!(
                "{} is the local environment: moto on this machine, region {}, no account",
                effective.environment,
                local::REGION
            ),
        )];
    }
    let Ok(runtime) = crate::runtime::new() else {
        return vec![found(
            Weight::Missing,
            "AWS",
            "cannot start the async runtime",
        )];
    };
    runtime.block_on(async {
        let sdk = kit_aws::cloud_config(effective).await;
        let mut findings = Vec::new();
        let Some(region) = sdk.region().map(ToString::to_string) else {
            findings.push(found(
                Weight::Missing,
                "AWS region",
                "none: pass --region, set `region:` in the config, or give the profile one",
            ));
            return findings;
        };
        findings.push(found(Weight::Ok, "AWS region", region.clone()));
        let aws = kit_aws::Aws { sdk, local: None };
        match credentials(&aws).await {
            Ok(finding) => findings.push(finding),
            Err(finding) => {
                findings.push(finding);
                return findings;
            }
        }
        findings.push(bootstrap(&aws, &region).await);
        findings.extend(simulate::check(&aws, effective).await);
        findings
    })
}

/// Whether the credential chain gives credentials within 10 s: `Err` when it does not (the
/// checks that need them are skipped).
async fn credentials(aws: &kit_aws::Aws) -> Result<Finding, Finding> {
    let Some(provider) = aws.sdk.credentials_provider() else {
        return Err(found(
            Weight::Missing,
            "AWS credentials",
            "no credential provider",
        ));
    };
    let credentials =
        tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials()).await;
    match credentials {
        Ok(Ok(credentials)) => {
            let key: Vec<char> = credentials.access_key_id().chars().collect();
            let shown: String = key[key.len().saturating_sub(4)..].iter().collect();
            let kind = match credentials.expiry() {
                Some(_) => "temporary",
                None => "long-term",
            };
            Ok(found(
                Weight::Ok,
                "AWS credentials",
                format!("access key …{shown} ({kind})"),
            ))
        }
        Ok(Err(e)) => {
            let error = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            Err(found(
                Weight::Missing,
                "AWS credentials",
                format!("none usable ({error}): aws configure, aws sso login, or --profile"),
            ))
        }
        Err(_) => Err(found(
            Weight::Missing,
            "AWS credentials",
            "no answer within 10 s from the credential chain",
        )),
    }
}

/// Whether the bootstrap stack is there (a first deploy makes it).
async fn bootstrap(aws: &kit_aws::Aws, region: &str) -> Finding {
    let cfn = aws.cloudformation();
    let bootstrap = tokio::time::timeout(
        Duration::from_secs(10),
        kit_deploy::stack::find(&cfn, BOOTSTRAP_STACK),
    )
    .await;
    match bootstrap {
        Ok(Ok(Some(stack))) => found(
            Weight::Ok,
            "bootstrap stack",
            format!("{BOOTSTRAP_STACK} in {region} ({})", stack.status),
        ),
        Ok(Ok(None)) => found(
            Weight::Ok,
            "bootstrap stack",
            format!("{BOOTSTRAP_STACK} not in {region} yet: the first deploy creates it"),
        ),
        Ok(Err(e)) => found(Weight::Missing, "bootstrap stack", format!("{e:#}")),
        Err(_) => found(
            Weight::Missing,
            "bootstrap stack",
            format!("CloudFormation in {region} did not answer within 10 s"),
        ),
    }
}
