//! The router of the local environment. moto's Step Functions interpreter sends every service
//! call to `localhost:$MOTO_PORT`, so the router listens there: a Lambda `Invoke` of one of the
//! kit's functions goes to `cargo lambda watch` ([`crate::invoke`]); the durable execution APIs
//! go to the durable emulator ([`crate::durable`]); every other call goes to moto. The functions
//! and the kit's own clients reach AWS through it too, so that it can be as strict as AWS where
//! moto is not:
//!
//! - every call is decided by IAM as deployed ([`crate::guard`]), with the credentials it hands
//!   each function ([`crate::sessions`]);
//! - one DynamoDB write of an item at a time (of a table, for a call of many items), each
//!   function's calls as many at once as it has instances
//!   ([`crate::gates`]);
//! - a stopped execution and its callbacks ([`crate::stepfunctions`]), CloudFormation's template
//!   size ([`crate::cloudformation`]), Scheduler's one-time schedules fired
//!   ([`crate::schedules`]).
//!
//! On a port of each deployed stack's it serves that stack's review API the way API Gateway's
//! REST proxy integration would ([`crate::gateway`]): the functions get the event production
//! gives them. Each stack's functions run in a `cargo lambda watch` of their own
//! ([`crate::stacks`]): several stacks are served at once.

use std::{sync::Arc, thread, time::Duration};

use anyhow::{Context, Result};
use kit_iam::calls::Call;

use crate::{
    access::Access,
    clock::{Clock, Ended},
    faults::Kind,
    gates::{Admission, admission},
    invoke::{Target, route, translate, unknown_function},
    ledger::{Attempt, Injected},
    reply::{Reply, header, respond},
    shared::{NOT_FORWARDED, Shared, Upstreams},
    stepfunctions::{as_aborted, callback_token, execution_arn, task_gone},
};

/// Serves until the process is stopped; each request on its own thread, since a Lambda invoke
/// from Step Functions waits for the function to return. Each deployed stack's review API is
/// served on a port of its own once its deploy asks ([`crate::gateway::serve_stack`]).
pub fn serve(listen: &str, upstreams: Upstreams) -> Result<()> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let dir = kit_base::local::dir();
    std::fs::create_dir_all(&dir)?;
    let access = Access::new(&upstreams.moto, crate::access::log_path(&dir))?;
    let shared = Shared::new(upstreams, Arc::new(access), format!("http://{listen}"));
    for request in server.incoming_requests() {
        let shared = shared.clone();
        thread::spawn(move || {
            let id = shared.request_id("hitl-router");
            if let Err(error) = forward(request, &shared, &id) {
                eprintln!("router: {error:#}");
            }
        });
    }
    Ok(())
}

/// A request as received: its parts, read once.
#[derive(Clone)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn read(request: &mut tiny_http::Request) -> Result<Self> {
        let url = request.url().to_owned();
        let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let mut body = Vec::new();
        request.as_reader().read_to_end(&mut body)?;
        Ok(Self {
            method: request.method().as_str().to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_owned(),
                        h.value.as_str().to_owned(),
                    )
                })
                .collect(),
            body,
        })
    }

    fn call(&self) -> Call<'_> {
        Call {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is a form (CloudFormation's Query protocol), the only body looked into
    /// for a template.
    fn is_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
    }
}

