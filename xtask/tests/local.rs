//! The approval protocol end to end: the real rendered template deployed, the state machine
//! executed, the functions run, the reviewers' messages read from the topic, the review page
//! driven over HTTP as a browser sends it. `cargo xtask test` runs it on the local environment
//! (moto server, the router, `cargo lambda watch`) through `AWS_ENDPOINT_URL`;
//! `cargo xtask test --aws --env NAME` runs the same code on a throwaway environment in a real
//! account (see `support`).
//!
//! These need the tools venv and take a while, so they are `#[ignore]`d for a plain `cargo test`;
//! `cargo xtask test` runs them (and stops the local environment afterwards).

mod support;

use std::{
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{Env, Page, env};

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn approve_resumes_the_execution_with_decision_comment_and_reviewer() {
    let env = env();
    let run = env.start("approve");
    let link = env.link(&run.title, "ana@example.com");
    let before = env.record(&link);
    assert_eq!(before["status"], "pending");
    // Opening the link, or a mail scanner's HEAD, changes nothing.
    assert_eq!(env.get(&link).status, 200);
    assert!(env.get(&link).body.contains(&run.title));
    assert_eq!(env.head(&link), 200);
    assert_eq!(env.record(&link), before, "GET or HEAD changed the record");
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");

    let page = env.post(&link, "approve", "Fine by me <b>really</b>");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("approved"), "{}", page.body);
    assert!(
        !page.body.contains("<b>really"),
        "the comment was not escaped"
    );

    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["approval"]["decision"], "approved");
    assert_eq!(output["approval"]["comment"], "Fine by me <b>really</b>");
    assert_eq!(output["approval"]["reviewer"], "ana@example.com");
    assert_eq!(env.record(&link)["status"], "approved");
    // Every reviewer hears the outcome.
    for reviewer in ["ana@example.com", "ben@example.com"] {
        env.wait_for_message(reviewer, |m| {
            m.subject == "Approved" && m.body.contains(&run.title)
        });
    }
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn reject_fails_the_execution_with_rejected_and_the_comment() {
    let env = env();
    let run = env.start("reject");
    let link = env.link(&run.title, "ben@example.com");
    let page = env.post(&link, "reject", "Over budget");
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Rejected");
    assert_eq!(done["cause"], "Over budget");
    assert_eq!(env.record(&link)["decided_by"], "ben@example.com");
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn no_answer_takes_the_expired_branch_and_a_late_post_gets_410() {
    let env = env();
    let run = env.start("expire");
    let link = env.link(&run.title, "ana@example.com");
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Expired");
    let page = env.post(&link, "approve", "too late");
    assert_eq!(page.status, 410, "{}", page.body);
    assert_eq!(
        env.get(&link).status,
        200,
        "the page still shows the expired request"
    );
    // Step Functions never heard of a decision.
    assert_eq!(env.decisions_delivered(&run.arn), 0);
    assert_ne!(env.record(&link)["status"], "approved");
    env.wait_for_message("ben@example.com", |m| {
        m.subject == "Expired" && m.body.contains(&run.title)
    });
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn twenty_concurrent_posts_make_one_decision_and_resume_once() {
    // A few rounds: a lost race shows up only now and then.
    let env = env();
    for round in 0..3 {
        race(env, round);
    }
}

fn race(env: &Env, round: usize) {
    let run = env.start(&format!("race-{round}"));
    let links = [
        env.link(&run.title, "ana@example.com"),
        env.link(&run.title, "ben@example.com"),
    ];
    let barrier = Arc::new(Barrier::new(20));
    let pages: Vec<Page> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let barrier = barrier.clone();
                let link = links[i % 2].clone();
                let env = &env;
                scope.spawn(move || {
                    barrier.wait();
                    let decision = if i % 3 == 0 { "reject" } else { "approve" };
                    env.post(&link, decision, &format!("click {i}"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "round {round}: exactly one POST decides: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 409),
        "the others see the 409 page: {statuses:?}"
    );
    let done = env.wait_for_end(&run.arn);
    assert_eq!(env.decisions_delivered(&run.arn), 1, "{done}");
    let record = env.record(&links[0]);
    let expected = if record["decision"] == "approved" {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    assert_eq!(done["status"], expected, "{done} vs {record}");
    let winner = pages.iter().find(|p| p.status == 200).unwrap();
    let comment = record["comment"].as_str().unwrap();
    assert!(
        winner.body.contains(comment),
        "the winner's page names its comment"
    );
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn unknown_and_malformed_links_get_the_same_404() {
    let env = env();
    let unknown = format!("{}/approvals/abcdefghijklmnopqrstuvwxyz", env.review_base);
    let malformed = format!("{}/approvals/not-a-link%3Cscript%3E", env.review_base);
    let reference = env.get(&unknown);
    assert_eq!(reference.status, 404);
    for url in [&unknown, &malformed] {
        for page in [env.get(url), env.post(url, "approve", "x")] {
            assert_eq!(page.status, 404, "{url}");
            assert_eq!(page.body, reference.body, "{url}: the 404 pages differ");
        }
    }
    // A path the API has no resource for never reaches the function: API Gateway answers it.
    let missing = format!("{}/approvals/", env.review_base);
    for page in [env.get(&missing), env.post(&missing, "approve", "x")] {
        assert_eq!(page.status, 403, "{missing}");
        assert!(
            page.body.contains("Missing Authentication Token"),
            "{}",
            page.body
        );
    }
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn cross_site_posts_are_refused_and_change_nothing() {
    let env = env();
    let run = env.start("cross-site");
    let link = env.link(&run.title, "ana@example.com");
    let before = env.record(&link);
    let form = "decision=approve&comment=csrf";
    let cross = [
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
    ];
    for headers in cross {
        let page = env.post_raw(&link, form, &headers);
        assert_eq!(page.status, 403, "{headers:?}");
    }
    assert_eq!(env.record(&link), before);
    // A body over the limit is refused before anything is read from the table.
    let page = env.post_raw(
        &link,
        &format!("decision=approve&comment={}", "x".repeat(20_000)),
        &[("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(page.status, 413);
    assert_eq!(env.record(&link), before);
    // A same-origin POST that carries only `Origin` (curl, proxies, browsers without
    // Sec-Fetch-Site) passes: API Gateway hands the function the client's `Host`.
    let origin = link.split('/').take(3).collect::<Vec<_>>().join("/");
    let page = env.post_raw(
        &link,
        "decision=reject&comment=cleanup",
        &[("Origin", &origin)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    env.wait_for_end(&run.arn);
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn invalid_requests_fail_at_once_with_a_clear_error() {
    let env = env();
    let started = Instant::now();
    let arn = env.start_raw(json!({ "summary": "no title, no requester" }));
    let done = env.wait_for_end(&arn);
    assert_eq!(done["status"], "FAILED");
    assert_eq!(done["error"], "InvalidRequest");
    // Past the first state, the function's own validation: no retries, no waiting.
    let arn = env.start_raw(json!({ "title": "Bad requester", "requester": "not an address" }));
    let done = env.wait_for_end(&arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Hitl.InvalidRequest", "{done}");
    assert!(
        done["cause"].as_str().unwrap().contains("requester"),
        "{done}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

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
    assert_eq!(expires, created + 30, "approval_timeout: 30s");
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
    // Slack got the request once, with a link of its own for every reviewer, and no token.
    let posts = env.slack_posts_about(&title, Duration::from_secs(5));
    assert_eq!(posts.len(), 1, "{posts:?}");
    let text = posts[0]["text"].as_str().unwrap();
    assert!(!text.contains(&token));
    assert_eq!(text.matches("/approvals/").count(), 2, "{text}");
    for reviewer in ["ana@example.com", "ben@example.com"] {
        let url = text
            .split('<')
            .find(|part| part.contains(&format!("|Review as {reviewer}>")))
            .and_then(|part| part.split('|').next())
            .unwrap_or_else(|| panic!("no link for {reviewer} in {text}"));
        assert!(
            url != ana_link && url != ben_link,
            "Slack reused an email's link"
        );
        let page = env.get(url);
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(reviewer),
            "{url} does not open as {reviewer}"
        );
    }
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

/// An execution that ended some other way (stopped here) leaves its reviewers a link that
/// expires the approval on the next POST: Step Functions no longer has the task, and the
/// execution no longer runs.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_post_after_the_execution_was_stopped_expires_the_approval() {
    let env = env();
    let run = env.start("stopped");
    let link = env.link(&run.title, "ana@example.com");
    env.stop(&run.arn);
    let page = env.post(&link, "approve", "after the stop");
    assert_eq!(page.status, 410, "{}", page.body);
    assert_eq!(env.record(&link)["status"], "expired");
    assert_eq!(env.decisions_delivered(&run.arn), 0);
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn the_slack_webhook_url_never_reaches_a_log() {
    let env = env();
    if !env.slack() {
        eprintln!(
            "skipped: the fake Slack webhook is on this machine, out of the functions' reach"
        );
        return;
    }
    let run = env.start("slack");
    assert_eq!(
        env.slack_posts_about(&run.title, Duration::from_secs(30))
            .len(),
        1
    );
    let link = env.link(&run.title, "ana@example.com");
    env.post(&link, "approve", "ok");
    env.wait_for_end(&run.arn);
    let secret = env.slack_url.rsplit('/').next().unwrap();
    for log in ["lambda.log", "router.log", "moto.log"] {
        let text = env.local_log(log).expect("the local environment's logs");
        assert!(!text.contains(secret), "the webhook URL is in {log}");
    }
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn no_task_token_in_any_message_or_log_line() {
    let env = env();
    let run = env.start("token-hygiene");
    let link = env.link(&run.title, "ana@example.com");
    let token = env.record(&link)["task_token"].as_str().unwrap().to_owned();
    env.post(&link, "approve", "ok");
    env.wait_for_end(&run.arn);
    for message in env.messages_about(&run.title) {
        assert!(!message.raw.contains(&token), "{message:?}");
    }
    // The processes' logs are on this machine only in the local environment (on AWS the
    // functions' logs are CloudWatch's, which the unit tests of the logging cover).
    for log in ["lambda.log", "router.log", "moto.log"] {
        if let Some(text) = env.local_log(log) {
            assert!(!text.contains(&token), "the task token is in {log}");
        }
    }
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
    let name = format!("own-workflow-{}", support::nonce());
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

/// A reviewer in headless Chromium (Debian's `chromium` and `chromedriver`, which `.ci/run`
/// installs): opens the link, types a comment, presses Approve, sees the confirmation.
#[test]
#[ignore = "needs the local environment and Chromium: run through `cargo xtask test`"]
fn a_reviewer_approves_in_a_real_browser() {
    use fantoccini::{ClientBuilder, Locator};
    let env = env();
    let run = env.start("browser");
    let link = env.link(&run.title, "ana@example.com");
    let driver = support::ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let confirmation = runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // chromedriver is on loopback over plain HTTP: no TLS stack for the WebDriver client.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("chromedriver session");
        client.goto(&link).await.unwrap();
        let heading = client
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(heading, run.title);
        client
            .find(Locator::Css("textarea[name=comment]"))
            .await
            .unwrap()
            .send_keys("Approved from Chromium")
            .await
            .unwrap();
        client
            .find(Locator::Css("button[value=approve]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let body = client
            .wait()
            .for_element(Locator::XPath("//*[contains(., 'Approved from Chromium')]"))
            .await
            .unwrap();
        let text = body.text().await.unwrap();
        client.close().await.unwrap();
        text
    });
    assert!(confirmation.contains("approved"), "{confirmation}");
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["approval"]["comment"], "Approved from Chromium");
}
