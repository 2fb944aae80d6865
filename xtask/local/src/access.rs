//! IAM, decided in the local environment as AWS decides it (moto evaluates no policy): the
//! policies are read from moto as deployed (a role's trust policy, inline and attached policies;
//! a function's resource policy) and evaluated by `kit-iam`. Every decision is appended to
//! `iam.jsonl` in the local environment's directory, with the statements that made it, so that
//! a test can show which statement each call needs (and that none is unused).

use std::{
    collections::HashMap,
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use kit_iam::{
    Authorization, Context, Principal,
    evaluate::{self, Decision},
    policy::Policy,
};
use serde_json::json;

use hitl_aws::describe;
use kit_base::local::{ACCOUNT_ID, REGION};

/// How long what is read from moto (a role's policies, a function's policy) is reused; a
/// CloudFormation call through the router (a deploy, a destroy) forgets it all at once.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// A role as deployed: its trust policy and its identity policies (by name).
pub struct Role {
    pub arn: String,
    pub trust: Policy,
    pub identity: Vec<(String, Policy)>,
}

/// What was read from moto, by name, with when.
type Read<T> = HashMap<String, (Instant, T)>;

/// The policies, read from moto, and the decisions' log.
pub struct Access {
    runtime: tokio::runtime::Runtime,
    aws: kit_aws::Aws,
    roles: Mutex<Read<Arc<Role>>>,
    policies: Mutex<Read<Option<Arc<Policy>>>>,
    function_roles: Mutex<Read<String>>,
    /// One read of moto at a time: a burst of calls missing the cache together reads once.
    reading: Mutex<()>,
    log: Mutex<Option<std::fs::File>>,
}

/// The decisions' log of the local environment in `dir`.
pub fn log_path(dir: &std::path::Path) -> PathBuf {
    dir.join("iam.jsonl")
}

impl Access {
    /// Reads policies from moto at `moto` and logs the decisions to `log`.
    pub fn new(moto: &str, log: PathBuf) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let aws = runtime.block_on(kit_aws::Aws::local(moto));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        Ok(Self {
            runtime,
            aws,
            roles: Mutex::new(HashMap::new()),
            policies: Mutex::new(HashMap::new()),
            function_roles: Mutex::new(HashMap::new()),
            reading: Mutex::new(()),
            log: Mutex::new(Some(file)),
        })
    }

    /// Forgets what was read: the stacks changed.
    pub fn forget(&self) {
        lock(&self.roles).clear();
        lock(&self.policies).clear();
        lock(&self.function_roles).clear();
    }

    /// The role `arn` as deployed (read again when older than [`FRESH_FOR`]).
    pub fn role(&self, arn: &str) -> Result<Arc<Role>, String> {
        let fresh = |roles: &Read<Arc<Role>>| {
            roles
                .get(arn)
                .filter(|(read, _)| read.elapsed() < FRESH_FOR)
                .map(|(_, role)| role.clone())
        };
        if let Some(role) = fresh(&lock(&self.roles)) {
            return Ok(role);
        }
        let _reading = lock(&self.reading);
        if let Some(role) = fresh(&lock(&self.roles)) {
            return Ok(role);
        }
        let role = Arc::new(self.runtime.block_on(read_role(&self.aws, arn))?);
        lock(&self.roles).insert(arn.to_owned(), (Instant::now(), role.clone()));
        Ok(role)
    }

    /// The role a deployed function runs with (read again when older than [`FRESH_FOR`]).
    pub fn function_role(&self, function: &str) -> Result<String, String> {
        let fresh = |roles: &Read<String>| {
            roles
                .get(function)
                .filter(|(read, _)| read.elapsed() < FRESH_FOR)
                .map(|(_, role)| role.clone())
        };
        if let Some(role) = fresh(&lock(&self.function_roles)) {
            return Ok(role);
        }
        let _reading = lock(&self.reading);
        if let Some(role) = fresh(&lock(&self.function_roles)) {
            return Ok(role);
        }
        let role = self.read_function_role(function)?;
        lock(&self.function_roles).insert(function.to_owned(), (Instant::now(), role.clone()));
        Ok(role)
    }

    fn read_function_role(&self, function: &str) -> Result<String, String> {
        self.runtime.block_on(async {
            self.aws
                .lambda()
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(|e| format!("cannot read function {function}: {}", describe(&e)))?
                .role
                .ok_or_else(|| format!("function {function} has no role"))
        })
    }

    /// The queue or topic a function's failed asynchronous invocations go to, if it has one
    /// (read at each failure, which is rare).
    pub fn function_dead_letter(&self, function: &str) -> Option<String> {
        self.runtime.block_on(async {
            let config = self.aws.lambda().get_function_configuration();
            let config = config.function_name(function).send().await.ok()?;
            config.dead_letter_config?.target_arn
        })
    }

    /// The version `alias` of `function` points to.
    pub fn alias_version(&self, function: &str, alias: &str) -> Option<String> {
        self.runtime.block_on(async {
            let got = self
                .aws
                .lambda()
                .get_alias()
                .function_name(function)
                .name(alias);
            got.send().await.ok()?.function_version
        })
    }

    /// A function's resource-based policy, if it has one (read again when older than
    /// [`FRESH_FOR`]).
    pub fn function_policy(&self, function: &str) -> Option<Arc<Policy>> {
        let fresh = |policies: &Read<Option<Arc<Policy>>>| {
            policies
                .get(function)
                .filter(|(read, _)| read.elapsed() < FRESH_FOR)
                .map(|(_, policy)| policy.clone())
        };
        if let Some(policy) = fresh(&lock(&self.policies)) {
            return policy;
        }
        let _reading = lock(&self.reading);
        if let Some(policy) = fresh(&lock(&self.policies)) {
            return policy;
        }
        let policy = self.read_function_policy(function).map(Arc::new);
        lock(&self.policies).insert(function.to_owned(), (Instant::now(), policy.clone()));
        policy
    }

    /// A function's policy as moto has it. moto adds a `FunctionName` to each statement, which
    /// is no policy element: taken out.
    fn read_function_policy(&self, function: &str) -> Option<Policy> {
        let text = self.runtime.block_on(async {
            let out = self
                .aws
                .lambda()
                .get_policy()
                .function_name(function)
                .send();
            out.await.ok()?.policy
        })?;
        let mut document: serde_json::Value = serde_json::from_str(&text).ok()?;
        for statement in document["Statement"].as_array_mut().into_iter().flatten() {
            if let Some(statement) = statement.as_object_mut() {
                statement.remove("FunctionName");
            }
        }
        match Policy::from_value(&document) {
            Ok(policy) => Some(policy),
            Err(error) => {
                eprintln!("router: the policy of {function} cannot be read: {error}");
                None
            }
        }
    }

    /// The state machine's role.
    pub fn state_machine_role(&self, arn: &str) -> Result<String, String> {
        self.runtime.block_on(async {
            let described = self
                .aws
                .sfn()
                .describe_state_machine()
                .state_machine_arn(arn);
            described
                .send()
                .await
                .map(|d| d.role_arn)
                .map_err(|e| format!("cannot read state machine {arn}: {}", describe(&e)))
        })
    }

    /// The state machines whose definition names `text`, with their roles.
    pub fn state_machines_naming(&self, text: &str) -> Vec<(String, String)> {
        self.runtime.block_on(async {
            let sfn = self.aws.sfn();
            let Ok(listed) = sfn.list_state_machines().send().await else {
                return Vec::new();
            };
            let mut found = Vec::new();
            for machine in listed.state_machines {
                let arn = machine.state_machine_arn;
                let Ok(described) = sfn
                    .describe_state_machine()
                    .state_machine_arn(&arn)
                    .send()
                    .await
                else {
                    continue;
                };
                if described.definition.contains(text) {
                    found.push((arn, described.role_arn));
                }
            }
            found
        })
    }

    /// Whether `role`'s identity policies allow `request` (logged).
    pub fn identity(&self, role: &Role, request: &Authorization) -> Decision {
        let decision = evaluate::identity(&role.identity, request);
        self.record("identity", &role.arn, request, &decision);
        decision
    }

    /// Whether `role`'s trust policy lets `service` assume it with `context` (logged).
    pub fn trusts(&self, role: &Role, service: &str, context: Context) -> Decision {
        let request = Authorization {
            principal: Principal::Service(service.to_owned()),
            action: "sts:AssumeRole".to_owned(),
            resource: role.arn.clone(),
            context,
        };
        let decision = evaluate::trust(&role.trust, &request);
        self.record("trust", &role.arn, &request, &decision);
        decision
    }

    /// Whether a resource policy allows `request` on its own (logged under `owner`).
    pub fn resource(&self, owner: &str, policy: &Policy, request: &Authorization) -> Decision {
        let decision = evaluate::resource(policy, request);
        self.record("resource", owner, request, &decision);
        decision
    }

    fn record(&self, kind: &str, owner: &str, request: &Authorization, decision: &Decision) {
        let (outcome, by) = match decision {
            Decision::Allow { by } => ("allow", by.clone()),
            Decision::AccountAllow { by } => ("account", by.clone()),
            Decision::ImplicitDeny => ("deny", Vec::new()),
            Decision::ExplicitDeny { by } => ("explicit-deny", vec![by.clone()]),
        };
        let principal = match &request.principal {
            Principal::Aws(arn) => arn.clone(),
            Principal::Service(service) => service.clone(),
        };
        let line = json!({
            "kind": kind,
            "owner": owner,
            "principal": principal,
            "action": request.action,
            "resource": request.resource,
            "context": request.context,
            "decision": outcome,
            "by": by.iter().map(|s| json!({"policy": s.policy, "sid": s.sid})).collect::<Vec<_>>(),
        });
        if let Some(file) = lock(&self.log).as_mut() {
            // One write per line: another router appending to the same file never splits it.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// The context AWS gives every request of an IAM principal (role session `principal` of `role`).
pub fn principal_context(principal: &str, role_arn: &str) -> Context {
    let now = crate::sessions::now();
    Context::from([
        ("aws:principalarn".to_owned(), vec![role_arn.to_owned()]),
        (
            "aws:principalaccount".to_owned(),
            vec![ACCOUNT_ID.to_owned()],
        ),
        (
            "aws:principaltype".to_owned(),
            vec!["AssumedRole".to_owned()],
        ),
        ("aws:userid".to_owned(), vec![principal.to_owned()]),
        ("aws:requestedregion".to_owned(), vec![REGION.to_owned()]),
        // The SDK reaches AWS over TLS; here over loopback HTTP, which stands for it.
        ("aws:securetransport".to_owned(), vec!["true".to_owned()]),
        ("aws:epochtime".to_owned(), vec![now.to_string()]),
        ("aws:viaawsservice".to_owned(), vec!["false".to_owned()]),
    ])
}

/// The context a service sends when it assumes a role for a resource (`source_arn`) of this
/// account: `aws:SourceAccount`, `aws:SourceArn`.
pub fn service_context(source_arn: &str) -> Context {
    Context::from([
        ("aws:sourceaccount".to_owned(), vec![ACCOUNT_ID.to_owned()]),
        ("aws:sourcearn".to_owned(), vec![source_arn.to_owned()]),
    ])
}

async fn read_role(aws: &kit_aws::Aws, arn: &str) -> Result<Role, String> {
    let iam = aws.iam();
    let name = arn.rsplit('/').next().unwrap_or(arn);
    let fail = |what: &str, e: String| format!("cannot read {what} of role {name}: {e}");
    let role = iam.get_role().role_name(name).send().await;
    let role = role.map_err(|e| fail("the trust policy", describe(&e)))?;
    let trust = role
        .role
        .and_then(|r| r.assume_role_policy_document)
        .unwrap_or_default();
    let trust = parse(&trust).map_err(|e| fail("the trust policy", e))?;
    let mut identity = Vec::new();
    let inline = iam.list_role_policies().role_name(name).send().await;
    for policy in inline
        .map_err(|e| fail("the policies", describe(&e)))?
        .policy_names
    {
        let got = iam.get_role_policy().role_name(name).policy_name(&policy);
        let got = got.send().await.map_err(|e| fail(&policy, describe(&e)))?;
        identity.push((
            policy,
            parse(&got.policy_document).map_err(|e| fail("a policy", e))?,
        ));
    }
    identity.extend(
        attached(aws, name)
            .await
            .map_err(|e| fail("the attached policies", e))?,
    );
    Ok(Role {
        arn: arn.to_owned(),
        trust,
        identity,
    })
}

/// The managed policies attached to role `name`, by name.
async fn attached(aws: &kit_aws::Aws, name: &str) -> Result<Vec<(String, Policy)>, String> {
    let iam = aws.iam();
    let listed = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await;
    let mut found = Vec::new();
    for policy in listed
        .map_err(|e| describe(&e))?
        .attached_policies
        .unwrap_or_default()
    {
        let (Some(arn), Some(policy_name)) = (policy.policy_arn, policy.policy_name) else {
            continue;
        };
        let got = iam.get_policy().policy_arn(&arn).send().await;
        let version = got
            .map_err(|e| describe(&e))?
            .policy
            .and_then(|p| p.default_version_id)
            .unwrap_or_default();
        let document = iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| describe(&e))?
            .policy_version
            .and_then(|v| v.document)
            .unwrap_or_default();
        found.push((policy_name, parse(&document)?));
    }
    Ok(found)
}

/// A policy document as IAM returns it: URL-encoded JSON. moto gives it plain, and the inline
/// policies of roles CloudFormation made as Python's repr of a dict (`{'Version': …}`).
fn parse(document: &str) -> Result<Policy, String> {
    let text = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_encoding::percent_decode_str(document)
            .decode_utf8_lossy()
            .into_owned()
    };
    let parsed = Policy::parse(&text).or_else(|e| match python_literal_to_json(&text) {
        Some(json) => Policy::parse(&json),
        None => Err(e),
    });
    parsed.map_err(|e| e.to_string())
}

/// JSON for the repr of a Python dict of strings, lists, numbers and `True`/`False`/`None`;
/// `None` when `text` is no such repr.
fn python_literal_to_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push_str(&serde_json::to_string(&python_string(c, &mut chars)?).ok()?)
            }
            'T' | 'F' | 'N' => {
                let word: String = std::iter::once(c)
                    .chain(std::iter::from_fn(|| {
                        chars.next_if(|c| c.is_ascii_alphabetic())
                    }))
                    .collect();
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    _ => return None,
                });
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// The rest of a Python string literal opened by `quote`, unescaped.
fn python_string(quote: char, chars: &mut impl Iterator<Item = char>) -> Option<String> {
    let mut value = String::new();
    loop {
        match chars.next()? {
            c if c == quote => return Some(value),
            '\\' => value.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'x' => char::from_u32(u32::from_str_radix(&take(chars, 2)?, 16).ok()?)?,
                'u' => char::from_u32(u32::from_str_radix(&take(chars, 4)?, 16).ok()?)?,
                other => other,
            }),
            c => value.push(c),
        }
    }
}

fn take(chars: &mut impl Iterator<Item = char>, n: usize) -> Option<String> {
    let taken: String = chars.take(n).collect();
    (taken.chars().count() == n).then_some(taken)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_read_as_iam_and_moto_give_them() {
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let encoded: String =
            percent_encoding::utf8_percent_encode(json, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let repr = "{'Version': '2012-10-17', 'Statement': [{'Sid': 'It\\'s', 'Effect': \
                    'Allow', 'Action': 's3:GetObject', 'Resource': '*', 'Condition': \
                    {'Bool': {'aws:SecureTransport': True}}}]}";
        for text in [json, encoded.as_str(), repr] {
            let policy = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(policy.statements.len(), 1, "{text}");
        }
        assert_eq!(
            parse(repr).unwrap().statements[0].sid.as_deref(),
            Some("It's")
        );
        assert!(parse("{'a': Maybe}").is_err());
        assert!(parse("{'unclosed: 1}").is_err());
    }
}
