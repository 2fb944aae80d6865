//! The data the templates see: the effective config, flattened into the values CloudFormation
//! wants (seconds, lists of tags, logical IDs).

use serde::Serialize;
use sha2::{Digest, Sha256};

use kit_config::{
    Effective,
    values::{DeletionPolicy, Orchestrator},
};

/// The name of the API stage in review links.
pub const STAGE_NAME: &str = "v1";
/// Seconds the execution may outlive the approval timeout before its own timeout stops it.
pub const BACKSTOP_MARGIN_SECONDS: u64 = 3_600;

#[derive(Serialize)]
pub struct StackContext<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub stack_name: &'a str,
    pub approval_timeout_seconds: u64,
    pub execution_timeout_seconds: u64,
    pub retention_seconds: u64,
    pub reviewers: Vec<Reviewer<'a>>,
    /// Comma-separated, for the request function's environment.
    pub reviewer_list: String,
    /// Who the topic delivers to: the reviewers, then the escalation addresses that are not.
    pub subscribers: Vec<Reviewer<'a>>,
    /// How many reviewers must approve.
    pub quorum: u32,
    /// The schedules' settings: every approval's expiry check, its reminder and escalation.
    pub schedules: Schedules,
    /// The buckets the review function may read attachments from.
    pub attachment_buckets: Vec<&'a str>,
    /// The same, comma-separated, for the request function's environment.
    pub attachment_bucket_list: String,
    pub slack_webhook_parameter: Option<&'a str>,
    /// The customer managed key of that parameter, when it is not aws/ssm.
    pub slack_webhook_kms_key: Option<&'a str>,
    /// The parameter name without its leading `/`, as it follows `parameter/` in an ARN.
    pub slack_parameter_path: Option<&'a str>,
    /// The Slack app, when the environment has one.
    pub slack_app: Option<SlackApp<'a>>,
    /// Sign-in, when the environment signs its reviewers in.
    pub sign_in: Option<SignIn<'a>>,
    /// The Teams webhook's parameter, and its path as it follows `parameter/` in an ARN.
    pub teams_webhook_parameter: Option<&'a str>,
    pub teams_parameter_path: Option<&'a str>,
    /// The customer managed key of that parameter, when it is not aws/ssm.
    pub teams_webhook_kms_key: Option<&'a str>,
    /// The alarms, and who they notify.
    pub alarms: Alarms<'a>,
    /// The dashboard's body (JSON for `!Sub`: see `dashboard.rs`).
    pub dashboard: String,
    pub lambda: Lambda,
    pub log_retention_days: u32,
    pub api: Api,
    pub table: Table,
    pub tags: Vec<Tag<'a>>,
    /// The workflow definition (JSON), for `DefinitionString`.
    pub definition: String,
    /// `step-functions` or `durable-function`, as the review function's `ORCHESTRATOR` reads it.
    pub orchestrator: &'static str,
    /// The durable workflow's settings; `null` under Step Functions.
    pub durable: Option<Durable>,
}

#[derive(Serialize)]
pub struct Schedules {
    pub remind_after_seconds: Option<u64>,
    pub escalate_after_seconds: Option<u64>,
    /// The escalation addresses, comma-separated (empty without escalation).
    pub escalate_list: String,
}

#[derive(Serialize)]
pub struct Durable {
    /// The execution's timeout, the backstop: [`execution_timeout_seconds`].
    pub execution_timeout_seconds: u64,
    /// How long a finished execution is kept: the retention in whole days, within Lambda's
    /// 1 to 90.
    pub retention_days: u64,
    /// The alias `start` invokes.
    pub alias: &'static str,
    /// A hash of the workflow function's whole configuration as rendered (environment, memory,
    /// timeout, role, durable settings, tags): in the published version's description, so that
    /// a change of any of them publishes a new version for the alias (a version freezes the
    /// configuration it was published with). Filled in by the renderer.
    pub configuration: String,
}

/// The alias of the durable workflow that executions start on.
pub const WORKFLOW_ALIAS: &str = "live";

