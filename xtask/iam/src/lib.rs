//! IAM as AWS evaluates it, for the local environment's router: moto evaluates no policy, so the
//! router asks this crate, for every call a function makes with its role's credentials and for
//! every hop it emulates (Scheduler assuming its role, Step Functions invoking a function, API
//! Gateway invoking the review function), whether AWS would allow it, and answers a refusal the
//! way the service does.
//!
//! Pure: no I/O, no AWS SDK. [`policy`] parses and evaluates policy documents; [`evaluate`]
//! combines a principal's identity policies with a resource policy and decides trust;
//! [`calls`] says what AWS authorizes for one HTTP call to an AWS API (action, resource ARN,
//! condition keys); [`denied`] is each service's refusal.

pub mod calls;
pub mod denied;
pub mod evaluate;
pub mod policy;

use std::collections::BTreeMap;

/// The request context: condition keys (compared case-insensitively, so stored lower-cased)
/// and their values (a multivalued key has several).
pub type Context = BTreeMap<String, Vec<String>>;

/// One authorization AWS makes: may `principal` perform `action` on `resource`, given
/// `context`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Who asks: an assumed role's session
    /// (`arn:aws:sts::123456789012:assumed-role/<role>/<session>`), a role ARN, or a service
    /// principal (`scheduler.amazonaws.com`).
    pub principal: Principal,
    /// `service:Action`, as the Service Authorization Reference names it.
    pub action: String,
    /// The resource ARN AWS checks for this call (`*` for actions with no resource type).
    pub resource: String,
    pub context: Context,
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM principal by ARN: a role session (`arn:aws:sts::…:assumed-role/R/S`), a role or a
    /// user. A policy naming the role ARN matches its sessions.
    Aws(String),
    /// An AWS service, by its service principal (`states.amazonaws.com`).
    Service(String),
}
