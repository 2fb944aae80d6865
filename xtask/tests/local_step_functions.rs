//! The end-to-end tests that only the Step Functions orchestrator has: the approval task
//! invoked directly, the task token in the execution history, a retried attempt's new token,
//! and a workflow of your own that uses the kit's approval step. The durable workflow has its
//! own (`local_durable.rs`); what both share is in `local.rs`. Run through `cargo xtask test`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::env;

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn request_stores_the_record_and_a_repeated_invocation_sends_nothing_more() {
    let env = env();
    let token = format!("e2e-token-{}-{}", std::process::id(), support::nonce());
    let title = format!("direct invoke {}", support::nonce());
    let payload = json!({
        "taskToken": token,
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:none:direct",
        "stateName": "RequestApproval",
        "stateEnteredTime": "2026-12-02T10:00:00.000Z",
        "request": { "title": title, "requester": "carl@example.com" },
    });
    let first = env.invoke_request(&payload);
    let second = env.invoke_request(&payload);
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.0, 200, "{}", second.1);
    assert!(
        first.2.is_none() && second.2.is_none(),
        "function errors: {first:?} {second:?}"
    );

    let ana = env.wait_for_message("ana@example.com", |m| m.body.contains(&title));
    let ben = env.wait_for_message("ben@example.com", |m| m.body.contains(&title));
    let link = |body: &str| {
        body.lines()
            .find(|l| l.contains("/approvals/"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (ana_link, ben_link) = (link(&ana.body), link(&ben.body));
    assert_ne!(ana_link, ben_link);
    assert!(!ana.body.contains(&ben_link) && !ben.body.contains(&ana_link));
    assert_eq!(ana.reviewer_attribute, "ana@example.com");
    assert_eq!(ben.reviewer_attribute, "ben@example.com");

    let record = env.record(&ana_link);
    assert_eq!(record["task_token"], token.as_str());
    assert_eq!(record["status"], "pending");
    let (created, expires, ttl) = (
        record["created_at"].as_u64().unwrap(),
        record["expires_at"].as_u64().unwrap(),
        record["ttl"].as_u64().unwrap(),
    );
    assert_eq!(expires, created + 60, "approval_timeout: 60s");
    assert_eq!(ttl, expires + 3600, "retention: 1h");

    // The second invocation sent nothing: give stragglers time, then count.
    std::thread::sleep(Duration::from_secs(2));
    let all = env.messages_about(&title);
    assert_eq!(all.len(), 2, "one message per reviewer, once: {all:?}");
    assert!(
        all.iter()
            .all(|m| !m.body.contains(&token) && !m.raw.contains(&token))
    );
    if let Some(log) = env.local_log("lambda.log") {
        assert!(
            log.contains("approval requested"),
            "the function logs its work"
        );
        assert!(!log.contains(&token), "the task token reached the log");
    }
    if !env.slack() {
        return;
    }
    // Slack got the request once, naming who was asked, with no link and no token: a personal
    // link in a channel would let anyone in it decide as that reviewer.
    let posts = env.slack_posts_about(&title, Duration::from_secs(5));
    assert_eq!(posts.len(), 1, "{posts:?}");
    let text = posts[0]["text"].as_str().unwrap();
    assert!(!text.contains(&token));
    assert!(
        !text.contains("/approvals/"),
        "a review link in the channel: {text}"
    );
    for reviewer in ["ana@example.com", "ben@example.com"] {
        assert!(text.contains(reviewer), "{reviewer} is not named in {text}");
    }
    assert!(text.contains("the link in his own email"), "{text}");
}

/// Step Functions keeps the task's parameters, the task token among them, in the execution
/// history, which `states:GetExecutionHistory` (in ReadOnlyAccess) reads. Nothing computed from
/// what the history shows may open a review page.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn nothing_derived_from_the_execution_history_opens_a_page() {
    use data_encoding::BASE32_NOPAD;
    use sha2::{Digest, Sha256};
    let env = env();
    let run = env.start("history");
    let links = [
        env.link(&run.title, "ana@example.com"),
        env.link(&run.title, "ben@example.com"),
    ];
    let payload = env.task_payload(&run.arn);
    let token = payload["taskToken"]
        .as_str()
        .expect("the token is in the history");
    assert_eq!(env.record(&links[0])["task_token"], token);
    let id = |parts: &[&str]| {
        let digest = Sha256::digest(parts.join("\0").as_bytes());
        BASE32_NOPAD.encode(&digest)[..26].to_ascii_lowercase()
    };
    let entry = [
        payload["executionArn"].as_str().unwrap(),
        payload["stateName"].as_str().unwrap(),
        payload["stateEnteredTime"].as_str().unwrap(),
    ];
    let mut derived = vec![
        id(&[token]),
        id(&["approval", entry[0], entry[1], entry[2], ""]), // the approval id itself
        env.record(&links[0])["id"].as_str().unwrap().to_owned(),
    ];
    for reviewer in ["ana@example.com", "ben@example.com"] {
        derived.push(id(&["link", token, reviewer])); // the kit's earlier link ids
        derived.push(id(&[token, reviewer]));
        derived.push(id(&[reviewer, token]));
    }
    assert_eq!(
        derived[1], derived[2],
        "the approval id is the entry's digest"
    );
    // What a reader of the table (ReadOnlyAccess reads DynamoDB) sees: the link items' keys.
    let items = env.items_of(&derived[1]);
    assert!(items.len() >= 2, "a link item per reviewer: {items:?}");
    for item in &items {
        derived.push(item["id"].as_str().unwrap().to_owned());
    }
    let record = env.record(&links[0]).to_string();
    for link in &links {
        let id = link.rsplit('/').next().unwrap();
        assert!(!record.contains(id), "the record holds a link id");
        assert!(
            !items.iter().any(|i| i.to_string().contains(id)),
            "a link item holds its id"
        );
    }
    let unknown = env.get(&format!(
        "{}/approvals/abcdefghijklmnopqrstuvwxyz",
        env.review_base
    ));
    for candidate in &derived {
        let url = format!("{}/approvals/{candidate}", env.review_base);
        assert!(!links.contains(&url), "a link is derivable: {url}");
        let page = env.get(&url);
        assert_eq!((page.status, &page.body), (404, &unknown.body), "{url}");
        assert_eq!(
            env.post(&url, "approve", "from the history").status,
            404,
            "{url}"
        );
    }
    assert_eq!(env.record(&links[0])["status"], "pending");
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");
    env.post(&links[0], "reject", "cleanup");
    env.wait_for_end(&run.arn);
}

/// A `Retry` of the approval task invokes the function again with a new task token, the next
/// `$$.State.RetryCount` and the same execution and state entry: one approval, no second
/// message, a late attempt never takes the token back, and the newest token resumes the
/// execution. moto keeps one token across retries, so the test plays the other attempts itself.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_retried_attempt_refreshes_the_token_and_sends_nothing_twice() {
    let env = env();
    let run = env.start("retry");
    let ana = env.link(&run.title, "ana@example.com");
    let ben = env.link(&run.title, "ben@example.com");
    let first = env.record(&ana);
    let real = env.task_payload(&run.arn);
    assert_eq!(real["retryCount"], 0);
    let attempt = |token: &str, count: u32| {
        let mut payload = real.clone();
        payload["taskToken"] = json!(token);
        payload["retryCount"] = json!(count);
        let (status, body, error) = env.invoke_request(&payload);
        assert_eq!((status, error.as_deref()), (200, None), "{body}");
    };

    // Attempt 1, whose token the execution does not take (it stands for an attempt that failed).
    let stale = format!("stale-{}", support::nonce());
    attempt(&stale, 1);
    let refreshed = env.record(&ana);
    assert_eq!(
        refreshed["id"], first["id"],
        "one approval for every attempt"
    );
    assert_eq!(refreshed["task_token"], stale.as_str());
    assert_eq!(refreshed["attempt"], 1);
    assert_eq!(env.record(&ben)["id"], first["id"]);

    // A decision sent with a token the execution does not take, moments after it was stored,
    // while the execution runs, is not recorded: the reviewer is asked to press again.
    let page = env.post(&ana, "approve", "too early");
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(env.record(&ana)["status"], "pending");
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");

    // A late invocation of an earlier attempt does not take the token back.
    attempt("an-earlier-attempt", 0);
    assert_eq!(env.record(&ana)["task_token"], stale.as_str());

    // The newest attempt (here: the execution's own token, as attempt 2).
    attempt(real["taskToken"].as_str().unwrap(), 2);
    assert_eq!(env.record(&ana)["task_token"], real["taskToken"]);

    std::thread::sleep(Duration::from_secs(2));
    let requests: Vec<_> = env
        .messages_about(&run.title)
        .into_iter()
        .filter(|m| m.subject.starts_with("Approval needed"))
        .collect();
    assert_eq!(requests.len(), 2, "one message per reviewer: {requests:?}");

    let page = env.post(&ben, "approve", "now");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(env.decisions_delivered(&run.arn), 1);
    assert_eq!(env.record(&ana)["decided_by"], "ben@example.com");

    // Another request under the same key (a Map without approvalKey) is refused, untouched.
    let mut other = real.clone();
    other["request"]["title"] = json!("another request");
    other["taskToken"] = json!("another-token");
    other["retryCount"] = json!(3);
    let (_, body, error) = env.invoke_request(&other);
    assert_eq!(error.as_deref(), Some("Unhandled"), "{body}");
    assert!(
        body.contains("Hitl.InvalidRequest") && body.contains("approvalKey"),
        "{body}"
    );
    assert_eq!(env.record(&ana)["request"]["title"], run.title.as_str());
}

/// Your own workflow with the approval step: a stack of its own
/// (`templates/examples/own-workflow.yaml`) whose state machine invokes the kit's request
/// function; the kit's reviewer approves on the kit's page, and the workflow goes on its own way.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn your_own_workflow_is_approved_through_the_kits_step() {
    let env = env();
    let template =
        std::fs::read_to_string(support::kit_root().join("templates/examples/own-workflow.yaml"))
            .unwrap();
    // Named under the environment's stack: the caller's permissions may be scoped to its name.
    let name = format!("{}-own-{}", env.stack(), support::nonce());
    let stack = env.deploy_own_stack(
        &name,
        &template,
        &[("HitlStack", env.stack()), ("ApprovalTimeoutSeconds", "60")],
    );
    let order = format!("o-{}", support::nonce());
    let arn = env.start_on(
        &stack.outputs["StateMachineArn"],
        json!({ "orderId": order, "requester": "carl@example.com", "amount": 42 }),
    );
    let title = format!("Ship order {order}");
    let link = env.link(&title, "ben@example.com");
    let page = env.post(&link, "approve", "ship it");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({ "shipped": order, "approvedBy": "ben@example.com" })
    );
    assert_eq!(env.decisions_delivered(&arn), 1);
}
