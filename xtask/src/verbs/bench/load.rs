//! Load on the local environment, in two phases. First, executions started at once on the
//! environment's orchestrator (a state machine, or the durable workflow), until every reviewer's
//! message arrived and every execution, by its history, waits for its decision and nothing else:
//! that many approvals pending at once. Then, the review function warmed, each approved on its
//! review page, the POSTs sent at a steady rate as reviewers press, whatever became of the
//! earlier ones, each timed from when it was due. Reports how long the requests took, how far
//! behind the answers came, and the review POST's latency as a reviewer's browser sees it.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_sfn::config::StalledStreamProtectionConfig;
use serde_json::json;

use kit_aws::{
    Aws,
    workflow::{Status, Workflow},
};
use kit_base::status::status;
use kit_config::values::{Email, Endpoint};
use kit_deploy::stack;
use kit_local::{emulation, runner::Runner};

use crate::{
    cli::{Global, Method},
    kit,
};

/// Decisions a second unless told: a thousand reviewers pressing within 100 seconds, which a
/// 2-core machine serves as they come on either orchestrator (at 20 a second they queue there:
/// see docs/testing.md).
pub const DEFAULT_RATE: f64 = 10.0;

/// Instances of each function in a local environment the benchmark starts.
const INSTANCES: usize = 32;

pub fn run(global: &Global, executions: usize, rate: f64) -> Result<()> {
    let reviewer: Email = "bench@example.com".parse().map_err(anyhow::Error::msg)?;
    let effective = kit::effective(global, std::slice::from_ref(&reviewer))?;
    if effective.endpoint != Endpoint::Local {
        bail!(
            "the load benchmark runs on a local environment: `cargo xtask bench load --env local` \
             (or `--env local-durable`)"
        );
    }
    let (sending, timeout) = (executions as f64 / rate, effective.approval_timeout.secs());
    if sending + 60.0 > timeout as f64 {
        bail!(
            "--rate {rate}: {executions} decisions would be sent over {sending:.0}s, too close to \
             the environment's approval timeout ({timeout}s): raise --rate or lower --iterations"
        );
    }
    // Where Lambda would start as many instances as the reviewers press for, the local
    // environment runs a few; the benchmark's more, so that a POST waits for the kit, not for
    // one of them (said when one already running has fewer). Started before the deploy, which
    // would start the usual few (and then compiles while it starts).
    crate::verbs::local::up_with(&kit_tools::install::ensure()?, Some(INSTANCES))?;
    crate::verbs::deploy::run(global, &[reviewer], true, Some(Method::Direct))?;
    let runner = Runner::find().ok_or_else(|| anyhow::anyhow!("the local environment stopped"))?;
    let runtime = crate::runtime::new()?;
    let started = Instant::now();
    let (aws, workflow, arns, links) = runtime.block_on(async {
        let (aws, workflow, outboxes) = connect(&effective, &runner).await?;
        let (arns, links) = request_all(&aws, &workflow, &outboxes, executions).await?;
        anyhow::Ok((aws, workflow, arns, links))
    })?;
    // The first approval's clock runs from its request.
    if started.elapsed().as_secs_f64() + sending + 60.0 > timeout as f64 {
        bail!(
            "--rate {rate}: the last decisions would come past their approval's timeout \
             ({timeout}s) after {:.0}s of requests: raise --rate or lower --iterations",
            started.elapsed().as_secs_f64()
        );
    }
    warm(&links, runner.instances);
    decide_all(links, rate, runner.instances)?;
    runtime.block_on(all_succeeded_once(&aws, &workflow, &arns))
}

