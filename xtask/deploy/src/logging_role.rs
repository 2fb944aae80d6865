//! API Gateway's CloudWatch Logs role: one setting per account and region (`GetAccount`,
//! `UpdateAccount`), which every REST API's access logs need. The kit keeps a role that already
//! works, says so, and sets its own (the bootstrap stack's `ApiGatewayCloudWatchRole`) only
//! where none works: it never takes the setting from whoever set it, and two environments, or
//! `test --aws`, never take it from each other.
//!
//! A role "works" when it exists and its trust policy lets `apigateway.amazonaws.com` assume it
//! (the role's permissions are the account owner's business). A new role's first use can fail
//! while IAM propagates it ("The role ARN does not have required permissions set to API
//! Gateway"): [`set`] retries that for [`PROPAGATION`], as the IAM User Guide advises for
//! changes that are "eventually consistent" (Troubleshooting IAM, "Changes that I make are not
//! always immediately visible"), every 21 seconds: API Gateway takes one `UpdateAccount` per
//! 20 seconds per account ("Amazon API Gateway quotas", a quota that cannot be raised), and
//! answers a faster one `TooManyRequestsException`, retried as well.
//!
//! A role the deployer may not read (`iam:GetRole` denied: the kit's own permissions name only
//! its roles) or whose trust policy has conditions the kit cannot evaluate is kept, with a
//! warning: the kit never replaces a setting it cannot show to be broken.

use std::{future::Future, time::Duration};

use anyhow::{Context, Result, bail};
use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use kit_aws::Aws;
use kit_base::status::status;
use kit_iam::{Authorization, Principal, evaluate};

/// The logical id of the bootstrap stack's role.
pub const ROLE: &str = "ApiGatewayCloudWatchRole";

/// How long a refused `UpdateAccount` of a new role is retried.
pub const PROPAGATION: Duration = Duration::from_secs(120);

const SERVICE: &str = "apigateway.amazonaws.com";

/// The account's setting as read before the bootstrap stack is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// No role is set.
    Unset,
    /// A role that works: kept.
    Works(String),
    /// A role that does not (why).
    Broken(String, String),
    /// A role the kit cannot check (why): kept, with a warning.
    Unverified(String, String),
}

/// What the bootstrap deploy does about the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Render the bootstrap stack's role.
    pub render_role: bool,
    /// Point the account's setting at it once deployed.
    pub set_account: bool,
}

/// The plan for `current`, given whether the bootstrap stack already holds its role (kept in the
/// stack, so that an update never drops it).
pub fn plan(current: &Current, stack_has_role: bool) -> Plan {
    let set_account = matches!(current, Current::Unset | Current::Broken(..));
    Plan {
        render_role: set_account || stack_has_role,
        set_account,
    }
}

/// Reads the account's setting and whether its role works.
pub async fn current(aws: &Aws) -> Result<Current> {
    let account = aws.apigateway().get_account().send().await.context(
        "cannot read API Gateway's account settings (apigateway:GET on /account); \
         the caller needs it to keep the account's logging role",
    )?;
    let Some(arn) = account.cloudwatch_role_arn.filter(|a| !a.is_empty()) else {
        return Ok(Current::Unset);
    };
    let name = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
    let role = aws.iam().get_role().role_name(&name).send().await;
    let document = match role {
        Ok(out) => out.role.and_then(|r| r.assume_role_policy_document),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            return Ok(Current::Broken(arn, "the role no longer exists".to_owned()));
        }
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("AccessDenied") =>
        {
            let why = format!("the deployer may not read it (iam:GetRole on {name})");
            return Ok(Current::Unverified(arn, why));
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the role {name} (iam:GetRole)"));
        }
    };
    // The setting names a role of this very account.
    let account = arn.split(':').nth(4).unwrap_or_default();
    Ok(match trust(document.as_deref().unwrap_or(""), account) {
        Trust::Trusted => Current::Works(arn),
        Trust::Untrusted => Current::Broken(
            arn,
            format!("its trust policy does not let {SERVICE} assume it"),
        ),
        Trust::Unknown => Current::Unverified(
            arn,
            "its trust policy has conditions the kit cannot evaluate".to_owned(),
        ),
    })
}

