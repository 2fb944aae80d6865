//! The review pages: small, mobile-friendly HTML with inline CSS, no scripts, no external
//! assets. maud escapes every interpolated string; `PreEscaped` is used for the constant CSS
//! only, never for user data. Each page function returns (HTTP status, HTML); serve it with
//! [`headers`]. The form has no `action`, so it posts to the page's own URL behind an API
//! Gateway stage prefix and a Lambda function URL alike.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::dates::{relative, utc};
use crate::form::MAX_COMMENT_CHARS;
use crate::form::{DecisionForm, Refusal};
use crate::record::{Approval, Decision};
use crate::rules::{View, view};

/// The Content-Security-Policy of every page: inline styles, posting to itself, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers to send with every page (GET, HEAD and POST answers alike).
pub fn headers() -> [(&'static str, &'static str); 5] {
    [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
        ("x-content-type-options", "nosniff"),
    ]
}

const CSS: &str = "\
:root{color-scheme:light dark;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5}\
body{margin:0 auto;padding:1rem;max-width:40rem}\
h1{font-size:1.4rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}\
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}\
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap}\
.summary,blockquote{white-space:pre-wrap;overflow-wrap:anywhere}\
blockquote{margin:.5rem 0;padding:.5rem 1rem;border-left:4px solid #8888}\
.notice{padding:.75rem 1rem;border-radius:.5rem;background:#8882;font-weight:600}\
.badge{display:inline-block;padding:0 .6rem;border-radius:1rem;font-weight:600;background:#8883}\
.approved{background:#1a7f3733}.rejected{background:#cf222e33}\
label{display:block;font-weight:600;margin:1.5rem 0 .25rem}\
textarea{width:100%;box-sizing:border-box;min-height:6rem;font:inherit;padding:.5rem}\
.buttons{display:flex;gap:.75rem;margin-top:.75rem}\
button{flex:1;font:inherit;font-weight:600;padding:.8rem;border:0;border-radius:.5rem;color:#fff;cursor:pointer}\
button.approve{background:#1a7f37}button.reject{background:#cf222e}\
.note{opacity:.75;font-size:.9rem}\
";

/// GET and HEAD: the page for what [`view`] says, always 200 (the link is valid; the page
/// tells its state). Changes nothing.
///
/// `downloads` are the attachments' links, in the request's order (presigned for this page:
/// see [`crate::attachment::link_lifetime_secs`]); without them the page names the
/// attachments only.
pub fn show(approval: &Approval, reviewer: &str, downloads: &[String], now: u64) -> (u16, String) {
    let shown = Shown {
        approval,
        downloads,
    };
    let html = match view(approval, now) {
        View::Pending { .. } if approval.has_voted(reviewer) => {
            voted_html(shown, reviewer, now, None)
        }
        View::Pending { .. } => review_html(shown, reviewer, now, None, ""),
        View::Decided => decided_html(approval, now, None),
        View::Expired => expired_html(approval, now),
        View::BeingDecided => being_decided_html(approval, now),
    };
    (200, html)
}

/// The review page with the form (200).
pub fn review(approval: &Approval, reviewer: &str, now: u64) -> (u16, String) {
    (
        200,
        review_html(Shown::bare(approval), reviewer, now, None, ""),
    )
}

/// A POST on a decided approval (409): who decided what and when.
pub fn decided(approval: &Approval, now: u64) -> (u16, String) {
    (
        409,
        decided_html(
            approval,
            now,
            Some("This request has already been decided."),
        ),
    )
}

/// A second POST from a reviewer who has voted (409): his vote, unchanged.
pub fn voted(approval: &Approval, reviewer: &str, now: u64) -> (u16, String) {
    let notice = "You have already voted on this request; your vote stands.";
    let html = voted_html(Shown::bare(approval), reviewer, now, Some(notice));
    (409, html)
}

/// Said with an approval counted while the record holds lost claims
/// ([`Approval::lost_claims`]): one of them may turn out to have decided.
pub const EARLIER_DECISION_UNCONFIRMED: &str = "An earlier decision on this request is not confirmed yet: if the workflow took it, that decision stands and this approval does not count.";

