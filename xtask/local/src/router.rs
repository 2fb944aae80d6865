//! The router of the local environment. moto's Step Functions interpreter sends every service
//! call to `localhost:$MOTO_PORT`, so the router listens there: a Lambda `Invoke` of one of the
//! kit's functions goes to `cargo lambda watch`, which serves each binary by its name; every
//! other call goes to moto. It also makes cargo-lambda's answers look like Lambda's, which moto
//! relies on: a request id on every response, and a handler error as `200` with
//! `X-Amz-Function-Error` rather than a `500`.
//!
//! The functions reach moto through the router too, because moto's DynamoDB checks a
//! condition and then writes without a lock: two racing conditional updates can both succeed,
//! which real DynamoDB never allows. The router lets one DynamoDB write into moto at a time
//! (reads go in together, never beside a write), so the local environment keeps the guarantee
//! the approval protocol stands on.
//!
//! On a port of its own it serves the review API the way API Gateway's REST proxy integration
//! would ([`crate::api`]): the functions get the event production gives them.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    thread,
};

use anyhow::{Context, Result};
use percent_encoding::percent_decode_str;

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `cargo lambda watch`, at this path (the function named by its binary).
    Lambda(String),
    /// A function URL of `cargo lambda watch` (`/lambda-url/<binary>/…`): the review pages.
    FunctionUrl(String),
    /// A Lambda invoke of a function the kit does not have.
    UnknownFunction(String),
    /// The durable execution APIs: the emulator ([`crate::durable`]).
    Durable,
    /// moto, unchanged.
    Moto,
}

/// Routes a request path. `binaries` are the function binaries (`request`, `review`); a
/// deployed function `<stack>-<binary>` (by name or ARN, with or without a qualifier) is served
/// by `<binary>`.
pub fn route(path: &str, binaries: &[String]) -> Target {
    if path.starts_with(crate::durable::API_PREFIX) {
        return Target::Durable;
    }
    if let Some(rest) = path.strip_prefix("/lambda-url/") {
        let binary = rest.split('/').next().unwrap_or("");
        return match binaries.iter().find(|b| b.as_str() == binary) {
            Some(binary) => Target::FunctionUrl(binary.clone()),
            None => Target::UnknownFunction(binary.to_owned()),
        };
    }
    let Some(encoded) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
    else {
        return Target::Moto;
    };
    let name = percent_decode_str(encoded).decode_utf8_lossy();
    let function = if name.starts_with("arn:") {
        name.split(':').nth(6).unwrap_or("")
    } else {
        name.split(':').next().unwrap_or("")
    };
    match binaries
        .iter()
        .find(|b| function == b.as_str() || function.ends_with(&format!("-{b}")))
    {
        Some(binary) => Target::Lambda(format!("/2015-03-31/functions/{binary}/invocations")),
        None => Target::UnknownFunction(function.to_owned()),
    }
}

/// What a cargo-lambda answer becomes, as Lambda's `Invoke` API would give it.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

/// Lambda answers a handler error with 200 and `X-Amz-Function-Error: Unhandled`, the error
/// document as the body; cargo-lambda answers it with 500. moto reads the request id of every
/// answer.
pub fn translate(status: u16, body: &[u8], request_id: &str) -> Translated {
    let mut headers = vec![("x-amzn-RequestId", request_id.to_owned())];
    let handler_error = status == 500
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("errorType").is_some());
    if handler_error {
        headers.push(("X-Amz-Function-Error", "Unhandled".to_owned()));
        return Translated {
            status: 200,
            headers,
        };
    }
    if status == 200 {
        headers.push(("X-Amz-Executed-Version", "$LATEST".to_owned()));
    }
    Translated { status, headers }
}

/// How a call into moto must be admitted so that moto's DynamoDB behaves atomically.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Admission {
    /// Not DynamoDB: no waiting.
    Free,
    /// A DynamoDB read: alongside other reads.
    Shared,
    /// A DynamoDB write (or anything else DynamoDB): alone.
    Exclusive,
}

