//! The invariants, checked after every step of every case.

use std::collections::{BTreeMap, BTreeSet};

use hitl_core::{
    Approval, ApprovalId, Decision, ExecutionState, SendOutcome, Status, dates::rfc3339,
    request::same_email, rules,
};
use serde_json::Value;

use super::links::{Delivered, Kind, Sent, kind};
use crate::testing::{Phase, Published, Resume, State};

/// A broken invariant, said plainly.
pub type Broken = String;

/// How far the checks of what only grows (messages, decisions sent) have read, and what they
/// saw: each is checked once, when it appears.
#[derive(Default)]
pub struct Checked {
    /// The links sent so far, each message's read once.
    pub sent: Sent,
    messages: usize,
    resumes: usize,
    posts: usize,
    /// (kind, whose, reviewer) of the messages seen: an invocation's or an approval's.
    seen: BTreeSet<(Kind, String, String)>,
    /// Executions that accepted a decision.
    accepted: BTreeSet<String>,
    /// Decided records found to be what their execution accepted, as they were then.
    decided: BTreeMap<ApprovalId, Approval>,
}

/// Every invariant that holds after any step.
pub fn always(
    state: &State,
    quorum: u32,
    acknowledged: &BTreeSet<(ApprovalId, String)>,
    checked: &mut Checked,
) -> Result<(), Broken> {
    decided_only_if_accepted(state, &mut checked.decided)?;
    expired_only_if_not_taken(state)?;
    records_count_votes_once(state)?;
    acknowledged_votes_kept(state, acknowledged)?;
    for resume in &state.resumes[checked.resumes..] {
        sent_under_its_claim_once(resume, &mut checked.accepted)?;
        sent_votes_once(resume, quorum)?;
        no_token_in(state, &resume.output)?;
    }
    checked.resumes = state.resumes.len();
    checked.sent.update(state);
    for (i, message) in state.published.iter().enumerate().skip(checked.messages) {
        let link = checked.sent.of_message[i].as_ref();
        message_once(state, message, link, &mut checked.seen)?;
        no_token_in(
            state,
            &format!("{} {}", message.message.subject, message.message.body),
        )?;
    }
    checked.messages = state.published.len();
    for post in &state.posts[checked.posts..] {
        no_token_in(state, &post.to_string())?;
        // A link in a channel would let anyone in it decide as its reviewer.
        if post.to_string().contains("/approvals/") {
            return Err(format!("a chat post carries a review link: {post}"));
        }
    }
    checked.posts = state.posts.len();
    Ok(())
}

/// Whether `record` can still be decided at `now`.
pub fn open(record: &Approval, now: u64) -> bool {
    matches!(record.status, Status::Pending | Status::Deciding) && now < record.expires_at
}

