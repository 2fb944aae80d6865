//! Sign-in's key: the HMAC key that seals the sign-in and session cookies, generated per stack.
//! It is the item `sign-in-key` of the approvals table (encrypted at rest, readable only by the
//! stack's functions), written once by whichever review instance needs it first: one
//! `UpdateItem` sets it if it is not there and answers the key that is, so two instances
//! starting together agree on one key. It is never in the template, an output or a log.
//!
//! A table reader could forge a session with it, but a session opens nothing without a link,
//! and the table holds only the links' digests.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoTable, s};
use hitl_aws::describe;

/// The key item's id: no approval or link id has a `-`.
const KEY_ITEM: &str = "sign-in-key";

/// The key's length: HMAC-SHA256's block-sized key is more than its output needs (RFC 2104 §3).
pub const KEY_BYTES: usize = 32;

impl DynamoTable {
    /// The stack's sign-in key: the stored one, or `fresh` stored now when there is none.
    pub async fn sign_in_key(&self, fresh: [u8; KEY_BYTES]) -> Result<Vec<u8>, String> {
        let output = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(KEY_ITEM))
            .update_expression("SET #key = if_not_exists(#key, :fresh)")
            .expression_attribute_names("#key", "key")
            .expression_attribute_values(":fresh", AttributeValue::B(fresh.to_vec().into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| format!("cannot read the sign-in key: {}", describe(&e)))?;
        let key = output
            .attributes
            .and_then(|mut item| item.remove("key"))
            .and_then(|value| value.as_b().ok().map(|b| b.as_ref().to_vec()))
            .filter(|key| key.len() == KEY_BYTES);
        key.ok_or_else(|| "the table's sign-in key is not a 32-byte binary".to_owned())
    }
}