/// The admission of a call by its `X-Amz-Target` header (`DynamoDB_20120810.UpdateItem`).
pub fn admission(target: Option<&str>) -> Admission {
    const READS: [&str; 5] = [
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
    ];
    let Some(operation) = target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) else {
        return Admission::Free;
    };
    if READS.contains(&operation)
        || operation.starts_with("Describe")
        || operation.starts_with("List")
    {
        Admission::Shared
    } else {
        Admission::Exclusive
    }
}

/// The largest `TemplateBody` CloudFormation takes: 51,200 bytes ("Template body size in a
/// request", AWS CloudFormation quotas). moto takes any size.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The CloudFormation actions that take a `TemplateBody`.
const TEMPLATE_ACTIONS: [&str; 5] = [
    "CreateStack",
    "UpdateStack",
    "CreateChangeSet",
    "ValidateTemplate",
    "GetTemplateSummary",
];

/// CloudFormation's answer to a request AWS refuses and moto would take: a `TemplateBody` over
/// [`TEMPLATE_BODY_LIMIT`], refused as AWS refuses it (`ValidationError`, HTTP 400). The body is
/// the Query protocol's form.
pub fn refused_by_aws(body: &[u8]) -> Option<Reply> {
    let mut action = None;
    let mut template_bytes = 0;
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "Action" => action = Some(value.into_owned()),
            "TemplateBody" => template_bytes = value.len(),
            _ => {}
        }
    }
    let action = action?;
    if !TEMPLATE_ACTIONS.contains(&action.as_str()) || template_bytes <= TEMPLATE_BODY_LIMIT {
        return None;
    }
    let message = format!(
        "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: \
         Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}"
    );
    let xml = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <Error><Type>Sender</Type><Code>ValidationError</Code><Message>{message}</Message></Error>\
         <RequestId>hitl-router</RequestId></ErrorResponse>"
    );
    Some((
        400,
        vec![("Content-Type", "text/xml".to_owned())],
        xml.into_bytes(),
    ))
}

/// What the router knows of executions, to answer for them as Step Functions does where moto
/// does not. moto keeps a stopped execution `RUNNING` (and takes its task's callback) until the
/// waiting task times out; Step Functions reports it `ABORTED` at once and refuses the callback.
/// The router sees each `StopExecution` on its way to moto, and each task token on its way to
/// the functions (the approval task's payload carries the token and the execution).
#[derive(Default)]
pub struct Executions {
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
    stopped: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Executions {
    /// Remembers the token and execution of an invoke's payload, if it has both.
    pub fn remember(&self, payload: &[u8]) {
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return;
        };
        if let (Some(token), Some(execution)) =
            (event["taskToken"].as_str(), event["executionArn"].as_str())
        {
            lock(&self.tokens).insert(token.to_owned(), execution.to_owned());
        }
    }

    /// Remembers the execution a `StopExecution` names.
    pub fn stop(&self, body: &[u8]) {
        if let Some(arn) = execution_arn(body) {
            lock(&self.stopped).insert(arn);
        }
    }

    /// Whether `arn` was stopped.
    pub fn is_stopped(&self, arn: &str) -> bool {
        lock(&self.stopped).contains(arn)
    }

