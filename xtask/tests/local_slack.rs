//! The Slack app end to end, on either orchestrator (`HITL_E2E_ENV` `local-policy`, then
//! `local-policy-df`: three reviewers of whom two must approve, a reminder and an escalation
//! after a minute, and the Slack app), on the local environment's stand-in for Slack
//! (`kit_local::slack`): a user's click is delivered to the stack's `SlackInteractionsUrl`
//! signed with the app's signing secret, as Slack delivers it. `cargo xtask test` runs it with
//! the policies suite.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Env, env, slack::Workspace};

const APPROVE: &str = "hitl_approve";
const WAIT: Duration = Duration::from_secs(60);

/// The environment and its Slack workspace; `None` (the test skipped) away from the local
/// environment, which alone has a stand-in for Slack.
fn slack() -> Option<(&'static Env, &'static Workspace)> {
    let env = env();
    match &env.slack_app {
        Some(workspace) => Some((env, workspace)),
        None => {
            eprintln!("skipped: no stand-in for Slack here");
            None
        }
    }
}

/// The workflow's output's votes, as (reviewer, decision).
fn votes(done: &Value) -> Vec<(String, String)> {
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    let votes = output["approval"]["votes"].as_array().expect("the votes");
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    votes
        .iter()
        .map(|v| (text(&v["reviewer"]), text(&v["decision"])))
        .collect()
}

/// Ana approves in Slack (her profile's email spelt otherwise): her vote counts once, the
/// message shows it; Ben approves by his email's link, which decides; the message shows who
/// decided without its buttons, and a later click is told how it ended.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_vote_in_slack_and_one_by_email_meet_the_quorum_and_the_message_follows() {
    let Some((env, slack)) = slack() else { return };
    let run = env.start("slack-quorum");
    let ben = env.link(&run.title, "ben@example.com");
    let posted = slack.message_about(&run.title, WAIT);
    assert!(
        posted.has_buttons() && !posted.text().contains("/approvals/"),
        "{}",
        posted.text()
    );
    assert_eq!(slack.click("U0ANA", &posted.ts, APPROVE).0, 200);
    let told = slack.told_at_least("U0ANA", 1, WAIT);
    assert!(told[0].contains("counted; 1 of 2"), "{told:?}");
    let counted = slack.wait_for(&run.title, WAIT, |p| p.text().contains("1 of 2 needed"));
    assert!(
        counted
            .text()
            .contains("Approved so far by ana@example.com"),
        "{}",
        counted.text()
    );
    // Again, in Slack: nothing more counts.
    slack.click("U0ANA", &posted.ts, APPROVE);
    assert!(slack.told_at_least("U0ANA", 2, WAIT)[1].contains("voted on this request already"));
    assert_eq!(env.post(&ben, "approve", "by email").status, 200);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let expected = [
        ("ana@example.com", "approved"),
        ("ben@example.com", "approved"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, d)| (r.to_string(), d.to_string()))
        .collect();
    assert_eq!(votes(&done), expected);
    assert_eq!(env.decisions_delivered(&run.arn), 1);
    let decided = slack.wait_for(&run.title, WAIT, |p| !p.has_buttons());
    assert!(
        decided.text().contains("Approved* by ben@example.com"),
        "{}",
        decided.text()
    );
    assert_eq!(
        slack.click("U0MAL", &posted.ts, APPROVE).0,
        409,
        "no button any more"
    );
    // A click on the message as it was first posted (Slack may show it a moment late) says how
    // it ended.
    assert_eq!(slack.click_as_posted("U0ANA", &posted.ts, APPROVE).0, 200);
    let told = slack.told_at_least("U0ANA", 3, WAIT);
    assert!(
        told[2].contains("approved already by ben@example.com"),
        "{told:?}"
    );
}

/// Cyd presses Reject: a modal asks why; submitted empty it stays open, with his reason it
/// rejects, and the workflow takes its rejection branch with that reason.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn reject_asks_the_reason_in_a_modal_and_rejects_with_it() {
    let Some((env, slack)) = slack() else { return };
    let run = env.start("slack-reject");
    let cyd = env.link(&run.title, "cyd@example.com");
    let posted = slack.message_about(&run.title, WAIT);
    slack.open_reason("U0CYD", &posted.ts);
    assert_eq!(
        env.record(&cyd)["status"],
        "pending",
        "a click on Reject only asks why"
    );
    let (status, body) = slack.submit_reason("U0CYD", "");
    assert_eq!(status, 200);
    assert!(body.contains("\"response_action\":\"errors\""), "{body}");
    let (status, body) = slack.submit_reason("U0CYD", "not this quarter");
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "an empty 200 closes the modal"
    );
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(
        (done["error"].as_str(), done["cause"].as_str()),
        (Some("Rejected"), Some("not this quarter"))
    );
    assert_eq!(env.record(&cyd)["decided_by"], "cyd@example.com");
    let shown = slack.wait_for(&run.title, WAIT, |p| !p.has_buttons());
    assert!(
        shown.text().contains("Rejected* by cyd@example.com")
            && shown.text().contains("not this quarter")
    );
}

