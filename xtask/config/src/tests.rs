use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, Diagnostic> {
    Config::parse(Path::new("hitl.yaml"), text.to_owned())
}

const LAYERED: &str = "\
project: shop
region: eu-west-1
defaults:
  approval_timeout: 2h
  reviewers: [ops@example.com]
  lambda:
    memory_mb: 512
    architecture: x86_64
  tags:
    team: payments
    cost: shared
environments:
  dev:
  prod:
    region: eu-central-1
    approval_timeout: 3d
    reviewers: [boss@example.com]
    lambda:
      memory_mb: 1024
    tags:
      cost: prod
";

#[test]
fn precedence_is_cli_then_environment_then_defaults_then_builtins() {
    let config = parse(LAYERED).unwrap();
    let dev = config.resolve("dev", &Overrides::default()).unwrap();
    assert_eq!(dev.stack_name, "shop-dev");
    assert_eq!(dev.approval_timeout.secs(), 7_200);
    assert_eq!(
        dev.region.as_ref().map(ToString::to_string).as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(dev.lambda.memory_mb.get(), 512);
    assert_eq!(dev.retention.secs(), 30 * 86_400, "built-in default");
    assert_eq!(dev.reviewers.len(), 1);

    let overrides = Overrides {
        region: Some("us-east-1".parse().unwrap()),
        profile: None,
        emails: vec![
            "new@example.com".parse().unwrap(),
            "boss@example.com".parse().unwrap(),
        ],
    };
    let prod = config.resolve("prod", &overrides).unwrap();
    assert_eq!(prod.approval_timeout.secs(), 3 * 86_400);
    assert_eq!(
        prod.region.as_ref().map(ToString::to_string).as_deref(),
        Some("us-east-1")
    );
    // Nested settings merge field by field.
    assert_eq!(prod.lambda.memory_mb.get(), 1024);
    assert_eq!(prod.lambda.architecture, values::Architecture::X86_64);
    // An environment's reviewers replace the defaults'; --email adds, without duplicates.
    let reviewers: Vec<&str> = prod.reviewers.iter().map(|e| e.as_str()).collect();
    assert_eq!(reviewers, ["boss@example.com", "new@example.com"]);
    // Tags merge by key.
    let tags: Vec<(&str, &str)> = prod
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(tags, [("cost", "prod"), ("team", "payments")]);
}

#[test]
fn an_unknown_environment_lists_the_known_ones() {
    let err = parse(LAYERED)
        .unwrap()
        .resolve("qa", &Overrides::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hitl.yaml: no environment `qa`: choose one of dev, prod with --env, or add it under \
         `environments:`"
    );
}

#[test]
fn yaml_errors_name_line_column_and_field() {
    let err = parse("project: shop\nenvironments:\n  dev:\n    aproval_timeout: 1h\n")
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.starts_with("hitl.yaml:4:5: environments.dev: unknown key `aproval_timeout`"),
        "{text}"
    );

    let err = parse("project: shop\ndefaults:\n  approval_timeout: 5x\n")
        .err()
        .unwrap();
    assert_eq!(err.line, Some((3, 3)));
    assert_eq!(err.field.as_deref(), Some("defaults.approval_timeout"));
}

#[test]
fn a_missing_override_directory_is_reported_at_its_line() {
    let config =
        parse("project: shop\nenvironments:\n  dev:\n    templates: nowhere/at/all\n").unwrap();
    let err = config.resolve("dev", &Overrides::default()).unwrap_err();
    assert_eq!(err.line, Some((4, 1)));
    assert_eq!(err.field.as_deref(), Some("environments.dev.templates"));
}

#[test]
fn the_schema_refuses_unknown_keys() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    assert!(schema["properties"]["environments"].is_object());
}

/// A failed first create leaves no table behind unless the config asks to keep it.
#[test]
fn the_table_is_kept_except_when_the_first_create_fails_by_default() {
    let config = parse(LAYERED).unwrap();
    let dev = config.resolve("dev", &Overrides::default()).unwrap();
    assert_eq!(
        dev.table.deletion_policy,
        DeletionPolicy::RetainExceptOnCreate
    );
}

