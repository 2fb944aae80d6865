//! Least privilege, shown from what the end-to-end suites did: the router decided every call by
//! the deployed roles' policies and logged each decision with the statements that allowed it
//! (`iam.jsonl`). A statement that was the only one allowing some call is needed (taking it away
//! denies that call, which fails the suite that made it); a trust statement is needed when a
//! service assumed the role through it, each of its conditions checked against a value the
//! service sent. Every other statement must say why it is there ([`NOT_EXERCISED`]: what the
//! local environment does not run), or the check fails, naming it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use serde_json::Value;

/// Statements no suite can exercise here, by `Sid`, and why each is needed all the same.
pub const NOT_EXERCISED: [(&str, &str); 4] = [
    (
        "Logs",
        "Lambda writes the function's logs with its role (logs:CreateLogStream, PutLogEvents); the \
         local environment keeps them in files",
    ),
    (
        "Tracing",
        "the X-Ray daemon uploads the function's segments with its role; not run locally",
    ),
    (
        "LogDelivery",
        "Step Functions sets up its log delivery with the role when the state machine is made; \
         moto makes none",
    ),
    (
        "SlackWebhookKey",
        "kms:Decrypt through SSM for a Slack parameter under a customer managed key; the suites' \
         parameter uses aws/ssm",
    ),
];

/// One role statement of a deployed template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Granted {
    pub stack: String,
    /// The role's logical id.
    pub role: String,
    /// The statement's `Sid` (`#N` without one); `trust #N` for the trust policy's.
    pub sid: String,
    /// The condition keys of a trust statement, lower-cased.
    pub conditions: Vec<String>,
}

/// What the log shows a statement did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Use {
    /// Calls only this statement allowed: `action on resource`, a few.
    pub needed_by: BTreeSet<String>,
    pub count: usize,
    /// The context keys the services sent, for a trust statement.
    pub sent: BTreeSet<String>,
}

/// The statements of every role of `template` (a rendered or shipped stack) deployed as `stack`.
pub fn statements(stack: &str, template: &str) -> Result<Vec<Granted>> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let mut found = Vec::new();
    for (id, resource) in doc["Resources"].as_mapping().into_iter().flatten() {
        if resource["Type"].as_str() != Some("AWS::IAM::Role") {
            continue;
        }
        let role = id.as_str().unwrap_or_default();
        let granted = |sid: String, conditions| Granted {
            stack: stack.to_owned(),
            role: role.to_owned(),
            sid,
            conditions,
        };
        let trust = &resource["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        for (i, statement) in trust.as_sequence().into_iter().flatten().enumerate() {
            found.push(granted(format!("trust #{i}"), condition_keys(statement)));
        }
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let statements = &policy["PolicyDocument"]["Statement"];
            for (i, statement) in statements.as_sequence().into_iter().flatten().enumerate() {
                let sid = statement["Sid"]
                    .as_str()
                    .map_or(format!("#{i}"), str::to_owned);
                found.push(granted(sid, Vec::new()));
            }
        }
    }
    Ok(found)
}

fn condition_keys(statement: &serde_yaml::Value) -> Vec<String> {
    let mut keys = Vec::new();
    for (_, block) in statement["Condition"].as_mapping().into_iter().flatten() {
        for (key, _) in block.as_mapping().into_iter().flatten() {
            keys.extend(key.as_str().map(str::to_lowercase));
        }
    }
    keys.sort();
    keys
}

/// What each statement of `granted` did in the decisions `log` (the router's `iam.jsonl`).
pub fn uses(granted: &[Granted], log: &str) -> BTreeMap<Granted, Use> {
    let mut uses: BTreeMap<Granted, Use> = granted
        .iter()
        .map(|g| (g.clone(), Use::default()))
        .collect();
    for line in log.lines() {
        let Ok(decision) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if decision["decision"] != "allow" {
            continue;
        }
        let Some(statement) = statement_of(granted, &decision) else {
            continue;
        };
        let entry = uses.entry(statement).or_default();
        entry.count += 1;
        if entry.needed_by.len() < 3 {
            entry.needed_by.insert(format!(
                "{} on {}",
                decision["action"].as_str().unwrap_or(""),
                decision["resource"].as_str().unwrap_or("")
            ));
        }
        for key in decision["context"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            entry.sent.insert(key.clone());
        }
    }
    uses
}

/// The one statement a logged allow rests on, if only one allowed it.
fn statement_of(granted: &[Granted], decision: &Value) -> Option<Granted> {
    let [by] = decision["by"].as_array()?.as_slice() else {
        return None;
    };
    let role_name = decision["owner"].as_str()?.rsplit('/').next()?;
    let kind = decision["kind"].as_str()?;
    let sid = by["sid"].as_str()?;
    let sid = match kind {
        "trust" => format!("trust {sid}"),
        "identity" => sid.to_owned(),
        _ => return None,
    };
    granted
        .iter()
        .find(|g| g.sid == sid && deployed_as(g, role_name))
        .cloned()
}

/// Whether the role CloudFormation named `role_name` is `granted`'s: `<stack>-<logical id>-…`.
/// A stack given as `prefix*` is any stack whose name starts so (a stack the suites name anew
/// each run).
fn deployed_as(granted: &Granted, role_name: &str) -> bool {
    match granted.stack.strip_suffix('*') {
        Some(prefix) => {
            role_name.starts_with(prefix) && role_name.contains(&format!("-{}-", granted.role))
        }
        None => role_name.starts_with(&format!("{}-{}-", granted.stack, granted.role)),
    }
}

