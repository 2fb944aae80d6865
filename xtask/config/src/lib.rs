//! `hitl.yaml`: reading, validating and merging it into the effective settings of one
//! environment. Pure apart from reading the file and checking that directories exist.
//!
//! Uses `kit-base` only (for the one-line error); no AWS SDK, no processes.

mod file;
mod locate;
pub mod values;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Serialize;

use kit_base::diagnostic::Diagnostic;

pub use file::ConfigFile;
use file::{Layer, Settings};
use values::{
    ApprovalTimeout, Architecture, BucketName, ClaimName, ClientId, DeletionPolicy, Email,
    Endpoint, EnvName, FunctionTimeout, IssuerUrl, KmsKeyArn, LogRetentionDays, MemoryMb,
    Orchestrator, ParameterName, PolicyDelay, ProjectName, Quorum, Region, Retention, SlackApiUrl,
    SlackChannelId, TagKey, TagValue, ThrottleBurst, ThrottleRate, TopicArn,
};

/// Values the command line sets, which win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub region: Option<Region>,
    pub profile: Option<String>,
    /// Added to the environment's reviewers.
    pub emails: Vec<Email>,
}

/// The settings of one environment after merging built-ins, defaults, the environment and the
/// command line. Everything the templates and the AWS verbs need, all values present.
#[derive(Clone, Debug, Serialize)]
pub struct Effective {
    pub project: ProjectName,
    pub environment: EnvName,
    pub stack_name: String,
    pub region: Option<Region>,
    pub profile: Option<String>,
    pub approval_timeout: ApprovalTimeout,
    pub retention: Retention,
    pub reviewers: Vec<Email>,
    pub quorum: Quorum,
    /// When reviewers who have not voted are reminded, if they are.
    pub remind_after: Option<PolicyDelay>,
    /// When, and to whom, an open request is escalated, if it is.
    pub escalation: Option<Escalation>,
    pub attachment_buckets: Vec<BucketName>,
    /// Sign-in with the identity provider, when the environment has it.
    pub sign_in: Option<SignIn>,
    pub slack_webhook_parameter: Option<ParameterName>,
    pub slack_webhook_kms_key: Option<KmsKeyArn>,
    pub teams_webhook_parameter: Option<ParameterName>,
    pub teams_webhook_kms_key: Option<KmsKeyArn>,
    /// The Slack app, when the environment has one.
    pub slack_app: Option<SlackApp>,
    /// Who the alarms notify: addresses subscribed to the stack's alarm topic, and an existing
    /// topic.
    pub alarm_emails: Vec<Email>,
    pub alarm_topic_arn: Option<TopicArn>,
    pub lambda: EffectiveLambda,
    pub log_retention_days: LogRetentionDays,
    pub api: EffectiveApi,
    pub table: EffectiveTable,
    pub tags: BTreeMap<TagKey, TagValue>,
    /// The override directory, resolved against the config file's directory.
    pub templates: Option<PathBuf>,
    pub endpoint: Endpoint,
    pub orchestrator: Orchestrator,
}

/// The Slack app's settings, all present.
#[derive(Clone, Debug, Serialize)]
pub struct SlackApp {
    pub channel: SlackChannelId,
    pub bot_token_parameter: ParameterName,
    pub signing_secret_parameter: ParameterName,
    pub api_url: SlackApiUrl,
    pub kms_key: Option<KmsKeyArn>,
}

