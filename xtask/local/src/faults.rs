//! Faults the local environment injects when a test asks, as AWS produces them: a call that is
//! throttled, one that fails with a server error, and one that succeeds but whose answer is lost
//! on the way back (the caller sees a server error after the service did the work, as after a
//! dropped connection). A test arms one with `POST /hitl-local/faults` on the router:
//! `{"service": "lambda", "operation": "durable-execution-callbacks", "kind": "lost",
//! "count": 1}` (the signature's service; the operation as the `X-Amz-Target`'s, the form's
//! `Action`, or a fragment of a REST path); `DELETE` disarms every fault. Only calls signed by a
//! function's role session are touched.

use std::sync::Mutex;

use serde::Deserialize;
use serde_json::json;

use crate::reply::{Reply, header};

/// The admin path.
pub const PATH: &str = "/hitl-local/faults";

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The service throttles the call (it is not made).
    Throttle,
    /// The service fails with a server error (the call is not made).
    Error,
    /// The call is made, and its answer lost.
    Lost,
}

/// One armed fault.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Fault {
    pub service: String,
    pub operation: String,
    pub kind: Kind,
    /// How many matching calls it hits.
    pub count: u32,
}

/// The armed faults.
#[derive(Default)]
pub struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    /// Arms the fault `body` describes, or says why not.
    pub fn arm(&self, body: &[u8]) -> Result<(), String> {
        let fault: Fault = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        self.lock().push(fault);
        Ok(())
    }

    pub fn disarm(&self) {
        self.lock().clear();
    }

    /// The fault that hits a call of `service` doing `operation` (the target's operation, the
    /// form's action or the path), spending one of its count.
    pub fn hit(&self, service: &str, operation: &str) -> Option<Kind> {
        let mut faults = self.lock();
        let fault = faults
            .iter_mut()
            .find(|f| f.count > 0 && f.service == service && operation.contains(&f.operation))?;
        fault.count -= 1;
        Some(fault.kind)
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
        Kind::Error | Kind::Lost => (500, "InternalFailure", "Internal service error"),
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
        assert_eq!(faults.hit("dynamodb", callback), None);
        assert_eq!(
            faults.hit("lambda", "/2025-12-01/durable-executions/x"),
            None
        );
        assert_eq!(faults.hit("lambda", callback), Some(Kind::Lost));
        assert_eq!(faults.hit("lambda", callback), Some(Kind::Lost));
        assert_eq!(faults.hit("lambda", callback), None);
        faults
            .arm(br#"{"service":"scheduler","operation":"/schedules/","kind":"error","count":9}"#)
            .unwrap();
        faults.disarm();
        assert_eq!(faults.hit("scheduler", "/schedules/x"), None);
        let (status, headers, _) = reply("scheduler", Kind::Throttle);
        assert_eq!(status, 429);
        assert!(headers.contains(&header("x-amzn-ErrorType", "ThrottlingException")));
        assert_eq!(reply("dynamodb", Kind::Throttle).0, 400);
        assert_eq!(reply("lambda", Kind::Lost).0, 500);
    }
}