    /// Whether a callback's token belongs to a stopped execution.
    pub fn callback_is_gone(&self, token: &str) -> bool {
        let execution = lock(&self.tokens).get(token).cloned();
        execution.is_some_and(|e| self.is_stopped(&e))
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `executionArn` of a Step Functions JSON request.
fn execution_arn(body: &[u8]) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    body["executionArn"].as_str().map(str::to_owned)
}

/// The task token of a Step Functions callback (`SendTaskSuccess`, `SendTaskFailure`,
/// `SendTaskHeartbeat`), from its `X-Amz-Target` and JSON body.
pub fn callback_token(target: Option<&str>, body: &[u8]) -> Option<String> {
    let operation = target?.strip_prefix("AWSStepFunctions.")?;
    if !operation.starts_with("SendTask") {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    body["taskToken"].as_str().map(str::to_owned)
}

/// Step Functions' answer to a callback whose execution is over.
pub fn task_gone() -> Reply {
    (
        400,
        vec![
            ("x-amzn-ErrorType", "TaskTimedOut".to_owned()),
            ("Content-Type", "application/x-amz-json-1.0".to_owned()),
        ],
        serde_json::json!({
            "__type": "com.amazonaws.swf.service.v2.model#TaskTimedOut",
            "message": "Provided task does not exist anymore",
        })
        .to_string()
        .into_bytes(),
    )
}

/// moto's `DescribeExecution` answer for a stopped execution, as Step Functions gives it:
/// `ABORTED`.
pub fn as_aborted(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut described) if described["status"] == "RUNNING" => {
            described["status"] = serde_json::json!("ABORTED");
            described.to_string().into_bytes()
        }
        _ => body.to_vec(),
    }
}

use crate::reply::Reply;

/// Lambda's answer for a function that does not exist.
fn unknown_function(name: &str) -> Reply {
    let body = serde_json::json!({
        "Type": "User",
        "message": format!("Function not found: {name} (the local environment serves the kit's functions only)"),
    });
    (
        404,
        vec![("x-amzn-ErrorType", "ResourceNotFoundException".to_owned())],
        body.to_string().into_bytes(),
    )
}

/// The router's upstreams.
#[derive(Clone)]
pub struct Upstreams {
    /// `http://127.0.0.1:<port>` of moto.
    pub moto: String,
    /// `http://127.0.0.1:<port>` of `cargo lambda watch`.
    pub lambda: String,
    /// `http://127.0.0.1:<port>` of the durable execution emulator.
    pub durable: String,
    pub binaries: Vec<String>,
    /// How many calls each function gets at once: `cargo lambda watch`'s instances per
    /// function. Calls beyond wait here, as Lambda would queue or throttle them, instead of
    /// piling up inside cargo-lambda, which stalls under a few hundred waiting invokes.
    pub concurrency: usize,
}

/// A counting semaphore per function binary.
struct Gates {
    gates: std::collections::HashMap<String, (std::sync::Mutex<usize>, std::sync::Condvar)>,
    permits: usize,
}

impl Gates {
    fn new(binaries: &[String], permits: usize) -> Self {
        Self {
            gates: binaries
                .iter()
                .map(|b| {
                    (
                        b.clone(),
                        (std::sync::Mutex::new(0), std::sync::Condvar::new()),
                    )
                })
                .collect(),
            permits: permits.max(1),
        }
    }

