//! The approvals table in DynamoDB: each of the protocol's conditional writes as one
//! conditional put or update, so DynamoDB, not a function instance, decides every race. One
//! rule for a refused condition ([`written`]): `ConditionalCheckFailedException` is
//! [`Written::ConditionFailed`], whatever the call.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    types::AttributeValue,
};
use hitl_core::{Approval, ApprovalId, Claim, LinkItem, LinkKey};
use hitl_protocol::{Table, TableError, Written};
use serde::de::DeserializeOwned;

use hitl_aws::{describe, error_code};

#[cfg(feature = "sign-in")]
pub mod sign_in_key;
mod writes;

type Item = HashMap<String, AttributeValue>;

/// The stack's approvals table.
pub struct DynamoTable {
    client: Client,
    name: String,
}

impl DynamoTable {
    pub fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// The table `name`, its client on the SDK configuration `aws`.
    pub fn on(aws: &aws_config::SdkConfig, name: String) -> Self {
        Self::new(Client::new(aws), name)
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// Why DynamoDB did not answer: it refuses the item as it is (`ValidationException`: a number
/// out of range, nesting too deep), or anything else.
fn table_error<E>(error: &SdkError<E, HttpResponse>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error_code(error) {
        Some("ValidationException") => TableError::Refused(describe(error)),
        _ => TableError::Failed(describe(error)),
    }
}

/// A conditional write's outcome: the one place a refused condition is recognised.
fn written<O, E>(result: Result<O, SdkError<E, HttpResponse>>) -> Result<Written, TableError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(Written::Done),
        Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => {
            Ok(Written::ConditionFailed)
        }
        Err(e) => Err(table_error(&e)),
    }
}

/// `value` as a DynamoDB item; a value DynamoDB could not hold is the request's fault.
fn item(value: &impl serde::Serialize) -> Result<Item, TableError> {
    serde_dynamo::to_item(value).map_err(|e| TableError::Refused(e.to_string()))
}

/// The record's votes are still the ones read (`:seen` of them): while the approval is open
/// they are approvals only, so their number tells whether another was counted meanwhile. A
/// record stored before votes existed has none.
const VOTES_AS_READ: &str = "(attribute_not_exists(votes) OR size(votes) = :seen)";

/// The votes of `approval` with `claim`'s added, as the attribute to store.
fn votes(approval: &Approval, claim: &Claim) -> Result<AttributeValue, TableError> {
    attribute(approval.votes_with(claim))
}

/// `value` as an attribute to store.
fn attribute(value: impl serde::Serialize) -> Result<AttributeValue, TableError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| TableError::Failed(e.to_string()))
}

impl DynamoTable {
    /// The item `id` (a consistent read), as `T`; `None` when there is none, or it is not a `T`
    /// (an item of the other kind under this id, or a damaged one, is as good as unknown).
    async fn get<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, TableError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        Ok(output
            .item
            .and_then(|item| serde_dynamo::from_item(item).ok()))
    }

    /// Puts `item` unless an item with its id exists.
    async fn put_new(&self, item: Item) -> Result<Written, TableError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        written(result)
    }
}

impl Table for DynamoTable {
    async fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, TableError> {
        self.get(id.as_str()).await
    }

    async fn link(&self, key: &LinkKey) -> Result<Option<LinkItem>, TableError> {
        self.get(key.as_str()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitl_core::{ApprovalKey, ApprovalRequest, TaskToken};

    fn approval(request: &str) -> Approval {
        let request: serde_json::Value = serde_json::from_str(request).expect("JSON");
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

    /// What the protocol takes for the same request once stored is what DynamoDB gives back:
    /// `250.0` comes back as `250`, `1e3` as `1000`.
    #[test]
    fn requests_are_compared_as_the_table_stores_them() {
        let fresh = approval(
            r#"{"title": "T", "requester": "c@x.io", "amount": 250.0, "limit": 1e3, "n": [0.5, 2.0]}"#,
        );
        let stored: Approval =
            serde_dynamo::from_item(item(&fresh).expect("an item")).expect("a record");
        assert_ne!(
            stored.request, fresh.request,
            "serde_json tells 250 from 250.0: the reason for comparing stored forms"
        );
        assert!(stored.request.same_request(&fresh.request));
        let other = approval(r#"{"title": "Another", "requester": "c@x.io", "amount": 250.0}"#);
        assert!(!stored.request.same_request(&other.request));
    }

    /// DynamoDB keeps no order in a map: the details come back in the request's order all the
    /// same.
    #[test]
    fn the_details_come_back_in_the_requests_order() {
        let fresh = approval(
            r#"{"title": "T", "requester": "c@x.io", "zeta": 1, "alpha": 2, "mid": 3, "beta": 4}"#,
        );
        let stored: Approval =
            serde_dynamo::from_item(item(&fresh).expect("an item")).expect("a record");
        assert_eq!(
            stored.request.detail_names(),
            ["zeta", "alpha", "mid", "beta"]
        );
        assert_eq!(stored, fresh);
    }
}
