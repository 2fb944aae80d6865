//! The command line as a user meets it: every input mistake gives one clear line naming the file
//! and the line or field, exits non-zero, writes nothing and never panics.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

struct Run {
    output: Output,
    out_dir: tempfile::TempDir,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn written(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.out_dir.path(), &mut out);
        out
    }
}

fn xtask(dir: &Path, args: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env("HITL_OUTPUT_DIR", out_dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run { output, out_dir }
}

const GOOD: &str = "\
project: shop
defaults:
  reviewers: [ana@example.com]
environments:
  dev:
  prod:
    approval_timeout: 3d
";

/// Writes `config` (and override files) to a fresh directory and renders `dev` from it.
fn render_config(config: &str, overrides: &[(&str, &str)], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hitl.yaml"), config).unwrap();
    if !overrides.is_empty() {
        std::fs::create_dir(dir.path().join("overrides")).unwrap();
        for (name, text) in overrides {
            std::fs::write(dir.path().join("overrides").join(name), text).unwrap();
        }
    }
    let mut args = vec!["--config", "hitl.yaml", "render"];
    args.extend_from_slice(extra);
    let run = xtask(dir.path(), &args);
    drop(dir);
    run
}

/// Asserts a clean failure: exit 1, one `error:` line holding every `expected` fragment,
/// no panic, nothing written.
#[track_caller]
fn assert_refused(run: &Run, expected: &[&str]) {
    let stderr = run.stderr();
    assert_eq!(
        run.output.status.code(),
        Some(1),
        "exit code; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for fragment in expected {
        assert!(
            lines[0].contains(fragment),
            "`{fragment}` missing in: {stderr}"
        );
    }
    assert!(run.written().is_empty(), "wrote {:?}", run.written());
}

#[test]
fn a_good_config_renders() {
    let run = render_config(GOOD, &[], &["--env", "prod", "--email", "bo@example.com"]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let template = run.out_dir.path().join("prod/template.yaml");
    let text = std::fs::read_to_string(template).unwrap();
    assert!(text.contains("Endpoint: \"bo@example.com\""));
    assert!(text.contains("Endpoint: \"ana@example.com\""));
    assert!(
        run.stderr().contains("Rendered shop-prod"),
        "{}",
        run.stderr()
    );
}

#[test]
fn unknown_key_at_the_top() {
    let run = render_config(&format!("{GOOD}reviewer: ana@example.com\n"), &[], &[]);
    assert_refused(&run, &["hitl.yaml:8:1", "unknown key `reviewer`"]);
}

#[test]
fn unknown_key_deep_down() {
    let config = "project: shop\nenvironments:\n  dev:\n    lambda:\n      memroy_mb: 512\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:5:7",
            "environments.dev.lambda",
            "unknown key `memroy_mb`",
        ],
    );
}

#[test]
fn wrong_type() {
    let config = "project: shop\ndefaults:\n  lambda: 512\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(&run, &["hitl.yaml:3", "defaults.lambda", "invalid type"]);
}

#[test]
fn bad_duration() {
    let config = "project: shop\ndefaults:\n  approval_timeout: 5x\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:3:3",
            "defaults.approval_timeout",
            "`5x` is not a duration",
            "24h",
        ],
    );
}

#[test]
fn out_of_range_duration() {
    let config = "project: shop\nenvironments:\n  dev:\n    approval_timeout: 400d\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:4:5",
            "environments.dev.approval_timeout",
            "out of range",
            "364d",
        ],
    );
}

#[test]
fn invalid_email_in_the_file() {
    let config = "project: shop\ndefaults:\n  reviewers: [ana@example.com, ana.example.com]\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:3",
            "defaults.reviewers",
            "`ana.example.com` is not a valid email",
        ],
    );
}

#[test]
fn invalid_email_on_the_command_line() {
    let run = render_config(GOOD, &[], &["--email", "not-an-address"]);
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--email") && stderr.contains("not-an-address"),
        "{stderr}"
    );
    assert!(run.written().is_empty());
}

#[test]
fn unknown_environment() {
    let run = render_config(GOOD, &[], &["--env", "qa"]);
    assert_refused(&run, &["hitl.yaml", "no environment `qa`", "dev, prod"]);
}

