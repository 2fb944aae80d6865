//! The webhooks of the shared channels: Slack's incoming webhook and Teams' Workflows webhook,
//! each URL a secret kept in an SSM SecureString parameter. Read once per instance and cached;
//! never logged, and kept out of every error message (an HTTP client's errors can name the URL
//! they failed on).

use std::time::Duration;

use hitl_aws::https::{self, Method, Request};
use hitl_core::slack::SlackMessage;
use hitl_protocol::{Chat, Teams};
use serde_json::Value;
use tokio::sync::OnceCell;

/// A webhook whose URL is read from `parameter` the first time it posts.
pub struct Webhook {
    /// Whose webhook it is, in errors: `Slack`, `Teams`.
    service: &'static str,
    parameter: String,
    ssm: aws_sdk_ssm::Client,
    webhook: OnceCell<String>,
    timeout: Duration,
}

impl Webhook {
    /// The Slack incoming webhook whose URL the SSM parameter `parameter` holds.
    pub fn slack(parameter: String, ssm: aws_sdk_ssm::Client) -> Self {
        Self::new("Slack", parameter, ssm, Duration::from_secs(3))
    }

    /// The Teams Workflows webhook whose URL the SSM parameter `parameter` holds. Its trigger
    /// answers `202 Accepted` once the flow is started.
    pub fn teams(parameter: String, ssm: aws_sdk_ssm::Client) -> Self {
        Self::new("Teams", parameter, ssm, Duration::from_secs(5))
    }

    /// Teams, when the environment names its parameter (`TEAMS_WEBHOOK_PARAMETER`).
    pub fn teams_from_env(aws: &aws_config::SdkConfig) -> Option<Self> {
        let parameter = std::env::var("TEAMS_WEBHOOK_PARAMETER").ok();
        let parameter = parameter.filter(|p| !p.trim().is_empty())?;
        Some(Self::teams(parameter, aws_sdk_ssm::Client::new(aws)))
    }

    fn new(
        service: &'static str,
        parameter: String,
        ssm: aws_sdk_ssm::Client,
        timeout: Duration,
    ) -> Self {
        Self {
            service,
            parameter,
            ssm,
            webhook: OnceCell::new(),
            timeout,
        }
    }

    /// The webhook URL, from the cache or the parameter (a failed read is not cached).
    async fn webhook(&self) -> Result<&str, String> {
        self.webhook
            .get_or_try_init(|| async {
                let url = secret(&self.ssm, &self.parameter).await?;
                check_url(&url)
                    .map_err(|why| format!("the SSM parameter {} {why}", self.parameter))?;
                Ok(url)
            })
            .await
            .map(String::as_str)
    }

    /// Posts `payload` to the webhook. Errors name the parameter, never the URL.
    async fn post_payload(&self, payload: &Value) -> Result<(), String> {
        let request = Request {
            method: Method::POST,
            url: self.webhook().await?,
            headers: vec![("content-type", "application/json".to_owned())],
            body: Some(payload.to_string()),
        };
        let (service, parameter) = (self.service, &self.parameter);
        match https::send(request, self.timeout).await {
            Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
            Ok(answer) => Err(format!(
                "the {service} webhook (from {parameter}) answered HTTP {}",
                answer.status
            )),
            Err(kind) => Err(format!(
                "the {service} webhook (from {parameter}) could not be reached: {kind}"
            )),
        }
    }
}

impl Teams for Webhook {
    async fn post(&self, card: &Value) -> Result<(), String> {
        self.post_payload(card).await
    }
}

impl Chat for Webhook {
    fn is_app(&self) -> bool {
        false
    }

    async fn post(
        &self,
        payload: &Value,
        _thread: Option<&SlackMessage>,
    ) -> Result<Option<SlackMessage>, String> {
        self.post_payload(payload).await.map(|()| None)
    }

    async fn update(&self, _message: &SlackMessage, _payload: &Value) -> Result<(), String> {
        Err("a webhook's message cannot be updated".to_owned())
    }
}

/// The value of the SecureString parameter `name`, trimmed; never in an error.
pub async fn secret(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    let out = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the SSM parameter {name}: {}",
                hitl_aws::describe(&e)
            )
        })?;
    let value = out.parameter.and_then(|p| p.value).unwrap_or_default();
    match value.trim() {
        "" => Err(format!("the SSM parameter {name} is empty")),
        value => Ok(value.to_owned()),
    }
}

/// A webhook must be HTTPS (plain HTTP only to this machine, for the local environment).
pub fn check_url(url: &str) -> Result<(), &'static str> {
    if url.is_empty() {
        Err("is empty")
    } else if https::is_https_or_local(url) {
        Ok(())
    } else {
        Err("does not hold an https:// webhook URL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_webhooks_or_this_machine() {
        assert!(check_url("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert_eq!(check_url(""), Err("is empty"));
        assert!(check_url("http://hooks.slack.com/services/x").is_err());
        assert!(check_url("http://127.0.0.1.evil.example/").is_err());
        assert!(check_url("ftp://x").is_err());
    }
}
