//! The chat channel a stack has: the Slack app, the Slack webhook, or none.

use aws_config::SdkConfig;
use hitl_core::slack::SlackMessage;
use hitl_protocol::Chat;
use serde_json::Value;

use crate::{
    slack_app::{AppSettings, SlackWebApi},
    webhook::Webhook,
};

/// The Slack app or the Slack webhook.
pub enum SlackChannel {
    App(SlackWebApi),
    Webhook(Webhook),
}

impl SlackChannel {
    /// The channel the environment names: the app when `SLACK_CHANNEL` is set, else the webhook
    /// when `SLACK_WEBHOOK_PARAMETER` is; `None` without either. The error names what is wrong.
    pub fn from_env(aws: &SdkConfig) -> Result<Option<Self>, String> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let ssm = || aws_sdk_ssm::Client::new(aws);
        if let Some(app) = AppSettings::from_lookup(get)? {
            return Ok(Some(Self::App(SlackWebApi::new(app, ssm()))));
        }
        Ok(get("SLACK_WEBHOOK_PARAMETER").map(|name| Self::Webhook(Webhook::slack(name, ssm()))))
    }

    /// The app, for its interactivity endpoint.
    pub fn app(self) -> Option<SlackWebApi> {
        match self {
            Self::App(app) => Some(app),
            Self::Webhook(_) => None,
        }
    }
}

impl Chat for SlackChannel {
    fn is_app(&self) -> bool {
        matches!(self, Self::App(_))
    }

    async fn post(
        &self,
        payload: &Value,
        thread: Option<&SlackMessage>,
    ) -> Result<Option<SlackMessage>, String> {
        match self {
            Self::App(app) => app.post(payload, thread).await,
            Self::Webhook(hook) => hook.post(payload, thread).await,
        }
    }

    async fn update(&self, message: &SlackMessage, payload: &Value) -> Result<(), String> {
        match self {
            Self::App(app) => app.update(message, payload).await,
            Self::Webhook(hook) => hook.update(message, payload).await,
        }
    }
}
