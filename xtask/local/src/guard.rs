//! Every call that reaches the router, decided as AWS would decide it before the router passes
//! it on: who makes it (by the access key of its signature) and whether that principal may.
//!
//! - The kit's own credentials (the user's: any key the router did not issue, locally `local`)
//!   and unsigned calls (the router's and the emulators' own) pass: the user's account is not
//!   what the kit proves.
//! - A function's role session (see [`crate::sessions`]) is decided by its role's identity
//!   policies as deployed (and the function's resource policy for an invoke), the action,
//!   resource and condition keys AWS checks for that API (`kit_iam::calls`); a session past its
//!   expiry is refused with `ExpiredToken`, an unknown key as an unknown key.
//! - Step Functions' own calls for an execution (moto's interpreter signs them with `ak`) are
//!   made with the state machine's role: Step Functions must be trusted to assume it for that
//!   state machine, and the role must allow the call. The invoke of the approval task names its
//!   execution in its payload; any other call is made by every state machine that names its
//!   target in its definition, and each must be allowed.

use kit_iam::{
    Authorization, Principal,
    calls::{self, Call, Needed},
    denied::{self, Reason, Reply},
    evaluate::{self, Decision},
};

use crate::{
    access::{Access, Role, principal_context, service_context},
    sessions::{Session, Sessions, now},
    shared::Shared,
};
use kit_base::local::{ACCESS_KEY, ACCOUNT_ID, REGION};

/// The access key moto's Step Functions interpreter signs its service calls with.
pub const STEP_FUNCTIONS_KEY: &str = "ak";

/// Who makes a call.
enum Caller {
    /// The kit's own clients, the emulators, the router: not decided.
    Own,
    StepFunctions,
    Session(Session),
}

fn caller(call: &Call, sessions: &Sessions) -> Caller {
    match calls::access_key(call) {
        None => Caller::Own,
        Some(key) if key == ACCESS_KEY => Caller::Own,
        Some(key) if key == STEP_FUNCTIONS_KEY => Caller::StepFunctions,
        Some(key) => match sessions.find(&key) {
            Some(session) => Caller::Session(session),
            None => Caller::Own,
        },
    }
}

/// The function whose role session signed `call` (the calls faults may hit), if one did.
pub fn function_calling(shared: &Shared, call: &Call) -> Option<String> {
    let key = calls::access_key(call)?;
    shared.sessions.find(&key).map(|session| session.name)
}

/// The refusal AWS would give `call`, or `None` when it may go on.
pub fn refusal(shared: &Shared, call: &Call) -> Option<Reply> {
    let (access, sessions) = (&*shared.access, &*shared.sessions);
    let service = calls::service(call).unwrap_or_default();
    // The durable emulator names executions its own way: authorized under the ARN Lambda would
    // give them, as the role's policies name them.
    let real = crate::durable::with_real_arn(shared, call.path);
    let call = &Call {
        path: real.as_deref().unwrap_or(call.path),
        ..*call
    };
    let callbacks = |id: &str| {
        let execution = crate::durable::execution_of_callback(id)?;
        crate::durable::real_arn(shared, &execution)
    };
    match caller(call, sessions) {
        Caller::Own => None,
        Caller::Session(session) if session.expired(now()) => Some(denied::expired_token(&service)),
        // A presigned URL past its `X-Amz-Expires` (S3 User Guide, "Sharing objects with
        // presigned URLs"): moto does not look.
        Caller::Session(_) if presigned_expired(call) => {
            Some(denied::refused(&service, "Request has expired"))
        }
        Caller::Session(session) => session_refusal(access, &session, call, &service, &callbacks),
        Caller::StepFunctions => step_functions_refusal(access, call, &service, &callbacks),
    }
}

/// Whether `call` is a presigned URL whose lifetime is over.
fn presigned_expired(call: &Call) -> bool {
    calls::presigned(call)
        .and_then(|p| p.expires_at())
        .is_some_and(|at| at <= now() as i64)
}

/// What AWS authorizes for `call`, or the refusal of a call the local environment cannot
/// authorize (so that the list in `kit_iam::calls` is extended, never guessed).
fn needed(
    call: &Call,
    service: &str,
    principal: &str,
    callbacks: Callbacks,
) -> Result<Vec<Needed>, Reply> {
    calls::needed_with(call, ACCOUNT_ID, REGION, callbacks).map_err(|unknown| {
        let text = format!(
            "User: {principal} made a call the local environment cannot authorize ({unknown}): \
             teach xtask/iam/src/calls what AWS checks for it"
        );
        eprintln!("router: {text}");
        denied::refused(service, &text)
    })
}

/// What a callback id resolves to: the durable execution it belongs to.
type Callbacks<'a> = &'a dyn Fn(&str) -> Option<String>;

fn session_refusal(
    access: &Access,
    session: &Session,
    call: &Call,
    service: &str,
    callbacks: Callbacks,
) -> Option<Reply> {
    let principal = session.principal();
    let needed = match needed(call, service, &principal, callbacks) {
        Ok(needed) => needed,
        Err(reply) => return Some(reply),
    };
    let role = match access.role(&session.role_arn) {
        Ok(role) => role,
        Err(error) => return Some(denied::refused(service, &error)),
    };
    needed.iter().find_map(|needed| {
        let mut request = needed.authorization(Principal::Aws(principal.clone()));
        request
            .context
            .extend(principal_context(&principal, &role.arn));
        let decision = decide(access, &role, &request);
        refused_by(decision, service, &principal, &request)
    })
}

