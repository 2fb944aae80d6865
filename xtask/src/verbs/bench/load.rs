//! Load on the local environment: executions started at once, on the environment's orchestrator
//! (a state machine, or the durable workflow), each approved by a POST sent as soon as its
//! reviewer's message arrives; reports throughput and the review function's latency as a
//! reviewer's browser sees it.

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

pub fn run(global: &Global, executions: usize) -> Result<()> {
    let reviewer: Email = "bench@example.com".parse().map_err(anyhow::Error::msg)?;
    let effective = kit::effective(global, std::slice::from_ref(&reviewer))?;
    if effective.endpoint != Endpoint::Local {
        bail!(
            "the load benchmark runs on a local environment: `cargo xtask bench load --env local` \
             (or `--env local-durable`)"
        );
    }
    crate::verbs::deploy::run(global, &[reviewer], true, Some(Method::Direct))?;
    let runner = Runner::find().ok_or_else(|| anyhow::anyhow!("the local environment stopped"))?;
    let runtime = crate::runtime::new()?;
    status(
        "Benchmarking",
        format!("{executions} executions started at once, each approved on the review page"),
    );
    let (elapsed, latencies, succeeded, once) = runtime.block_on(async {
        let mut aws = Aws::connect(&effective, Some(runner.endpoint())).await?;
        // A thousand starts at once keep moto from answering some for seconds: slow, not
        // stalled (the SDK's protection gives up after 5 s without a byte).
        aws.sdk = aws
            .sdk
            .to_builder()
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        let outputs = crate::verbs::outputs::read(&effective).await?;
        let workflow = Workflow::of(&outputs)?;
        let template =
            stack::deployed_template(&aws.cloudformation(), &effective.stack_name).await?;
        let outboxes: Vec<_> = emulation::outboxes(&effective.stack_name, &template)?
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        // Old messages would be mistaken for this run's.
        while !emulation::take_outbox(&aws, &outboxes, 0).await?.is_empty() {}
        let started = Instant::now();
        let arns = start_all(&aws, &workflow, executions).await?;
        let (latencies, failed) = approve_each(&aws, &outboxes, executions, started).await?;
        // Not waited for: an execution whose POST failed runs until its approval expires.
        if let Some(first) = failed.first() {
            bail!(
                "{} of {executions} review POSTs failed; the first: {first}",
                failed.len()
            );
        }
        let succeeded = count_succeeded(&aws, &workflow, &arns).await?;
        let elapsed = started.elapsed();
        let once = decided_once(&aws, &workflow, &arns).await;
        anyhow::Ok((elapsed, latencies, succeeded, once))
    })?;
    println!(
        "{executions} executions: {succeeded} SUCCEEDED in {:.1}s, {:.1} executions/s end to end",
        elapsed.as_secs_f64(),
        executions as f64 / elapsed.as_secs_f64()
    );
    let mut seen: Vec<Duration> = latencies.iter().map(|p| p.seen).collect();
    println!("review POST latency: {}", spread(&mut seen));
    // What the local environment adds: a POST waits there for one of the review function's
    // few instances, where Lambda would start more.
    let mut served: Vec<Duration> = latencies.iter().map(|p| p.seen - p.queued).collect();
    println!(
        "  of which the kit's, without the wait for one of the local environment's {} \
         instances: {}",
        kit_local::runner::CONCURRENCY,
        spread(&mut served)
    );
    if succeeded != executions {
        bail!("{} executions did not succeed", executions - succeeded);
    }
    once?;
    println!("each execution had exactly one decision delivered");
    Ok(())
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

/// Approves each reviewer message as soon as it arrives, each POST on a thread of its own (a
/// pool would hold some back); how long each POST took, and why each that failed did.
async fn approve_each(
    aws: &Aws,
    outboxes: &[emulation::Outbox],
    executions: usize,
    started: Instant,
) -> Result<(Vec<Post>, Vec<String>)> {
    let mut posts = Vec::new();
    while posts.len() < executions {
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "only {} of {executions} reviewer messages in ten minutes",
                posts.len()
            );
        }
        for message in emulation::take_outbox(aws, outboxes, 1).await? {
            let Some(link) = message.body.lines().find(|l| l.contains("/approvals/")) else {
                continue; // an outcome message
            };
            let link = link.trim().to_owned();
            posts.push(std::thread::spawn(move || approve(&link)));
        }
    }
    let (mut latencies, mut failed) = (Vec::new(), Vec::new());
    for post in posts {
        match post.join() {
            Ok(Ok(post)) => latencies.push(post),
            Ok(Err(error)) => failed.push(format!("{error:#}")),
            Err(_) => failed.push("the POST's thread panicked".to_owned()),
        }
    }
    Ok((latencies, failed))
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

/// Approves on the review page as a browser does; returns how long the page took.
fn approve(link: &str) -> Result<Post> {
    let origin = link.split('/').take(3).collect::<Vec<_>>().join("/");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let started = Instant::now();
    let response = agent
        .post(link)
        .header("Origin", &origin)
        .header("Sec-Fetch-Site", "same-origin")
        .content_type("application/x-www-form-urlencoded")
        .send("decision=approve&comment=bench")?;
    let seen = started.elapsed();
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
