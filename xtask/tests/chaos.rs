//! Approvals under faults: the router throttles, fails and loses the answers of the functions'
//! calls at a rate (`kit_local::faults`), as AWS may, while approvals are approved, rejected,
//! raced over and left to expire, side by side; reviewers press again when a page says "try
//! again", as people do. At the end every one ended as its reviewers decided, its decision
//! reached the workflow exactly once, no record is left open or being decided, and no reviewer
//! got a request message more often than the request was attempted; and every fault injected was
//! retried to success, or was a lost answer of a call made, or shows in a metric an alarm
//! watches (`kit_local::ledger`). On either orchestrator
//! (`HITL_E2E_ENV` `local`, then `local-durable`); see `local.rs` for how these tests run. Local
//! only: in an account it checks nothing it cannot arrange.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, Run, env};

/// What happens to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Approve,
    Reject,
    /// Both reviewers press at once, five times each.
    Race,
    Expire,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario::Approve,
    Scenario::Reject,
    Scenario::Race,
    Scenario::Expire,
];

/// Approvals per scenario: 4, or `HITL_CHAOS_EACH` (`cargo xtask bench chaos`).
fn each() -> usize {
    std::env::var("HITL_CHAOS_EACH")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4)
}

/// How often a decision's answer is lost: a quarter. The executions run a state after the
/// decision (the notification), which moto's interpreter is slow to take under the suites'
/// load: a lost answer is then often given up while the execution still runs, and found by
/// the next press among the record's lost claims (docs/protocol.md, "A decision whose answer
/// was lost").
const LOST_RATE: f64 = 0.25;

