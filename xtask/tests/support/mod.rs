//! The environment the end-to-end tests run against, as they see it: deployed once per test
//! binary through the kit's own command line, reached with AWS clients configured from the
//! environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_PROFILE`, as the SDK reads them), the
//! reviewers' messages read from an SQS queue of the suite's own subscribed to the topic, the
//! review pages driven over HTTP at the stack's `ReviewBaseUrl`.
//!
//! The same code runs in two places. `cargo xtask test` starts the local environment and points
//! `AWS_ENDPOINT_URL` at it (the default config and environment below); `cargo xtask test --aws
//! --env NAME` names a throwaway environment in a real account (`HITL_E2E_CONFIG`,
//! `HITL_E2E_ENV`) and destroys it, and the suite's queue (`<stack>-e2e-inbox`), afterwards.
//! What only the local environment has (a fake Slack webhook on this machine, the processes'
//! log files) is checked only there.

#![allow(dead_code)] // each test binary uses part of this module

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Command,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

pub mod dead_letters;
pub mod emf;
mod inbox;
pub mod slack;

#[allow(unused_imports)] // each test binary uses part of this module
pub use inbox::{Inbox, Message, policy as inbox_policy};

pub struct Env {
    config: String,
    /// The local environment's directory (logs, state) when the suite runs there.
    pub local: Option<PathBuf>,
    pub review_base: String,
    /// The stack's outputs.
    outputs: Value,
    stack: String,
    /// The environment's name in its config.
    name: String,
    /// The state machine or the durable workflow, as the stack's outputs name it.
    workflow: kit_aws::workflow::Workflow,
    table: String,
    runtime: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
    http: ureq::Agent,
    /// How long a load test waits for a message or an answer, in place of [`Env::patience`].
    patience: Option<Duration>,
    mailbox: Mutex<Vec<Message>>,
    collecting: Mutex<()>,
    /// The suite's queue, subscribed to the topic.
    inbox: Option<Inbox>,
    /// The fake Slack webhook's URL, and what it received.
    pub slack_url: String,
    slack_posts: std::sync::Arc<Mutex<Vec<String>>>,
    /// Whether the config names a Slack webhook parameter and the webhook is reachable from
    /// the functions (the request function then posts and marks the record after the emails).
    slack: bool,
    /// The Slack app's workspace, on the local environment's stand-in, when the stack has the
    /// app (the request function then posts and marks the record too).
    pub slack_app: Option<slack::Workspace>,
}

/// Disarms the router's faults when dropped.
pub struct Disarm<'a>(&'a Env);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        self.0.disarm_faults();
    }
}

pub struct Page {
    pub status: u16,
    pub body: String,
}

pub struct Run {
    pub arn: String,
    pub title: String,
}

/// A loopback port nobody listens on just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on the loopback `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn kit_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The environment of the suite: `HITL_E2E_CONFIG` and `HITL_E2E_ENV`, by default the local
/// environment of `xtask/tests/local/hitl.yaml`; deployed once per test binary.
pub fn env() -> &'static Env {
    let config = std::env::var("HITL_E2E_CONFIG")
        .unwrap_or_else(|_| "xtask/tests/local/hitl.yaml".to_owned());
    env_of(&config)
}

/// The environment `HITL_E2E_ENV` (default `local`) of `config` (a path under the kit, or
/// absolute), deployed once per test binary.
pub fn env_of(config: &str) -> &'static Env {
    env_waiting(config, None)
}

/// [`env_of`] for a load test, which waits up to `patience` for each message and each page:
/// on the local environment one moto process serves every call on this machine's cores, and
/// hundreds of requests at once queue behind it (what they wait is `cargo xtask bench load`'s
/// business; a load test checks that nothing is lost).
pub fn env_under_load(config: &str, patience: Duration) -> &'static Env {
    env_waiting(config, Some(patience))
}

/// The environment `name` of `config`, deployed once per test binary: a suite's own variant of
/// `HITL_E2E_ENV`'s environment (its sign-in twin, say).
pub fn env_named(config: &str, name: &str) -> &'static Env {
    env_deployed(config, name, None)
}

fn env_waiting(config: &str, patience: Option<Duration>) -> &'static Env {
    let name = std::env::var("HITL_E2E_ENV").unwrap_or_else(|_| "local".to_owned());
    env_deployed(config, &name, patience)
}

fn env_deployed(config: &str, name: &str, patience: Option<Duration>) -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Env::deploy(config, name);
        if let Some(patience) = patience {
            env.http = agent(patience);
            env.patience = Some(patience);
        }
        env
    });
    assert_eq!(env.config, config, "one environment per test binary");
    env
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

