//! The decisions the router needs, combined as the IAM User Guide's "Policy evaluation logic"
//! describes them for requests within one account, each naming the statements that made it.
//!
//! Evaluated:
//! - identity-based policies: an explicit deny wins, else any allow, else an implicit deny;
//! - a resource-based policy (Lambda function policy, SQS/SNS/S3 policies), its `Principal`
//!   matched (account principals delegate to the account: [`Decision::AccountAllow`]);
//! - both within one account: an explicit deny in either wins, else an allow in either;
//! - a role trust policy (`sts:AssumeRole` by a service, with `aws:SourceAccount` and
//!   `aws:SourceArn`), and resources that must allow the principal themselves (role trust by an
//!   IAM principal, KMS key policies): [`resource_required`];
//! - every statement element and condition operator as [`crate::policy`] documents.
//!
//! Not evaluated:
//! - AWS Organizations SCPs and RCPs (the kit's account has none locally);
//! - permissions boundaries;
//! - session policies (passed to `AssumeRole`);
//! - cross-account requests (both sides must allow) beyond the same-account rules;
//! - the account root user's implicit full access;
//! - `NotPrincipal` subtleties (AWS may check the account, then the role, then the session);
//! - Federated (web identity, SAML) and CanonicalUser principals: never matched;
//! - principals named by unique id (`AROA…`) instead of ARN;
//! - request context keys AWS adds by itself (`aws:PrincipalArn`, `aws:SourceAccount`, …):
//!   the caller puts them in [`crate::Context`];
//! - the data type a service declares for a condition key (a key is compared as the operator
//!   reads it).

use crate::Authorization;
use crate::policy::{Effect, Policy, PolicyKind, Reach};

/// Names one statement: its policy and its `Sid`, or `#N` (its 0-based index) without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatementRef {
    /// The policy's name (identity policies), or its `Id` (resource and trust policies; a
    /// fixed name without one).
    pub policy: String,
    /// The statement's `Sid`, or `#N`.
    pub sid: String,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.policy, self.sid)
    }
}

/// An authorization decision and the statements that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed. `by`: every statement that allows the request; each one would on its own
    /// (except after [`resource_required`] with account delegation, where the resource's and
    /// the identity's statements are both needed).
    Allow {
        /// The allowing statements, in evaluation order.
        by: Vec<StatementRef>,
    },
    /// A resource-based policy allows the principal's account only ("Principal", AWS account
    /// principals): not an allow on its own; the account's identity policies must allow too.
    AccountAllow {
        /// The statements naming the account.
        by: Vec<StatementRef>,
    },
    /// No statement allows: implicitly denied.
    ImplicitDeny,
    /// A `Deny` statement applies: explicitly denied, whatever allows.
    ExplicitDeny {
        /// The first denying statement.
        by: StatementRef,
    },
}

impl Decision {
    /// Whether AWS would allow the request on this decision alone.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    /// Whether a `Deny` statement applies.
    pub fn is_explicit_deny(&self) -> bool {
        matches!(self, Self::ExplicitDeny { .. })
    }

    fn allowed_by(&self) -> &[StatementRef] {
        match self {
            Self::Allow { by } => by,
            _ => &[],
        }
    }
}

/// The principal's identity-based policies, each with its name: an explicit deny wins, else an
/// allow by any statement, else an implicit deny ("Policy evaluation logic").
pub fn identity(policies: &[(String, Policy)], request: &Authorization) -> Decision {
    let named = policies.iter().map(|(name, p)| (name.as_str(), p));
    decide(named, request, PolicyKind::Identity)
}

/// A resource-based policy on its own; the requester must match a statement's `Principal`.
pub fn resource(policy: &Policy, request: &Authorization) -> Decision {
    let name = policy.id.as_deref().unwrap_or("resource-policy");
    decide([(name, policy)].into_iter(), request, PolicyKind::Resource)
}