#[test]
fn memory_lambda_rejects() {
    let config = "project: shop\nenvironments:\n  dev:\n    lambda:\n      memory_mb: 64\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:5:7",
            "environments.dev.lambda.memory_mb",
            "128 to 10240",
        ],
    );
}

#[test]
fn architecture_lambda_rejects() {
    let config = "project: shop\nenvironments:\n  dev:\n    lambda:\n      architecture: arm32\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &["hitl.yaml:5", "architecture", "`arm64`", "`x86_64`"],
    );
}

#[test]
fn an_unknown_orchestrator_is_refused_at_its_line_naming_both() {
    let config = "project: shop\nenvironments:\n  dev:\n    orchestrator: lambda\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:4",
            "orchestrator",
            "`step-functions`",
            "`durable-function`",
        ],
    );
}

#[test]
fn project_name_cloudformation_rejects() {
    let run = render_config("project: My_Shop\nenvironments:\n  dev:\n", &[], &[]);
    assert_refused(
        &run,
        &["hitl.yaml:1", "project", "`My_Shop` is not a valid name"],
    );
}

#[test]
fn missing_override_directory() {
    let config = "project: shop\nenvironments:\n  dev:\n    templates: overrides/dev\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:4",
            "environments.dev.templates",
            "`overrides/dev` does not exist",
        ],
    );
}

#[test]
fn handlebars_syntax_error_in_an_override() {
    let config = "project: shop\nenvironments:\n  dev:\n    templates: overrides\n";
    let run = render_config(
        config,
        &[("topic.yaml.hbs", "  Topic:\n    Type: {{#each}\n")],
        &[],
    );
    assert_refused(&run, &["topic.yaml.hbs:2", "template syntax error"]);
}

#[test]
fn missing_template_variable() {
    let config = "project: shop\nenvironments:\n  dev:\n    templates: overrides\n";
    let partial =
        "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {{queue_name}}\n";
    let run = render_config(config, &[("extra_resources.yaml.hbs", partial)], &[]);
    assert_refused(
        &run,
        &[
            "extra_resources.yaml.hbs:4",
            "`queue_name` is not a template variable",
        ],
    );
}

#[test]
fn an_override_that_breaks_the_document() {
    let config = "project: shop\nenvironments:\n  dev:\n    templates: overrides\n";
    let run = render_config(config, &[("extra_resources.yaml.hbs", "Queue: [\n")], &[]);
    assert_refused(&run, &["stack.yaml.hbs", "not valid YAML"]);
}

#[test]
fn broken_yaml() {
    let run = render_config("project: shop\nenvironments:\n  dev: [\n", &[], &[]);
    assert_refused(&run, &["hitl.yaml:"]);
}

#[test]
fn empty_file() {
    let run = render_config("# nothing yet\n\n", &[], &[]);
    assert_refused(&run, &["hitl.yaml", "the file is empty", "project"]);
}

#[test]
fn missing_project() {
    let run = render_config("environments:\n  dev:\n", &[], &[]);
    assert_refused(&run, &["hitl.yaml:1", "missing key `project`"]);
}

#[test]
fn secret_where_a_parameter_name_belongs() {
    let config = "project: shop\nenvironments:\n  dev:\n    slack_webhook_parameter: https://hooks.slack.com/services/T000/B000/XXXX\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:4",
            "environments.dev.slack_webhook_parameter",
            "SecureString",
        ],
    );
    assert!(
        !run.stderr().contains("XXXX"),
        "the secret is echoed: {}",
        run.stderr()
    );
}

/// serde_yaml places a value's error at the start of its mapping: a bad value after other keys
/// is still named by its own line and key.
#[test]
fn a_bad_value_after_other_keys_names_its_own_line() {
    let config = "project: shop\nenvironments:\n  dev:\n    retention: 7d\n    lambda:\n      memory_mb: 256\n      timeout: 2000s\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:7:7:",
            "environments.dev.lambda.timeout",
            "`2000s` is out of range",
        ],
    );
}