fn forward(mut request: tiny_http::Request, shared: &Shared, request_id: &str) -> Result<()> {
    let received = Received::read(&mut request)?;
    if let Some(rest) = received.path.strip_prefix(crate::runtime_api::PATH) {
        return respond(request, runtime_call(shared, &received, rest));
    }
    if let Some(stack) = received.path.strip_prefix(crate::sessions::PATH) {
        let reply = crate::credentials::issue(shared, stack, received.header("authorization"));
        return respond(request, reply);
    }
    if received.path == crate::faults::PATH {
        return respond(request, arm(shared, &received));
    }
    if let Some(stack) = received.path.strip_prefix(crate::gateway::PATH) {
        let reply = match received.method.as_str() {
            "POST" => crate::gateway::serve_stack(shared, stack),
            other => (405, Vec::new(), format!("{other}: POST").into_bytes()),
        };
        return respond(request, reply);
    }
    if received.path == crate::deliveries::PATH {
        return respond(request, ask(shared, &received));
    }
    // Not AWS: Slack's stand-in, which no IAM policy governs.
    if let Some(rest) = received.path.strip_prefix(crate::slack::PATH) {
        let r = &received;
        let reply = match shared.slack.space(rest) {
            Ok((space, rest)) => space.serve(
                rest,
                &r.method,
                &r.query,
                &r.headers,
                &r.body,
                &shared.agent,
            ),
            Err(reply) => reply,
        };
        return respond(request, reply);
    }
    let target = route(&received.path, &shared.upstreams.binaries);
    let refused = match &target {
        Target::UnknownFunction(name) => Some(unknown_function(name)),
        Target::Lambda { stack, path } if crate::stacks::load(&shared.dir, stack).is_none() => {
            Some(crate::invoke::not_served(stack, &binary_of(path)))
        }
        _ => crate::guard::refusal(shared, &received.call()),
    };
    if let Some(reply) = refused {
        return respond(request, reply);
    }
    let caller = FunctionCall::of(shared, &received);
    if let Some(reply) = answered_here(&received, &target, shared, request_id) {
        note_answer(shared, caller.as_ref(), &reply);
        return respond(request, reply);
    }
    // A function instance that dies mid-invocation: its work done, Lambda's answer an exited
    // runtime, whoever invoked it (its caller retries as it does a function error).
    if let Some(stack) = crashed(shared, &target, &received) {
        // Said before the function runs: what it sends may be seen before it returns.
        eprintln!(
            "router: fault injected into {stack}: Crash of lambda {}",
            received.path
        );
        let done = pass_on(&received, &target, shared, request_id);
        drop(done);
        return respond(request, crate::faults::crashed(request_id));
    }
    let reply = through_faults(&received, &target, shared, request_id, caller.as_ref());
    respond(request, reply)
}

/// The call passed on, unless an armed fault hits it (a lost answer's: once it is made); the
/// fault and the service's answer noted in the ledger.
fn through_faults(
    received: &Received,
    target: &Target,
    shared: &Shared,
    request_id: &str,
    caller: Option<&FunctionCall>,
) -> Reply {
    let fault = caller.and_then(|c| fault(shared, received, c).map(|kind| (kind, c)));
    if let Some((kind, caller)) = fault.filter(|(k, _)| *k != Kind::Lost) {
        shared
            .ledger
            .injected(caller.injected(received, kind, false));
        return crate::faults::reply(&service(received), kind);
    }
    let reply = pass_on(received, target, shared, request_id).unwrap_or_else(|error| {
        eprintln!("router: {error:#}");
        crate::reply::unreachable(&error)
    });
    note_answer(shared, caller, &reply);
    let Some((kind, caller)) = fault else {
        return reply;
    };
    // Done, and its answer lost on the way back.
    let made = (200..300).contains(&reply.0);
    shared
        .ledger
        .injected(caller.injected(received, kind, made));
    crate::faults::reply(&service(received), kind)
}

/// Notes a function's call the service answered, for the faults of its earlier attempts.
fn note_answer(shared: &Shared, caller: Option<&FunctionCall>, reply: &Reply) {
    if let Some(caller) = caller.filter(|_| crate::ledger::is_answer(reply)) {
        shared.ledger.answered(&caller.attempt);
    }
}

/// The stack of the function an armed crash hits with this invoke, noted in the ledger.
fn crashed(shared: &Shared, target: &Target, received: &Received) -> Option<String> {
    let Target::Lambda { stack, path } = target else {
        return None;
    };
    if !shared.faults.crash(stack, &received.path) {
        return None;
    }
    shared.ledger.injected(Injected {
        stack: Some(stack.clone()),
        function: format!("{stack}-{}", binary_of(path)),
        service: "lambda".to_owned(),
        operation: received.path.clone(),
        kind: Kind::Crash,
        attempt: Attempt::default(),
        made: false,
    });
    Some(stack.clone())
}

/// A call a function made, as the ledger follows it.
struct FunctionCall {
    stack: Option<String>,
    function: String,
    operation: String,
    attempt: Attempt,
}

impl FunctionCall {
    /// The call, if one of the functions made it (signed by its role session) while faults
    /// are about: one armed, or one injected before, whose retry this call may be. Otherwise
    /// nothing is followed, and the call costs the ledger nothing.
    fn of(shared: &Shared, received: &Received) -> Option<Self> {
        if !shared.ledger.following() && !shared.faults.armed() {
            return None;
        }
        let function = crate::guard::function_calling(shared, &received.call())?;
        let stack = crate::stacks::of_function(&function, &shared.upstreams.binaries)
            .map(|(stack, _)| stack.to_owned());
        let operation = received
            .header("x-amz-target")
            .map(str::to_owned)
            .or_else(|| form_action(received))
            .unwrap_or_else(|| received.path.clone());
        let trace = received
            .header("x-amzn-trace-id")
            .and_then(crate::ledger::trace_root);
        let call = format!("{} {operation}", service(received));
        let attempt = Attempt::of(
            received.header("amz-sdk-invocation-id"),
            trace,
            Some((call.as_str(), received.body.as_slice())),
            shared.ledger.stamp(),
        );
        Some(Self {
            stack,
            function,
            operation,
            attempt,
        })
    }