/// An approval recorded short of the quorum (200): the request stays open for the others.
pub fn counted(approval: &Approval, reviewer: &str, now: u64) -> (u16, String) {
    let mut notice = format!(
        "Thank you: your approval is recorded. {} of {} approvals; the request stays open until enough reviewers approve or one rejects.",
        approval.approvals(),
        approval.quorum
    );
    if !approval.lost_claims.is_empty() {
        notice = format!("{notice} {EARLIER_DECISION_UNCONFIRMED}");
    }
    (
        200,
        voted_html(Shown::bare(approval), reviewer, now, Some(&notice)),
    )
}

/// A POST on an expired approval, or one whose task or callback the orchestrator no longer
/// knows (410).
pub fn expired(approval: &Approval, now: u64) -> (u16, String) {
    (410, expired_html(approval, now))
}

/// A POST while another reviewer's decision is being sent (409).
pub fn being_decided(approval: &Approval, now: u64) -> (u16, String) {
    (409, being_decided_html(approval, now))
}

/// An unknown or malformed link (404): the same page for both, telling nothing.
pub fn not_found() -> (u16, String) {
    let html = layout(
        "Link not found",
        html! {
            h1 { "Link not found" }
            p { "This approval link is not valid. Check that it was copied whole from the message you received; old requests are removed some time after they end." }
        },
    );
    (404, html)
}

/// After the orchestrator accepted the decision (200); `approval` is the finalised record.
pub fn confirmation(approval: &Approval, now: u64) -> (u16, String) {
    let notice = match approval.decision {
        Some(Decision::Approved) => "Thank you: you approved this request. The workflow goes on.",
        Some(Decision::Rejected) => {
            "Thank you: you rejected this request. The workflow has been told."
        }
        None => "Thank you: your decision is recorded.",
    };
    (200, decided_html(approval, now, Some(notice)))
}

/// A transient error sending the decision (503): nothing was recorded; the form again, with
/// the reviewer's comment kept.
pub fn retry(approval: &Approval, reviewer: &str, form: &DecisionForm, now: u64) -> (u16, String) {
    let notice = "Your decision could not be passed to the workflow just now, so nothing was recorded. Please press the button again.";
    let html = review_html(
        Shown::bare(approval),
        reviewer,
        now,
        Some(notice),
        &form.comment,
    );
    (503, html)
}

/// The table or the orchestrator could not be reached (503): nothing changed; try again.
pub fn unavailable() -> (u16, String) {
    let html = layout(
        "Try again in a moment",
        html! {
            h1 { "Try again in a moment" }
            p { "The approval service could not be reached just now. Nothing was recorded. Reload this page in a minute." }
        },
    );
    (503, html)
}

/// With sign-in, a link opened or used by someone signed in as `name`, not its reviewer
/// (403): nothing was recorded.
pub fn not_yours(name: &str) -> (u16, String) {
    let html = layout(
        "This link is another reviewer's",
        html! {
            h1 { "This link is another reviewer's" }
            p { "You are signed in as " strong { (name) } ", and this approval link was sent to someone else. Nothing was recorded." }
            p { "Use the link from your own message, or sign in as the reviewer it was sent to." }
        },
    );
    (403, html)
}

/// With sign-in, a decision without a session (403): nothing was recorded.
pub fn sign_in_first() -> (u16, String) {
    let html = layout(
        "Sign in first",
        html! {
            h1 { "Sign in first" }
            p { "This approval asks reviewers to sign in. Nothing was recorded." }
            p { "Open the link from your message again: it takes you to sign-in, then back here." }
        },
    );
    (403, html)
}

/// A sign-in that did not go through (`status`): why, and what to do; nothing was recorded.
pub fn sign_in_failed(status: u16, why: &str) -> (u16, String) {
    let html = layout(
        "Sign-in did not go through",
        html! {
            h1 { "Sign-in did not go through" }
            p { (why) " Nothing was recorded." }
            p { "Open the link from your message again to sign in once more." }
        },
    );
    (status, html)
}

/// A refused request: cross-site (403), bad form (400), too large (413), wrong method (405).
pub fn refused(refusal: &Refusal) -> (u16, String) {
    let html = layout(
        "Request refused",
        html! {
            h1 { "Request refused" }
            p class="notice" role="alert" { (refusal.to_string()) }
            p { a href="" { "Back to the review page" } }
        },
    );
    (refusal.status(), html)
}

