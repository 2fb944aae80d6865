//! The Slack app: Slack's Web API (`chat.postMessage`, `chat.update`, `chat.postEphemeral`,
//! `views.open`, `users.info`) with the bot token, and the signing secret that verifies what
//! Slack sends. Both secrets are SSM SecureString parameters, read once per instance and
//! cached; neither is ever logged or put in an error.
//!
//! Slack's answers (docs.slack.dev/apis/web-api): HTTP 200 with `{"ok": false, "error": …}` for
//! a refused call, HTTP 429 with `Retry-After` (seconds) when rate limited. Each is an error
//! naming the method and what Slack said; nothing here retries (the protocol decides what a
//! failure means, and Slack's 3 seconds leave no room for a wait).

use std::{sync::Mutex, time::Duration};

use hitl_core::slack::SlackMessage;
use hitl_protocol::{Chat, SlackApp};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use hitl_aws::https::{self, Answer, Method, Request};

use crate::webhook::secret;

/// Where the app posts and where its secrets are, from the environment the template sets.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub channel: String,
    pub bot_token_parameter: String,
    pub signing_secret_parameter: String,
    /// `https://slack.com/api/` unless configured (GovSlack); always ends with `/`.
    pub api_url: String,
}

impl AppSettings {
    /// The settings from `get`, when `SLACK_CHANNEL` is set; the error names what is missing.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let Some(channel) = get("SLACK_CHANNEL").filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let text =
            |name: &str| get(name).ok_or_else(|| format!("environment variable {name} is not set"));
        let api_url = get("SLACK_API_URL").unwrap_or_else(|| "https://slack.com/api/".into());
        crate::webhook::check_url(&api_url)
            .map_err(|why| format!("environment variable SLACK_API_URL {why}"))?;
        Ok(Some(Self {
            channel,
            bot_token_parameter: text("SLACK_BOT_TOKEN_PARAMETER")?,
            signing_secret_parameter: text("SLACK_SIGNING_SECRET_PARAMETER")?,
            api_url: format!("{}/", api_url.trim_end_matches('/')),
        }))
    }
}

/// The Slack app's client.
pub struct SlackWebApi {
    settings: AppSettings,
    ssm: aws_sdk_ssm::Client,
    /// Read again after Slack refuses it (the app reinstalled, the token rotated).
    token: Mutex<Option<String>>,
    signing_secret: OnceCell<String>,
}

/// Slack's errors that mean the token itself is no good (any method's error table).
const BAD_TOKEN: [&str; 5] = [
    "not_authed",
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
];

/// How long one call may take: Slack wants an interaction answered within 3 seconds.
const TIMEOUT: Duration = Duration::from_millis(1_500);

impl SlackWebApi {
    pub fn new(settings: AppSettings, ssm: aws_sdk_ssm::Client) -> Self {
        Self {
            settings,
            ssm,
            token: Mutex::new(None),
            signing_secret: OnceCell::new(),
        }
    }

    /// Reads both secrets now (at the instance's start, so that the first click does not wait
    /// for SSM within Slack's 3 seconds); a failure is logged and read again when needed.
    pub async fn warm(&self) {
        let (token, secret) = tokio::join!(self.token(), self.signing_secret());
        if let Err(error) = token.and(secret) {
            tracing::warn!(%error, "the Slack app's secrets could not be read yet");
        }
    }

    fn cached_token(&self) -> Option<String> {
        self.token.lock().ok().and_then(|t| t.clone())
    }

    async fn token(&self) -> Result<String, String> {
        if let Some(token) = self.cached_token() {
            return Ok(token);
        }
        let token = secret(&self.ssm, &self.settings.bot_token_parameter).await?;
        if let Ok(mut cached) = self.token.lock() {
            *cached = Some(token.clone());
        }
        Ok(token)
    }

    /// Calls `method` with `body` (JSON, POST) or `query` (GET); Slack's answer when `ok`.
    async fn call(&self, method: &str, body: Option<Value>, query: &str) -> Result<Value, String> {
        let token = self.token().await?;
        let url = format!("{}{method}{query}", self.settings.api_url);
        let answer = send(&url, &token, body)
            .await
            .map_err(|kind| format!("Slack's {method} could not be reached: {kind}"))?;
        let Answer {
            status,
            retry_after,
            body: text,
        } = answer;
        if status == 429 {
            let after = retry_after.unwrap_or_else(|| "?".into());
            return Err(format!(
                "Slack's {method} is rate limited (HTTP 429, Retry-After: {after} s)"
            ));
        }
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| format!("Slack's {method} answered HTTP {status} without JSON"))?;
        if value["ok"].as_bool() == Some(true) {
            return Ok(value);
        }
        let error = value["error"].as_str().unwrap_or("(none)");
        if BAD_TOKEN.contains(&error)
            && let Ok(mut cached) = self.token.lock()
        {
            *cached = None;
        }
        Err(format!(
            "Slack's {method} answered HTTP {status}, error {error}"
        ))
    }
}

