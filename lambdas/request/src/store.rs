//! The approvals table, as the request function writes it: conditional puts and updates, so a
//! retried invocation overwrites no record, takes over no other request's, and sends only the
//! messages not marked sent.

use std::collections::HashMap;

use aws_sdk_dynamodb::{Client, error::SdkError, types::AttributeValue};
use hitl_aws::{describe, error_code};
use hitl_core::{Approval, ApprovalId, LinkItem, Nudge, Status};

/// On the approval: when its Slack message went out.
const SLACK_SENT_AT: &str = "slack_sent_at";

pub struct Table {
    client: Client,
    name: String,
}

/// What storing the approval found.
pub enum Stored {
    /// The record was made now.
    New(Approval),
    /// The record of an earlier invocation with the same token (Lambda retried the invoke).
    Again(Approval),
    /// The record of an earlier attempt of the task: it now holds this attempt's token.
    Refreshed(Approval),
    /// The record of a later attempt (this invocation is late): it keeps its token.
    Superseded(Approval),
    /// The record of an earlier attempt, decided or expired already.
    Closed(Approval),
    /// Another request under the same approval key (a `Map` without `approvalKey`, or another
    /// workflow reusing the key): refused, the record untouched.
    Conflict(Approval),
}

impl Stored {
    pub fn approval(&self) -> &Approval {
        match self {
            Self::New(a)
            | Self::Again(a)
            | Self::Refreshed(a)
            | Self::Superseded(a)
            | Self::Closed(a)
            | Self::Conflict(a) => a,
        }
    }
}

type Item = HashMap<String, AttributeValue>;

/// Why the table did not take a write.
#[derive(Debug)]
pub enum StoreError {
    /// DynamoDB refuses the item as it is (a number out of its range, nesting too deep): the
    /// request itself is at fault and a retry cannot help.
    Refused(String),
    /// Anything else: throttling, the network, permissions.
    Failed(String),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(error: SdkError<E, R>) -> Self {
        match error_code(&error) {
            Some("ValidationException") => Self::Refused(describe(&error)),
            _ => Self::Failed(describe(&error)),
        }
    }
}

impl Table {
    pub fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// Stores `approval` unless a record with its id exists, and returns the stored record.
    /// An existing record is an earlier attempt's (a `Retry` of the task, which comes with a new
    /// task token): while it is open and its attempt is older, its token becomes this
    /// attempt's, since only the newest attempt's token can resume the execution.
    pub async fn put_approval(&self, approval: &Approval, now: u64) -> Result<Stored, StoreError> {
        let item: Item =
            serde_dynamo::to_item(approval).map_err(|e| StoreError::Refused(e.to_string()))?;
        if self.put_new(item).await? {
            return Ok(Stored::New(approval.clone()));
        }
        let mut stored = self.approval(approval.id.as_str()).await?;
        if stored.task_token == approval.task_token {
            return Ok(Stored::Again(stored));
        }
        // Two requests under one key (a Map without approvalKey): another request, or another
        // token for the same attempt.
        let same_attempt = approval.attempt.is_some() && stored.attempt == approval.attempt;
        if same_attempt
            || stored.execution_arn != approval.execution_arn
            || !same_request(&stored, approval)?
        {
            return Ok(Stored::Conflict(stored));
        }
        if self.refresh_token(approval, now).await? {
            stored.task_token = approval.task_token.clone();
            stored.attempt = approval.attempt;
            stored.token_set_at = Some(now);
            return Ok(Stored::Refreshed(stored));
        }
        let current = self.approval(approval.id.as_str()).await?;
        Ok(
            if matches!(current.status, Status::Pending | Status::Deciding) {
                Stored::Superseded(current)
            } else {
                Stored::Closed(current)
            },
        )
    }

    async fn approval(&self, id: &str) -> Result<Approval, StoreError> {
        let stored = self
            .get(id)
            .await?
            .ok_or_else(|| StoreError::Failed("the approval vanished between two calls".into()))?;
        serde_dynamo::from_item(stored)
            .map_err(|e| StoreError::Failed(format!("stored approval unreadable: {e}")))
    }

