//! Faults the local environment injects when a test asks, as AWS produces them: a call that is
//! throttled, one that fails with a server error, and one that succeeds but whose answer is lost
//! on the way back (the caller sees a server error after the service did the work, as after a
//! dropped connection). A test arms one with `POST /hitl-local/faults` on the router:
//! `{"service": "lambda", "operation": "durable-execution-callbacks", "kind": "lost",
//! "count": 1}` (the signature's service; the operation as the `X-Amz-Target`'s, the form's
//! `Action`, or a fragment of a REST path); `DELETE` disarms every fault (`?stack=<stack>`: that
//! stack's); `GET` lists those injected and what became of each ([`crate::ledger`]). Only calls signed by a function's role session are touched, but for Lambda
//! invokes: a `crash` hits whoever invokes, and Scheduler's invokes of the remind function
//! (`schedules.rs`) take the others too. A fault with a `stack` touches only the calls of that
//! stack (by its functions' sessions, of its functions, of its schedules), so that the suites of
//! other stacks run beside it untouched. A fault with a `rate` (0 to 1) hits each matching call
//! with that probability, as often as its `count` allows (without one, for as long as it is
//! armed): what `cargo xtask local up --faults SPEC` arms ([`parse_spec`]), for every stack.

use std::sync::Mutex;

use serde::Deserialize;
use serde_json::json;

use crate::reply::{Reply, header};

/// The admin path.
pub const PATH: &str = "/hitl-local/faults";

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The service throttles the call (it is not made).
    Throttle,
    /// The service fails with a server error (the call is not made).
    Error,
    /// The call is made, and its answer lost.
    Lost,
    /// A Lambda invoke (`service` `lambda`, any caller) whose function instance dies
    /// mid-invocation: its work done, Lambda's answer a runtime that exited
    /// (`Runtime.ExitError`, an unhandled function error). Never hits other calls.
    Crash,
}

/// One armed fault.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Fault {
    pub service: String,
    /// A fragment of the operation; empty for every call of the service.
    #[serde(default)]
    pub operation: String,
    pub kind: Kind,
    /// How many matching calls it hits (every one, without a count).
    #[serde(default = "every")]
    pub count: u32,
    /// The probability that it hits a matching call (every one, without a rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// The stack whose calls it hits (every stack's, without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl Fault {
    /// Whether the fault may hit a call of `stack` (`None`: a call of no stack's).
    fn touches(&self, stack: Option<&str>) -> bool {
        self.count > 0 && self.stack.as_deref().is_none_or(|own| Some(own) == stack)
    }

    fn strikes(&self) -> bool {
        self.rate.is_none_or(|rate| fastrand::f64() < rate)
    }
}

fn every() -> u32 {
    u32::MAX
}

/// The faults of `--faults SPEC`: comma-separated `SERVICE[/OPERATION]:KIND:RATE`, say
/// `dynamodb:throttle:0.05,lambda/durable-execution-callbacks:lost:0.02`.
pub fn parse_spec(spec: &str) -> Result<Vec<Fault>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            parse_item(item).map_err(|why| {
                format!(
                    "fault `{item}`: {why} (write SERVICE[/OPERATION]:throttle|error|lost|crash:RATE, \
                     e.g. dynamodb:throttle:0.05)"
                )
            })
        })
        .collect()
}

fn parse_item(item: &str) -> Result<Fault, String> {
    let [target, kind, rate] = item.split(':').collect::<Vec<_>>()[..] else {
        return Err("three parts separated by `:`".to_owned());
    };
    let (service, operation) = target.split_once('/').unwrap_or((target, ""));
    let named = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if service.is_empty() || !service.bytes().all(named) {
        return Err(format!(
            "`{service}` is not a service's signing name (dynamodb, s3…)"
        ));
    }
    let kind = serde_json::from_value(json!(kind)).map_err(|_| format!("`{kind}` is no kind"))?;
    if kind == Kind::Crash && service != "lambda" {
        return Err("a crash is a Lambda function's: its service is `lambda`".to_owned());
    }
    let rate: f64 = rate
        .parse()
        .map_err(|_| format!("`{rate}` is not a rate"))?;
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(format!("the rate {rate} is not above 0 and at most 1"));
    }
    Ok(Fault {
        service: service.to_owned(),
        operation: operation.to_owned(),
        kind,
        count: every(),
        rate: Some(rate),
        stack: None,
    })
}

