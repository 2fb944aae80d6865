//! Step Functions as the local environment answers for it where moto does not: a stopped
//! execution, and its task's callbacks.

use crate::reply::{Reply, header};

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
pub fn execution_arn(body: &[u8]) -> Option<String> {
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
            header("x-amzn-ErrorType", "TaskTimedOut"),
            header("Content-Type", "application/x-amz-json-1.0"),
        ],
        serde_json::json!({
            "__type": "com.amazonaws.swf.service.v2.model#TaskTimedOut",
            "message": "Provided task does not exist anymore",
        })
        .to_string()
        .into_bytes(),
    )
}

/// Step Functions' refusal of a `CreateStateMachine` whose role it may not assume for the new
/// state machine (AWS checks the role's trust policy when the state machine is made, with
/// `aws:SourceArn` the state machine's ARN); `None` when it may, or the body names no role.
pub fn untrusted(access: &crate::access::Access, body: &[u8]) -> Option<Reply> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let (name, role_arn) = (body["name"].as_str()?, body["roleArn"].as_str()?);
    let (region, account) = (kit_base::local::REGION, kit_base::local::ACCOUNT_ID);
    let machine = format!("arn:aws:states:{region}:{account}:stateMachine:{name}");
    let trusted = access.role(role_arn).map(|role| {
        let context = crate::access::service_context(&machine);
        access
            .trusts(&role, "states.amazonaws.com", context)
            .is_allowed()
    });
    match trusted {
        Ok(true) => return None,
        Ok(false) => eprintln!("router: Step Functions may not assume {role_arn} for {machine}"),
        Err(error) => eprintln!("router: {error}"),
    }
    Some(kit_iam::denied::refused(
        "states",
        "Neither the global service principal states.amazonaws.com, nor the regional one is \
         authorized to assume the provided role.",
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(headers.contains(&header("x-amzn-ErrorType", "TaskTimedOut")));
        assert!(String::from_utf8(answer).unwrap().contains("TaskTimedOut"));
        let described = as_aborted(br#"{"status":"RUNNING","executionArn":"a"}"#);
        let described: serde_json::Value = serde_json::from_slice(&described).unwrap();
        assert_eq!(described["status"], "ABORTED");
        assert_eq!(
            as_aborted(br#"{"status":"SUCCEEDED"}"#),
            br#"{"status":"SUCCEEDED"}"#
        );
    }
}
