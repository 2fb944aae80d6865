//! What became of each fault the router injected ([`crate::faults`]), so that a test can show
//! that none was lost silently: each one was retried until the service answered, or was a lost
//! answer of a call the service made, or shows in a metric an alarm of the stack watches.
//!
//! How a fault is followed:
//!
//! - **Retried.** The AWS SDKs send each attempt of one operation with the same
//!   `amz-sdk-invocation-id`, and the functions' SDK sends the X-Ray trace of the invocation
//!   (`x-amzn-trace-id`, from `_X_AMZN_TRACE_ID`, which the runtime sets for each invocation).
//!   Each call is stamped as it arrives. A fault was retried once the service answered an
//!   attempt stamped after it: the same operation, the same call (service, operation and body)
//!   in the same invocation, which is the function's own retry, or the same schedule. Any answer
//!   of the service's but a server error, a throttle or a function error counts ([`is_answer`]).
//! - **Made.** A lost answer's call the service answered 2xx: its caller saw an error after the
//!   work was done, and what it made of that is the protocol's, which the suites' checks judge.
//! - **In a metric.** Otherwise the error reached the function's code, and the function's
//!   wrapper (`hitl_aws::ending`) says how its invocation ended, in its log, with the trace: a
//!   function error counts in the function's `Errors` metric (so does a panic, which the
//!   runtime logs), a 5xx answer through API Gateway in the API's `5XXError`, a durable step
//!   that failed for good in `ExecutionsFailed`, each watched by an alarm
//!   (`templates/partials/alarms.yaml.hbs`). A crash the router injected is a function error by
//!   construction; a schedule's invoke given up is in the reminders' dead-letter queue. An
//!   invocation the router cut at the function's timeout is a function error too (Lambda counts
//!   a timeout in `Errors`), and a review API call cut at API Gateway's 29 seconds a 504 in
//!   `5XXError`, whatever the function logs after: the router knows the invocation's trace from
//!   the instance's taking it ([`crate::clock`]).
//! - **Step retried.** A durable step that failed is tried again in a later invocation (another
//!   trace, and a call made anew), as the wrapper's line says: the execution then ends as the
//!   suites check, or the step fails for good, above.
//! - Anything else is **unaccounted**: a fault that nothing would show.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use hitl_aws::ending::{FAILED, GAVE_UP, RETRIED, SERVER_ERROR};
use serde::Serialize;

use crate::faults::Kind;

/// How many faults injected are kept (the oldest half forgotten beyond).
const KEPT: usize = 200_000;

/// What the Rust runtime logs when a handler panics (the invocation then fails).
const PANICKED: &str = "user handler panicked";

/// What identifies the later attempts of a call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Attempt {
    /// The SDK's id of the operation, the same on each of its attempts (a schedule's name, for
    /// Scheduler's invokes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// The root of the X-Ray trace of the invocation that made the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// The call itself in that invocation: a digest of its service, operation and body.
    #[serde(skip)]
    pub call: Option<String>,
    /// When the router received it, in the ledger's own order.
    #[serde(skip)]
    pub stamp: u64,
}

impl Attempt {
    /// A call's, received at `stamp` ([`Ledger::stamp`]); `call`: its service and operation,
    /// and its body, when the call itself is followed.
    pub fn of(
        operation_id: Option<&str>,
        trace: Option<&str>,
        call: Option<(&str, &[u8])>,
        stamp: u64,
    ) -> Self {
        let call = trace.zip(call).map(|(trace, (operation, body))| {
            let mut digest = std::collections::hash_map::DefaultHasher::new();
            (operation, canonical(body)).hash(&mut digest);
            format!("{trace} {:016x}", digest.finish())
        });
        Self {
            operation_id: operation_id.map(str::to_owned),
            trace: trace.map(str::to_owned),
            call,
            stamp,
        }
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.operation_id.iter().chain(&self.call)
    }
}