/// A role trust policy, for `sts:AssumeRole` (or `sts:TagSession`, …) on the role. Its
/// statements have no `Resource`: they apply to the role they are attached to. For a service
/// principal this is the whole decision; for an IAM principal, combine it with the principal's
/// identity decision by [`resource_required`].
pub fn trust(policy: &Policy, request: &Authorization) -> Decision {
    let name = policy.id.as_deref().unwrap_or("trust-policy");
    decide([(name, policy)].into_iter(), request, PolicyKind::Trust)
}

/// Identity and resource-based policies within one account ("Determining whether a request is
/// allowed or denied within an account"): an explicit deny in either wins; else an allow in
/// either allows (an [`Decision::AccountAllow`] adds nothing: the identity policies decide).
pub fn same_account(identity: Decision, resource: Option<Decision>) -> Decision {
    let resource = resource.unwrap_or(Decision::ImplicitDeny);
    if let Some(deny) = first_deny([&identity, &resource]) {
        return deny;
    }
    let by: Vec<StatementRef> = [&identity, &resource]
        .into_iter()
        .flat_map(|d| d.allowed_by().iter().cloned())
        .collect();
    if by.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allow { by }
    }
}

/// A resource whose policy must allow the principal itself ("Policy evaluation logic": IAM
/// role trust policies and KMS key policies): an explicit deny in either wins; else the
/// resource policy's allow decides, and an allow of the principal's account needs the identity
/// policies' allow as well.
pub fn resource_required(identity: Decision, resource: Decision) -> Decision {
    if let Some(deny) = first_deny([&identity, &resource]) {
        return deny;
    }
    match (identity, resource) {
        (_, allow @ Decision::Allow { .. }) => allow,
        (Decision::Allow { by: mut both }, Decision::AccountAllow { by }) => {
            both.extend(by);
            Decision::Allow { by: both }
        }
        _ => Decision::ImplicitDeny,
    }
}

fn first_deny<const N: usize>(decisions: [&Decision; N]) -> Option<Decision> {
    decisions
        .into_iter()
        .find(|d| d.is_explicit_deny())
        .cloned()
}

