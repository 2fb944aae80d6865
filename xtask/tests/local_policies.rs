//! The approval policies end to end, on either orchestrator (`HITL_E2E_ENV`
//! `local-policy`, then `local-policy-df`): an environment of three reviewers of whom
//! two must approve, whose requests may attach objects from one bucket. `cargo xtask test` runs
//! it on the local environment, as it runs `local.rs`.

mod support;

use std::{
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{Page, attachments_bucket, env, nonce};

const REVIEWERS: [&str; 3] = ["ana@example.com", "ben@example.com", "cyd@example.com"];

/// The workflow's output's `approval.votes`, as (reviewer, decision).
fn votes(done: &Value) -> Vec<(String, String)> {
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    output["approval"]["votes"]
        .as_array()
        .expect("the output lists the votes")
        .iter()
        .map(|v| {
            assert!(
                v["decidedAt"].is_string() && v["comment"].is_string(),
                "{v}"
            );
            (
                v["reviewer"].as_str().unwrap().to_owned(),
                v["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn vote(reviewer: &str, decision: &str) -> (String, String) {
    (reviewer.to_owned(), decision.to_owned())
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn two_of_three_approve_one_approval_keeps_it_open_and_a_voter_sees_his_vote() {
    let env = env();
    let run = env.start("quorum");
    let ana = env.link(&run.title, REVIEWERS[0]);
    let page = env.post(&ana, "approve", "fine by me");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("1 of 2 approvals"), "{}", page.body);
    // The first approval decides nothing: the execution waits, the record stays open.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");
    assert_eq!(env.record(&ana)["status"], "pending");
    assert_eq!(env.decisions_delivered(&run.arn), 0);
    // A second POST from the same link shows the vote and changes nothing.
    let again = env.post(&ana, "reject", "changed my mind");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("already voted"), "{}", again.body);
    let shown = env.get(&ana);
    assert!(!shown.body.contains("<form"), "a voter gets no form again");
    assert!(shown.body.contains("fine by me"));

    let ben = env.link(&run.title, REVIEWERS[1]);
    assert!(env.get(&ben).body.contains("1 of 2 approvals needed"));
    let page = env.post(&ben, "approve", "ok");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        votes(&done),
        [
            vote(REVIEWERS[0], "approved"),
            vote(REVIEWERS[1], "approved")
        ]
    );
    assert_eq!(env.decisions_delivered(&run.arn), 1);
    // Nobody may vote on a decided request.
    let cyd = env.link(&run.title, REVIEWERS[2]);
    assert_eq!(env.post(&cyd, "reject", "late").status, 409);
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_rejection_after_an_approval_rejects_the_request() {
    let env = env();
    let run = env.start("quorum-reject");
    let ana = env.link(&run.title, REVIEWERS[0]);
    assert_eq!(env.post(&ana, "approve", "yes").status, 200);
    let cyd = env.link(&run.title, REVIEWERS[2]);
    let page = env.post(&cyd, "reject", "not this quarter");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Rejected");
    assert_eq!(done["cause"], "not this quarter");
    assert_eq!(env.record(&cyd)["decided_by"], REVIEWERS[2]);
}

/// Every reviewer approves at once, a few times each: exactly two votes count, one of them
/// decides, and the workflow is resumed once.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn racing_approvals_resume_the_workflow_once() {
    let env = env();
    for round in 0..2 {
        let run = env.start(&format!("quorum-race-{round}"));
        let links: Vec<String> = REVIEWERS.iter().map(|r| env.link(&run.title, r)).collect();
        let barrier = Arc::new(Barrier::new(9));
        let pages: Vec<Page> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..9)
                .map(|i| {
                    let (barrier, link) = (barrier.clone(), links[i % 3].clone());
                    scope.spawn(move || {
                        barrier.wait();
                        env.post(&link, "approve", &format!("click {i}"))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
        assert!(
            statuses.iter().all(|s| [200, 409].contains(s)),
            "round {round}: {statuses:?}"
        );
        let decided: Vec<_> = pages
            .iter()
            .filter(|p| p.body.contains("you approved this request"))
            .collect();
        assert_eq!(
            decided.len(),
            1,
            "round {round}: one POST decides: {statuses:?}"
        );
        let counted = pages
            .iter()
            .filter(|p| p.body.contains("your approval is recorded"))
            .count();
        assert_eq!(
            counted, 1,
            "round {round}: one approval counted short: {statuses:?}"
        );
        let done = env.wait_for_end(&run.arn);
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        assert_eq!(env.decisions_delivered(&run.arn), 1, "{done}");
        let votes = votes(&done);
        assert_eq!(votes.len(), 2, "{votes:?}");
        assert_ne!(votes[0].0, votes[1].0, "two different reviewers: {votes:?}");
    }
}

/// An attachment's link on the page downloads the object when clicked: the review API checks
/// the link and the approval, then redirects to a GET presigned at that moment. Nothing is
/// presigned before the click: a URL presigned with a role's temporary credentials stops working
/// when they expire, whatever its `X-Amz-Expires` ("Sharing objects with presigned URLs", S3
/// User Guide), and the local environment's sessions expire like Lambda's, so the click comes
/// after the session that served the page is over, and still downloads. Once the approval is
/// decided, the link leads nowhere.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn an_attachments_link_on_the_page_downloads_the_object() {
    let env = env();
    let body = format!("region,total\neu,{}\n", nonce());
    let bucket = attachments_bucket();
    // A key of this run's: the other orchestrator's suite shares the bucket, beside this one.
    let key = format!("reports/{} q1 totals.csv", nonce());
    env.put_object(&bucket, &key, body.as_bytes());
    let title = format!("e2e attachment {}", nonce());
    let arn = env.start_raw(json!({
        "title": title,
        "requester": "carl@example.com",
        "attachments": [{"bucket": bucket, "key": key, "name": "Q1 totals"}],
    }));
    let link = env.link(&title, REVIEWERS[1]);
    let message = env.wait_for_message(REVIEWERS[1], |m| m.body.contains(&title));
    assert!(message.body.contains("Q1 totals"), "{}", message.body);
    let page = env.get(&link);
    let href = page
        .body
        .split("<a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no download link on the page:\n{}", page.body))
        .replace("&amp;", "&");
    assert!(
        !href.contains("X-Amz-"),
        "presigned before the click: {href}"
    );
    // Relative to the page, as a browser resolves it.
    let url = format!("{}/{href}", link.rsplit_once('/').unwrap().0);
    if let Some(lifetime) = env.session_seconds() {
        std::thread::sleep(Duration::from_secs(lifetime + 5));
    }
    let (status, location) = env.get_unfollowed(&url);
    assert_eq!(status, 302);
    let location = location.expect("a Location");
    let expires: u64 = location
        .split("X-Amz-Expires=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .and_then(|n| n.parse().ok())
        .expect("a lifetime");
    assert!(
        expires <= 300,
        "a download link for minutes, not longer: {expires}s"
    );
    let (status, downloaded) = env.download(&location);
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(downloaded).unwrap(), body);
    for reviewer in &REVIEWERS[..2] {
        let link = env.link(&title, reviewer);
        assert_eq!(env.post(&link, "approve", "seen").status, 200);
    }
    assert_eq!(env.wait_for_end(&arn)["status"], "SUCCEEDED");
    assert_eq!(env.get_unfollowed(&url), (409, None));
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn an_attachment_outside_the_attachment_buckets_fails_at_once() {
    let env = env();
    let arn = env.start_raw(json!({
        "title": format!("e2e other bucket {}", nonce()),
        "requester": "carl@example.com",
        "attachments": [{"bucket": "someone-elses-bucket", "key": "secrets.csv"}],
    }));
    let done = env.wait_for_end(&arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Hitl.InvalidRequest", "{done}");
    let cause = done["cause"].as_str().unwrap();
    assert!(
        cause.contains("someone-elses-bucket") && cause.contains(&attachments_bucket()),
        "{done}"
    );
    assert_eq!(env.attempts_after_refusal(&arn), Some(0), "retried: {done}");
}

/// The link in a message's body.
fn link_in(body: &str) -> String {
    body.lines()
        .find(|l| l.contains("/approvals/"))
        .expect("a link in the message")
        .trim()
        .to_owned()
}

/// The reminder (a minute after the request) reaches the two reviewers who have not voted, once
/// each, with links of their own; the escalation (as soon) reaches its address with its own
/// link, whose approval then decides.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_reminder_reaches_who_has_not_voted_and_the_escalation_its_address() {
    let env = env();
    let run = env.start("remind");
    let ana = env.link(&run.title, REVIEWERS[0]);
    assert_eq!(env.post(&ana, "approve", "yes").status, 200);
    let reminder = format!("Reminder: Approval needed: {}", run.title);
    for reviewer in &REVIEWERS[1..] {
        let first = env.link(&run.title, reviewer);
        let message = env.wait_for_message(reviewer, |m| m.subject == reminder);
        assert_eq!(message.reviewer_attribute, *reviewer);
        assert!(
            message
                .body
                .starts_with("Reminder: this request is still waiting")
        );
        let again = link_in(&message.body);
        assert_ne!(again, first, "a reminder carries a fresh link");
        assert!(env.get(&again).body.contains("<form"));
    }
    let escalated = format!("Escalated: Approval needed: {}", run.title);
    let message = env.wait_for_message("eve@example.com", |m| m.subject == escalated);
    assert_eq!(message.reviewer_attribute, "eve@example.com");
    assert!(
        message.body.contains("escalated to you"),
        "{}",
        message.body
    );
    let eve = link_in(&message.body);
    assert_eq!(
        env.post(&eve, "approve", "escalated and approved").status,
        200
    );
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        votes(&done),
        [
            vote(REVIEWERS[0], "approved"),
            vote("eve@example.com", "approved")
        ]
    );
    // Once each, and none for the reviewer who had voted.
    let nudges: Vec<_> = env
        .messages_about(&run.title)
        .into_iter()
        .filter(|m| m.subject == reminder || m.subject == escalated)
        .map(|m| m.reviewer_attribute)
        .collect();
    assert_eq!(nudges.len(), 3, "{nudges:?}");
    assert!(!nudges.iter().any(|r| r == REVIEWERS[0]), "{nudges:?}");
}

/// Decided before the reminder is due: its schedules fire on a closed record and send nothing,
/// and the workflow ended without waiting for them.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn nothing_is_sent_after_a_decision() {
    let env = env();
    let started = Instant::now();
    let run = env.start("decided-early");
    for reviewer in &REVIEWERS[..2] {
        let link = env.link(&run.title, reviewer);
        assert_eq!(env.post(&link, "approve", "quick").status, 200);
    }
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // Before the reminder was due (`remind_after: 60s`): the ending never waits for a nudge.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the ending waited for the reminder"
    );
    // Past the nudges' time (a minute), and then some for their invoke.
    std::thread::sleep(
        Duration::from_secs(60).saturating_sub(started.elapsed()) + env.nudge_margin(),
    );
    let nudges: Vec<_> = env
        .messages_about(&run.title)
        .into_iter()
        .filter(|m| m.subject.starts_with("Reminder:") || m.subject.starts_with("Escalated:"))
        .collect();
    assert!(nudges.is_empty(), "{nudges:?}");
}