/// The local environment's client, the stack's workflow, and its outboxes emptied.
async fn connect(
    effective: &kit_config::Effective,
    runner: &Runner,
) -> Result<(Aws, Workflow, Vec<emulation::Outbox>)> {
    let mut aws = Aws::connect(effective, Some(runner.endpoint())).await?;
    // A thousand starts at once keep moto from answering some for seconds: slow, not stalled
    // (the SDK's protection gives up after 5 s without a byte).
    aws.sdk = aws
        .sdk
        .to_builder()
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    let outputs = crate::verbs::outputs::read(effective).await?;
    let workflow = Workflow::of(&outputs)?;
    let template = stack::deployed_template(&aws.cloudformation(), &effective.stack_name).await?;
    let outboxes: Vec<_> = emulation::outboxes(&effective.stack_name, &template)?
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    // Old messages would be mistaken for this run's.
    while !emulation::take_outbox(&aws, &outboxes, 0).await?.is_empty() {}
    Ok((aws, workflow, outboxes))
}

/// Fails unless every one of `arns` succeeded, with exactly one decision delivered.
async fn all_succeeded_once(aws: &Aws, workflow: &Workflow, arns: &[String]) -> Result<()> {
    let succeeded = count_succeeded(aws, workflow, arns).await?;
    let executions = arns.len();
    println!("{executions} executions: {succeeded} SUCCEEDED");
    if succeeded != executions {
        bail!("{} executions did not succeed", executions - succeeded);
    }
    decided_once(aws, workflow, arns).await?;
    println!("each execution had exactly one decision delivered");
    Ok(())
}

/// Phase one: `executions` started at once, each to its reviewer's message; their ARNs, and
/// the review links (all pending at once: nobody decides before the last arrives).
async fn request_all(
    aws: &Aws,
    workflow: &Workflow,
    outboxes: &[emulation::Outbox],
    executions: usize,
) -> Result<(Vec<String>, Vec<String>)> {
    status(
        "Requesting",
        format!("{executions} approvals: executions started at once, to their reviewer's message"),
    );
    let started = Instant::now();
    let arns = start_all(aws, workflow, executions).await?;
    let links = links_of(aws, outboxes, executions, started).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{executions} approvals requested in {elapsed:.1}s ({:.1}/s)",
        executions as f64 / elapsed
    );
    // A message may arrive before its request is done (a state machine's Lambda task returns
    // after it): the decisions start on an orchestrator with nothing else left to do.
    all_awaiting(aws, workflow, &arns).await?;
    println!(
        "{executions} approvals pending at once, {:.1}s after the start: each execution waits \
         for its decision and nothing else",
        started.elapsed().as_secs_f64()
    );
    Ok((arns, links))
}

/// The review function's instances started before the decisions are timed, as a function in
/// use has them (`bench functions` measures a cold start): as many review pages shown at once
/// as it may have instances. A GET changes nothing.
fn warm(links: &[String], instances: usize) {
    let pages = instances.min(links.len());
    status(
        "Warming",
        format!("the review function: {pages} review pages at once"),
    );
    let pages: Vec<_> = links
        .iter()
        .take(pages)
        .map(|link| {
            let link = link.clone();
            std::thread::spawn(move || -> Result<()> {
                let response = agent().get(&link).call()?;
                match response.status().as_u16() {
                    200 => Ok(()),
                    other => bail!("the review page answered {other} to a GET"),
                }
            })
        })
        .collect();
    let failed: Vec<String> = pages
        .into_iter()
        .filter_map(|page| match page.join() {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(format!("{error:#}")),
            Err(_) => Some("a GET's thread panicked".to_owned()),
        })
        .collect();
    // A page a cold start could not show in time leaves an instance to start when timed.
    if let Some(first) = failed.first() {
        kit_base::status::warning(format!(
            "{} of the review pages did not show while warming; the first: {first}",
            failed.len()
        ));
    }
}