/// Evaluates every statement of the named policies as `kind` policies.
fn decide<'a>(
    policies: impl Iterator<Item = (&'a str, &'a Policy)>,
    request: &Authorization,
    kind: PolicyKind,
) -> Decision {
    let (mut direct, mut account) = (Vec::new(), Vec::new());
    for (name, policy) in policies {
        for (index, statement) in policy.statements.iter().enumerate() {
            let Some(reach) = statement.applies(request, kind) else {
                continue;
            };
            let by = StatementRef {
                policy: name.to_string(),
                sid: statement.sid.clone().unwrap_or_else(|| format!("#{index}")),
            };
            match (statement.effect, reach) {
                (Effect::Deny, _) => return Decision::ExplicitDeny { by },
                (Effect::Allow, Reach::Principal) => direct.push(by),
                (Effect::Allow, Reach::Account) => account.push(by),
            }
        }
    }
    match (direct.is_empty(), account.is_empty()) {
        (false, _) => Decision::Allow { by: direct },
        (true, false) => Decision::AccountAllow { by: account },
        (true, true) => Decision::ImplicitDeny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, Principal};

    const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/e2e-local-request/fn";
    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/e2e-local-approvals-1a2b";
    const SCHEDULER_ROLE: &str = "arn:aws:iam::123456789012:role/e2e-local-scheduler";

    fn policy(json: &str) -> Policy {
        Policy::parse(json).expect("a valid policy")
    }

    fn named(name: &str, json: &str) -> (String, Policy) {
        (name.to_string(), policy(json))
    }

    fn ask(who: Principal, action: &str, resource: &str, ctx: &[(&str, &str)]) -> Authorization {
        let mut context = Context::new();
        for (k, v) in ctx {
            context
                .entry(k.to_lowercase())
                .or_default()
                .push(v.to_string());
        }
        Authorization {
            principal: who,
            action: action.into(),
            resource: resource.into(),
            context,
        }
    }

    fn session(action: &str, resource: &str, ctx: &[(&str, &str)]) -> Authorization {
        ask(Principal::Aws(SESSION.into()), action, resource, ctx)
    }

    fn service(name: &str, action: &str, resource: &str, ctx: &[(&str, &str)]) -> Authorization {
        ask(Principal::Service(name.into()), action, resource, ctx)
    }

    fn by(policy: &str, sid: &str) -> StatementRef {
        StatementRef {
            policy: policy.into(),
            sid: sid.into(),
        }
    }

    fn allow(refs: &[(&str, &str)]) -> Decision {
        Decision::Allow {
            by: refs.iter().map(|(p, s)| by(p, s)).collect(),
        }
    }

    /// The request function's role, as the kit's templates write it.
    fn request_role() -> Vec<(String, Policy)> {
        vec![named(
            "request",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"Table","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:UpdateItem"],"Resource":"{TABLE}"}},
                {{"Sid":"PassSchedulerRole","Effect":"Allow","Action":"iam:PassRole","Resource":"{SCHEDULER_ROLE}",
                  "Condition":{{"StringEquals":{{"iam:PassedToService":"scheduler.amazonaws.com"}}}}}},
                {{"Sid":"SlackWebhookKey","Effect":"Allow","Action":"kms:Decrypt",
                  "Resource":"arn:aws:kms:us-east-1:123456789012:key/k-1",
                  "Condition":{{"StringEquals":{{"kms:ViaService":"ssm.us-east-1.amazonaws.com"}}}}}},
                {{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}},
                {{"Effect":"Allow","Action":"xray:PutTraceSegments","Resource":"*"}}]}}"#
            ),
        )]
    }

    // "Policy evaluation logic" (identity-based policies): the Table statement allows exactly
    // its two actions on its table.
    #[test]
    fn dynamodb_table() {
        let role = request_role();
        assert_eq!(
            identity(&role, &session("dynamodb:GetItem", TABLE, &[])),
            allow(&[("request", "Table")])
        );
        assert!(identity(&role, &session("dynamodb:UpdateItem", TABLE, &[])).is_allowed());
        assert_eq!(
            identity(&role, &session("dynamodb:DeleteItem", TABLE, &[])),
            Decision::ImplicitDeny
        );
        let other = "arn:aws:dynamodb:us-east-1:123456789012:table/e2e-local-approvals-9z";
        assert_eq!(
            identity(&role, &session("dynamodb:GetItem", other, &[])),
            Decision::ImplicitDeny
        );
        let index = format!("{TABLE}/index/by-status");
        assert_eq!(
            identity(&role, &session("dynamodb:Query", &index, &[])),
            Decision::ImplicitDeny
        );
    }

    // "Condition operators" (String) with iam:PassedToService: only to Scheduler.
    #[test]
    fn pass_role_to_scheduler() {
        let role = request_role();
        let pass =
            |ctx: &[(&str, &str)]| identity(&role, &session("iam:PassRole", SCHEDULER_ROLE, ctx));
        assert_eq!(
            pass(&[("iam:PassedToService", "scheduler.amazonaws.com")]),
            allow(&[("request", "PassSchedulerRole")])
        );
        assert_eq!(
            pass(&[("iam:PassedToService", "lambda.amazonaws.com")]),
            Decision::ImplicitDeny
        );
        assert_eq!(
            pass(&[]),
            Decision::ImplicitDeny,
            "a missing key fails StringEquals"
        );
    }

    // kms:ViaService: decrypt through SSM only, never directly.
    #[test]
    fn kms_via_ssm() {
        let role = request_role();
        let key = "arn:aws:kms:us-east-1:123456789012:key/k-1";
        let via = [("kms:ViaService", "ssm.us-east-1.amazonaws.com")];
        assert_eq!(
            identity(&role, &session("kms:Decrypt", key, &via)),
            allow(&[("request", "SlackWebhookKey")])
        );
        assert_eq!(
            identity(&role, &session("kms:Decrypt", key, &[])),
            Decision::ImplicitDeny
        );
        let other = [("kms:ViaService", "secretsmanager.us-east-1.amazonaws.com")];
        assert_eq!(
            identity(&role, &session("kms:Decrypt", key, &other)),
            Decision::ImplicitDeny
        );
    }

    // "IAM JSON policy elements: Resource": objects under bucket/*, not the bucket; `*` for an
    // action without a resource type. Unnamed statements are named by index.
    #[test]
    fn s3_objects_and_star() {
        let role = request_role();
        assert_eq!(
            identity(
                &role,
                &session("s3:GetObject", "arn:aws:s3:::bucket/a/b.json", &[])
            ),
            allow(&[("request", "#3")])
        );
        assert_eq!(
            identity(&role, &session("s3:GetObject", "arn:aws:s3:::bucket", &[])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            identity(
                &role,
                &session("s3:GetObject", "arn:aws:s3:::bucket-2/a", &[])
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            identity(&role, &session("xray:PutTraceSegments", "*", &[])),
            allow(&[("request", "#4")])
        );
    }

    // "Policy evaluation logic": an explicit deny in any policy overrides every allow.
    #[test]
    fn explicit_deny_wins() {
        let mut role = request_role();
        role.push(named(
            "guard",
            r#"{"Version":"2012-10-17","Statement":{"Sid":"NoUpdates","Effect":"Deny",
            "Action":"dynamodb:Update*","Resource":"*"}}"#,
        ));
        assert_eq!(
            identity(&role, &session("dynamodb:UpdateItem", TABLE, &[])),
            Decision::ExplicitDeny {
                by: by("guard", "NoUpdates")
            }
        );
        assert!(identity(&role, &session("dynamodb:GetItem", TABLE, &[])).is_allowed());
    }

    // "IAM JSON policy elements: NotAction": Allow with NotAction allows all other actions,
    // on its resources only.
    #[test]
    fn not_action_allow() {
        let role = [named(
            "broad",
            r#"{"Version":"2012-10-17","Statement":{"Sid":"AllButIam","Effect":"Allow",
            "NotAction":"iam:*","Resource":"*"}}"#,
        )];
        assert!(
            identity(
                &role,
                &session(
                    "sqs:SendMessage",
                    "arn:aws:sqs:us-east-1:123456789012:q",
                    &[]
                )
            )
            .is_allowed()
        );
        assert_eq!(
            identity(&role, &session("iam:PassRole", SCHEDULER_ROLE, &[])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            identity(&[], &session("sqs:SendMessage", "*", &[])),
            Decision::ImplicitDeny,
            "no policy"
        );
    }

    /// The scheduler role's trust policy: `ArnLike` on the schedule group, or `StringEquals`
    /// on both keys (as the kit's template has it).
    fn scheduler_trust(source_arn_operator: &str, source_arn: &str) -> Policy {
        let account = r#""aws:SourceAccount":"123456789012""#;
        let source = format!(r#""aws:SourceArn":"{source_arn}""#);
        let condition = match source_arn_operator {
            "StringEquals" => format!(r#"{{"StringEquals":{{{account},{source}}}}}"#),
            other => format!(r#"{{"StringEquals":{{{account}}},"{other}":{{{source}}}}}"#),
        };
        policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
            "Principal":{{"Service":"scheduler.amazonaws.com"}},"Action":"sts:AssumeRole",
            "Condition":{condition}}}]}}"#
        ))
    }

    const GROUP: &str = "arn:aws:scheduler:us-east-1:123456789012:schedule-group/e2e-local";

    // "Principal" (AWS service principals), "AWS global condition context keys"
    // (aws:SourceAccount, aws:SourceArn): Scheduler sets aws:SourceArn to the schedule group.
    #[test]
    fn scheduler_trust_policy() {
        let assume = |account: &str, source: &str| {
            let ctx = [("aws:SourceAccount", account), ("aws:SourceArn", source)];
            service(
                "scheduler.amazonaws.com",
                "sts:AssumeRole",
                SCHEDULER_ROLE,
                &ctx,
            )
        };
        for operator in ["ArnLike", "StringEquals"] {
            let trust_policy = scheduler_trust(operator, GROUP);
            assert_eq!(
                trust(&trust_policy, &assume("123456789012", GROUP)),
                allow(&[("trust-policy", "#0")])
            );
            assert_eq!(
                trust(&trust_policy, &assume("999999999999", GROUP)),
                Decision::ImplicitDeny
            );
            let other_group = "arn:aws:scheduler:us-east-1:123456789012:schedule-group/default";
            assert_eq!(
                trust(&trust_policy, &assume("123456789012", other_group)),
                Decision::ImplicitDeny
            );
            let no_source = service(
                "scheduler.amazonaws.com",
                "sts:AssumeRole",
                SCHEDULER_ROLE,
                &[("aws:SourceAccount", "123456789012")],
            );
            assert_eq!(trust(&trust_policy, &no_source), Decision::ImplicitDeny);
            let lambda = service(
                "lambda.amazonaws.com",
                "sts:AssumeRole",
                SCHEDULER_ROLE,
                &[
                    ("aws:SourceAccount", "123456789012"),
                    ("aws:SourceArn", GROUP),
                ],
            );
            assert_eq!(trust(&trust_policy, &lambda), Decision::ImplicitDeny);
        }
        // A condition on the schedules' ARNs never matches the group's ARN Scheduler sends.
        let schedules = scheduler_trust(
            "ArnLike",
            "arn:aws:scheduler:us-east-1:123456789012:schedule/e2e-local/*",
        );
        assert_eq!(
            trust(&schedules, &assume("123456789012", GROUP)),
            Decision::ImplicitDeny
        );
    }

    // "Condition operators" (ARN): the state machine's trust, exact name only.
    #[test]
    fn states_trust_policy() {
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:e2e-local-approval";
        let trust_policy = policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"States","Effect":"Allow","Principal":{{"Service":"states.amazonaws.com"}},
            "Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"aws:SourceAccount":"123456789012"}},
            "ArnLike":{{"aws:SourceArn":"{machine}"}}}}}}}}"#
        ));
        let assume = |source: &str| {
            let ctx = [
                ("aws:SourceAccount", "123456789012"),
                ("aws:SourceArn", source),
            ];
            service(
                "states.amazonaws.com",
                "sts:AssumeRole",
                "arn:aws:iam::123456789012:role/sm",
                &ctx,
            )
        };
        assert_eq!(
            trust(&trust_policy, &assume(machine)),
            allow(&[("trust-policy", "States")])
        );
        assert_eq!(
            trust(&trust_policy, &assume(&format!("{machine}-other"))),
            Decision::ImplicitDeny
        );
        let execution = "arn:aws:states:us-east-1:123456789012:execution:e2e-local-approval:run-1";
        assert_eq!(
            trust(&trust_policy, &assume(execution)),
            Decision::ImplicitDeny
        );
    }

    /// The review function's policy after `AWS::Lambda::Permission` for API Gateway.
    fn review_permission() -> Policy {
        policy(
            r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"ReviewInvokePermission","Effect":"Allow",
            "Principal":{"Service":"apigateway.amazonaws.com"},"Action":"lambda:InvokeFunction",
            "Resource":"arn:aws:lambda:us-east-1:123456789012:function:e2e-local-review",
            "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:123456789012:a1b2c3/e2e/*/approvals/*"}}}]}"#,
        )
    }

    // "Condition operators" (ARN), "Principal" (service): API Gateway may invoke the review
    // function for the stage's /approvals/* routes only.
    #[test]
    fn api_gateway_permission() {
        let function = "arn:aws:lambda:us-east-1:123456789012:function:e2e-local-review";
        let invoke = |source: &str| {
            service(
                "apigateway.amazonaws.com",
                "lambda:InvokeFunction",
                function,
                &[("aws:SourceArn", source)],
            )
        };
        let api = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3";
        let permission = review_permission();
        assert_eq!(
            resource(
                &permission,
                &invoke(&format!("{api}/e2e/GET/approvals/abc"))
            ),
            allow(&[("default", "ReviewInvokePermission")])
        );
        assert_eq!(
            resource(
                &permission,
                &invoke(&format!("{api}/other/GET/approvals/abc"))
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            resource(&permission, &invoke(&format!("{api}/e2e/GET/health"))),
            Decision::ImplicitDeny
        );
        let by_session = session(
            "lambda:InvokeFunction",
            function,
            &[("aws:SourceArn", &format!("{api}/e2e/GET/approvals/abc"))],
        );
        assert_eq!(
            resource(&permission, &by_session),
            Decision::ImplicitDeny,
            "API Gateway only"
        );
    }

    // "Determining whether a request is allowed or denied within an account": an allow in
    // either policy type allows; an account principal only delegates to the identity policies.
    #[test]
    fn same_account_allow() {
        let role = request_role();
        let queue = "arn:aws:sqs:us-east-1:123456789012:q";
        let send = session("sqs:SendMessage", queue, &[]);
        let queue_policy = |effect: &str, principal: &str| {
            policy(&format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Sid":"Q","Effect":"{effect}","Principal":{{"AWS":"{principal}"}},
                "Action":"sqs:SendMessage","Resource":"{queue}"}}}}"#
            ))
        };
        let by_role = queue_policy("Allow", "arn:aws:iam::123456789012:role/e2e-local-request");
        let granted = resource(&by_role, &send);
        assert_eq!(granted, allow(&[("resource-policy", "Q")]));
        assert_eq!(
            same_account(identity(&role, &send), Some(granted)),
            allow(&[("resource-policy", "Q")])
        );
        assert_eq!(
            same_account(identity(&role, &send), None),
            Decision::ImplicitDeny
        );
        // The account principal delegates to the identity policies, which do not allow.
        let by_account = resource(&queue_policy("Allow", "123456789012"), &send);
        assert_eq!(
            by_account,
            Decision::AccountAllow {
                by: vec![by("resource-policy", "Q")]
            }
        );
        assert!(!by_account.is_allowed());
        assert_eq!(
            same_account(identity(&role, &send), Some(by_account)),
            Decision::ImplicitDeny
        );
    }

    // "Determining whether a request is allowed or denied within an account": a deny in the
    // resource policy overrides the identity policy's allow; allows from both are listed.
    #[test]
    fn same_account_deny_and_both() {
        let role = request_role();
        let get = session("dynamodb:GetItem", TABLE, &[]);
        let deny = policy(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Principal":{"AWS":"123456789012"},"Action":"dynamodb:*","Resource":"*"}}"#,
        );
        assert_eq!(
            same_account(identity(&role, &get), Some(resource(&deny, &get))),
            Decision::ExplicitDeny {
                by: by("resource-policy", "D")
            }
        );
        let both = same_account(
            allow(&[("request", "Table")]),
            Some(allow(&[("resource-policy", "R")])),
        );
        assert_eq!(
            both,
            allow(&[("request", "Table"), ("resource-policy", "R")])
        );
    }

    // "Policy evaluation logic": role trust policies must allow the principal themselves; an
    // account principal there needs the identity policy's allow as well.
    #[test]
    fn trust_for_iam_principals() {
        let assume = session("sts:AssumeRole", SCHEDULER_ROLE, &[]);
        let trust_of = |principal: &str| {
            policy(&format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Sid":"T","Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}}}"#
            ))
        };
        let may_assume = [named(
            "assume",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Sid":"A","Effect":"Allow","Action":"sts:AssumeRole","Resource":"{SCHEDULER_ROLE}"}}}}"#
            ),
        )];
        let account = trust(&trust_of("arn:aws:iam::123456789012:root"), &assume);
        assert_eq!(
            resource_required(identity(&may_assume, &assume), account.clone()),
            allow(&[("assume", "A"), ("trust-policy", "T")])
        );
        assert_eq!(
            resource_required(identity(&[], &assume), account),
            Decision::ImplicitDeny
        );
        let direct = trust(
            &trust_of("arn:aws:iam::123456789012:role/e2e-local-request"),
            &assume,
        );
        assert_eq!(
            resource_required(identity(&[], &assume), direct),
            allow(&[("trust-policy", "T")])
        );
        let unrelated = trust(&trust_of("arn:aws:iam::123456789012:role/other"), &assume);
        assert_eq!(
            resource_required(identity(&may_assume, &assume), unrelated),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn statement_ref_display() {
        assert_eq!(by("request", "#0").to_string(), "request #0");
    }
}