fn layout(title: &str, content: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                meta name="referrer" content="same-origin";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (content) } }
        }
    }
    .into_string()
}

fn page_title(approval: &Approval) -> String {
    format!("Approval: {}", approval.request.title)
}

/// An approval as a page shows it: with its attachments' links, or naming them only.
#[derive(Clone, Copy)]
struct Shown<'a> {
    approval: &'a Approval,
    downloads: &'a [String],
}

impl<'a> Shown<'a> {
    fn bare(approval: &'a Approval) -> Self {
        Self {
            approval,
            downloads: &[],
        }
    }
}

/// The request as the reviewer needs to see it, with a status badge.
fn request_card(shown: Shown<'_>, now: u64, badge: (&str, &str)) -> Markup {
    let approval = shown.approval;
    let r = &approval.request;
    html! {
        h1 { (r.title) }
        dl {
            dt { "Status" }
            dd { span class={ "badge " (badge.0) } { (badge.1) } }
            dt { "Requested by" }
            dd { (r.requester) }
            @if let Some(amount) = r.amount_text() {
                dt { "Amount" }
                dd { (amount) }
            }
            dt { "Requested" }
            dd { (utc(approval.created_at)) " (" (relative(now, approval.created_at)) ")" }
            dt { "Expires" }
            dd { (utc(approval.expires_at)) " (" (relative(now, approval.expires_at)) ")" }
        }
        @if let Some(summary) = &r.summary {
            h2 { "Summary" }
            p class="summary" { (summary) }
        }
        @if !r.details.is_empty() {
            h2 { "Details" }
            dl {
                @for (key, text) in r.details_text() {
                    dt { (key) }
                    dd { (text) }
                }
            }
        }
        @if !r.attachments.is_empty() {
            h2 { "Attachments" }
            ul class="attachments" {
                @for (i, attachment) in r.attachments.iter().enumerate() {
                    li {
                        @if let Some(url) = shown.downloads.get(i) {
                            a href=(url) rel="noreferrer" download=(attachment.name) { (attachment.name) }
                        } @else {
                            (attachment.name)
                        }
                    }
                }
            }
            @if !shown.downloads.is_empty() {
                p class="note" { "Download links work until the request expires." }
            }
        }
    }
}

/// The votes so far, when the request needs more than one approval (or has more than one vote).
fn votes_section(approval: &Approval, now: u64) -> Markup {
    let mut votes: Vec<_> = approval.votes.iter().collect();
    votes.sort_by_key(|(_, vote)| vote.at);
    html! {
        @if approval.quorum > 1 || votes.len() > 1 {
            h2 { "Votes" }
            p { (approval.approvals()) " of " (approval.quorum) " approvals needed; one rejection rejects the request." }
            @if !votes.is_empty() {
                ul class="votes" {
                    @for (reviewer, vote) in votes {
                        li {
                            strong { (reviewer) } " "
                            (match vote.decision { Decision::Approved => "approved", Decision::Rejected => "rejected" })
                            " on " (utc(vote.at)) " (" (relative(now, vote.at)) ")"
                            @if !vote.comment.is_empty() { blockquote { (vote.comment) } }
                        }
                    }
                }
            }
        }
    }
}

/// The page for a reviewer who has voted while the request is still open: no form.
fn voted_html(shown: Shown<'_>, reviewer: &str, now: u64, notice: Option<&str>) -> String {
    let approval = shown.approval;
    layout(
        &page_title(approval),
        html! {
            @if let Some(notice) = notice {
                p class="notice" role="status" { (notice) }
            }
            (request_card(shown, now, ("pending", "Waiting for more approvals")))
            (votes_section(approval, now))
            p class="note" { "You are reviewing as " strong { (reviewer) } "." }
        },
    )
}

