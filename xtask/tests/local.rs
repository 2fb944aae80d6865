//! The approval protocol end to end, on either orchestrator: the real rendered template
//! deployed, the workflow executed (the state machine, or the durable workflow), the functions
//! run, the reviewers' messages read from the topic, the review page driven over HTTP as a
//! browser sends it. `cargo xtask test` runs it on the local environment (moto server, the
//! durable execution emulator, the router, `cargo lambda watch`) through `AWS_ENDPOINT_URL`,
//! once with each orchestrator (`HITL_E2E_ENV` `local`, then `local-durable`);
//! `cargo xtask test --aws --env NAME` runs the same code on a throwaway environment in a real
//! account (see `support`). What only one orchestrator has is in `local_step_functions.rs` and
//! `local_durable.rs`.
//!
//! These need the tools venv and take a while, so they are `#[ignore]`d for a plain `cargo test`;
//! `cargo xtask test` runs them (and stops the local environment afterwards).

mod support;

use std::{
    sync::{Arc, Barrier},
    time::Duration,
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
    let (run, link) = rejected(env, "reject", "ben@example.com", "Over budget");
    assert_eq!(env.record(&link)["decided_by"], "ben@example.com");
    // `status` lists the execution (every version's, for the durable workflow) with how it
    // ended, in text and JSON.
    let (ok, json, stderr) = env.xtask(&["status", "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = report["recent_executions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["arn"] == run.arn.as_str())
        .unwrap_or_else(|| panic!("status does not list {}: {json}", run.arn));
    assert_eq!(listed["ending"], "rejected", "{listed}");
    assert_eq!(listed["by"], "ben@example.com", "{listed}");
    assert_eq!(listed["comment"], "Over budget", "{listed}");
    let (ok, text, stderr) = env.xtask(&["status"]);
    assert!(ok, "{stderr}");
    assert!(!text.contains("executions         none"), "{text}");
}

/// An execution `label` that `reviewer` rejected on the page with `comment`, ended: the run and
/// the reviewer's link.
fn rejected(env: &Env, label: &str, reviewer: &str, comment: &str) -> (support::Run, String) {
    let run = env.start(label);
    let link = env.link(&run.title, reviewer);
    let page = env.post(&link, "reject", comment);
    assert_eq!(page.status, 200, "{}", page.body);
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Rejected", "{done}");
    assert_eq!(done["cause"], comment, "{done}");
    (run, link)
}

/// What the functions count reaches their log as embedded metrics CloudWatch accepts, in the
/// stack's namespace: the approval requested, the vote, the decision by outcome and its age in
/// seconds.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn the_functions_count_what_happened_as_embedded_metrics() {
    let env = env();
    let run = env.start("counted");
    let link = env.link(&run.title, "ben@example.com");
    assert_eq!(env.post(&link, "reject", "counted").status, 200);
    env.wait_for_end(&run.arn);
    let Some(log) = env.local_log("lambda.log") else {
        return;
    };
    let docs = support::emf::documents(&log, &format!("hitl/{}", env.stack()));
    let has = |name, dimension| support::emf::has(&docs, name, dimension);
    assert_eq!(
        has("ApprovalsRequested", None).as_deref(),
        Some("Count"),
        "{docs:?}"
    );
    assert_eq!(has("Votes", None).as_deref(), Some("Count"), "{docs:?}");
    let rejected = Some(("Outcome", "rejected"));
    assert_eq!(
        has("Decisions", rejected).as_deref(),
        Some("Count"),
        "{docs:?}"
    );
    assert_eq!(
        has("TimeToDecision", None).as_deref(),
        Some("Seconds"),
        "{docs:?}"
    );
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

/// A decision the workflow took whose record was never settled (the review function's write
/// throttled past every retry, or its instance died after the send) is still `deciding` at the
/// last expiry check: the remind function reads how the execution ended, with its own role
/// (`DescribeExecution`, or `GetDurableExecution`), and settles the record as the review
/// function would have. No alarm's count. The schedule's invocation is made here by hand:
/// Scheduler's would come only past the approval's real expiry.
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_decision_left_unsettled_is_settled_at_the_last_expiry_check() {
    let env = env();
    let (_, link) = rejected(env, "unsettled", "ana@example.com", "not this quarter");
    let settled = env.record(&link);
    env.unsettle(&link, 90);
    assert_eq!(env.record(&link)["status"], "deciding");
    let id = settled["id"].as_str().unwrap();
    let (status, body, error) = env.invoke("remind", &json!({ "approvalId": id }));
    assert_eq!((status, error), (200, None), "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["settled"], "rejected", "{answer}");
    assert_eq!(answer["unsettled"], false, "{answer}");
    let record = env.record(&link);
    for field in ["status", "decided_by", "decided_at", "comment", "votes"] {
        assert_eq!(record[field], settled[field], "{field}: {record}");
    }
    assert!(record.get("claimed_at").is_none(), "{record}");
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
    // Never retried once refused: Step Functions' Retry (on the transient errors only) would
    // have scheduled the task again; a durable step would have started again. (An attempt cut
    // at the function's timeout before it, on a loaded machine, is retried, as on AWS.)
    assert_eq!(env.attempts_after_refusal(&arn), Some(0), "retried: {done}");
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
