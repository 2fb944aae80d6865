//! The approvals table, as the request function writes it: conditional puts, so a retried
//! invocation neither overwrites a record nor sends a message twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::{Client, error::SdkError, types::AttributeValue};
use hitl_aws::{describe, error_code};
use hitl_core::{Approval, ApprovalId, LinkItem};

/// Marks a link whose message was sent.
const NOTIFIED_AT: &str = "notified_at";
/// On the approval: when its Slack message went out.
const SLACK_SENT_AT: &str = "slack_sent_at";

pub struct Table {
    client: Client,
    name: String,
}

/// What storing a link found.
pub enum LinkState {
    /// Stored now, or stored earlier but its message never went out.
    ToNotify,
    /// Its message was sent by an earlier invocation.
    Notified,
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

    /// Stores `approval` unless a record with its id exists; returns the stored record either way.
    pub async fn put_approval(&self, approval: &Approval) -> Result<Approval, StoreError> {
        let item: Item =
            serde_dynamo::to_item(approval).map_err(|e| StoreError::Refused(e.to_string()))?;
        match self.put_new(item).await? {
            true => Ok(approval.clone()),
            false => {
                let stored = self.get(approval.id.as_str()).await?.ok_or_else(|| {
                    StoreError::Failed("the approval vanished between two calls".into())
                })?;
                serde_dynamo::from_item(stored)
                    .map_err(|e| StoreError::Failed(format!("stored approval unreadable: {e}")))
            }
        }
    }

    /// Stores `link` unless it exists, and says whether its message still has to be sent.
    pub async fn put_link(&self, link: &LinkItem) -> Result<LinkState, StoreError> {
        let item: Item =
            serde_dynamo::to_item(link).map_err(|e| StoreError::Refused(e.to_string()))?;
        if self.put_new(item).await? {
            return Ok(LinkState::ToNotify);
        }
        let stored = self.get(link.id.as_str()).await?.unwrap_or_default();
        Ok(if stored.contains_key(NOTIFIED_AT) {
            LinkState::Notified
        } else {
            LinkState::ToNotify
        })
    }

    pub async fn mark_notified(&self, link: &LinkItem, now: u64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", AttributeValue::S(link.id.as_str().to_owned()))
            .update_expression("SET #n = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#n", NOTIFIED_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await?;
        Ok(())
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
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
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