/// One HTTP call with the bot token (JSON, POST, or GET); what went wrong never names the URL
/// or the token.
async fn send(url: &str, token: &str, body: Option<Value>) -> Result<Answer, &'static str> {
    let mut headers = vec![("authorization", format!("Bearer {token}"))];
    let method = match body {
        Some(_) => {
            headers.push(("content-type", "application/json; charset=utf-8".to_owned()));
            Method::POST
        }
        None => Method::GET,
    };
    let request = Request {
        method,
        url,
        headers,
        body: body.map(|b| b.to_string()),
    };
    https::send(request, TIMEOUT).await
}

/// `payload` (text, blocks) with `extra` fields added.
fn with(payload: &Value, extra: Value) -> Value {
    let mut body = payload.clone();
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

impl Chat for SlackWebApi {
    fn is_app(&self) -> bool {
        true
    }

    async fn post(
        &self,
        payload: &Value,
        thread: Option<&SlackMessage>,
    ) -> Result<Option<SlackMessage>, String> {
        let channel = thread.map_or(&self.settings.channel, |t| &t.channel);
        let mut extra = json!({ "channel": channel });
        if let Some(thread) = thread {
            extra["thread_ts"] = json!(thread.ts);
        }
        let answer = self
            .call("chat.postMessage", Some(with(payload, extra)), "")
            .await?;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        match (text(&answer["channel"]), text(&answer["ts"])) {
            (Some(channel), Some(ts)) => Ok(Some(SlackMessage { channel, ts })),
            _ => Err("Slack's chat.postMessage answered without channel and ts".into()),
        }
    }

    async fn update(&self, message: &SlackMessage, payload: &Value) -> Result<(), String> {
        let extra = json!({ "channel": message.channel, "ts": message.ts });
        self.call("chat.update", Some(with(payload, extra)), "")
            .await
            .map(drop)
    }
}

impl SlackApp for SlackWebApi {
    async fn signing_secret(&self) -> Result<String, String> {
        let name = &self.settings.signing_secret_parameter;
        let secret = self
            .signing_secret
            .get_or_try_init(|| secret(&self.ssm, name))
            .await?;
        Ok(secret.clone())
    }

    async fn email(&self, user: &str) -> Result<Option<String>, String> {
        let query: String = form_urlencoded::Serializer::new(String::from("?"))
            .append_pair("user", user)
            .finish();
        let answer = self.call("users.info", None, &query).await?;
        let email = answer["user"]["profile"]["email"].as_str();
        if email.is_none() {
            // Slack leaves the field out without the users:read.email scope.
            tracing::warn!("users.info answered no email: has the app the users:read.email scope?");
        }
        Ok(email.filter(|e| !e.is_empty()).map(str::to_owned))
    }

    async fn open_modal(&self, trigger_id: &str, view: &Value) -> Result<(), String> {
        let body = json!({ "trigger_id": trigger_id, "view": view });
        self.call("views.open", Some(body), "").await.map(drop)
    }

    async fn tell(&self, channel: &str, user: &str, text: &str) -> Result<(), String> {
        let body = json!({ "channel": channel, "user": user, "text": text });
        self.call("chat.postEphemeral", Some(body), "")
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_is_on_with_a_channel_and_names_what_is_missing() {
        let none = AppSettings::from_lookup(|_| None).unwrap();
        assert!(none.is_none());
        let get = |name: &str| match name {
            "SLACK_CHANNEL" => Some("C1".to_owned()),
            "SLACK_BOT_TOKEN_PARAMETER" => Some("/t".to_owned()),
            "SLACK_API_URL" => Some("http://127.0.0.1:9/api".to_owned()),
            _ => None,
        };
        let err = AppSettings::from_lookup(get).unwrap_err();
        assert_eq!(
            err,
            "environment variable SLACK_SIGNING_SECRET_PARAMETER is not set"
        );
        let all = |name: &str| get(name).or_else(|| Some("/s".to_owned()));
        let app = AppSettings::from_lookup(all).unwrap().unwrap();
        assert_eq!(app.api_url, "http://127.0.0.1:9/api/");
    }

    #[test]
    fn extra_fields_join_the_payload() {
        let body = with(
            &json!({"text": "t", "blocks": []}),
            json!({"channel": "C1", "ts": "1.2"}),
        );
        assert_eq!(
            body,
            json!({"text": "t", "blocks": [], "channel": "C1", "ts": "1.2"})
        );
    }
}
