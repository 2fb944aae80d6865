//! The caller's permissions, as `iam:SimulatePrincipalPolicy` evaluates them for [`NEEDS`]: one
//! finding per service, each denied action with the grant that fixes it.
//!
//! What the simulation tells, per the IAM API reference
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>, and
//! `API_EvaluationResult.html`): it evaluates the policies of the user (its groups' too) or role
//! given as `PolicySourceArn`, and its results "can differ from your live AWS environment". A
//! resource's own policy counts only when passed as `ResourcePolicy` (none is here); of
//! Organizations, a result's `OrganizationsDecisionDetail` says whether SCPs allow the action,
//! which is not a full evaluation of the account's guardrails; a role session's own session
//! policy is not seen at all; a condition on a key the call does not give (a tag, MFA) counts as
//! unmet. So a finding is a strong hint, not a verdict.
//!
//! Every action is evaluated on every `ResourceArns` entry, and the `ContextEntries` hold for the
//! whole call, so each [`Need`] is one call. Results come at most `MaxItems` (default 100) at a
//! time, the rest after `Marker` while `IsTruncated` (IAM may return fewer even when more
//! remain). IAM authorizes the call itself as `iam:SimulatePrincipalPolicy` on the simulated user
//! or role: a caller checks itself only when granted that on its own ARN (its role's, for a
//! session).

use std::time::Duration;

use aws_sdk_iam::{
    Client,
    types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType},
};
use hitl_aws::{describe, error_code};
use kit_aws::Aws;
use kit_config::{Effective, values::Orchestrator};

use super::{
    caller,
    finding::{Finding, Weight, found},
    permissions::{Deploys, NEEDS, Need, Scope, Service},
};

/// Simulations at once: IAM throttles its API per account.
const AT_ONCE: usize = 6;

/// The longest doctor waits for the whole check.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The findings: the caller, then one per service; or one saying why they cannot be checked.
pub async fn check(aws: &Aws, effective: &Effective) -> Vec<Finding> {
    match tokio::time::timeout(TIMEOUT, checked(aws, effective)).await {
        Ok(findings) => findings,
        Err(_) => vec![cannot(format!(
            "IAM did not answer within {} s",
            TIMEOUT.as_secs()
        ))],
    }
}

/// An Optional finding: the permissions were not checked, and why.
fn cannot(why: String) -> Finding {
    found(
        Weight::Optional,
        "AWS permissions",
        format!("cannot check: {why}"),
    )
}

async fn checked(aws: &Aws, effective: &Effective) -> Vec<Finding> {
    let caller = match caller::identify(aws).await {
        Ok(caller) => caller,
        Err(e) => return vec![cannot(format!("{e:#}"))],
    };
    let source = match caller::policy_source(aws, &caller).await {
        Ok(source) => source,
        Err(why) => return vec![cannot(format!("the caller is {}: {why}", caller.arn))],
    };
    let shown = format!("{}, its permissions simulated as {source}", caller.arn);
    let mut findings = vec![found(Weight::Ok, "AWS caller", shown)];
    let scope = Scope {
        partition: caller.partition,
        region: aws.region(),
        account: caller.account,
        stack: effective.stack_name.clone(),
    };
    let deploys = Deploys {
        step_functions: effective.orchestrator == Orchestrator::StepFunctions,
    };
    match simulate_all(&aws.iam(), &source, &scope).await {
        Ok(denied) => findings.extend(verdicts(&denied, deploys, &scope)),
        Err(why) => findings.push(cannot(why)),
    }
    findings
}

/// The actions each of [`NEEDS`] was denied, in its order; the first failed call's problem.
async fn simulate_all(
    iam: &Client,
    source: &str,
    scope: &Scope,
) -> Result<Vec<Vec<String>>, String> {
    let mut denied = Vec::new();
    for batch in NEEDS.chunks(AT_ONCE) {
        let mut calls = tokio::task::JoinSet::new();
        for (i, need) in batch.iter().enumerate() {
            let (iam, source, scope) = (iam.clone(), source.to_owned(), scope.clone());
            calls.spawn(async move { (i, simulate(&iam, &source, need, &scope).await) });
        }
        let mut answers = calls.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        for (_, answer) in answers {
            denied.push(answer?);
        }
    }
    Ok(denied)
}

