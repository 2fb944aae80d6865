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
    let _disarm = env.faults_disarmed_on_drop();
    if !env.arm_fault(fault) {
        return;
    }
    // The log is the local environment's, kept across runs: only what this test adds counts.
    let logged_before = env.local_log("lambda.log").map_or(0, |log| log.len());
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
    let added = log.get(logged_before..).unwrap_or_default();
    assert!(added.contains("a schedule could not be made"), "not logged");
}

/// Reminders that cannot go are not lost, whichever service gave up, on two approvals side by
/// side (one wait for their schedules):
/// - the first's remind function fails every attempt Lambda makes (every table read failing):
///   Lambda sends each nudge's event with the function's role, with its error;
/// - the second's schedules cannot be delivered (Lambda's Invoke failing with a server error past
///   the schedule's three retries; a throttle would be Lambda's to retry): Scheduler sends each,
///   with its own role, with the error and the schedule's ARN.
///
/// `status` shows the queue's depth; both approvals still end as their reviewers decide.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn reminders_that_cannot_go_land_in_the_dead_letter_queue() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let before = env.fault_accounts().len();
    let runs = [env.start("dead-letter"), env.start("undelivered")];
    let links: Vec<[String; 2]> = runs
        .iter()
        .map(|run| [0, 1].map(|i| env.link(&run.title, REVIEWERS[i])))
        .collect();
    for [ana, _] in &links {
        assert_eq!(env.post(ana, "approve", "before the fault").status, 200);
    }
    let [failing, undelivered] = [0, 1].map(|i| {
        let record = env.record(&links[i][0]);
        record["id"].as_str().unwrap().to_owned()
    });
    let function_fails =
        json!({"service": "dynamodb", "operation": "GetItem", "kind": "error", "count": 1000});
    let invoke_fails = json!({"service": "lambda", "operation": format!("schedule/{undelivered}-"),
        "kind": "error", "count": 1000});
    let _disarm = env.faults_disarmed_on_drop();
    if !env.arm_fault(function_fails) || !env.arm_fault(invoke_fails) {
        return;
    }
    wait_for_depth_in_status(env, 4);
    let letters = env.wait_for_dead_letters("reminders-dead-letters", 4, |l| {
        l.body.contains(&failing) || l.body.contains(&undelivered)
    });
    env.disarm_faults();
    let (by_lambda, by_scheduler): (Vec<_>, Vec<_>) =
        letters.iter().partition(|l| l.body.contains(&failing));
    assert_eq!(nudges(&by_lambda, &failing), ["escalate", "remind"]);
    for letter in &by_lambda {
        assert!(!letter.attributes["RequestID"].is_empty(), "{letter:?}");
        assert_eq!(letter.attributes["ErrorCode"], "200", "{letter:?}");
        assert!(
            letter.attributes["ErrorMessage"].contains("error"),
            "{letter:?}"
        );
    }
    assert_eq!(nudges(&by_scheduler, &undelivered), ["escalate", "remind"]);
    for letter in &by_scheduler {
        let attributes = &letter.attributes;
        assert_eq!(attributes["ERROR_CODE"], "ServiceException", "{letter:?}");
        assert_eq!(attributes["RETRY_ATTEMPTS"], "3", "{letter:?}");
        assert!(
            attributes["SCHEDULE_ARN"].contains(&undelivered),
            "{letter:?}"
        );
        assert!(attributes["TARGET_ARN"].ends_with("-remind"), "{letter:?}");
    }
    faults_show_where_the_reminders_went(env, before, &undelivered);
    for (run, [_, ben]) in runs.iter().zip(&links) {
        assert_eq!(env.post(ben, "approve", "after the fault").status, 200);
        assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
    }
    let iam = env.local_log("iam.jsonl").unwrap_or_default();
    for role in ["RemindFunctionRole", "SchedulerRole"] {
        assert!(
            iam.lines().any(|l| l.contains("sqs:SendMessage")
                && l.contains(role)
                && l.contains("\"allow\"")),
            "{role}'s dead letters were sent with no decision logged"
        );
    }
}

