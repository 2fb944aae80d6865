//! The Slack app's side of an approval: the channel message (Block Kit, with the buttons while
//! the approval is open, its outcome once it is not), the modal that asks a rejection's reason,
//! and the interaction payloads Slack posts back (`block_actions`, `view_submission`).
//!
//! Block Kit's limits (docs.slack.dev/reference/block-kit/blocks): a header's text 150
//! characters, a section's text 3,000, a field 2,000 and ten fields, an input's
//! `initial_value`/`max_length` 3,000, a modal's title 24, `private_metadata` 3,000.

use serde_json::{Value, json};

use crate::dates::{relative, utc};
use crate::message::slack_escape;
use crate::record::{Approval, Decision};
use crate::request::shorten;
use crate::rules::{self, View};

pub use crate::record::SlackMessage;

/// The buttons' `action_id`s.
pub const APPROVE: &str = "hitl_approve";
pub const REJECT: &str = "hitl_reject";
/// The reason modal's `callback_id`, and its input's block and action ids.
pub const REASON_MODAL: &str = "hitl_reason";
const REASON_BLOCK: &str = "reason";
const REASON_INPUT: &str = "reason_input";
/// The longest comment the page takes, as the modal's `max_length`.
const MAX_COMMENT: usize = 1_000;

/// A field's or a context's text, within Block Kit's 2,000 characters (a field's limit). The
/// user text in it is cut before it is escaped (see `field`).
fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": shorten(text, 2_000) })
}

/// `text` escaped for mrkdwn within `max` characters: cut before it is escaped (an entity is
/// never split), shorter again while what escaping adds takes it over.
fn escaped_within(text: &str, max: usize) -> String {
    let mut cut = max;
    loop {
        let escaped = slack_escape(&shorten(text, cut));
        if escaped.chars().count() <= max || cut < 2 {
            return escaped;
        }
        cut = cut * 2 / 3;
    }
}

/// `*label*` and the user's `value`, within a field's 2,000 characters.
fn field(label: &str, value: &str) -> Value {
    mrkdwn(&format!("*{label}*\n{}", escaped_within(value, 1_700)))
}

/// The request's fields: requester, amount, expiry, quorum, then details, at most ten.
fn fields(approval: &Approval, now: u64) -> Vec<Value> {
    let request = &approval.request;
    let mut fields = vec![field("Requested by", &request.requester)];
    if let Some(amount) = request.amount_text() {
        fields.push(field("Amount", &amount));
    }
    fields.push(mrkdwn(&format!(
        "*Expires*\n{} ({})",
        utc(approval.expires_at),
        relative(now, approval.expires_at)
    )));
    if approval.quorum > 1 {
        fields.push(mrkdwn(&format!(
            "*Approvals*\n{} of {} needed",
            approval.approvals(),
            approval.quorum
        )));
    }
    for (key, text) in request.details_text() {
        if fields.len() == 10 {
            break;
        }
        fields.push(field(&escaped_within(key, 200), &text));
    }
    fields
}

/// What the message says under the request: the outcome, or the buttons while it is open.
fn state_blocks(approval: &Approval, now: u64) -> Vec<Value> {
    let context = |text: String| json!({ "type": "context", "elements": [mrkdwn(&text)] });
    match rules::view(approval, now) {
        View::Pending { .. } => {
            let button = |text: &str, id: &str, style: &str| {
                json!({ "type": "button", "text": { "type": "plain_text", "text": text },
                        "action_id": id, "value": approval.id.as_str(), "style": style })
            };
            let mut blocks = Vec::new();
            if !approval.votes.is_empty() {
                let voters: Vec<String> = approval.votes.keys().map(|r| slack_escape(r)).collect();
                blocks.push(context(format!("Approved so far by {}", voters.join(", "))));
            }
            blocks.push(
                json!({ "type": "actions", "block_id": "hitl_decide", "elements": [
                    button("Approve", APPROVE, "primary"),
                    button("Reject", REJECT, "danger"),
                ]}),
            );
            blocks
        }
        View::Decided => vec![context(outcome(approval))],
        View::BeingDecided => vec![context("Being decided…".to_owned())],
        View::Expired => vec![context(format!(
            ":hourglass: Expired {}: nobody decided in time.",
            utc(approval.expires_at)
        ))],
    }
}

/// "✅ Approved by …" with when and the comment.
fn outcome(approval: &Approval) -> String {
    let (mark, verb) = match approval.decision {
        Some(Decision::Rejected) => (":x:", "Rejected"),
        _ => (":white_check_mark:", "Approved"),
    };
    let by = approval.decided_by.as_deref().unwrap_or("a reviewer");
    let at = approval.decided_at.map(utc).unwrap_or_default();
    let mut text = format!("{mark} *{verb}* by {} on {at}", slack_escape(by));
    if let Some(comment) = approval.comment.as_deref().filter(|c| !c.is_empty()) {
        text.push_str(&format!(": “{}”", slack_escape(&shorten(comment, 1_500))));
    }
    text
}