    fn injected(&self, received: &Received, kind: Kind, made: bool) -> Injected {
        Injected {
            stack: self.stack.clone(),
            function: self.function.clone(),
            service: service(received),
            operation: self.operation.clone(),
            kind,
            attempt: self.attempt.clone(),
            made,
        }
    }
}

/// Asks (`POST`) or resets (`DELETE`) how SQS delivers ([`crate::deliveries`]).
fn ask(shared: &Shared, received: &Received) -> Reply {
    let asked = match received.method.as_str() {
        "POST" => shared.deliveries.ask(&received.body),
        "DELETE" => {
            shared.deliveries.reset();
            Ok(())
        }
        other => Err(format!("{other}: POST or DELETE")),
    };
    match asked {
        Ok(()) => (204, Vec::new(), Vec::new()),
        Err(why) => (400, Vec::new(), why.into_bytes()),
    }
}

/// Arms (`POST`) or disarms (`DELETE`) the faults of [`crate::faults`], or tells what became of
/// those injected so far, in the order injected (`GET`, [`crate::ledger`]); `?stack=<stack>`:
/// that stack's.
fn arm(shared: &Shared, received: &Received) -> Reply {
    let stack = form_urlencoded::parse(received.query.as_bytes())
        .find(|(k, _)| k == "stack")
        .map(|(_, v)| v.into_owned());
    let armed = match received.method.as_str() {
        "GET" => return accounts(shared, stack.as_deref()),
        "POST" => shared.faults.arm(&received.body),
        "DELETE" => {
            shared.faults.disarm(stack.as_deref());
            Ok(())
        }
        other => Err(format!(
            "{other} is not how faults are armed: POST, DELETE, or GET for what became of them"
        )),
    };
    match armed {
        Ok(()) => (204, Vec::new(), Vec::new()),
        Err(why) => (400, Vec::new(), why.into_bytes()),
    }
}

/// The faults injected into `stack`'s calls (every stack's, without one), each with what
/// became of it: `{"faults": [{…, "account": "retried"}]}`.
fn accounts(shared: &Shared, stack: Option<&str>) -> Reply {
    let logs = crate::stacks::function_logs(&shared.dir, stack);
    let ends = crate::ledger::ends_in_log(&logs);
    let faults: Vec<serde_json::Value> = shared
        .ledger
        .accounts(stack, &ends)
        .into_iter()
        .map(|(fault, account)| {
            let mut fault = serde_json::json!(fault);
            fault["account"] = serde_json::json!(account);
            fault
        })
        .collect();
    let body = serde_json::json!({ "faults": faults });
    (
        200,
        vec![header("Content-Type", "application/json")],
        body.to_string().into_bytes(),
    )
}

/// The service a call is signed for.
fn service(received: &Received) -> String {
    kit_iam::calls::service(&received.call()).unwrap_or_default()
}

/// The armed fault that hits this call of a function's, if one does.
fn fault(shared: &Shared, received: &Received, caller: &FunctionCall) -> Option<Kind> {
    let stack = caller.stack.as_deref();
    let operation = &caller.operation;
    let kind = shared.faults.hit(stack, &service(received), operation)?;
    eprintln!(
        "router: fault injected into {}: {kind:?} of {} {operation}",
        stack.unwrap_or("no stack"),
        service(received)
    );
    Some(kind)
}