    /// Runs `f` once fewer than `permits` calls of `binary` are in flight.
    fn through<T>(&self, binary: &str, f: impl FnOnce() -> T) -> T {
        let Some((count, freed)) = self.gates.get(binary) else {
            return f();
        };
        {
            let mut busy = count.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= self.permits {
                busy = freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let result = f();
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
        result
    }
}

/// Runs `f` as `admission` says, under `lock`.
fn admitted<T>(lock: &std::sync::RwLock<()>, admission: Admission, f: impl FnOnce() -> T) -> T {
    match admission {
        Admission::Free => f(),
        Admission::Shared => {
            let _reading = lock.read().unwrap_or_else(|e| e.into_inner());
            f()
        }
        Admission::Exclusive => {
            let _writing = lock.write().unwrap_or_else(|e| e.into_inner());
            f()
        }
    }
}

/// An upstream's answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// Hop-by-hop and framing headers, which each side sets for itself.
const NOT_FORWARDED: [&str; 5] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "expect",
];

/// The function behind the review API.
pub const API_FUNCTION: &str = "review";

/// Serves until the process is stopped; each request on its own thread, since a Lambda invoke
/// from Step Functions waits for the function to return. `api_listen`: where the review API
/// is served, as API Gateway would.
pub fn serve(listen: &str, api_listen: Option<&str>, upstreams: Upstreams) -> Result<()> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let counter = std::sync::Arc::new(AtomicU64::new(0));
    let gates = std::sync::Arc::new(Gates::new(&upstreams.binaries, upstreams.concurrency));
    let dynamodb = std::sync::Arc::new(std::sync::RwLock::new(()));
    let executions = std::sync::Arc::new(Executions::default());
    if let Some(api_listen) = api_listen {
        let api = tiny_http::Server::http(api_listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {api_listen}: {e}"))?;
        let port = api.server_addr().to_ip().map_or(0, |a| a.port());
        let (upstreams, agent, counter, gates) = (
            upstreams.clone(),
            agent.clone(),
            counter.clone(),
            gates.clone(),
        );
        thread::spawn(move || {
            for request in api.incoming_requests() {
                let (upstreams, agent, gates) = (upstreams.clone(), agent.clone(), gates.clone());
                let id = format!("hitl-api-{}", counter.fetch_add(1, Ordering::Relaxed));
                thread::spawn(move || {
                    if let Err(error) = serve_api(request, &upstreams, &agent, &gates, &id, port) {
                        eprintln!("router (api): {error:#}");
                    }
                });
            }
        });
    }
    let own = format!("http://{listen}");
    for request in server.incoming_requests() {
        let own = own.clone();
        let upstreams = upstreams.clone();
        let agent = agent.clone();
        let counter = counter.clone();
        let gates = gates.clone();
        let dynamodb = dynamodb.clone();
        let executions = executions.clone();
        thread::spawn(move || {
            let id = format!("hitl-router-{}", counter.fetch_add(1, Ordering::Relaxed));
            let shared = Shared {
                gates: &gates,
                dynamodb: &dynamodb,
                executions: &executions,
                own: &own,
            };
            if let Err(error) = forward(request, &upstreams, &agent, &shared, &id) {
                eprintln!("router: {error:#}");
            }
        });
    }
    Ok(())
}

/// What the router's threads share.
struct Shared<'a> {
    gates: &'a Gates,
    dynamodb: &'a std::sync::RwLock<()>,
    executions: &'a Executions,
    /// The router's own address, for the invokes it makes on a schedule's behalf.
    own: &'a str,
}