/// What a role's trust policy says of API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    Untrusted,
    /// Not allowed as the kit evaluates it, but an `Allow` statement has a condition on a key
    /// other than `aws:SourceAccount` (the only one the kit knows API Gateway's value of).
    Unknown,
}

/// What the trust policy `document` (as `GetRole` gives it: URL-encoded JSON) says of API
/// Gateway assuming the role for `account`.
pub fn trust(document: &str, account: &str) -> Trust {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let Ok(policy) = kit_iam::policy::Policy::parse(&decoded) else {
        return Trust::Untrusted;
    };
    if trusted(&policy, account) {
        return Trust::Trusted;
    }
    let other_keys = policy
        .statements
        .iter()
        .filter(|s| s.effect == kit_iam::policy::Effect::Allow)
        .flat_map(|s| &s.conditions)
        .any(|c| c.key != "aws:sourceaccount");
    match other_keys {
        true => Trust::Unknown,
        false => Trust::Untrusted,
    }
}

/// Whether `policy` lets API Gateway assume the role for `account`.
fn trusted(policy: &kit_iam::policy::Policy, account: &str) -> bool {
    let request = Authorization {
        principal: Principal::Service(SERVICE.to_owned()),
        action: "sts:AssumeRole".to_owned(),
        resource: "*".to_owned(),
        context: [("aws:sourceaccount".to_owned(), vec![account.to_owned()])].into(),
    };
    evaluate::trust(policy, &request).is_allowed()
}

/// Says what the deploy keeps.
pub fn report(current: &Current) {
    match current {
        Current::Works(arn) => status(
            "Keeping",
            format!("the account's API Gateway logging role {arn} (it works; the kit sets none)"),
        ),
        Current::Broken(arn, why) => status(
            "Replacing",
            format!("the account's API Gateway logging role {arn}: {why}"),
        ),
        Current::Unverified(arn, why) => status(
            "Keeping",
            format!(
                "the account's API Gateway logging role {arn} unverified: {why} (`cargo xtask \
                 status` and API Gateway's stage logs show whether it works)"
            ),
        ),
        Current::Unset => {}
    }
}

/// One `UpdateAccount` per this long: API Gateway's quota is one per 20 seconds per account.
pub const UPDATE_PAUSE: Duration = Duration::from_secs(21);

/// Points the account's setting at `role_arn`, retrying while IAM propagates a new role.
pub async fn set(aws: &Aws, role_arn: &str) -> Result<()> {
    let client = aws.apigateway();
    let update = || async {
        let patch = PatchOperation::builder()
            .op(Op::Replace)
            .path("/cloudwatchRoleArn")
            .value(role_arn)
            .build();
        client.update_account().patch_operations(patch).send().await
    };
    retry_while_propagating(update, UPDATE_PAUSE, PROPAGATION).await?;
    status(
        "Set",
        format!("the account's API Gateway logging role to {role_arn}"),
    );
    Ok(())
}

/// Runs `call` until it succeeds, retrying a `BadRequestException` (how API Gateway refuses a
/// role IAM has not propagated yet) and a `TooManyRequestsException` (its quota) every `pause`
/// for up to `limit`.
pub async fn retry_while_propagating<F, Fut, T, E, R>(
    mut call: F,
    pause: Duration,
    limit: Duration,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, aws_sdk_apigateway::error::SdkError<E, R>>>,
    E: aws_sdk_apigateway::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let started = tokio::time::Instant::now();
    loop {
        let error = match call().await {
            Ok(done) => return Ok(done),
            Err(error) => error,
        };
        let code = error.as_service_error().and_then(|e| e.code());
        let refused = matches!(
            code,
            Some("BadRequestException" | "TooManyRequestsException")
        );
        if !refused || started.elapsed() + pause > limit {
            let message = aws_sdk_apigateway::error::DisplayErrorContext(&error).to_string();
            bail!("API Gateway refused the logging role: {message}");
        }
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests;