/// Phase two: each link approved on its review page, the POSTs sent at `rate` a second
/// whatever became of the earlier ones (as reviewers press, not as the page answers); fails
/// unless every POST answered 200.
fn decide_all(links: Vec<String>, rate: f64, instances: usize) -> Result<()> {
    let total = links.len();
    status(
        "Deciding",
        format!("{total} approvals on their review page, {rate} a second"),
    );
    let started = Instant::now();
    let (latencies, failed) = approve_paced(links, rate);
    let (sent, elapsed) = (due(total.saturating_sub(1), rate), started.elapsed());
    println!(
        "{total} decisions sent over {:.1}s ({rate}/s), all answered {:.1}s after the last was due",
        sent.as_secs_f64(),
        elapsed.saturating_sub(sent).as_secs_f64()
    );
    let mut seen: Vec<Duration> = latencies.iter().map(|p| p.seen).collect();
    println!("review POST latency: {}", spread(&mut seen));
    // What the local environment adds: a POST waits there for one of the review function's
    // few instances, where Lambda would start more.
    let mut served: Vec<Duration> = latencies.iter().map(|p| p.seen - p.queued).collect();
    println!(
        "  of which the kit's, without the wait for one of the local environment's {} \
         instances: {}",
        instances,
        spread(&mut served)
    );
    match failed.first() {
        None => Ok(()),
        Some(first) => bail!(
            "{} of {total} review POSTs failed; the first: {first}",
            failed.len()
        ),
    }
}

/// Starts `executions` executions of `workflow` at once; their ARNs.
async fn start_all(aws: &Aws, workflow: &Workflow, executions: usize) -> Result<Vec<String>> {
    let nonce = hitl_aws::now();
    let mut starts = Vec::new();
    for i in 0..executions {
        let (aws, workflow) = (aws.clone(), workflow.clone());
        let input = json!({"title": format!("bench {nonce} {i}"), "requester": "load@example.com"});
        starts.push(tokio::spawn(async move {
            let name = format!("bench-{nonce}-{i}");
            workflow
                .start(&aws, &name, &input.to_string())
                .await
                .map_err(|e| e.context(format!("cannot start execution {name}")))
        }));
    }
    let mut arns = Vec::new();
    for start in starts {
        arns.push(start.await??);
    }
    Ok(arns)
}

/// min, p50, p95, p99 and max of `latencies`.
fn spread(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "none".to_owned();
    }
    latencies.sort();
    let (min, p50, p95) = super::measure::quantiles(latencies);
    let p99 = latencies[((latencies.len() - 1) as f64 * 0.99).round() as usize];
    let max = latencies[latencies.len() - 1];
    format!("min {min:.1?}, p50 {p50:.1?}, p95 {p95:.1?}, p99 {p99:.1?}, max {max:.1?}")
}

/// How long a POST took as the client saw it, and how long of that it waited for an instance
/// of the review function in the local environment.
struct Post {
    seen: Duration,
    queued: Duration,
}

/// The review links of the next `executions` reviewer messages (ten minutes at most from
/// `started`).
async fn links_of(
    aws: &Aws,
    outboxes: &[emulation::Outbox],
    executions: usize,
    started: Instant,
) -> Result<Vec<String>> {
    // A message delivered twice (SQS delivers at least once) names its link twice.
    let mut links = std::collections::BTreeSet::new();
    while links.len() < executions {
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "only {} of {executions} reviewer messages in ten minutes",
                links.len()
            );
        }
        for message in emulation::take_outbox(aws, outboxes, 1).await? {
            // An outcome message has no link.
            if let Some(link) = message.body.lines().find(|l| l.contains("/approvals/")) {
                links.insert(link.trim().to_owned());
            }
        }
    }
    Ok(links.into_iter().collect())
}

/// When the `i`th POST of a run at `rate` a second is due, from the run's start.
fn due(i: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(i as f64 / rate)
}

