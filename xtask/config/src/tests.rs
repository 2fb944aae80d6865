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
