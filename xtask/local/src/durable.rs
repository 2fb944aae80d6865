//! The durable workflow in the local environment. moto has no durable execution APIs;
//! `dex-local-runner` serves them (checkpoint, state, callbacks, executions) and runs an
//! execution by invoking the function through the Lambda Invoke API, which it points at the
//! router. So the router sends every durable API call (`/2025-12-01/…`) to the emulator, serves
//! the emulator's handler invocations (marked `X-Dex-Handler-Invoke`) from `cargo lambda watch`
//! like any invoke, and turns a caller's `Invoke` of the durable function into a new execution,
//! as Lambda does: the emulator's `start-durable-execution`, with the execution timeout and
//! retention of the function's `DurableConfig` (which moto drops, so the deploy records them in
//! `durable/<stack>.json` beside the runner's state).

use std::{collections::BTreeMap, path::Path};

use anyhow::{Context, Result};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    reply::{Reply, header},
    shared::Shared,
};

/// The header the emulator puts on its handler invocations.
pub const HANDLER_INVOKE_HEADER: &str = "x-dex-handler-invoke";

/// The path prefix of the durable execution APIs (their API version).
pub const API_PREFIX: &str = "/2025-12-01/";

/// A durable function's `DurableConfig`, as the template sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableConfig {
    pub execution_timeout_seconds: u64,
    pub retention_days: u64,
}

/// The durable functions of a rendered template, by `FunctionName`.
pub fn configs_of(template: &str) -> Result<BTreeMap<String, DurableConfig>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let mut found = BTreeMap::new();
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Ok(found);
    };
    for resource in resources.values() {
        if resource.get("Type").and_then(|t| t.as_str()) != Some("AWS::Lambda::Function") {
            continue;
        }
        let properties = &resource["Properties"];
        let Some(config) = properties.get("DurableConfig") else {
            continue;
        };
        let name = properties["FunctionName"]
            .as_str()
            .context("a durable function's FunctionName is not a plain name")?;
        let number = |key: &str| {
            config[key]
                .as_u64()
                .with_context(|| format!("{name}: DurableConfig.{key} is not a number"))
        };
        found.insert(
            name.to_owned(),
            DurableConfig {
                execution_timeout_seconds: number("ExecutionTimeout")?,
                retention_days: number("RetentionPeriodInDays").unwrap_or(14),
            },
        );
    }
    Ok(found)
}

fn configs_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("durable")
}

/// Records the durable functions of `stack`'s deployed template, in a file of the stack's own
/// (deploys of several stacks at once write no file in common).
pub fn record(dir: &Path, stack: &str, configs: &BTreeMap<String, DurableConfig>) -> Result<()> {
    let path = configs_dir(dir).join(format!("{stack}.json"));
    std::fs::create_dir_all(configs_dir(dir))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(configs)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What [`record`] recorded, of every stack.
pub fn recorded(dir: &Path) -> BTreeMap<String, DurableConfig> {
    let Ok(entries) = std::fs::read_dir(configs_dir(dir)) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| serde_json::from_str::<BTreeMap<String, DurableConfig>>(&text).ok())
        .flatten()
        .collect()
}

/// The function name and qualifier of an invoke: the path's `FunctionName` (a name, `name:q`,
/// or an ARN with or without a qualifier), or the `Qualifier` of the query.
pub fn function_and_qualifier(encoded: &str, query: &str) -> (String, Option<String>) {
    let name = percent_decode_str(encoded).decode_utf8_lossy();
    let parts: Vec<&str> = if name.starts_with("arn:") {
        name.split(':').skip(6).collect()
    } else {
        name.split(':').collect()
    };
    let function = parts.first().copied().unwrap_or("").to_owned();
    let qualifier = parts.get(1).map(|q| (*q).to_owned()).or_else(|| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "Qualifier")
            .map(|(_, v)| v.into_owned())
    });
    (function, qualifier)
}

