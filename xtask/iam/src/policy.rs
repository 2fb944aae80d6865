//! Policy documents: parsed from JSON, and one statement evaluated against an
//! [`Authorization`], as the AWS IAM User Guide describes the policy language.
//!
//! Parsing follows the grammar IAM accepts: `Statement` an object or an array; `Action`,
//! `NotAction`, `Resource`, `NotResource` and each principal type a string or an array;
//! `Principal: "*"` or a map of `AWS`/`Service`/`Federated`/`CanonicalUser`; condition values
//! strings, booleans or numbers. What IAM would refuse to store (an unknown element, both
//! `Action` and `NotAction`, an unknown condition operator, an `Effect` other than
//! `Allow`/`Deny`) is an error here too, never a panic.
//!
//! A statement applies to a request when its principal (for resource and trust policies),
//! action, resource (not for trust policies) and every condition match; see
//! [`Statement::applies`]. Matching rules, each from the page named:
//! - "Action": case-insensitive, `*` and `?` wildcards.
//! - "Resource": `*` alone is everything; otherwise ARN segments matched one by one, wildcards
//!   within a segment, none in the service segment; case-sensitive.
//! - "NotAction"/"NotResource": the statement applies to everything not listed.
//! - "Principal": see [`Statement::applies`].
//! - "Condition operators", "Conditions with multiple context keys or values": operators AND-ed,
//!   keys AND-ed, values OR-ed (NOR-ed for negated operators); a key missing from the context
//!   fails a positive operator and satisfies a negated one; `…IfExists` is true on a missing key;
//!   `ForAllValues` is true and `ForAnyValue` false on a missing key.
//! - "Variables and tags": with `Version` 2012-10-17, `${key}` (and `${key, 'default'}`,
//!   `${*}`, `${?}`, `${$}`) in the resource part of `Resource`/`NotResource` and in String,
//!   ARN and Bool condition values; a variable with no value matches nothing.
//!
//! Where the documentation is silent, these choices (each tested):
//! - a multivalued context key under an operator without `ForAllValues`/`ForAnyValue`: a
//!   positive operator holds when any value matches, a negated one when none does;
//! - `ArnLike` between a pattern and a value of different component counts: no match;
//! - a date value of digits only (`2020`) is epoch seconds, not a year;
//! - a policy value the operator cannot read (`"ten"` for a Numeric operator) matches nothing;
//! - a `Resource` that is neither `*` nor a six-segment ARN matches nothing;
//! - condition operator names are read case-insensitively.

mod condition;
mod pattern;
mod scalar;

pub use condition::{Condition, Operator, SetQualifier, Test};

use crate::{Authorization, Principal};
use serde_json::{Map, Value};

