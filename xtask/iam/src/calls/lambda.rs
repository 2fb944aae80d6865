//! Lambda: REST JSON. The URI templates are those of the Lambda API reference, checked against
//! the serializers of the AWS SDK for Rust (aws-sdk-lambda 1.131, `src/operation/*.rs`), whose
//! labels percent-encode every reserved character, `/` and `:` included:
//! - `POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=]` Invoke,
//!   `GET /2015-03-31/functions/{FunctionName}[?Qualifier=]` GetFunction,
//!   `GET /2015-03-31/functions/{FunctionName}/configuration[?Qualifier=]`
//!   GetFunctionConfiguration.
//! - `POST /2025-12-01/durable-execution-callbacks/{CallbackId}/succeed|fail|heartbeat`
//!   SendDurableExecutionCallbackSuccess / Failure / Heartbeat.
//! - `POST /2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint|stop`
//!   CheckpointDurableExecution / StopDurableExecution; `GET …/{DurableExecutionArn}`
//!   GetDurableExecution, `…/state` GetDurableExecutionState, `…/history`
//!   GetDurableExecutionHistory.
//! - `GET /2025-12-01/functions/{FunctionName}/durable-executions[?Qualifier=]`
//!   ListDurableExecutionsByFunction.
//!
//! `FunctionName` is a name, `name:qualifier`, a partial ARN (`ACCOUNT:function:name`) or an
//! ARN, each optionally qualified (Lambda API reference, Invoke, "Name formats").
//!
//! Authorization (SAR, "Actions, resources, and condition keys for AWS Lambda"):
//! - Invoke is `lambda:InvokeFunction` ("Fine-tuning the Resources and Conditions sections of
//!   policies", Lambda developer guide: the action name differs from the operation's).
//!   GetFunction and GetFunctionConfiguration are their own actions. Their resource is the
//!   function ARN as the call names it: a call with a version or alias is authorized on the
//!   qualified ARN, `function:NAME:QUALIFIER`, and a call without one on the unqualified ARN
//!   ("Using Lambda aliases in event sources and permissions policies", Lambda developer guide:
//!   a permission on an alias ARN does not let the function be invoked unqualified, nor by its
//!   version). The docs show this for Invoke; GetFunction and GetFunctionConfiguration are read
//!   the same way (their SAR entry lists only the `function` type, whose ARN pattern does not
//!   show the qualifier). `Qualifier=$LATEST` gives `function:NAME:$LATEST`, literally.
//! - The durable execution actions (`CheckpointDurableExecution`, `GetDurableExecution`,
//!   `GetDurableExecutionHistory`, `GetDurableExecutionState`, `StopDurableExecution`, and the
//!   three `SendDurableExecutionCallback*`) act on the `durable execution` resource,
//!   `arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Version}/durable-execution/${ExecutionName}/${ExecutionId}`
//!   (SAR; "Security and permissions for Lambda durable functions", Lambda developer guide: the
//!   qualifier of a durable execution ARN is always `$LATEST` or a version number, never an
//!   alias, and an unqualified function ARN in a policy never matches it). The execution APIs
//!   name the ARN in their path. A callback's id is opaque: its durable execution comes from the
//!   router's resolver ([`super::needed_with`]), or [`callback_needed`].
//! - `ListDurableExecutionsByFunction` acts on the `function` resource (SAR), read like
//!   GetFunction.
//! - A checkpoint that starts a chained invoke (`Updates[].ChainedInvokeOptions`) also needs
//!   `lambda:InvokeFunction` on the invoked function (the durable execution SDKs' guides, e.g.
//!   aws/aws-durable-execution-docs, say durable invokes need it on the target); with which
//!   resource and context Lambda authorizes it is not documented: not covered.

use serde_json::Value;

use super::request::{Needed, Scope, Unknown, decoded, json_body, segments};

const SERVICE: &str = "lambda";
/// The API version of the function APIs.
const FUNCTIONS: &str = "2015-03-31";
/// The API version of the durable execution APIs.
const DURABLE: &str = "2025-12-01";