/// The emulator's `start-durable-execution` body for an `Invoke` of `function`.
pub fn start_request(
    function: &str,
    qualifier: Option<&str>,
    execution_name: &str,
    config: DurableConfig,
    payload: &[u8],
) -> Value {
    json!({
        "AccountId": kit_base::local::ACCOUNT_ID,
        "FunctionName": function,
        "FunctionQualifier": qualifier.unwrap_or("$LATEST"),
        "ExecutionName": execution_name,
        "ExecutionTimeoutSeconds": config.execution_timeout_seconds,
        "ExecutionRetentionPeriodDays": config.retention_days,
        "Input": String::from_utf8_lossy(payload),
    })
}

/// Lambda's answer to an asynchronous `Invoke` that started the execution the emulator answered
/// for (`{"ExecutionArn": …}`): 202, the execution in `X-Amz-Durable-Execution-Arn`. An error of
/// the emulator's is passed on as it came.
pub fn started(status: u16, body: &[u8], request_id: &str) -> Reply {
    let arn = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["ExecutionArn"].as_str().map(str::to_owned));
    match arn {
        Some(arn) if (200..300).contains(&status) => (
            202,
            vec![
                header("x-amzn-RequestId", request_id),
                header("X-Amz-Durable-Execution-Arn", arn),
            ],
            Vec::new(),
        ),
        _ => (
            if status < 400 { 502 } else { status },
            vec![header("x-amzn-RequestId", request_id)],
            body.to_vec(),
        ),
    }
}

/// The execution a callback call (`/2025-12-01/durable-execution-callbacks/{id}/succeed`, `fail`
/// or `heartbeat`) is for. The emulator's callback ids are base64 of `{"arn": …, "op": …}`.
pub fn callback_execution(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2025-12-01/durable-execution-callbacks/")?;
    let (id, _action) = rest.split_once('/')?;
    execution_of_callback(&percent_decode_str(id).decode_utf8().ok()?)
}

/// The callback id of a callback call's path (`…/durable-execution-callbacks/{id}/…`).
pub fn callback_id(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2025-12-01/durable-execution-callbacks/")?;
    let (id, _action) = rest.split_once('/')?;
    Some(id.to_owned())
}

/// Remembers a callback the emulator completed (`status` of its answer to `path`).
pub fn record_completion(shared: &Shared, path: &str, status: u16) {
    if let Some(id) = callback_id(path).filter(|_| (200..300).contains(&status)) {
        completed(shared).insert(id);
    }
}

fn completed(shared: &Shared) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
    shared
        .completed_callbacks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The execution of a callback id of the emulator's (base64 of `{"arn": …, "op": …}`).
pub fn execution_of_callback(id: &str) -> Option<String> {
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD
        .decode(id.as_bytes())
        .ok()?;
    let value: Value = serde_json::from_slice(&json).ok()?;
    value["arn"].as_str().map(str::to_owned)
}

/// A caller's invoke of a durable function, which starts an execution.
pub struct Start<'a> {
    pub function: &'a str,
    pub qualifier: Option<&'a str>,
    pub invocation_type: Option<&'a str>,
    pub execution_name: Option<&'a str>,
    pub payload: &'a [u8],
}

/// Starts a durable execution for an `Invoke`, as Lambda does: the emulator's
/// `start-durable-execution` with the function's recorded `DurableConfig`.
pub fn start(shared: &Shared, invoke: &Start, request_id: &str) -> Reply {
    if invoke.invocation_type != Some("Event") {
        return refused(
            "the local environment starts durable executions with asynchronous invokes only: \
             use the invocation type Event (as `cargo xtask start` does)",
        );
    }
    let function = invoke.function;
    let Some(config) = recorded(&kit_base::local::dir()).get(function).copied() else {
        return refused(&format!(
            "{function} is not a durable function of a deployed stack: deploy its environment \
             first"
        ));
    };
    let name = invoke.execution_name.map_or_else(
        || {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("local-{nanos}")
        },
        str::to_owned,
    );
    // Lambda runs an alias's invoke on the version it points to, and names that version in the
    // execution's ARN: the emulator is given the version (it keeps no aliases).
    let version = invoke
        .qualifier
        .filter(|q| !q.starts_with('$') && !q.chars().all(|c| c.is_ascii_digit()))
        .and_then(|alias| shared.access.alias_version(function, alias));
    let qualifier = version.as_deref().or(invoke.qualifier);
    let body = start_request(function, qualifier, &name, config, invoke.payload);
    let answer = shared
        .agent
        .post(format!(
            "{}/start-durable-execution",
            shared.upstreams.durable
        ))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(anyhow::Error::from)
        .and_then(|mut response| {
            let status = response.status().as_u16();
            Ok((status, response.body_mut().read_to_vec()?))
        });
    match answer {
        Ok((status, body)) => started(status, &body, request_id),
        Err(error) => (
            502,
            vec![header("x-amzn-RequestId", request_id)],
            format!("the durable execution emulator did not answer: {error:#}").into_bytes(),
        ),
    }
}

