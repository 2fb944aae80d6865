//! One invocation: validate, store, notify.

use aws_sdk_sns::types::MessageAttributeValue;
use hitl_core::{
    Approval, ApprovalKey, ApprovalRequest, Invocation, RequestError, TaskToken, attachment,
    message::{ReviewerMessage, reviewer_message, slack_payload},
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

use hitl_aws::{describe, now};

use crate::{
    settings::Settings,
    slack::Slack,
    store::{StoreError, Stored, Table},
};

pub struct Context {
    pub table: Table,
    pub sns: aws_sdk_sns::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub slack: Option<Slack>,
    pub settings: Settings,
}

impl Context {
    /// The clients `settings` need, on the SDK configuration `aws`.
    pub fn new(aws: &aws_config::SdkConfig, settings: Settings) -> Self {
        Self {
            table: Table::new(aws_sdk_dynamodb::Client::new(aws), settings.table.clone()),
            sns: aws_sdk_sns::Client::new(aws),
            scheduler: aws_sdk_scheduler::Client::new(aws),
            slack: settings
                .slack_parameter
                .clone()
                .map(|name| Slack::new(name, aws_sdk_ssm::Client::new(aws))),
            settings,
        }
    }
}

/// A failed invocation, as Step Functions sees it: the error name the workflow can match
/// (`Hitl.InvalidRequest` fails at once; `Hitl.Transient` is retried) and a one-line cause.
#[derive(Debug)]
pub struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    /// The error name the workflow matches on.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The one-line cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub const INVALID: &'static str = "Hitl.InvalidRequest";
    pub const TRANSIENT: &'static str = "Hitl.Transient";
    /// The approval closed under an earlier attempt: the workflow's expired branch.
    pub const EXPIRED: &'static str = "Hitl.Expired";

    fn expired(message: String) -> Self {
        Self {
            kind: Self::EXPIRED,
            message,
        }
    }

    pub fn invalid(error: impl std::fmt::Display) -> Self {
        Self {
            kind: Self::INVALID,
            message: error.to_string(),
        }
    }

    pub fn transient(message: String) -> Self {
        Self {
            kind: Self::TRANSIENT,
            message,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(message) => Self::invalid(format!(
                "the table refused the request as it is ({message}); check its numbers and nesting"
            )),
            StoreError::Failed(message) => Self::transient(message),
        }
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        Diagnostic {
            error_type: failure.kind.to_owned(),
            error_message: failure.message,
        }
    }
}

/// The approval task's invocation: the event read, then [`request_approval`].
pub async fn handle(context: &Context, event: LambdaEvent<Value>) -> Result<Value, Failure> {
    let invocation = Invocation::from_event(&event.payload).map_err(|e| {
        tracing::warn!(error = %e, "refused an invalid request");
        Failure::invalid(e)
    })?;
    let now = now();
    let approval = context
        .new_approval(
            invocation.task_token,
            invocation.attempt,
            &invocation.key,
            invocation.request,
            now,
        )
        .map_err(Failure::invalid)?;
    request_approval(context, &approval, now).await
}

impl Context {
    /// A new record for `request` under this function's reviewers, quorum, timeout and
    /// retention; refused when an attachment is in a bucket the stack may not read.
    pub fn new_approval(
        &self,
        token: TaskToken,
        attempt: Option<u32>,
        key: &ApprovalKey,
        request: ApprovalRequest,
        now: u64,
    ) -> Result<Approval, RequestError> {
        let settings = &self.settings;
        attachment::check_buckets(&request.attachments, &settings.attachment_buckets)
            .map_err(RequestError::Attachment)?;
        Approval::new(
            token,
            attempt,
            key,
            request,
            &settings.reviewers,
            now,
            settings.approval_timeout_secs,
            settings.retention_secs,
        )?
        .with_quorum(settings.quorum)
    }
}