/// The actions of `need` that the policies of `source` do not allow, every page of them.
async fn simulate(
    iam: &Client,
    source: &str,
    need: &Need,
    scope: &Scope,
) -> Result<Vec<String>, String> {
    let mut denied = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .simulate_principal_policy()
            .policy_source_arn(source)
            .set_action_names(Some(need.actions().collect()))
            .resource_arns(need.resource(scope))
            .set_context_entries(Some(context(need, scope)))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| match error_code(&e) {
                Some("AccessDenied") => format!(
                    "the caller may not call iam:SimulatePrincipalPolicy on itself ({source}); \
                     grant it or see docs/testing.md"
                ),
                _ => format!("iam:SimulatePrincipalPolicy: {}", describe(&e)),
            })?;
        let results = page.evaluation_results().iter();
        denied.extend(
            results
                .filter(|r| *r.eval_decision() != PolicyEvaluationDecisionType::Allowed)
                .map(|r| r.eval_action_name().to_owned()),
        );
        match page.marker().filter(|_| page.is_truncated()) {
            Some(next) => marker = Some(next.to_owned()),
            None => return Ok(denied),
        }
    }
}

/// What a request carries that a policy's conditions may test: the region (IAM's own calls go
/// to its global endpoint, so not for them), and the service a role is passed to.
fn context(need: &Need, scope: &Scope) -> Vec<ContextEntry> {
    let entry = |key: &str, value: &str| {
        ContextEntry::builder()
            .context_key_name(key)
            .context_key_type(ContextKeyTypeEnum::String)
            .context_key_values(value)
            .build()
    };
    let mut entries = Vec::new();
    if need.service.prefix != "iam" {
        entries.push(entry("aws:RequestedRegion", &scope.region));
    }
    if let Some(to) = need.passed_to {
        entries.push(entry("iam:PassedToService", to));
    }
    entries
}

/// One finding per service from the actions each of [`NEEDS`] was denied (`denied[i]` for
/// `NEEDS[i]`).
fn verdicts(denied: &[Vec<String>], deploys: Deploys, scope: &Scope) -> Vec<Finding> {
    let mut services: Vec<Service> = Vec::new();
    for need in NEEDS {
        if !services.contains(&need.service) {
            services.push(need.service);
        }
    }
    services
        .into_iter()
        .map(|service| verdict(service, denied, deploys, scope))
        .collect()
}

/// `service`'s finding: Ok when nothing of it was denied, Missing when this environment's deploy
/// needs an action denied, Optional when only other environments or verbs do.
fn verdict(service: Service, denied: &[Vec<String>], deploys: Deploys, scope: &Scope) -> Finding {
    let mut weight = Weight::Ok;
    let mut fixes = Vec::new();
    for (need, actions) in NEEDS.iter().zip(denied) {
        if need.service != service || actions.is_empty() {
            continue;
        }
        let required = need.needed.required(deploys);
        weight = match required || weight == Weight::Missing {
            true => Weight::Missing,
            false => Weight::Optional,
        };
        fixes.push(fix(need, actions, required, scope));
    }
    match fixes.is_empty() {
        true => found(weight, service.what, "allowed"),
        false => found(weight, service.what, fixes.join("; ")),
    }
}

