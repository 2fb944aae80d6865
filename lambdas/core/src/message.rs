//! What reviewers are sent: one SNS message per reviewer (subject + plain text, carrying that
//! reviewer's own link), and a Slack webhook payload. Links carry only the link id.

use serde_json::{Value, json};

use crate::dates::{relative, utc};
use crate::id::LinkId;
use crate::record::{Approval, Decision, Link};
use crate::request::{ApprovalRequest, shorten};

/// SNS wants subjects under 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// Details shown in a message; the page shows them all.
const MAX_DETAIL_LINES: usize = 8;
/// Longest detail line in a message, in characters.
const MAX_DETAIL_CHARS: usize = 120;

/// One reviewer's SNS message. Publish it with the message attribute `reviewer` = `reviewer`
/// so the subscription filter policy delivers it to him alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewerMessage {
    pub reviewer: String,
    /// At most [`MAX_SUBJECT_CHARS`] characters, no line breaks or control characters.
    pub subject: String,
    pub body: String,
}

/// `<base>/approvals/<L>`; a trailing `/` on `base_url` is ignored.
pub fn link_url(base_url: &str, link: &LinkId) -> String {
    format!("{}/approvals/{link}", base_url.trim_end_matches('/'))
}

/// `Approval needed: <title>` on one line, cut on a character boundary with `…`.
pub fn subject(approval: &Approval) -> String {
    let line = one_line(&format!("Approval needed: {}", approval.request.title));
    shorten(&line, MAX_SUBJECT_CHARS)
}

/// The message for `link`'s reviewer, written at `now`.
pub fn reviewer_message(
    approval: &Approval,
    link: &Link,
    base_url: &str,
    now: u64,
) -> ReviewerMessage {
    let request = &approval.request;
    let mut body = format!(
        "{} asks for your approval:\n\n    {}\n",
        request.requester,
        one_line(&request.title)
    );
    if let Some(summary) = &request.summary {
        body.push_str(&format!("\n{summary}\n"));
    }
    if let Some(amount) = request.amount_text() {
        body.push_str(&format!("\nAmount: {}\n", one_line(&amount)));
    }
    if !request.details.is_empty() {
        body.push_str("\nDetails:\n");
        for (key, text) in request.details_text().take(MAX_DETAIL_LINES) {
            let line = shorten(&one_line(&format!("{key}: {text}")), MAX_DETAIL_CHARS);
            body.push_str(&format!("  {line}\n"));
        }
        let more = request.details.len().saturating_sub(MAX_DETAIL_LINES);
        if more > 0 {
            body.push_str(&format!("  … and {more} more on the review page\n"));
        }
    }
    if !request.attachments.is_empty() {
        body.push_str("\nAttachments (download them from the review page):\n");
        for attachment in &request.attachments {
            let line = shorten(&one_line(&attachment.name), MAX_DETAIL_CHARS);
            body.push_str(&format!("  {line}\n"));
        }
    }
    if approval.quorum > 1 {
        body.push_str(&format!(
            "\n{} reviewers must approve; one rejection rejects it.\n",
            approval.quorum
        ));
    }
    body.push_str(&format!(
        "\nThis request expires {} ({}).\n\nReview it here:\n{}\n\n\
         Opening the link changes nothing: the decision is made only when you press Approve or \
         Reject on the page.\nThis link is yours alone (it records you, {}, as the reviewer): \
         please do not forward it.\n",
        utc(approval.expires_at),
        relative(now, approval.expires_at),
        link_url(base_url, &link.id),
        link.reviewer,
    ));
    ReviewerMessage {
        reviewer: link.reviewer.clone(),
        subject: subject(approval),
        body,
    }
}

/// The message of a reminder or an escalation: the request message for `link`'s addressee,
/// its subject and first lines saying why it comes now.
pub fn nudge_message(
    approval: &Approval,
    link: &Link,
    base_url: &str,
    nudge: crate::rules::Nudge,
    now: u64,
) -> ReviewerMessage {
    let mut message = reviewer_message(approval, link, base_url, now);
    let (prefix, why) = match nudge {
        crate::rules::Nudge::Remind => (
            "Reminder: ",
            format!(
                "Reminder: this request is still waiting for your decision, asked {}.\n\n",
                relative(now, approval.created_at)
            ),
        ),
        crate::rules::Nudge::Escalate => (
            "Escalated: ",
            format!(
                "This request was escalated to you: nobody has decided it since it was asked {}, and it expires {}.\n\n",
                relative(now, approval.created_at),
                relative(now, approval.expires_at),
            ),
        ),
    };
    message.subject = shorten(&format!("{prefix}{}", message.subject), MAX_SUBJECT_CHARS);
    message.body = format!("{why}{}", message.body);
    message
}