fn review_html(
    shown: Shown<'_>,
    reviewer: &str,
    now: u64,
    notice: Option<&str>,
    comment: &str,
) -> String {
    let approval = shown.approval;
    layout(
        &page_title(approval),
        html! {
            @if let Some(notice) = notice {
                p class="notice" role="alert" { (notice) }
            }
            (request_card(shown, now, ("pending", "Waiting for a decision")))
            (votes_section(approval, now))
            form method="post" {
                label for="comment" { "Comment (optional)" }
                textarea id="comment" name="comment" rows="4" maxlength=(MAX_COMMENT_CHARS) { (comment) }
                div class="buttons" {
                    button class="approve" type="submit" name="decision" value="approve" { "Approve" }
                    button class="reject" type="submit" name="decision" value="reject" { "Reject" }
                }
            }
            p class="note" {
                "You are reviewing as " strong { (reviewer) }
                ". Opening this page changes nothing; the decision is made only when you press Approve or Reject."
            }
        },
    )
}

fn decided_html(approval: &Approval, now: u64, notice: Option<&str>) -> String {
    let (class, label) = match approval.decision {
        Some(Decision::Approved) => ("approved", "Approved"),
        Some(Decision::Rejected) => ("rejected", "Rejected"),
        None => ("", "Decided"),
    };
    let comment = approval.comment.as_deref().unwrap_or_default();
    layout(
        &page_title(approval),
        html! {
            @if let Some(notice) = notice {
                p class="notice" role="status" { (notice) }
            }
            (request_card(Shown::bare(approval), now, (class, label)))
            h2 { "Decision" }
            p {
                strong { (label) }
                @if let Some(by) = &approval.decided_by { " by " (by) }
                @if let Some(at) = approval.decided_at { " on " (utc(at)) " (" (relative(now, at)) ")" }
                "."
            }
            @if !comment.is_empty() {
                blockquote { (comment) }
            }
            (votes_section(approval, now))
        },
    )
}

fn expired_html(approval: &Approval, now: u64) -> String {
    layout(
        &page_title(approval),
        html! {
            p class="notice" role="status" {
                "This request expired on " (utc(approval.expires_at)) " (" (relative(now, approval.expires_at))
                "). It can no longer be approved or rejected."
            }
            (request_card(Shown::bare(approval), now, ("expired", "Expired")))
        },
    )
}

