//! The Microsoft Teams message: an Adaptive Card (1.4) posted to a channel through a Teams
//! Workflows webhook ("post to a channel when a webhook request is received"), the payload
//! Workflows expects: `{type: "message", attachments: [{contentType:
//! "application/vnd.microsoft.card.adaptive", content: <card>}]}`.
//!
//! A channel is shared, so the card never carries a reviewer's own link: without sign-in it
//! names who was asked (each decides through his own email), with sign-in it opens the
//! approval's channel link, which decides only for a reviewer who signs in. Everything the
//! request says is in `TextRun`s, which Teams shows as written (a `TextBlock` would read the
//! requester's `[text](url)` as a link, and so would a `FactSet`); details are capped as in the
//! email, so the card stays far below Teams' 28 KB message limit.

use serde_json::{Value, json};

use crate::dates::{relative, utc};
use crate::record::Approval;
use crate::request::shorten;

/// Details shown on the card; the review page shows them all.
const MAX_DETAILS: usize = 8;
/// Longest text shown for a title, a summary or a detail, in characters.
const MAX_CHARS: usize = 300;

/// The webhook's payload for `approval`'s request; `link` is its channel link with sign-in.
pub fn teams_payload(approval: &Approval, link: Option<&str>, now: u64) -> Value {
    let request = &approval.request;
    let mut body = vec![
        text(&format!("Approval needed: {}", request.title), true),
        text(&format!("Requested by {}", request.requester), false),
    ];
    if let Some(summary) = &request.summary {
        body.push(text(summary, false));
    }
    let mut facts: Vec<(&str, String)> = request.details_text().take(MAX_DETAILS).collect();
    if let Some(amount) = request.amount_text() {
        facts.insert(0, ("Amount", amount));
    }
    if !request.attachments.is_empty() {
        let names: Vec<&str> = request
            .attachments
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        facts.push(("Attachments", names.join(", ")));
    }
    body.extend(facts.iter().map(|(name, value)| fact(name, value)));
    let mut closing = format!(
        "Expires {} ({}).",
        utc(approval.expires_at),
        relative(now, approval.expires_at)
    );
    if approval.quorum > 1 {
        closing = format!("{} approvals needed. {closing}", approval.quorum);
    }
    body.push(text(&closing, false));
    let asked = approval.reviewers.join(", ");
    let actions = match link {
        Some(link) => {
            body.push(text(
                &format!("Asked: {asked}. Sign in as one of them to decide."),
                false,
            ));
            vec![json!({"type": "Action.OpenUrl", "title": "Review and decide", "url": link})]
        }
        None => {
            let how = "Each reviewer decides through the link in his own email.";
            body.push(text(&format!("Asked: {asked}. {how}"), false));
            Vec::new()
        }
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

/// A paragraph of `words` as written (a `RichTextBlock` of one `TextRun`), bold for a heading.
fn text(words: &str, heading: bool) -> Value {
    let mut run = json!({"type": "TextRun", "text": shorten(words, MAX_CHARS)});
    if heading {
        run["weight"] = json!("Bolder");
        run["size"] = json!("Medium");
    }
    json!({"type": "RichTextBlock", "inlines": [run]})
}

/// `name: value` as written: a bold `TextRun` and a plain one (a `FactSet` would read the
/// value as Markdown).
fn fact(name: &str, value: &str) -> Value {
    json!({"type": "RichTextBlock", "inlines": [
        {"type": "TextRun", "text": format!("{}: ", shorten(name, 60)), "weight": "Bolder"},
        {"type": "TextRun", "text": shorten(value, MAX_CHARS)},
    ]})
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::record::tests::sample;

    const NOW: u64 = 1_740_821_400;

    fn card(payload: &Value) -> &Value {
        assert_eq!(payload["type"], "message");
        let attachment = &payload["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(
            (&card["type"], &card["version"]),
            (&json!("AdaptiveCard"), &json!("1.4"))
        );
        card
    }

    #[test]
    fn without_sign_in_the_card_names_who_was_asked_and_has_no_link() {
        let a = sample(
            json!({"title": "Buy a laptop", "requester": "carol@example.com",
            "amount": 1250.5, "currency": "EUR", "cost centre": "R&D"}),
        );
        let payload = teams_payload(&a, None, NOW);
        let card = card(&payload);
        let text = card.to_string();
        assert!(text.contains("Approval needed: Buy a laptop"));
        assert!(text.contains("Asked: alice@example.com, bob@example.com."));
        assert!(
            text.contains("EUR") && text.contains("cost centre: "),
            "{text}"
        );
        assert_eq!(card["actions"], json!([]));
        assert!(!text.contains("/approvals/"), "{text}");
    }

    #[test]
    fn with_sign_in_the_card_opens_the_channel_link() {
        let a = sample(json!({"title": "Buy a laptop", "requester": "carol@example.com"}));
        let link = "https://api.example/v1/approvals/channel-link";
        let payload = teams_payload(&a, Some(link), NOW);
        let card = card(&payload);
        assert_eq!(
            card["actions"],
            json!([{"type": "Action.OpenUrl", "title": "Review and decide", "url": link}])
        );
    }

    #[test]
    fn the_requests_words_are_shown_as_written() {
        let a = sample(
            json!({"title": "[Pay now](https://evil.example)", "requester": "x@y.z",
            "note": "**[click](https://evil.example)**"}),
        );
        let payload = teams_payload(&a, None, NOW);
        let card = card(&payload);
        // Every word of the request is a TextRun's, which Teams never reads as Markdown.
        let runs: Vec<&Value> = card["body"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|block| block["inlines"].as_array().unwrap())
            .collect();
        assert!(runs.iter().all(|run| run["type"] == "TextRun"));
        assert_eq!(
            runs[0]["text"],
            "Approval needed: [Pay now](https://evil.example)"
        );
        assert!(
            runs.iter()
                .any(|r| r["text"] == "**[click](https://evil.example)**")
        );
    }

    #[test]
    fn a_large_request_stays_far_below_teams_limit() {
        let mut request: serde_json::Map<String, Value> = (0..14)
            .map(|i| (format!("field {i}"), json!("x".repeat(2_000))))
            .collect();
        request.insert("title".into(), json!("t".repeat(200)));
        request.insert("requester".into(), json!("x@y.z"));
        request.insert("summary".into(), json!("s".repeat(3_000)));
        let a = sample(Value::Object(request));
        let size = teams_payload(&a, None, NOW).to_string().len();
        assert!(size < 10_000, "{size} bytes");
    }
}