/// What a Lambda call needs.
pub(super) fn needed(
    call: &super::request::Call,
    scope: Scope,
    callbacks: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Needed>, Unknown> {
    let segments = segments(call.path);
    let found = match (call.method, segments.as_slice()) {
        ("POST", [FUNCTIONS, "functions", name, "invocations"]) => {
            function(call, "Invoke", "lambda:InvokeFunction", name, scope)?
        }
        ("GET", [FUNCTIONS, "functions", name]) => {
            function(call, "GetFunction", "lambda:GetFunction", name, scope)?
        }
        ("GET", [FUNCTIONS, "functions", name, "configuration"]) => function(
            call,
            "GetFunctionConfiguration",
            "lambda:GetFunctionConfiguration",
            name,
            scope,
        )?,
        ("GET", [DURABLE, "functions", name, "durable-executions"]) => {
            let operation = "ListDurableExecutionsByFunction";
            function(
                call,
                operation,
                "lambda:ListDurableExecutionsByFunction",
                name,
                scope,
            )?
        }
        ("POST", [DURABLE, "durable-execution-callbacks", id, outcome]) => {
            callback(outcome, &decoded(id, SERVICE, "")?, callbacks)?
        }
        (method, [DURABLE, "durable-executions", arn, rest @ ..]) => {
            execution(call, method, &decoded(arn, SERVICE, "")?, rest)?
        }
        _ => {
            return Err(Unknown::new(
                SERVICE,
                "",
                format!("{} {} not covered", call.method, call.path),
            ));
        }
    };
    Ok(vec![found])
}

/// An operation on a function, named by the path's `FunctionName` and the query's `Qualifier`.
fn function(
    call: &super::request::Call,
    operation: &str,
    action: &str,
    raw_name: &str,
    scope: Scope,
) -> Result<Needed, Unknown> {
    let name = decoded(raw_name, SERVICE, operation)?;
    let qualifier = call.query_param("Qualifier");
    let arn = function_arn(&name, qualifier.as_deref(), scope)
        .map_err(|why| Unknown::new(SERVICE, operation, why))?;
    Ok(Needed::new(action, arn))
}

/// The ARN a `FunctionName` (and a `Qualifier` parameter) names.
fn function_arn(name: &str, query_qualifier: Option<&str>, scope: Scope) -> Result<String, String> {
    let fields: Vec<&str> = name.split(':').collect();
    let (partition, region, account, function, qualifier) = match fields.as_slice() {
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            function,
            rest @ ..,
        ] => (
            *partition,
            *region,
            *account,
            *function,
            qualifier_of(rest)?,
        ),
        [account, "function", function, rest @ ..] if is_account(account) => (
            scope.partition,
            scope.region,
            *account,
            *function,
            qualifier_of(rest)?,
        ),
        [function, rest @ ..] => (
            scope.partition,
            scope.region,
            scope.account,
            *function,
            qualifier_of(rest)?,
        ),
        [] => return Err("no FunctionName".to_owned()),
    };
    if function.is_empty() || function.contains('/') {
        return Err(format!(
            "FunctionName {name:?} is not a function name or ARN"
        ));
    }
    let qualifier = match (qualifier, query_qualifier.filter(|q| !q.is_empty())) {
        (Some(named), Some(query)) if named != query => {
            return Err(format!(
                "the FunctionName's qualifier {named:?} and Qualifier {query:?} differ"
            ));
        }
        (named, query) => named.or(query),
    };
    let arn = format!("arn:{partition}:lambda:{region}:{account}:function:{function}");
    Ok(match qualifier {
        Some(qualifier) => format!("{arn}:{qualifier}"),
        None => arn,
    })
}

/// The qualifier after a function's name: none, or one non-empty field.
fn qualifier_of<'a>(rest: &[&'a str]) -> Result<Option<&'a str>, String> {
    match rest {
        [] => Ok(None),
        [qualifier] if !qualifier.is_empty() => Ok(Some(qualifier)),
        _ => Err("a FunctionName with a malformed qualifier".to_owned()),
    }
}

/// A 12-digit account id.
fn is_account(field: &str) -> bool {
    field.len() == 12 && field.bytes().all(|b| b.is_ascii_digit())
}