fn being_decided_html(approval: &Approval, now: u64) -> String {
    layout(
        &page_title(approval),
        html! {
            p class="notice" role="status" {
                "A decision on this request is being recorded right now. "
                a href="" { "Reload this page" } " in a minute to see the outcome."
            }
            (request_card(Shown::bare(approval), now, ("deciding", "Being decided")))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::FormError;
    use crate::record::Transition;
    use crate::record::tests::{TOKEN, sample};
    use crate::record::{Claim, Status};
    use serde_json::json;

    const NOW: u64 = 1_740_821_400;

    fn decided_record(request: serde_json::Value, comment: &str, reviewer: &str) -> Approval {
        let mut a = sample(request);
        a.apply_claim(&Claim {
            decision: Decision::Rejected,
            comment: comment.into(),
            reviewer: reviewer.into(),
            at: NOW + 60,
            verified: None,
        });
        a.apply(Transition::Finalise(Decision::Rejected));
        a
    }

    /// Every page there is, for one record and the same hostile reviewer/comment.
    fn all_pages(request: serde_json::Value, hostile: &str) -> Vec<(u16, String)> {
        let pending = sample(request.clone());
        let decided_rec = decided_record(request.clone(), hostile, hostile);
        let mut deciding = pending.clone();
        deciding.apply_claim(&Claim {
            decision: Decision::Approved,
            comment: hostile.into(),
            reviewer: hostile.into(),
            at: NOW,
            verified: None,
        });
        let form = DecisionForm {
            decision: Decision::Approved,
            comment: hostile.into(),
        };
        vec![
            show(&pending, hostile, &[], NOW),
            show(&decided_rec, hostile, &[], NOW),
            show(&deciding, hostile, &[], NOW + 1),
            show(&pending, hostile, &[], pending.expires_at),
            review(&pending, hostile, NOW),
            decided(&decided_rec, NOW),
            expired(&pending, pending.expires_at + 5),
            being_decided(&deciding, NOW + 1),
            confirmation(&decided_rec, NOW + 61),
            retry(&pending, hostile, &form, NOW),
            not_found(),
            unavailable(),
            refused(&Refusal::CrossSite),
            refused(&Refusal::Form(FormError::InvalidDecision)),
            voted(&with_vote(&pending, hostile), hostile, NOW),
            counted(&with_vote(&pending, hostile), hostile, NOW),
        ]
    }

    /// `record` needing two approvals, with `reviewer`'s approval counted.
    fn with_vote(record: &Approval, reviewer: &str) -> Approval {
        let mut a = record.clone();
        a.reviewers.push(reviewer.into());
        a.quorum = 2;
        a.votes.insert(
            reviewer.into(),
            crate::record::Vote {
                decision: Decision::Approved,
                comment: reviewer.into(),
                at: NOW,
                verified: None,
            },
        );
        a
    }

    #[test]
    fn attachments_link_to_their_downloads_while_open_and_are_named_after() {
        let request = json!({"title": "T", "requester": "carol@example.com", "attachments": [
            {"bucket": "shop-data", "key": "q1/report.csv"},
            {"bucket": "shop-data", "key": "x", "name": "<b>Quote</b>"},
        ]});
        let pending = sample(request.clone());
        let urls = [
            "https://s3.example/report?X-Amz-Signature=a&b=1".to_owned(),
            "https://s3.example/x".to_owned(),
        ];
        let (_, html) = show(&pending, "alice@example.com", &urls, NOW);
        assert!(
            html.contains(r#"<a href="https://s3.example/report?X-Amz-Signature=a&amp;b=1" rel="noreferrer" download="report.csv">report.csv</a>"#),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;Quote&lt;/b&gt;</a>"), "{html}");
        let (_, named) = show(&pending, "alice@example.com", &[], NOW);
        assert!(named.contains("<li>report.csv</li>") && !named.contains("s3.example"));
        let decided = decided_record(request, "", "bob@example.com");
        let (_, after) = show(&decided, "alice@example.com", &urls, NOW);
        assert!(after.contains("<li>report.csv</li>") && !after.contains("s3.example"));
    }

    #[test]
    fn under_a_quorum_the_pages_show_the_votes_and_a_voter_gets_no_form() {
        let pending = sample(json!({"title": "T", "requester": "carol@example.com"}));
        let (_, single) = show(&pending, "alice@example.com", &[], NOW);
        assert!(
            !single.contains("Votes"),
            "a quorum of one has no votes section"
        );
        let a = with_vote(&pending, "alice@example.com");
        let (code, voter) = show(&a, "alice@example.com", &[], NOW);
        assert_eq!(code, 200);
        assert!(!voter.contains("<form"), "{voter}");
        assert!(voter.contains("1 of 2 approvals needed"), "{voter}");
        assert!(voter.contains("<strong>alice@example.com</strong> approved"));
        let (_, other) = show(&a, "bob@example.com", &[], NOW);
        assert!(other.contains("<form") && other.contains("1 of 2 approvals needed"));
        assert_eq!(voted(&a, "alice@example.com", NOW).0, 409);
        let (code, thanks) = counted(&a, "alice@example.com", NOW);
        assert_eq!(code, 200);
        assert!(thanks.contains("1 of 2 approvals; the request stays open"));
    }

    const SCRIPT: &str = "<script>alert(1)</script>";
    const IMG: &str = "\"><img src=x onerror=alert(1)>";

    #[test]
    fn hostile_fields_are_escaped_everywhere() {
        for payload in [SCRIPT, IMG, "it's \"quoted\" <b>bold</b>"] {
            let mut request = json!({
                "title": payload,
                "requester": "carol@example.com",
                "summary": payload,
                "amount": 1,
                "currency": payload,
                "nested": {"k": payload},
            });
            request[payload] = json!(payload);
            let escaped = payload
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;");
            let pages = all_pages(request, payload);
            for (i, (_, html)) in pages.iter().enumerate() {
                assert!(
                    !html.contains(payload),
                    "page {i} has the raw {payload:?}:\n{html}"
                );
                assert!(
                    !html.contains("<script>") && !html.contains("<img"),
                    "page {i}"
                );
            }
            // Pages about the approval (not 404 / refused) show the escaped text.
            for (i, (_, html)) in pages.iter().take(10).enumerate() {
                assert!(
                    html.contains(&escaped),
                    "page {i} lacks {escaped:?}:\n{html}"
                );
            }
        }
    }

    #[test]
    fn hostile_requester_is_escaped() {
        // Markup characters and quotes are not email-ish, so validation refuses them…
        for bad in [SCRIPT, IMG, "\"x\"@evil.example", "<a@evil.example>"] {
            let request = json!({"title": "T", "requester": bad});
            assert!(
                crate::request::ApprovalRequest::from_value(&request).is_err(),
                "{bad}"
            );
        }
        // …and what does get through is escaped all the same.
        let requester = "o'brien&co@evil.example";
        let pages = all_pages(json!({"title": "T", "requester": requester}), "r@x.io");
        for (_, html) in &pages[..10] {
            assert!(!html.contains(requester));
            assert!(html.contains("o'brien&amp;co@evil.example"));
        }
    }

    #[test]
    fn entities_in_user_text_are_escaped_again() {
        let title = "&amp; &lt;b&gt;";
        let other = "&quot;x&amp;y";
        let pages = all_pages(json!({"title": title, "requester": "c@x.io"}), other);
        for (i, (_, html)) in pages.iter().enumerate() {
            assert!(!html.contains(title) && !html.contains(other), "page {i}");
        }
        for (i, (_, html)) in pages.iter().take(10).enumerate() {
            assert!(html.contains("&amp;amp; &amp;lt;b&amp;gt;"), "page {i}");
        }
        // Where the reviewer or the comment is shown, it is escaped once more too.
        for i in [0, 1, 4, 5, 8, 9] {
            assert!(pages[i].1.contains("&amp;quot;x&amp;amp;y"), "page {i}");
        }
    }

    #[test]
    fn no_task_token_on_any_page() {
        let pages = all_pages(
            json!({"title": "T", "requester": "c@x.io", "x": 1}),
            "r@x.io",
        );
        for (i, (_, html)) in pages.iter().enumerate() {
            assert!(!html.contains(TOKEN), "page {i}");
            assert!(!html.contains(&TOKEN[..16]), "page {i}");
        }
    }

    #[test]
    fn statuses() {
        let codes: Vec<u16> = all_pages(json!({"title": "T", "requester": "c@x.io"}), "r@x.io")
            .iter()
            .map(|(code, _)| *code)
            .collect();
        assert_eq!(
            codes,
            [
                200, 200, 200, 200, 200, 409, 410, 409, 200, 503, 404, 503, 403, 400, 409, 200
            ]
        );
        assert_eq!(
            refused(&Refusal::Form(FormError::TooLarge { bytes: 5000 })).0,
            413
        );
        assert_eq!(refused(&Refusal::Method).0, 405);
    }

    #[test]
    fn the_review_page_has_a_form_posting_to_itself() {
        let a = sample(
            json!({"title": "Buy a laptop", "requester": "carol@example.com", "summary": "S", "amount": 3, "currency": "EUR", "cc": "R1"}),
        );
        let (code, html) = review(&a, "alice@example.com", NOW);
        assert_eq!(code, 200);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            html.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        assert!(html.contains(r#"<form method="post">"#));
        assert!(!html.contains("action="));
        assert!(html.contains(
            r#"<textarea id="comment" name="comment" rows="4" maxlength="1000"></textarea>"#
        ));
        assert!(html.contains(r#"name="decision" value="approve""#));
        assert!(html.contains(r#"name="decision" value="reject""#));
        assert!(html.contains("<strong>alice@example.com</strong>"));
        for text in [
            "Buy a laptop",
            "carol@example.com",
            "3.00 EUR",
            "2025-03-02 09:30 UTC (in 24 hours)",
            "<dt>cc</dt><dd>R1</dd>",
        ] {
            assert!(html.contains(text), "{text}");
        }
        // No scripts or external assets.
        for banned in ["<script", "<link", "<img", "src=", "http://", "https://"] {
            assert!(!html.contains(banned), "{banned}");
        }
    }

    /// The details in the order the request gave them (not by name), the amount as money.
    #[test]
    fn details_in_the_requests_order_and_the_amount_as_money() {
        let text = r#"{"title": "T", "requester": "c@x.io", "amount": 642.8, "currency": "EUR", "zeta": "last by name", "alpha": 2}"#;
        let a = sample(serde_json::from_str(text).expect("JSON"));
        let (_, html) = show(&a, "r@x.io", &[], NOW);
        assert!(html.contains("<dd>642.80 EUR</dd>"), "{html}");
        let zeta = html.find("<dt>zeta</dt>").expect("zeta shown");
        let alpha = html.find("<dt>alpha</dt>").expect("alpha shown");
        assert!(zeta < alpha, "{html}");
        let yen =
            sample(json!({"title": "T", "requester": "c@x.io", "amount": 1250, "currency": "JPY"}));
        assert!(
            show(&yen, "r@x.io", &[], NOW)
                .1
                .contains("<dd>1250 JPY</dd>")
        );
    }

    #[test]
    fn show_follows_the_rules() {
        let pending = sample(json!({"title": "T", "requester": "c@x.io"}));
        assert!(show(&pending, "r@x.io", &[], NOW).1.contains("<form"));
        let (_, html) = show(&pending, "r@x.io", &[], pending.expires_at);
        assert!(
            !html.contains("<form") && html.contains("It can no longer be approved or rejected")
        );
        let mut expired_record = pending.clone();
        expired_record.status = Status::Expired;
        assert!(
            !show(&expired_record, "r@x.io", &[], NOW)
                .1
                .contains("<form")
        );
        let mut deciding = pending.clone();
        deciding.apply_claim(&Claim {
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: "a@x.io".into(),
            at: NOW,
            verified: None,
        });
        assert!(
            show(&deciding, "r@x.io", &[], NOW + 10)
                .1
                .contains("being recorded right now")
        );
        assert!(
            show(&deciding, "r@x.io", &[], NOW + 61).1.contains("<form"),
            "a stale claim shows the form again"
        );
    }

    #[test]
    fn decided_page_says_who_decided_what_and_when() {
        let a = decided_record(
            json!({"title": "T", "requester": "c@x.io"}),
            "Too expensive",
            "bob@example.com",
        );
        let (code, html) = decided(&a, NOW + 3600);
        assert_eq!(code, 409);
        assert!(!html.contains("<form"));
        assert!(html.contains("already been decided"));
        assert!(html.contains("<strong>Rejected</strong> by bob@example.com on 2025-03-01 09:31 UTC (59 minutes ago)."), "{html}");
        assert!(html.contains("<blockquote>Too expensive</blockquote>"));
        let (code, html) = confirmation(&a, NOW + 61);
        assert_eq!(code, 200);
        assert!(html.contains("you rejected this request"));
    }

    #[test]
    fn retry_keeps_the_comment_and_the_form() {
        let a = sample(json!({"title": "T", "requester": "c@x.io"}));
        let form = DecisionForm {
            decision: Decision::Approved,
            comment: "Fine\nby me".into(),
        };
        let (code, html) = retry(&a, "r@x.io", &form, NOW);
        assert_eq!(code, 503);
        assert!(html.contains("nothing was recorded"));
        assert!(html.contains(">Fine\nby me</textarea>"));
        assert!(html.contains(r#"<form method="post">"#));
    }

    #[test]
    fn unavailable_says_nothing_was_recorded() {
        let (code, html) = unavailable();
        assert_eq!(code, 503);
        assert!(html.contains("Nothing was recorded"), "{html}");
        assert!(!html.contains("<form"));
    }

    #[test]
    fn not_found_tells_nothing() {
        let (code, html) = not_found();
        assert_eq!(code, 404);
        assert!(!html.contains("<form") && !html.contains("@"));
    }

    #[test]
    fn refused_page_gives_the_reason() {
        let (code, html) = refused(&Refusal::Form(FormError::CommentTooLong { chars: 1001 }));
        assert_eq!(code, 400);
        assert!(html.contains("The comment is 1001 characters long; at most 1000 are accepted."));
    }

    #[test]
    fn security_headers() {
        let headers = headers();
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(
            get("content-security-policy"),
            Some(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            )
        );
        assert_eq!(get("cache-control"), Some("no-store"));
        assert_eq!(get("referrer-policy"), Some("same-origin"));
        assert_eq!(get("x-content-type-options"), Some("nosniff"));
        assert_eq!(get("content-type"), Some("text/html; charset=utf-8"));
    }
}