/// The router's ledger of the faults since the first `before` (`kit_local::ledger`): each of
/// the remind function's failed table reads shows in its `Errors` (its invocations failed),
/// each of the `undelivered` approval's schedule invokes is in the dead-letter queue; nothing
/// else was injected, and nothing is unaccounted. A function's log may reach the router's file a
/// little after Lambda's answer (the ledger reads the ends there), so an unaccounted fault is
/// read again for a few seconds before it counts.
fn faults_show_where_the_reminders_went(env: &support::Env, before: usize, undelivered: &str) {
    let started = Instant::now();
    let faults = loop {
        let mut faults = env.fault_accounts();
        let faults = faults.split_off(before.min(faults.len()));
        let open = faults.iter().any(|f| f["account"] == "unaccounted");
        if !open || started.elapsed() > Duration::from_secs(10) {
            break faults;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let schedule = format!("schedule/{undelivered}-");
    let (invokes, reads): (Vec<_>, Vec<_>) = faults.iter().partition(|f| {
        f["operation_id"]
            .as_str()
            .is_some_and(|id| id.starts_with(&schedule))
    });
    assert!(!invokes.is_empty() && !reads.is_empty(), "{faults:#?}");
    for invoke in &invokes {
        assert_eq!(invoke["account"], "dead-letter", "{invoke:#}");
    }
    for read in &reads {
        assert_eq!(read["service"], "dynamodb", "{read:#}");
        assert!(
            read["function"].as_str().unwrap().ends_with("-remind"),
            "{read:#}"
        );
        assert_eq!(read["account"], "function-errors", "{read:#}");
    }
}

/// Waits until `status` shows at least `depth` messages in the reminders dead-letter queue.
fn wait_for_depth_in_status(env: &support::Env, depth: u32) {
    let queue = format!("{}-reminders-dead-letters", env.stack());
    let line = format!("dead letters       {queue} ");
    let started = Instant::now();
    loop {
        let (ok, text, stderr) = env.xtask(&["status"]);
        assert!(ok, "{stderr}");
        let shown = text
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.split(' ').next());
        if shown
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|d| d >= depth)
        {
            assert!(text.contains("docs/operations.md"), "{text}");
            return;
        }
        assert!(started.elapsed() < env.patience(), "{text}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The nudges `letters` carry, each checked to be of approval `id`, in order.
fn nudges(letters: &[&support::dead_letters::DeadLetter], id: &str) -> Vec<String> {
    let mut nudges: Vec<String> = letters
        .iter()
        .map(|l| {
            let input: serde_json::Value = serde_json::from_str(&l.body).unwrap();
            assert_eq!(input["approvalId"], id, "{l:?}");
            input["nudge"].as_str().unwrap().to_owned()
        })
        .collect();
    nudges.sort();
    nudges
}

/// A function instance that dies mid-invocation (its work done, Lambda's answer an exited
/// runtime) is invoked again, as Step Functions' `Retry` of `Runtime.ExitError` and the durable
/// service's re-invocation do: the approval goes on, each reviewer got one request message, and
/// the reviewers' decisions end it.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_request_whose_instance_dies_is_invoked_again_and_sends_nothing_twice() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = env();
    let invoked = match env.durable() {
        true => "-workflow",
        false => "-request",
    };
    let crash = json!({"service": "lambda", "operation": invoked, "kind": "crash", "count": 1});
    // The router logs each crash with the invoke's path, which names the function.
    let crashes = |env: &support::Env| {
        let log = env.local_log("router.log").unwrap_or_default();
        let function = format!("{}{invoked}", env.stack());
        let crashed = |l: &&str| l.contains("Crash of lambda") && l.contains(&function);
        log.lines().filter(crashed).count()
    };
    let before = crashes(env);
    let _disarm = env.faults_disarmed_on_drop();
    if !env.arm_fault(crash) {
        return;
    }
    let run = env.start("crash");
    let links: Vec<String> = REVIEWERS[..2]
        .iter()
        .map(|r| env.link(&run.title, r))
        .collect();
    env.disarm_faults();
    assert_eq!(
        crashes(env),
        before + 1,
        "one crash of this stack's function"
    );
    for link in &links {
        assert_eq!(env.post(link, "approve", "after the crash").status, 200);
    }
    assert_eq!(env.wait_for_end(&run.arn)["status"], "SUCCEEDED");
    let subject = format!("Approval needed: {}", run.title);
    for reviewer in REVIEWERS {
        let sent = env
            .messages_about(&run.title)
            .iter()
            .filter(|m| m.subject == subject && m.reviewer_attribute == reviewer)
            .count();
        assert_eq!(sent, 1, "{reviewer} got {sent} request messages");
    }
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
    let _disarm = env.faults_disarmed_on_drop();
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
