//! Dead-letter queues, filled as the services fill them (moto stores a `DeadLetterConfig` and
//! never uses it):
//!
//! - EventBridge Scheduler sends a schedule it could not deliver, once its retries are spent, to
//!   its target's `DeadLetterConfig`, **with the schedule's role** ("Configuring a schedule's
//!   dead-letter queue", EventBridge Scheduler User Guide): the schedule's input, with
//!   `ERROR_CODE`, `ERROR_MESSAGE`, `RETRY_ATTEMPTS`, `SCHEDULE_ARN` and `TARGET_ARN`.
//! - Lambda sends an asynchronous invocation whose function still failed after its two retries
//!   to the function's `DeadLetterConfig`, **with the function's role** ("Dead-letter queues",
//!   Lambda Developer Guide): the event, with `RequestID`, `ErrorCode` and `ErrorMessage`.
//!
//! Each sender must be allowed `sqs:SendMessage` on the queue, decided and logged as every call
//! here. A letter its sender may not send is lost, as in AWS (Lambda counts it in
//! `DeadLetterErrors`), and the router's log says so.

use kit_iam::{Authorization, Context, Principal};

use crate::shared::Shared;

/// A letter for a dead-letter queue.
pub struct Letter<'a> {
    pub queue_arn: &'a str,
    /// The role it is sent with, and the session name the service gives it.
    pub role_arn: &'a str,
    pub session: &'a str,
    pub body: &'a str,
    /// Each attribute's name, data type (`String`, `Number`) and value.
    pub attributes: Vec<(&'static str, &'static str, String)>,
}

/// Sends `letter` if its role may; why not otherwise.
pub fn send(shared: &Shared, letter: &Letter) -> Result<(), String> {
    let role = shared.access.role(letter.role_arn)?;
    let principal = crate::guard::assumed(&role.arn, letter.session);
    let mut request = Authorization {
        principal: Principal::Aws(principal.clone()),
        action: "sqs:SendMessage".to_owned(),
        resource: letter.queue_arn.to_owned(),
        context: Context::new(),
    };
    request
        .context
        .extend(crate::access::principal_context(&principal, &role.arn));
    if !shared.access.identity(&role, &request).is_allowed() {
        return Err(format!("{principal} may not send to {}", letter.queue_arn));
    }
    let url = queue_url(&shared.upstreams.moto, letter.queue_arn)
        .ok_or_else(|| format!("{} is not a queue's ARN", letter.queue_arn))?;
    let form = form(&url, letter);
    shared
        .agent
        .post(&shared.upstreams.moto)
        .header("content-type", "application/x-www-form-urlencoded")
        // moto tells services apart by the credential scope of the Authorization header.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .send(form.as_bytes())
        .map(drop)
        .map_err(|e| format!("moto's SQS did not take it: {e}"))
}

/// moto's URL of the queue `arn`: `<moto>/<account>/<name>`.
fn queue_url(moto: &str, arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    let (service, account, name) = (parts.nth(2)?, parts.nth(1)?, parts.next()?);
    (service == "sqs" && !name.is_empty()).then(|| format!("{moto}/{account}/{name}"))
}

/// SQS's query form of `SendMessage` for `letter`, its attributes as strings.
fn form(url: &str, letter: &Letter) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "SendMessage")
        .append_pair("QueueUrl", url)
        .append_pair("MessageBody", letter.body);
    for (i, (name, kind, value)) in letter.attributes.iter().enumerate() {
        let key = |what: &str| format!("MessageAttribute.{}.{what}", i + 1);
        form.append_pair(&key("Name"), name)
            .append_pair(&key("Value.DataType"), kind)
            .append_pair(&key("Value.StringValue"), value);
    }
    form.finish()
}

/// Sends `letter`, logging what became of it (`what` names it in the log).
pub fn send_logged(shared: &Shared, what: &str, letter: &Letter) {
    match send(shared, letter) {
        Ok(()) => eprintln!("router: {what} sent to {}", letter.queue_arn),
        Err(why) => eprintln!("router: {what} lost, not sent to its dead-letter queue: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_arn_is_moto_s_url_and_attributes_are_strings() {
        let arn = "arn:aws:sqs:us-east-1:123456789012:e2e-reminders-dead-letters";
        let url = queue_url("http://127.0.0.1:5000", arn).unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:5000/123456789012/e2e-reminders-dead-letters"
        );
        assert_eq!(queue_url("m", "arn:aws:sns:us-east-1:1:t"), None);
        let letter = Letter {
            queue_arn: arn,
            role_arn: "r",
            session: "s",
            body: "{\"a\":1}",
            attributes: vec![("ERROR_CODE", "String", "X".into())],
        };
        let form = form(&url, &letter);
        assert!(
            form.contains("MessageAttribute.1.Name=ERROR_CODE"),
            "{form}"
        );
        assert!(
            form.contains("MessageAttribute.1.Value.StringValue=X"),
            "{form}"
        );
        assert!(form.contains("MessageBody=%7B%22a%22%3A1%7D"), "{form}");
    }
}
