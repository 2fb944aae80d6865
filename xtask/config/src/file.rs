//! The shape of `hitl.yaml` as written by the user: every setting optional, unknown keys refused.

use std::{collections::BTreeMap, path::PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use super::values::{
    ApprovalTimeout, Architecture, BucketName, ClaimName, ClientId, DeletionPolicy, Email,
    Endpoint, EnvName, FunctionTimeout, IssuerUrl, KmsKeyArn, LogRetentionDays, MemoryMb,
    Orchestrator, ParameterName, PolicyDelay, ProjectName, Quorum, Region, Retention, SlackApiUrl,
    SlackChannelId, TagKey, TagValue, ThrottleBurst, ThrottleRate, TopicArn,
};

/// The hitl configuration: a project, settings shared by every environment, and per-environment
/// overrides. Precedence: command-line flag > environment > defaults > built-in defaults.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Project name: the stack is named `<project>-<environment>`.
    pub project: ProjectName,
    /// AWS region for every environment that does not set its own (else the AWS profile's).
    #[serde(default)]
    pub region: Option<Region>,
    /// AWS named profile for every environment that does not set its own.
    #[serde(default)]
    pub profile: Option<String>,
    /// Settings shared by every environment.
    #[serde(default)]
    pub defaults: Option<Settings>,
    /// Environments by name; each overrides any default.
    #[serde(default)]
    pub environments: BTreeMap<EnvName, Option<Settings>>,
}

/// Settings that `defaults` holds and that each environment may override.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// AWS region of this environment.
    pub region: Option<Region>,
    /// AWS named profile of this environment.
    pub profile: Option<String>,
    /// How long reviewers have to decide before the workflow takes its timeout branch (default 24h).
    pub approval_timeout: Option<ApprovalTimeout>,
    /// How long a record is kept after it expires, before DynamoDB TTL removes it (default 30d).
    pub retention: Option<Retention>,
    /// Reviewers' email addresses; each gets an SNS email subscription and his own link.
    /// An environment's list replaces the defaults' list; `--email` adds to it.
    pub reviewers: Option<Vec<Email>>,
    /// How many different reviewers must approve a request (default 1); one rejection rejects
    /// it. At most the number of reviewers.
    pub quorum: Option<Quorum>,
    /// After how long each reviewer who has not voted gets one reminder with his own link
    /// (before approval_timeout; default: no reminder).
    pub remind_after: Option<PolicyDelay>,
    /// After how long the request goes to `escalate_to` too, each with a link of his own and a
    /// message saying why (before approval_timeout; default: no escalation).
    pub escalate_after: Option<PolicyDelay>,
    /// Who an escalated request goes to: email addresses, each subscribed like a reviewer.
    pub escalate_to: Option<Vec<Email>>,
    /// The S3 buckets a request's attachments may come from: the review function may read
    /// objects in these alone (`s3:GetObject`), and a request naming another bucket fails.
    pub attachment_buckets: Option<Vec<BucketName>>,
    /// Sign-in with the company's OpenID Connect identity provider: every review link and
    /// attachment link opens only after the reviewer signs in, and only for the reviewer it was
    /// sent to.
    pub sign_in: Option<SignInSettings>,
    /// Name of the SSM SecureString parameter holding a Slack incoming-webhook URL (optional).
    pub slack_webhook_parameter: Option<ParameterName>,
    /// The ARN of the customer managed KMS key that encrypts that parameter, if it is not the
    /// AWS managed key aws/ssm: the request function may then decrypt with it, through SSM only.
    pub slack_webhook_kms_key: Option<KmsKeyArn>,
    /// Name of the SSM SecureString parameter holding a Microsoft Teams Workflows webhook URL (a
    /// workflow "when a Teams webhook request is received" that posts the card in a channel).
    /// Office 365 connectors are retired.
    pub teams_webhook_parameter: Option<ParameterName>,
    /// The ARN of the customer managed KMS key that encrypts that parameter, if it is not the
    /// AWS managed key aws/ssm: the functions that post may then decrypt with it, through SSM
    /// only.
    pub teams_webhook_kms_key: Option<KmsKeyArn>,
    /// The Slack app: requests posted with Approve and Reject buttons, decided in Slack by the
    /// reviewer who clicks (matched by his Slack profile's email). It replaces
    /// `slack_webhook_parameter` where both are set.
    pub slack: Option<SlackSettings>,
    /// Who the stack's alarms notify: email addresses, each subscribed to the stack's alarm
    /// topic (a confirmation email first). An environment's list replaces the defaults' list.
    pub alarm_emails: Option<Vec<Email>>,
    /// An existing SNS topic the alarms notify too (one without KMS encryption, or under a
    /// customer managed key whose policy lets CloudWatch use it).
    pub alarm_topic_arn: Option<TopicArn>,
    /// The Lambda functions.
    pub lambda: Option<LambdaSettings>,
    /// Retention of every log group, in days (default 30).
    pub log_retention_days: Option<LogRetentionDays>,
    /// The review API.
    pub api: Option<ApiSettings>,
    /// The approvals table.
    pub table: Option<TableSettings>,
    /// Tags for every resource. An environment's tags are added to the defaults' tags.
    pub tags: Option<BTreeMap<TagKey, TagValue>>,
    /// A directory of template partials replacing or adding to the built-in ones
    /// (relative to this file).
    pub templates: Option<PathBuf>,
    /// `aws` (default) or `local` (the emulator on this machine).
    pub endpoint: Option<Endpoint>,
    /// What runs the workflow: `step-functions` (default: a state machine waiting on a task
    /// token) or `durable-function` (a Lambda durable function waiting on a callback; the SDK is
    /// a preview).
    pub orchestrator: Option<Orchestrator>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LambdaSettings {
    /// `arm64` (default) or `x86_64`.
    pub architecture: Option<Architecture>,
    /// Memory in MB, 128 to 10240 (default 256).
    pub memory_mb: Option<MemoryMb>,
    /// Function timeout (default 10s, at most 900s).
    pub timeout: Option<FunctionTimeout>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The id of the channel requests are posted in (C0123456789), the app's bot invited to it.
    pub channel: Option<SlackChannelId>,
    /// Name of the SSM SecureString parameter holding the bot token (xoxb-…).
    pub bot_token_parameter: Option<ParameterName>,
    /// Name of the SSM SecureString parameter holding the app's signing secret.
    pub signing_secret_parameter: Option<ParameterName>,
    /// Slack's Web API (default https://slack.com/api/; GovSlack: https://slack-gov.com/api/).
    pub api_url: Option<SlackApiUrl>,
    /// The ARN of the customer managed KMS key that encrypts both parameters, if it is not the
    /// AWS managed key aws/ssm: the functions may then decrypt with it, through SSM only.
    pub kms_key: Option<KmsKeyArn>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInSettings {
    /// The identity provider's issuer, exactly as its discovery document
    /// (`<issuer>/.well-known/openid-configuration`) gives it: the ID token's `iss` must equal
    /// it. `https://`; `http://` to 127.0.0.1 or localhost for the local environment alone.
    pub issuer: Option<IssuerUrl>,
    /// The client id the identity provider gave the kit's application.
    pub client_id: Option<ClientId>,
    /// Name of the SSM SecureString parameter holding the client secret, for a confidential
    /// client (optional: a public client needs none).
    pub client_secret_parameter: Option<ParameterName>,
    /// The ID token claim matched against the reviewers' addresses (default email).
    pub claim: Option<ClaimName>,
    /// The ARN of the customer managed KMS key that encrypts the client secret's parameter, if
    /// it is not the AWS managed key aws/ssm: the review function may then decrypt with it,
    /// through SSM only.
    pub kms_key: Option<KmsKeyArn>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Steady-state requests per second (default 10).
    pub throttle_rate: Option<ThrottleRate>,
    /// Burst of requests (default 20).
    pub throttle_burst: Option<ThrottleBurst>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableSettings {
    /// `RetainExceptOnCreate` (default: kept, unless the stack's first create fails), `Retain` or
    /// `Delete`.
    pub deletion_policy: Option<DeletionPolicy>,
}

/// Layers `top` over `self`, field by field: what `top` sets wins.
pub trait Layer {
    fn layer(self, top: Self) -> Self;
}

impl<T> Layer for Option<T> {
    fn layer(self, top: Self) -> Self {
        top.or(self)
    }
}

macro_rules! layer_structs {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Layer for $ty {
            fn layer(self, top: Self) -> Self {
                Self { $($field: self.$field.layer(top.$field)),* }
            }
        }
    )*};
}

