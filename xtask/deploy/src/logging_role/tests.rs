use std::cell::Cell;

use aws_sdk_apigateway::{
    error::{ErrorMetadata, SdkError},
    operation::update_account::UpdateAccountError,
};

use super::*;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/logs";

#[test]
fn a_working_role_is_kept_and_the_kits_own_stays_in_its_stack() {
    let works = Current::Works(ROLE_ARN.to_owned());
    let broken = Current::Broken(ROLE_ARN.to_owned(), "gone".to_owned());
    let set = Plan {
        render_role: true,
        set_account: true,
    };
    assert_eq!(plan(&Current::Unset, false), set);
    assert_eq!(plan(&broken, false), set);
    assert_eq!(plan(&broken, true), set);
    assert_eq!(
        plan(&works, false),
        Plan {
            render_role: false,
            set_account: false
        }
    );
    // The kit's own role, set on an earlier deploy: the stack keeps it, the setting stands.
    assert_eq!(
        plan(&works, true),
        Plan {
            render_role: true,
            set_account: false
        }
    );
}

#[test]
fn a_role_works_only_if_api_gateway_may_assume_it() {
    let apigateway = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let trusted = |document: &str, account: &str| trust(document, account) == Trust::Trusted;
    assert!(trusted(apigateway, "123456789012"));
    // As GetRole gives it: URL-encoded.
    let encoded =
        percent_encoding::utf8_percent_encode(apigateway, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    assert!(trusted(&encoded, "123456789012"));
    let lambda = apigateway.replace("apigateway", "lambda");
    assert!(!trusted(&lambda, "123456789012"));
    let other_account = apigateway.replace(
        r#""Action":"sts:AssumeRole""#,
        r#""Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"111111111111"}}"#,
    );
    assert!(!trusted(&other_account, "123456789012"));
    assert!(trusted(&other_account, "111111111111"));
    assert!(!trusted("not a policy", "123456789012"));
    assert_eq!(trust(&other_account, "123456789012"), Trust::Untrusted);
    // A condition on a key whose value the kit does not know: neither works nor broken.
    let source_arn = apigateway.replace(
        r#""Action":"sts:AssumeRole""#,
        r#""Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:apigateway:eu-west-1::/*"}}"#,
    );
    assert_eq!(trust(&source_arn, "123456789012"), Trust::Unknown);
}

#[test]
fn a_role_the_kit_cannot_check_is_kept() {
    let unverified = Current::Unverified(ROLE_ARN.to_owned(), "GetRole denied".to_owned());
    let keep = Plan {
        render_role: false,
        set_account: false,
    };
    assert_eq!(plan(&unverified, false), keep);
}

fn refused(code: &str) -> SdkError<UpdateAccountError, ()> {
    let meta = ErrorMetadata::builder()
        .code(code)
        .message("The role ARN does not have required permissions set to API Gateway")
        .build();
    SdkError::service_error(UpdateAccountError::generic(meta), ())
}

// Real pauses of a millisecond: tokio's paused clock (`test-util`) would change the features the
// xtask binary is built with under `cargo test --workspace`, and replace it while it runs.
const PAUSE: Duration = Duration::from_millis(1);

#[tokio::test]
async fn a_new_role_is_retried_until_iam_has_propagated_it() {
    let calls = Cell::new(0);
    let call = || {
        calls.set(calls.get() + 1);
        let n = calls.get();
        async move {
            match n {
                1 | 3 => Err(refused("BadRequestException")),
                // API Gateway's quota of one UpdateAccount per 20 seconds.
                2 => Err(refused("TooManyRequestsException")),
                _ => Ok(n),
            }
        }
    };
    let done = retry_while_propagating(call, PAUSE, PROPAGATION).await;
    assert_eq!(done.unwrap(), 4);
}

#[tokio::test]
async fn other_errors_and_a_role_never_propagated_fail_naming_the_refusal() {
    let calls = Cell::new(0);
    let denied = || {
        calls.set(calls.get() + 1);
        async { Err::<(), _>(refused("AccessDeniedException")) }
    };
    let error = retry_while_propagating(denied, PAUSE, PROPAGATION)
        .await
        .unwrap_err();
    assert_eq!(calls.get(), 1);
    assert!(
        error.to_string().contains("AccessDeniedException"),
        "{error}"
    );
    let calls = Cell::new(0);
    let never = || {
        calls.set(calls.get() + 1);
        async { Err::<(), _>(refused("BadRequestException")) }
    };
    let error = retry_while_propagating(never, PAUSE, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(calls.get() > 1, "retried until the limit");
    assert!(
        error.to_string().contains("required permissions"),
        "{error}"
    );
}