/// Approves each of `links`, the `i`th POST sent when [`due`], each on a thread of its own (a
/// pool would hold some back); how long each POST took from when it was due (a POST sent late
/// waited as its reviewer would), and why each that failed did.
fn approve_paced(links: Vec<String>, rate: f64) -> (Vec<Post>, Vec<String>) {
    let started = Instant::now();
    let posts: Vec<_> = links
        .into_iter()
        .enumerate()
        .map(|(i, link)| {
            let at = started + due(i, rate);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            std::thread::spawn(move || approve(&link, at))
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::new(), Vec::new());
    for post in posts {
        match post.join() {
            Ok(Ok(post)) => latencies.push(post),
            Ok(Err(error)) => failed.push(format!("{error:#}")),
            Err(_) => failed.push("the POST's thread panicked".to_owned()),
        }
    }
    (latencies, failed)
}

/// Waits until each of `arns` waits for its decision and for nothing else (ten minutes at
/// most, all told); fails at once for one that ended.
async fn all_awaiting(aws: &Aws, workflow: &Workflow, arns: &[String]) -> Result<()> {
    let waited = Instant::now();
    for arn in arns {
        while !workflow.awaits_decision(aws, arn).await? {
            let status = workflow.describe(aws, arn).await?.status;
            if let Status::Ended { status, error, .. } = status {
                bail!("{arn} ended {status} ({error}) before its decision");
            }
            if waited.elapsed() > Duration::from_secs(600) {
                bail!("{arn} still does not wait for its decision after ten minutes of waiting");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// How many of `arns` succeeded, each waited for while it runs (ten minutes at most, all told).
async fn count_succeeded(aws: &Aws, workflow: &Workflow, arns: &[String]) -> Result<usize> {
    let (mut succeeded, waited) = (0, Instant::now());
    for arn in arns {
        loop {
            if waited.elapsed() > Duration::from_secs(600) {
                bail!("{arn} still runs ten minutes after its approval was posted");
            }
            match workflow.describe(aws, arn).await?.status {
                Status::Running => tokio::time::sleep(Duration::from_millis(100)).await,
                Status::Succeeded => {
                    succeeded += 1;
                    break;
                }
                Status::Ended { .. } => break,
            }
        }
    }
    Ok(succeeded)
}

/// Fails unless each of `arns` had exactly one decision delivered.
async fn decided_once(aws: &Aws, workflow: &Workflow, arns: &[String]) -> Result<()> {
    let mut wrong = Vec::new();
    for arn in arns {
        let delivered = workflow.decisions_delivered(aws, arn).await?;
        if delivered != 1 {
            wrong.push(format!("{arn}: {delivered}"));
        }
    }
    match wrong.first() {
        None => Ok(()),
        Some(first) => bail!(
            "{} executions did not get exactly one decision; the first: {first}",
            wrong.len()
        ),
    }
}

/// A browser of the review pages, which reads any status.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Past API Gateway's 29 s, which the router keeps: a request never waited for forever.
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Approves on the review page as a browser does, the POST due `at`; returns how long the page
/// took from then.
fn approve(link: &str, at: Instant) -> Result<Post> {
    let origin = link.split('/').take(3).collect::<Vec<_>>().join("/");
    let response = agent()
        .post(link)
        .header("Origin", &origin)
        .header("Sec-Fetch-Site", "same-origin")
        .content_type("application/x-www-form-urlencoded")
        .send("decision=approve&comment=bench")?;
    let seen = at.elapsed();
    if response.status() != 200 {
        bail!("the review page answered {}", response.status());
    }
    let queued = response
        .headers()
        .get(kit_local::gateway::QUEUED_HEADER)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_default();
    Ok(Post {
        seen,
        queued: queued.min(seen),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_posts_are_due_at_a_steady_rate_from_the_start() {
        assert_eq!(due(0, 20.0), Duration::ZERO);
        assert_eq!(due(1, 20.0), Duration::from_millis(50));
        assert_eq!(due(999, 20.0), Duration::from_millis(49_950));
        assert_eq!(due(3, 0.5), Duration::from_secs(6));
    }
}
