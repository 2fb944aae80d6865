//! The ports besides the table: the reviewers' topic, the chat channel, the orchestrator the
//! decision resumes, the scheduler of reminders, the clock and the link ids.

use hitl_core::{
    ExecutionState, LinkId, ReviewerMessage, SendOutcome, TaskToken, sign_in::JwkSet,
    slack::SlackMessage,
};
use serde_json::Value;

/// The reviewers' topic: every message of the protocol (requests, reminders, escalations,
/// endings) goes through [`Notifier::publish`].
pub trait Notifier {
    /// Publishes `message` with its `reviewer` attribute, which the subscriptions' filter
    /// policies deliver to that reviewer alone (or to everyone: `hitl_core::EVERYONE`). The
    /// error is one line, safe to log.
    async fn publish(&self, message: &ReviewerMessage) -> Result<(), String>;
}

/// The optional chat channel: a Slack incoming webhook (notify only), or the Slack app (its
/// message has the buttons, is kept current and has the reminders in its thread). Every error
/// is one line that names no secret.
pub trait Chat {
    /// Whether this is the Slack app.
    fn is_app(&self) -> bool;

    /// Posts `payload`, in the thread of `thread` when given; the app answers where the message
    /// is, a webhook cannot say.
    async fn post(
        &self,
        payload: &Value,
        thread: Option<&SlackMessage>,
    ) -> Result<Option<SlackMessage>, String>;

    /// Replaces the app's `message` with `payload`.
    async fn update(&self, message: &SlackMessage, payload: &Value) -> Result<(), String>;
}

/// Microsoft Teams: a Workflows webhook that posts a card in a channel (notify only). The error
/// is one line that names no secret (the webhook's URL is one).
pub trait Teams {
    /// Posts the Adaptive Card payload `card`.
    async fn post(&self, card: &Value) -> Result<(), String>;
}

/// The Slack app as its interactivity endpoint uses it.
pub trait SlackApp: Chat {
    /// The app's signing secret (`None`: it cannot be read now, and the error says why).
    async fn signing_secret(&self) -> Result<String, String>;

    /// The email of Slack user `user` (`users.info`); `None` when the profile shows none.
    async fn email(&self, user: &str) -> Result<Option<String>, String>;

    /// Opens the modal `view` for the click `trigger_id` (`views.open`, within Slack's 3 s).
    async fn open_modal(&self, trigger_id: &str, view: &Value) -> Result<(), String>;

    /// Tells `user` alone `text` in `channel` (`chat.postEphemeral`).
    async fn tell(&self, channel: &str, user: &str, text: &str) -> Result<(), String>;
}

/// The company's identity provider (OpenID Connect), when the stack signs its reviewers in.
/// Every error is one line that names no secret, code or token.
pub trait IdentityProvider {
    /// The issuer, as configured (and as the provider's discovery document states it).
    fn issuer(&self) -> &str;

    /// The client the review function is at the provider.
    fn client_id(&self) -> &str;

    /// The provider's authorization endpoint, from its discovery document.
    async fn authorization_endpoint(&self) -> Result<String, String>;

    /// The provider's signing keys; `refresh` reads them again (a token names a key not seen
    /// before: the provider has rotated its keys).
    async fn keys(&self, refresh: bool) -> Result<JwkSet, String>;

    /// Sends the token request `form` to the token endpoint (authenticated with the client's
    /// secret, for a confidential client); the answer's tokens.
    async fn exchange(&self, form: &str) -> Result<Tokens, String>;

    /// The provider's UserInfo answer for `access_token` (OpenID Connect Core §5.3): the claims
    /// a thin ID token leaves out.
    async fn userinfo(&self, access_token: &str) -> Result<Value, String>;
}

/// The token endpoint's answer: the ID token, and the access token for UserInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: Option<String>,
}

/// How the workflow's executions stand: Step Functions' `DescribeExecution`, or the durable
/// workflow's `GetDurableExecution`. All the remind function asks of the orchestrator.
pub trait Executions {
    /// How the execution stands; `None` when the orchestrator cannot say.
    async fn state(&self, execution_arn: &str) -> Option<ExecutionState>;
}

/// The orchestrator that waits for the decision: Step Functions' task token, or a durable
/// execution's callback.
pub trait Orchestrator: Executions {
    /// Sends `output` (the decision) with `token`: accepted, gone, or transient.
    async fn resume(&self, token: &TaskToken, output: String) -> SendOutcome;

    /// Whether a gone task may come back with a newer token (a Step Functions task retried
    /// under `Retry` gets a new one; a durable callback's id never changes).
    fn tokens_are_refreshed(&self) -> bool;
}

/// Whether a schedule was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    Made,
    /// A schedule of that name exists (an earlier attempt made it): left as it is.
    AlreadyMade,
}

/// The scheduler of an approval's reminder and escalation.
pub trait Scheduler {
    /// Makes the one-time schedule `name`, which invokes the remind function once at `at`
    /// (Unix seconds) with `input`. The error is one line, safe to log.
    async fn create(&self, name: &str, at: u64, input: &Value) -> Result<Scheduled, String>;
}

/// The clock.
pub trait Clock {
    /// Unix seconds now.
    fn now(&self) -> u64;
}

/// Waiting, while the decision side watches an execution end.
pub trait Pause {
    /// Returns after `millis` milliseconds.
    async fn pause(&self, millis: u64);
}

/// Where link ids come from.
pub trait Ids {
    /// A fresh link id, never given before (`LinkId::random` in production: whoever has it
    /// reviews as its reviewer, so it must not be guessable).
    fn link_id(&self) -> LinkId;
}
