//! The end-to-end tests that only the durable workflow has. `cargo xtask test` runs them on the
//! local environment's `local-durable` environment (the durable execution emulator invoking the
//! workflow through the router); what both orchestrators share is in `local.rs`.

mod support;

use std::time::Duration;

use aws_sdk_lambda::types::EventType;
use support::env;

/// A durable function is invoked again for every step past a wait: each invocation replays the
/// checkpoints before it. The approval's submitter (store, notify) ran once; the replays after
/// the callback and after the ending's message sent nothing again.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_replayed_invocation_sends_nothing_twice() {
    let env = env();
    assert!(env.durable(), "run with HITL_E2E_ENV=local-durable");
    let run = env.start("replay");
    let link = env.link(&run.title, "ana@example.com");
    env.link(&run.title, "ben@example.com");
    let page = env.post(&link, "approve", "once");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    env.wait_for_message("ben@example.com", |m| {
        m.subject == "Approved" && m.body.contains(&run.title)
    });

    let history = env.durable_history(&run.arn);
    let count = |wanted: EventType| {
        history
            .iter()
            .filter(|e| e.event_type.as_ref() == Some(&wanted))
            .count()
    };
    assert!(
        count(EventType::InvocationCompleted) >= 2,
        "the function was invoked again after the callback: {history:?}"
    );
    assert_eq!(count(EventType::CallbackSucceeded), 1);
    // The wait is a context named RequestApproval; its submitter, the step inside it.
    let wait = history
        .iter()
        .find(|e| {
            e.event_type == Some(EventType::ContextStarted)
                && e.name.as_deref() == Some("RequestApproval")
        })
        .and_then(|e| e.id.clone())
        .expect("the RequestApproval wait");
    let inside = |wanted: EventType| {
        history
            .iter()
            .filter(|e| e.event_type.as_ref() == Some(&wanted))
            .filter(|e| e.parent_id.as_deref() == Some(wait.as_str()))
            .count()
    };
    assert_eq!(
        inside(EventType::StepStarted),
        1,
        "the submitter ran once: {history:?}"
    );
    assert_eq!(inside(EventType::StepSucceeded), 1, "{history:?}");
    let notified = history
        .iter()
        .filter(|e| e.event_type == Some(EventType::StepStarted))
        .filter(|e| e.name.as_deref() == Some("NotifyApproved"))
        .count();
    assert_eq!(notified, 1, "the ending was announced once: {history:?}");

    // Give a straggling replay time, then count what went out: one request per reviewer and
    // one ending, nothing more.
    std::thread::sleep(Duration::from_secs(2));
    let messages = env.messages_about(&run.title);
    let requests: Vec<_> = messages
        .iter()
        .filter(|m| m.subject.starts_with("Approval needed"))
        .collect();
    assert_eq!(requests.len(), 2, "{messages:?}");
    let endings = messages.iter().filter(|m| m.subject == "Approved").count();
    assert_eq!(endings, 1, "{messages:?}");
    let record = env.record(&link);
    assert_eq!(record["notified"].as_object().map(|n| n.len()), Some(2));
    if let Some(log) = env.local_log("lambda.log") {
        let id = record["id"].as_str().unwrap();
        let stored = log
            .lines()
            .filter(|l| l.contains("approval requested") && l.contains(id))
            .count();
        assert_eq!(stored, 1, "the approval was stored and sent once");
    }
}