/// The Slack incoming-webhook payload `{"text": …}`: the request, and who was asked. It never
/// carries a personal link (anyone in the channel could decide as that reviewer): without
/// sign-in no link at all, each reviewer deciding through the link in his own email; with
/// sign-in the approval's channel link (`channel_link`, its full URL), which opens only for
/// its reviewers, signed in. User text has Slack's `&`, `<`, `>` escaped, so it cannot form
/// links or mentions.
pub fn slack_payload(approval: &Approval, now: u64, channel_link: Option<&str>) -> Value {
    let request = &approval.request;
    let mut text = format!(
        "*Approval needed:* {}\nRequested by {}",
        slack_escape(&one_line(&request.title)),
        slack_escape(&request.requester),
    );
    if let Some(summary) = &request.summary {
        text.push_str(&format!("\n{}", slack_escape(summary)));
    }
    if let Some(amount) = request.amount_text() {
        text.push_str(&format!("\nAmount: {}", slack_escape(&amount)));
    }
    if !request.attachments.is_empty() {
        let names: Vec<_> = request
            .attachments
            .iter()
            .map(|a| slack_escape(&one_line(&a.name)))
            .collect();
        text.push_str(&format!(
            "\nAttachments (on the review page): {}",
            names.join(", ")
        ));
    }
    if approval.quorum > 1 {
        text.push_str(&format!("\n{} approvals needed.", approval.quorum));
    }
    text.push_str(&format!(
        "\nExpires {} ({}).",
        utc(approval.expires_at),
        relative(now, approval.expires_at)
    ));
    let asked: Vec<String> = approval.reviewers.iter().map(|r| slack_escape(r)).collect();
    let asked = asked.join(", ");
    match channel_link {
        None => text.push_str(&format!(
            "\nAsked: {asked}. Each reviewer decides through the link in his own email."
        )),
        Some(url) => text.push_str(&format!(
            "\nAsked: {asked}. <{url}|Review and decide> (reviewers sign in)."
        )),
    }
    json!({ "text": text })
}

/// How an approval ended, as the reviewers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending<'a> {
    Decided {
        decision: Decision,
        reviewer: &'a str,
        comment: &'a str,
    },
    Expired,
}

/// The message every reviewer gets when the approval ends (published with the `reviewer`
/// attribute `all`): subject and body. The same words as the state machine's `Notify…` states
/// (statemachine/approval.asl.json), so both orchestrators tell the reviewers alike.
pub fn ending_message(request: &ApprovalRequest, ending: Ending<'_>) -> (&'static str, String) {
    match ending {
        Ending::Decided {
            decision,
            reviewer,
            comment,
        } => {
            let (subject, verb) = match decision {
                Decision::Approved => ("Approved", "approved"),
                Decision::Rejected => ("Rejected", "rejected"),
            };
            (
                subject,
                format!(
                    "{reviewer} {verb} \"{}\" (requested by {}). Comment: {comment}",
                    request.title, request.requester
                ),
            )
        }
        Ending::Expired => (
            "Expired",
            format!(
                "Nobody decided on \"{}\" (requested by {}) in time: the request expired.",
                request.title, request.requester
            ),
        ),
    }
}

/// The `reviewer` attribute that every subscription's filter policy lets through.
pub const EVERYONE: &str = "all";

/// The ending as one message to every reviewer (its `reviewer` attribute is [`EVERYONE`]).
pub fn ending_for_everyone(request: &ApprovalRequest, ending: Ending<'_>) -> ReviewerMessage {
    let (subject, body) = ending_message(request, ending);
    ReviewerMessage {
        reviewer: EVERYONE.to_owned(),
        subject: subject.to_owned(),
        body,
    }
}