/// The identity decision, with the target function's resource policy for an invoke (within
/// one account, either allows). Resource policies of topics, queues and buckets are not
/// consulted: the kit grants every call through the caller's role, so their allows (the
/// default topic policy's, for one) must not be what makes a call pass here.
fn decide(access: &Access, role: &Role, request: &Authorization) -> Decision {
    let identity = access.identity(role, request);
    if request.action != "lambda:InvokeFunction" || identity.is_allowed() {
        return identity;
    }
    let function = function_name(&request.resource);
    let resource = access
        .function_policy(&function)
        .map(|policy| access.resource(&request.resource, &policy, request));
    evaluate::same_account(identity, resource)
}

/// The refusal for a decision that does not allow `request`.
fn refused_by(
    decision: Decision,
    service: &str,
    principal: &str,
    request: &Authorization,
) -> Option<Reply> {
    let reason = match decision {
        Decision::Allow { .. } => return None,
        Decision::ExplicitDeny { .. } => Reason::IdentityPolicyDeny,
        Decision::AccountAllow { .. } | Decision::ImplicitDeny => Reason::NoIdentityPolicy,
    };
    let (action, resource) = (&request.action, &request.resource);
    eprintln!("router: denied {principal} {action} on {resource}");
    Some(denied::access_denied(
        service, principal, action, resource, reason,
    ))
}

/// Step Functions' own call for a state machine: allowed only when every state machine it may
/// be for may make it.
fn step_functions_refusal(
    access: &Access,
    call: &Call,
    service: &str,
    callbacks: Callbacks,
) -> Option<Reply> {
    let needed = match needed(call, service, "states.amazonaws.com", callbacks) {
        Ok(needed) => needed,
        Err(reply) => return Some(reply),
    };
    for needed in &needed {
        for machine in state_machines(access, call, needed) {
            if let Some(reply) = machine_refusal(access, &machine, needed, service) {
                return Some(reply);
            }
        }
    }
    None
}

/// The state machines a call of Step Functions may be for: the invoke's execution's, else every
/// one that names the target in its definition.
fn state_machines(access: &Access, call: &Call, needed: &Needed) -> Vec<String> {
    let payload: serde_json::Value = serde_json::from_slice(call.body).unwrap_or_default();
    if let Some(execution) = payload["executionArn"].as_str() {
        return vec![state_machine_of(execution)];
    }
    let target = needed
        .resource
        .split(':')
        .take(7)
        .collect::<Vec<_>>()
        .join(":");
    access
        .state_machines_naming(&target)
        .into_iter()
        .map(|(arn, _)| arn)
        .collect()
}

/// `arn:…:execution:<machine>:<name>` → `arn:…:stateMachine:<machine>`.
fn state_machine_of(execution: &str) -> String {
    let parts: Vec<&str> = execution.split(':').collect();
    match parts.as_slice() {
        [head @ .., "execution", machine, _name] => {
            format!("{}:stateMachine:{machine}", head.join(":"))
        }
        _ => execution.to_owned(),
    }
}

/// Whether Step Functions may assume `machine`'s role for it, and the role make the call.
fn machine_refusal(
    access: &Access,
    machine: &str,
    needed: &Needed,
    service: &str,
) -> Option<Reply> {
    let role = match access
        .state_machine_role(machine)
        .and_then(|arn| access.role(&arn))
    {
        Ok(role) => role,
        Err(error) => return Some(denied::refused(service, &error)),
    };
    let trusted = access.trusts(&role, "states.amazonaws.com", service_context(machine));
    if !trusted.is_allowed() {
        let text = format!(
            "Step Functions cannot assume {} for {machine}: its trust policy does not allow \
             states.amazonaws.com with aws:SourceArn {machine}",
            role.arn
        );
        eprintln!("router: {text}");
        return Some(denied::refused(service, &text));
    }
    let principal = assumed(&role.arn, "states");
    let mut request = needed.authorization(Principal::Aws(principal.clone()));
    request
        .context
        .extend(principal_context(&principal, &role.arn));
    refused_by(
        decide(access, &role, &request),
        service,
        &principal,
        &request,
    )
}

/// The session a service's assumed role calls with.
pub fn assumed(role_arn: &str, session: &str) -> String {
    Session {
        role_arn: role_arn.to_owned(),
        name: session.to_owned(),
        expires: 0,
    }
    .principal()
}

/// A function's name from its ARN (qualified or not).
pub fn function_name(arn: &str) -> String {
    arn.split(':').nth(6).unwrap_or(arn).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_names_its_state_machine_and_a_function_arn_its_function() {
        assert_eq!(
            state_machine_of(
                "arn:aws:states:us-east-1:123456789012:execution:e2e-local-approval:x1"
            ),
            "arn:aws:states:us-east-1:123456789012:stateMachine:e2e-local-approval"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:e2e-local-request:7"),
            "e2e-local-request"
        );
        assert_eq!(
            assumed(
                "arn:aws:iam::123456789012:role/e2e-StateMachineRole-X",
                "states"
            ),
            "arn:aws:sts::123456789012:assumed-role/e2e-StateMachineRole-X/states"
        );
    }
}
