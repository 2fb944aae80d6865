//! Build, deploy and destroy as a user runs them against AWS, here against a moto server through
//! `AWS_ENDPOINT_URL`: change sets with their summary, uploads only of what is missing, updates,
//! recovery from a stack CloudFormation cannot update, destroy with and without `--all`, a
//! template too large for the request. moto sits behind the kit's router, which refuses what AWS
//! refuses and moto would take (a `TemplateBody` over 51,200 bytes).
//!
//! `#[ignore]`d in a plain `cargo test` (it builds the release functions and needs the tools
//! venv); `cargo xtask test` runs it.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

use base64::Engine;
use kit_config::values::Architecture::X86_64;
use sha2::{Digest, Sha256};
use support::{free_port, kit_root, wait_for_port};

/// Both tests build into `target/lambda/`: one at a time.
static BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Moto {
    child: Child,
    router: Child,
    /// The router in front of moto.
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        for child in [&mut self.router, &mut self.child] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_moto() -> Moto {
    let port = free_port();
    let python = kit_root().join("target/tools/venv/bin/python");
    assert!(
        python.exists(),
        "no {}: run `cargo xtask test`",
        python.display()
    );
    // As the local environment runs it (`xtask/local/moto_server.py`).
    let child = Command::new(python)
        .arg(kit_root().join("xtask/local/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "moto server");
    let router_port = free_port();
    let router = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("local-router")
        .args(["--listen", &format!("127.0.0.1:{router_port}")])
        .args(["--moto", &format!("http://127.0.0.1:{port}")])
        .args(["--durable", "http://127.0.0.1:9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(router_port, "the router");
    Moto {
        child,
        router,
        endpoint: format!("http://127.0.0.1:{router_port}"),
    }
}

struct Kit<'a> {
    moto: &'a Moto,
    config: PathBuf,
    out: PathBuf,
}

impl<'a> Kit<'a> {
    /// The kit on `moto`, with a copy of `xtask/tests/deploy/hitl.yaml` in `dir`.
    fn new(moto: &'a Moto, dir: &Path) -> Kit<'a> {
        let config = dir.join("hitl.yaml");
        std::fs::copy(kit_root().join("xtask/tests/deploy/hitl.yaml"), &config).unwrap();
        Kit {
            moto,
            config,
            out: dir.join("out"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(kit_root())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("HITL_OUTPUT_DIR", &self.out)
            .env("NO_COLOR", "1")
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "$ xtask {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "xtask {args:?} failed");
        String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout)
    }
}

fn sdk(moto: &Moto) -> (tokio::runtime::Runtime, aws_config::SdkConfig) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = runtime.block_on(
        hitl_aws::config_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load(),
    );
    (runtime, sdk)
}

/// The logical IDs of a rendered template's resources.
fn resources_of(template: &Path) -> Vec<String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// An environment with 60 reviewers renders over 51,200 bytes, the most CloudFormation takes in a
/// request (with its alarms and its expiry check's resources, every stack does):
/// the kit uploads such a template to the asset bucket and passes its URL, for change sets and
/// for direct deploys alike.
#[test]
#[ignore = "builds the release functions and needs the tools venv: run through `cargo xtask test`"]
fn a_template_over_the_request_limit_is_deployed_from_the_bucket() {
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    let kit = Kit::new(&moto, dir.path());
    let emails: Vec<String> = (0..60)
        .map(|i| format!("reviewer-{i:02}@example.com"))
        .collect();
    let with_emails = |base: &[&'static str]| {
        let mut args: Vec<&str> = base.to_vec();
        for email in &emails {
            args.extend(["--email", email.as_str()]);
        }
        args
    };
    let (runtime, sdk) = sdk(&moto);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);

    // A stack without the reviewers first: over the limit already, from the bucket too.
    kit.ok(&["--env", "staging", "deploy", "--yes", "--method", "direct"]);
    kit.ok(&with_emails(&["--env", "staging", "render"]));
    let template = std::fs::read_to_string(kit.out.join("staging/template.yaml")).unwrap();
    assert!(
        template.len() > 51_200,
        "only {} bytes: not over the limit",
        template.len()
    );

    // The endpoint refuses the template in the request, as CloudFormation does.
    let refused = runtime
        .block_on(cfn.validate_template().template_body(&template).send())
        .unwrap_err();
    assert!(
        format!("{:?}", refused).contains("less than or equal to 51200"),
        "{refused:?}"
    );

    // A change set (an update of the small stack) from the bucket.
    let out = kit.ok(&with_emails(&["--env", "staging", "deploy", "--yes"]));
    assert!(out.contains("to add"), "{out}");
    let objects = runtime
        .block_on(
            aws_sdk_s3::Client::new(&sdk)
                .list_objects_v2()
                .bucket(bucket_of(&runtime, &cfn))
                .prefix("kit/templates/kit-staging-")
                .send(),
        )
        .unwrap()
        .contents
        .unwrap_or_default();
    // One per template deployed: the first, and this one.
    assert_eq!(objects.len(), 2, "{objects:?}");
    let deployed = runtime
        .block_on(cfn.get_template().stack_name("kit-staging").send())
        .unwrap()
        .template_body
        .unwrap();
    assert_eq!(deployed, template);
    for email in ["reviewer-00@example.com", "reviewer-59@example.com"] {
        assert!(deployed.contains(email), "{email}");
    }

    // A direct update from the bucket too, with one reviewer more.
    let mut args = with_emails(&["--env", "staging", "deploy", "--yes", "--method", "direct"]);
    args.extend(["--email", "reviewer-60@example.com"]);
    kit.ok(&args);
    let deployed = runtime
        .block_on(cfn.get_template().stack_name("kit-staging").send())
        .unwrap()
        .template_body
        .unwrap();
    assert!(deployed.contains("reviewer-60@example.com"));
}

/// `status` (`status` its output) shows the alarms, all quiet, then one going off,
/// named with why; and who they email, each address's subscription shown as the reviewers'
/// are (moto skips the template's: gone).
fn assert_alarms_in_status(kit: &Kit, moto: &Moto, status: &str) {
    assert!(
        status.contains("alarms             14, none in alarm"),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.contains("alerts@example.com") && l.contains("gone")),
        "{status}"
    );
    assert!(status.contains("alarm emails\n"), "{status}");
    cloudwatch_query(
        moto,
        "Action=SetAlarmState&AlarmName=kit-dev-review-errors&StateValue=ALARM&StateReason=a+test",
    );
    let status = kit.ok(&["--env", "dev", "status"]);
    assert!(
        status.contains("alarms             14, 1 IN ALARM"),
        "{status}"
    );
    assert!(
        status.contains("  kit-dev-review-errors  a test"),
        "{status}"
    );
}

/// The names of moto's CloudWatch alarms that begin with `prefix`, read apart from the kit.
fn alarm_names(moto: &Moto, prefix: &str) -> Vec<String> {
    let query = format!("Action=DescribeAlarms&AlarmNamePrefix={prefix}");
    let xml = cloudwatch_query(moto, &query);
    xml.split("<AlarmName>")
        .skip(1)
        .filter_map(|rest| rest.split("</AlarmName>").next())
        .map(str::to_owned)
        .collect()
}

/// A CloudWatch query API call (`Action=…&…`) to moto; its XML answer.
fn cloudwatch_query(moto: &Moto, query: &str) -> String {
    // The kit's own key is not checked by the router; moto routes by the credential's service.
    let authorization = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/monitoring/\
                         aws4_request, SignedHeaders=host, Signature=0";
    let mut answer = ureq::post(&moto.endpoint)
        .content_type("application/x-www-form-urlencoded")
        .header("authorization", authorization)
        .send(format!("{query}&Version=2010-08-01"))
        .unwrap();
    answer.body_mut().read_to_string().unwrap()
}

/// The review function's role's inline policy, as IAM holds it now.
fn review_policy(runtime: &tokio::runtime::Runtime, iam: &aws_sdk_iam::Client) -> String {
    let role = role_names(runtime, iam)
        .into_iter()
        .find(|r| r.contains("ReviewFunctionRole"))
        .expect("the review function's role");
    let request = iam.get_role_policy().role_name(role).policy_name("review");
    let policy = runtime.block_on(request.send()).unwrap().policy_document;
    // IAM answers the document URL-encoded (RFC 3986).
    percent_encoding::percent_decode_str(&policy)
        .decode_utf8_lossy()
        .into_owned()
}

fn role_names(runtime: &tokio::runtime::Runtime, iam: &aws_sdk_iam::Client) -> Vec<String> {
    runtime
        .block_on(iam.list_roles().send())
        .unwrap()
        .roles
        .into_iter()
        .map(|r| r.role_name)
        .collect()
}

/// The asset bucket the bootstrap stack made.
fn bucket_of(runtime: &tokio::runtime::Runtime, cfn: &aws_sdk_cloudformation::Client) -> String {
    runtime
        .block_on(cfn.describe_stacks().stack_name("hitl-bootstrap").send())
        .unwrap()
        .stacks
        .unwrap()[0]
        .outputs
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.output_key.as_deref() == Some("BucketName"))
        .and_then(|o| o.output_value)
        .expect("the bootstrap stack's BucketName output")
}

/// One scenario in the order a user lives it, each step on the stack the step before left (so one
/// function, long on purpose: split, its steps would each redo the deploys before them).
#[test]
#[ignore = "builds the release functions and needs the tools venv: run through `cargo xtask test`"]
fn deploy_update_recover_and_destroy_against_cloudformation() {
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    let kit = Kit::new(&moto, dir.path());
    let config = kit.config.clone();
    let (runtime, sdk) = sdk(&moto);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);

    // 1. A first deploy by change set: every resource listed, then created.
    let first = kit.ok(&["--env", "dev", "deploy", "--yes"]);
    let template = kit.out.join("dev/template.yaml");
    let logical_ids = resources_of(&template);
    assert!(
        first.contains(&format!(
            "{} to add, 0 to modify, 0 to remove",
            logical_ids.len()
        )),
        "{first}"
    );
    for id in &logical_ids {
        assert!(
            first.contains(id.as_str()),
            "{id} missing from the change set summary"
        );
    }
    // The alarms exist, as on AWS (moto's CloudFormation skips them; the local moto makes
    // them: `xtask/local/moto_server.py`).
    let alarms = alarm_names(&moto, "kit-dev-");
    assert_eq!(alarms.len(), 14, "{alarms:?}");
    assert!(
        alarms.contains(&"kit-dev-review-errors".to_owned()),
        "{alarms:?}"
    );
    assert!(first.contains("Created hitl-bootstrap"), "{first}");
    let listed = runtime
        .block_on(cfn.describe_stack_resources().stack_name("kit-dev").send())
        .unwrap()
        .stack_resources
        .unwrap_or_default();
    for (id, kind) in [
        ("ApprovalsTable", "AWS::DynamoDB::Table"),
        ("Topic", "AWS::SNS::Topic"),
        ("RequestFunction", "AWS::Lambda::Function"),
        ("ReviewFunction", "AWS::Lambda::Function"),
        ("Api", "AWS::ApiGateway::RestApi"),
        ("StateMachine", "AWS::StepFunctions::StateMachine"),
        ("RequestFunctionRole", "AWS::IAM::Role"),
        ("StateMachineRole", "AWS::IAM::Role"),
    ] {
        assert!(
            listed
                .iter()
                .any(|r| r.logical_resource_id.as_deref() == Some(id)
                    && r.resource_type.as_deref() == Some(kind)),
            "{id} ({kind}) was not created"
        );
    }
    // Each reviewer's subscription in `status`: moto skips the template's email subscriptions
    // (gone), and confirms one made through the API at once (as a click would, without
    // authentication).
    let status = kit.ok(&["--env", "dev", "status"]);
    assert!(
        status
            .lines()
            .any(|l| l.contains("ops@example.com") && l.contains("gone")),
        "{status}"
    );
    assert_alarms_in_status(&kit, &moto, &status);
    let topic = runtime
        .block_on(
            cfn.describe_stack_resource()
                .stack_name("kit-dev")
                .logical_resource_id("Topic")
                .send(),
        )
        .unwrap()
        .stack_resource_detail
        .unwrap()
        .physical_resource_id
        .unwrap();
    runtime
        .block_on(
            aws_sdk_sns::Client::new(&sdk)
                .subscribe()
                .topic_arn(&topic)
                .protocol("email")
                .endpoint("ops@example.com")
                .send(),
        )
        .unwrap();
    let status = kit.run(&["--env", "dev", "status", "--json"]);
    assert!(status.status.success());
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["reviewers"][0]["reviewer"], "ops@example.com");
    assert!(
        report["reviewers"][0]["subscription"]
            .as_str()
            .unwrap()
            .starts_with("confirmed"),
        "{report}"
    );

    // The functions run the zips the kit built and uploaded.
    for function in ["request", "review"] {
        let zip = std::fs::read(kit_tools::functions::zip_path(X86_64, function)).unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
        let config = runtime
            .block_on(
                lambda
                    .get_function_configuration()
                    .function_name(format!("kit-dev-{function}"))
                    .send(),
            )
            .unwrap();
        assert_eq!(
            config.code_sha256.as_deref(),
            Some(expected.as_str()),
            "{function}"
        );
        assert_eq!(config.memory_size, Some(256));
    }

    // 2. Nothing changed: nothing uploaded, nothing executed.
    let again = kit.ok(&["--env", "dev", "deploy", "--yes"]);
    assert!(again.contains("no changes, 0 B uploaded"), "{again}");
    assert!(!again.contains("to add"), "{again}");

    // 3. A config change shows as Modify and is applied.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("memory_mb: 256", "memory_mb: 512").replace(
        "  reviewers:",
        "  approval_timeout: 2h\n  attachment_buckets: [kit-data]\n  reviewers:",
    );
    std::fs::write(&config, text).unwrap();
    let changed = kit.ok(&["--env", "dev", "deploy", "--yes"]);
    for id in ["RequestFunction", "StateMachine"] {
        assert!(
            changed
                .lines()
                .any(|l| l.contains("Modify") && l.contains(&format!(" {id} "))),
            "{id} not shown as Modify: {changed}"
        );
    }
    assert!(
        changed.contains("0 B uploaded"),
        "same code, nothing to upload: {changed}"
    );
    let config_now = runtime
        .block_on(
            lambda
                .get_function_configuration()
                .function_name("kit-dev-request")
                .send(),
        )
        .unwrap();
    assert_eq!(config_now.memory_size, Some(512));
    let variables = config_now.environment.unwrap().variables.unwrap();
    assert_eq!(variables["APPROVAL_TIMEOUT_SECONDS"], "7200");
    // A role's inline policy follows the template, as CloudFormation updates it in place.
    let policy = review_policy(&runtime, &aws_sdk_iam::Client::new(&sdk));
    assert!(
        policy.contains("arn:aws:s3:::kit-data/*"),
        "the review role's policy was not updated: {policy}"
    );

    // 3b. A change CloudFormation rejects: its reason is shown, and the next deploy (the mistake
    // taken out) goes through from wherever the first one left the stack.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("extra_resources.yaml.hbs"),
        "  Broken:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt NoSuchResource.QueueName\n",
    )
    .unwrap();
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("  dev:\n", "  dev:\n    templates: broken\n"),
    )
    .unwrap();
    let rejected = kit.run(&["--env", "dev", "deploy", "--yes"]);
    let reason = String::from_utf8_lossy(&rejected.stderr);
    assert!(!rejected.status.success(), "{reason}");
    assert!(
        reason.contains("NoSuchResource"),
        "the reason is not shown: {reason}"
    );
    std::fs::write(&config, &good).unwrap();
    let recovered = kit.ok(&["--env", "dev", "deploy", "--yes"]);
    assert!(recovered.contains("Deployed kit-dev"), "{recovered}");

    // 4. A stack CloudFormation cannot update (a create change set never executed, as a failed
    // or interrupted first deploy leaves it) is removed and created again.
    runtime
        .block_on(
            cfn.create_change_set()
                .stack_name("kit-staging")
                .change_set_name("interrupted")
                .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
                .template_body(r#"{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}"#)
                .send(),
        )
        .unwrap();
    let refused = kit.run(&["--env", "staging", "deploy"]);
    assert!(
        !refused.status.success(),
        "asked without a terminal: must refuse"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --yes"));
    let recovered = kit.ok(&["--env", "staging", "deploy", "--yes"]);
    assert!(
        recovered.contains("Deployed kit-staging (created"),
        "{recovered}"
    );

    // 5. Destroy: the stack goes, the retained table is named; a second destroy succeeds; --all
    // also removes the bootstrap stack and its bucket.
    let destroyed = kit.ok(&["--env", "dev", "destroy", "--yes"]);
    assert!(destroyed.contains("Kept ApprovalsTable"), "{destroyed}");
    assert_eq!(alarm_names(&moto, "kit-dev-"), Vec::<String>::new());
    let gone = runtime.block_on(cfn.describe_stacks().stack_name("kit-dev").send());
    assert!(
        gone.is_err()
            || gone
                .unwrap()
                .stacks()
                .iter()
                .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE"))
    );
    let twice = kit.ok(&["--env", "dev", "destroy", "--yes"]);
    assert!(twice.contains("nothing"), "{twice}");
    // The bucket serves other stacks: --all refuses, naming them, and deletes nothing.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let roles_before = role_names(&runtime, &iam);
    let shared = kit.run(&["--env", "dev", "destroy", "--yes", "--all"]);
    let said = String::from_utf8_lossy(&shared.stderr);
    assert!(!shared.status.success(), "{said}");
    assert!(
        said.contains("kit-staging") && said.contains("nothing was deleted"),
        "{said}"
    );
    assert!(
        runtime
            .block_on(cfn.describe_stacks().stack_name("kit-staging").send())
            .is_ok()
    );
    let all = kit.ok(&["--env", "staging", "destroy", "--yes", "--all"]);
    // API Gateway's account-wide logging role outlives the bootstrap stack.
    assert!(all.contains("Kept ApiGatewayCloudWatchRole"), "{all}");
    let kept: Vec<String> = roles_before
        .into_iter()
        .filter(|r| r.contains("ApiGatewayCloudWatchRole"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        role_names(&runtime, &iam).contains(&kept[0]),
        "the role was deleted"
    );
    let buckets = runtime
        .block_on(aws_sdk_s3::Client::new(&sdk).list_buckets().send())
        .unwrap();
    assert!(
        buckets.buckets().is_empty(),
        "the asset bucket is left: {buckets:?}"
    );
    let bootstrap = runtime.block_on(cfn.describe_stacks().stack_name("hitl-bootstrap").send());
    assert!(
        bootstrap.is_err()
            || bootstrap
                .unwrap()
                .stacks()
                .iter()
                .all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE"))
    );
}

#[test]
#[ignore = "builds the release functions: run through `cargo xtask test`"]
fn builds_are_byte_identical_and_a_missing_target_says_how_to_add_it() {
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let build = |arch: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(kit_root())
            .args(["build", "--arch", arch])
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let zips = || {
        ["request", "review"]
            .map(|f| std::fs::read(kit_tools::functions::zip_path(X86_64, f)).unwrap())
    };
    assert!(build("x86_64").status.success());
    let first = zips();
    // Touch a source file: cargo relinks, the zips must not change.
    let main = kit_root().join("lambdas/review/src/main.rs");
    let text = std::fs::read(&main).unwrap();
    std::fs::write(&main, &text).unwrap();
    assert!(build("x86_64").status.success());
    assert!(first == zips(), "two builds gave different zips");

    let arm = build("arm64");
    let stderr = String::from_utf8_lossy(&arm.stderr);
    let installed = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map(|o| {
            Path::new(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/rustlib/aarch64-unknown-linux-gnu/lib")
                .is_dir()
        })
        .unwrap();
    if installed {
        assert!(arm.status.success(), "{stderr}");
    } else {
        assert_eq!(arm.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{stderr}"
        );
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{stderr}"
        );
    }
}

/// The moto launcher's patches that make moto answer faster answer what moto's own code does
/// (`xtask/local/test_moto_server.py`, on the tools venv's moto).
#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn the_moto_launchers_shortcuts_answer_as_moto_does() {
    let python = kit_root().join("target/tools/venv/bin/python");
    let output = Command::new(python)
        .args(["-m", "unittest", "test_moto_server"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(kit_root().join("xtask/local"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A deploy right after a destroy of the same stack waits out its schedule group, which
/// Scheduler is still deleting (the router keeps a deleted group `DELETING` for a few seconds,
/// as Scheduler does while it deletes the group's schedules), instead of failing on a conflict.
#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn a_schedule_group_still_being_deleted_is_waited_out() {
    let moto = start_moto();
    let (runtime, sdk) = sdk(&moto);
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    runtime.block_on(async {
        scheduler
            .create_schedule_group()
            .name("kit-dev")
            .send()
            .await
            .unwrap();
        scheduler
            .delete_schedule_group()
            .name("kit-dev")
            .send()
            .await
            .unwrap();
        let conflict = scheduler
            .create_schedule_group()
            .name("kit-dev")
            .send()
            .await;
        assert_eq!(
            conflict.map_err(|e| hitl_aws::error_code(&e).map(str::to_owned)),
            Err(Some("ConflictException".to_owned())),
            "made again while it was being deleted"
        );
        let aws = kit_aws::Aws {
            sdk: sdk.clone(),
            local: None,
        };
        let template = "Resources:\n  ScheduleGroup:\n    Type: AWS::Scheduler::ScheduleGroup\n    \
                        Properties:\n      Name: kit-dev\n";
        let every = std::time::Duration::from_millis(500);
        kit_deploy::schedule_groups::wait_until_deleted(&aws, template, every)
            .await
            .unwrap();
        scheduler
            .create_schedule_group()
            .name("kit-dev")
            .send()
            .await
            .unwrap();
    });
}

/// Two environments deployed at once in a new account and region: both need the bootstrap
/// stack, and CloudFormation creates it for one of them (the other's CreateStack is refused,
/// AlreadyExistsException, as the router makes moto refuse it): the other waits for it and uses
/// it.
#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn two_deploys_at_once_share_the_bootstrap_one_of_them_creates() {
    let moto = start_moto();
    let (runtime, sdk) = sdk(&moto);
    let aws = kit_aws::Aws {
        sdk: sdk.clone(),
        local: None,
    };
    let buckets: Vec<String> = runtime.block_on(async {
        let (first, second) = tokio::join!(
            kit_deploy::bootstrap(&aws, true),
            kit_deploy::bootstrap(&aws, true)
        );
        vec![first.unwrap(), second.unwrap()]
    });
    assert_eq!(buckets[0], buckets[1]);
    let stacks = runtime
        .block_on(aws.cloudformation().describe_stacks().send())
        .unwrap()
        .stacks
        .unwrap_or_default();
    let bootstraps: Vec<_> = stacks
        .iter()
        .filter(|s| s.stack_name() == Some("hitl-bootstrap"))
        .map(|s| s.stack_status().map(|s| s.as_str().to_owned()))
        .collect();
    // One stack; the second deploy's update of it with the same template is a no-op in
    // CloudFormation ("No updates are to be performed"), an update in moto.
    let [Some(status)] = bootstraps.as_slice() else {
        panic!("one bootstrap stack: {bootstraps:?}");
    };
    assert!(
        ["CREATE_COMPLETE", "UPDATE_COMPLETE"].contains(&status.as_str()),
        "{status}"
    );
}

/// The account's API Gateway logging role (one setting per account and region): the bootstrap
/// sets its own only where none works, keeps a role someone else set that works, and replaces
/// one that is gone. As API Gateway does, the router refuses a role it may not assume.
#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn the_accounts_api_gateway_logging_role_is_kept_when_it_works() {
    let moto = start_moto();
    let (runtime, sdk) = sdk(&moto);
    let aws = kit_aws::Aws {
        sdk: sdk.clone(),
        local: None,
    };
    let (apigateway, iam) = (aws.apigateway(), aws.iam());
    let cfn = aws.cloudformation();
    runtime.block_on(async {
        let account_role = || async {
            let account = apigateway.get_account().send().await.unwrap();
            account.cloudwatch_role_arn.unwrap_or_default()
        };
        let set = |arn: String| {
            let patch = aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/cloudwatchRoleArn")
                .value(arn)
                .build();
            apigateway.update_account().patch_operations(patch).send()
        };
        let lambdas = make_role(&iam, "team-lambda", "lambda.amazonaws.com").await;
        let refused = set(lambdas)
            .await
            .map_err(|e| hitl_aws::error_code(&e).map(str::to_owned));
        assert_eq!(refused.err(), Some(Some("BadRequestException".to_owned())));

        // None set: the kit's own.
        kit_deploy::bootstrap(&aws, true).await.unwrap();
        let own = bootstrap_output(&cfn, "LoggingRoleArn").await;
        assert!(own.is_some(), "the bootstrap made no logging role");
        assert_eq!(Some(account_role().await), own);
        let current = kit_deploy::logging_role::current(&aws).await.unwrap();
        assert_eq!(
            current,
            kit_deploy::logging_role::Current::Works(own.clone().unwrap())
        );

        // Someone sets another that works: kept, and the kit's own stays in its stack.
        let team = make_role(&iam, "team-logs", "apigateway.amazonaws.com").await;
        set(team.clone()).await.unwrap();
        kit_deploy::bootstrap(&aws, true).await.unwrap();
        assert_eq!(account_role().await, team);
        assert_eq!(bootstrap_output(&cfn, "LoggingRoleArn").await, own);

        // A new bootstrap where it works makes no role of its own.
        cfn.delete_stack()
            .stack_name("hitl-bootstrap")
            .send()
            .await
            .unwrap();
        kit_deploy::bootstrap(&aws, true).await.unwrap();
        assert_eq!(account_role().await, team);
        assert_eq!(bootstrap_output(&cfn, "LoggingRoleArn").await, None);

        // The role is deleted: the kit's own again.
        iam.delete_role()
            .role_name("team-logs")
            .send()
            .await
            .unwrap();
        kit_deploy::bootstrap(&aws, true).await.unwrap();
        let own = bootstrap_output(&cfn, "LoggingRoleArn").await;
        assert!(own.is_some(), "the bootstrap made no logging role");
        assert_eq!(Some(account_role().await), own);
    });
}

/// A role `service` may assume; its ARN.
async fn make_role(iam: &aws_sdk_iam::Client, name: &str, service: &str) -> String {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    });
    let made = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    made.role.unwrap().arn
}

async fn bootstrap_output(cfn: &aws_sdk_cloudformation::Client, key: &str) -> Option<String> {
    let described = cfn
        .describe_stacks()
        .stack_name("hitl-bootstrap")
        .send()
        .await
        .unwrap();
    let stack = described.stacks.unwrap_or_default().into_iter().next()?;
    stack
        .outputs
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.output_key.as_deref() == Some(key))
        .and_then(|o| o.output_value)
}