#[test]
fn a_kms_alias_where_a_key_arn_belongs() {
    let config = GOOD.replace(
        "defaults:\n",
        "defaults:\n  slack_webhook_parameter: /hitl/slack\n  slack_webhook_kms_key: alias/my-key\n",
    );
    let run = render_config(&config, &[], &[]);
    assert_refused(
        &run,
        &["hitl.yaml:4:", "slack_webhook_kms_key", "not a KMS key ARN"],
    );
}

#[test]
fn a_kms_key_without_the_slack_parameter() {
    let config = GOOD.replace(
        "  dev:\n",
        "  dev:\n    slack_webhook_kms_key: arn:aws:kms:eu-west-1:111122223333:key/abcd-1234\n",
    );
    let run = render_config(&config, &[], &[]);
    assert_refused(
        &run,
        &[
            "hitl.yaml:6:",
            "environments.dev.slack_webhook_kms_key",
            "no slack_webhook_parameter",
        ],
    );
}

#[test]
fn log_retention_cloudwatch_rejects() {
    let config = "project: shop\ndefaults:\n  log_retention_days: 31\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(
        &run,
        &["hitl.yaml:3", "defaults.log_retention_days", "30, 60"],
    );
}

#[test]
fn reserved_tag_key() {
    let config = "project: shop\ndefaults:\n  tags:\n    aws:team: x\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(&run, &["hitl.yaml:4", "defaults.tags", "reserved prefix"]);
}

#[test]
fn duplicate_key() {
    let config = "project: shop\nproject: other\nenvironments:\n  dev:\n";
    let run = render_config(config, &[], &[]);
    assert_refused(&run, &["hitl.yaml:2", "duplicate"]);
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = xtask(dir.path(), &["--config", "nope.yaml", "render"]);
    assert_refused(&run, &["nope.yaml", "no such file", "--config"]);
}

#[test]
fn a_mistake_in_one_environment_writes_no_template_at_all() {
    let config = "project: shop\nenvironments:\n  dev:\n  prod:\n    templates: missing\n";
    let run = render_config(config, &[], &["--all"]);
    assert_refused(&run, &["environments.prod.templates"]);
}

#[test]
fn config_prints_the_merged_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hitl.yaml"), GOOD).unwrap();
    let run = xtask(
        dir.path(),
        &["--config", "hitl.yaml", "--env", "prod", "config", "--json"],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let config: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(config["approval_timeout"], "3d");
    assert_eq!(config["stack_name"], "shop-prod");
    assert_eq!(config["reviewers"][0], "ana@example.com");
    assert_eq!(config["lambda"]["memory_mb"], 256);
}

#[test]
fn the_committed_schema_is_current() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let run = xtask(kit, &["schema"]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let committed = std::fs::read_to_string(kit.join("hitl.schema.json")).unwrap();
    assert!(
        committed == run.stdout(),
        "hitl.schema.json is stale: run `cargo xtask schema --write`"
    );
}

/// The reference sections of docs/ (the config's keys, the template variables) are what the
/// code generates.
#[test]
fn the_committed_docs_are_current() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let run = xtask(kit, &["docs"]);
    assert!(
        run.output.status.success(),
        "the generated reference in docs/ is stale: run `cargo xtask docs --write`\n{}",
        run.stderr()
    );
}

#[test]
fn the_shipped_config_renders_every_environment() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let run = xtask(kit, &["render", "--all"]);
    assert!(run.output.status.success(), "{}", run.stderr());
    for env in ["dev", "prod", "local"] {
        assert!(
            run.out_dir.path().join(env).join("template.yaml").is_file(),
            "{env}"
        );
    }
}