/// Step Functions unless an environment (or the defaults) says otherwise, like every setting.
#[test]
fn the_orchestrator_is_step_functions_unless_an_environment_says_otherwise() {
    use crate::values::Orchestrator;
    let config = parse(
        "project: shop\ndefaults:\n  orchestrator: durable-function\nenvironments:\n  dev:\n  \
         prod:\n    orchestrator: step-functions\n",
    )
    .unwrap();
    let resolve = |env: &str| config.resolve(env, &Overrides::default()).unwrap();
    assert_eq!(resolve("dev").orchestrator, Orchestrator::DurableFunction);
    assert_eq!(resolve("prod").orchestrator, Orchestrator::StepFunctions);
    let plain = parse("project: shop\nenvironments:\n  dev:\n").unwrap();
    let dev = plain.resolve("dev", &Overrides::default()).unwrap();
    assert_eq!(dev.orchestrator, Orchestrator::StepFunctions);
    assert_eq!(
        Orchestrator::DurableFunction.functions(),
        ["workflow", "review"]
    );
}

/// A quorum counts the environment's reviewers, `--email` included; above them rendering is
/// refused where it is set. The verbs that read a deployed stack take the environment all the
/// same: its reviewers may have come from `--email` at deploy.
#[test]
fn a_quorum_above_the_reviewers_is_refused_at_its_line() {
    let text = "project: shop\ndefaults:\n  reviewers: [a@example.com, b@example.com]\n  \
                quorum: 2\nenvironments:\n  dev:\n  prod:\n    quorum: 3\n";
    let config = parse(text).unwrap();
    let dev = config
        .resolve_for_render("dev", &Overrides::default())
        .unwrap();
    assert_eq!(dev.quorum.get(), 2);
    assert_eq!(
        config
            .resolve("prod", &Overrides::default())
            .unwrap()
            .quorum
            .get(),
        3
    );
    let err = config
        .resolve_for_render("prod", &Overrides::default())
        .expect_err("three of two");
    assert_eq!(err.field.as_deref(), Some("environments.prod.quorum"));
    assert_eq!(err.line.map(|(line, _)| line), Some(8));
    assert!(
        err.message.contains("quorum 3 needs at least 3 reviewers"),
        "{}",
        err.message
    );
    let more = Overrides {
        emails: vec!["c@example.com".parse().unwrap()],
        ..Overrides::default()
    };
    assert_eq!(
        config
            .resolve_for_render("prod", &more)
            .unwrap()
            .quorum
            .get(),
        3
    );
    let Err(zero) = parse("project: shop\ndefaults:\n  quorum: 0\n") else {
        panic!("a quorum of 0 parsed");
    };
    assert_eq!(
        (zero.field.as_deref(), zero.line.map(|(line, _)| line)),
        (Some("defaults.quorum"), Some(3))
    );
}

#[test]
fn attachment_buckets_are_checked_by_s3s_naming_rules() {
    let config = parse(
        "project: shop\ndefaults:\n  attachment_buckets: [shop-data, shop-data, invoices.shop]\n\
         environments:\n  dev:\n",
    )
    .unwrap();
    let dev = config.resolve("dev", &Overrides::default()).unwrap();
    let names: Vec<_> = dev.attachment_buckets.iter().map(|b| b.as_str()).collect();
    assert_eq!(names, ["invoices.shop", "shop-data"]);
    let Err(err) = parse("project: shop\ndefaults:\n  attachment_buckets:\n    - Shop_Data\n")
    else {
        panic!("a bad bucket name parsed");
    };
    assert_eq!(err.line.map(|(line, _)| line), Some(4));
    assert!(
        err.message.contains("`Shop_Data` is not an S3 bucket name"),
        "{}",
        err.message
    );
}