/// Sign-in's settings, all present.
#[derive(Clone, Debug, Serialize)]
pub struct SignIn {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret_parameter: Option<ParameterName>,
    pub claim: ClaimName,
    /// The client secret parameter's customer managed key, when it is not aws/ssm.
    pub kms_key: Option<KmsKeyArn>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Escalation {
    pub after: PolicyDelay,
    pub to: Vec<Email>,
}

impl Effective {
    /// The function binaries the stack deploys: the orchestrator's, and the remind function,
    /// which every approval's expiry check invokes (and its reminders and escalation).
    pub fn functions(&self) -> Vec<&'static str> {
        let mut functions = self.orchestrator.functions().to_vec();
        functions.push("remind");
        functions
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EffectiveLambda {
    pub architecture: Architecture,
    pub memory_mb: MemoryMb,
    pub timeout: FunctionTimeout,
}

#[derive(Clone, Debug, Serialize)]
pub struct EffectiveApi {
    pub throttle_rate: ThrottleRate,
    pub throttle_burst: ThrottleBurst,
}

#[derive(Clone, Debug, Serialize)]
pub struct EffectiveTable {
    pub deletion_policy: DeletionPolicy,
}

/// A parsed config file with its source text, from which any environment can be resolved.
pub struct Config {
    pub path: PathBuf,
    text: String,
    pub file: ConfigFile,
}

impl Config {
    /// Reads and parses `path`, which messages show as given.
    pub fn load(path: &Path) -> Result<Self, Diagnostic> {
        let error = |message: String| Diagnostic {
            file: path.to_owned(),
            line: None,
            field: None,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            error(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "no such file: run from the kit's directory or pass --config PATH".to_owned()
                }
                std::io::ErrorKind::InvalidData => "not UTF-8 text".to_owned(),
                _ => format!("cannot read it ({e})"),
            })
        })?;
        Self::parse(path, text)
    }

    /// Parses config text read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, Diagnostic> {
        let has_content = text.lines().any(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#') && l != "---"
        });
        if !has_content {
            return Err(Diagnostic {
                file: path.to_owned(),
                line: None,
                field: None,
                message: "the file is empty: it needs at least `project: <name>` (see README, \
                          Configuration)"
                    .to_owned(),
            });
        }
        // serde_yaml places an error a value type raises at the start of its mapping, not at the
        // key: the path the error happened at says which key it was.
        let file: ConfigFile = serde_path_to_error::deserialize(
            serde_yaml::Deserializer::from_str(&text),
        )
        .map_err(|e| {
            let keys = keys_of(e.path());
            yaml_error(path, &text, e.inner(), &keys)
        })?;
        Ok(Self {
            path: path.to_owned(),
            text,
            file,
        })
    }

    /// The environments the file defines, in order.
    pub fn environment_names(&self) -> Vec<String> {
        self.file
            .environments
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    fn error_at(&self, path: &[&str], message: String) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            line: locate::line_of(&self.text, path).map(|line| (line, 1)),
            field: Some(path.join(".")),
            message,
        }
    }

    /// [`Config::resolve`], checked for what a render needs as well: a quorum no larger than
    /// the reviewers (those of the file and `--email` together). The verbs that render (render,
    /// deploy, the CDK export) use this; those that read a deployed stack use `resolve`.
    pub fn resolve_for_render(
        &self,
        env: &str,
        overrides: &Overrides,
    ) -> Result<Effective, Diagnostic> {
        let effective = self.resolve(env, overrides)?;
        let (quorum, reviewers) = (effective.quorum, effective.reviewers.len());
        if quorum.get() as usize > reviewers.max(1) {
            return Err(self.error_at(
                &self.setting_path(&effective.environment, "quorum"),
                format!(
                    "quorum {quorum} needs at least {quorum} reviewers, and this environment has \
                     {reviewers} (reviewers and --email together): lower the quorum or add \
                     reviewers"
                ),
            ));
        }
        Ok(effective)
    }

    /// The effective settings of `env` with the command line's `overrides` on top.
    pub fn resolve(&self, env: &str, overrides: &Overrides) -> Result<Effective, Diagnostic> {
        let Some((env_name, env_settings)) = self
            .file
            .environments
            .iter()
            .find(|(name, _)| name.as_str() == env)
        else {
            return Err(self.unknown_environment(env));
        };
        let top_level = Settings {
            region: self.file.region.clone(),
            profile: self.file.profile.clone(),
            ..Settings::default()
        };
        let defaults = self.file.defaults.clone().unwrap_or_default();
        let env_settings = env_settings.clone().unwrap_or_default();
        let templates_from_env = env_settings.templates.is_some();
        let cli = Settings {
            region: overrides.region.clone(),
            profile: overrides.profile.clone(),
            ..Settings::default()
        };
        let merged = top_level.layer(defaults).layer(env_settings).layer(cli);

        let stack_name = format!("{}-{}", self.file.project, env_name);
        let templates = match &merged.templates {
            None => None,
            Some(dir) => Some(self.templates_dir(env_name, dir, templates_from_env)?),
        };
        self.check_arns(env_name, &merged)?;
        let slack_app = self.slack_app(env_name, &merged)?;
        let endpoint = merged.endpoint.unwrap_or(Endpoint::Aws);
        let sign_in = self.sign_in(env_name, &merged, endpoint)?;

        let mut reviewers = merged.reviewers.clone().unwrap_or_default();
        reviewers.extend(overrides.emails.iter().cloned());
        let reviewers = sorted(reviewers);

        // Whether there are enough reviewers for the quorum depends on `--email`, which only
        // deploy (and render) take: checked by `resolve_for_render`, so that the verbs that read
        // a deployed stack (status, start, destroy) take any environment that could deploy.
        let quorum = merged.quorum.unwrap_or(Quorum::ONE);
        let approval_timeout = merged
            .approval_timeout
            .unwrap_or(ApprovalTimeout::from_secs(24 * 3600));
        self.check_nudges(env_name, &merged, approval_timeout)?;
        let escalation = self.escalation(env_name, &merged)?;
        let attachment_buckets = sorted(merged.attachment_buckets.unwrap_or_default());

        let lambda = merged.lambda.unwrap_or_default();
        let api = merged.api.unwrap_or_default();
        let table = merged.table.unwrap_or_default();
        Ok(Effective {
            project: self.file.project.clone(),
            environment: env_name.clone(),
            stack_name,
            region: merged.region,
            profile: merged.profile,
            approval_timeout,
            retention: merged
                .retention
                .unwrap_or(Retention::from_secs(30 * 86_400)),
            reviewers,
            quorum,
            remind_after: merged.remind_after,
            escalation,
            attachment_buckets,
            sign_in,
            slack_webhook_parameter: merged
                .slack_webhook_parameter
                .filter(|_| slack_app.is_none()),
            slack_webhook_kms_key: merged.slack_webhook_kms_key.filter(|_| slack_app.is_none()),
            teams_webhook_parameter: merged.teams_webhook_parameter,
            teams_webhook_kms_key: merged.teams_webhook_kms_key,
            slack_app,
            alarm_emails: sorted(merged.alarm_emails.unwrap_or_default()),
            alarm_topic_arn: merged.alarm_topic_arn,
            lambda: EffectiveLambda {
                architecture: lambda.architecture.unwrap_or(Architecture::Arm64),
                memory_mb: lambda.memory_mb.unwrap_or(MemoryMb::new(256)),
                timeout: lambda.timeout.unwrap_or(FunctionTimeout::from_secs(10)),
            },
            log_retention_days: merged
                .log_retention_days
                .unwrap_or(LogRetentionDays::new(30)),
            api: EffectiveApi {
                throttle_rate: api.throttle_rate.unwrap_or(ThrottleRate::new(10.0)),
                throttle_burst: api.throttle_burst.unwrap_or(ThrottleBurst::new(20.0)),
            },
            table: EffectiveTable {
                deletion_policy: table
                    .deletion_policy
                    .unwrap_or(DeletionPolicy::RetainExceptOnCreate),
            },
            tags: merged.tags.unwrap_or_default(),
            templates,
            endpoint,
            orchestrator: merged.orchestrator.unwrap_or(Orchestrator::StepFunctions),
        })
    }

    /// The error for an environment the file does not define.
    fn unknown_environment(&self, env: &str) -> Diagnostic {
        let known = self.environment_names();
        Diagnostic {
            file: self.path.clone(),
            line: None,
            field: None,
            message: if known.is_empty() {
                format!("no environment `{env}`: the file defines no environments")
            } else {
                format!(
                    "no environment `{env}`: choose one of {} with --env, or add it under \
                     `environments:`",
                    known.join(", ")
                )
            },
        }
    }

    /// The override directory `dir` of `env_name`, relative to the config file; it must exist.
    fn templates_dir(
        &self,
        env_name: &EnvName,
        dir: &Path,
        from_env: bool,
    ) -> Result<PathBuf, Diagnostic> {
        let resolved = self.path.parent().unwrap_or(Path::new(".")).join(dir);
        if resolved.is_dir() {
            return Ok(resolved);
        }
        let field: Vec<&str> = if from_env {
            vec!["environments", env_name.as_str(), "templates"]
        } else {
            vec!["defaults", "templates"]
        };
        Err(self.error_at(
            &field,
            format!(
                "override directory `{}` does not exist (paths are relative to the config \
                 file); create it or remove the setting",
                dir.display()
            ),
        ))
    }

    /// Reminders and escalation must come before the approval times out.
    fn check_nudges(
        &self,
        env_name: &EnvName,
        merged: &Settings,
        approval_timeout: ApprovalTimeout,
    ) -> Result<(), Diagnostic> {
        for (key, delay) in [
            ("remind_after", merged.remind_after),
            ("escalate_after", merged.escalate_after),
        ] {
            if let Some(delay) = delay.filter(|d| d.secs() >= approval_timeout.secs()) {
                return Err(self.error_at(
                    &self.setting_path(env_name, key),
                    format!(
                        "{key} is {delay}, not before the approval timeout ({approval_timeout}): \
                         nobody could act on it; make it shorter than approval_timeout"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Who the request is escalated to, and after how long: both or neither.
    fn escalation(
        &self,
        env_name: &EnvName,
        merged: &Settings,
    ) -> Result<Option<Escalation>, Diagnostic> {
        let mut escalate_to = merged.escalate_to.clone().unwrap_or_default();
        escalate_to.sort();
        escalate_to.dedup();
        Ok(match (merged.escalate_after, escalate_to.is_empty()) {
            (Some(after), false) => Some(Escalation {
                after,
                to: escalate_to,
            }),
            (None, true) => None,
            (Some(_), true) => {
                return Err(self.error_at(
                    &self.setting_path(env_name, "escalate_after"),
                    "escalate_after without escalate_to: list who the request is escalated to"
                        .to_owned(),
                ));
            }
            (None, false) => {
                return Err(self.error_at(
                    &self.setting_path(env_name, "escalate_to"),
                    "escalate_to without escalate_after: say after how long (e.g. 12h)".to_owned(),
                ));
            }
        })
    }
}

impl Config {
    /// The Slack app, its three required keys present (it replaces a webhook the defaults
    /// set). Also refuses the webhook's key without its parameter.
    fn slack_app(
        &self,
        env_name: &EnvName,
        merged: &Settings,
    ) -> Result<Option<SlackApp>, Diagnostic> {
        let Some(slack) = merged.slack.clone() else {
            return Ok(None);
        };
        let at = self.setting_path(env_name, "slack");
        let missing = |key: &str| {
            let message = format!("the Slack app needs slack.{key} (see README, \"Slack\")");
            self.error_at(&at, message)
        };
        Ok(Some(SlackApp {
            channel: slack.channel.ok_or_else(|| missing("channel"))?,
            bot_token_parameter: slack
                .bot_token_parameter
                .ok_or_else(|| missing("bot_token_parameter"))?,
            signing_secret_parameter: slack
                .signing_secret_parameter
                .ok_or_else(|| missing("signing_secret_parameter"))?,
            api_url: match slack.api_url {
                Some(url) => url,
                None => "https://slack.com/api/"
                    .parse()
                    .map_err(|e: String| missing(&e))?,
            },
            kms_key: slack.kms_key,
        }))
    }

    /// A parameter's KMS key needs its parameter (Slack's webhook, Teams', sign-in's client
    /// secret), and every ARN is in the environment's region.
    fn check_arns(&self, env_name: &EnvName, merged: &Settings) -> Result<(), Diagnostic> {
        let sign_in = merged.sign_in.as_ref();
        let orphans = [
            (
                merged.slack_webhook_kms_key.is_some() && merged.slack_webhook_parameter.is_none(),
                vec!["slack_webhook_kms_key"],
                "slack_webhook_parameter",
            ),
            (
                merged.teams_webhook_kms_key.is_some() && merged.teams_webhook_parameter.is_none(),
                vec!["teams_webhook_kms_key"],
                "teams_webhook_parameter",
            ),
            (
                sign_in.is_some_and(|s| s.kms_key.is_some() && s.client_secret_parameter.is_none()),
                vec!["sign_in", "kms_key"],
                "sign_in.client_secret_parameter",
            ),
        ];
        if let Some((_, key, parameter)) = orphans.into_iter().find(|(orphan, _, _)| *orphan) {
            return Err(self.error_at(
                &self.nested_setting_path(env_name, &key),
                format!(
                    "a KMS key for a parameter, but no {parameter}: set the parameter's name too, \
                     or remove the key"
                ),
            ));
        }
        self.arns_in_region(env_name, merged)
    }

    /// The alarm topic and the parameters' KMS keys are in the environment's region, when it
    /// names one: CloudWatch refuses an alarm action in another region, and SSM decrypts a
    /// parameter with a key of its own region.
    fn arns_in_region(&self, env_name: &EnvName, merged: &Settings) -> Result<(), Diagnostic> {
        let Some(region) = &merged.region else {
            return Ok(());
        };
        let sign_in = merged.sign_in.as_ref();
        let arns: [(Option<String>, Vec<&str>); 5] = [
            (
                merged.alarm_topic_arn.as_ref().map(|a| a.to_string()),
                vec!["alarm_topic_arn"],
            ),
            (
                merged.slack_webhook_kms_key.as_ref().map(|k| k.to_string()),
                vec!["slack_webhook_kms_key"],
            ),
            (
                merged.teams_webhook_kms_key.as_ref().map(|k| k.to_string()),
                vec!["teams_webhook_kms_key"],
            ),
            (
                sign_in
                    .and_then(|s| s.kms_key.as_ref())
                    .map(|k| k.to_string()),
                vec!["sign_in", "kms_key"],
            ),
            (
                merged
                    .slack
                    .as_ref()
                    .and_then(|s| s.kms_key.as_ref())
                    .map(|k| k.to_string()),
                vec!["slack", "kms_key"],
            ),
        ];
        for (arn, key) in arns {
            let Some(arn) = arn else { continue };
            let in_region = arn.split(':').nth(3).unwrap_or_default();
            if in_region != region.as_str() {
                return Err(self.error_at(
                    &self.nested_setting_path(env_name, &key),
                    format!(
                        "`{arn}` is in {in_region}, and the environment in {region}: name one in \
                         {region} (alarms notify topics, and parameters are decrypted with keys, \
                         of their own region)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sign-in, its two required keys present and `claim` defaulted; an `http://` issuer only
    /// on a local environment.
    fn sign_in(
        &self,
        env_name: &EnvName,
        merged: &Settings,
        endpoint: Endpoint,
    ) -> Result<Option<SignIn>, Diagnostic> {
        let Some(sign_in) = merged.sign_in.clone() else {
            return Ok(None);
        };
        let at = self.setting_path(env_name, "sign_in");
        let missing = |key: &str| {
            let message =
                format!("sign-in needs sign_in.{key} (see docs/configuration.md, \"Sign-in\")");
            self.error_at(&at, message)
        };
        let issuer = sign_in.issuer.ok_or_else(|| missing("issuer"))?;
        if issuer.is_loopback() && endpoint != Endpoint::Local {
            return Err(self.error_at(
                &self.nested_setting_path(env_name, &["sign_in", "issuer"]),
                "an http:// issuer is only for the local environment: use the provider's \
                 https:// issuer"
                    .to_owned(),
            ));
        }
        Ok(Some(SignIn {
            issuer,
            client_id: sign_in.client_id.ok_or_else(|| missing("client_id"))?,
            client_secret_parameter: sign_in.client_secret_parameter,
            claim: sign_in.claim.unwrap_or_else(ClaimName::email),
            kms_key: sign_in.kms_key,
        }))
    }

    /// Where `key` is set for `env_name`: the environment's own setting if the file has one
    /// there, else the defaults' (the key path of the line an error names).
    fn setting_path<'a>(&self, env_name: &'a EnvName, key: &'a str) -> Vec<&'a str> {
        self.nested_setting_path(env_name, &[key])
    }

    /// Like [`Config::setting_path`], for a key inside a group (`["sign_in", "issuer"]`).
    fn nested_setting_path<'a>(&self, env_name: &'a EnvName, keys: &[&'a str]) -> Vec<&'a str> {
        let own: Vec<&str> = ["environments", env_name.as_str()]
            .into_iter()
            .chain(keys.iter().copied())
            .collect();
        if locate::line_of(&self.text, &own).is_some() {
            own
        } else {
            ["defaults"]
                .into_iter()
                .chain(keys.iter().copied())
                .collect()
        }
    }
}

/// Turns serde_yaml's message (`path: message at line L column C`) into ours.
/// A value's own error is reported at its key with the path of the enclosing mapping, so the key
/// found at that position in the text completes the field.
/// The mapping keys of an error's path, when the error is about the value of a key (not inside a
/// list or at the top).
fn keys_of(path: &serde_path_to_error::Path) -> Vec<String> {
    let mut keys = Vec::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } => keys.push(key.clone()),
            _ => return Vec::new(),
        }
    }
    keys
}

fn yaml_error(path: &Path, text: &str, error: &serde_yaml::Error, keys: &[String]) -> Diagnostic {
    let mut message = error.to_string();
    let line = error.location().map(|l| (l.line(), l.column()));
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    let (mut field, message) = match message.split_once(": ") {
        Some((field, rest)) if !field.contains(' ') && !field.is_empty() && field != "." => {
            (Some(field.to_owned()), rest.to_owned())
        }
        _ => (None, message),
    };
    let key_there = line.and_then(|(l, c)| {
        let rest = text.lines().nth(l - 1)?.get(c - 1..)?;
        let (key, _) = rest.split_once(':')?;
        let is_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        is_key.then(|| key.to_owned())
    });
    if let Some(key) = key_there
        && !message.starts_with("duplicate field")
        && !message.starts_with("unknown field")
        && !message.starts_with("missing field")
    {
        field = Some(match field {
            Some(parent) => format!("{parent}.{key}"),
            None => key,
        });
    }
    // A value's own error: the key the path names, where the file writes it.
    let mut line = line;
    let about_keys = ["duplicate field", "unknown field", "missing field"];
    if !keys.is_empty() && !about_keys.iter().any(|p| message.starts_with(p)) {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if let Some(at) = locate::line_of(text, &keys) {
            let written = text.lines().nth(at - 1).unwrap_or_default();
            let column = written.len() - written.trim_start().len() + 1;
            line = Some((at, column));
            field = Some(keys.join("."));
        }
    }
    // serde_yaml places a duplicate at the start of its mapping: point at the second one.
    if let Some(key) = message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        field = field.filter(|f| f != key);
        line = second_occurrence(text, key, line.map_or(1, |(l, _)| l)).or(line);
    }
    let message = message
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("duplicate field", "duplicate key");
    Diagnostic {
        file: path.to_owned(),
        line,
        field,
        message,
    }
}

/// Line and column of the second `key:` at the indentation of the first, from line `from` on.
fn second_occurrence(text: &str, key: &str, from: usize) -> Option<(usize, usize)> {
    let mut first_indent = None;
    for (index, line) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with(':'))
        {
            match first_indent {
                None => first_indent = Some(indent),
                Some(i) if i == indent => return Some((index + 1, indent + 1)),
                Some(_) => {}
            }
        }
    }
    None
}

/// The JSON Schema of the config file, for editors.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ConfigFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;

/// `items` sorted, each once.
fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}