fn forward(
    mut request: tiny_http::Request,
    upstreams: &Upstreams,
    agent: &ureq::Agent,
    shared: &Shared,
    request_id: &str,
) -> Result<()> {
    let url = request.url().to_owned();
    let (path, query) = url
        .split_once('?')
        .map_or((url.as_str(), ""), |(p, q)| (p, q));
    let target = route(path, &upstreams.binaries);
    let requested = path;
    let (base, path) = match &target {
        Target::UnknownFunction(name) => {
            let (status, headers, body) = unknown_function(name);
            return respond(request, status, &headers, &[], body);
        }
        Target::Lambda(path) => (upstreams.lambda.as_str(), path.as_str()),
        Target::FunctionUrl(_) => (upstreams.lambda.as_str(), path),
        Target::Durable => (upstreams.durable.as_str(), path),
        Target::Moto => (upstreams.moto.as_str(), path),
    };
    // A caller's invoke of the durable workflow starts an execution, as Lambda does; the
    // emulator's own invokes (its handler invocations) run the function.
    let durable_binary = matches!(&target, Target::Lambda(p)
        if p.split('/').nth(3) == Some(kit_base::package::DURABLE_FUNCTION));
    if durable_binary && header_of(&request, crate::durable::HANDLER_INVOKE_HEADER).is_none() {
        let invocation_type = header_of(&request, "x-amz-invocation-type");
        let execution_name = header_of(&request, "x-amz-durable-execution-name");
        let encoded = requested
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"))
            .unwrap_or("");
        let (function, qualifier) = crate::durable::function_and_qualifier(encoded, query);
        let mut payload = Vec::new();
        request.as_reader().read_to_end(&mut payload)?;
        let (status, headers, answer) = start_durable(
            upstreams,
            agent,
            &function,
            qualifier.as_deref(),
            invocation_type.as_deref(),
            execution_name,
            &payload,
            request_id,
        );
        return respond(request, status, &headers, &[], answer);
    }
    let gate = match &target {
        Target::Lambda(path) => path.split('/').nth(3).unwrap_or("").to_owned(),
        Target::FunctionUrl(binary) => binary.clone(),
        _ => String::new(),
    };
    let uri = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let admission = match target {
        Target::Moto => admission(
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv("x-amz-target"))
                .map(|h| h.value.as_str()),
        ),
        _ => Admission::Free,
    };
    // The emulator takes a callback of an execution that ended; Lambda refuses it.
    if let Some(execution) =
        crate::durable::callback_execution(requested).filter(|_| target == Target::Durable)
    {
        let encoded =
            percent_encoding::utf8_percent_encode(&execution, percent_encoding::NON_ALPHANUMERIC);
        let described = agent
            .get(format!(
                "{}/2025-12-01/durable-executions/{encoded}",
                upstreams.durable
            ))
            .call()
            .map_err(anyhow::Error::from)
            .and_then(|mut r| Ok(r.body_mut().read_to_vec()?));
        if described.is_ok_and(|d| !crate::durable::is_running(&d)) {
            let (status, headers, answer) = crate::durable::callback_closed();
            return respond(request, status, &headers, &[], answer);
        }
    }
    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body)?;
    let amz_target = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("x-amz-target"))
        .map(|h| h.value.as_str().to_owned());
    let mut aborted = false;
    match (&target, amz_target.as_deref()) {
        (Target::Lambda(_), _) => shared.executions.remember(&body),
        (Target::Moto, Some("AWSStepFunctions.StopExecution")) => shared.executions.stop(&body),
        (Target::Moto, Some("AWSStepFunctions.DescribeExecution")) => {
            aborted = execution_arn(&body).is_some_and(|a| shared.executions.is_stopped(&a));
        }
        (Target::Moto, operation) => {
            let gone = callback_token(operation, &body)
                .is_some_and(|token| shared.executions.callback_is_gone(&token));
            if gone {
                let (status, headers, answer) = task_gone();
                return respond(request, status, &headers, &[], answer);
            }
        }
        _ => {}
    }
    // CloudFormation's Query protocol posts a form; nothing else is looked into.
    let form = request.headers().iter().any(|h| {
        h.field.equiv("content-type")
            && h.value
                .as_str()
                .starts_with("application/x-www-form-urlencoded")
    });
    if let Some((status, headers, answer)) =
        refused_by_aws(&body).filter(|_| form && target == Target::Moto)
    {
        return respond(request, status, &headers, &[], answer);
    }
    let mut outgoing = ureq::http::Request::builder()
        .method(request.method().as_str())
        .uri(&uri);
    for header in request.headers() {
        let name = header.field.as_str().as_str();
        if !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()) {
            outgoing = outgoing.header(name, header.value.as_str());
        }
    }
    let schedule = match target {
        Target::Moto => crate::schedules::created(request.method().as_str(), path, &body),
        _ => None,
    };
    let outgoing = outgoing.body(body)?;
    let call = || -> Result<Answer> {
        let mut response = agent
            .run(outgoing)
            .with_context(|| format!("{} {uri}", request.method()))?;
        let status = response.status().as_u16();
        let copied = response
            .headers()
            .iter()
            .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok((status, copied, body))
    };
    let (status, copied, body) = shared
        .gates
        .through(&gate, || admitted(shared.dynamodb, admission, call))?;
    // moto keeps the schedule and never fires it: fire it on its behalf.
    if let Some(due) = schedule.filter(|_| status == 200) {
        let (own, moto, agent) = (shared.own.to_owned(), upstreams.moto.clone(), agent.clone());
        thread::spawn(move || crate::schedules::fire(due, &own, &moto, &agent));
    }
    match target {
        Target::Lambda(_) => {
            let translated = translate(status, &body, request_id);
            respond(
                request,
                translated.status,
                &translated.headers,
                &copied,
                body,
            )
        }
        _ if aborted && status == 200 => respond(request, status, &[], &copied, as_aborted(&body)),
        _ => respond(request, status, &[], &copied, body),
    }
}