/// Lambda keeps a finished durable execution 1 to 90 days (`RetentionPeriodInDays`).
pub fn durable_retention_days(retention_secs: u64) -> u64 {
    retention_secs.div_ceil(86_400).clamp(1, 90)
}

#[derive(Serialize)]
pub struct Reviewer<'a> {
    pub email: &'a str,
    /// `ReviewerSubscription` + 8 hex digits of the address's SHA-256: stable across renders and
    /// independent of the reviewers' order, so adding one reviewer touches one resource.
    pub logical_id: String,
}

/// The Slack app's settings, with its parameters' paths as their ARNs spell them.
#[derive(Serialize)]
pub struct SlackApp<'a> {
    pub channel: &'a str,
    pub api_url: &'a str,
    pub bot_token_parameter: &'a str,
    pub bot_token_path: &'a str,
    pub signing_secret_parameter: &'a str,
    pub signing_secret_path: &'a str,
    /// The customer managed key of both parameters, when it is not aws/ssm.
    pub kms_key: Option<&'a str>,
}

impl<'a> SlackApp<'a> {
    fn new(app: &'a kit_config::SlackApp) -> Self {
        let path = |p: &'a kit_config::values::ParameterName| p.as_str().trim_start_matches('/');
        Self {
            channel: app.channel.as_str(),
            api_url: app.api_url.as_str(),
            bot_token_parameter: app.bot_token_parameter.as_str(),
            bot_token_path: path(&app.bot_token_parameter),
            signing_secret_parameter: app.signing_secret_parameter.as_str(),
            signing_secret_path: path(&app.signing_secret_parameter),
            kms_key: app.kms_key.as_ref().map(|k| k.as_str()),
        }
    }
}

/// Sign-in's settings, with the client secret's parameter path as its ARN spells it.
#[derive(Serialize)]
pub struct SignIn<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret_parameter: Option<&'a str>,
    pub client_secret_path: Option<&'a str>,
    pub claim: &'a str,
    /// The client secret parameter's customer managed key, when it is not aws/ssm.
    pub kms_key: Option<&'a str>,
}

impl<'a> SignIn<'a> {
    fn new(sign_in: &'a kit_config::SignIn) -> Self {
        let secret = sign_in.client_secret_parameter.as_ref().map(|p| p.as_str());
        Self {
            issuer: sign_in.issuer.as_str(),
            client_id: sign_in.client_id.as_str(),
            client_secret_parameter: secret,
            client_secret_path: secret.map(|p| p.trim_start_matches('/')),
            claim: sign_in.claim.as_str(),
            kms_key: sign_in.kms_key.as_ref().map(|k| k.as_str()),
        }
    }
}

/// The stack's alarms: one on each function's errors and throttles, and on what the stack's
/// services count as failed; who they notify.
#[derive(Serialize)]
pub struct Alarms<'a> {
    /// The stack's alarm topic's subscribers (`AlarmSubscription` + a hash each); the topic is
    /// made only when there are any.
    pub emails: Vec<Subscriber<'a>>,
    /// An existing topic the alarms notify too.
    pub topic_arn: Option<&'a str>,
    /// Whether any alarm notifies anyone.
    pub notify: bool,
    /// The stack's functions, by name and logical ID prefix.
    pub functions: Vec<AlarmedFunction>,
    /// Every alarm's name (`<stack>-…`), as the alarm topic's policy names them.
    pub names: Vec<String>,
}

#[derive(Serialize)]
pub struct Subscriber<'a> {
    pub email: &'a str,
    pub logical_id: String,
}

#[derive(Serialize)]
pub struct AlarmedFunction {
    /// The binary (`review`): the function is `<stack>-<name>`.
    pub name: &'static str,
    /// `Review`: the alarms' logical IDs begin with it.
    pub logical_id: String,
}

