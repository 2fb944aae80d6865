//! The reviewers' topic: SNS.

use aws_sdk_sns::{Client, types::MessageAttributeValue};
use hitl_core::ReviewerMessage;
use hitl_protocol::Notifier;

use hitl_aws::describe;

/// The stack's topic, whose subscriptions' filter policies deliver each message to the reviewer
/// its `reviewer` attribute names.
pub struct SnsTopic {
    client: Client,
    arn: String,
}

impl SnsTopic {
    pub fn new(client: Client, arn: String) -> Self {
        Self { client, arn }
    }
}

impl Notifier for SnsTopic {
    async fn publish(&self, message: &ReviewerMessage) -> Result<(), String> {
        let reviewer = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&message.reviewer)
            .build()
            .map_err(|e| e.to_string())?;
        self.client
            .publish()
            .topic_arn(&self.arn)
            .subject(&message.subject)
            .message(&message.body)
            .message_attributes("reviewer", reviewer)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(())
    }
}
