//! The SDK's implementations of `hitl-protocol`'s ports that the functions share, behind one
//! feature each: [`table`] (DynamoDB), [`topic`] (SNS), [`scheduler`] (EventBridge Scheduler),
//! [`webhook`] (Slack's and Teams' webhooks, their URLs from SSM), [`slack_app`] (the Slack
//! app's Web API, its secrets from SSM) and [`chat`] (whichever Slack channel a stack has);
//! [`clock`] (the clock and the link ids); [`executions`] (how the orchestrator's executions
//! stand); [`identity`] (the identity provider of sign-in,
//! OpenID Connect); and [`functions`], which builds each function's ports from its settings.
//! Thin: each maps the SDK's answers to the port's (a failed condition to
//! `Written::ConditionFailed`, in one place).

#[cfg(feature = "slack")]
pub mod chat;
pub mod clock;
#[cfg(feature = "executions")]
pub mod executions;
#[cfg(feature = "reminder")]
pub mod functions;
#[cfg(feature = "sign-in")]
pub mod identity;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "slack")]
pub mod slack_app;
#[cfg(feature = "dynamodb")]
pub mod table;
#[cfg(feature = "sns")]
pub mod topic;
#[cfg(feature = "slack")]
pub mod webhook;