/// A decision sent, as the orchestrator got it.
fn output(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The votes of a decision sent: (reviewer, decision) pairs.
fn sent_votes(sent: &Value) -> Vec<(String, String)> {
    let votes = sent["votes"].as_array().cloned().unwrap_or_default();
    votes
        .iter()
        .map(|v| {
            let text = |field: &str| v[field].as_str().unwrap_or_default().to_owned();
            (text("reviewer"), text("decision"))
        })
        .collect()
}

/// A record says expired only if its execution did not go on with a decision it took: one
/// that ended with its accepted decision (not stopped after it) has it recorded, whatever
/// answers were lost on the way.
fn expired_only_if_not_taken(state: &State) -> Result<(), Broken> {
    for record in state.approvals.values() {
        let execution = state.executions.get(&record.execution_arn);
        let Some(execution) = execution.filter(|e| e.accepted.is_some()) else {
            continue;
        };
        let took_it = match &execution.phase {
            Phase::Ended(ExecutionState::Succeeded(_)) => true,
            Phase::Ended(ExecutionState::Failed { error, .. }) => error == "Rejected",
            _ => false,
        };
        if record.status == Status::Expired && took_it {
            return Err(format!(
                "the record of {} says expired but its execution went on with {}",
                record.execution_arn,
                execution.accepted.as_deref().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// A record says approved or rejected only if its execution accepted exactly that decision:
/// the same reviewer, comment, time and votes.
fn decided_only_if_accepted(
    state: &State,
    checked: &mut BTreeMap<ApprovalId, Approval>,
) -> Result<(), Broken> {
    for record in state.approvals.values() {
        if checked.get(&record.id) == Some(record) {
            continue; // Checked as it is.
        }
        let Some(decision) = [Decision::Approved, Decision::Rejected]
            .into_iter()
            .find(|d| d.status() == record.status)
        else {
            continue;
        };
        let execution = state.executions.get(&record.execution_arn);
        let Some(accepted) = execution.and_then(|e| e.accepted.as_deref()) else {
            return Err(format!(
                "the record of {} says {} but its execution accepted no decision",
                record.execution_arn,
                decision.as_str()
            ));
        };
        let sent = output(accepted);
        let mut votes: Vec<_> = record
            .votes
            .iter()
            .map(|(r, v)| (r.clone(), v.decision.as_str().to_owned()))
            .collect();
        let mut accepted_votes = sent_votes(&sent);
        votes.sort();
        accepted_votes.sort();
        let same = sent["decision"] == decision.as_str()
            && record.decision == Some(decision)
            && sent["reviewer"] == record.decided_by.as_deref().unwrap_or_default()
            && sent["comment"] == record.comment.as_deref().unwrap_or_default()
            && sent["decidedAt"] == record.decided_at.map(rfc3339).unwrap_or_default()
            && votes == accepted_votes;
        if !same {
            return Err(format!(
                "the record of {} says {} by {:?} ({:?}, votes {votes:?}) but its execution \
                 accepted {accepted}",
                record.execution_arn,
                decision.as_str(),
                record.decided_by,
                record.comment
            ));
        }
        checked.insert(record.id.clone(), record.clone());
    }
    Ok(())
}

/// A decision reaches an execution at most once, and only while the table holds its claim.
fn sent_under_its_claim_once(
    resume: &Resume,
    accepted: &mut BTreeSet<String>,
) -> Result<(), Broken> {
    if !resume.claim_held {
        return Err(format!(
            "op {} sent {} while the table did not hold that claim",
            resume.by, resume.output
        ));
    }
    let arn = resume.execution.clone().unwrap_or_default();
    if resume.outcome == SendOutcome::Accepted && !accepted.insert(arn.clone()) {
        return Err(format!("execution {arn} was resumed twice"));
    }
    Ok(())
}

/// The first voter of `who` who is there twice (by address, case aside).
fn twice(who: &[&str]) -> Option<String> {
    who.iter()
        .enumerate()
        .find(|(i, a)| who[i + 1..].iter().any(|b| same_email(a, b)))
        .map(|(_, a)| a.to_string())
}

/// No reviewer's vote counts twice in a record.
fn records_count_votes_once(state: &State) -> Result<(), Broken> {
    for record in state.approvals.values() {
        let who: Vec<&str> = record.votes.keys().map(String::as_str).collect();
        if let Some(voter) = twice(&who) {
            return Err(format!("{voter} has two votes in {:?}", record.votes));
        }
    }
    Ok(())
}

/// No reviewer's vote counts twice in a decision sent, and an approval sent has exactly the
/// quorum's approvals.
fn sent_votes_once(resume: &Resume, quorum: u32) -> Result<(), Broken> {
    let sent = output(&resume.output);
    let votes = sent_votes(&sent);
    let who: Vec<&str> = votes.iter().map(|(r, _)| r.as_str()).collect();
    if let Some(voter) = twice(&who) {
        return Err(format!("{voter} voted twice in {}", resume.output));
    }
    let approvals = votes.iter().filter(|(_, d)| d == "approved").count() as u32;
    if sent["decision"] == "approved" && approvals != quorum {
        return Err(format!(
            "an approval sent with {approvals} approvals for a quorum of {quorum}: {}",
            resume.output
        ));
    }
    Ok(())
}

/// A vote the reviewer was told is counted stays counted.
fn acknowledged_votes_kept(
    state: &State,
    acknowledged: &BTreeSet<(ApprovalId, String)>,
) -> Result<(), Broken> {
    for (approval, reviewer) in acknowledged {
        let kept = state
            .approvals
            .get(approval)
            .is_some_and(|r| r.votes.contains_key(reviewer));
        if !kept {
            return Err(format!(
                "{reviewer} was told his approval is counted, and the record lost it"
            ));
        }
    }
    Ok(())
}

/// A reviewer gets at most one request message per invocation, one reminder and one
/// escalation per approval, each nudge only once the record is marked.
fn message_once(
    state: &State,
    message: &Published,
    link: Option<&Delivered>,
    sent: &mut BTreeSet<(Kind, String, String)>,
) -> Result<(), Broken> {
    let kind = kind(message);
    let Some(link) = link else {
        return Ok(());
    };
    let reviewer = message.message.reviewer.clone();
    let whose = match kind {
        Kind::Request => format!("op {}", message.by),
        _ => link.approval.to_string(),
    };
    if !sent.insert((kind, whose, reviewer.clone())) {
        return Err(format!("{reviewer} got a second {kind:?} message"));
    }
    let record = state.approvals.get(&link.approval);
    let marked = match kind {
        Kind::Reminder => record.is_some_and(|r| r.reminded_at.is_some()),
        Kind::Escalation => record.is_some_and(|r| r.escalated_at.is_some()),
        Kind::Request | Kind::Ending => true,
    };
    if !marked {
        return Err(format!(
            "{reviewer} got a {kind:?} the record does not mark sent"
        ));
    }
    Ok(())
}

/// The task token is in the table and nowhere else the model can see: not in `text`.
fn no_token_in(state: &State, text: &str) -> Result<(), Broken> {
    let mut tokens = state.executions.values().flat_map(|e| e.tokens.iter());
    match tokens.find(|t| text.contains(t.expose())) {
        Some(token) => Err(format!("the token {} was sent: {text}", token.expose())),
        None => Ok(()),
    }
}

/// Whether a page shows a token.
pub fn page_shows_a_token(state: &State, html: &str) -> bool {
    state
        .executions
        .values()
        .flat_map(|e| e.tokens.iter())
        .any(|t| html.contains(t.expose()))
}

/// After a POST that ran without a fault: if it sent and the execution took the decision, the
/// record says so; if it found the execution ended, the record is closed.
pub fn after_a_clean_post(state: &State, by: usize) -> Result<(), Broken> {
    let Some(last) = state.resumes.iter().rev().find(|r| r.by == by) else {
        return Ok(());
    };
    let record = state
        .approvals
        .values()
        .find(|a| Some(&a.execution_arn) == last.execution.as_ref());
    let Some(record) = record else {
        return Ok(());
    };
    if last.outcome == SendOutcome::Accepted
        && !matches!(record.status, Status::Approved | Status::Rejected)
    {
        return Err(format!(
            "op {by}'s decision was accepted and the record says {}",
            record.status.as_str()
        ));
    }
    if last.execution_ended && open(record, state.now()) {
        return Err(format!(
            "op {by} found the execution ended and left the record {}",
            record.status.as_str()
        ));
    }
    Ok(())
}

/// Whether `record` holds `reviewer`'s vote (by address, case aside).
pub fn voted(record: &Approval, reviewer: &str) -> bool {
    record.votes.keys().any(|v| same_email(v, reviewer))
}

/// What the page of a POST or GET said, in a few words.
pub fn page_label(status: u16, html: &str) -> String {
    let labels = [
        ("your approval is recorded", "counted"),
        ("already voted", "already voted"),
        ("you approved this request", "approved"),
        ("you rejected this request", "rejected"),
        ("being recorded right now", "being decided"),
        ("already been decided", "decided before"),
        ("could not be passed to the workflow", "try again"),
        ("Try again in a moment", "unavailable"),
        ("Link not found", "not found"),
        ("This request expired", "expired"),
    ];
    // What a page says comes first in its body: look there only.
    let start = html.find("<main>").unwrap_or(0);
    let head = &html[start..html.len().min(start + 700)];
    let label = labels
        .iter()
        .find(|(text, _)| head.contains(text))
        .map_or("a page", |(_, label)| label);
    format!("{status} {label}")
}

/// The view of a record, for the trace.
pub fn view_label(record: &Approval, now: u64) -> String {
    format!("{:?}", rules::view(record, now))
}