impl<'a> Alarms<'a> {
    fn new(config: &'a Effective) -> Self {
        let emails: Vec<Subscriber> = config
            .alarm_emails
            .iter()
            .map(|e| Subscriber {
                email: e.as_str(),
                logical_id: format!("AlarmSubscription{}", short_hash(e.as_str())),
            })
            .collect();
        let topic_arn = config.alarm_topic_arn.as_ref().map(|t| t.as_str());
        let functions = config.functions().into_iter().map(|name| {
            let mut chars = name.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            let logical_id = first.into_iter().chain(chars).collect();
            AlarmedFunction { name, logical_id }
        });
        let functions: Vec<AlarmedFunction> = functions.collect();
        let stack = &config.stack_name;
        let per_function = functions
            .iter()
            .flat_map(|f| ["errors", "throttles"].map(|what| format!("{stack}-{}-{what}", f.name)));
        let services = [
            "api-5xx",
            "notifications-failed",
            "executions-failed",
            "executions-timed-out",
            "unsettled-approvals",
            "schedules-failed",
        ];
        let reminders = ["reminders-dead-letters", "remind-dead-letter-errors"];
        let queues = reminders.into_iter();
        let names = per_function
            .chain(
                services
                    .into_iter()
                    .chain(queues)
                    .map(|what| format!("{stack}-{what}")),
            )
            .collect();
        Self {
            notify: !emails.is_empty() || topic_arn.is_some(),
            emails,
            topic_arn,
            functions,
            names,
        }
    }
}

#[derive(Serialize)]
pub struct Lambda {
    pub architecture: &'static str,
    pub memory_mb: u32,
    pub timeout_seconds: u64,
}

#[derive(Serialize)]
pub struct Api {
    pub stage_name: &'static str,
    pub throttle_rate: f64,
    pub throttle_burst: u64,
    pub methods: [Method; 3],
    /// The methods of an attachment's link (`/approvals/{id}/attachments/{n}`).
    pub attachment_methods: [Method; 2],
    /// `ApiDeployment` + a hash of the rendered API; filled in by the renderer.
    pub deployment_id: String,
    /// Every method of the rendered template (the kit's and those an override adds), which the
    /// deployment waits for; filled in by the renderer.
    pub deployed_methods: Vec<String>,
}

#[derive(Serialize)]
pub struct Method {
    pub verb: &'static str,
    pub logical_id: &'static str,
    /// GET and HEAD never change state.
    pub safe: bool,
}

const METHODS: [Method; 3] = [
    Method {
        verb: "GET",
        logical_id: "ApprovalGetMethod",
        safe: true,
    },
    Method {
        verb: "HEAD",
        logical_id: "ApprovalHeadMethod",
        safe: true,
    },
    Method {
        verb: "POST",
        logical_id: "ApprovalPostMethod",
        safe: false,
    },
];

const ATTACHMENT_METHODS: [Method; 2] = [
    Method {
        verb: "GET",
        logical_id: "AttachmentGetMethod",
        safe: true,
    },
    Method {
        verb: "HEAD",
        logical_id: "AttachmentHeadMethod",
        safe: true,
    },
];

#[derive(Serialize)]
pub struct Table {
    pub deletion_policy: DeletionPolicy,
    /// UpdateReplacePolicy has no RetainExceptOnCreate.
    pub update_replace_policy: DeletionPolicy,
}

#[derive(Serialize)]
pub struct Tag<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

pub fn execution_timeout_seconds(config: &Effective) -> u64 {
    config.approval_timeout.secs() + BACKSTOP_MARGIN_SECONDS
}

/// 8 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn reviewer_logical_id(email: &str) -> String {
    format!("ReviewerSubscription{}", short_hash(email))
}