/// A malformed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed policy document: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(message.into()))
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Version` (`2012-10-17` or `2008-10-17`), absent meaning 2008-10-17.
    pub version: Option<String>,
    /// `Id`, if any.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// `Action`/`Resource` (the listed items) or `NotAction`/`NotResource` (all but them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<T> {
    /// The element lists what the statement covers.
    Listed(Vec<T>),
    /// The `Not…` element lists what it does not cover.
    AllExcept(Vec<T>),
}

/// One entry of a `Principal`/`NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalId {
    /// `"Principal": "*"`.
    Any,
    /// `{"AWS": …}`: an account id, an ARN (account root, role, user, role session), or `*`.
    Aws(String),
    /// `{"Service": …}`: a service principal (`states.amazonaws.com`).
    Service(String),
    /// `{"Federated": …}`: an identity provider (never matches here: not modelled).
    Federated(String),
    /// `{"CanonicalUser": …}`: an S3 canonical user (never matches here: not modelled).
    CanonicalUser(String),
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action`/`NotAction` (`None`: neither, and the statement applies to nothing).
    pub action: Option<Scope<String>>,
    /// `Resource`/`NotResource` (`None`: neither; only trust policies omit it).
    pub resource: Option<Scope<String>>,
    /// `Principal`/`NotPrincipal` (resource and trust policies only).
    pub principal: Option<Scope<PrincipalId>>,
    /// `Condition`, flattened: one entry per operator and key, all AND-ed.
    pub conditions: Vec<Condition>,
    /// Whether policy variables are substituted (the policy's `Version` is 2012-10-17).
    pub variables: bool,
}

/// Which kind of policy a statement is evaluated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to the principal: no `Principal` element (a statement with one never applies).
    Identity,
    /// Attached to the resource: `Principal` required and matched.
    Resource,
    /// A role trust policy: `Principal` required and matched, no `Resource` (the role itself).
    Trust,
}

/// How a statement that applies reached the requesting principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Only through its account (`"AWS": "123456789012"` or `…:root`): the statement delegates
    /// to the account, whose identity policies must also allow ("Principal", AWS account
    /// principals).
    Account,
    /// The principal itself (or its role, all principals, a service; an identity policy always
    /// reaches its own principal).
    Principal,
}

impl Policy {
    /// Parses a JSON policy document.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Reads a policy document already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        let Value::Object(doc) = value else {
            return err("a policy document is a JSON object");
        };
        known_keys(doc, &["Version", "Id", "Statement"])?;
        let version = optional_string(doc, "Version")?;
        if let Some(v) = version
            .as_deref()
            .filter(|v| !["2012-10-17", "2008-10-17"].contains(v))
        {
            return err(format!("unknown Version {v:?}"));
        }
        let variables = version.as_deref() == Some("2012-10-17");
        let statements = match doc.get("Statement") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| Statement::from_value(s, variables))
                .collect(),
            Some(one @ Value::Object(_)) => Statement::from_value(one, variables).map(|s| vec![s]),
            _ => err("Statement must be an object or an array of objects"),
        }?;
        Ok(Self {
            version,
            id: optional_string(doc, "Id")?,
            statements,
        })
    }
}

impl std::str::FromStr for Policy {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, PolicyError> {
        Self::parse(text)
    }
}

const STATEMENT_KEYS: [&str; 9] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
];

impl Statement {
    /// Reads one statement; `variables` as the policy's `Version` decides.
    fn from_value(value: &Value, variables: bool) -> Result<Self, PolicyError> {
        let Value::Object(s) = value else {
            return err("a statement is a JSON object");
        };
        known_keys(s, &STATEMENT_KEYS)?;
        let effect = match s.get("Effect") {
            Some(Value::String(e)) if e == "Allow" => Effect::Allow,
            Some(Value::String(e)) if e == "Deny" => Effect::Deny,
            other => {
                return err(format!(
                    "Effect must be \"Allow\" or \"Deny\", not {other:?}"
                ));
            }
        };
        Ok(Self {
            sid: optional_string(s, "Sid")?.filter(|sid| !sid.is_empty()),
            effect,
            action: scope(s, "Action", "NotAction", strings)?,
            resource: scope(s, "Resource", "NotResource", strings)?,
            principal: scope(s, "Principal", "NotPrincipal", principals)?,
            conditions: conditions(s.get("Condition"))?,
            variables,
        })
    }

    /// Whether this statement applies to `request` when evaluated as a `kind` policy, and how
    /// it reached the principal; `None` when it does not apply.
    ///
    /// Principals ("Principal"): `*` and `{"AWS": "*"}` match everyone; an account id or
    /// `arn:aws:iam::ACCOUNT:root` matches every principal of that account ([`Reach::Account`]);
    /// a role ARN matches the role and its sessions (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/…`,
    /// the role's path dropped); any other ARN only itself, exactly (no wildcards in
    /// principals); a service principal only that service. `NotPrincipal` applies to whoever
    /// none of its entries matches.
    pub fn applies(&self, request: &Authorization, kind: PolicyKind) -> Option<Reach> {
        let reach = match (kind, &self.principal) {
            (PolicyKind::Identity, None) => Reach::Principal,
            (PolicyKind::Identity, Some(_)) | (_, None) => return None,
            (_, Some(principal)) => principal_reach(principal, &request.principal)?,
        };
        let resource_ok = kind == PolicyKind::Trust || self.covers_resource(request);
        let covered = self.covers_action(&request.action) && resource_ok;
        (covered
            && self
                .conditions
                .iter()
                .all(|c| c.holds(&request.context, self.variables)))
        .then_some(reach)
    }

    fn covers_action(&self, action: &str) -> bool {
        match &self.action {
            Some(Scope::Listed(items)) => items.iter().any(|p| pattern::action_matches(p, action)),
            Some(Scope::AllExcept(items)) => {
                !items.iter().any(|p| pattern::action_matches(p, action))
            }
            None => false,
        }
    }

    fn covers_resource(&self, request: &Authorization) -> bool {
        let vars = self.variables.then_some(&request.context);
        let hit = |p: &String| pattern::resource_matches(p, &request.resource, vars);
        match &self.resource {
            Some(Scope::Listed(items)) => items.iter().any(hit),
            Some(Scope::AllExcept(items)) => !items.iter().any(hit),
            None => false,
        }
    }
}