/// The value of a request's header `name`.
fn header_of(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

/// Starts a durable execution of `function` for an `Invoke` (see [`crate::durable`]).
#[allow(clippy::too_many_arguments)]
fn start_durable(
    upstreams: &Upstreams,
    agent: &ureq::Agent,
    function: &str,
    qualifier: Option<&str>,
    invocation_type: Option<&str>,
    execution_name: Option<String>,
    payload: &[u8],
    request_id: &str,
) -> Reply {
    if invocation_type != Some("Event") {
        return crate::durable::refused(
            "the local environment starts durable executions with asynchronous invokes only: \
             use the invocation type Event (as `cargo xtask start` does)",
        );
    }
    let Some(config) = crate::durable::recorded(&kit_base::local::dir())
        .get(function)
        .copied()
    else {
        return crate::durable::refused(&format!(
            "{function} is not a durable function of a deployed stack: deploy its environment \
             first"
        ));
    };
    let name = execution_name.unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("local-{nanos}")
    });
    let body = crate::durable::start_request(function, qualifier, &name, config, payload);
    let answer = agent
        .post(format!("{}/start-durable-execution", upstreams.durable))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(anyhow::Error::from)
        .and_then(|mut response| {
            let status = response.status().as_u16();
            Ok((status, response.body_mut().read_to_vec()?))
        });
    match answer {
        Ok((status, body)) => crate::durable::started(status, &body, request_id),
        Err(error) => (
            502,
            vec![("x-amzn-RequestId", request_id.to_owned())],
            format!("the durable execution emulator did not answer: {error:#}").into_bytes(),
        ),
    }
}

/// One request to the review API: routed as API Gateway routes it, passed to the function as
/// its proxy event, answered with the function's proxy response.
fn serve_api(
    mut request: tiny_http::Request,
    upstreams: &Upstreams,
    agent: &ureq::Agent,
    gates: &Gates,
    request_id: &str,
    port: u16,
) -> Result<()> {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = request.method().as_str().to_owned();
    let Some(routed) = crate::api::route(&method, path) else {
        let (status, headers, body) = crate::api::missing_route();
        return respond(request, status, &[], &headers, body);
    };
    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body)?;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_owned(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let source_ip = request
        .remote_addr()
        .map_or("127.0.0.1".to_owned(), |a| a.ip().to_string());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let event = crate::api::event(
        &routed,
        &crate::api::Incoming {
            method: &method,
            query,
            headers: &headers,
            body: &body,
            source_ip: &source_ip,
            port,
            request_id,
            now_ms,
        },
    );
    let uri = format!(
        "{}/2015-03-31/functions/{API_FUNCTION}/invocations",
        upstreams.lambda
    );
    let answer = gates.through(API_FUNCTION, || -> Result<crate::api::Answer> {
        let mut response = agent
            .post(&uri)
            .header("content-type", "application/json")
            .send(event.to_string())
            .with_context(|| format!("POST {uri}"))?;
        let status = response.status().as_u16();
        let output = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()?;
        Ok(if status == 200 {
            crate::api::response(&output)
        } else {
            crate::api::bad_gateway()
        })
    });
    let (status, headers, body) = answer.unwrap_or_else(|error| {
        eprintln!("router (api): {error:#}");
        crate::api::bad_gateway()
    });
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()))
        .collect();
    respond(request, status, &[], &headers, body)
}