/// Escapes Slack's control characters `&`, `<`, `>`.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Control characters (line breaks included) become spaces, runs of spaces one.
fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    /// A link for each of `a`'s reviewers (made once per call).
    fn links_of(a: &crate::record::Approval) -> Vec<crate::record::Link> {
        a.reviewers.iter().map(|r| a.new_link(r).0).collect()
    }

    use super::*;
    use crate::record::tests::{TOKEN, sample};
    use serde_json::json;

    const NOW: u64 = 1_740_821_400;
    const BASE: &str = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/";

    #[test]
    fn nudges_say_why_they_come_and_carry_their_own_link() {
        let a = sample(json!({"title": "Buy a laptop", "requester": "carol@example.com"}));
        let link = a.new_link("boss@example.com").0;
        let later = NOW + 7200;
        let escalated = nudge_message(&a, &link, BASE, crate::rules::Nudge::Escalate, later);
        assert_eq!(
            escalated.subject,
            "Escalated: Approval needed: Buy a laptop"
        );
        assert!(escalated.body.starts_with("This request was escalated to you: nobody has decided it since it was asked 2 hours ago"), "{}", escalated.body);
        assert!(escalated.body.contains(&link_url(BASE, &link.id)));
        assert_eq!(escalated.reviewer, "boss@example.com");
        let reminder = nudge_message(&a, &link, BASE, crate::rules::Nudge::Remind, later);
        assert!(reminder.subject.starts_with("Reminder: Approval needed"));
        assert!(
            reminder
                .body
                .starts_with("Reminder: this request is still waiting")
        );
    }

    #[test]
    fn messages_name_the_attachments_and_the_quorum_but_link_only_the_page() {
        let mut a = sample(
            json!({"title": "T", "requester": "carol@example.com", "attachments": [
                {"bucket": "shop-data", "key": "q1/report.csv"},
            ]}),
        );
        a.quorum = 2;
        let link = a.new_link("alice@example.com").0;
        let body = reviewer_message(&a, &link, BASE, NOW).body;
        assert!(
            body.contains("Attachments (download them from the review page):\n  report.csv\n"),
            "{body}"
        );
        assert!(body.contains("2 reviewers must approve"), "{body}");
        assert!(
            !body.contains("shop-data"),
            "the bucket is not the reviewer's business: {body}"
        );
        let slack = slack_payload(&a, NOW, None)["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            slack.contains("Attachments (on the review page): report.csv")
                && slack.contains("2 approvals needed"),
            "{slack}"
        );
    }

    /// The endings read as the state machine's `Notify…` states write them: its
    /// `States.Format` templates, filled in with the same values, give the same text.
    #[test]
    fn endings_say_what_the_state_machine_says() {
        let asl: Value =
            serde_json::from_str(include_str!("../../../statemachine/approval.asl.json"))
                .expect("the ASL is JSON");
        let format_of = |state: &str| -> (String, String) {
            let parameters = &asl["States"][state]["Parameters"];
            let message = parameters["Message.$"].as_str().expect("a message");
            let template = message
                .strip_prefix("States.Format('")
                .and_then(|rest| rest.split("',").next())
                .expect("a States.Format template");
            let subject = parameters["Subject"].as_str().expect("a subject");
            (subject.to_owned(), template.to_owned())
        };
        let fill = |template: &str, values: &[&str]| {
            values
                .iter()
                .fold(template.to_owned(), |text, v| text.replacen("{}", v, 1))
        };
        let request =
            sample(json!({"title": "Buy a lamp", "requester": "carol@example.com"})).request;
        for (state, decision) in [
            ("NotifyApproved", Decision::Approved),
            ("NotifyRejected", Decision::Rejected),
        ] {
            let (subject, template) = format_of(state);
            let ending = Ending::Decided {
                decision,
                reviewer: "ana@example.com",
                comment: "fine",
            };
            let expected = fill(
                &template,
                &["ana@example.com", "Buy a lamp", "carol@example.com", "fine"],
            );
            assert_eq!(
                ending_message(&request, ending),
                (subject.as_str(), expected)
            );
        }
        let everyone = ending_for_everyone(&request, Ending::Expired);
        assert_eq!(everyone.reviewer, "all");
        assert_eq!(
            (everyone.subject.as_str(), everyone.body),
            (
                "Expired",
                ending_message(&request, Ending::Expired).1.to_owned()
            )
        );
        let (subject, template) = format_of("NotifyExpired");
        assert_eq!(
            ending_message(&request, Ending::Expired),
            (
                subject.as_str(),
                fill(&template, &["Buy a lamp", "carol@example.com"])
            )
        );
    }

    fn full() -> Approval {
        sample(json!({
            "title": "Buy a laptop",
            "requester": "carol@example.com",
            "summary": "For the new hire.\nNeeded by Monday.",
            "amount": 1250.5,
            "currency": "EUR",
            "costCenter": "R&D",
        }))
    }

    #[test]
    fn message_has_everything_a_reviewer_needs() {
        let a = full();
        let links = links_of(&a);
        let link = &links[1];
        let m = reviewer_message(&a, link, BASE, NOW);
        assert_eq!(m.reviewer, "bob@example.com");
        assert_eq!(m.subject, "Approval needed: Buy a laptop");
        let url = format!(
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod/approvals/{}",
            link.id
        );
        for expected in [
            "carol@example.com asks for your approval:",
            "    Buy a laptop\n",
            "For the new hire.\nNeeded by Monday.",
            "Amount: 1250.50 EUR",
            "  costCenter: R&D\n",
            "expires 2025-03-02 09:30 UTC (in 24 hours)",
            &format!("\n{url}\n"),
            "Opening the link changes nothing",
            "it records you, bob@example.com, as the reviewer",
        ] {
            assert!(
                m.body.contains(expected),
                "missing {expected:?} in\n{}",
                m.body
            );
        }
        // Only this reviewer's link, and no link key.
        assert!(!m.body.contains(links[0].id.as_str()));
        assert!(!m.body.contains(link.id.key().as_str()));
        assert!(!m.body.contains(a.id.as_str()));
    }

    #[test]
    fn relative_expiry_follows_the_clock() {
        let a = full();
        let m = reviewer_message(&a, &links_of(&a)[0], BASE, NOW + 3600);
        assert!(m.body.contains("(in 23 hours)"), "{}", m.body);
    }

    #[test]
    fn subject_is_one_line_and_short() {
        let a = sample(
            json!({"title": format!("Line1\r\nLine2\t{}", "é".repeat(180)), "requester": "c@x.io"}),
        );
        let s = subject(&a);
        assert_eq!(s.chars().count(), MAX_SUBJECT_CHARS);
        assert!(s.starts_with("Approval needed: Line1 Line2 éé"));
        assert!(s.ends_with('…'));
        assert!(!s.chars().any(char::is_control));
        let short = sample(json!({"title": "x".repeat(82), "requester": "c@x.io"}));
        assert_eq!(subject(&short).chars().count(), 99); // 17 + 82, not cut
        assert!(!subject(&short).ends_with('…'));
        let cut = sample(json!({"title": "x".repeat(83), "requester": "c@x.io"}));
        assert!(subject(&cut).ends_with("x…"));
    }

    #[test]
    fn details_are_a_few_one_line_lines() {
        let mut request = json!({"title": "T", "requester": "c@x.io"});
        for i in 0..12 {
            request[format!("k{i:02}")] = json!(format!("v{i}\nsecond line {}", "y".repeat(200)));
        }
        let a = sample(request);
        let m = reviewer_message(&a, &links_of(&a)[0], BASE, NOW);
        let lines: Vec<_> = m.body.lines().filter(|l| l.starts_with("  k")).collect();
        assert_eq!(lines.len(), MAX_DETAIL_LINES);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() <= MAX_DETAIL_CHARS + 2)
        );
        assert!(lines[0].starts_with("  k00: v0 second line yyy"));
        assert!(m.body.contains("… and 4 more on the review page"));
    }

    #[test]
    fn slack_payload_escapes_user_text_and_names_who_was_asked_without_a_link() {
        let a = sample(json!({
            "title": "<!channel> & <https://evil.example|click>",
            "requester": "carol@example.com",
            "summary": "a > b",
        }));
        let payload = slack_payload(&a, NOW, None);
        let text = payload["text"].as_str().expect("text");
        assert!(text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"));
        assert!(!text.contains("<!channel>"));
        assert!(!text.contains("<https://evil"));
        assert!(text.contains("a &gt; b"));
        // Who was asked, and where each finds his link; no link in the channel.
        for reviewer in &a.reviewers {
            assert!(text.contains(reviewer.as_str()), "{text}");
        }
        assert!(text.contains("the link in his own email"), "{text}");
        assert!(
            !text.contains("/approvals/") && !text.contains("<http"),
            "{text}"
        );
        assert!(text.contains("in 24 hours"));
        assert_eq!(payload.as_object().map(|o| o.len()), Some(1));
    }

    #[test]
    fn with_sign_in_the_slack_payload_carries_the_channel_link_alone() {
        let a = sample(json!({"title": "T", "requester": "carol@example.com"}));
        let url = format!("{BASE}/approvals/abcdefghijklmnopqrstuvwxyz");
        let payload = slack_payload(&a, NOW, Some(&url));
        let text = payload["text"].as_str().expect("text");
        assert!(
            text.contains(&format!("<{url}|Review and decide>")),
            "{text}"
        );
        assert_eq!(text.matches("/approvals/").count(), 1, "{text}");
        assert!(!text.contains("his own email"), "{text}");
    }

    #[test]
    fn slack_escape_escapes_ampersand_first() {
        assert_eq!(slack_escape("&lt; <a> & b"), "&amp;lt; &lt;a&gt; &amp; b");
    }

    #[test]
    fn no_task_token_in_messages() {
        let a = full();
        for link in links_of(&a) {
            let m = reviewer_message(&a, &link, BASE, NOW);
            assert!(!m.subject.contains(TOKEN) && !m.body.contains(TOKEN));
            assert!(!format!("{m:?}").contains(TOKEN));
        }
        let slack = slack_payload(&a, NOW, None).to_string();
        assert!(!slack.contains(TOKEN));
        assert!(!slack.contains(&TOKEN[..20]));
    }
}