/// How a `Principal`/`NotPrincipal` element reaches `who`, if at all.
fn principal_reach(scope: &Scope<PrincipalId>, who: &Principal) -> Option<Reach> {
    match scope {
        Scope::Listed(ids) => ids.iter().filter_map(|id| principal_match(id, who)).max(),
        Scope::AllExcept(ids) => {
            (!ids.iter().any(|id| principal_match(id, who).is_some())).then_some(Reach::Principal)
        }
    }
}

/// How one principal entry matches `who`.
fn principal_match(id: &PrincipalId, who: &Principal) -> Option<Reach> {
    match (id, who) {
        (PrincipalId::Any, _) => Some(Reach::Principal),
        (PrincipalId::Aws(a), _) if a == "*" => Some(Reach::Principal),
        (PrincipalId::Aws(a), Principal::Aws(arn)) => aws_match(a, arn),
        (PrincipalId::Service(s), Principal::Service(name)) => {
            (s == name).then_some(Reach::Principal)
        }
        _ => None,
    }
}

/// How an `AWS` principal entry (account id, root, role or other ARN) matches the ARN `who`.
fn aws_match(entry: &str, who: &str) -> Option<Reach> {
    if let Some((partition, account)) = account_entry(entry) {
        let who = arn_parts(who)?;
        let same = account == who.account && partition.is_none_or(|p| p == who.partition);
        return same.then_some(Reach::Account);
    }
    (entry == who || is_session_of(entry, who)).then_some(Reach::Principal)
}

/// The account an entry names as a whole: a 12-digit id, or `arn:PARTITION:iam::ID:root`
/// (with its partition).
fn account_entry(entry: &str) -> Option<(Option<&str>, &str)> {
    if entry.len() == 12 && entry.bytes().all(|b| b.is_ascii_digit()) {
        return Some((None, entry));
    }
    let arn = arn_parts(entry)?;
    (arn.service == "iam" && arn.resource == "root").then_some((Some(arn.partition), arn.account))
}

/// Whether `who` is a session of the role `role_arn` (`arn:aws:iam::A:role/PATH/NAME` has
/// sessions `arn:aws:sts::A:assumed-role/NAME/SESSION`).
fn is_session_of(role_arn: &str, who: &str) -> bool {
    let (Some(role), Some(who)) = (arn_parts(role_arn), arn_parts(who)) else {
        return false;
    };
    let same_account = role.partition == who.partition && role.account == who.account;
    let name = role
        .resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next());
    let session = who
        .resource
        .strip_prefix("assumed-role/")
        .and_then(|s| s.split_once('/'));
    let is_session =
        |(role_name, session): (&str, &str)| Some(role_name) == name && !session.is_empty();
    same_account && role.service == "iam" && who.service == "sts" && session.is_some_and(is_session)
}

struct ArnParts<'a> {
    partition: &'a str,
    service: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn arn_parts(arn: &str) -> Option<ArnParts<'_>> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let (partition, service, _region) = (parts.next()?, parts.next()?, parts.next()?);
    let (account, resource) = (parts.next()?, parts.next()?);
    Some(ArnParts {
        partition,
        service,
        account,
        resource,
    })
}

/// Fails on an element IAM does not know.
fn known_keys(object: &Map<String, Value>, known: &[&str]) -> Result<(), PolicyError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => err(format!("unknown element {k:?}")),
        None => Ok(()),
    }
}