/// A body as the same call sends it each time: a JSON document with its members sorted, a form
/// with its pairs sorted (the SDKs write a map's entries in no fixed order), or as it is.
fn canonical(body: &[u8]) -> Vec<u8> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        return sorted(json).to_string().into_bytes();
    }
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    if pairs.is_empty() {
        return body.to_vec();
    }
    pairs.sort();
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => {
            let mut members: Vec<_> = members.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            let members = members.into_iter().map(|(k, v)| (k, sorted(v)));
            serde_json::Value::Object(members.collect())
        }
        serde_json::Value::Array(items) => items.into_iter().map(sorted).collect(),
        other => other,
    }
}

/// One fault injected into a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Injected {
    /// The stack of the function whose call it hit.
    pub stack: Option<String>,
    /// That function (`<stack>-<binary>`); a crash's and a schedule's: the function invoked.
    pub function: String,
    pub service: String,
    pub operation: String,
    pub kind: Kind,
    #[serde(flatten)]
    pub attempt: Attempt,
    /// A lost answer's call: whether the service made it.
    pub made: bool,
}

/// What became of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Account {
    /// The service answered a later attempt of the call.
    Retried,
    /// The service made the call; only its answer was lost.
    Made,
    /// The invocation that made the call failed, or ran past its timeout: the function's
    /// `Errors` metric.
    FunctionErrors,
    /// The invocation answered API Gateway's client with a 5xx: the API's `5XXError` metric.
    Api5xx,
    /// The durable step that made the call failed, and the execution tries it again: it ends as
    /// the suites check.
    StepRetried,
    /// The durable step failed for good, and so does its execution: `ExecutionsFailed`.
    ExecutionsFailed,
    /// A schedule's invoke that never got through: in the reminders' dead-letter queue.
    DeadLetter,
    /// Nothing shows it.
    Unaccounted,
}

/// The faults injected, and the calls answered after them.
#[derive(Default)]
pub struct Ledger {
    next: AtomicU64,
    /// Whether a fault was ever injected.
    any: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    injected: Vec<Injected>,
    /// The latest attempt the service answered, of each key a fault hit.
    answered: HashMap<String, u64>,
    /// The keys of schedules sent to a dead-letter queue.
    dead_letters: HashSet<String>,
    /// The invocations the router cut, by trace root: how their callers saw them end.
    cut: HashMap<String, Account>,
}