/// `doctor` reports the machine and the account a deploy would use, each finding on its own
/// line; with credentials from the environment and an endpoint that does not answer, it names
/// the region and the key and says CloudFormation cannot be read, exit 1.
#[test]
fn doctor_reports_the_machine_and_the_account() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["doctor", "--env", "dev", "--region", "eu-west-3"])
        .current_dir(kit)
        .env("HITL_OUTPUT_DIR", out_dir.path())
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEDOCTOR")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in [
        "Rust",
        "Lambda target",
        "Python with venv",
        "npm",
        "Chromium",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(
        stdout.contains("AWS region             eu-west-3"),
        "{stdout}"
    );
    assert!(stdout.contains("access key …CTOR (long-term)"), "{stdout}");
    assert!(!stdout.contains("secret"), "{stdout}");
    let bootstrap = stdout
        .lines()
        .find(|l| l.contains("bootstrap stack"))
        .unwrap();
    assert!(bootstrap.trim_start().starts_with("missing"), "{stdout}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The local environment needs no account.
    let local = xtask(kit, &["doctor", "--env", "local"]);
    assert!(
        local.stdout().contains("local environment"),
        "{}",
        local.stdout()
    );
    // Nothing it lacks is required for the local environment (no Lambda target, no account).
    let python = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .status();
    if python.is_ok_and(|s| s.success()) {
        assert_eq!(local.output.status.code(), Some(0), "{}", local.stdout());
    }
}

/// `deploy` for an architecture whose Rust target is missing stops before it installs or
/// deploys anything, with advice that works for `deploy` (which has no `--arch`).
#[test]
fn deploy_without_the_functions_target_says_how_to_fix_it() {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let rustlib =
        PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib");
    let Some((arch, target, other)) = [
        ("arm64", "aarch64-unknown-linux-gnu", "x86_64"),
        ("x86_64", "x86_64-unknown-linux-gnu", "arm64"),
    ]
    .into_iter()
    .find(|(_, target, _)| !rustlib.join(target).join("lib").is_dir()) else {
        eprintln!("both Lambda targets are installed: nothing to refuse here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{GOOD}    lambda:\n      architecture: {arch}\n");
    std::fs::write(dir.path().join("hitl.yaml"), config).unwrap();
    let run = xtask(
        dir.path(),
        &["--config", "hitl.yaml", "--env", "prod", "deploy", "--yes"],
    );
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("rustup target add {target}")),
        "{stderr}"
    );
    assert!(
        errors[0].contains(&format!("`lambda.architecture: {other}`")),
        "{stderr}"
    );
    assert!(!errors[0].contains("--arch"), "{stderr}");
    assert!(!stderr.contains("Installing"), "{stderr}");
}

/// A fake AWS endpoint for `confirm`: CloudFormation knows the stack `shop-dev` with its topic,
/// SNS confirms anything; every request body is kept.
fn fake_aws() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let answer = if body.contains("Action=DescribeStacks") {
                "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStacksResult><Stacks><member><StackName>shop-dev</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/shop-dev/1</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-12-02T10:00:00Z</CreationTime><Outputs><member><OutputKey>TopicArn</OutputKey><OutputValue>arn:aws:sns:us-east-1:123456789012:shop-dev-approvals</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>"
            } else {
                "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:us-east-1:123456789012:shop-dev-approvals:5e1f</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"
            };
            kept.lock().unwrap().push(body);
            let _ =
                request.respond(tiny_http::Response::from_string(answer).with_header(
                    tiny_http::Header::from_bytes("Content-Type", "text/xml").unwrap(),
                ));
        }
    });
    (url, seen)
}

fn confirm(dir: &Path, endpoint: &str, link: &str) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--config")
        .arg(dir.join("hitl.yaml"))
        .args(["--region", "us-east-1", "confirm", link])
        .current_dir(dir)
        .env("HITL_OUTPUT_DIR", out_dir.path())
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    Run { output, out_dir }
}