/// Lambda's refusal of a callback (`path`) whose execution no longer runs, which the emulator
/// would take: its callback ids name their execution, which the emulator describes.
pub fn closed_callback(path: &str, shared: &Shared) -> Option<Reply> {
    if callback_id(path).is_some_and(|id| completed(shared).contains(&id)) {
        return Some(callback_closed());
    }
    let execution = callback_execution(path)?;
    let encoded =
        percent_encoding::utf8_percent_encode(&execution, percent_encoding::NON_ALPHANUMERIC);
    let described = shared
        .agent
        .get(format!(
            "{}/2025-12-01/durable-executions/{encoded}",
            shared.upstreams.durable
        ))
        .call()
        .ok()?
        .body_mut()
        .read_to_vec()
        .ok()?;
    (!is_running(&described)).then(callback_closed)
}

/// The ARN Lambda would give the emulator's execution `id` (the emulator names executions
/// `<uuid>/<uuid>`): `<qualified function ARN>/durable-execution/<name>/<id>`, from the
/// emulator's own description of it. An ARN stays as it is.
pub fn real_arn(shared: &Shared, id: &str) -> Option<String> {
    static KNOWN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::LazyLock::new(Default::default);
    if id.starts_with("arn:") {
        return Some(id.to_owned());
    }
    let known = |id: &str| {
        KNOWN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    };
    if let Some(arn) = known(id) {
        return Some(arn);
    }
    let arn = described_arn(shared, id)?;
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.to_owned(), arn.clone());
    Some(arn)
}

/// [`real_arn`] from the emulator's description of the execution.
fn described_arn(shared: &Shared, id: &str) -> Option<String> {
    let encoded = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
    let described = shared
        .agent
        .get(format!(
            "{}{API_PREFIX}durable-executions/{encoded}",
            shared.upstreams.durable
        ))
        .call()
        .ok()?
        .body_mut()
        .read_to_vec()
        .ok()?;
    let described: Value = serde_json::from_slice(&described).ok()?;
    let unique = id.split('/').next().unwrap_or(id);
    Some(format!(
        "{}/durable-execution/{}/{unique}",
        described["FunctionArn"].as_str()?,
        described["DurableExecutionName"].as_str()?,
    ))
}

/// `call`'s path with the emulator's execution id in `/2025-12-01/durable-executions/{id}/…`
/// replaced by the ARN Lambda would give it ([`real_arn`]); `None` for any other path.
pub fn with_real_arn(shared: &Shared, path: &str) -> Option<String> {
    let rest = path
        .strip_prefix(API_PREFIX)?
        .strip_prefix("durable-executions/")?;
    let (id, tail) = rest.split_once('/').map_or((rest, ""), |(i, t)| (i, t));
    let id = percent_decode_str(id).decode_utf8().ok()?;
    let arn = real_arn(shared, &id)?;
    let encoded = percent_encoding::utf8_percent_encode(&arn, percent_encoding::NON_ALPHANUMERIC);
    let tail = if tail.is_empty() {
        String::new()
    } else {
        format!("/{tail}")
    };
    Some(format!("{API_PREFIX}durable-executions/{encoded}{tail}"))
}

/// Whether the emulator's `GetDurableExecution` answer (`{"Status": …}`) says it still runs.
pub fn is_running(described: &[u8]) -> bool {
    serde_json::from_slice::<Value>(described).is_ok_and(|v| v["Status"] == "RUNNING")
}