pub fn nonce() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos:x}{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The name of the suite's queue for a stack (`cargo xtask test --aws` deletes it afterwards).
/// A test binary run beside another on the same stack has a queue of its own,
/// `<stack>-e2e-inbox-<HITL_E2E_INBOX>`: a queue's messages go to one reader.
pub fn inbox_name(stack: &str) -> String {
    match std::env::var("HITL_E2E_INBOX") {
        Ok(own) if !own.is_empty() => format!("{stack}-e2e-inbox-{own}"),
        _ => format!("{stack}-e2e-inbox"),
    }
}

/// `cargo xtask deploy --yes` of the environment `name` of `config`, its outputs under `out`.
fn run_deploy(out: &std::path::Path, config: &str, name: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(kit_root())
        .env("HITL_OUTPUT_DIR", out)
        .env("NO_COLOR", "1")
        .args(["--config", config, "--env", name])
        .args(["deploy", "--yes"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "deploy --env {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `cargo xtask test` deployed the environment before it started this test binary
/// beside another on the same stack (`HITL_E2E_DEPLOYED`): a deploy while the other's tests
/// run would make the local environment's state machine and permissions again under them.
fn deployed_already() -> bool {
    std::env::var_os("HITL_E2E_DEPLOYED").is_some()
}

impl Env {
    fn deploy(config: &str, name: &str) -> Env {
        let root = kit_root();
        let out = std::env::var_os("HITL_OUTPUT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target").join("e2e"));
        if !deployed_already() {
            run_deploy(&out, config, name);
        }
        let outputs = read_json(out.join(name).join("outputs.json"));
        let output = |key: &str| outputs[key].as_str().unwrap().to_owned();
        // The local environments are `local` and `local-<orchestrator>`.
        let local = Some(out.join("local")).filter(|d| {
            (name == "local" || name.starts_with("local-")) && d.join("runner.json").is_file()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // As the SDK finds them: AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, credentials. (Run by
        // hand on the local environment without AWS_ENDPOINT_URL: its router, as `cargo xtask
        // test` would have set it.)
        let mut loader = hitl_aws::config_loader();
        if let Some(dir) = local
            .as_ref()
            .filter(|_| std::env::var_os("AWS_ENDPOINT_URL").is_none())
        {
            let runner = read_json(dir.join("runner.json"));
            loader = loader
                .endpoint_url(format!("http://127.0.0.1:{}", runner["router_port"]))
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "local", "local", None, None, "e2e",
                ));
        }
        let sdk = runtime.block_on(loader.load());
        let (slack_url, slack_posts) = fake_webhook();
        let config_text = std::fs::read_to_string(root.join(config)).unwrap();
        let project = config_text
            .lines()
            .find_map(|l| l.strip_prefix("project: ").map(|p| p.trim().to_owned()))
            .expect("a project line");
        let stack = format!("{project}-{name}");
        let mut env = Env {
            config: config.to_owned(),
            slack: local.is_some()
                && config_text.contains("slack_webhook_parameter:")
                && outputs.get("SlackInteractionsUrl").is_none(),
            slack_app: None,
            local,
            review_base: output("ReviewBaseUrl"),
            outputs: outputs.clone(),
            inbox: None,
            stack,
            name: name.to_owned(),
            workflow: kit_aws::workflow::Workflow::of(
                &serde_json::from_value(outputs.clone()).unwrap(),
            )
            .unwrap(),
            table: output("TableName"),
            runtime,
            sdk,
            http: agent(Duration::from_secs(60)),
            patience: None,
            mailbox: Mutex::new(Vec::new()),
            collecting: Mutex::new(()),
            slack_url,
            slack_posts,
        };
        if env.slack {
            env.put_secret(&env.parameter("slack-webhook"), &env.slack_url);
        }
        env.slack_app = env.slack_workspace();
        let (topic, name) = (output("TopicArn"), inbox_name(&env.stack));
        env.inbox = Some(
            env.runtime
                .block_on(Inbox::subscribe(&env.sdk, &topic, &name)),
        );
        env
    }

    /// The name of the environment's own parameter `leaf` in the local config,
    /// `/e2e/<environment>/<leaf>`: each stack's functions keep what they read, and the stacks'
    /// suites run side by side.
    pub fn parameter(&self, leaf: &str) -> String {
        format!("/e2e/{}/{leaf}", self.name)
    }

    /// Puts `value` in the SecureString parameter `name`.
    pub fn put_secret(&self, name: &str, value: &str) {
        self.runtime.block_on(async {
            aws_sdk_ssm::Client::new(&self.sdk)
                .put_parameter()
                .name(name)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .value(value)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        });
    }

    /// Moves what the inbox holds into the mailbox. One thread collects at a time; the others
    /// find its catch in the mailbox (a crowd of pollers would only load the queue).
    fn collect_mail(&self) {
        let Ok(_collecting) = self.collecting.try_lock() else {
            std::thread::sleep(Duration::from_millis(50));
            return;
        };
        let inbox = self
            .inbox
            .as_ref()
            .expect("the inbox is subscribed at deploy");
        let received = self.runtime.block_on(inbox.collect(&self.sdk));
        self.mailbox.lock().unwrap().extend(received);
    }

    /// Waits for a message to `reviewer` matching `wanted`.
    pub fn wait_for_message(&self, reviewer: &str, wanted: impl Fn(&Message) -> bool) -> Message {
        let started = Instant::now();
        loop {
            if let Some(m) = self
                .mailbox
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.reaches(reviewer) && wanted(m))
            {
                return m.clone();
            }
            assert!(
                started.elapsed() < self.patience(),
                "no such message to {reviewer} within {:?}",
                self.patience()
            );
            self.collect_mail();
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The Slack posts mentioning `text`, waiting up to `wait` for at least one.
    pub fn slack_posts_about(&self, text: &str, wait: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let found: Vec<Value> = self
                .slack_posts
                .lock()
                .unwrap()
                .iter()
                .filter(|p| p.contains(text))
                .map(|p| serde_json::from_str(p).unwrap())
                .collect();
            if !found.is_empty() || started.elapsed() > wait {
                return found;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every message received so far whose body mentions `text`.
    pub fn messages_about(&self, text: &str) -> Vec<Message> {
        self.collect_mail();
        self.mailbox
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.body.contains(text))
            .cloned()
            .collect()
    }

    pub fn start(&self, label: &str) -> Run {
        let title = format!("e2e {label} {}", nonce());
        let arn = self.start_raw(json!({
            "title": title,
            "requester": "carl@example.com",
            "amount": 120.5,
            "currency": "EUR",
        }));
        Run { arn, title }
    }

    pub fn start_raw(&self, input: Value) -> String {
        let name = format!("e2e-{}", nonce());
        self.runtime
            .block_on(self.workflow.start(&self.aws(), &name, &input.to_string()))
            .unwrap()
    }

    /// Whether the durable workflow (not a state machine) runs the approvals.
    pub fn durable(&self) -> bool {
        matches!(self.workflow, kit_aws::workflow::Workflow::Durable(_))
    }

    fn aws(&self) -> kit_aws::Aws {
        kit_aws::Aws {
            sdk: self.sdk.clone(),
            local: None,
        }
    }

    /// The link in the request message `reviewer` got for `title`, once the request function
    /// is done with the request (its Slack post marked).
    pub fn link(&self, title: &str, reviewer: &str) -> String {
        let link = self.link_in_message(title, reviewer);
        // The request function posts to Slack (this environment has a webhook) after the emails
        // and then marks the record: wait for that, so a test's snapshot of the record is the
        // final one and not a moment in the middle of the request.
        let deadline = Instant::now() + Duration::from_secs(20);
        let posts = self.slack || self.slack_app.is_some();
        while posts && self.record(&link)["slack_sent_at"].is_null() {
            assert!(
                Instant::now() < deadline,
                "the request function never posted to Slack"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        link
    }

    /// With the Slack app on the local environment: its secrets in SSM, and the router's
    /// stand-in for Slack set up as its workspace.
    fn slack_workspace(&self) -> Option<slack::Workspace> {
        let url = self.outputs.get("SlackInteractionsUrl")?.as_str()?;
        let router = self.router()?;
        let token = self.secret_parameter(&self.parameter("slack-bot-token"), "xoxb-e2e-");
        let secret = self.secret_parameter(&self.parameter("slack-signing-secret"), "");
        Some(slack::Workspace::set_up(
            &router,
            &self.stack,
            &token,
            &secret,
            url,
        ))
    }

    /// The SecureString `name`: as it is, or made now with a fresh value starting with `prefix`
    /// (every test binary of a local environment sees the same one: its functions keep what
    /// they read).
    fn secret_parameter(&self, name: &str, prefix: &str) -> String {
        self.runtime.block_on(async {
            let ssm = aws_sdk_ssm::Client::new(&self.sdk);
            let found = ssm
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await;
            if let Some(value) = found.ok().and_then(|f| f.parameter?.value) {
                return value;
            }
            let value = format!("{prefix}{}{}", nonce(), nonce());
            ssm.put_parameter()
                .name(name)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .value(&value)
                .overwrite(true)
                .send()
                .await
                .unwrap();
            value
        })
    }

    /// The link in the request message `reviewer` got for `title`, as soon as it came.
    pub fn link_in_message(&self, title: &str, reviewer: &str) -> String {
        let subject = format!("Approval needed: {title}");
        let message = self.wait_for_message(reviewer, |m| m.subject == subject);
        let link = message.body.lines().find(|l| l.contains("/approvals/"));
        link.expect("a link in the message").trim().to_owned()
    }

    /// The environment's stack.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// One of the stack's outputs.
    pub fn output(&self, key: &str) -> String {
        self.outputs[key].as_str().unwrap().to_owned()
    }

    /// Deploys `template` (a stack of the user's own) with `parameters`, and makes its state
    /// machine executable where the environment is local (moto cannot execute one
    /// CloudFormation made). The stack is deleted when the returned guard drops.
    pub fn deploy_own_stack(
        &self,
        name: &str,
        template: &str,
        parameters: &[(&str, &str)],
    ) -> OwnStack<'_> {
        use aws_sdk_cloudformation::types::{Capability, Parameter};
        record_stack(name);
        let cfn = aws_sdk_cloudformation::Client::new(&self.sdk);
        self.runtime.block_on(async {
            cfn.create_stack()
                .stack_name(name)
                .template_body(template)
                .set_parameters(Some(
                    parameters
                        .iter()
                        .map(|(k, v)| {
                            Parameter::builder()
                                .parameter_key(*k)
                                .parameter_value(*v)
                                .build()
                        })
                        .collect(),
                ))
                .capabilities(Capability::CapabilityIam)
                .send()
                .await
                .unwrap();
        });
        // From here on the stack goes when the guard does, whatever happens next.
        let mut stack = OwnStack {
            env: self,
            name: name.to_owned(),
            outputs: Default::default(),
        };
        stack.outputs = self.runtime.block_on(async {
            // The kit's own wait: fails naming each failed resource and its reason.
            kit_deploy::stack::wait_for_success(&cfn, name, Duration::from_secs(600))
                .await
                .unwrap();
            kit_deploy::stack::find(&cfn, name)
                .await
                .unwrap()
                .expect("the stack just made")
                .outputs
                .into_iter()
                .collect()
        });
        if let Some(dir) = &self.local {
            let runner = kit_local::runner::recorded_at(dir).expect("the local runner");
            let aws = kit_aws::Aws {
                sdk: self.sdk.clone(),
                local: Some(runner.endpoint()),
            };
            let given: std::collections::BTreeMap<String, String> = parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            self.runtime.block_on(async {
                let mut values = stack.outputs.clone();
                values.extend(
                    kit_local::emulation::sub_map_values(&aws, template, &given)
                        .await
                        .unwrap(),
                );
                kit_local::emulation::make_executable(&aws, name, template, &values)
                    .await
                    .unwrap();
            });
        }
        stack
    }

    /// Starts an execution of `state_machine` with `input`.
    pub fn start_on(&self, state_machine: &str, input: Value) -> String {
        self.runtime.block_on(async {
            aws_sdk_sfn::Client::new(&self.sdk)
                .start_execution()
                .state_machine_arn(state_machine)
                .name(format!("e2e-{}", nonce()))
                .input(input.to_string())
                .send()
                .await
                .unwrap()
                .execution_arn
        })
    }

    /// Stops an execution, as an operator would.
    pub fn stop(&self, arn: &str) {
        self.runtime.block_on(async {
            if self.durable() {
                aws_sdk_lambda::Client::new(&self.sdk)
                    .stop_durable_execution()
                    .durable_execution_arn(arn)
                    .send()
                    .await
                    .unwrap();
            } else {
                aws_sdk_sfn::Client::new(&self.sdk)
                    .stop_execution()
                    .execution_arn(arn)
                    .send()
                    .await
                    .unwrap();
            }
        });
    }

    /// `{status, output, error, cause}` of an execution, in Step Functions' words (a durable
    /// execution's are the same: `RUNNING`, `SUCCEEDED`, `FAILED`…).
    pub fn execution(&self, arn: &str) -> Value {
        use kit_aws::workflow::Status;
        let execution = self
            .runtime
            .block_on(self.workflow.describe(&self.aws(), arn))
            .unwrap();
        let (status, error, cause) = match execution.status {
            Status::Running => ("RUNNING".to_owned(), None, None),
            Status::Succeeded => ("SUCCEEDED".to_owned(), None, None),
            Status::Ended {
                status,
                error,
                cause,
            } => (status, Some(error), Some(cause)),
        };
        json!({
            "status": status,
            "output": execution.output,
            "error": error,
            "cause": cause,
        })
    }

    pub fn wait_for_end(&self, arn: &str) -> Value {
        let started = Instant::now();
        loop {
            let execution = self.execution(arn);
            if execution["status"] != "RUNNING" {
                return execution;
            }
            let patience = self.patience.unwrap_or(Duration::from_secs(90));
            assert!(
                started.elapsed() < patience,
                "{arn} still running after {patience:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The execution's history events (the first thousand: plenty for one approval).
    fn history(&self, arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        self.runtime.block_on(async {
            aws_sdk_sfn::Client::new(&self.sdk)
                .get_execution_history()
                .execution_arn(arn)
                .max_results(1000)
                .send()
                .await
                .unwrap()
                .events
        })
    }

    /// How many times the request function was started again after it refused the request
    /// (`Hitl.InvalidRequest`): the Lambda tasks scheduled after that failure, or the durable
    /// execution's submitter steps beyond its first; `None` when the history shows no refusal.
    pub fn attempts_after_refusal(&self, arn: &str) -> Option<usize> {
        if self.durable() {
            return Some(self.request_attempts(arn).saturating_sub(1));
        }
        let history = self.history(arn);
        let refused = history.iter().position(|e| {
            let failed = e.task_failed_event_details.as_ref();
            failed.and_then(|d| d.error.as_deref()) == Some("Hitl.InvalidRequest")
        })?;
        let after = history[refused..]
            .iter()
            .filter_map(|e| e.task_scheduled_event_details.as_ref())
            .filter(|d| d.resource_type == "lambda")
            .count();
        Some(after)
    }

    /// How many times the request function was started for the execution: its Lambda tasks
    /// scheduled (a retried task is scheduled again), or the durable execution's submitter steps
    /// started (the callback's submitter is the one step without a name; the endings' are
    /// named).
    pub fn request_attempts(&self, arn: &str) -> usize {
        if self.durable() {
            return self
                .durable_history(arn)
                .iter()
                .filter(|e| e.event_type == Some(aws_sdk_lambda::types::EventType::StepStarted))
                .filter(|e| e.name.as_deref().is_none_or(str::is_empty))
                .count();
        }
        self.history(arn)
            .iter()
            .filter_map(|e| e.task_scheduled_event_details.as_ref())
            .filter(|d| d.resource_type == "lambda")
            .count()
    }

    /// How many times the approval task was resumed with a decision: the TaskSucceeded events
    /// of the Lambda task (the SNS notifications are tasks too), or the durable execution's
    /// CallbackSucceeded events.
    pub fn decisions_delivered(&self, arn: &str) -> usize {
        self.runtime
            .block_on(self.workflow.decisions_delivered(&self.aws(), arn))
            .unwrap()
    }

    /// A durable execution's history events.
    pub fn durable_history(&self, arn: &str) -> Vec<aws_sdk_lambda::types::Event> {
        self.runtime.block_on(async {
            aws_sdk_lambda::Client::new(&self.sdk)
                .get_durable_execution_history()
                .durable_execution_arn(arn)
                .max_items(1000)
                .send()
                .await
                .unwrap()
                .events
        })
    }

    /// The payload Step Functions gave the approval task (from the execution history, where
    /// anyone allowed `states:GetExecutionHistory` reads it), waiting for it to be scheduled.
    pub fn task_payload(&self, arn: &str) -> Value {
        let started = Instant::now();
        loop {
            let scheduled = self
                .history(arn)
                .into_iter()
                .filter_map(|e| e.task_scheduled_event_details)
                .find(|d| d.resource_type == "lambda");
            if let Some(details) = scheduled {
                let parameters: Value = serde_json::from_str(&details.parameters).unwrap();
                return parameters["Payload"].clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the approval task of {arn} was never scheduled"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The key of a link's item: an independent computation of base32(SHA-256("link" ‖ 0 ‖ L)).
    pub fn link_key(link: &str) -> String {
        use data_encoding::BASE32_NOPAD;
        use sha2::{Digest, Sha256};
        let id = link.rsplit('/').next().unwrap();
        let digest = Sha256::digest(format!("link\0{id}").as_bytes());
        BASE32_NOPAD.encode(&digest)[..26].to_ascii_lowercase()
    }

    /// Every item of the table that names the approval `id` (its link items), as JSON.
    pub fn items_of(&self, id: &str) -> Vec<Value> {
        self.runtime.block_on(async {
            aws_sdk_dynamodb::Client::new(&self.sdk)
                .scan()
                .table_name(&self.table)
                .filter_expression("approval_id = :a")
                .expression_attribute_values(":a", AttributeValue::S(id.to_owned()))
                .send()
                .await
                .unwrap()
                .items
                .unwrap_or_default()
                .iter()
                .map(item_json)
                .collect()
        })
    }

    /// The approval record a link opens, as JSON.
    pub fn record(&self, link: &str) -> Value {
        let link_id = Self::link_key(link);
        self.runtime.block_on(async {
            let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk);
            let get = |id: String| {
                dynamodb
                    .get_item()
                    .table_name(&self.table)
                    .key("id", AttributeValue::S(id))
                    .consistent_read(true)
                    .send()
            };
            let link = get(link_id.clone())
                .await
                .unwrap()
                .item
                .expect("the link item");
            let approval_id = link["approval_id"].as_s().unwrap().clone();
            let item = get(approval_id)
                .await
                .unwrap()
                .item
                .expect("the approval record");
            item_json(&item)
        })
    }

    /// Puts the decided record a link opens back to what a settle that never landed leaves
    /// (`deciding`, its claim held), its expiry `ago` seconds past: as the review function's
    /// write throttled past every retry, or its instance dying after the send, would.
    pub fn unsettle(&self, link: &str, ago: u64) {
        let id = self.record(link)["id"].as_str().unwrap().to_owned();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.runtime.block_on(async {
            aws_sdk_dynamodb::Client::new(&self.sdk)
                .update_item()
                .table_name(&self.table)
                .key("id", AttributeValue::S(id))
                .update_expression(
                    "SET #status = :deciding, claimed_at = decided_at, expires_at = :past \
                     REMOVE decided_at",
                )
                .condition_expression("#status IN (:approved, :rejected)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":deciding", AttributeValue::S("deciding".into()))
                .expression_attribute_values(":approved", AttributeValue::S("approved".into()))
                .expression_attribute_values(":rejected", AttributeValue::S("rejected".into()))
                .expression_attribute_values(":past", AttributeValue::N((now - ago).to_string()))
                .send()
                .await
                .unwrap();
        });
    }

    pub fn get(&self, url: &str) -> Page {
        page(self.http.get(url).call().unwrap())
    }

    /// Puts `body` at `bucket`/`key`, making the bucket first if it is not there.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        self.runtime.block_on(async {
            let config = aws_sdk_s3::config::Builder::from(&self.sdk)
                .force_path_style(true)
                .build();
            let s3 = aws_sdk_s3::Client::from_conf(config);
            if s3.head_bucket().bucket(bucket).send().await.is_err() {
                // The suite of another stack beside may make it first.
                let _ = s3.create_bucket().bucket(bucket).send().await;
            }
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.to_vec().into())
                .send()
                .await
                .unwrap();
        });
    }

    /// A GET that does not follow a redirect: (status, `Location`).
    pub fn get_unfollowed(&self, url: &str) -> (u16, Option<String>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let response = agent.get(url).call().unwrap();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), location)
    }

    /// How long the local environment's role sessions last (`None` in an account, where
    /// Lambda's last hours).
    pub fn session_seconds(&self) -> Option<u64> {
        let runner = read_json(self.local.as_ref()?.join("runner.json"));
        runner["session_seconds"].as_u64()
    }

    /// A plain GET, as a browser follows a download link: (status, body bytes).
    pub fn download(&self, url: &str) -> (u16, Vec<u8>) {
        let mut response = self.http.get(url).call().unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec().unwrap();
        (status, body)
    }

    pub fn head(&self, url: &str) -> u16 {
        self.http.head(url).call().unwrap().status().as_u16()
    }

    /// A POST as a browser sends it from the review page.
    pub fn post(&self, url: &str, decision: &str, comment: &str) -> Page {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let form = format!(
            "decision={decision}&comment={}",
            utf8_percent_encode(comment, NON_ALPHANUMERIC)
        );
        let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
        self.post_raw(
            url,
            &form,
            &[
                ("Origin", origin.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
    }

    pub fn post_raw(&self, url: &str, form: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self
            .http
            .post(url)
            .content_type("application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        page(request.send(form).unwrap())
    }

    /// Invokes the request function as Step Functions does (Lambda's Invoke API, the function
    /// by name): (HTTP status, body, X-Amz-Function-Error).
    pub fn invoke_request(&self, payload: &Value) -> (u16, String, Option<String>) {
        self.invoke("request", payload)
    }

    /// Invokes the stack's `function` (`request`, `remind`) synchronously, by name: (HTTP
    /// status, body, X-Amz-Function-Error).
    pub fn invoke(&self, function: &str, payload: &Value) -> (u16, String, Option<String>) {
        self.runtime.block_on(async {
            let out = aws_sdk_lambda::Client::new(&self.sdk)
                .invoke()
                .function_name(format!("{}-{function}", self.stack))
                .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
                .send()
                .await
                .unwrap();
            let body = out
                .payload
                .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
                .unwrap_or_default();
            (out.status_code as u16, body, out.function_error)
        })
    }

    /// Whether the request function posts to the suite's fake Slack webhook.
    pub fn slack(&self) -> bool {
        self.slack
    }

    /// The text of a local process's log (`lambda.log`, `router.log`, `moto.log`); `None`
    /// away from the local environment.
    /// `cargo xtask <args>` on this suite's config and environment: (success, stdout, stderr).
    pub fn xtask(&self, args: &[&str]) -> (bool, String, String) {
        let root = kit_root();
        let out = std::env::var_os("HITL_OUTPUT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target").join("e2e"));
        let name = std::env::var("HITL_E2E_ENV").unwrap_or_else(|_| "local".to_owned());
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(&root)
            .env("HITL_OUTPUT_DIR", &out)
            .env("NO_COLOR", "1")
            .args(["--config", &self.config, "--env", &name])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Arms a fault of the local environment's router (see `kit_local::faults`) until
    /// [`Env::disarm_faults`]; `false` where there is no local environment (in an account).
    /// The fault touches this stack's calls only (unless it names a stack): the suites of other
    /// stacks run beside.
    pub fn arm_fault(&self, mut fault: Value) -> bool {
        let Some(router) = self.router() else {
            return false;
        };
        if fault.get("stack").is_none() {
            fault["stack"] = Value::from(self.stack.as_str());
        }
        let response = self
            .http
            .post(format!("{router}/hitl-local/faults"))
            .send(fault.to_string())
            .unwrap();
        assert_eq!(response.status(), 204, "the router took no fault: {fault}");
        true
    }

    /// Disarms the router's faults when the returned guard drops, however the test ends: the
    /// suites after it share the stack.
    pub fn faults_disarmed_on_drop(&self) -> Disarm<'_> {
        Disarm(self)
    }

    /// Disarms the faults of this stack's (those of other stacks' suites stay armed).
    pub fn disarm_faults(&self) {
        if let Some(router) = self.router() {
            self.http
                .delete(format!("{router}/hitl-local/faults?stack={}", self.stack))
                .call()
                .unwrap();
        }
    }

    /// The faults injected into this stack's calls so far, in the order injected, each with what
    /// became of it (`account`: `unaccounted`, or how it was accounted for, as
    /// `kit_local::ledger::Account` names it). Empty outside the local environment.
    pub fn fault_accounts(&self) -> Vec<Value> {
        let Some(router) = self.router() else {
            return Vec::new();
        };
        let url = format!("{router}/hitl-local/faults?stack={}", self.stack);
        let body = self
            .http
            .get(url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let ledger: Value = serde_json::from_str(&body).unwrap();
        ledger["faults"].as_array().cloned().unwrap_or_default()
    }

    /// The local environment's router.
    fn router(&self) -> Option<String> {
        let runner = read_json(self.local.as_ref()?.join("runner.json"));
        Some(format!("http://127.0.0.1:{}", runner["router_port"]))
    }

    /// A log of the local environment's: `router.log`, `moto.log`…, and `lambda.log`, the
    /// functions' of this stack (`lambda-<stack>.log`: each stack's run apart).
    pub fn local_log(&self, name: &str) -> Option<String> {
        let dir = self.local.as_ref()?;
        let file = match name {
            "lambda.log" => format!("lambda-{}.log", self.stack),
            other => other.to_owned(),
        };
        Some(std::fs::read_to_string(dir.join(file)).unwrap())
    }
}

/// The bucket the policies suite's attachments are in: `HITL_E2E_BUCKET` (a throwaway bucket
/// `cargo xtask test --aws` makes), else the local environment's.
pub fn attachments_bucket() -> String {
    std::env::var("HITL_E2E_BUCKET").unwrap_or_else(|_| "e2e-attachments".to_owned())
}

impl Env {
    /// How long a message may take: two minutes here; five in an account, where EventBridge
    /// Scheduler runs a reminder within a minute of its time and SNS delivers when it may.
    pub fn patience(&self) -> Duration {
        if let Some(patience) = self.patience {
            return patience;
        }
        match self.local {
            Some(_) => Duration::from_secs(120),
            None => Duration::from_secs(300),
        }
    }

    /// How long after its due time a nudge has surely been sent, if it was to be.
    pub fn nudge_margin(&self) -> Duration {
        match self.local {
            Some(_) => Duration::from_secs(6),
            None => Duration::from_secs(150),
        }
    }
}

/// A stack of the user's own, deleted on drop.
pub struct OwnStack<'a> {
    env: &'a Env,
    name: String,
    pub outputs: std::collections::BTreeMap<String, String>,
}

impl Drop for OwnStack<'_> {
    /// Deletes the stack and waits until it is gone (it imports the kit stack's export, which
    /// cannot be deleted while it does).
    /// A stack that cannot be deleted is said, by name, with the command that removes it (the
    /// kit's stack cannot be destroyed while this one imports its export).
    fn drop(&mut self) {
        let cfn = aws_sdk_cloudformation::Client::new(&self.env.sdk);
        let deleted = self.env.runtime.block_on(kit_deploy::stack::delete(
            &cfn,
            &self.name,
            Duration::from_secs(600),
        ));
        if let Err(error) = deleted {
            eprintln!(
                "error: the suite's stack {} is not deleted ({error:#}): remove it with `aws \
                 cloudformation delete-stack --stack-name {}`, then destroy the kit's stack",
                self.name, self.name
            );
        }
    }
}

/// Notes a stack the suite makes in `stacks.txt` of the output directory, so that a run's
/// teardown can name every stack it made.
fn record_stack(name: &str) {
    use std::io::Write;
    let Some(dir) = std::env::var_os("HITL_OUTPUT_DIR") else {
        return;
    };
    let path = PathBuf::from(dir).join(STACKS_FILE);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{name}");
    }
}

/// The file of the stacks the suites made beside the environments' own.
pub const STACKS_FILE: &str = "stacks.txt";

/// A Slack incoming webhook on a free port: answers `ok`, keeps every body.
/// On `HITL_E2E_SLACK_PORT` when set: `cargo xtask test` gives every test binary of a stack
/// with the webhook the same port, since a function instance reads the webhook's URL once and
/// keeps it, and those binaries run one after the other against the same instances.
fn fake_webhook() -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    let port = std::env::var("HITL_E2E_SLACK_PORT").unwrap_or_else(|_| "0".to_owned());
    fake_webhook_on(&port)
}

/// A webhook on loopback `port` (`0`: a free one): answers `ok`, keeps every body; its URL
/// has a secret-looking path, to check it never reaches a log.
pub fn fake_webhook_on(port: &str) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    let server = tiny_http::Server::http(format!("127.0.0.1:{port}")).unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let posts = std::sync::Arc::new(Mutex::new(Vec::new()));
    let kept = posts.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            kept.lock().unwrap().push(body);
            let _ = request.respond(tiny_http::Response::from_string("ok"));
        }
    });
    // A secret-looking path, to check it never reaches a log.
    (
        format!("http://127.0.0.1:{port}/services/T000/B000/{}", nonce()),
        posts,
    )
}

fn page(mut response: ureq::http::Response<ureq::Body>) -> Page {
    Page {
        status: response.status().as_u16(),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    fn value(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!(s),
            AttributeValue::N(n) => n
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(n.parse::<f64>().unwrap())),
            AttributeValue::Bool(b) => json!(b),
            AttributeValue::Null(_) => Value::Null,
            AttributeValue::L(l) => Value::Array(l.iter().map(value).collect()),
            AttributeValue::M(m) => item_json(m),
            AttributeValue::Ss(s) => json!(s),
            other => json!(format!("{other:?}")),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

/// chromedriver on a free port, stopped on drop.
pub struct ChromeDriver {
    child: std::process::Child,
    pub url: String,
}

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver (Debian: apt-get install chromium chromium-driver)");
        wait_for_port(port, "chromedriver");
        ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
