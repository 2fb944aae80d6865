//! What AWS may do that moto never does, injected by the local environment's router (see
//! `kit_local::faults`), on either orchestrator of the approval policies' environments
//! (`HITL_E2E_ENV` `local-policy`, then `local-policy-df`). A fault hits every function's calls
//! of its kind, so the tests here run one at a time. Local only: in an account they pass
//! without checking anything they cannot arrange.

mod support;

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::json;
use support::env;

const REVIEWERS: [&str; 3] = ["ana@example.com", "ben@example.com", "cyd@example.com"];

/// One test at a time: each arms faults for every call of a kind.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A reminder that cannot be scheduled (Scheduler failing every `CreateSchedule`) is logged
/// and never fails or holds up the approval: the reviewers get their requests, the workflow
/// waits for them, and their decision ends it.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_reminder_that_cannot_be_scheduled_never_fails_the_approval() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let fault =
        json!({"service": "scheduler", "operation": "/schedules/", "kind": "error", "count": 100});
    if !env.arm_fault(fault) {
        return;
    }
    let run = env.start("unscheduled");
    let links: Vec<String> = REVIEWERS[..2]
        .iter()
        .map(|r| env.link(&run.title, r))
        .collect();
    // Past the request function's retries (Step Functions would have failed the execution).
    std::thread::sleep(Duration::from_secs(10));
    env.disarm_faults();
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");
    for link in &links {
        assert_eq!(env.post(link, "approve", "fine").status, 200);
    }
    assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
    let log = env.local_log("lambda.log").unwrap_or_default();
    assert!(log.contains("a nudge could not be scheduled"), "not logged");
}

/// A decision that went through but whose answer was lost (the call succeeded, the caller saw
/// a server error and retried, and the retry found the task or callback closed) stands: the
/// record says approved, as the workflow does, and the reviewer gets the confirmation.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_decision_whose_answer_was_lost_still_stands() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let operation = match env.durable() {
        true => json!({"service": "lambda", "operation": "durable-execution-callbacks"}),
        false => json!({"service": "states", "operation": "SendTaskSuccess"}),
    };
    let mut fault = operation.clone();
    fault["kind"] = json!("lost");
    fault["count"] = json!(1);
    let run = env.start("lost-answer");
    let ana = env.link(&run.title, REVIEWERS[0]);
    let ben = env.link(&run.title, REVIEWERS[1]);
    assert_eq!(env.post(&ana, "approve", "first").status, 200);
    if !env.arm_fault(fault) {
        return;
    }
    let started = Instant::now();
    let page = env.post(&ben, "approve", "lost on the way back");
    env.disarm_faults();
    assert_eq!(page.status, 200, "{}", page.body);
    // Within API Gateway's 29-second integration timeout: the lost answer is not retried
    // until the reviewer would see a gateway error.
    assert!(
        started.elapsed() < Duration::from_secs(29),
        "the page outlived API Gateway's integration timeout"
    );
    assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
    let record = env.record(&ben);
    assert_eq!(record["status"], "approved", "{record}");
    assert_eq!(record["decided_by"], REVIEWERS[1], "{record}");
}
