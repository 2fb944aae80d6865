//! Whose permissions doctor simulates: the caller STS names, as the IAM user or role whose
//! policies IAM can simulate.

use anyhow::{Context, Result};
use hitl_aws::describe;
use kit_aws::Aws;

/// The caller, from its ARN (`sts:GetCallerIdentity`).
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    pub arn: String,
    pub partition: String,
    pub account: String,
    pub principal: Principal,
}

/// Whose policies make the caller's permissions.
#[derive(Debug, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user: its ARN, as STS gives it.
    User(String),
    /// A role's session: the role's name, and its ARN as if its path were `/` (GetRole gives the
    /// path).
    Role { name: String, arn: String },
    /// Nothing IAM can simulate (the root user, a federated user), and why.
    Other(&'static str),
}

/// The caller of ARN `arn`; `None` when `arn` is not an ARN.
pub fn parse(arn: &str) -> Option<Caller> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let principal = match (service, resource.split('/').collect::<Vec<_>>().as_slice()) {
        ("iam", ["user", ..]) => Principal::User(arn.to_owned()),
        ("iam", ["root"]) => {
            Principal::Other("the account's root user has no policies to simulate")
        }
        ("sts", ["assumed-role", name, _session]) => Principal::Role {
            name: (*name).to_owned(),
            arn: format!("arn:{partition}:iam::{account}:role/{name}"),
        },
        ("sts", ["federated-user", ..]) => {
            Principal::Other("a federated user's permissions are its session's, not simulable")
        }
        _ => Principal::Other("neither an IAM user nor a role's session"),
    };
    Some(Caller {
        arn: arn.to_owned(),
        partition: partition.to_owned(),
        account: account.to_owned(),
        principal,
    })
}

/// The caller the credentials are.
pub async fn identify(aws: &Aws) -> Result<Caller> {
    let identity = aws_sdk_sts::Client::new(&aws.sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("sts:GetCallerIdentity: {}", describe(&e)))?;
    let arn = identity.arn().context("STS named no caller")?;
    parse(arn).with_context(|| format!("STS named the caller {arn}, not an ARN"))
}

/// The ARN of the user or role whose policies are the caller's, or why there is none. A role's
/// path comes from iam:GetRole; without it, the role is taken to be at `/`.
pub async fn policy_source(aws: &Aws, caller: &Caller) -> Result<String, &'static str> {
    match &caller.principal {
        Principal::User(arn) => Ok(arn.clone()),
        Principal::Other(why) => Err(why),
        Principal::Role { name, arn } => {
            let role = aws.iam().get_role().role_name(name).send().await;
            Ok(role
                .ok()
                .and_then(|r| r.role().map(|r| r.arn().to_owned()))
                .unwrap_or_else(|| arn.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_roles_session_is_simulated_as_its_role() {
        let caller = parse("arn:aws:sts::123456789012:assumed-role/Deployer/alice").unwrap();
        assert_eq!(caller.partition, "aws");
        assert_eq!(caller.account, "123456789012");
        assert_eq!(
            caller.principal,
            Principal::Role {
                name: "Deployer".into(),
                arn: "arn:aws:iam::123456789012:role/Deployer".into()
            }
        );
        let china = parse("arn:aws-cn:sts::123456789012:assumed-role/R/i-0abc").unwrap();
        assert!(matches!(china.principal, Principal::Role { arn, .. }
            if arn == "arn:aws-cn:iam::123456789012:role/R"));
    }

    #[test]
    fn a_user_is_simulated_as_itself_with_its_path() {
        let arn = "arn:aws:iam::123456789012:user/ci/deployer";
        assert_eq!(parse(arn).unwrap().principal, Principal::User(arn.into()));
    }

    #[test]
    fn root_and_federated_users_cannot_be_simulated() {
        for arn in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:sts::123456789012:federated-user/bob",
        ] {
            assert!(
                matches!(parse(arn).unwrap().principal, Principal::Other(_)),
                "{arn}"
            );
        }
        assert_eq!(parse("not an arn"), None);
    }
}
