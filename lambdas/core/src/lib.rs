//! The approval protocol's pure logic, shared by the `request` and `review` functions: ids,
//! records, decision rules, messages and pages. No AWS I/O, no async, no clock: callers pass
//! `now` as Unix seconds.
//!
//! # The protocol in brief
//!
//! **Request.** A workflow task invokes the `request` function with
//! `{taskToken, executionArn, request}` ([`Invocation`]). A bad request ([`RequestError`]) fails
//! the task at once. Otherwise the function stores an [`Approval`] record keyed by the approval
//! id `A` = base32(SHA-256(token)) truncated to 26 characters ([`TaskToken::approval_id`]) and
//! one [`LinkItem`] per reviewer, keyed by the link id
//! `L` = base32(SHA-256(`"link"` ‖ 0 ‖ token ‖ 0 ‖ reviewer)) ([`TaskToken::link_id`]); the
//! requester gets no link. Each reviewer is sent his own link `<base>/approvals/<L>`
//! ([`reviewer_message`], [`slack_payload`]). The task token stays in the record: it is never in
//! a link, a message, a page, or `Debug` output.
//!
//! **Review.** `GET`/`HEAD /approvals/{L}` never change anything: they show the request and its
//! state ([`view`], [`page::show`]), with a form while it is pending. A `POST` first passes
//! [`cross_site`] and [`form::parse`], then [`post`] decides: 404 (unknown or malformed link),
//! 410 (expired, whatever the status says, unless decided), 409 (decided, or another reviewer's
//! fresh claim), or claim: `pending → deciding`, `SendTaskSuccess` with [`task_output`], then
//! [`after_send`]: finalise (`approved`/`rejected`), expire (the task is gone), or revert to
//! `pending` (transient error; the page asks to retry). So a decision is recorded only if Step
//! Functions accepted it. A claim older than [`STALE_CLAIM_SECS`] may be claimed again.
//!
//! # Modules
//!
//! - [`id`]: the task token (redacted `Debug`) and the ids derived from it.
//! - [`request`]: the business request and its validation.
//! - [`record`]: the approval record, statuses, decisions, link items.
//! - [`rules`]: the pure decision rules and the task output.
//! - [`form`]: the POST guards: cross-site check and form body.
//! - [`message`]: the reviewers' SNS messages and the Slack payload.
//! - [`page`]: the HTML pages and their headers.
//! - [`dates`]: times for people and for Step Functions.

pub mod dates;
pub mod form;
pub mod id;
pub mod message;
pub mod page;
pub mod record;
pub mod request;
pub mod rules;

pub use form::{DecisionForm, FormError, Refusal, cross_site};
pub use id::{ApprovalId, LinkId, TaskToken};
pub use message::{ReviewerMessage, reviewer_message, slack_payload};
pub use record::{Approval, Claim, Decision, LinkItem, Status, Transition};
pub use request::{ApprovalRequest, Invocation, RequestError};
pub use rules::{
    PostVerdict, STALE_CLAIM_SECS, SendOutcome, View, after_send, post, task_output, view,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{TOKEN, sample};
    use serde_json::json;

    /// The token never shows in the `Debug` output of any type that holds or derives from it.
    #[test]
    fn no_task_token_in_debug_output() {
        let a = sample(json!({"title": "T", "requester": "c@x.io", "k": "v"}));
        let event = json!({"taskToken": TOKEN, "executionArn": "arn", "request": {"title": "T", "requester": "c@x.io"}});
        let invocation = Invocation::from_event(&event).expect("valid");
        let claim = Claim {
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: "r@x.io".into(),
            at: 1,
        };
        let debug = [
            format!("{:?}", a.task_token),
            format!("{a:?}"),
            format!("{a:#?}"),
            format!("{invocation:?}"),
            format!("{:?}", a.links()),
            format!("{claim:?}"),
            format!("{:?}", reviewer_message(&a, &a.links()[0], "https://x", 1)),
        ];
        for text in &debug {
            assert!(!text.contains(TOKEN), "{text}");
            assert!(!text.contains(&TOKEN[..12]), "{text}");
        }
        assert!(debug[1].contains("TaskToken(<redacted>)"));
        assert!(debug[3].contains("TaskToken(<redacted>)"));
        // The task output names the approval, never the token or a link.
        let out = task_output(&a.id, &claim);
        assert!(!out.contains(TOKEN) && !out.contains(a.links()[0].id.as_str()));
        // Only the record's own JSON form (the table) holds it.
        assert!(
            serde_json::to_string(&a)
                .expect("serializes")
                .contains(TOKEN)
        );
        assert!(
            !serde_json::to_string(&a.links())
                .expect("serializes")
                .contains(TOKEN)
        );
    }
}