/// What the router answers itself, as AWS would where moto or the emulators would not.
fn answered_here(
    received: &Received,
    target: &Target,
    shared: &Shared,
    request_id: &str,
) -> Option<Reply> {
    let operation = received.header("x-amz-target");
    match target {
        // A caller's invoke of the durable workflow starts an execution, as Lambda does; the
        // emulator's own invokes (its handler invocations) run the function.
        Target::Lambda { path, .. } if is_durable_start(path, received) => {
            Some(start_durable(received, shared, request_id))
        }
        Target::Durable => crate::durable::closed_callback(&received.path, shared),
        Target::Moto => {
            let token = callback_token(operation, &received.body);
            if token.is_some_and(|t| shared.executions.callback_is_gone(&t)) {
                return Some(task_gone());
            }
            if let Some(reply) = shared.deleting.answer(&received.method, &received.path) {
                return Some(reply);
            }
            let (method, path) = (received.method.as_str(), received.path.as_str());
            if let Some(refusal) =
                crate::logging_role::refused(&shared.access, method, path, &received.body)
            {
                return Some(refusal);
            }
            if operation == Some("AWSStepFunctions.CreateStateMachine") {
                return crate::stepfunctions::untrusted(&shared.access, &received.body);
            }
            crate::cloudformation::refused_by_aws(&received.body).filter(|_| received.is_form())
        }
        _ => None,
    }
}

fn is_durable_start(path: &str, received: &Received) -> bool {
    path.split('/').nth(3) == Some(kit_base::package::DURABLE_FUNCTION)
        && received
            .header(crate::durable::HANDLER_INVOKE_HEADER)
            .is_none()
}

fn start_durable(received: &Received, shared: &Shared, request_id: &str) -> Reply {
    let encoded = received
        .path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .unwrap_or("");
    let (function, qualifier) = crate::durable::function_and_qualifier(encoded, &received.query);
    crate::durable::start(
        shared,
        &crate::durable::Start {
            function: &function,
            qualifier: qualifier.as_deref(),
            invocation_type: received.header("x-amz-invocation-type"),
            execution_name: received.header("x-amz-durable-execution-name"),
            payload: &received.body,
        },
        request_id,
    )
}

/// Where a call goes.
struct Upstream<'a> {
    /// The upstream's base URL, and the path there.
    base: String,
    path: &'a str,
    /// The function whose gate it passes (none but for an invoke), and its configured timeout.
    gate: String,
    timeout: Option<Duration>,
}

fn upstream_of<'a>(
    target: &'a Target,
    received: &'a Received,
    shared: &Shared,
) -> Result<Upstream<'a>> {
    let upstreams = &shared.upstreams;
    let other = |base: &String| Upstream {
        base: base.clone(),
        path: &received.path,
        gate: String::new(),
        timeout: None,
    };
    Ok(match target {
        Target::Lambda { stack, path } => {
            let served = crate::stacks::load(&shared.dir, stack)
                .with_context(|| format!("{stack} is no longer served"))?;
            let binary = binary_of(path);
            Upstream {
                base: served.lambda_endpoint(),
                path,
                gate: format!("{stack}-{binary}"),
                timeout: served.timeout(&binary),
            }
        }
        Target::Durable => other(&upstreams.durable),
        Target::Moto => match (&upstreams.items, items_call(received)) {
            (Some(items), Some(operation)) => {
                let to = crate::items::Upstreams {
                    agent: &shared.agent,
                    moto: &upstreams.moto,
                    items,
                    authorization: received.header("authorization"),
                };
                shared.mirrors.ensure(&to, operation, &received.body)?;
                other(items)
            }
            _ => other(&upstreams.moto),
        },
        _ => other(&upstreams.moto),
    })
}

/// The DynamoDB operation of a call that reads or writes items ([`crate::items`]).
fn items_call(received: &Received) -> Option<&str> {
    crate::items::data_plane(received.header("x-amz-target"))
}

/// Held while a `CreateStack` goes into moto. CloudFormation creates a stack name once: a
/// second CreateStack of it is refused (AlreadyExistsException) even while the first is under
/// way; moto's check and its recording of the stack are not one step, and two racing creates
/// got through together (the second then failed on the first's exports). Creates are few: one
/// at a time, whatever the name.
fn creating<'a>(
    target: &Target,
    received: &Received,
    shared: &'a Shared,
) -> Option<std::sync::MutexGuard<'a, ()>> {
    let creates =
        *target == Target::Moto && form_action(received).as_deref() == Some("CreateStack");
    creates.then(|| {
        shared
            .stack_creates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    })
}

