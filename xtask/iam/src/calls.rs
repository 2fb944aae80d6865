//! What AWS authorizes for one HTTP call to an AWS API: the IAM action, the resource ARN and the
//! request's condition keys, for each authorization the call needs.
//!
//! The router sees every request the kit's functions send (moto evaluates no policy), asks
//! [`needed`] what AWS would authorize, evaluates the caller's policies, and answers a refusal
//! the way the service does ([`crate::denied`]).
//!
//! Only the operations listed in each service's module are covered; any other operation is
//! [`Unknown`], never a guess, so that the router refuses it loudly and the list is extended.
//! Each rule cites its source: the Service Authorization Reference ("Actions, resources, and
//! condition keys for <service>", abbreviated SAR below) and the service's API reference or
//! developer guide.
//!
//! The condition keys filled are the service-specific ones a request itself determines (the
//! `ReturnValues` of a DynamoDB write, the `Qualifier` of a state machine ARN, the service a
//! role is passed to). Global keys (`aws:PrincipalArn`, `aws:SourceIp`, `aws:CurrentTime`,
//! `aws:SecureTransport`, …) describe the caller and the connection: the router adds them.
//! Keys that need stored state (`aws:ResourceTag/*`, a DynamoDB table's key schema for
//! `dynamodb:LeadingKeys`) are not filled: a policy conditioned on them sees them absent.

mod dynamodb;
mod lambda;
mod request;
mod s3;
mod scheduler;
mod sfn;
mod sigv4;
mod sns;
mod ssm;
#[cfg(test)]
mod tests;

pub use lambda::callback_needed;
pub use request::{Call, Needed, Unknown};
pub use sigv4::{
    Credential, Presigned, access_key, credential, presigned, security_token, service,
};

use request::{Scope, param, partition, query_protocol_params};

/// What AWS authorizes for `call`, whose resources live in `account` and `region`.
///
/// A durable execution callback (`SendDurableExecutionCallback*`) is authorized against the
/// durable execution the callback belongs to, which its opaque id does not show: [`needed`]
/// answers it [`Unknown`]; [`needed_with`] asks a resolver.
pub fn needed(call: &Call, account: &str, region: &str) -> Result<Vec<Needed>, Unknown> {
    needed_with(call, account, region, &|_| None)
}

/// [`needed`], with `callbacks` giving the durable execution ARN a callback id belongs to
/// (the router asks its durable execution emulator). An id it cannot resolve is [`Unknown`].
///
/// The service is the one the call is signed for (its SigV4 credential scope): an unsigned call
/// is [`Unknown`], as AWS refuses it before any authorization.
pub fn needed_with(
    call: &Call,
    account: &str,
    region: &str,
    callbacks: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Needed>, Unknown> {
    let Some(service) = service(call) else {
        return Err(Unknown::new(
            "",
            "",
            "the call is not signed with SigV4: no credential scope names its service",
        ));
    };
    let scope = Scope {
        account,
        region,
        partition: partition(region),
    };
    let found = match service.as_str() {
        "dynamodb" => dynamodb::needed(call, scope),
        "sns" => sns::needed(call),
        "ssm" => ssm::needed(call, scope),
        "states" => sfn::needed(call),
        "scheduler" => scheduler::needed(call, scope),
        "lambda" => lambda::needed(call, scope, callbacks),
        "s3" => s3::needed(call, scope),
        "sts" => sts(call),
        other => Err(Unknown::new(
            other,
            "",
            "no operation of this service is covered",
        )),
    }?;
    Ok(deduplicated(found))
}

/// `kms:Decrypt` of `key_arn` through an AWS service (`ssm.eu-west-1.amazonaws.com`): the
/// authorization a service's decryption of the caller's data makes in the caller's name.
/// `kms:ViaService` is the service's endpoint host ("AWS KMS condition keys: kms:ViaService",
/// AWS KMS developer guide).
pub fn decrypt_via(service_host: &str, key_arn: &str) -> Needed {
    Needed::new("kms:Decrypt", key_arn).with("kms:ViaService", service_host)
}

/// [`decrypt_via`] SSM for the value of `parameter_arn`, a `SecureString` under `key_arn`:
/// Parameter Store decrypts with the encryption context `PARAMETER_ARN` = the parameter's ARN
/// (Systems Manager user guide, "How AWS Systems Manager Parameter Store uses AWS KMS"; the
/// page was not in the stored corpus, the key is the one policies everywhere condition on).
pub fn ssm_decrypt(region: &str, key_arn: &str, parameter_arn: &str) -> Needed {
    decrypt_via(&format!("ssm.{region}.amazonaws.com"), key_arn)
        .with("kms:EncryptionContext:PARAMETER_ARN", parameter_arn)
        .with("kms:EncryptionContextKeys", "PARAMETER_ARN")
}

/// STS: `GetCallerIdentity` needs no permission (STS API reference, GetCallerIdentity: it
/// succeeds even when a policy denies `sts:GetCallerIdentity`; the SAR for STS lists the
/// action with no resource type). Its Query-protocol `Action` comes in the form body or the
/// query.
fn sts(call: &Call) -> Result<Vec<Needed>, Unknown> {
    let params = query_protocol_params(call);
    let action = param(&params, "Action").unwrap_or_default();
    match action {
        "GetCallerIdentity" => Ok(Vec::new()),
        other => Err(Unknown::new("sts", other, "operation not covered")),
    }
}

/// The authorizations, each once, in their first order.
fn deduplicated(found: Vec<Needed>) -> Vec<Needed> {
    let mut unique: Vec<Needed> = Vec::with_capacity(found.len());
    for needed in found {
        if !unique.contains(&needed) {
            unique.push(needed);
        }
    }
    unique
}