#[test]
fn reminders_and_escalation_come_before_the_timeout_and_escalation_names_its_addresses() {
    let ok = parse(
        "project: shop\ndefaults:\n  approval_timeout: 2h\n  remind_after: 30m\n  \
         escalate_after: 1h\n  escalate_to: [boss@example.com]\nenvironments:\n  dev:\n",
    )
    .unwrap();
    let dev = ok.resolve("dev", &Overrides::default()).unwrap();
    assert_eq!(dev.remind_after.map(|d| d.secs()), Some(1800));
    let escalation = dev.escalation.as_ref().expect("escalated");
    assert_eq!(escalation.after.secs(), 3600);
    assert_eq!(escalation.to[0].as_str(), "boss@example.com");
    assert_eq!(dev.functions(), ["request", "review", "remind"]);

    let refused = |text: &str| {
        parse(text)
            .unwrap()
            .resolve("dev", &Overrides::default())
            .expect_err("refused")
    };
    let late = refused(
        "project: shop\ndefaults:\n  approval_timeout: 1h\nenvironments:\n  dev:\n    \
         remind_after: 2h\n",
    );
    assert_eq!(late.field.as_deref(), Some("environments.dev.remind_after"));
    assert_eq!(late.line.map(|(l, _)| l), Some(6));
    assert!(
        late.message.contains("not before the approval timeout"),
        "{}",
        late.message
    );
    let alone = refused("project: shop\ndefaults:\n  escalate_after: 1h\nenvironments:\n  dev:\n");
    assert_eq!(alone.field.as_deref(), Some("defaults.escalate_after"));
    let nobody = refused(
        "project: shop\ndefaults:\n  escalate_to: [boss@example.com]\nenvironments:\n  dev:\n",
    );
    assert_eq!(nobody.field.as_deref(), Some("defaults.escalate_to"));
    let Err(bad) = parse("project: shop\ndefaults:\n  escalate_to: [the boss]\n") else {
        panic!("a name that is no email parsed");
    };
    assert_eq!(bad.line.map(|(l, _)| l), Some(3));
    assert!(
        bad.message.contains("not a valid email address"),
        "{}",
        bad.message
    );
}

const SIGN_IN: &str = "\
project: shop
defaults:
  sign_in:
    issuer: https://login.example.com/
    client_id: hitl-reviews
environments:
  dev:
  prod:
    sign_in:
      client_secret_parameter: /hitl/oidc-secret
      claim: preferred_username
";

#[test]
fn sign_in_resolves_with_the_email_claim_by_default() {
    let config = parse(SIGN_IN).unwrap();
    let dev = config.resolve("dev", &Overrides::default()).unwrap();
    let sign_in = dev.sign_in.expect("sign-in");
    // The issuer as written, its trailing slash kept: the ID token's `iss` must equal it.
    assert_eq!(sign_in.issuer.as_str(), "https://login.example.com/");
    assert_eq!(sign_in.client_id.as_str(), "hitl-reviews");
    assert_eq!(sign_in.client_secret_parameter, None);
    assert_eq!(sign_in.claim.as_str(), "email");
    let plain = parse("project: shop\nenvironments:\n  dev:\n").unwrap();
    assert!(
        plain
            .resolve("dev", &Overrides::default())
            .unwrap()
            .sign_in
            .is_none()
    );
}

/// `sign_in` merges key by key, like `slack`: an environment's claim over the defaults' issuer.
#[test]
fn an_environments_sign_in_keys_layer_over_the_defaults() {
    let config = parse(SIGN_IN).unwrap();
    let prod = config.resolve("prod", &Overrides::default()).unwrap();
    let sign_in = prod.sign_in.expect("sign-in");
    assert_eq!(sign_in.issuer.as_str(), "https://login.example.com/");
    assert_eq!(sign_in.client_id.as_str(), "hitl-reviews");
    assert_eq!(
        sign_in
            .client_secret_parameter
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("/hitl/oidc-secret")
    );
    assert_eq!(sign_in.claim.as_str(), "preferred_username");
}

#[test]
fn sign_in_without_its_issuer_or_client_id_is_refused_at_its_line() {
    let refused = |text: &str| {
        parse(text)
            .unwrap()
            .resolve("dev", &Overrides::default())
            .expect_err("refused")
    };
    let no_issuer = refused(
        "project: shop\nenvironments:\n  dev:\n    sign_in:\n      client_id: hitl-reviews\n",
    );
    assert_eq!(no_issuer.field.as_deref(), Some("environments.dev.sign_in"));
    assert_eq!(no_issuer.line.map(|(l, _)| l), Some(4));
    assert_eq!(
        no_issuer.message,
        "sign-in needs sign_in.issuer (see docs/configuration.md, \"Sign-in\")"
    );
    let no_client = refused(
        "project: shop\ndefaults:\n  sign_in:\n    issuer: https://login.example.com/\n\
         environments:\n  dev:\n",
    );
    assert_eq!(no_client.field.as_deref(), Some("defaults.sign_in"));
    assert_eq!(no_client.line.map(|(l, _)| l), Some(3));
    assert!(
        no_client.message.contains("sign_in.client_id"),
        "{}",
        no_client.message
    );
}