/// `…/durable-execution-callbacks/{CallbackId}/{outcome}`.
fn callback(
    outcome: &str,
    id: &str,
    callbacks: &dyn Fn(&str) -> Option<String>,
) -> Result<Needed, Unknown> {
    let operation = callback_operation(outcome).ok_or_else(|| {
        Unknown::new(
            SERVICE,
            "",
            format!("callback outcome {outcome:?} not covered"),
        )
    })?;
    if id.is_empty() {
        return Err(Unknown::new(SERVICE, operation, "no CallbackId"));
    }
    let execution = callbacks(id).ok_or_else(|| {
        Unknown::new(
            SERVICE,
            operation,
            "the callback id was not resolved to its durable execution",
        )
    })?;
    callback_needed(operation, &execution)
}

/// The operation of a callback path's last segment.
fn callback_operation(outcome: &str) -> Option<&'static str> {
    match outcome {
        "succeed" => Some("SendDurableExecutionCallbackSuccess"),
        "fail" => Some("SendDurableExecutionCallbackFailure"),
        "heartbeat" => Some("SendDurableExecutionCallbackHeartbeat"),
        _ => None,
    }
}

/// What a durable execution callback needs: `lambda:<operation>` on the durable execution the
/// callback belongs to (SAR: the callback actions take the `durable execution` resource).
/// `operation` is `SendDurableExecutionCallbackSuccess`, `…Failure` or `…Heartbeat`.
pub fn callback_needed(operation: &str, durable_execution_arn: &str) -> Result<Needed, Unknown> {
    if !matches!(
        operation,
        "SendDurableExecutionCallbackSuccess"
            | "SendDurableExecutionCallbackFailure"
            | "SendDurableExecutionCallbackHeartbeat"
    ) {
        return Err(Unknown::new(SERVICE, operation, "not a callback operation"));
    }
    check_durable_execution(durable_execution_arn)
        .map_err(|why| Unknown::new(SERVICE, operation, why))?;
    Ok(Needed::new(
        &format!("lambda:{operation}"),
        durable_execution_arn,
    ))
}

/// `…/durable-executions/{DurableExecutionArn}[/…]`.
fn execution(
    call: &super::request::Call,
    method: &str,
    arn: &str,
    rest: &[&str],
) -> Result<Needed, Unknown> {
    let operation = match (method, rest) {
        ("GET", []) => "GetDurableExecution",
        ("GET", ["state"]) => "GetDurableExecutionState",
        ("GET", ["history"]) => "GetDurableExecutionHistory",
        ("POST", ["checkpoint"]) => "CheckpointDurableExecution",
        ("POST", ["stop"]) => "StopDurableExecution",
        _ => {
            return Err(Unknown::new(
                SERVICE,
                "",
                format!("{method} {} not covered", call.path),
            ));
        }
    };
    check_durable_execution(arn).map_err(|why| Unknown::new(SERVICE, operation, why))?;
    if operation == "CheckpointDurableExecution" && starts_chained_invoke(call)? {
        return Err(Unknown::new(
            SERVICE,
            operation,
            "a checkpoint that starts a chained invoke is not covered",
        ));
    }
    Ok(Needed::new(&format!("lambda:{operation}"), arn))
}

/// Whether a checkpoint's `Updates` start a chained invoke.
fn starts_chained_invoke(call: &super::request::Call) -> Result<bool, Unknown> {
    let body = json_body(call, SERVICE, "CheckpointDurableExecution")?;
    let updates = body
        .get("Updates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(updates.iter().any(|update| {
        update
            .get("ChainedInvokeOptions")
            .is_some_and(|o| !o.is_null())
    }))
}

/// Checks the shape of a durable execution ARN:
/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME:VERSION/durable-execution/NAME/ID`
/// (Lambda API reference, Execution: `DurableExecutionArn`).
fn check_durable_execution(arn: &str) -> Result<(), String> {
    let malformed = || format!("{arn:?} is not a durable execution ARN");
    let (function, execution) = arn
        .split_once("/durable-execution/")
        .ok_or_else(malformed)?;
    let fields: Vec<&str> = function.split(':').collect();
    let shaped = matches!(
        fields.as_slice(),
        ["arn", _, "lambda", _, _, "function", name, version]
            if !name.is_empty() && !version.is_empty()
    );
    let execution_shaped = matches!(
        execution.split('/').collect::<Vec<_>>().as_slice(),
        [name, id] if !name.is_empty() && !id.is_empty()
    );
    if shaped && execution_shaped {
        Ok(())
    } else {
        Err(malformed())
    }
}