/// The faults: `HITL_CHAOS_FAULTS` (`cargo xtask test --faults SPEC`), or the suite's own, each
/// call of theirs hit at its rate.
fn faults(env: &Env) -> Vec<Value> {
    if let Ok(spec) = std::env::var("HITL_CHAOS_FAULTS") {
        let faults = kit_local::faults::parse_spec(&spec).expect("HITL_CHAOS_FAULTS");
        return faults.iter().map(|f| json!(f)).collect();
    }
    let fault = |service: &str, operation: &str, kind: &str, rate: f64| json!({"service": service, "operation": operation, "kind": kind, "rate": rate});
    let mut faults = vec![
        fault("dynamodb", "", "throttle", 0.08),
        fault("dynamodb", "", "error", 0.04),
        fault("sns", "", "error", 0.08),
    ];
    if env.durable() {
        faults.push(fault(
            "lambda",
            "durable-execution-callbacks",
            "lost",
            LOST_RATE,
        ));
    } else {
        faults.push(fault("states", "SendTask", "lost", LOST_RATE));
    }
    faults
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn approvals_under_faults_end_as_their_reviewers_decided_once() {
    let env = env();
    env.disarm_faults();
    let before = env.fault_accounts().len();
    // Disarmed however this test ends: the suites after it share the stack.
    let _disarm = env.faults_disarmed_on_drop();
    for fault in faults(env) {
        if !env.arm_fault(fault) {
            return;
        }
    }
    let cases: Vec<(Scenario, usize)> = SCENARIOS
        .iter()
        .flat_map(|s| (0..each()).map(move |i| (*s, i)))
        .collect();
    let runs: Vec<(Scenario, Run)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(scenario, i)| scope.spawn(move || (scenario, play(env, scenario, i))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ended: Vec<Value> = runs
        .iter()
        .map(|(_, run)| env.wait_for_end(&run.arn))
        .collect();
    env.disarm_faults();
    // First: a fault nothing shows is where a wrong ending would start.
    accounted_for(env, before, runs.len());
    for ((scenario, run), done) in runs.iter().zip(&ended) {
        check(env, *scenario, run, done);
    }
}

/// Every fault injected since the first `before` was retried to success, was a lost answer of
/// a call the service made, or shows in a metric an alarm watches (a function's `Errors`, the
/// API's `5XXError`): none was lost silently. A call still in flight when the faults were
/// disarmed is given ten seconds for its retry.
fn accounted_for(env: &Env, before: usize, approvals: usize) {
    let mut waited = 0;
    let faults = loop {
        let mut faults = env.fault_accounts();
        let faults = faults.split_off(before.min(faults.len()));
        let silent = |f: &&Value| f["account"] == "unaccounted";
        if !faults.iter().any(|f| silent(&f)) || waited == 20 {
            break faults;
        }
        std::thread::sleep(Duration::from_millis(500));
        waited += 1;
    };
    // The faults were in play.
    assert!(!faults.is_empty(), "no fault was injected");
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for fault in &faults {
        *tally.entry(fault["account"].to_string()).or_default() += 1;
    }
    eprintln!(
        "{} faults injected into {approvals} approvals: {tally:?}",
        faults.len()
    );
    let silent: Vec<&Value> = faults
        .iter()
        .filter(|f| f["account"] == "unaccounted")
        .collect();
    assert!(silent.is_empty(), "faults nothing shows: {silent:#?}");
}

/// Starts an approval and plays `scenario` on it.
fn play(env: &Env, scenario: Scenario, i: usize) -> Run {
    let run = env.start(&format!("chaos {scenario:?} {i}"));
    // Not waiting for the Slack post to be marked: under faults that mark may fail (logged,
    // never failing the request).
    let [ana, ben] =
        ["ana@example.com", "ben@example.com"].map(|r| env.link_in_message(&run.title, r));
    match scenario {
        Scenario::Approve => press(env, &ana, "approve"),
        Scenario::Reject => press(env, &ben, "reject"),
        Scenario::Race => std::thread::scope(|scope| {
            for k in 0..10 {
                let (link, decision) = match k % 2 {
                    0 => (&ana, "approve"),
                    _ => (&ben, "reject"),
                };
                scope.spawn(move || press(env, link, decision));
            }
        }),
        Scenario::Expire => {}
    }
    run
}

/// Presses `decision` until the page says it was taken or that it is too late for it (the
/// request was decided, or is being decided), as a reviewer does; a "try again" page (503)
/// recorded nothing.
fn press(env: &Env, link: &str, decision: &str) {
    for _ in 0..20 {
        let page = env.post(link, decision, "chaos");
        match page.status {
            // 410: expired before the press (an environment too slow for its approvals'
            // timeout); the end's check says so.
            200 | 409 | 410 => return,
            503 => std::thread::sleep(Duration::from_millis(500)),
            other => panic!("{decision} on {link}: {other} {}", page.body),
        }
    }
    panic!("{decision} on {link}: still refused after 20 presses");
}

/// How `run` must have ended under `scenario`, and what its record and reviewers show.
fn check(env: &Env, scenario: Scenario, run: &Run, done: &Value) {
    let what = format!("{scenario:?} {}: {done}", run.title);
    let status = done["status"].as_str().unwrap_or_default();
    let outcome = match status {
        "SUCCEEDED" => "approved",
        "FAILED" if done["error"] == "Rejected" => "rejected",
        "FAILED" if done["error"] == "Expired" => "expired",
        _ => panic!("ended otherwise: {what}"),
    };
    let expected: &[&str] = match scenario {
        Scenario::Approve => &["approved"],
        Scenario::Reject => &["rejected"],
        Scenario::Race => &["approved", "rejected"],
        Scenario::Expire => &["expired"],
    };
    assert!(expected.contains(&outcome), "{what}");
    let delivered = env.decisions_delivered(&run.arn);
    assert_eq!(delivered, usize::from(outcome != "expired"), "{what}");
    let link = env.link_in_message(&run.title, "ana@example.com");
    let record = env.record(&link);
    let recorded = record["status"].as_str().unwrap_or_default();
    match outcome {
        // Nothing writes an expiry down: the record stays open, past its time.
        "expired" => assert!(
            ["pending", "expired"].contains(&recorded),
            "{what}: {record}"
        ),
        _ => assert_eq!(recorded, outcome, "{what}: {record}"),
    }
    let decider = match outcome {
        "approved" => json!("ana@example.com"),
        "rejected" => json!("ben@example.com"),
        _ => Value::Null,
    };
    assert_eq!(record["decided_by"], decider, "{what}: {record}");
    let attempts = env.request_attempts(&run.arn);
    let subject = format!("Approval needed: {}", run.title);
    for reviewer in ["ana@example.com", "ben@example.com"] {
        let sent = env
            .messages_about(&run.title)
            .iter()
            .filter(|m| m.subject == subject && m.reviewer_attribute == reviewer)
            .count();
        assert!(
            (1..=attempts).contains(&sent),
            "{what}: {sent} request messages to {reviewer} in {attempts} attempts"
        );
    }
}