/// The suite's inbox gets every message once, however SQS delivers: told by the router to
/// delay a queue policy (as SQS may take up to 60 seconds, and SNS loses what the policy refused
/// meanwhile) and to deliver messages twice (at least once, as SNS to SQS does). A queue whose
/// policy is set after it was made loses the first messages; the inbox, made with its policy and
/// ready once its probe arrived, loses none and counts each once.
#[test]
#[ignore = "needs the tools venv (moto): run through `cargo xtask test`"]
fn the_suites_inbox_gets_every_message_once_however_sqs_delivers() {
    let moto = start_moto();
    let (runtime, sdk) = sdk(&moto);
    let asked = ureq::post(format!("{}/hitl-local/deliveries", moto.endpoint))
        .send(r#"{"policy_delay_secs": 30, "duplicate": 5}"#)
        .unwrap();
    assert_eq!(asked.status(), 204);
    runtime.block_on(async {
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let topic = sns.create_topic().name("inbox-check").send().await.unwrap();
        let topic = topic.topic_arn.unwrap();
        let publish = |subject: String| {
            let sns = sns.clone();
            let topic = topic.clone();
            async move {
                let sent = sns.publish().topic_arn(topic).subject(subject).message("m");
                sent.send().await.unwrap();
            }
        };
        // The way it was: the policy set after the queue was made.
        let late = sqs
            .create_queue()
            .queue_name("late-policy")
            .send()
            .await
            .unwrap();
        let late = late.queue_url.unwrap();
        let arn = "arn:aws:sqs:us-east-1:123456789012:late-policy";
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .unwrap();
        let policy = support::inbox_policy(arn, &topic).to_string();
        sqs.set_queue_attributes()
            .queue_url(&late)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy)
            .send()
            .await
            .unwrap();
        publish("early".to_owned()).await;
        let got = sqs
            .receive_message()
            .queue_url(&late)
            .wait_time_seconds(1)
            .send()
            .await;
        assert!(
            got.unwrap().messages.unwrap_or_default().is_empty(),
            "not lost"
        );
        // The inbox.
        let inbox = support::Inbox::subscribe(&sdk, &topic, "inbox").await;
        for i in 0..3 {
            publish(format!("m{i}")).await;
        }
        let mut subjects = Vec::new();
        for _ in 0..5 {
            let collected = inbox.collect(&sdk).await;
            subjects.extend(
                collected
                    .into_iter()
                    .map(|m| m.subject)
                    .filter(|s| s.starts_with('m')),
            );
        }
        subjects.sort();
        assert_eq!(subjects, ["m0", "m1", "m2"]);
    });
}