fn optional_string(object: &Map<String, Value>, key: &str) -> Result<Option<String>, PolicyError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => err(format!("{key} must be a string, not {other}")),
    }
}

/// Reads `X` or `NotX` (not both) with `read`.
fn scope<T>(
    s: &Map<String, Value>,
    key: &str,
    not_key: &str,
    read: fn(&str, &Value) -> Result<Vec<T>, PolicyError>,
) -> Result<Option<Scope<T>>, PolicyError> {
    match (s.get(key), s.get(not_key)) {
        (Some(_), Some(_)) => err(format!("a statement has {key} or {not_key}, not both")),
        (Some(v), None) => read(key, v).map(|items| Some(Scope::Listed(items))),
        (None, Some(v)) => read(not_key, v).map(|items| Some(Scope::AllExcept(items))),
        (None, None) => Ok(None),
    }
}

/// A string or an array of strings.
fn strings(key: &str, value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|v| string_item(key, v)).collect(),
        other => err(format!(
            "{key} must be a string or an array of strings, not {other}"
        )),
    }
}

fn string_item(key: &str, value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => err(format!("{key} lists strings, not {other}")),
    }
}

/// `"*"` or a map of principal types to a string or an array of strings.
fn principals(key: &str, value: &Value) -> Result<Vec<PrincipalId>, PolicyError> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalId::Any]),
        Value::Object(map) => map,
        other => return err(format!("{key} must be \"*\" or an object, not {other}")),
    };
    let mut ids = Vec::new();
    for (kind, entries) in map {
        let make: fn(String) -> PrincipalId = match kind.as_str() {
            "AWS" => PrincipalId::Aws,
            "Service" => PrincipalId::Service,
            "Federated" => PrincipalId::Federated,
            "CanonicalUser" => PrincipalId::CanonicalUser,
            other => return err(format!("unknown principal type {other:?}")),
        };
        ids.extend(strings(kind, entries)?.into_iter().map(make));
    }
    Ok(ids)
}