impl<'a> StackContext<'a> {
    pub fn new(config: &'a Effective, definition: String) -> Self {
        let alarms = Alarms::new(config);
        let dashboard = crate::dashboard::body(config, &alarms.names, STAGE_NAME);
        Self {
            project: config.project.as_str(),
            environment: config.environment.as_str(),
            stack_name: &config.stack_name,
            approval_timeout_seconds: config.approval_timeout.secs(),
            execution_timeout_seconds: execution_timeout_seconds(config),
            retention_seconds: config.retention.secs(),
            reviewers: config
                .reviewers
                .iter()
                .map(|e| reviewer(e.as_str()))
                .collect(),
            reviewer_list: joined(config.reviewers.iter().map(|e| e.as_str())),
            subscribers: subscribers(config),
            quorum: config.quorum.get(),
            schedules: Schedules {
                remind_after_seconds: config.remind_after.map(|d| d.secs()),
                escalate_after_seconds: config.escalation.as_ref().map(|e| e.after.secs()),
                escalate_list: joined(
                    config
                        .escalation
                        .iter()
                        .flat_map(|e| &e.to)
                        .map(|e| e.as_str()),
                ),
            },
            attachment_buckets: config
                .attachment_buckets
                .iter()
                .map(|b| b.as_str())
                .collect(),
            attachment_bucket_list: joined(config.attachment_buckets.iter().map(|b| b.as_str())),
            slack_webhook_parameter: config.slack_webhook_parameter.as_ref().map(|p| p.as_str()),
            slack_webhook_kms_key: config.slack_webhook_kms_key.as_ref().map(|k| k.as_str()),
            slack_parameter_path: config
                .slack_webhook_parameter
                .as_ref()
                .map(|p| p.as_str().trim_start_matches('/')),
            slack_app: config.slack_app.as_ref().map(SlackApp::new),
            sign_in: config.sign_in.as_ref().map(SignIn::new),
            teams_webhook_parameter: config.teams_webhook_parameter.as_ref().map(|p| p.as_str()),
            teams_webhook_kms_key: config.teams_webhook_kms_key.as_ref().map(|k| k.as_str()),
            teams_parameter_path: config
                .teams_webhook_parameter
                .as_ref()
                .map(|p| p.as_str().trim_start_matches('/')),
            alarms,
            dashboard,
            lambda: Lambda {
                architecture: config.lambda.architecture.as_str(),
                memory_mb: config.lambda.memory_mb.get(),
                timeout_seconds: config.lambda.timeout.secs(),
            },
            log_retention_days: config.log_retention_days.get(),
            api: Api {
                stage_name: STAGE_NAME,
                throttle_rate: config.api.throttle_rate.get(),
                throttle_burst: config.api.throttle_burst.get() as u64,
                methods: METHODS,
                attachment_methods: ATTACHMENT_METHODS,
                deployment_id: "ApiDeployment".to_owned(),
                deployed_methods: METHODS.iter().map(|m| m.logical_id.to_owned()).collect(),
            },
            table: Table {
                deletion_policy: config.table.deletion_policy,
                update_replace_policy: match config.table.deletion_policy {
                    DeletionPolicy::RetainExceptOnCreate => DeletionPolicy::Retain,
                    other => other,
                },
            },
            tags: tags(config),
            definition,
            orchestrator: config.orchestrator.as_str(),
            durable: (config.orchestrator == Orchestrator::DurableFunction).then(|| Durable {
                execution_timeout_seconds: execution_timeout_seconds(config),
                retention_days: durable_retention_days(config.retention.secs()),
                alias: WORKFLOW_ALIAS,
                configuration: String::new(),
            }),
        }
    }
}

/// The stack's tags: the kit's two, then the config's.
fn tags(config: &Effective) -> Vec<Tag<'_>> {
    let kit = [
        ("hitl:project", config.project.as_str()),
        ("hitl:environment", config.environment.as_str()),
    ];
    let configured = config.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    kit.into_iter()
        .chain(configured)
        .map(|(key, value)| Tag { key, value })
        .collect()
}

fn reviewer(email: &str) -> Reviewer<'_> {
    Reviewer {
        email,
        logical_id: reviewer_logical_id(email),
    }
}

/// Who the topic reaches: the reviewers, then each escalation recipient not among them.
fn subscribers(config: &Effective) -> Vec<Reviewer<'_>> {
    let escalated = config.escalation.iter().flat_map(|e| &e.to);
    let mut emails: Vec<&str> = config.reviewers.iter().map(|e| e.as_str()).collect();
    for email in escalated {
        if !emails.contains(&email.as_str()) {
            emails.push(email.as_str());
        }
    }
    emails.into_iter().map(reviewer).collect()
}

/// A list for a template: comma-separated.
fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}