/// A provider on this machine speaks plain HTTP; on AWS the issuer is the provider's https://.
#[test]
fn an_http_issuer_is_for_the_local_environment_alone() {
    let config = parse(
        "project: shop\ndefaults:\n  sign_in:\n    issuer: http://127.0.0.1:8080\n    \
         client_id: hitl-reviews\nenvironments:\n  dev:\n    endpoint: aws\n  local:\n    \
         endpoint: local\n",
    )
    .unwrap();
    let err = config
        .resolve("dev", &Overrides::default())
        .expect_err("http on AWS");
    assert_eq!(err.field.as_deref(), Some("defaults.sign_in.issuer"));
    assert_eq!(err.line.map(|(l, _)| l), Some(4));
    assert_eq!(
        err.message,
        "an http:// issuer is only for the local environment: use the provider's https:// issuer"
    );
    let local = config.resolve("local", &Overrides::default()).unwrap();
    let issuer = local.sign_in.expect("sign-in").issuer;
    assert_eq!(issuer.as_str(), "http://127.0.0.1:8080");
    assert!(issuer.is_loopback());

    let own = parse(
        "project: shop\ndefaults:\n  sign_in:\n    issuer: https://login.example.com/\n    \
         client_id: hitl-reviews\nenvironments:\n  dev:\n    sign_in:\n      \
         issuer: http://localhost:9000/\n",
    )
    .unwrap();
    let err = own
        .resolve("dev", &Overrides::default())
        .expect_err("http on AWS by default");
    assert_eq!(
        err.field.as_deref(),
        Some("environments.dev.sign_in.issuer")
    );
    assert_eq!(err.line.map(|(l, _)| l), Some(9));
}

#[test]
fn a_bad_or_unknown_sign_in_key_is_refused_at_its_line() {
    let Err(unknown) = parse(
        "project: shop\ndefaults:\n  sign_in:\n    issuer: https://login.example.com/\n    \
         client: hitl-reviews\n",
    ) else {
        panic!("an unknown key under sign_in parsed");
    };
    assert!(
        unknown.message.starts_with("unknown key `client`"),
        "{}",
        unknown.message
    );
    assert_eq!(unknown.field.as_deref(), Some("defaults.sign_in"));
    assert_eq!(unknown.line.map(|(l, _)| l), Some(5));
    let Err(query) = parse(
        "project: shop\ndefaults:\n  sign_in:\n    client_id: hitl\n    \
         issuer: https://login.example.com/?tenant=1\n",
    ) else {
        panic!("an issuer with a query parsed");
    };
    assert_eq!(query.field.as_deref(), Some("defaults.sign_in.issuer"));
    assert_eq!(query.line.map(|(l, _)| l), Some(5));
}

#[test]
fn a_teams_webhook_is_named_by_its_parameter() {
    let config = parse(
        "project: shop\ndefaults:\n  teams_webhook_parameter: /hitl/teams-webhook\n\
         environments:\n  dev:\n  prod:\n    teams_webhook_parameter: /hitl/prod/teams\n",
    )
    .unwrap();
    let name = |env: &str| {
        config
            .resolve(env, &Overrides::default())
            .unwrap()
            .teams_webhook_parameter
            .map(|p| p.to_string())
    };
    assert_eq!(name("dev").as_deref(), Some("/hitl/teams-webhook"));
    assert_eq!(name("prod").as_deref(), Some("/hitl/prod/teams"));
    let Err(pasted) = parse(
        "project: shop\nenvironments:\n  dev:\n    \
         teams_webhook_parameter: https://prod-00.westeurope.logic.azure.com/workflows/x\n",
    ) else {
        panic!("a URL parsed as a parameter name");
    };
    assert_eq!(
        pasted.field.as_deref(),
        Some("environments.dev.teams_webhook_parameter")
    );
    assert!(
        pasted.message.contains("SecureString"),
        "{}",
        pasted.message
    );
}