/// The armed faults.
#[derive(Default)]
pub struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    /// Arms the fault `body` describes, or says why not.
    pub fn arm(&self, body: &[u8]) -> Result<(), String> {
        let fault: Fault = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if fault.rate.is_some_and(|r| !(r > 0.0 && r <= 1.0)) {
            return Err("a rate is above 0 and at most 1".to_owned());
        }
        self.lock().push(fault);
        Ok(())
    }

    /// Whether any fault is armed.
    pub fn armed(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Disarms every fault, or `stack`'s only (those armed for every stack stay).
    pub fn disarm(&self, stack: Option<&str>) {
        match stack {
            None => self.lock().clear(),
            Some(stack) => self.lock().retain(|f| f.stack.as_deref() != Some(stack)),
        }
    }

    /// The fault that hits a call of `stack` to `service` doing `operation` (the target's
    /// operation, the form's action or the path), spending one of its count.
    pub fn hit(&self, stack: Option<&str>, service: &str, operation: &str) -> Option<Kind> {
        let mut faults = self.lock();
        let fault = faults.iter_mut().find(|f| {
            f.touches(stack)
                && f.kind != Kind::Crash
                && f.service == service
                && operation.contains(&f.operation)
                && f.strikes()
        })?;
        fault.count = fault.count.saturating_sub(1);
        Some(fault.kind)
    }

    /// Whether an armed crash hits the invoke at `path` of a function of `stack`, spending one
    /// of its count.
    pub fn crash(&self, stack: &str, path: &str) -> bool {
        let mut faults = self.lock();
        let fault = faults.iter_mut().find(|f| {
            f.touches(Some(stack))
                && f.kind == Kind::Crash
                && f.service == "lambda"
                && path.contains(&f.operation)
                && f.strikes()
        });
        fault.map(|f| f.count = f.count.saturating_sub(1)).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a fault of `kind` answers for `service` (a lost answer: the server error the caller
/// sees): the service's throttling or internal error, which the SDK retries.
pub fn reply(service: &str, kind: Kind) -> Reply {
    let (status, code, message) = match kind {
        Kind::Throttle => (429, "ThrottlingException", "Rate exceeded"),
        Kind::Error | Kind::Lost | Kind::Crash => {
            (500, "InternalFailure", "Internal service error")
        }
    };
    let status = if service == "dynamodb" && kind == Kind::Throttle {
        400
    } else {
        status
    };
    (
        status,
        vec![
            header("x-amzn-ErrorType", code),
            header("Content-Type", "application/json"),
        ],
        json!({"__type": code, "message": message})
            .to_string()
            .into_bytes(),
    )
}

/// Lambda's answer to an invoke whose function instance died mid-invocation.
pub fn crashed(request_id: &str) -> Reply {
    let error = "Runtime exited with error: signal: killed";
    crate::reply::function_error(request_id, "Runtime.ExitError", error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_fault_hits_its_calls_as_often_as_asked() {
        let faults = Faults::default();
        assert!(faults.arm(b"not json").is_err());
        faults
            .arm(br#"{"service":"lambda","operation":"durable-execution-callbacks","kind":"lost","count":2}"#)
            .unwrap();
        let callback = "/2025-12-01/durable-execution-callbacks/abc/succeed";
        assert_eq!(faults.hit(None, "dynamodb", callback), None);
        assert_eq!(
            faults.hit(None, "lambda", "/2025-12-01/durable-executions/x"),
            None
        );
        assert_eq!(faults.hit(None, "lambda", callback), Some(Kind::Lost));
        assert_eq!(faults.hit(None, "lambda", callback), Some(Kind::Lost));
        assert_eq!(faults.hit(None, "lambda", callback), None);
        faults
            .arm(br#"{"service":"scheduler","operation":"/schedules/","kind":"error","count":9}"#)
            .unwrap();
        faults.disarm(None);
        assert_eq!(faults.hit(None, "scheduler", "/schedules/x"), None);
        let (status, headers, _) = reply("scheduler", Kind::Throttle);
        assert_eq!(status, 429);
        assert!(headers.contains(&header("x-amzn-ErrorType", "ThrottlingException")));
        assert_eq!(reply("dynamodb", Kind::Throttle).0, 400);
        assert_eq!(reply("lambda", Kind::Lost).0, 500);
    }

    #[test]
    fn a_stacks_fault_hits_that_stacks_calls_only_and_is_disarmed_alone() {
        let faults = Faults::default();
        faults
            .arm(br#"{"service":"dynamodb","kind":"error","stack":"e2e-local"}"#)
            .unwrap();
        faults.arm(br#"{"service":"sns","kind":"error"}"#).unwrap();
        faults
            .arm(br#"{"service":"lambda","operation":"-request","kind":"crash","stack":"e2e-local"}"#)
            .unwrap();
        let put = "DynamoDB_20120810.PutItem";
        assert_eq!(
            faults.hit(Some("e2e-local"), "dynamodb", put),
            Some(Kind::Error)
        );
        assert_eq!(faults.hit(Some("e2e-local-durable"), "dynamodb", put), None);
        assert_eq!(faults.hit(None, "dynamodb", put), None);
        assert!(!faults.crash("e2e-local-durable", "/functions/e2e-local-durable-request/"));
        assert!(faults.crash("e2e-local", "/functions/e2e-local-request/"));
        // A fault of every stack's hits them all; disarming a stack's leaves it armed.
        assert_eq!(
            faults.hit(Some("e2e-x"), "sns", "Publish"),
            Some(Kind::Error)
        );
        faults.disarm(Some("e2e-local"));
        assert_eq!(faults.hit(Some("e2e-local"), "dynamodb", put), None);
        assert!(!faults.crash("e2e-local", "/functions/e2e-local-request/"));
        assert_eq!(
            faults.hit(Some("e2e-local"), "sns", "Publish"),
            Some(Kind::Error)
        );
        faults.disarm(None);
        assert_eq!(faults.hit(Some("e2e-local"), "sns", "Publish"), None);
    }

    #[test]
    fn a_spec_arms_faults_at_their_rate_and_names_what_is_wrong() {
        let faults =
            parse_spec("dynamodb:throttle:1, lambda/durable-execution-callbacks:lost:0.5").unwrap();
        assert_eq!(faults[0].operation, "");
        assert_eq!(faults[1].kind, Kind::Lost);
        let armed = Faults::default();
        for fault in &faults {
            armed
                .arm(serde_json::to_string(fault).unwrap().as_bytes())
                .unwrap();
        }
        // A rate of 1 hits every call, for as long as it is armed.
        for _ in 0..100 {
            assert_eq!(
                armed.hit(None, "dynamodb", "DynamoDB_20120810.GetItem"),
                Some(Kind::Throttle)
            );
        }
        // A rate of 0.5 hits about half: 1,000 calls, all but surely between 350 and 650.
        let path = "/2025-12-01/durable-execution-callbacks/x/succeed";
        let hits = (0..1000)
            .filter(|_| armed.hit(None, "lambda", path).is_some())
            .count();
        assert!((350..650).contains(&hits), "{hits}");
        for (spec, names) in [
            ("dynamodb:throttle", "three parts"),
            ("DynamoDB:throttle:0.1", "signing name"),
            ("dynamodb:slow:0.1", "`slow` is no kind"),
            ("dynamodb:error:2", "at most 1"),
            ("dynamodb:error:x", "not a rate"),
        ] {
            let error = parse_spec(spec).unwrap_err();
            assert!(
                error.contains(names) && error.contains("e.g."),
                "{spec}: {error}"
            );
        }
        assert!(
            armed
                .arm(br#"{"service":"s","kind":"error","rate":0}"#)
                .is_err()
        );
        // A crash hits the invokes it names, once each of its count, and no other call.
        armed.disarm(None);
        armed
            .arm(br#"{"service":"lambda","operation":"-request/invocations","kind":"crash","count":1}"#)
            .unwrap();
        let invoke = "/2015-03-31/functions/e2e-request/invocations";
        assert_eq!(armed.hit(Some("e2e"), "lambda", invoke), None);
        assert!(!armed.crash("e2e", "/2015-03-31/functions/e2e-review/invocations"));
        assert!(armed.crash("e2e", invoke));
        assert!(!armed.crash("e2e", invoke));
        assert!(parse_spec("lambda/-request/invocations:crash:0.1").is_ok());
        assert!(parse_spec("s3:error:0.1").is_ok());
        let error = parse_spec("dynamodb:crash:0.1").unwrap_err();
        assert!(error.contains("`lambda`"), "{error}");
    }
}