/// The grant that allows `actions` of `need`.
fn fix(need: &Need, actions: &[String], required: bool, scope: &Scope) -> String {
    let purpose = match required {
        true => String::new(),
        false => format!("for {}: ", need.needed.purpose()),
    };
    let to = need
        .passed_to
        .map(|to| format!(" with iam:PassedToService {to}"))
        .unwrap_or_default();
    format!(
        "{purpose}grant {} on {}{to}",
        actions.join(", "),
        need.grant(scope)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verbs::doctor::permissions::Needed;

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            stack: "hitl-dev".into(),
        }
    }

    const DURABLE: Deploys = Deploys {
        step_functions: false,
    };

    /// Nothing denied but, for the first need matching `which`, `actions`.
    fn denying(which: impl Fn(&Need) -> bool, actions: &[&str]) -> Vec<Vec<String>> {
        let mut denied = vec![Vec::new(); NEEDS.len()];
        let i = NEEDS.iter().position(which).expect("such a need");
        denied[i] = actions.iter().map(|a| (*a).to_owned()).collect();
        denied
    }

    fn of<'a>(findings: &'a [Finding], what: &str) -> &'a Finding {
        findings.iter().find(|f| f.what == what).expect(what)
    }

    #[test]
    fn everything_allowed_is_one_ok_finding_per_service() {
        let findings = verdicts(&vec![Vec::new(); NEEDS.len()], DURABLE, &scope());
        assert_eq!(findings.len(), 11);
        assert!(
            findings
                .iter()
                .all(|f| f.weight == Weight::Ok && f.note == "allowed")
        );
    }

    #[test]
    fn a_denied_deploy_action_is_missing_with_its_grant() {
        let denied = denying(
            |n| n.passed_to == Some("lambda.amazonaws.com"),
            &["iam:PassRole"],
        );
        let findings = verdicts(&denied, DURABLE, &scope());
        let iam = of(&findings, "IAM access");
        assert!(iam.weight == Weight::Missing);
        assert_eq!(
            iam.note,
            "grant iam:PassRole on arn:aws:iam::123456789012:role/hitl-dev-* with \
             iam:PassedToService lambda.amazonaws.com"
        );
        assert!(of(&findings, "S3 access").weight == Weight::Ok);
    }

    #[test]
    fn what_only_other_verbs_or_environments_need_is_optional_and_says_for_what() {
        let denied = denying(|n| n.service.prefix == "sqs", &["sqs:CreateQueue"]);
        let sqs = of(&verdicts(&denied, DURABLE, &scope()), "SQS access")
            .note
            .clone();
        assert_eq!(
            sqs,
            "for `test --aws`: grant sqs:CreateQueue on \
             arn:aws:sqs:eu-west-1:123456789012:hitl-e2e-*"
        );
        let states = |n: &Need| n.service.prefix == "states";
        let denied = denying(states, &["states:CreateStateMachine"]);
        let durable = verdicts(&denied, DURABLE, &scope());
        assert!(of(&durable, "Step Functions access").weight == Weight::Optional);
        let step_functions = Deploys {
            step_functions: true,
        };
        let theirs = verdicts(&denied, step_functions, &scope());
        assert!(of(&theirs, "Step Functions access").weight == Weight::Missing);
    }

    #[test]
    fn a_services_denials_are_joined_and_missing_wins() {
        let e2e_objects = |n: &Need| n.grant(&scope()).ends_with("hitl-e2e-*/*");
        let mut denied = denying(e2e_objects, &["s3:DeleteObject"]);
        let assets = NEEDS
            .iter()
            .position(|n| n.service.prefix == "s3" && n.needed == Needed::Deploy)
            .unwrap();
        denied[assets] = vec!["s3:CreateBucket".into(), "s3:PutBucketPolicy".into()];
        let s3 = verdicts(&denied, DURABLE, &scope());
        let s3 = of(&s3, "S3 access");
        assert!(s3.weight == Weight::Missing);
        assert_eq!(
            s3.note,
            "grant s3:CreateBucket, s3:PutBucketPolicy on \
             arn:aws:s3:::hitl-bootstrap-assetbucket-*; for `test --aws`: grant s3:DeleteObject \
             on arn:aws:s3:::hitl-e2e-*/*"
        );
    }
}
