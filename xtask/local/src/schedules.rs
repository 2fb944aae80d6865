//! EventBridge Scheduler's one-time schedules, fired on moto's behalf: moto stores a schedule
//! and never runs it. The router sees each `CreateSchedule` pass (`POST /schedules/{name}`);
//! once moto has taken it, [`fire`] waits for its `at(…)` time, invokes its target as
//! Scheduler would (the Lambda `Invoke` API, the schedule's `Input` as the event, through the
//! router so the function runs in `cargo lambda watch`), and then deletes it, as
//! `ActionAfterCompletion: DELETE` asks. As Scheduler does, it first assumes the schedule's role
//! (its trust policy must let `scheduler.amazonaws.com` do so for this account and the
//! schedule's group, the `aws:SourceArn` Scheduler sends) and invokes with that role, which must
//! allow `lambda:InvokeFunction` on the target; a schedule that may not is not delivered. What
//! is not delivered goes to the schedule's dead-letter queue, and an invocation whose function
//! failed after Lambda's retries to the function's ([`crate::dead_letters`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// A schedule to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub name: String,
    pub group: Option<String>,
    /// Unix seconds.
    pub at: u64,
    pub target_arn: String,
    /// The role Scheduler assumes to invoke the target.
    pub role_arn: String,
    pub input: String,
    /// How many times Scheduler retries a failed delivery (its `RetryPolicy`; at most
    /// [`MOST_RETRIES`] here).
    pub retries: u32,
    /// Whether Scheduler deletes it after it fired.
    pub delete_after: bool,
    /// The target's dead-letter queue.
    pub dead_letter_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Body {
    schedule_expression: String,
    schedule_expression_timezone: Option<String>,
    group_name: Option<String>,
    target: Target,
    action_after_completion: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Target {
    arn: String,
    role_arn: String,
    input: Option<String>,
    retry_policy: Option<RetryPolicy>,
    dead_letter_config: Option<DeadLetterConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeadLetterConfig {
    arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetryPolicy {
    maximum_retry_attempts: Option<u32>,
}

/// The most retries of a delivery here (Scheduler's default is 185 within a day): enough to
/// ride out a restart of the functions, bounded so a broken target stops.
pub const MOST_RETRIES: u32 = 4;

/// The one-time schedule a `CreateSchedule` call makes; `None` for any other call, and for a
/// recurring (`rate`, `cron`) or non-UTC schedule, which the kit never makes.
pub fn created(method: &str, path: &str, body: &[u8]) -> Option<Due> {
    let name = path.strip_prefix("/schedules/")?;
    if method != "POST" || name.is_empty() || name.contains('/') {
        return None;
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    if body
        .schedule_expression_timezone
        .as_deref()
        .is_some_and(|tz| tz != "UTC")
    {
        return None;
    }
    Some(Due {
        name: percent_encoding::percent_decode_str(name)
            .decode_utf8_lossy()
            .into_owned(),
        group: body.group_name,
        at: at_secs(&body.schedule_expression)?,
        target_arn: body.target.arn,
        role_arn: body.target.role_arn,
        retries: body
            .target
            .retry_policy
            .and_then(|p| p.maximum_retry_attempts)
            .unwrap_or(185)
            .min(MOST_RETRIES),
        input: body.target.input.unwrap_or_else(|| "{}".to_owned()),
        delete_after: body.action_after_completion.as_deref() == Some("DELETE"),
        dead_letter_arn: body.target.dead_letter_config.and_then(|d| d.arn),
    })
}

/// `at(yyyy-mm-ddThh:mm:ss)` in UTC, as Unix seconds.
pub fn at_secs(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(inner, format).ok()?;
    u64::try_from(at.assume_utc().unix_timestamp()).ok()
}

/// Waits for `due`, then invokes its target through `router` (if Scheduler may) and deletes it
/// from moto.
pub fn fire(due: Due, router: &str, shared: &crate::shared::Shared) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::thread::sleep(Duration::from_secs(due.at.saturating_sub(now)));
    let (agent, moto) = (&shared.agent, &shared.upstreams.moto);
    match refusal(&shared.access, &due) {
        // Without the role Scheduler can send nothing, not even a dead letter.
        Some(Refused::Untrusted(why)) => {
            eprintln!("router: schedule {} not delivered: {why}", due.name)
        }
        Some(Refused::Denied(why)) => {
            let outcome = Outcome::Undelivered("AccessDeniedException".into(), why, 0);
            dead_letter(shared, &due, outcome);
        }
        None => dead_letter(shared, &due, invoke(&due, router, shared)),
    }
    if due.delete_after {
        let group = due.group.as_deref().unwrap_or("default");
        // moto tells services apart by the credential scope of the Authorization header.
        let deleted = agent
            .delete(format!("{moto}/schedules/{}?groupName={group}", due.name))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/scheduler/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .call();
        if let Err(error) = deleted {
            eprintln!(
                "router: schedule {} could not be deleted: {error}",
                due.name
            );
        }
    }
}

/// Why Scheduler could not invoke a target.
enum Refused {
    /// It could not assume the schedule's role.
    Untrusted(String),
    /// The role may not invoke the target.
    Denied(String),
}

/// Why Scheduler could not invoke `due`'s target: its role's trust or its permission.
fn refusal(access: &crate::access::Access, due: &Due) -> Option<Refused> {
    let role = match access.role(&due.role_arn) {
        Ok(role) => role,
        Err(error) => return Some(Refused::Untrusted(error)),
    };
    let (region, account) = (kit_base::local::REGION, kit_base::local::ACCOUNT_ID);
    let group = due.group.as_deref().unwrap_or("default");
    let source = format!("arn:aws:scheduler:{region}:{account}:schedule-group/{group}");
    let context = crate::access::service_context(&source);
    if !access.trusts(&role, SERVICE, context).is_allowed() {
        return Some(Refused::Untrusted(format!(
            "{SERVICE} may not assume {} (aws:SourceArn {source})",
            role.arn
        )));
    }
    let principal = crate::guard::assumed(&role.arn, "scheduler");
    let mut request = kit_iam::Authorization {
        principal: kit_iam::Principal::Aws(principal.clone()),
        action: "lambda:InvokeFunction".to_owned(),
        resource: due.target_arn.clone(),
        context: kit_iam::Context::new(),
    };
    request
        .context
        .extend(crate::access::principal_context(&principal, &role.arn));
    (!access.identity(&role, &request).is_allowed())
        .then(|| Refused::Denied(format!("{principal} may not invoke {}", due.target_arn)))
}

/// Scheduler's service principal.
const SERVICE: &str = "scheduler.amazonaws.com";

/// How many times Lambda retries a function error of an asynchronous invoke (its default), which
/// is how Scheduler invokes Lambda: its own retry policy covers the delivery only.
const FUNCTION_ERROR_RETRIES: u32 = 2;

/// What became of a schedule's delivery.
enum Outcome {
    Delivered,
    /// Scheduler could not invoke the target: the error code, why, and the retries made.
    Undelivered(String, String, u32),
    /// Lambda gave the event up: the function failed every attempt it made (`ErrorCode` 200,
    /// its error) or it stayed throttled (429); and the request of the last attempt.
    FunctionFailed(u16, String, String),
}

/// Invokes `due`'s target, retrying as Scheduler does when the invoke does not get through (no
/// answer, throttled, a server error: its retry policy's retries), and as Lambda does a function
/// error of an asynchronous invoke (twice), 1, 2, 4… seconds apart (minutes in AWS).
fn invoke(due: &Due, router: &str, shared: &crate::shared::Shared) -> Outcome {
    let (mut undelivered, mut function_errors, mut throttles) = (0, 0, 0);
    for attempt in 0.. {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1 << (attempt - 1).min(5)));
        }
        let why = match attempt_once(due, router, shared) {
            Attempt::Delivered => {
                shared.ledger.answered(&attempt_of(due, shared));
                return Outcome::Delivered;
            }
            Attempt::Undelivered(code, why) => {
                undelivered += 1;
                if undelivered > due.retries {
                    return Outcome::Undelivered(code.to_owned(), why, due.retries);
                }
                why
            }
            Attempt::FunctionError(error, request) => {
                function_errors += 1;
                if function_errors > FUNCTION_ERROR_RETRIES {
                    eprintln!(
                        "router: schedule {}: the function failed, retries spent",
                        due.name
                    );
                    return Outcome::FunctionFailed(200, error, request);
                }
                "a function error".to_owned()
            }
            // Lambda took the asynchronous invoke and keeps retrying a throttled event (for up
            // to six hours); here a few times.
            Attempt::Throttled(request) => {
                throttles += 1;
                if throttles > MOST_RETRIES {
                    eprintln!(
                        "router: schedule {}: throttled, Lambda gave it up",
                        due.name
                    );
                    return Outcome::FunctionFailed(429, "throttled".to_owned(), request);
                }
                "throttled".to_owned()
            }
        };
        eprintln!(
            "router: schedule {} could not invoke its target (attempt {}): {why}",
            due.name,
            attempt + 1
        );
    }
    unreachable!("the loop returns")
}