/// Someone who is not a reviewer is told so; requests nobody signed, signed with another
/// secret, signed too long ago, or altered after signing are refused (401). None of them
/// records anything or resumes the workflow.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_stranger_and_forged_stale_or_altered_requests_decide_nothing() {
    let Some((env, slack)) = slack() else { return };
    let run = env.start("slack-refused");
    let ana = env.link(&run.title, "ana@example.com");
    let posted = slack.message_about(&run.title, WAIT);
    let before = env.record(&ana);
    assert_eq!(slack.click("U0MAL", &posted.ts, APPROVE).0, 200);
    assert!(slack.told_at_least("U0MAL", 1, WAIT)[0].contains("not a reviewer"));
    let id = before["id"].as_str().unwrap();
    let payload = serde_json::json!({ "type": "block_actions", "user": {"id": "U0CYD"},
        "trigger_id": "t", "channel": {"id": support::slack::CHANNEL},
        "actions": [{"action_id": APPROVE, "value": id, "type": "button"}] });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (ts, stale) = (now.to_string(), (now - 6 * 60).to_string());
    let sign = |secret: &str, ts: &str, body: &str| {
        kit_local::slack::sign(secret.as_bytes(), ts, body.as_bytes())
    };
    let secret = slack.signing_secret.as_str();
    let altered = body.replace("U0CYD", "U0BEN");
    for (what, ts, signature, body) in [
        ("unsigned", None, None, body.as_str()),
        (
            "another secret",
            Some(ts.as_str()),
            Some(sign("not the secret", &ts, &body)),
            body.as_str(),
        ),
        (
            "stale",
            Some(stale.as_str()),
            Some(sign(secret, &stale, &body)),
            body.as_str(),
        ),
        (
            "altered",
            Some(ts.as_str()),
            Some(sign(secret, &ts, &body)),
            altered.as_str(),
        ),
    ] {
        assert_eq!(
            slack.post_raw(body, ts, signature.as_deref()),
            401,
            "{what}"
        );
    }
    // The same request, signed: it is Slack's, and Cyd's approval counts.
    assert_eq!(
        slack.post_raw(&body, Some(&ts), Some(&sign(secret, &ts, &body))),
        200
    );
    let after = env.record(&ana);
    assert_eq!(
        after["votes"].as_object().map(|v| v.len()),
        Some(1),
        "{after}"
    );
    assert_eq!(env.decisions_delivered(&run.arn), 0);
    assert_eq!(after["status"], "pending");
}

/// The reminder and the escalation go in the message's thread; the escalation's addressee may
/// then decide in Slack; and when the approval expires the message says so, without buttons.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn reminders_go_in_the_thread_and_the_message_shows_the_expiry() {
    let Some((env, slack)) = slack() else { return };
    let run = env.start("slack-expiry");
    let ana = env.link(&run.title, "ana@example.com");
    let posted = slack.message_about(&run.title, WAIT);
    let escalated = format!("Escalated: Approval needed: {}", run.title);
    env.wait_for_message("eve@example.com", |m| m.subject == escalated);
    let started = std::time::Instant::now();
    while slack.thread(&posted.ts).len() < 2 {
        assert!(started.elapsed() < WAIT, "{:?}", slack.thread(&posted.ts));
        std::thread::sleep(Duration::from_millis(250));
    }
    let thread = slack.thread(&posted.ts);
    assert!(
        thread.iter().any(|t| t.starts_with("Reminder:")),
        "{thread:?}"
    );
    assert!(
        thread
            .iter()
            .any(|t| t.starts_with("Escalated to eve@example.com")),
        "{thread:?}"
    );
    slack.click("U0EVE", &posted.ts, APPROVE);
    assert!(
        slack.told_at_least("U0EVE", 1, WAIT)[0].contains("counted"),
        "{:?}",
        slack.told("U0EVE")
    );
    let done = env.wait_for_end(&run.arn);
    assert_ne!(done["status"], "SUCCEEDED", "{done}");
    let expired = slack.wait_for(&run.title, 2 * WAIT, |p| !p.has_buttons());
    assert!(expired.text().contains("Expired"), "{}", expired.text());
    let record = env.record(&ana);
    assert_eq!(record["decided_by"], Value::Null, "{record}");
    assert!(record["votes"]["eve@example.com"].is_object(), "{record}");
}

/// Slack rate-limits the app: the user who could not be looked up is told to try again and
/// nothing is recorded; a decision whose message cannot be updated stands, and the workflow
/// goes on. `cargo xtask slack manifest` names the stack's request URL.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_rate_limited_slack_never_loses_a_decision() {
    let Some((env, slack)) = slack() else { return };
    let run = env.start("slack-429");
    let ben = env.link(&run.title, "ben@example.com");
    let posted = slack.message_about(&run.title, WAIT);
    slack.rate_limit("users.info", "U0BEN", 1);
    slack.open_reason("U0BEN", &posted.ts);
    let (status, body) = slack.submit_reason("U0BEN", "too much");
    assert_eq!(status, 200);
    assert!(body.contains("try again"), "{body}");
    assert_eq!(env.record(&ben)["status"], "pending");
    slack.rate_limit("chat.update", &posted.ts, 1);
    slack.open_reason("U0BEN", &posted.ts);
    assert_eq!(
        slack.submit_reason("U0BEN", "too much"),
        (200, String::new())
    );
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["cause"], "too much", "{done}");
    assert_eq!(env.record(&ben)["status"], "rejected");
    assert!(
        slack.message_about(&run.title, WAIT).has_buttons(),
        "chat.update was refused"
    );
    let calls = slack.state()["calls"].to_string();
    assert!(calls.contains("ratelimited"), "{calls}");
    let (ok, manifest, stderr) = env.xtask(&["slack", "manifest"]);
    assert!(ok, "{stderr}");
    assert!(
        manifest.contains(&slack.request_url) && manifest.contains("users:read.email"),
        "{manifest}"
    );
}