/// Stores `approval` (or finds it stored by an earlier invocation) and sends each reviewer who
/// has not had his message yet his own link: what both orchestrators do before they wait. The
/// answer is `{approvalId, expiresAt}`.
pub async fn request_approval(
    context: &Context,
    approval: &Approval,
    now: u64,
) -> Result<Value, Failure> {
    let settings = &context.settings;
    let stored = context.table.put_approval(approval, now).await?;
    let attempt = match &stored {
        Stored::New(_) => "first",
        Stored::Again(_) => "repeated",
        Stored::Refreshed(_) => "retried: token refreshed",
        Stored::Superseded(_) => "late: a later attempt holds the approval",
        Stored::Closed(_) => "retried: already closed",
        Stored::Conflict(_) => "conflict",
    };
    let approval = stored.approval();
    match &stored {
        Stored::Conflict(_) => {
            return Err(Failure::invalid(
                "another request already holds this approval (same execution, state and entry \
                 time): inside a Map, pass approvalKey: $$.Map.Item.Index",
            ));
        }
        // A later attempt sends what is missing; an earlier one must not send with its token.
        Stored::Superseded(_) => {
            tracing::warn!(approval = %approval.id, attempt, "sent nothing");
            return Ok(
                json!({ "approvalId": approval.id.as_str(), "expiresAt": approval.expires_at }),
            );
        }
        // Expired (or decided) under an earlier attempt's token: nobody can decide for this
        // attempt, so it ends now rather than waiting out its timeout.
        Stored::Closed(_) => {
            tracing::warn!(approval = %approval.id, status = approval.status.as_str(), "the approval is closed");
            return Err(Failure::expired(format!(
                "the approval closed ({}) before this attempt of the task reached it",
                approval.status.as_str()
            )));
        }
        Stored::New(_) | Stored::Again(_) | Stored::Refreshed(_) => {}
    }

    let mut sent = 0;
    for reviewer in approval.unnotified() {
        // A fresh link per message: the table keeps only its digest, so a retry cannot send the
        // same link again, and a reviewer whose message never went out never had one.
        let (link, item) = approval.new_link(reviewer);
        context.table.put_link(&item).await?;
        let message = reviewer_message(approval, &link, &settings.review_base_url, now);
        publish(context, &message).await?;
        context
            .table
            .mark_notified(&approval.id, reviewer, now)
            .await?;
        sent += 1;
    }
    let slack = match &context.slack {
        Some(slack) => notify_slack(context, slack, approval, now).await?,
        None => "off",
    };
    // After the messages, and never failing the approval: a nudge is a convenience, each one
    // that cannot be scheduled is logged (see `schedule`).
    let unscheduled = match &settings.schedules {
        Some(schedules) => schedules
            .make(&context.scheduler, approval, now)
            .await
            .len(),
        None => 0,
    };
    tracing::info!(
        approval = %approval.id,
        reviewers = approval.reviewers.len(),
        sent,
        attempt,
        slack,
        unscheduled,
        "approval requested"
    );
    Ok(json!({ "approvalId": approval.id.as_str(), "expiresAt": approval.expires_at }))
}

/// Publishes `message` to the topic with its `reviewer` attribute, which the subscriptions'
/// filter policies deliver to that reviewer alone.
pub async fn publish(context: &Context, message: &ReviewerMessage) -> Result<(), Failure> {
    let reviewer = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(&message.reviewer)
        .build()
        .map_err(|e| Failure::transient(e.to_string()))?;
    context
        .sns
        .publish()
        .topic_arn(&context.settings.topic_arn)
        .subject(&message.subject)
        .message(&message.body)
        .message_attributes("reviewer", reviewer)
        .send()
        .await
        .map_err(|e| Failure::transient(describe(&e)))?;
    Ok(())
}

/// Posts the request to Slack once per approval, with a link of its own for each reviewer.
/// Email is the channel of record: a Slack failure is logged (without the webhook URL) and does
/// not fail the request.
async fn notify_slack(
    context: &Context,
    slack: &Slack,
    approval: &Approval,
    now: u64,
) -> Result<&'static str, Failure> {
    if context.table.slack_sent(&approval.id).await? {
        return Ok("already sent");
    }
    let mut links = Vec::new();
    for reviewer in &approval.reviewers {
        let (link, item) = approval.new_link(reviewer);
        context.table.put_link(&item).await?;
        links.push(link);
    }
    let payload = slack_payload(approval, &links, &context.settings.review_base_url, now);
    match slack.post(&payload).await {
        Ok(()) => {
            context.table.mark_slack_sent(&approval.id, now).await?;
            Ok("sent")
        }
        Err(error) => {
            tracing::warn!(approval = %approval.id, %error, "Slack notification failed");
            Ok("failed")
        }
    }
}
