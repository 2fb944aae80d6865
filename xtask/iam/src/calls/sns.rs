//! SNS: AWS Query protocol, `Action=<Operation>&…` in a form body (or the query).
//!
//! SAR, "Actions, resources, and condition keys for Amazon SNS": `sns:Publish`,
//! `sns:GetTopicAttributes` and `sns:ListSubscriptionsByTopic` act on the `topic` resource
//! (`arn:${Partition}:sns:${Region}:${Account}:${TopicName}`), which the request names by ARN.
//! `PublishBatch` has no action of its own: `sns:Publish` covers Publish and PublishBatch alike
//! ("Amazon SNS API permissions: Actions and resources reference", SNS developer guide).
//!
//! `Publish` to a `TargetArn` (a mobile platform endpoint) is authorized on that ARN: the SAR
//! lists only the `topic` resource type, so this is the ARN as sent, not a documented type.
//! `Publish` to a `PhoneNumber` (SMS) is not covered.

use super::request::{Needed, Unknown, param, query_protocol_params};

const SERVICE: &str = "sns";

/// What an SNS call needs.
pub(super) fn needed(call: &super::request::Call) -> Result<Vec<Needed>, Unknown> {
    let params = query_protocol_params(call);
    let operation = param(&params, "Action").unwrap_or_default();
    let topic = |key: &str| {
        param(&params, key)
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| Unknown::new(SERVICE, operation, format!("no {key} in the request")))
    };
    match operation {
        "Publish" => {
            if param(&params, "PhoneNumber").is_some() {
                return Err(Unknown::new(SERVICE, operation, "SMS publish not covered"));
            }
            let target = topic("TopicArn").or_else(|_| topic("TargetArn"))?;
            Ok(vec![Needed::new("sns:Publish", target)])
        }
        "PublishBatch" => Ok(vec![Needed::new("sns:Publish", topic("TopicArn")?)]),
        "GetTopicAttributes" | "ListSubscriptionsByTopic" => Ok(vec![Needed::new(
            &format!("sns:{operation}"),
            topic("TopicArn")?,
        )]),
        other => Err(Unknown::new(SERVICE, other, "operation not covered")),
    }
}