/// The check over the local environment's decisions `log` for the deployed `templates`
/// (stack name, template text): a line per statement, or the error naming the unjustified.
pub fn run(log: &std::path::Path, templates: &[(String, String)]) -> Result<Vec<String>> {
    let log = std::fs::read_to_string(log)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", log.display()))?;
    let mut granted = Vec::new();
    for (stack, template) in templates {
        granted.extend(statements(stack, template)?);
    }
    let group = |stack: &str| match stack.strip_suffix('*') {
        Some(prefix) => format!("{}example", prefix),
        None => "the kit's templates".to_owned(),
    };
    check(&merged(&uses(&granted, &log), group))
}

/// The uses of each statement summed over the stacks rendered from the same templates (the
/// kit's environments are: a statement one environment needed is the same statement in the
/// others), by `(templates, role, sid)`; `templates` is what `group` says of a stack.
pub fn merged(
    uses: &BTreeMap<Granted, Use>,
    group: impl Fn(&str) -> String,
) -> BTreeMap<Granted, Use> {
    let mut merged: BTreeMap<Granted, Use> = BTreeMap::new();
    for (granted, used) in uses {
        let key = Granted {
            stack: group(&granted.stack),
            ..granted.clone()
        };
        let entry = merged.entry(key).or_default();
        entry.count += used.count;
        entry.sent.extend(used.sent.iter().cloned());
        for call in &used.needed_by {
            if entry.needed_by.len() < 3 {
                entry.needed_by.insert(call.clone());
            }
        }
    }
    merged
}

/// A line per statement: what needs it, or why it is kept; an error naming every statement
/// that is neither (or whose trust conditions the services never sent a value for).
pub fn check(uses: &BTreeMap<Granted, Use>) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut unjustified = Vec::new();
    for (granted, used) in uses {
        let name = format!("{}: {}.{}", granted.stack, granted.role, granted.sid);
        let unsent: Vec<&String> = granted
            .conditions
            .iter()
            .filter(|k| !used.sent.contains(*k))
            .collect();
        if used.count > 0 && unsent.is_empty() {
            let calls: Vec<&str> = used.needed_by.iter().map(String::as_str).collect();
            lines.push(format!(
                "{name}: needed by {} calls ({})",
                used.count,
                calls.join("; ")
            ));
        } else if let Some((_, why)) = NOT_EXERCISED.iter().find(|(sid, _)| *sid == granted.sid) {
            lines.push(format!("{name}: not exercised here: {why}"));
        } else if used.count > 0 {
            unjustified.push(format!(
                "{name} (conditions on {unsent:?}, which no service sent)"
            ));
        } else {
            unjustified.push(name);
        }
    }
    if !unjustified.is_empty() {
        bail!(
            "statements no suite needed and none explains: {} (take each away, or add why it \
             stays to least_privilege::NOT_EXERCISED)",
            unjustified.join(", ")
        );
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  ReviewFunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: review
          PolicyDocument:
            Statement:
              - Sid: Table
                Effect: Allow
              - Sid: Logs
                Effect: Allow
              - Sid: Spare
                Effect: Allow
  SchedulerRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Condition:
              StringEquals: {aws:SourceAccount: "1", aws:SourceArn: x}
"#;

    fn line(kind: &str, role: &str, sid: &str, context: &str) -> String {
        format!(
            r#"{{"kind":"{kind}","owner":"arn:aws:iam::1:role/s-{role}-AB12","principal":"p","action":"dynamodb:GetItem","resource":"arn:t","context":{context},"decision":"allow","by":[{{"policy":"review","sid":"{sid}"}}]}}"#
        )
    }

    #[test]
    fn a_statement_is_needed_when_it_alone_allowed_a_call_and_explained_otherwise() {
        let granted = statements("s", TEMPLATE).unwrap();
        assert_eq!(granted.len(), 5);
        let log = [
            line("identity", "ReviewFunctionRole", "Table", "{}"),
            line("trust", "ReviewFunctionRole", "#0", "{}"),
            line(
                "trust",
                "SchedulerRole",
                "#0",
                r#"{"aws:sourcearn":["x"],"aws:sourceaccount":["1"]}"#,
            ),
        ]
        .join("\n");
        let used = uses(&granted, &log);
        let error = check(&used).unwrap_err().to_string();
        assert!(error.contains("s: ReviewFunctionRole.Spare"), "{error}");
        assert!(
            !error.contains("Table") && !error.contains("Logs"),
            "{error}"
        );
        let mut without_spare = used.clone();
        without_spare.retain(|g, _| g.sid != "Spare");
        let lines = check(&without_spare).unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("ReviewFunctionRole.Table: needed by 1 calls"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("ReviewFunctionRole.Logs: not exercised here"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("SchedulerRole.trust #0: needed by 1"))
        );
        // A trust condition on a key no service sent is vacuous: not shown needed.
        let vacuous = line(
            "trust",
            "SchedulerRole",
            "#0",
            r#"{"aws:sourceaccount":["1"]}"#,
        );
        let mut only_account = uses(&granted, &vacuous);
        only_account.retain(|g, _| g.role == "SchedulerRole");
        let error = check(&only_account).unwrap_err().to_string();
        assert!(error.contains("aws:sourcearn"), "{error}");
    }
}