fn respond(
    request: tiny_http::Request,
    status: u16,
    extra: &[(&'static str, String)],
    copied: &[(String, String)],
    body: Vec<u8>,
) -> Result<()> {
    let mut response = tiny_http::Response::from_data(body).with_status_code(status);
    let extra = extra.iter().map(|(n, v)| (n.to_string(), v.clone()));
    for (name, value) in copied.iter().cloned().chain(extra) {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    request.respond(response)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binaries() -> Vec<String> {
        vec!["request".to_owned(), "review".to_owned()]
    }

    #[test]
    fn invokes_of_the_kits_functions_go_to_their_binaries() {
        let to_request = Target::Lambda("/2015-03-31/functions/request/invocations".to_owned());
        for path in [
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahitl-local-request/invocations",
            "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hitl-local-request:$LATEST/invocations",
            "/2015-03-31/functions/hitl-local-request/invocations",
            "/2015-03-31/functions/request/invocations",
        ] {
            assert_eq!(route(path, &binaries()), to_request, "{path}");
        }
    }

    #[test]
    fn other_functions_are_unknown_and_other_calls_go_to_moto() {
        assert_eq!(
            route(
                "/2015-03-31/functions/someone-elses/invocations",
                &binaries()
            ),
            Target::UnknownFunction("someone-elses".to_owned())
        );
        assert_eq!(
            route(
                "/2015-03-31/functions/hitl-local-requester/invocations",
                &binaries()
            ),
            Target::UnknownFunction("hitl-local-requester".to_owned())
        );
        for path in [
            "/",
            "/2015-03-31/functions/request",
            "/moto-api/config",
            "/2015-03-31/functions",
        ] {
            assert_eq!(route(path, &binaries()), Target::Moto, "{path}");
        }
    }

    #[test]
    fn dynamodb_writes_go_alone_reads_together_and_other_calls_freely() {
        for write in [
            "UpdateItem",
            "PutItem",
            "DeleteItem",
            "TransactWriteItems",
            "BatchWriteItem",
            "ExecuteStatement",
            "CreateTable",
        ] {
            let target = format!("DynamoDB_20120810.{write}");
            assert_eq!(admission(Some(&target)), Admission::Exclusive, "{write}");
        }
        for read in ["GetItem", "Query", "Scan", "DescribeTable", "ListTables"] {
            let target = format!("DynamoDB_20120810.{read}");
            assert_eq!(admission(Some(&target)), Admission::Shared, "{read}");
        }
        for other in [
            None,
            Some("AWSStepFunctions.SendTaskSuccess"),
            Some("UpdateItem"),
        ] {
            assert_eq!(admission(other), Admission::Free, "{other:?}");
        }
    }

    #[test]
    fn template_bodies_over_cloudformations_limit_are_refused_as_aws_refuses_them() {
        let form = |action: &str, bytes: usize| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("Action", action)
                .append_pair("StackName", "s")
                .append_pair("TemplateBody", &"x".repeat(bytes))
                .finish()
                .into_bytes()
        };
        for action in TEMPLATE_ACTIONS {
            assert!(
                refused_by_aws(&form(action, TEMPLATE_BODY_LIMIT)).is_none(),
                "{action}"
            );
            let (status, _, body) =
                refused_by_aws(&form(action, TEMPLATE_BODY_LIMIT + 1)).expect("refused");
            assert_eq!(status, 400);
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
            assert!(body.contains("less than or equal to 51200"), "{body}");
        }
        // Multi-byte characters count as bytes, as the limit does.
        let wide = "é".repeat(TEMPLATE_BODY_LIMIT / 2 + 1);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "CreateStack")
            .append_pair("TemplateBody", &wide)
            .finish();
        assert!(refused_by_aws(body.as_bytes()).is_some());
        // Other actions, and a template by URL, pass.
        assert!(refused_by_aws(&form("DescribeStacks", 100_000)).is_none());
        assert!(
            refused_by_aws(b"Action=CreateStack&TemplateURL=https%3A%2F%2Fb.s3.amazonaws.com%2Fk")
                .is_none()
        );
        assert!(refused_by_aws(b"not a form \xff").is_none());
    }

    #[test]
    fn a_stopped_executions_callbacks_are_gone_and_it_reads_aborted() {
        let executions = Executions::default();
        executions.remember(
            br#"{"taskToken":"tok-1","executionArn":"arn:x:execution:m:e1","request":{}}"#,
        );
        executions.remember(br#"{"taskToken":"tok-2","executionArn":"arn:x:execution:m:e2"}"#);
        executions.remember(b"not json");
        assert!(!executions.callback_is_gone("tok-1"));
        executions.stop(br#"{"executionArn":"arn:x:execution:m:e1"}"#);
        assert!(executions.callback_is_gone("tok-1"));
        assert!(!executions.callback_is_gone("tok-2"));
        assert!(!executions.callback_is_gone("unknown"));
        assert!(executions.is_stopped("arn:x:execution:m:e1"));
        let body = br#"{"taskToken":"tok-1","output":"{}"}"#;
        for operation in ["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"] {
            let target = format!("AWSStepFunctions.{operation}");
            assert_eq!(
                callback_token(Some(&target), body).as_deref(),
                Some("tok-1")
            );
        }
        assert_eq!(
            callback_token(Some("AWSStepFunctions.StartExecution"), body),
            None
        );
        assert_eq!(callback_token(None, body), None);
        let (status, headers, answer) = task_gone();
        assert_eq!(status, 400);
        assert!(headers.contains(&("x-amzn-ErrorType", "TaskTimedOut".to_owned())));
        assert!(String::from_utf8(answer).unwrap().contains("TaskTimedOut"));
        let described = as_aborted(br#"{"status":"RUNNING","executionArn":"a"}"#);
        let described: serde_json::Value = serde_json::from_slice(&described).unwrap();
        assert_eq!(described["status"], "ABORTED");
        assert_eq!(
            as_aborted(br#"{"status":"SUCCEEDED"}"#),
            br#"{"status":"SUCCEEDED"}"#
        );
    }

    #[test]
    fn function_urls_go_to_their_binaries() {
        assert_eq!(
            route("/lambda-url/review/approvals/abc", &binaries()),
            Target::FunctionUrl("review".to_owned())
        );
        assert_eq!(
            route("/lambda-url/reviewer/approvals/abc", &binaries()),
            Target::UnknownFunction("reviewer".to_owned())
        );
    }

    #[test]
    fn a_gate_lets_through_at_most_its_permits_and_everyone_eventually() {
        use std::sync::atomic::AtomicUsize;
        let gates = Gates::new(&binaries(), 3);
        let (inside, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    gates.through("review", || {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::sleep(std::time::Duration::from_millis(20));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 12);
        assert!(most.load(Ordering::SeqCst) <= 3, "{most:?}");
        assert!(
            most.load(Ordering::SeqCst) > 1,
            "the gate serialised everything"
        );
    }

    #[test]
    fn handler_errors_become_lambdas_function_errors() {
        let body = br#"{"errorType":"Hitl.InvalidRequest","errorMessage":"no title"}"#;
        let translated = translate(500, body, "id-1");
        assert_eq!(translated.status, 200);
        assert!(
            translated
                .headers
                .contains(&("X-Amz-Function-Error", "Unhandled".to_owned()))
        );
        assert!(
            translated
                .headers
                .contains(&("x-amzn-RequestId", "id-1".to_owned()))
        );
        // A 500 that is not a handler error stays one.
        assert_eq!(translate(500, b"<html>", "id-2").status, 500);
        let ok = translate(200, b"{}", "id-3");
        assert_eq!(ok.status, 200);
        assert!(!ok.headers.iter().any(|(n, _)| *n == "X-Amz-Function-Error"));
        assert!(
            ok.headers
                .contains(&("x-amzn-RequestId", "id-3".to_owned()))
        );
    }
}