/// The channel message for `approval` as it stands at `now` (`chat.postMessage` and
/// `chat.update` take it as it is, with the channel added): the request, then the buttons
/// while it is open, or its outcome. No link: whoever clicks is resolved to his email.
pub fn message(approval: &Approval, now: u64) -> Value {
    let request = &approval.request;
    let title = shorten(&request.title.replace(['\n', '\r'], " "), 150);
    let mut blocks =
        vec![json!({ "type": "header", "text": { "type": "plain_text", "text": title } })];
    if let Some(summary) = &request.summary {
        let text = escaped_within(summary, 3_000);
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    blocks.push(json!({ "type": "section", "fields": fields(approval, now) }));
    if !request.attachments.is_empty() {
        let names: Vec<String> = request
            .attachments
            .iter()
            .map(|a| slack_escape(&a.name))
            .collect();
        let text = format!("Attachments (on the review page): {}", names.join(", "));
        blocks.push(json!({ "type": "context", "elements": [mrkdwn(&text)] }));
    }
    blocks.extend(state_blocks(approval, now));
    let fallback = format!("Approval needed: {}", slack_escape(&title));
    json!({ "text": fallback, "blocks": blocks, "unfurl_links": false, "unfurl_media": false })
}

/// A reminder or an escalation, posted in the message's thread.
pub fn nudge_text(approval: &Approval, escalated_to: Option<&[String]>, now: u64) -> Value {
    let text = match escalated_to {
        None => format!(
            "Reminder: this request is still waiting for a decision, asked {}; it expires {}.",
            relative(now, approval.created_at),
            relative(now, approval.expires_at)
        ),
        Some(who) => {
            let who: Vec<String> = who.iter().map(|w| slack_escape(w)).collect();
            format!(
                "Escalated to {}: nobody has decided since it was asked {}; it expires {}.",
                who.join(", "),
                relative(now, approval.created_at),
                relative(now, approval.expires_at)
            )
        }
    };
    json!({ "text": text })
}

/// The modal asking the reason of a rejection of `approval`; its submission names the approval
/// in `private_metadata`.
pub fn reason_modal(approval: &Approval) -> Value {
    let title = shorten(&approval.request.title.replace(['\n', '\r'], " "), 3_000);
    json!({
        "type": "modal",
        "callback_id": REASON_MODAL,
        "private_metadata": approval.id.as_str(),
        "title": { "type": "plain_text", "text": "Reject the request" },
        "submit": { "type": "plain_text", "text": "Reject" },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            { "type": "section", "text": mrkdwn(&format!("*{}*", slack_escape(&title))) },
            { "type": "input", "block_id": REASON_BLOCK,
              "label": { "type": "plain_text", "text": "Why do you reject it?" },
              "element": { "type": "plain_text_input", "action_id": REASON_INPUT,
                           "multiline": true, "max_length": MAX_COMMENT } }
        ]
    })
}

/// What a user did in Slack, as the app reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// A button of a request's message: `approval` is its value.
    Click {
        user: String,
        decision: Decision,
        approval: String,
        trigger_id: String,
        channel: Option<String>,
    },
    /// The reason modal submitted.
    Reason {
        user: String,
        approval: String,
        comment: String,
    },
    /// Anything else Slack sends the app (another action, a modal closed): acknowledged, and
    /// nothing done.
    Other,
}

/// The interaction in a request body Slack signed (`application/x-www-form-urlencoded`, its
/// `payload` a JSON object); `None` when the body is not one.
pub fn interaction(body: &[u8]) -> Option<Interaction> {
    let payload = form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned())?;
    let payload: Value = serde_json::from_str(&payload).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let user = text(&payload["user"]["id"])?;
    match payload["type"].as_str()? {
        "block_actions" => {
            let action = payload["actions"].as_array()?.first()?;
            let decision = match action["action_id"].as_str()? {
                APPROVE => Decision::Approved,
                REJECT => Decision::Rejected,
                _ => return Some(Interaction::Other),
            };
            Some(Interaction::Click {
                user,
                decision,
                approval: text(&action["value"])?,
                trigger_id: text(&payload["trigger_id"])?,
                channel: text(&payload["channel"]["id"])
                    .or_else(|| text(&payload["container"]["channel_id"])),
            })
        }
        "view_submission" if payload["view"]["callback_id"] == REASON_MODAL => {
            let view = &payload["view"];
            let comment = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"]
                .as_str()
                .unwrap_or_default();
            Some(Interaction::Reason {
                user,
                approval: text(&view["private_metadata"])?,
                comment: shorten(comment.trim(), MAX_COMMENT),
            })
        }
        _ => Some(Interaction::Other),
    }
}

/// The `view_submission` answer that shows `error` under the reason's input and keeps the
/// modal open.
pub fn reason_error(error: &str) -> Value {
    json!({ "response_action": "errors", "errors": { REASON_BLOCK: error } })
}

#[cfg(test)]
mod tests;