/// `confirm` confirms with AuthenticateOnUnsubscribe, for the environment's own topic only, so
/// that the one-click unsubscribe link in every email stops working.
#[test]
fn confirm_authenticates_unsubscribes_and_takes_only_the_environments_topic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hitl.yaml"), GOOD).unwrap();
    let (endpoint, seen) = fake_aws();
    let link = "https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=arn:aws:sns:us-east-1:123456789012:shop-dev-approvals&Token=2336412f37fb&Endpoint=ana%40example.com";
    let run = confirm(dir.path(), &endpoint, link);
    assert!(run.output.status.success(), "{}", run.stderr());
    assert!(
        run.stderr().contains("Confirmed ana@example.com"),
        "{}",
        run.stderr()
    );
    let confirmed = seen
        .lock()
        .unwrap()
        .iter()
        .find(|b| b.contains("Action=ConfirmSubscription"))
        .cloned()
        .expect("a ConfirmSubscription call");
    assert!(
        confirmed.contains("AuthenticateOnUnsubscribe=true"),
        "{confirmed}"
    );
    assert!(confirmed.contains("Token=2336412f37fb"), "{confirmed}");

    // Another topic's link, or no link at all: refused, nothing confirmed.
    seen.lock().unwrap().clear();
    let other = link.replace("shop-dev-approvals", "someone-elses");
    let run = confirm(dir.path(), &endpoint, &other);
    assert!(!run.output.status.success());
    assert!(
        run.stderr().contains("not to shop-dev's topic"),
        "{}",
        run.stderr()
    );
    let run = confirm(
        dir.path(),
        &endpoint,
        "https://sns.us-east-1.amazonaws.com/confirmation.html",
    );
    assert!(!run.output.status.success());
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("ConfirmSubscription")),
        "a refused link reached SNS"
    );
}

/// The approval policies' keys: each mistake refused at its line, naming the field.
#[test]
fn policy_mistakes_name_file_line_and_field() {
    let with = |settings: &str| {
        format!(
            "project: shop\ndefaults:\n  reviewers: [ana@example.com, bo@example.com]\n  \
             approval_timeout: 2h\nenvironments:\n  dev:\n{settings}"
        )
    };
    let cases: [(&str, &[&str]); 6] = [
        (
            "    quorum: 0\n",
            &[
                "hitl.yaml:7:5",
                "environments.dev.quorum",
                "`0` is not a quorum",
            ],
        ),
        (
            "    quorum: 3\n",
            &[
                "hitl.yaml:7",
                "environments.dev.quorum",
                "quorum 3 needs at least 3 reviewers",
            ],
        ),
        (
            "    remind_after: 3h\n",
            &[
                "hitl.yaml:7",
                "environments.dev.remind_after",
                "not before the approval timeout (2h)",
            ],
        ),
        (
            "    escalate_after: 1h\n    escalate_to: [the boss]\n",
            &[
                "hitl.yaml:8",
                "environments.dev.escalate_to",
                "`the boss` is not a valid email",
            ],
        ),
        (
            "    escalate_to: [boss@example.com]\n",
            &[
                "hitl.yaml:7",
                "environments.dev.escalate_to",
                "without escalate_after",
            ],
        ),
        (
            "    attachment_buckets: [Shop_Data]\n",
            &[
                "hitl.yaml:7",
                "environments.dev.attachment_buckets",
                "`Shop_Data` is not an S3 bucket name",
            ],
        ),
    ];
    for (settings, expected) in cases {
        let run = render_config(&with(settings), &[], &[]);
        assert_refused(&run, expected);
    }
}

/// An environment whose reviewers come from `--email` at deploy: rendering checks its quorum
/// against them, and the verbs that read the deployed stack take it without them (they used to
/// refuse it: "quorum 2 needs at least 2 reviewers, and this environment has 0").
#[test]
fn a_quorum_met_by_email_flags_never_stops_the_verbs_that_read_the_stack() {
    let config = "project: shop\nenvironments:\n  dev:\n    quorum: 2\n";
    let rendered = render_config(config, &[], &["--email", "a@example.com"]);
    assert_refused(&rendered, &["environments.dev.quorum", "needs at least 2"]);
    let two = render_config(
        config,
        &[],
        &["--email", "a@example.com", "--email", "b@example.com"],
    );
    assert!(two.output.status.success(), "{}", two.stderr());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hitl.yaml"), config).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out_dir = tempfile::tempdir().unwrap();
    for verb in [&["status"][..], &["outputs"], &["destroy", "--yes"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "--config",
                "hitl.yaml",
                "--env",
                "dev",
                "--region",
                "eu-west-3",
            ])
            .args(verb)
            .current_dir(dir.path())
            .env("HITL_OUTPUT_DIR", out_dir.path())
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEQUORUM")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The endpoint does not answer, so each fails; never because of the config.
        assert!(!stderr.contains("quorum"), "{verb:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{verb:?}: {stderr}");
    }
}

