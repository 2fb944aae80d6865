//! The message every reviewer gets when an approval ends. The state machine publishes it with
//! its own `sns:publish` tasks; a durable workflow publishes it through [`announce`].

use aws_sdk_sns::types::MessageAttributeValue;
use hitl_aws::describe;
use hitl_core::{ApprovalRequest, Ending, ending_message};

use crate::handler::{Context, Failure};

/// Publishes the ending of `request` to every reviewer (the `reviewer` attribute `all`, which
/// every subscription's filter policy lets through).
pub async fn announce(
    context: &Context,
    request: &ApprovalRequest,
    ending: Ending<'_>,
) -> Result<(), Failure> {
    let (subject, body) = ending_message(request, ending);
    let everyone = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("all")
        .build()
        .map_err(|e| Failure::transient(e.to_string()))?;
    context
        .sns
        .publish()
        .topic_arn(&context.settings.topic_arn)
        .subject(subject)
        .message(body)
        .message_attributes("reviewer", everyone)
        .send()
        .await
        .map_err(|e| Failure::transient(describe(&e)))?;
    Ok(())
}