/// One attempt's end.
enum Attempt {
    Delivered,
    /// Scheduler's invoke did not get through: Lambda's error code, and why.
    Undelivered(&'static str, String),
    /// The function failed: its error, and the invocation's request id.
    FunctionError(String, String),
    /// Lambda queued the event and could not run the function (the account's concurrency).
    Throttled(String),
}

/// One invoke of `due`'s target, unless an armed fault (`lambda`, `invocations`) throttles it
/// or fails it as Lambda would. Scheduler invokes asynchronously: a throttle is Lambda's to
/// retry, a server error Scheduler's.
fn attempt_once(due: &Due, router: &str, shared: &crate::shared::Shared) -> Attempt {
    let function =
        percent_encoding::utf8_percent_encode(&due.target_arn, percent_encoding::NON_ALPHANUMERIC);
    let path = format!("/2015-03-31/functions/{function}/invocations");
    // A test may aim a fault at one approval's schedules: `schedule/<approval id>-`.
    let name = due.target_arn.split(':').nth(6).unwrap_or_default();
    let stack = crate::stacks::of_function(name, &shared.upstreams.binaries).map(|(s, _)| s);
    let operation = format!("{path} schedule/{}", due.name);
    let fault = shared.faults.hit(stack, "lambda", &operation);
    let injected = |kind, made| crate::ledger::Injected {
        stack: stack.map(str::to_owned),
        function: name.to_owned(),
        service: "lambda".to_owned(),
        operation: operation.clone(),
        kind,
        attempt: attempt_of(due, shared),
        made,
    };
    if let Some(kind) = fault {
        eprintln!(
            "router: fault injected into {}: {kind:?} of Scheduler's invoke {operation}",
            stack.unwrap_or("no stack")
        );
    }
    match fault {
        Some(kind @ crate::faults::Kind::Throttle) => {
            shared.ledger.injected(injected(kind, false));
            return Attempt::Throttled(String::new());
        }
        Some(kind @ crate::faults::Kind::Error) => {
            shared.ledger.injected(injected(kind, false));
            return Attempt::Undelivered("ServiceException", "status 500".to_owned());
        }
        // Invoked, and Lambda's answer lost: to Scheduler, a delivery that failed.
        Some(kind) => {
            let invoked = shared
                .agent
                .post(format!("{router}{path}"))
                .send(due.input.as_bytes());
            let made = invoked.is_ok_and(|r| {
                r.status() == 200 && !r.headers().contains_key("x-amz-function-error")
            });
            shared.ledger.injected(injected(kind, made));
            return Attempt::Undelivered("ServiceException", "the answer was lost".to_owned());
        }
        None => {}
    }
    let invoked = shared
        .agent
        .post(format!("{router}{path}"))
        .header("content-type", "application/json")
        .send(due.input.as_bytes());
    match invoked {
        Ok(response) if response.status() == 429 => {
            Attempt::Throttled(header_text(&response, "x-amzn-requestid"))
        }
        Ok(response) if response.status().is_server_error() => {
            Attempt::Undelivered("ServiceException", format!("status {}", response.status()))
        }
        Ok(mut response) if response.headers().contains_key("x-amz-function-error") => {
            let request = header_text(&response, "x-amzn-requestid");
            let error = response.body_mut().read_to_string().unwrap_or_default();
            Attempt::FunctionError(error, request)
        }
        Ok(_) => Attempt::Delivered,
        Err(error) => Attempt::Undelivered("ServiceException", error.to_string()),
    }
}

/// An attempt of `due`'s invoke, as the ledger follows it: by the schedule's name.
fn attempt_of(due: &Due, shared: &crate::shared::Shared) -> crate::ledger::Attempt {
    let schedule = format!("schedule/{}", due.name);
    crate::ledger::Attempt::of(Some(&schedule), None, None, shared.ledger.stamp())
}

fn header_text(response: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    let value = response.headers().get(name);
    value.and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// Sends what was not delivered where Scheduler and Lambda would: an undelivered schedule to its
/// own dead-letter queue with its role, a function that failed to the function's with the
/// function's role.
fn dead_letter(shared: &crate::shared::Shared, due: &Due, outcome: Outcome) {
    if due.dead_letter_arn.is_some() && !matches!(outcome, Outcome::Delivered) {
        shared.ledger.dead_lettered(&attempt_of(due, shared));
    }
    match outcome {
        Outcome::Delivered => {}
        Outcome::Undelivered(code, why, retries) => {
            eprintln!("router: schedule {} not delivered: {why}", due.name);
            undelivered(shared, due, [code, why, retries.to_string()]);
        }
        Outcome::FunctionFailed(code, error, request) => {
            given_up(shared, due, [request, code.to_string(), error]);
        }
    }
}

/// Scheduler's dead letter of `due` (if it has a queue), with its error code, message and the
/// retries made.
fn undelivered(shared: &crate::shared::Shared, due: &Due, [code, why, retries]: [String; 3]) {
    let Some(queue) = &due.dead_letter_arn else {
        return;
    };
    let (region, account) = (kit_base::local::REGION, kit_base::local::ACCOUNT_ID);
    let group = due.group.as_deref().unwrap_or("default");
    let schedule = format!(
        "arn:aws:scheduler:{region}:{account}:schedule/{group}/{}",
        due.name
    );
    let execution = format!("local-{}-{}", due.name, due.at);
    let letter = crate::dead_letters::Letter {
        queue_arn: queue,
        role_arn: &due.role_arn,
        session: "scheduler",
        body: &due.input,
        attributes: vec![
            ("ERROR_CODE", "String", code),
            ("ERROR_MESSAGE", "String", why),
            ("RETRY_ATTEMPTS", "Number", retries),
            ("SCHEDULE_ARN", "String", schedule),
            ("TARGET_ARN", "String", due.target_arn.clone()),
            ("EXECUTION_ID", "String", execution),
            (
                "SCHEDULED_TIME",
                "String",
                hitl_core::dates::rfc3339(due.at),
            ),
        ],
    };
    crate::dead_letters::send_logged(shared, &format!("schedule {}", due.name), &letter);
}

/// Lambda's dead letter of the event it gave up (to the function's queue, if it has one), with
/// the last attempt's request id, its code (200, 429) and error.
fn given_up(shared: &crate::shared::Shared, due: &Due, [request, code, error]: [String; 3]) {
    let function = crate::guard::function_name(&due.target_arn);
    let queue = shared.access.function_dead_letter(&function);
    let role = shared.access.function_role(&function);
    let (Some(queue), Ok(role)) = (queue, role) else {
        return eprintln!(
            "router: {function}'s failed invocation lost: no dead-letter queue, or no role read"
        );
    };
    let letter = crate::dead_letters::Letter {
        queue_arn: &queue,
        role_arn: &role,
        session: &function,
        body: &due.input,
        attributes: vec![
            ("RequestID", "String", request),
            ("ErrorCode", "Number", code),
            ("ErrorMessage", "String", error),
        ],
    };
    let what = format!("{function}'s failed invocation");
    crate::dead_letters::send_logged(shared, &what, &letter);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_schedule_is_read_from_its_create_call() {
        let body = br#"{"ScheduleExpression": "at(2025-03-01T09:30:00)", "ScheduleExpressionTimezone": "UTC",
            "GroupName": "e2e-local", "FlexibleTimeWindow": {"Mode": "OFF"}, "ActionAfterCompletion": "DELETE",
            "Target": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:e2e-local-remind", "RoleArn": "r", "Input": "{\"a\":1}"}}"#;
        let due = created("POST", "/schedules/abc-remind", body).expect("a schedule");
        assert_eq!(
            due,
            Due {
                name: "abc-remind".into(),
                group: Some("e2e-local".into()),
                at: 1_740_821_400,
                target_arn: "arn:aws:lambda:us-east-1:123456789012:function:e2e-local-remind"
                    .into(),
                role_arn: "r".into(),
                retries: MOST_RETRIES,
                input: r#"{"a":1}"#.into(),
                delete_after: true,
                dead_letter_arn: None,
            }
        );
        assert_eq!(created("GET", "/schedules/abc-remind", body), None);
        assert_eq!(created("POST", "/schedule-groups/g", body), None);
        let recurring =
            String::from_utf8_lossy(body).replace("at(2025-03-01T09:30:00)", "rate(5 minutes)");
        assert_eq!(created("POST", "/schedules/x", recurring.as_bytes()), None);
        assert_eq!(at_secs("at(2025-13-01T09:30:00)"), None);
    }
}