/// A checkout moved or renamed after it was built (cargo keeps `target/` fresh) is the kit where
/// it is now: its templates are rendered, and into its own `target/`, never the old path's.
#[test]
fn a_moved_checkout_renders_its_own_templates_into_its_own_target() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let moved = tempfile::tempdir().unwrap();
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    for dir in ["templates", "templates/partials", "statemachine"] {
        for entry in std::fs::read_dir(kit.join(dir)).unwrap().flatten() {
            if entry.path().is_file() {
                copy(
                    &entry.path(),
                    &moved.path().join(dir).join(entry.file_name()),
                );
            }
        }
    }
    copy(
        &kit.join("xtask/Cargo.toml"),
        &moved.path().join("xtask/Cargo.toml"),
    );
    std::fs::write(moved.path().join("hitl.yaml"), GOOD).unwrap();
    // Marked, to tell the moved kit's templates from the original's.
    let stack = moved.path().join("templates/stack.yaml.hbs");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("hitl human-in-the-loop", "moved hitl")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["render", "--env", "dev"])
        .current_dir(moved.path().join("xtask"))
        .env("NO_COLOR", "1")
        .env_remove("HITL_OUTPUT_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let written = moved.path().join("target/hitl/dev/template.yaml");
    let template = std::fs::read_to_string(&written).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert!(template.contains("moved hitl"), "{template}");
}

/// `start --name` is checked against the orchestrator's rules before any call: one line naming
/// the rule, exit 1 (the endpoint does not answer, so a call would have said something else).
#[test]
fn an_execution_name_the_orchestrator_refuses_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = "project: shop\ndefaults:\n  reviewers: [ana@example.com]\nenvironments:\n  \
                  dev:\n  durable:\n    orchestrator: durable-function\n";
    std::fs::write(dir.path().join("hitl.yaml"), config).unwrap();
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let event = kit.join("events/expense.json");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for (env, name, rule) in [
        ("dev", "two words", "1 to 80 characters"),
        ("durable", "with.dot", "1 to 64 characters"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "--config",
                "hitl.yaml",
                "--env",
                env,
                "--region",
                "eu-west-3",
            ])
            .args(["start", "--event"])
            .arg(&event)
            .args(["--name", name])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLENAME")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: --name `"), "{stderr}");
        assert!(stderr.contains(rule), "{stderr}");
    }
}

/// A faults spec that does not parse stops `local up`, `test` and `bench chaos` before they
/// start anything: one line naming the option, the fault and how to write one.
#[test]
fn a_bad_faults_spec_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for command in [&["local", "up"][..], &["test"], &["bench", "chaos"]] {
        let args = [command, &["--faults", "dynamodb:slow:0.1"]].concat();
        let run = xtask(dir.path(), &args);
        assert_refused(
            &run,
            &[
                "--faults",
                "`dynamodb:slow:0.1`",
                "`slow` is no kind",
                "e.g.",
            ],
        );
    }
    let run = xtask(dir.path(), &["test", "--faults", " "]);
    assert_refused(&run, &["--faults", "at least one fault", "e.g."]);
    // Only the chaos suite takes faults: said before any other suite runs.
    let args = [
        "bench",
        "functions",
        "chaos",
        "--faults",
        "dynamodb:slow:0.1",
    ];
    assert_refused(&xtask(dir.path(), &args), &["`slow` is no kind"]);
    let args = ["bench", "functions", "--faults", "dynamodb:error:0.1"];
    assert_refused(&xtask(dir.path(), &args), &["only the chaos suite"]);
}

#[test]
fn a_bad_rate_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for rate in ["0", "0.09", "1e-300", "-3", "NaN", "inf", "1001", "fast"] {
        let run = xtask(dir.path(), &["bench", "load", "--rate", rate]);
        let stderr = run.stderr();
        assert_eq!(run.output.status.code(), Some(2), "{rate}: {stderr}");
        assert!(
            stderr.contains("--rate") && stderr.contains(&format!("`{rate}` is no rate")),
            "{stderr}"
        );
        assert!(run.written().is_empty());
    }
    // Only the load suite takes a rate: said before any other suite runs.
    let args = ["bench", "render", "--rate", "5"];
    assert_refused(
        &xtask(dir.path(), &args),
        &["--rate", "only the load suite"],
    );
}