/// A parameter's customer managed key needs its parameter: Teams', and sign-in's client
/// secret's (Slack's webhook: `cli.rs`); with it, the key reaches the effective settings.
#[test]
fn a_parameters_kms_key_needs_the_parameter() {
    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let sign_in = "  sign_in:\n    issuer: https://idp.example/\n    client_id: hitl\n";
    for (settings, field) in [
        (
            format!("  teams_webhook_kms_key: {KEY}\n"),
            "defaults.teams_webhook_kms_key",
        ),
        (
            format!("{sign_in}    kms_key: {KEY}\n"),
            "defaults.sign_in.kms_key",
        ),
    ] {
        let text = format!("project: shop\ndefaults:\n{settings}environments:\n  dev:\n");
        let error = parse(&text)
            .unwrap()
            .resolve("dev", &Overrides::default())
            .expect_err("a key without its parameter");
        assert_eq!(error.field.as_deref(), Some(field), "{error}");
        assert!(error.message.contains("no "), "{error}");
    }
    let text = format!(
        "project: shop\ndefaults:\n  teams_webhook_parameter: /t\n  teams_webhook_kms_key: {KEY}\n\
         {sign_in}    client_secret_parameter: /s\n    kms_key: {KEY}\nenvironments:\n  dev:\n"
    );
    let effective = parse(&text)
        .unwrap()
        .resolve("dev", &Overrides::default())
        .unwrap();
    assert_eq!(
        effective
            .teams_webhook_kms_key
            .map(|k| k.to_string())
            .as_deref(),
        Some(KEY)
    );
    let sign_in = effective.sign_in.expect("sign-in");
    assert_eq!(sign_in.kms_key.map(|k| k.to_string()).as_deref(), Some(KEY));
}

/// Who the alarms notify: the environment's addresses (sorted, each once) and an existing
/// topic by its ARN; a topic named otherwise is refused at its line.
#[test]
fn the_alarms_notify_the_configured_addresses_and_topic() {
    let effective = parse(
        "project: shop\ndefaults:\n  alarm_emails: [b@example.com, a@example.com, b@example.com]\n\
         environments:\n  dev:\n    alarm_topic_arn: arn:aws:sns:eu-west-1:111122223333:ops\n",
    )
    .unwrap()
    .resolve("dev", &Overrides::default())
    .unwrap();
    let emails: Vec<String> = effective
        .alarm_emails
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
    assert!(effective.alarm_topic_arn.is_some());
    let Err(error) =
        parse("project: shop\nenvironments:\n  dev:\n    alarm_topic_arn: ops-alarms\n")
    else {
        panic!("a topic name parsed as an ARN");
    };
    assert_eq!(
        error.field.as_deref(),
        Some("environments.dev.alarm_topic_arn")
    );
    assert_eq!(error.line.map(|(line, _)| line), Some(4));
}

/// An alarm topic or a parameter's key in another region than the environment's is refused
/// at its line (CloudWatch refuses such an alarm action; SSM decrypts with a key of the
/// parameter's region); without a region in the file, the profile's decides and nothing is
/// checked here.
#[test]
fn an_arn_in_another_region_is_refused_at_its_key() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
    for (setting, field) in [
        (
            "  alarm_topic_arn: arn:aws:sns:us-east-1:111122223333:ops\n".to_owned(),
            "environments.dev.alarm_topic_arn",
        ),
        (
            format!("  teams_webhook_parameter: /t\n    teams_webhook_kms_key: {key}\n"),
            "environments.dev.teams_webhook_kms_key",
        ),
    ] {
        let text = format!("project: shop\nregion: eu-west-1\nenvironments:\n  dev:\n  {setting}");
        let error = parse(&text)
            .unwrap()
            .resolve("dev", &Overrides::default())
            .expect_err("another region");
        assert_eq!(error.field.as_deref(), Some(field), "{error}");
        assert!(
            error
                .message
                .contains("is in us-east-1, and the environment in eu-west-1"),
            "{error}"
        );
        let elsewhere = text.replace("region: eu-west-1\n", "");
        assert!(
            parse(&elsewhere)
                .unwrap()
                .resolve("dev", &Overrides::default())
                .is_ok()
        );
    }
}