/// Lambda's answer to a callback of an execution that ended (stopped, timed out, failed): the
/// emulator would take it, Lambda refuses it ("the callback associated with the token has
/// already been closed").
pub fn callback_closed() -> Reply {
    (
        400,
        vec![header("x-amzn-ErrorType", "CallbackTimeoutException")],
        json!({
            "Type": "User",
            "message": "The callback ID token has either expired or the callback associated with the token has already been closed.",
        })
        .to_string()
        .into_bytes(),
    )
}

/// Lambda's refusal of an invoke the local environment does not emulate.
pub fn refused(message: &str) -> Reply {
    (
        400,
        vec![header("x-amzn-ErrorType", "InvalidParameterValueException")],
        json!({ "Type": "User", "message": message })
            .to_string()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invokes_name_their_function_and_qualifier_every_way_lambda_takes() {
        for (path, query) in [
            ("hitl-local-workflow:live", ""),
            ("hitl-local-workflow", "Qualifier=live"),
            (
                "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahitl-local-workflow%3Alive",
                "",
            ),
        ] {
            assert_eq!(
                function_and_qualifier(path, query),
                ("hitl-local-workflow".to_owned(), Some("live".to_owned())),
                "{path}?{query}"
            );
        }
        assert_eq!(
            function_and_qualifier("hitl-local-workflow", ""),
            ("hitl-local-workflow".to_owned(), None)
        );
    }

    #[test]
    fn the_templates_durable_config_is_what_executions_start_with() {
        let template = "Resources:\n  W:\n    Type: AWS::Lambda::Function\n    Properties:\n      \
                        FunctionName: s-workflow\n      DurableConfig:\n        \
                        ExecutionTimeout: 90\n        RetentionPeriodInDays: 3\n  R:\n    \
                        Type: AWS::Lambda::Function\n    Properties:\n      FunctionName: s-review\n";
        let configs = configs_of(template).unwrap();
        let config = DurableConfig {
            execution_timeout_seconds: 90,
            retention_days: 3,
        };
        assert_eq!(
            configs.into_iter().collect::<Vec<_>>(),
            [("s-workflow".to_owned(), config)]
        );
        let body = start_request(
            "s-workflow",
            Some("live"),
            "e1",
            config,
            br#"{"title":"T"}"#,
        );
        assert_eq!(body["FunctionQualifier"], "live");
        assert_eq!(body["ExecutionTimeoutSeconds"], 90);
        assert_eq!(body["ExecutionRetentionPeriodDays"], 3);
        assert_eq!(body["Input"], r#"{"title":"T"}"#);
    }

    #[test]
    fn a_callback_names_its_execution_through_the_emulators_callback_id() {
        use base64::Engine;
        let id =
            base64::engine::general_purpose::STANDARD.encode(br#"{"arn":"exec/1","op":"abc"}"#);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let path = format!("/2025-12-01/durable-execution-callbacks/{encoded}/succeed");
        assert_eq!(callback_execution(&path).as_deref(), Some("exec/1"));
        assert_eq!(callback_execution("/2025-12-01/durable-executions/x"), None);
        assert!(is_running(br#"{"Status":"RUNNING"}"#));
        assert!(!is_running(br#"{"Status":"STOPPED"}"#));
        let (status, headers, _) = callback_closed();
        assert_eq!(status, 400);
        assert_eq!(headers[0].1, "CallbackTimeoutException");
    }

    #[test]
    fn a_started_execution_answers_as_an_asynchronous_invoke() {
        let (status, headers, body) = started(200, br#"{"ExecutionArn":"arn:x"}"#, "r1");
        assert_eq!(status, 202);
        assert!(headers.contains(&header("X-Amz-Durable-Execution-Arn", "arn:x")));
        assert!(body.is_empty());
        let (status, _, body) = started(400, br#"{"Type":"InvalidParameterValueException"}"#, "r2");
        assert_eq!(status, 400);
        assert!(!body.is_empty());
    }
}
