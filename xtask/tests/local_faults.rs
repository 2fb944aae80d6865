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

/// A reminder whose function fails every attempt Lambda makes (every table read failing) is
/// not lost: each of the approval's nudges lands in the stack's reminders dead-letter queue,
/// sent by Lambda with the remind function's role, carrying its schedule's input and the
/// function's error; the approval still ends as its reviewers decide.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_reminder_whose_function_keeps_failing_lands_in_the_dead_letter_queue() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let run = env.start("dead-letter");
    let ana = env.link(&run.title, REVIEWERS[0]);
    let ben = env.link(&run.title, REVIEWERS[1]);
    assert_eq!(env.post(&ana, "approve", "before the fault").status, 200);
    let fault =
        json!({"service": "dynamodb", "operation": "GetItem", "kind": "error", "count": 1000});
    if !env.arm_fault(fault) {
        return;
    }
    let id = env.record(&ana)["id"].as_str().unwrap().to_owned();
    // `status` shows the queue's depth before anyone reads it.
    let queue = format!("{}-reminders-dead-letters", env.stack());
    let started = Instant::now();
    let shown = loop {
        let (ok, text, stderr) = env.xtask(&["status"]);
        assert!(ok, "{stderr}");
        let line = format!("dead letters       {queue} ");
        let depth = text
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.split(' ').next());
        if depth
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|d| d >= 2)
        {
            break text;
        }
        assert!(started.elapsed() < env.patience(), "{text}");
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(shown.contains("docs/operations.md"), "{shown}");
    let letters = env.wait_for_dead_letters("reminders-dead-letters", 2, |l| l.body.contains(&id));
    env.disarm_faults();
    let mut nudges: Vec<String> = letters
        .iter()
        .map(|l| {
            let input: serde_json::Value = serde_json::from_str(&l.body).unwrap();
            assert_eq!(input["approvalId"], id.as_str(), "{l:?}");
            assert!(!l.attributes["RequestID"].is_empty(), "{l:?}");
            assert!(l.attributes["ErrorMessage"].contains("error"), "{l:?}");
            input["nudge"].as_str().unwrap().to_owned()
        })
        .collect();
    nudges.sort();
    assert_eq!(nudges, ["escalate", "remind"]);
    assert_eq!(env.post(&ben, "approve", "after the fault").status, 200);
    assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
    let iam = env.local_log("iam.jsonl").unwrap_or_default();
    assert!(
        iam.lines()
            .any(|l| l.contains("sqs:SendMessage") && l.contains("\"allow\"")),
        "the dead letters were sent with no decision logged"
    );
}

/// A reminder Scheduler cannot deliver (Lambda's Invoke failing with a server error past the
/// schedule's three retries; a throttle would be Lambda's to retry) is not lost: Scheduler sends
/// it, with its own role, to the reminders dead-letter queue with the error and the schedule's
/// ARN; the approval still ends as its reviewers decide.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_reminder_scheduler_cannot_deliver_lands_in_the_dead_letter_queue() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let run = env.start("undelivered");
    let ana = env.link(&run.title, REVIEWERS[0]);
    let ben = env.link(&run.title, REVIEWERS[1]);
    assert_eq!(env.post(&ana, "approve", "before the fault").status, 200);
    let failing =
        json!({"service": "lambda", "operation": "/invocations", "kind": "error", "count": 1000});
    if !env.arm_fault(failing) {
        return;
    }
    let id = env.record(&ana)["id"].as_str().unwrap().to_owned();
    let letters = env.wait_for_dead_letters("reminders-dead-letters", 2, |l| l.body.contains(&id));
    env.disarm_faults();
    for letter in &letters {
        let attributes = &letter.attributes;
        assert_eq!(attributes["ERROR_CODE"], "ServiceException", "{letter:?}");
        assert_eq!(attributes["RETRY_ATTEMPTS"], "3", "{letter:?}");
        assert!(attributes["SCHEDULE_ARN"].contains(&id), "{letter:?}");
        assert!(attributes["TARGET_ARN"].ends_with("-remind"), "{letter:?}");
    }
    assert_eq!(env.post(&ben, "approve", "after the fault").status, 200);
    assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
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
