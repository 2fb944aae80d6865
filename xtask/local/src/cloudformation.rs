//! CloudFormation's limits that moto does not keep.

use crate::reply::{Reply, header};

/// The largest `TemplateBody` CloudFormation takes: 51,200 bytes ("Template body size in a
/// request", AWS CloudFormation quotas). moto takes any size.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The CloudFormation actions that take a `TemplateBody`.
const TEMPLATE_ACTIONS: [&str; 5] = [
    "CreateStack",
    "UpdateStack",
    "CreateChangeSet",
    "ValidateTemplate",
    "GetTemplateSummary",
];

/// CloudFormation's answer to a request AWS refuses and moto would take: a `TemplateBody` over
/// [`TEMPLATE_BODY_LIMIT`], refused as AWS refuses it (`ValidationError`, HTTP 400). The body is
/// the Query protocol's form.
pub fn refused_by_aws(body: &[u8]) -> Option<Reply> {
    let mut action = None;
    let mut template_bytes = 0;
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "Action" => action = Some(value.into_owned()),
            "TemplateBody" => template_bytes = value.len(),
            _ => {}
        }
    }
    let action = action?;
    if !TEMPLATE_ACTIONS.contains(&action.as_str()) || template_bytes <= TEMPLATE_BODY_LIMIT {
        return None;
    }
    let message = format!(
        "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: \
         Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}"
    );
    let xml = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <Error><Type>Sender</Type><Code>ValidationError</Code><Message>{message}</Message></Error>\
         <RequestId>hitl-router</RequestId></ErrorResponse>"
    );
    Some((
        400,
        vec![header("Content-Type", "text/xml")],
        xml.into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_bodies_over_cloudformations_limit_are_refused_as_aws_refuses_them() {
        let form = |action: &str, bytes: usize| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("Action", action)
                .append_pair("StackName", "s")
                .append_pair("TemplateBody", &"x".repeat(bytes))
                .finish()
                .into_bytes()
        };
        for action in TEMPLATE_ACTIONS {
            assert!(
                refused_by_aws(&form(action, TEMPLATE_BODY_LIMIT)).is_none(),
                "{action}"
            );
            let (status, _, body) =
                refused_by_aws(&form(action, TEMPLATE_BODY_LIMIT + 1)).expect("refused");
            assert_eq!(status, 400);
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
            assert!(body.contains("less than or equal to 51200"), "{body}");
        }
        // Multi-byte characters count as bytes, as the limit does.
        let wide = "é".repeat(TEMPLATE_BODY_LIMIT / 2 + 1);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "CreateStack")
            .append_pair("TemplateBody", &wide)
            .finish();
        assert!(refused_by_aws(body.as_bytes()).is_some());
        // Other actions, and a template by URL, pass.
        assert!(refused_by_aws(&form("DescribeStacks", 100_000)).is_none());
        assert!(
            refused_by_aws(b"Action=CreateStack&TemplateURL=https%3A%2F%2Fb.s3.amazonaws.com%2Fk")
                .is_none()
        );
        assert!(refused_by_aws(b"not a form \xff").is_none());
    }
}
