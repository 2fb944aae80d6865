//! `cargo xtask cdk`: the exported app's files, what cdk-from-cfn cannot express, and — with the
//! CDK toolchain from npm (`#[ignore]`d here, run by `cargo xtask test` when npm is there) —
//! `cdk synth` of the apps compared with the rendered templates.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;
use support::kit_root;

struct Export {
    output: Output,
    app: tempfile::TempDir,
}

impl Export {
    /// What a user sees: the status lines (on stderr, as cargo's) and any output.
    fn seen(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned() + &self.stderr()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn file(&self, path: &str) -> String {
        std::fs::read_to_string(self.app.path().join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}; stderr: {}", self.stderr()))
    }
    fn cdk_json(&self) -> Value {
        serde_json::from_str(&self.file("cdk.json")).unwrap()
    }
    #[track_caller]
    fn assert_ok(&self) {
        assert!(self.output.status.success(), "{}", self.seen());
    }
}

/// `cargo xtask [--config CONFIG] --env ENV cdk --lang LANG --out <temp dir> EXTRA…`, from `dir`.
fn export(dir: &Path, config: Option<&str>, env: &str, lang: &str, extra: &[&str]) -> Export {
    let app = tempfile::tempdir().unwrap();
    let output = run_export(dir, config, env, lang, extra, app.path());
    Export { output, app }
}

/// Runs the export into `out`, with the rendered templates in a directory of their own.
fn run_export(
    dir: &Path,
    config: Option<&str>,
    env: &str,
    lang: &str,
    extra: &[&str],
    out: &Path,
) -> Output {
    let rendered = tempfile::tempdir().unwrap();
    let out = out.to_str().unwrap();
    let mut args: Vec<&str> = Vec::new();
    if let Some(config) = config {
        args.extend(["--config", config]);
    }
    // The packages are the built-export test's business: here the app checks none.
    args.extend([
        "--env",
        env,
        "cdk",
        "--lang",
        lang,
        "--out",
        out,
        "--no-build",
    ]);
    args.extend(extra);
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(&args)
        .current_dir(dir)
        .env("HITL_OUTPUT_DIR", rendered.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A config in a directory of its own, with override templates under `overrides/`.
fn config_dir(overrides: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = "project: shop\ndefaults:\n  reviewers: [ana@example.com]\nenvironments:\n  \
                  dev:\n    templates: overrides\n";
    std::fs::write(dir.path().join("hitl.yaml"), config).unwrap();
    std::fs::create_dir(dir.path().join("overrides")).unwrap();
    for (name, text) in overrides {
        std::fs::write(dir.path().join("overrides").join(name), text).unwrap();
    }
    dir
}

/// A resource whose `CreationPolicy` cdk-from-cfn drops.
const WAIT_CONDITION: &str = "  Signal:\n    Type: AWS::CloudFormation::WaitCondition\n    \
                              CreationPolicy:\n      ResourceSignal:\n        Count: 1\n        \
                              Timeout: PT5M\n";

#[test]
fn the_typescript_app_has_every_file_and_its_settings() {
    let export = export(&kit_root(), None, "dev", "typescript", &[]);
    export.assert_ok();
    for file in [
        "bin/app.ts",
        "lib/hitl-stack.ts",
        "cdk.json",
        "package.json",
        "tsconfig.json",
        "README.md",
    ] {
        assert!(export.app.path().join(file).is_file(), "{file} missing");
    }
    assert!(
        export
            .file("lib/hitl-stack.ts")
            .contains("export class HitlStack extends cdk.Stack")
    );
    let context = &export.cdk_json()["context"];
    assert_eq!(context["hitl:stackName"], "hitl-dev");
    assert_eq!(context["hitl:code"]["RequestFunction"], "request.zip");
    assert_eq!(context["hitl:code"]["ReviewFunction"], "review.zip");
    assert_eq!(
        context["hitl:restore"]["ApprovalsTable"]["UpdateReplacePolicy"],
        "Delete"
    );
    // The account's API Gateway logging role is one setting per account and region: the app
    // leaves it alone and says so, unless told to set it; then it sets it (kept when the app is
    // destroyed), and the stage waits for it.
    let stack = export.file("lib/hitl-stack.ts");
    assert!(!stack.contains("CfnAccount"), "{stack}");
    assert!(!stack.contains("ApiGatewayCloudWatchRole"));
    assert!(
        export
            .file("README.md")
            .contains("this app leaves it alone")
    );
    let setting = self::export(
        &kit_root(),
        None,
        "dev",
        "typescript",
        &["--api-gateway-account"],
    );
    setting.assert_ok();
    let stack = setting.file("lib/hitl-stack.ts");
    assert!(
        stack.contains("new apigateway.CfnAccount(this, 'ApiGatewayAccount'"),
        "{stack}"
    );
    assert!(stack.contains("new iam.CfnRole(this, 'ApiGatewayCloudWatchRole'"));
    assert_eq!(
        setting.cdk_json()["context"]["hitl:restore"]["ApiGatewayCloudWatchRole"]["UpdateReplacePolicy"],
        "Retain"
    );
    assert!(setting.file("README.md").contains("This app sets it"));
    // The packages' directory, relative to the app, is the kit's build output.
    let lambda_dir = export
        .app
        .path()
        .join(context["hitl:lambdaDir"].as_str().unwrap());
    assert_eq!(
        normalise(&lambda_dir),
        normalise(&kit_root().join("target").join("lambda").join("arm64"))
    );
    let package: Value = serde_json::from_str(&export.file("package.json")).unwrap();
    assert_eq!(package["dependencies"]["aws-cdk-lib"], "2.275.0");
    assert!(package["devDependencies"]["aws-cdk"].is_string());
    assert!(export.file("README.md").contains("build --arch arm64"));
    assert!(
        export
            .seen()
            .contains("Restored UpdateReplacePolicy of ApprovalsTable"),
        "{}",
        export.seen()
    );
}

/// `path` with `..` and `.` resolved without touching the disk.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn the_python_app_byte_compiles() {
    let export = export(&kit_root(), None, "prod", "python", &[]);
    export.assert_ok();
    assert!(
        export
            .file("hitl_stack.py")
            .contains("class HitlStack(Stack):")
    );
    assert!(
        export
            .file("requirements.txt")
            .contains("aws-cdk-lib==2.275.0")
    );
    assert_eq!(export.cdk_json()["app"], "python3 app.py");
    let compiled = Command::new("python3")
        .args(["-m", "py_compile", "app.py", "hitl_stack.py"])
        .current_dir(export.app.path())
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
}

#[test]
fn a_dropped_attribute_is_restored_by_the_app() {
    let dir = config_dir(&[("extra_resources.yaml.hbs", WAIT_CONDITION)]);
    let export = export(dir.path(), Some("hitl.yaml"), "dev", "typescript", &[]);
    export.assert_ok();
    assert!(
        export.seen().contains("Restored CreationPolicy of Signal"),
        "{}",
        export.seen()
    );
    assert_eq!(
        export.cdk_json()["context"]["hitl:restore"]["Signal"]["CreationPolicy"],
        serde_json::json!({"ResourceSignal": {"Count": 1, "Timeout": "PT5M"}})
    );
}

#[test]
fn what_cdk_from_cfn_cannot_express_is_refused_by_name_and_nothing_is_written() {
    let dir = config_dir(&[(
        "extra_outputs.yaml.hbs",
        "  Packages:\n    Value: !Ref AssetBucket\n",
    )]);
    let export = export(dir.path(), Some("hitl.yaml"), "dev", "typescript", &[]);
    assert_eq!(export.output.status.code(), Some(1), "{}", export.stderr());
    let stderr = export.stderr();
    assert!(
        stderr.contains("shop-dev: Outputs.Packages.Value.Ref: refers to a package parameter"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_dir(export.app.path()).unwrap().count(), 0);
}

#[test]
fn an_export_never_lands_on_someone_elses_files() {
    let export_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        export_dir.path().join("package.json"),
        "{\"name\": \"theirs\"}",
    )
    .unwrap();
    let output = run_export(
        &kit_root(),
        None,
        "dev",
        "typescript",
        &[],
        export_dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not empty and holds no earlier export"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(export_dir.path().join("package.json")).unwrap(),
        "{\"name\": \"theirs\"}"
    );
    assert_eq!(std::fs::read_dir(export_dir.path()).unwrap().count(), 1);
    // An earlier export is replaced.
    std::fs::remove_file(export_dir.path().join("package.json")).unwrap();
    for _ in 0..2 {
        let output = run_export(
            &kit_root(),
            None,
            "dev",
            "typescript",
            &[],
            export_dir.path(),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(export_dir.path().join(".hitl-export").is_file());
}

/// Exports with `--verify`: type-check (TypeScript), `cdk synth`, and the comparison with the
/// rendered template.
#[track_caller]
fn assert_verified(dir: &Path, config: Option<&str>, env: &str, lang: &str) {
    assert_verified_with(dir, config, env, lang, &[]);
}

#[track_caller]
fn assert_verified_with(dir: &Path, config: Option<&str>, env: &str, lang: &str, extra: &[&str]) {
    let mut args = vec!["--verify"];
    args.extend(extra);
    let export = export(dir, config, env, lang, &args);
    export.assert_ok();
    assert!(
        export.seen().contains("matches the rendered template"),
        "{}",
        export.seen()
    );
    assert!(export.app.path().join("cdk.out").is_dir());
}

#[test]
#[ignore = "needs npm (the CDK toolchain): run through `cargo xtask test`"]
fn typescript_apps_synthesize_as_rendered_for_dev_prod_and_durable() {
    // `durable`: the durable workflow, whose published version names its CDK asset.
    for env in ["dev", "durable"] {
        assert_verified(&kit_root(), None, env, "typescript");
    }
    // An app that sets the account's API Gateway logging role.
    let extra = ["--api-gateway-account"];
    assert_verified_with(&kit_root(), None, "prod", "typescript", &extra);
}

#[test]
#[ignore = "needs npm (the CDK toolchain): run through `cargo xtask test`"]
fn every_feature_of_the_templates_synthesizes_as_rendered() {
    // Three reviewers with filter policies, Slack, tags, RetainExceptOnCreate, an override
    // directory; the approval policies; and a restored CreationPolicy.
    assert_verified(
        &kit_root(),
        Some("xtask/tests/lint/three-reviewers.yaml"),
        "staging",
        "typescript",
    );
    // The approval policies: the remind function's asset, its schedule group and roles; the
    // Slack app's route, permission and output; sign-in's callback route, permission and
    // output, and Teams' parameter.
    assert_verified(
        &kit_root(),
        Some("xtask/tests/lint/three-reviewers.yaml"),
        "policies",
        "typescript",
    );
    let dir = config_dir(&[("extra_resources.yaml.hbs", WAIT_CONDITION)]);
    assert_verified(dir.path(), Some("hitl.yaml"), "dev", "typescript");
}

#[test]
#[ignore = "needs npm and PyPI (aws-cdk-lib for Python): run through `cargo xtask test`"]
fn the_python_app_synthesizes_as_rendered() {
    assert_verified(&kit_root(), None, "dev", "python");
}

/// The app packages what it was exported with: the export builds the environment's packages
/// and records their SHA-256 in `cdk.json`; the app synthesizes with them, and refuses a
/// package that differs (another environment's, or one built since), naming the command that
/// builds the right one.
#[test]
#[ignore = "needs the tools venv, npm and PyPI (aws-cdk-lib for Python): run through `cargo xtask test`"]
fn the_app_refuses_a_package_it_was_not_exported_with() {
    let dir = config_dir(&[]);
    std::fs::copy(
        kit_root().join("xtask/tests/deploy/hitl.yaml"),
        dir.path().join("hitl.yaml"),
    )
    .unwrap();
    let app = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--config",
            "hitl.yaml",
            "--env",
            "dev",
            "cdk",
            "--lang",
            "python",
            "--out",
        ])
        .arg(app.path())
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let context: Value =
        serde_json::from_str(&std::fs::read_to_string(app.path().join("cdk.json")).unwrap())
            .unwrap();
    let context = &context["context"];
    // The config as given, made absolute: the app's message is read from anywhere.
    let config = dir.path().join("hitl.yaml");
    assert_eq!(
        context["hitl:build"],
        format!(
            "cargo xtask --config {} --env dev build --arch x86_64",
            config.display()
        )
    );
    let built = kit_tools::functions::lambda_dir(kit_config::values::Architecture::X86_64);
    for zip in ["request.zip", "review.zip", "remind.zip"] {
        let digest = context["hitl:sha256"][zip]
            .as_str()
            .expect("a digest per package");
        let bytes = std::fs::read(built.join(zip)).unwrap();
        assert_eq!(digest, kit_base::package::hex_sha256(&bytes), "{zip}");
    }
    let lang: kit_cdk::Lang = "python".parse().unwrap();
    kit_tools::cdk_verify::synthesize(app.path(), lang, &built).expect("the packages it built");
    let other = tempfile::tempdir().unwrap();
    for zip in ["request.zip", "review.zip", "remind.zip"] {
        std::fs::copy(built.join(zip), other.path().join(zip)).unwrap();
    }
    std::fs::write(other.path().join("review.zip"), b"another build").unwrap();
    let refused = kit_tools::cdk_verify::synthesize(app.path(), lang, other.path())
        .expect_err("a package it was not exported with");
    let message = format!("{refused:#}");
    let build = context["hitl:build"].as_str().unwrap();
    assert!(
        message.contains("is not the package this app was exported with")
            && message.contains(build),
        "{message}"
    );
}