/// Passes the call on to its upstream, and its answer back as the service would give it.
fn pass_on(
    received: &Received,
    target: &Target,
    shared: &Shared,
    request_id: &str,
) -> Result<Reply> {
    let operation = received.header("x-amz-target");
    let Upstream {
        base,
        path,
        gate,
        timeout,
    } = upstream_of(target, received, shared)?;
    let mut aborted = false;
    match (target, operation) {
        (Target::Lambda { .. }, _) => shared.executions.remember(&received.body),
        (Target::Moto, Some("AWSStepFunctions.StopExecution")) => {
            shared.executions.stop(&received.body)
        }
        (Target::Moto, Some("AWSStepFunctions.DescribeExecution")) => {
            aborted =
                execution_arn(&received.body).is_some_and(|a| shared.executions.is_stopped(&a));
        }
        _ => {}
    }
    let admission = match target {
        Target::Moto => admission(operation),
        _ => Admission::Free,
    };
    let schedule = match target {
        Target::Moto => crate::schedules::created(&received.method, path, &received.body),
        _ => None,
    };
    let uri = match received.query.as_str() {
        "" => format!("{base}{path}"),
        query => format!("{base}{path}?{query}"),
    };
    let asked = as_asked(shared, received, operation);
    let sent = asked.as_ref().unwrap_or(received);
    let _creating = creating(target, received, shared);
    let Some(answer) = call(shared, sent, &uri, (&gate, request_id), timeout, admission) else {
        let timeout = timeout.unwrap_or_default();
        return Ok(crate::invoke::timed_out(request_id, timeout));
    };
    let (status, headers, mut body) = answer?;
    if operation == Some("AmazonSQS.ReceiveMessage") && status == 200 {
        body = as_sqs_delivers(shared, received, body);
    }
    if *target == Target::Durable {
        crate::durable::record_completion(shared, &received.path, status);
    }
    if *target == Target::Moto && status < 300 && changes_policies(received) {
        shared.access.forget();
    }
    shared.deleting.saw(&received.method, path, status);
    // moto keeps the schedule and never fires it: fire it on its behalf.
    if let Some(due) = schedule.filter(|_| status == 200) {
        let (shared, own) = (shared.clone(), shared.own.clone());
        thread::spawn(move || crate::schedules::fire(due, &own, &shared));
    }
    Ok(match target {
        Target::Lambda { .. } => {
            let translated = translate(status, &body, request_id);
            let mut headers = headers;
            headers.extend(translated.headers);
            (translated.status, headers, body)
        }
        _ if aborted && status == 200 => (status, headers, as_aborted(&body)),
        _ => (status, headers, body),
    })
}

/// The call as it goes to moto: a ReceiveMessage of a queue whose policy a test delayed asks
/// for the sent times too (`None`: as received).
fn as_asked(shared: &Shared, received: &Received, operation: Option<&str>) -> Option<Received> {
    let asked = match operation {
        Some("AmazonSQS.ReceiveMessage") => shared.deliveries.receive_request(&received.body),
        Some("AmazonSQS.SetQueueAttributes") => {
            shared.deliveries.saw_policy(&received.body);
            None
        }
        _ => None,
    };
    asked.map(|body| Received {
        body,
        ..received.clone()
    })
}

/// `sent` to `uri` through its gate: an invocation (`request_id`) cut at the function's
/// `timeout` as Lambda cuts it (`None` once cut), any other call admitted as DynamoDB's calls
/// are.
fn call(
    shared: &Shared,
    sent: &Received,
    uri: &str,
    (gate, request_id): (&str, &str),
    timeout: Option<Duration>,
    admission: Admission,
) -> Option<Result<Reply>> {
    let Some(timeout) = timeout else {
        return Some(shared.gates.through(gate, || {
            let call = || upstream(&shared.agent, sent, uri);
            (shared.dynamodb).admitted(admission, &sent.body, call)
        }));
    };
    let mut sent = sent.clone();
    let carrier = crate::runtime_api::CARRIER;
    sent.headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case(carrier));
    let carried = crate::runtime_api::carrier(request_id);
    sent.headers.push((carrier.to_owned(), carried));
    let (agent, uri) = (shared.agent.clone(), uri.to_owned());
    let clock = Clock {
        function: Some(timeout),
        integration: None,
    };
    let invoke = move || upstream(&agent, &sent, &uri);
    let within = (shared.gates).within(&shared.takings, gate, request_id, clock, invoke);
    if let Some(account) = within.ended.shown_as() {
        eprintln!("router: {gate} timed out after {timeout:?}, its configured timeout");
        within.note_cut(account, &shared.ledger);
    }
    match within.ended {
        Ended::Answered(answer) => Some(answer),
        Ended::Function | Ended::Integration => None,
    }
}

