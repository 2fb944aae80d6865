use serde_json::json;

use super::*;
use crate::record::tests::{TOKEN, sample};
use crate::record::{Status, Vote};

const NOW: u64 = 1_740_821_400;

fn approval() -> Approval {
    sample(json!({
        "title": "Pay <invoice> & co",
        "requester": "carol@example.com",
        "summary": "Quarterly *licence*",
        "amount": 1250, "currency": "EUR",
        "vendor": "Acme", "po": 42,
        "attachments": [{"name": "invoice.pdf", "bucket": "b", "key": "k"}]
    }))
}

fn texts(message: &Value) -> String {
    message["blocks"].to_string()
}

#[test]
fn an_open_request_has_its_fields_and_both_buttons_and_no_link_or_token() {
    let a = approval();
    let m = message(&a, NOW);
    let all = texts(&m);
    for shown in [
        "Pay <invoice> & co",
        "Quarterly *licence*",
        "carol@example.com",
        "1250.00 EUR",
        "*vendor*\\nAcme",
        "*po*\\n42",
        "invoice.pdf",
        "Expires",
    ] {
        assert!(all.contains(shown), "{shown} missing from {all}");
    }
    let actions = m["blocks"].as_array().unwrap().last().unwrap();
    assert_eq!(actions["type"], "actions");
    let ids: Vec<&str> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [APPROVE, REJECT]);
    assert_eq!(actions["elements"][0]["value"], a.id.as_str());
    assert!(
        !all.contains("/approvals/") && !all.contains(TOKEN),
        "{all}"
    );
    // User text is escaped in mrkdwn, plain in the header.
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("Pay &lt;invoice&gt; &amp; co")
    );
}

#[test]
fn a_decided_or_expired_request_has_no_buttons_and_says_how_it_ended() {
    let mut a = approval();
    a.status = Status::Rejected;
    a.decision = Some(Decision::Rejected);
    a.decided_by = Some("bob@example.com".into());
    a.decided_at = Some(NOW + 60);
    a.comment = Some("over <budget>".into());
    let all = texts(&message(&a, NOW + 120));
    assert!(!all.contains("\"actions\""), "{all}");
    assert!(
        all.contains("*Rejected* by bob@example.com") && all.contains("over &lt;budget&gt;"),
        "{all}"
    );
    let expired = texts(&message(&approval(), NOW + 86_400));
    assert!(
        !expired.contains("\"actions\"") && expired.contains("Expired"),
        "{expired}"
    );
}

#[test]
fn quorum_progress_shows_who_approved_so_far() {
    let mut a = approval().with_quorum(2).unwrap();
    a.votes.insert(
        "alice@example.com".into(),
        Vote {
            decision: Decision::Approved,
            comment: String::new(),
            at: NOW,
            verified: None,
        },
    );
    let all = texts(&message(&a, NOW));
    assert!(
        all.contains("1 of 2 needed") && all.contains("Approved so far by alice@example.com"),
        "{all}"
    );
}

#[test]
fn at_most_ten_fields_and_a_header_within_its_limit() {
    let mut request: serde_json::Map<String, Value> =
        (0..30).map(|i| (format!("k{i}"), json!("v"))).collect();
    request.insert("title".into(), json!("t".repeat(200)));
    request.insert("requester".into(), json!("c@x.io"));
    let a = sample(Value::Object(request));
    let m = message(&a, NOW);
    let fields = m["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| b["fields"].as_array())
        .unwrap();
    assert_eq!(fields.len(), 10);
    assert!(
        m["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 150
    );
}

fn form(payload: Value) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

#[test]
fn a_click_and_a_reason_are_read_from_their_payloads() {
    let click = form(json!({
        "type": "block_actions", "user": {"id": "U1", "username": "ana"},
        "trigger_id": "1.2.abc", "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C1"},
        "actions": [{"action_id": REJECT, "value": "approval-1", "type": "button", "action_ts": "2.0"}]
    }));
    assert_eq!(
        interaction(&click),
        Some(Interaction::Click {
            user: "U1".into(),
            decision: Decision::Rejected,
            approval: "approval-1".into(),
            trigger_id: "1.2.abc".into(),
            channel: Some("C1".into()),
        })
    );
    let reason = form(json!({
        "type": "view_submission", "user": {"id": "U1"},
        "view": {"id": "V1", "callback_id": REASON_MODAL, "private_metadata": "approval-1",
                 "state": {"values": {"reason": {"reason_input": {"type": "plain_text_input", "value": "  too much  "}}}}}
    }));
    assert_eq!(
        interaction(&reason),
        Some(Interaction::Reason {
            user: "U1".into(),
            approval: "approval-1".into(),
            comment: "too much".into(),
        })
    );
    let other = form(json!({"type": "view_closed", "user": {"id": "U1"}}));
    assert_eq!(interaction(&other), Some(Interaction::Other));
    assert_eq!(interaction(b"payload=not-json"), None);
    assert_eq!(interaction(b"token=x"), None);
}

#[test]
fn only_a_reviewer_or_after_escalation_its_addressee_decides_never_the_requester() {
    let mut a = approval();
    let boss = [
        "Boss@example.com".to_owned(),
        "carol@example.com".to_owned(),
    ];
    assert_eq!(
        a.reviewer_for(&boss, " ALICE@example.com"),
        Some("alice@example.com".into())
    );
    assert_eq!(a.reviewer_for(&boss, "boss@example.com"), None);
    a.escalated_at = Some(NOW);
    assert_eq!(
        a.reviewer_for(&boss, "boss@example.com"),
        Some("Boss@example.com".into())
    );
    assert_eq!(a.reviewer_for(&boss, "carol@example.com"), None);
    assert_eq!(a.reviewer_for(&boss, "mallory@example.com"), None);
}

#[test]
fn the_modal_names_its_approval_and_its_answer_names_its_input() {
    let a = approval();
    let modal = reason_modal(&a);
    assert_eq!(modal["private_metadata"], a.id.as_str());
    assert!(modal["title"]["text"].as_str().unwrap().chars().count() <= 24);
    assert_eq!(reason_error("say why")["errors"]["reason"], "say why");
}

#[test]
fn escaping_never_takes_a_text_over_its_limit() {
    let a = sample(
        json!({"title": "T", "requester": "c@x.io", "summary": "&".repeat(5_000), "k": "<".repeat(3_000)}),
    );
    let m = message(&a, NOW);
    let summary = m["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        summary.chars().count() <= 3_000 && summary.starts_with("&amp;"),
        "{}",
        summary.len()
    );
    for block in m["blocks"].as_array().unwrap() {
        for f in block["fields"].as_array().into_iter().flatten() {
            assert!(f["text"].as_str().unwrap().chars().count() <= 2_000);
        }
    }
}
