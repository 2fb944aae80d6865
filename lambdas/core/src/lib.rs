//! The approval protocol's pure logic, shared by the `request` and `review` functions: ids,
//! records, decision rules, messages and pages. No AWS I/O, no async, no clock: callers pass
//! `now` as Unix seconds.
//!
//! # The protocol in brief
//!
//! **Request.** A workflow task invokes the `request` function with
//! `{taskToken, executionArn, stateName, stateEnteredTime, request}` ([`Invocation`]). A bad
//! request ([`RequestError`]) fails the task at once. Otherwise the function stores an
//! [`Approval`] record keyed by the approval id `A`, a digest of the execution and the state's
//! entry ([`ApprovalKey::approval_id`]: the same for a retried attempt, whose task token is new),
//! and, per reviewer, a random link id `L` ([`LinkId::random`], 130 bits) with a [`LinkItem`]
//! keyed by its digest ([`LinkId::key`]: the table never holds a link); the requester gets no
//! link. Each reviewer is sent his own link
//! `<base>/approvals/<L>` ([`reviewer_message`], [`slack_payload`]). A retried attempt finds
//! the record, refreshes its token and sends only what was not sent. The kit keeps the task
//! token in the record: it is never in a link, a message, a page, or `Debug` output.
//!
//! **Review.** `GET`/`HEAD /approvals/{L}` never change anything: they show the request and its
//! state ([`view`], [`page::show`]), with a form while it is pending. A `POST` first passes
//! [`cross_site`] and [`form::parse`], then [`post`] decides: 404 (unknown or malformed link),
//! 410 (expired, whatever the status says, unless decided), 409 (decided, or another reviewer's
//! fresh claim), or claim: `pending → deciding`, the decision sent with [`task_output`], then
//! [`after_send`]: finalise (`approved`/`rejected`), expire (the task is gone), or revert to
//! `pending` (transient error; the page asks to retry). So a decision is recorded only if the
//! orchestrator (Step Functions, or the durable workflow) accepted it. A claim older than
//! [`STALE_CLAIM_SECS`] may be claimed again.
//!
//! # Modules
//!
//! - [`id`]: the task token (redacted `Debug`) and the ids derived from it.
//! - [`request`]: the business request and its validation.
//! - [`record`]: the approval record, statuses, decisions, link items.
//! - [`errors`]: the error names the workflow sees.
//! - [`rules`]: the pure decision rules and the task output.
//! - [`settlement`]: what a record its execution outlived comes to, from how it ended.
//! - [`form`]: the POST guards: cross-site check and form body.
//! - [`message`]: the reviewers' SNS messages and the Slack payload.
//! - [`page`]: the HTML pages and their headers.
//! - [`money`]: amounts with their currency's decimals.
//! - [`attachment`]: the S3 objects a request names, and how long their links live.
//! - [`download`]: whether a click on an attachment's link is answered.
//! - [`dates`]: times for people and for the orchestrators.
//! - [`slack`]: the Slack app's message, reason modal and interaction payloads.
//! - [`slack_signature`]: requests from Slack, verified as Slack signs them.

pub mod attachment;
pub mod dates;
pub mod download;
pub mod errors;
pub mod form;
pub mod id;
pub mod message;
pub mod money;
pub mod page;
pub mod record;
pub mod request;
pub mod rules;
pub mod settlement;
pub mod sign_in;
pub mod slack;
pub mod slack_signature;
pub mod teams;

pub use attachment::Attachment;
pub use form::{DecisionForm, FormError, Refusal, cross_site};
pub use id::{ApprovalId, ApprovalKey, LinkId, LinkKey, TaskToken};
pub use message::{
    EVERYONE, Ending, ReviewerMessage, ending_for_everyone, ending_message, reviewer_message,
    slack_payload,
};
pub use record::{
    ANY_REVIEWER, Approval, Claim, Decision, Link, LinkItem, LostClaim, Status, Transition,
    Verified, Vote,
};
pub use request::{
    ApprovalRequest, INVALID_INPUT, Invocation, RequestError, has_title_and_requester,
};
pub use rules::{
    AfterGone, AtExpiry, Ballot, EXPIRY_CHECK_SECS, ExecutionState, Nudge, PostVerdict,
    STALE_CLAIM_SECS, SendOutcome, View, after_closed, after_gone, after_send, at_expiry, ballot,
    nudged, post, task_output, view,
};
pub use settlement::{Settlement, settlement};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{TOKEN, sample};
    use serde_json::json;

    /// The token never shows in the `Debug` output of any type that holds or derives from it.
    #[test]
    fn no_task_token_in_debug_output() {
        let a = sample(json!({"title": "T", "requester": "c@x.io", "k": "v"}));
        let event = json!({"taskToken": TOKEN, "executionArn": "arn", "stateName": "S", "stateEnteredTime": "t", "request": {"title": "T", "requester": "c@x.io"}});
        let invocation = Invocation::from_event(&event).expect("valid");
        let claim = Claim {
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: "r@x.io".into(),
            at: 1,
            verified: None,
        };
        let debug = [
            format!("{:?}", a.task_token),
            format!("{a:?}"),
            format!("{a:#?}"),
            format!("{invocation:?}"),
            format!("{:?}", a.new_link("r@x.io").1),
            format!("{claim:?}"),
            format!(
                "{:?}",
                reviewer_message(&a, &a.new_link("r@x.io").0, "https://x", 1)
            ),
        ];
        for text in &debug {
            assert!(!text.contains(TOKEN), "{text}");
            assert!(!text.contains(&TOKEN[..12]), "{text}");
        }
        assert!(debug[1].contains("TaskToken(<redacted>)"));
        assert!(debug[3].contains("TaskToken(<redacted>)"));
        // The task output names the approval, never the token or a link.
        let out = task_output(&a, &claim);
        assert!(!out.contains(TOKEN));
        // Only the record's own JSON form (the table) holds it.
        assert!(
            serde_json::to_string(&a)
                .expect("serializes")
                .contains(TOKEN)
        );
        assert!(
            !serde_json::to_string(&a.new_link("r@x.io").1)
                .expect("serializes")
                .contains(TOKEN)
        );
    }
}