/// `Condition`: operator → key → value(s).
fn conditions(value: Option<&Value>) -> Result<Vec<Condition>, PolicyError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(block) = value else {
        return err("Condition must be an object");
    };
    let mut out = Vec::new();
    for (name, keys) in block {
        let operator = Operator::parse(name).map_err(PolicyError)?;
        let Value::Object(keys) = keys else {
            return err(format!("{name} must map condition keys to values"));
        };
        for (key, values) in keys {
            let values = condition_values(values)
                .ok_or_else(|| PolicyError(format!("bad values for {name} {key}")))?;
            out.push(Condition {
                operator: operator.clone(),
                key: key.to_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

/// A condition value: a string, boolean or number, or an array of them.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        other => scalar_text(other).map(|s| vec![s]),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    const ACCOUNT: &str = "123456789012";
    const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/fn-role/fn-session";

    fn session() -> Principal {
        Principal::Aws(SESSION.to_string())
    }

    fn request(
        who: Principal,
        action: &str,
        resource: &str,
        ctx: &[(&str, &str)],
    ) -> Authorization {
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

    /// The one statement of a 2012-10-17 policy.
    fn statement(json: &str) -> Statement {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":{json}}}"#);
        let mut policy = Policy::parse(&doc).expect("a valid policy");
        policy.statements.pop().expect("one statement")
    }

    fn applies(json: &str, req: &Authorization, kind: PolicyKind) -> Option<Reach> {
        statement(json).applies(req, kind)
    }

    // "IAM JSON policy elements: Statement": an object or an array; elements a string or an
    // array; condition values strings, booleans or numbers.
    #[test]
    fn parses_both_shapes() {
        let one =
            Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        assert_eq!(one.map(|p| (p.version, p.statements.len())), Ok((None, 1)));
        let many = Policy::parse(
            r#"{"Version":"2012-10-17","Id":"x","Statement":[
              {"Sid":"A","Effect":"Deny","NotAction":["s3:*","sqs:*"],"NotResource":["*"]},
              {"Effect":"Allow","Principal":{"AWS":["123456789012"],"Service":"states.amazonaws.com"},
               "Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":true},
               "NumericLessThan":{"s3:max-keys":[10, "20"]}}}]}"#,
        )
        .expect("valid");
        assert_eq!(many.id.as_deref(), Some("x"));
        let [first, second] = &many.statements[..] else {
            panic!("two statements")
        };
        assert_eq!(first.sid.as_deref(), Some("A"));
        assert_eq!(
            first.action,
            Some(Scope::AllExcept(vec!["s3:*".into(), "sqs:*".into()]))
        );
        let ids = vec![
            PrincipalId::Aws(ACCOUNT.into()),
            PrincipalId::Service("states.amazonaws.com".into()),
        ];
        assert_eq!(second.principal, Some(Scope::Listed(ids)));
        assert_eq!(second.conditions[0].values, vec!["true"]);
        assert_eq!(second.conditions[1].values, vec!["10", "20"]);
        assert!(second.variables && second.sid.is_none());
    }

    // IAM refuses these documents: so does the parser, with an error and no panic.
    #[test]
    fn malformed_documents() {
        let bad = [
            "",
            "[]",
            "not json",
            r#"{"Statement":[]} trailing"#,
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Version":"2020-01-01","Statement":[]}"#,
            r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Action":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":[["s3:*"]],"Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":7,"Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resources":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"me","Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Group":"x"},"Action":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSimilar":{"k":"v"}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"v"}}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"k":"true"}}}}"#,
            r#"{"Statement":[1]}"#,
        ];
        for doc in bad {
            assert!(Policy::parse(doc).is_err(), "{doc}");
        }
        assert!("{\"Statement\":[]}".parse::<Policy>().is_ok());
    }

    // "IAM JSON policy elements: Action": case-insensitive, with wildcards.
    #[test]
    fn actions() {
        let s = r#"{"Effect":"Allow","Action":["iam:*AccessKey*","S3:get?bject"],"Resource":"*"}"#;
        for action in ["iam:CreateAccessKey", "IAM:listaccesskeys", "s3:GetObject"] {
            assert!(
                applies(
                    s,
                    &request(session(), action, "*", &[]),
                    PolicyKind::Identity
                )
                .is_some(),
                "{action}"
            );
        }
        for action in ["iam:CreateUser", "s3:GetObjectAcl", "sqs:GetObject"] {
            assert!(
                applies(
                    s,
                    &request(session(), action, "*", &[]),
                    PolicyKind::Identity
                )
                .is_none(),
                "{action}"
            );
        }
    }

    // "IAM JSON policy elements: NotAction": Allow with NotAction covers every other action.
    #[test]
    fn not_action() {
        let s = r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#;
        let get = request(session(), "s3:GetObject", "arn:aws:s3:::b/k", &[]);
        assert_eq!(
            applies(s, &get, PolicyKind::Identity),
            Some(Reach::Principal)
        );
        let pass = request(
            session(),
            "iam:PassRole",
            "arn:aws:iam::123456789012:role/r",
            &[],
        );
        assert_eq!(applies(s, &pass, PolicyKind::Identity), None);
    }

    // "IAM JSON policy elements: NotResource": the HRPayroll example (Deny all but Payroll).
    #[test]
    fn not_resource() {
        let s = r#"{"Effect":"Deny","Action":"s3:*",
            "NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]}"#;
        let on = |resource| {
            applies(
                s,
                &request(session(), "s3:GetObject", resource, &[]),
                PolicyKind::Identity,
            )
        };
        assert!(on("arn:aws:s3:::HRBucket/Payroll/2024.csv").is_none());
        assert!(on("arn:aws:s3:::HRBucket/Payroll").is_none());
        assert!(on("arn:aws:s3:::HRBucket/Other/x").is_some());
        assert!(on("arn:aws:s3:::OtherBucket").is_some());
    }

    // "IAM JSON policy elements: Resource": a statement needs Resource or NotResource; `*` covers
    // actions without a resource type.
    #[test]
    fn resources() {
        let none = r#"{"Effect":"Allow","Action":"*"}"#;
        assert!(
            applies(
                none,
                &request(session(), "s3:ListAllMyBuckets", "*", &[]),
                PolicyKind::Identity
            )
            .is_none()
        );
        let star = r#"{"Effect":"Allow","Action":"xray:PutTraceSegments","Resource":"*"}"#;
        assert!(
            applies(
                star,
                &request(session(), "xray:PutTraceSegments", "*", &[]),
                PolicyKind::Identity
            )
            .is_some()
        );
        let arn = r#"{"Effect":"Allow","Action":"xray:PutTraceSegments","Resource":"arn:aws:xray:*:*:*"}"#;
        assert!(
            applies(
                arn,
                &request(session(), "xray:PutTraceSegments", "*", &[]),
                PolicyKind::Identity
            )
            .is_none()
        );
    }

    // "Variables and tags": in the resource part with Version 2012-10-17 only; no value, no
    // match (in NotResource too: it then excludes nothing).
    #[test]
    fn resource_variables() {
        let s = r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#;
        let alice = request(
            session(),
            "s3:GetObject",
            "arn:aws:s3:::b/home/alice/x",
            &[("aws:username", "alice")],
        );
        assert!(applies(s, &alice, PolicyKind::Identity).is_some());
        let nobody = request(session(), "s3:GetObject", "arn:aws:s3:::b/home//x", &[]);
        assert!(applies(s, &nobody, PolicyKind::Identity).is_none());
        let old = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
            "Resource":"arn:aws:s3:::b/home/${aws:username}/*"}}"#;
        let old = Policy::parse(old).expect("valid");
        assert!(
            old.statements[0]
                .applies(&alice, PolicyKind::Identity)
                .is_none()
        );
        let literal = request(
            session(),
            "s3:GetObject",
            "arn:aws:s3:::b/home/${aws:username}/x",
            &[],
        );
        assert!(
            old.statements[0]
                .applies(&literal, PolicyKind::Identity)
                .is_some()
        );
        let deny = r#"{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/home/${aws:username}/*"}"#;
        assert!(applies(deny, &nobody, PolicyKind::Identity).is_some());
    }

    // "IAM JSON policy elements: Principal": identity policies have none; resource and trust
    // policies need one.
    #[test]
    fn principal_presence() {
        let with = r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}"#;
        let without = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;
        let req = request(session(), "s3:GetObject", "arn:aws:s3:::b/k", &[]);
        assert_eq!(applies(with, &req, PolicyKind::Identity), None);
        assert_eq!(applies(without, &req, PolicyKind::Resource), None);
        assert_eq!(
            applies(with, &req, PolicyKind::Resource),
            Some(Reach::Principal)
        );
    }

    fn reach(principal: &str, who: &str) -> Option<Reach> {
        let s = format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"sqs:SendMessage","Resource":"*"}}"#
        );
        let who = match who.strip_prefix("service:") {
            Some(service) => Principal::Service(service.into()),
            None => Principal::Aws(who.into()),
        };
        applies(
            &s,
            &request(
                who,
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:123456789012:q",
                &[],
            ),
            PolicyKind::Resource,
        )
    }

    /// Checks `(Principal element, requester, expected reach)` rows.
    fn check(rows: &[(&str, &str, Option<Reach>)]) {
        for (principal, who, expected) in rows {
            assert_eq!(reach(principal, who), *expected, "{principal} for {who}");
        }
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/fn-role";
    const SNS: &str = "service:sns.amazonaws.com";

    // "IAM JSON policy elements: Principal" (AWS account principals): the account id and the
    // root ARN stand for every principal of the account, through the account.
    #[test]
    fn account_principals() {
        let root = r#"{"AWS":"arn:aws:iam::123456789012:root"}"#;
        check(&[
            (r#"{"AWS":"123456789012"}"#, SESSION, Some(Reach::Account)),
            (root, SESSION, Some(Reach::Account)),
            (root, ROLE, Some(Reach::Account)),
            (r#"{"AWS":"999999999999"}"#, SESSION, None),
            (
                r#"{"AWS":"arn:aws-cn:iam::123456789012:root"}"#,
                SESSION,
                None,
            ),
            (r#"{"AWS":"123456789012"}"#, SNS, None),
        ]);
    }

    // "IAM JSON policy elements: Principal" (IAM role principals, role session principals): a
    // role covers its sessions; a session only itself; no wildcards.
    #[test]
    fn role_principals() {
        let role = format!(r#"{{"AWS":"{ROLE}"}}"#);
        let session = format!(r#"{{"AWS":"{SESSION}"}}"#);
        check(&[
            (&role, SESSION, Some(Reach::Principal)),
            (&role, ROLE, Some(Reach::Principal)),
            (
                r#"{"AWS":"arn:aws:iam::123456789012:role/app/fn-role"}"#,
                SESSION,
                Some(Reach::Principal),
            ),
            (
                r#"{"AWS":"arn:aws:iam::123456789012:role/other"}"#,
                SESSION,
                None,
            ),
            (
                r#"{"AWS":"arn:aws:iam::999999999999:role/fn-role"}"#,
                SESSION,
                None,
            ),
            (
                r#"{"AWS":"arn:aws:iam::123456789012:role/fn-*"}"#,
                SESSION,
                None,
            ),
            (&session, SESSION, Some(Reach::Principal)),
            (
                &session,
                "arn:aws:sts::123456789012:assumed-role/fn-role/other",
                None,
            ),
            (&session, ROLE, None),
        ]);
        let both = format!(r#"{{"AWS":["123456789012","{ROLE}"]}}"#);
        assert_eq!(
            reach(&both, SESSION),
            Some(Reach::Principal),
            "the closest entry counts"
        );
    }

    // "IAM JSON policy elements: Principal" (AWS service principals, all principals).
    #[test]
    fn service_and_all_principals() {
        let sns = r#"{"Service":"sns.amazonaws.com"}"#;
        let mixed = r#"{"AWS":"123456789012","Service":"sns.amazonaws.com"}"#;
        check(&[
            (r#""*""#, SESSION, Some(Reach::Principal)),
            (r#"{"AWS":"*"}"#, SNS, Some(Reach::Principal)),
            (sns, SNS, Some(Reach::Principal)),
            (sns, "service:sqs.amazonaws.com", None),
            (sns, SESSION, None),
            (mixed, SNS, Some(Reach::Principal)),
            (mixed, SESSION, Some(Reach::Account)),
            (
                r#"{"Federated":"cognito-identity.amazonaws.com"}"#,
                SESSION,
                None,
            ),
        ]);
    }

    // "IAM JSON policy elements: NotPrincipal": everyone but the listed principals.
    #[test]
    fn not_principal() {
        let s = r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:role/fn-role",
            "arn:aws:iam::123456789012:root"]},"Action":"s3:*","Resource":"*"}"#;
        let req = |who: &str| {
            request(
                Principal::Aws(who.into()),
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[],
            )
        };
        assert!(applies(s, &req(SESSION), PolicyKind::Resource).is_none());
        assert!(
            applies(
                s,
                &req("arn:aws:sts::999999999999:assumed-role/x/y"),
                PolicyKind::Resource
            )
            .is_some()
        );
    }

    // "Conditions with multiple context keys or values": the ExamplePolicy table (operators
    // and keys AND-ed, values OR-ed, a missing key fails).
    #[test]
    fn conditions_and_ed() {
        let s = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},
            "Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{
            "StringEquals":{"aws:PrincipalTag/department":["finance","hr","legal"],
                            "aws:PrincipalTag/role":["audit","security"]},
            "ArnLike":{"aws:PrincipalArn":["arn:aws:iam::222222222222:user/Ana","arn:aws:iam::222222222222:user/Mary"]}}}"#;
        let who = |name: &str| format!("arn:aws:iam::222222222222:user/{name}");
        let case = |dept: Option<&str>, role: Option<&str>, name: &str| {
            let arn = who(name);
            let mut ctx = vec![("aws:PrincipalArn", arn.as_str())];
            ctx.extend(dept.map(|d| ("aws:PrincipalTag/department", d)));
            ctx.extend(role.map(|r| ("aws:PrincipalTag/role", r)));
            let req = request(
                Principal::Aws(who(name)),
                "s3:ListBucket",
                "arn:aws:s3:::amzn-s3-demo-bucket",
                &ctx,
            );
            applies(s, &req, PolicyKind::Resource).is_some()
        };
        assert!(case(Some("legal"), Some("audit"), "Mary"));
        assert!(!case(Some("hr"), Some("audit"), "Nikki"));
        assert!(!case(Some("hr"), Some("payroll"), "Mary"));
        assert!(!case(Some("hr"), None, "Mary"));
        assert!(!case(None, None, "Mary"));
    }

    // "AWS global condition context keys": key names are case-insensitive.
    #[test]
    fn condition_keys_case_insensitive() {
        let s = r#"{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",
            "Resource":"*","Condition":{"ArnEquals":{"AWS:SOURCEARN":"arn:aws:sns:us-east-1:123456789012:t"}}}"#;
        let ctx = [("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:t")];
        let req = request(
            Principal::Service("sns.amazonaws.com".into()),
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
            &ctx,
        );
        assert!(applies(s, &req, PolicyKind::Resource).is_some());
    }

    /// A small deterministic generator of awkward text (no dependency for fuzzing).
    fn awkward(seed: &mut u64, len: usize) -> String {
        const ALPHABET: &[char] = &[
            '*', '?', '$', '{', '}', ':', ',', '\'', '/', '.', '-', '+', 'T', 'Z', '0', '1', '9',
            'a', 'é', '[', '"', ' ',
        ];
        (0..len)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ALPHABET[(*seed >> 33) as usize % ALPHABET.len()]
            })
            .collect()
    }

    // No input panics: policy text, patterns, variables, dates, numbers, IP ranges.
    #[test]
    fn never_panics() {
        let mut seed = 7;
        let ctx: Context = [("k".to_string(), vec!["v:1".to_string()])].into();
        for round in 0..3000 {
            let (a, b) = (
                awkward(&mut seed, round % 40),
                awkward(&mut seed, round % 23),
            );
            let _ = Policy::parse(&a);
            let _ = Operator::parse(&a);
            let toks = pattern::tokens(&a, Some(&ctx)).unwrap_or_default();
            let _ = (pattern::glob(&toks, &b), pattern::arn_like(&toks, &b));
            let _ = pattern::resource_matches(&a, &b, Some(&ctx));
            let _ = (scalar::instant(&a), scalar::number(&a), scalar::boolean(&a));
            let _ = scalar::Cidr::parse(&a).map(|net| net.contains(&b));
            evaluate_awkward(&a, &b);
        }
    }

    /// Evaluates a valid policy made of awkward values against an awkward request.
    fn evaluate_awkward(a: &str, b: &str) {
        let ops = [
            "StringLike",
            "ArnLike",
            "DateLessThan",
            "NumericEquals",
            "IpAddress",
            "Bool",
        ];
        let condition: Map<String, Value> = ops
            .iter()
            .map(|op| (op.to_string(), serde_json::json!({ "k": [a, b] })))
            .collect();
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
            "Principal": {"AWS": a}, "Action": a, "Resource": a, "Condition": condition}});
        let Ok(policy) = Policy::from_value(&doc) else {
            panic!("a valid document: {doc}");
        };
        let who = Principal::Aws(b.to_string());
        let req = request(who, b, b, &[("k", a), ("k", b), ("aws:username", b)]);
        for kind in [
            PolicyKind::Identity,
            PolicyKind::Resource,
            PolicyKind::Trust,
        ] {
            let _ = policy.statements[0].applies(&req, kind);
        }
    }

    // Trust policies have no Resource: the statement covers the role it is attached to.
    #[test]
    fn trust_ignores_resource() {
        let s = r#"{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}"#;
        let req = request(
            Principal::Service("states.amazonaws.com".into()),
            "sts:AssumeRole",
            "arn:aws:iam::123456789012:role/r",
            &[],
        );
        assert_eq!(applies(s, &req, PolicyKind::Trust), Some(Reach::Principal));
        assert_eq!(applies(s, &req, PolicyKind::Resource), None);
    }
}