/// A call of an instance to Lambda's Runtime API, passed on to the `cargo lambda watch` that
/// started it; an invocation it takes starts that invocation's clock.
fn runtime_call(shared: &Shared, received: &Received, rest: &str) -> Reply {
    let ports: Vec<u16> = crate::stacks::all(&shared.dir)
        .iter()
        .map(|served| served.lambda_port)
        .collect();
    let Some(uri) = crate::runtime_api::upstream(rest, &received.query, &ports) else {
        let refusal = "not the Runtime API of a function the local environment serves";
        eprintln!("router (runtime API): {refusal}: {rest}");
        return (404, Vec::new(), refusal.as_bytes().to_vec());
    };
    // An answer posted again is answered as the first was (cargo-lambda's is idempotent).
    let answer = || upstream(&shared.agent, received, &uri);
    let passed = answer().or_else(|error| match received.method.as_str() {
        "POST" => answer(),
        _ => Err(error),
    });
    match passed {
        Ok((status, mut headers, body)) => {
            let method = &received.method;
            let taken = crate::runtime_api::taken(method, rest, status, &mut headers);
            let trace = crate::runtime_api::trace(&headers);
            let takings = &shared.takings;
            let waited = taken.as_ref().map(|id| takings.taken(id, trace.as_deref()));
            if waited == Some(false) {
                let id = taken.as_deref().unwrap_or_default();
                eprintln!("router (runtime API): {rest} took {id}, which nothing waits for");
            }
            (status, headers, body)
        }
        Err(error) => {
            eprintln!("router (runtime API): {error:#}");
            (502, Vec::new(), format!("{error:#}").into_bytes())
        }
    }
}

/// The `Action` of a call in the Query protocol (a form).
fn form_action(received: &Received) -> Option<String> {
    form_urlencoded::parse(&received.body)
        .find(|(k, _)| k == "Action")
        .map(|(_, a)| a.into_owned())
        .filter(|_| received.is_form())
}

/// Whether a call changes roles or policies (a deploy or a destroy, a function's permission,
/// an IAM write): what the router read of them is read again.
fn changes_policies(received: &Received) -> bool {
    let action = form_action(received).unwrap_or_default();
    let stack = [
        "CreateStack",
        "UpdateStack",
        "DeleteStack",
        "ExecuteChangeSet",
    ];
    let iam = ["Put", "Delete", "Attach", "Detach", "Update", "Create"];
    let permission = received.path.ends_with("/policy") || received.path.contains("/policy/");
    stack.contains(&action.as_str())
        || (service(received) == "iam" && iam.iter().any(|p| action.starts_with(p)))
        || (permission && received.method != "GET")
}

/// A `ReceiveMessage` answer as SQS would deliver (see [`crate::deliveries`]): without what a
/// delayed policy lost (deleted from moto), and with messages to come again sent once more.
fn as_sqs_delivers(shared: &Shared, received: &Received, answer: Vec<u8>) -> Vec<u8> {
    let Some(delivered) = shared.deliveries.received(&received.body, &answer) else {
        return answer;
    };
    let call = |operation: &str, body: serde_json::Value| {
        let moto = &shared.upstreams.moto;
        let _ = shared
            .agent
            .post(moto)
            .header("x-amz-target", format!("AmazonSQS.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .send(body.to_string());
    };
    for handle in &delivered.lost {
        let url = &delivered.url;
        call(
            "DeleteMessage",
            serde_json::json!({"QueueUrl": url, "ReceiptHandle": handle}),
        );
    }
    for body in &delivered.again {
        let url = &delivered.url;
        call(
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": body}),
        );
    }
    delivered.answer
}

/// The binary an invoke path names: `/2015-03-31/functions/<binary>/invocations`.
fn binary_of(path: &str) -> String {
    path.split('/').nth(3).unwrap_or("").to_owned()
}

/// One call to an upstream, its answer as it came (framing headers left out).
fn upstream(agent: &ureq::Agent, received: &Received, uri: &str) -> Result<Reply> {
    let mut outgoing = ureq::http::Request::builder()
        .method(received.method.as_str())
        .uri(uri);
    for (name, value) in &received.headers {
        if !NOT_FORWARDED.contains(&name.to_ascii_lowercase().as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let outgoing = outgoing.body(received.body.clone())?;
    let mut response = agent
        .run(outgoing)
        .with_context(|| format!("{} {uri}", received.method))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| !NOT_FORWARDED.contains(&name.as_str()))
        .filter_map(|(name, value)| Some(header(name.as_str(), value.to_str().ok()?)))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()?;
    Ok((status, headers, body))
}