layer_structs! {
    LambdaSettings { architecture, memory_mb, timeout }
    ApiSettings { throttle_rate, throttle_burst }
    TableSettings { deletion_policy }
    SlackSettings { channel, bot_token_parameter, signing_secret_parameter, api_url, kms_key }
    SignInSettings { issuer, client_id, client_secret_parameter, claim, kms_key }
}

impl Layer for Settings {
    fn layer(self, top: Self) -> Self {
        fn nested<T: Layer + Default>(low: Option<T>, top: Option<T>) -> Option<T> {
            match (low, top) {
                (Some(low), Some(top)) => Some(low.layer(top)),
                (low, top) => top.or(low),
            }
        }
        let tags = match (self.tags, top.tags) {
            (Some(mut low), Some(top)) => {
                low.extend(top);
                Some(low)
            }
            (low, top) => top.or(low),
        };
        Self {
            region: self.region.layer(top.region),
            profile: self.profile.layer(top.profile),
            approval_timeout: self.approval_timeout.layer(top.approval_timeout),
            retention: self.retention.layer(top.retention),
            reviewers: self.reviewers.layer(top.reviewers),
            quorum: self.quorum.layer(top.quorum),
            remind_after: self.remind_after.layer(top.remind_after),
            escalate_after: self.escalate_after.layer(top.escalate_after),
            escalate_to: self.escalate_to.layer(top.escalate_to),
            attachment_buckets: self.attachment_buckets.layer(top.attachment_buckets),
            sign_in: nested(self.sign_in, top.sign_in),
            slack_webhook_parameter: self
                .slack_webhook_parameter
                .layer(top.slack_webhook_parameter),
            slack_webhook_kms_key: self.slack_webhook_kms_key.layer(top.slack_webhook_kms_key),
            teams_webhook_parameter: self
                .teams_webhook_parameter
                .layer(top.teams_webhook_parameter),
            teams_webhook_kms_key: self.teams_webhook_kms_key.layer(top.teams_webhook_kms_key),
            slack: nested(self.slack, top.slack),
            alarm_emails: self.alarm_emails.layer(top.alarm_emails),
            alarm_topic_arn: self.alarm_topic_arn.layer(top.alarm_topic_arn),
            lambda: nested(self.lambda, top.lambda),
            log_retention_days: self.log_retention_days.layer(top.log_retention_days),
            api: nested(self.api, top.api),
            table: nested(self.table, top.table),
            tags,
            templates: self.templates.layer(top.templates),
            endpoint: self.endpoint.layer(top.endpoint),
            orchestrator: self.orchestrator.layer(top.orchestrator),
        }
    }
}
