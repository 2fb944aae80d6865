//! The optional Slack channel: an incoming webhook whose URL is a secret kept in an SSM
//! SecureString parameter. Read once per instance and cached; never logged, and kept out of
//! every error message (an HTTP client's errors can name the URL they failed on).

use std::time::Duration;

use hitl_aws::https::{self, Method, Request};
use hitl_core::slack::SlackMessage;
use hitl_protocol::Chat;
use serde_json::Value;
use tokio::sync::OnceCell;

/// The Slack channel: its webhook, whose URL is read from `parameter` the first time it posts.
pub struct Slack {
    parameter: String,
    ssm: aws_sdk_ssm::Client,
    webhook: OnceCell<String>,
}

impl Slack {
    /// The channel whose webhook URL the SSM parameter `parameter` holds.
    pub fn new(parameter: String, ssm: aws_sdk_ssm::Client) -> Self {
        Self {
            parameter,
            ssm,
            webhook: OnceCell::new(),
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
        match https::send(request, Duration::from_secs(3)).await {
            Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
            Ok(answer) => Err(format!(
                "the Slack webhook (from {}) answered HTTP {}",
                self.parameter, answer.status
            )),
            Err(kind) => Err(format!(
                "the Slack webhook (from {}) could not be reached: {kind}",
                self.parameter
            )),
        }
    }
}

impl Chat for Slack {
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