impl Ledger {
    /// The stamp of a call received now: later calls get greater ones.
    pub fn stamp(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether a call's answer may matter: some fault was injected.
    pub fn following(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Notes a fault injected.
    pub fn injected(&self, fault: Injected) {
        self.any.store(true, Ordering::Relaxed);
        let mut state = self.lock();
        for key in fault.attempt.keys() {
            state.answered.entry(key.clone()).or_insert(0);
        }
        state.injected.push(fault);
        if state.injected.len() > KEPT {
            state.injected.drain(..KEPT / 2);
            let kept: HashSet<String> = state
                .injected
                .iter()
                .flat_map(|f| f.attempt.keys().cloned())
                .collect();
            state.answered.retain(|key, _| kept.contains(key));
        }
    }

    /// Notes that the service answered `attempt` of a function's call (with an answer of its
    /// own: not a server error, not a throttle, not a function error).
    pub fn answered(&self, attempt: &Attempt) {
        let mut state = self.lock();
        for key in attempt.keys() {
            if let Some(latest) = state.answered.get_mut(key) {
                *latest = (*latest).max(attempt.stamp);
            }
        }
    }

    /// Notes that the router cut the invocation of `trace` (its root) as `account` shows it: a
    /// function error at its timeout, API Gateway's 504 at the integration's.
    pub fn cut(&self, trace: &str, account: Account) {
        let mut state = self.lock();
        if state.cut.len() >= KEPT {
            state.cut.clear();
        }
        state.cut.insert(trace.to_owned(), account);
    }

    /// Notes that the schedule invoke `attempt` went to a dead-letter queue.
    pub fn dead_lettered(&self, attempt: &Attempt) {
        let mut state = self.lock();
        let keys: Vec<String> = attempt.keys().cloned().collect();
        state.dead_letters.extend(keys);
    }

    /// Each fault injected into `stack`'s calls (every one's, without a stack), in the order
    /// injected, with what became of it; `ends`: how each trace's invocation ended, from the
    /// functions' logs ([`ends_in_log`]).
    pub fn accounts(
        &self,
        stack: Option<&str>,
        ends: &HashMap<String, Account>,
    ) -> Vec<(Injected, Account)> {
        let state = self.lock();
        state
            .injected
            .iter()
            .filter(|f| stack.is_none_or(|s| f.stack.as_deref() == Some(s)))
            .map(|f| (f.clone(), state.account(f, ends)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a reply is the service's own answer to a call: not a server error, a throttle or a
/// function error (an answer the router gave in its place counts: a task gone, a callback
/// closed).
pub fn is_answer(reply: &crate::reply::Reply) -> bool {
    let (status, headers, _) = reply;
    let throttled = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("x-amzn-ErrorType") && value.contains("Throttl")
    });
    let failed = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(crate::reply::FUNCTION_ERROR_HEADER));
    *status < 500 && *status != 429 && !throttled && !failed
}

impl State {
    fn account(&self, fault: &Injected, ends: &HashMap<String, Account>) -> Account {
        match fault.kind {
            Kind::Crash => return Account::FunctionErrors,
            Kind::Lost if fault.made => return Account::Made,
            _ => {}
        }
        let keys = || fault.attempt.keys();
        if keys().any(|key| {
            self.answered
                .get(key)
                .is_some_and(|at| *at > fault.attempt.stamp)
        }) {
            return Account::Retried;
        }
        if keys().any(|key| self.dead_letters.contains(key)) {
            return Account::DeadLetter;
        }
        let trace = fault.attempt.trace.as_ref();
        let ended = |t: &String| ends.get(t).or_else(|| self.cut.get(t));
        trace
            .and_then(ended)
            .copied()
            .unwrap_or(Account::Unaccounted)
    }
}

/// The root of an `x-amzn-trace-id` (`Root=1-…;Parent=…;Sampled=1`).
pub fn trace_root(header: &str) -> Option<&str> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .filter(|root| !root.is_empty())
}

/// How the invocations of each trace root ended, as a function log says: the lines
/// `hitl_aws::ending` writes under the runtime's span
/// (`Lambda runtime invoke{requestId="…" xrayTraceId="Root=…;…"}: the invocation failed …`),
/// or with the trace as a field (a durable step's, under the durable SDK's span).
pub fn ends_in_log(log: &str) -> HashMap<String, Account> {
    let mut ends = HashMap::new();
    for line in log.lines() {
        let Some((trace, message)) = span_of(line) else {
            continue;
        };
        let account = if message.starts_with(FAILED) || message.starts_with(PANICKED) {
            Account::FunctionErrors
        } else if message.starts_with(GAVE_UP) {
            Account::ExecutionsFailed
        } else if message.starts_with(SERVER_ERROR) {
            Account::Api5xx
        } else if message.starts_with(RETRIED) {
            Account::StepRetried
        } else {
            continue;
        };
        ends.insert(trace.to_owned(), account);
    }
    ends
}

/// A line's trace root and its message: the trace in the runtime's span
/// (`xrayTraceId="Root=…;…"`) or in a field of the line (`xray_trace_id=Root=…;…`).
fn span_of(line: &str) -> Option<(&str, &str)> {
    let traced = ["xrayTraceId=\"", "xray_trace_id="]
        .iter()
        .find_map(|mark| Some(&line[line.find(mark)? + mark.len()..]))?;
    let end = traced.find(['"', ' ']).unwrap_or(traced.len());
    let trace = trace_root(&traced[..end])?;
    let message = &line[line.find("}: ")? + 3..];
    Some((trace, message))
}

#[cfg(test)]
mod tests;