    /// Sets the record's task token to `approval`'s while the record is open (`pending` or
    /// `deciding`) and holds an earlier attempt's (any other token, when the workflow passes no
    /// `retryCount`); `false` when it does not.
    async fn refresh_token(&self, approval: &Approval, now: u64) -> Result<bool, StoreError> {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let n = |number: u64| AttributeValue::N(number.to_string());
        let open = "#status IN (:pending, :deciding)";
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(approval.task_token.expose()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()));
        update = match approval.attempt {
            Some(attempt) => update
                .update_expression(
                    "SET task_token = :token, attempt = :attempt, token_set_at = :now",
                )
                .condition_expression(format!(
                    "{open} AND (attribute_not_exists(attempt) OR attempt < :attempt)"
                ))
                .expression_attribute_values(":attempt", n(u64::from(attempt))),
            None => update
                .update_expression("SET task_token = :token, token_set_at = :now REMOVE attempt")
                .condition_expression(open),
        };
        conditional(update.send().await, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    /// Stores a new link item (its key is the digest of a fresh random link id).
    pub async fn put_link(&self, link: &LinkItem) -> Result<(), StoreError> {
        let item: Item =
            serde_dynamo::to_item(link).map_err(|e| StoreError::Refused(e.to_string()))?;
        if self.put_new(item).await? {
            Ok(())
        } else {
            Err(StoreError::Failed(
                "a new link's key is taken: try again".into(),
            ))
        }
    }

    /// Records that `reviewer`'s message went out, on the approval.
    pub async fn mark_notified(
        &self,
        id: &ApprovalId,
        reviewer: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.as_str().to_owned()))
            .update_expression("SET notified.#r = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#r", reviewer)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await?;
        Ok(())
    }

    /// The approval record `id`, if there is one.
    pub async fn find(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self
            .get(id)
            .await?
            .and_then(|item| serde_dynamo::from_item(item).ok()))
    }

    /// Marks `nudge` sent on the approval, only if it was not and the approval is still open:
    /// whether this call marked it (and so sends it).
    pub async fn mark_nudged(
        &self,
        id: &ApprovalId,
        nudge: Nudge,
        now: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.as_str().to_owned()))
            .update_expression("SET #n = :now")
            .condition_expression(
                "attribute_not_exists(#n) AND #status IN (:pending, :deciding) AND expires_at > :now",
            )
            .expression_attribute_names("#n", nudge.attribute())
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":pending", AttributeValue::S(Status::Pending.as_str().into()))
            .expression_attribute_values(":deciding", AttributeValue::S(Status::Deciding.as_str().into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the approval's Slack message went out.
    pub async fn slack_sent(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        Ok(self
            .get(id.as_str())
            .await?
            .is_some_and(|item| item.contains_key(SLACK_SENT_AT)))
    }

    pub async fn mark_slack_sent(&self, id: &ApprovalId, now: u64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.as_str().to_owned()))
            .update_expression("SET #s = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#s", SLACK_SENT_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await?;
        Ok(())
    }

    /// `true` if stored, `false` if an item with the same id was there.
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        conditional(result, |e| e.is_conditional_check_failed_exception())
    }

    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item)
    }
}

/// `Ok(true)` for a write DynamoDB made, `Ok(false)` for one whose condition it refused.
fn conditional<O, E, R>(
    result: Result<O, SdkError<E, R>>,
    refused: impl Fn(&E) -> bool,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(refused) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether two records carry the same request, compared as the table stores them (a number
/// such as `250.0` comes back from DynamoDB as `250`).
fn same_request(stored: &Approval, fresh: &Approval) -> Result<bool, StoreError> {
    let form = |a: &Approval| -> Result<Item, StoreError> {
        serde_dynamo::to_item(&a.request).map_err(|e| StoreError::Refused(e.to_string()))
    };
    Ok(form(stored)? == form(fresh)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitl_core::{ApprovalKey, ApprovalRequest, TaskToken};

    fn approval(request: serde_json::Value) -> Approval {
        Approval::new(
            TaskToken::new("token").expect("a token"),
            Some(0),
            &ApprovalKey {
                execution_arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
                state_name: "RequestApproval".into(),
                entered_time: "2026-12-02T10:00:00Z".into(),
                item: None,
            },
            ApprovalRequest::from_value(&request).expect("a valid request"),
            &["ana@example.com"],
            1,
            60,
            60,
        )
        .expect("a reviewer")
    }

    /// A retry's request is the stored one although DynamoDB gives `250.0` back as `250`.
    #[test]
    fn requests_are_compared_as_the_table_stores_them() {
        let fresh = approval(serde_json::json!({
            "title": "T", "requester": "c@x.io", "amount": 250.0, "limit": 1e3,
        }));
        let item: Item = serde_dynamo::to_item(&fresh).expect("an item");
        let stored: Approval = serde_dynamo::from_item(item).expect("a record");
        assert_ne!(
            stored.request, fresh.request,
            "serde_json tells 250 from 250.0: the reason for comparing stored forms"
        );
        assert!(same_request(&stored, &fresh).expect("comparable"));
        let other = approval(serde_json::json!({
            "title": "Another", "requester": "c@x.io", "amount": 250.0, "limit": 1e3,
        }));
        assert!(!same_request(&stored, &other).expect("comparable"));
    }
}
