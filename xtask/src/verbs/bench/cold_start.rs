//! The release functions as Lambda gets them: zip size, and cold start from process start to the
//! first response served through a local Runtime API, next to a minimal Python handler that
//! creates a boto3 client, measured in the same run.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use kit_base::paths;
use serde_json::json;

use super::runtime_api::RuntimeApi;
use kit_base::status::status;
use kit_config::values::{Architecture, Orchestrator};
use kit_tools::functions;
use kit_tools::install;

/// Python's side of the comparison: the smallest custom-runtime loop around a handler module that
/// creates a boto3 client at import, as Python functions do.
const PYTHON_BOOTSTRAP: &str = r#"
import json, os, urllib.request
import boto3
client = boto3.client("dynamodb")
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"statusCode": 404}).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
"#;

pub fn run(runs: u32) -> Result<()> {
    let venv = install::ensure()?;
    let arch = Architecture::X86_64;
    functions::check_target(arch, "benchmark on a machine that has it")?;
    status(
        "Benchmarking",
        format!("cold start, {runs} runs each, through a local Lambda Runtime API"),
    );
    println!(
        "{:<32} {:>10} {:>10} {:>10} {:>10}",
        "function", "zip", "min", "median", "p95"
    );
    let binaries = functions::lambda_dir(arch);
    // Each orchestrator's functions as its stack deploys them: one build per stack, since the
    // durable SDK's TLS stack comes into every function built with it.
    for orchestrator in [Orchestrator::StepFunctions, Orchestrator::DurableFunction] {
        let packages = functions::build(&venv, arch, orchestrator.functions())?;
        for asset in &packages {
            let zip = functions::zip_path(arch, &asset.function);
            let binary = binaries.join(&asset.function).join("bootstrap");
            let event = event_for(&asset.function);
            let times = measure(runs, &event, || Command::new(&binary))?;
            print_row(
                &format!("{} (Rust, {})", asset.function, orchestrator.as_str()),
                Some(std::fs::metadata(zip)?.len()),
                &times,
            );
        }
    }
    let script = paths::root()
        .join("target")
        .join("lambda")
        .join("python_bootstrap.py");
    std::fs::write(&script, PYTHON_BOOTSTRAP)?;
    let python = venv.bin("python");
    let times = measure(runs, &event_for("review"), || {
        let mut command = Command::new(&python);
        command.arg(&script);
        command
    })?;
    print_row("python 3 + boto3 client", None, &times);
    println!("(goal: each zip at most 2.5 MB)");
    Ok(())
}

fn print_row(name: &str, zip: Option<u64>, times: &[Duration]) {
    let (min, median, p95) = super::measure::quantiles(times);
    println!(
        "{name:<32} {:>10} {:>10} {:>10} {:>10}",
        zip.map(|b| format!("{:.2} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "-".into()),
        format!("{min:.1?}"),
        format!("{median:.1?}"),
        format!("{p95:.1?}")
    );
}

/// An event each function answers without anything but its first AWS call: an invalid request
/// for `request` (refused before any call), a durable execution's first invocation with an
/// invalid input for `workflow` (refused before any checkpoint), an unknown link for `review`
/// (one GetItem).
fn event_for(function: &str) -> String {
    match function {
        "request" => json!({ "taskToken": "t", "executionArn": "a", "request": {} }),
        "workflow" => json!({
            "DurableExecutionArn": "arn:aws:lambda:us-east-1:123456789012:function:bench-workflow:1/durable-execution/bench/1",
            "CheckpointToken": "bench",
            "InitialExecutionState": {
                "Operations": [{
                    "Id": "root",
                    "Type": "Execution",
                    "Status": "STARTED",
                    "ExecutionDetails": { "InputPayload": "{}" }
                }]
            }
        }),
        _ => json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/approvals/abcdefghijklmnopqrstuvwxyz",
            "rawQueryString": "",
            "headers": { "host": "bench.example" },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "bench.example",
                "domainPrefix": "bench",
                "http": {
                    "method": "GET",
                    "path": "/approvals/abcdefghijklmnopqrstuvwxyz",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "bench"
                },
                "requestId": "bench",
                "routeKey": "$default",
                "stage": "$default",
                "time": "21/Nov/2026:00:00:00 +0000",
                "timeEpoch": 0
            },
            "isBase64Encoded": false
        }),
    }
    .to_string()
}

/// Process start to first answer, `runs` times, each in a fresh process.
fn measure(runs: u32, event: &str, command: impl Fn() -> Command) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let api = RuntimeApi::start()?;
        api.queue(event.to_owned());
        let mut command = command();
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_ENDPOINT_URL", format!("http://{}", api.address))
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("TABLE_NAME", "bench")
            .env("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:bench")
            .env("REVIEW_BASE_URL", "https://bench.example/v1")
            .env("APPROVAL_TIMEOUT_SECONDS", "3600")
            .env("RETENTION_SECONDS", "86400")
            .env("REVIEWERS", "a@example.com")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().context("cannot start the function")?;
        let answered = api.answered(Duration::from_secs(30));
        let _ = child.kill();
        let _ = child.wait();
        match answered {
            Some(at) => times.push(at - started),
            None => bail!("{} did not answer within 30s", program(&command).display()),
        }
    }
    times.sort();
    Ok(times)
}

fn program(command: &Command) -> PathBuf {
    Path::new(command.get_program()).to_owned()
}
