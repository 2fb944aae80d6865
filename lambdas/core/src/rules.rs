//! The decision rules: what a GET shows, what a POST may do, and where the record goes after
//! the decision is sent to the orchestrator (`SendTaskSuccess` to Step Functions, or
//! `SendDurableExecutionCallbackSuccess` to a durable execution).
//!
//! A decision is recorded only if the orchestrator accepted it. The review function
//! 1. claims the record, `pending → deciding`, with a conditional update that mirrors
//!    [`post`] returning [`PostVerdict::Claim`]:
//!    `(status = pending OR (status = deciding AND claimed_at = :held AND claimed_at < :now - 60))
//!    AND expires_at > :now` (see [`stale_cutoff`]);
//! 2. sends the decision with [`task_output`];
//! 3. applies [`after_send`]: finalise (`deciding → approved/rejected`), expire (the task is
//!    gone: [`after_gone`] tells a retried attempt's newer token, or one on its way, from an
//!    ended task), or revert to `pending` (a transient error: the page asks to retry; the
//!    record keeps the claim among its lost claims, since the orchestrator may have taken it).
//!
//! A claim older than [`STALE_CLAIM_SECS`] belongs to a function that died mid-way and may be
//! claimed again. If that function died *after* the orchestrator accepted its decision, the
//! new claim's send finds the task closed: the record keeps the stale claim among its lost
//! claims, and [`taken`] finds it in the execution's end.

use serde_json::{Value, json};

use crate::dates::rfc3339;
use crate::id::TaskToken;
#[cfg(test)]
use crate::record::Vote;
use crate::record::{Approval, Claim, Decision, Status, Transition, Verified};
use crate::request::same_email;

/// Age in seconds past which a `deciding` claim is stale and may be claimed again.
pub const STALE_CLAIM_SECS: u64 = 60;

/// A claim made before this second (`claimed_at < stale_cutoff(now)`) is stale.
pub fn stale_cutoff(now: u64) -> u64 {
    now.saturating_sub(STALE_CLAIM_SECS)
}

/// True when a claim is older than [`STALE_CLAIM_SECS`], or has no time at all (a broken
/// record must not block the approval forever).
pub fn claim_is_stale(claimed_at: Option<u64>, now: u64) -> bool {
    claimed_at.is_none_or(|at| at < stale_cutoff(now))
}

/// True from `expires_at` on, whatever the status says.
pub fn is_past_expiry(record: &Approval, now: u64) -> bool {
    now >= record.expires_at
}

/// What a GET or HEAD shows. Neither ever changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Open for a decision: the page has the form.
    Pending { seconds_left: u64 },
    /// Approved or rejected.
    Decided,
    /// Expired by the clock or by the orchestrator (the task or callback gone).
    Expired,
    /// Another reviewer's decision is being sent right now (a fresh claim).
    BeingDecided,
}

/// The page for GET/HEAD. A decided record shows its decision even past expiry; otherwise
/// expiry wins; a stale claim shows the form again (a POST may claim it).
pub fn view(record: &Approval, now: u64) -> View {
    match record.status {
        Status::Approved | Status::Rejected => View::Decided,
        _ if is_past_expiry(record, now) => View::Expired,
        Status::Expired => View::Expired,
        Status::Deciding if !claim_is_stale(record.claimed_at, now) => View::BeingDecided,
        Status::Pending | Status::Deciding => View::Pending {
            seconds_left: record.expires_at - now,
        },
    }
}

/// What a POST with a well-formed decision may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostVerdict {
    /// Unknown or malformed link id: 404, the same page for both.
    NotFound,
    /// Past expiry or expired: 410.
    Expired,
    /// Approved or rejected already: 409 with who decided what and when.
    AlreadyDecided,
    /// Another reviewer holds a fresh claim: 409.
    BeingDecided,
    /// Claim the record and send the decision.
    Claim,
}

impl PostVerdict {
    /// The HTTP status of a refusal; `None` for [`PostVerdict::Claim`].
    pub fn status(self) -> Option<u16> {
        match self {
            Self::NotFound => Some(404),
            Self::Expired => Some(410),
            Self::AlreadyDecided | Self::BeingDecided => Some(409),
            Self::Claim => None,
        }
    }
}

/// The rule for a POST on the record a link points to (`None`: no such link or record).
pub fn post(record: Option<&Approval>, now: u64) -> PostVerdict {
    let Some(record) = record else {
        return PostVerdict::NotFound;
    };
    match record.status {
        Status::Approved | Status::Rejected => PostVerdict::AlreadyDecided,
        _ if is_past_expiry(record, now) => PostVerdict::Expired,
        Status::Expired => PostVerdict::Expired,
        Status::Deciding if !claim_is_stale(record.claimed_at, now) => PostVerdict::BeingDecided,
        Status::Pending | Status::Deciding => PostVerdict::Claim,
    }
}

/// What a reviewer's POST does once [`post`] lets it through: under a quorum, only a
/// rejection or the approval that reaches it decides; the approvals before it are votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ballot {
    /// He voted already (409): the page shows his vote; nothing changes.
    AlreadyVoted,
    /// An approval short of the quorum: recorded as his vote, the approval stays open.
    Count,
    /// A rejection, or the approval that reaches the quorum: claim the record and send.
    Decide,
}

/// The ballot of `reviewer`'s `decision` on an open record. The adapter records a
/// [`Ballot::Count`] and claims for a [`Ballot::Decide`] only while the record's approvals are
/// still the ones read (`approvals = :seen`): two racing approvals cannot both be counted short
/// of the quorum, and the later one is weighed again against the record as it is then.
pub fn ballot(record: &Approval, reviewer: &str, decision: Decision) -> Ballot {
    if record.has_voted(reviewer) {
        Ballot::AlreadyVoted
    } else if record.decides(decision) {
        Ballot::Decide
    } else {
        Ballot::Count
    }
}

/// How long after its expiry an approval is checked a last time: past the stale age of any
/// claim made before the expiry ([`STALE_CLAIM_SECS`]), with time for its function to end. A
/// claim still held then belongs to a function that died.
pub const EXPIRY_CHECK_SECS: u64 = STALE_CLAIM_SECS + 15;

/// What an approval's expiry check finds (its schedule fires at the expiry, and again
/// [`EXPIRY_CHECK_SECS`] after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtExpiry {
    /// Not past its expiry (a schedule on time at best), decided or expired already, or a
    /// fresh claim being sent (the later check looks again): nothing to do.
    Nothing,
    /// Pending past its expiry, no claim given up: nobody decided in time. Closed as
    /// `expired`, so that a record open past its expiry means something went wrong.
    Close,
    /// Still open at the last check in a way only the orchestrator can settle: a claim whose
    /// function died (stale), or claims given up without knowing whether the workflow took
    /// one (`lost_claims`) and no press since. Settled from how its execution ended
    /// ([`crate::settlement`]); counted and alarmed on when even that cannot tell.
    Unsettled,
}

/// What the expiry check does with `record` at `now`.
pub fn at_expiry(record: &Approval, now: u64) -> AtExpiry {
    if !is_past_expiry(record, now) {
        return AtExpiry::Nothing;
    }
    let last = now >= record.expires_at.saturating_add(EXPIRY_CHECK_SECS);
    match record.status {
        Status::Approved | Status::Rejected | Status::Expired => AtExpiry::Nothing,
        Status::Pending if record.lost_claims.is_empty() => AtExpiry::Close,
        Status::Pending | Status::Deciding if last => AtExpiry::Unsettled,
        Status::Pending | Status::Deciding => AtExpiry::Nothing,
    }
}

/// A message sent on a schedule after the request: a reminder, or an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nudge {
    /// Each reviewer who has not voted, once.
    Remind,
    /// The escalation addresses, once.
    Escalate,
}

impl Nudge {
    /// The record's attribute that marks it sent: `reminded_at` or `escalated_at`.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Remind => "reminded_at",
            Self::Escalate => "escalated_at",
        }
    }

    /// The schedule's name suffix: `remind` or `escalate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remind => "remind",
            Self::Escalate => "escalate",
        }
    }

    fn sent(self, record: &Approval) -> bool {
        match self {
            Self::Remind => record.reminded_at.is_some(),
            Self::Escalate => record.escalated_at.is_some(),
        }
    }
}

/// Who gets `nudge` at `now`: nobody unless the approval is still open (pending, or a claim
/// gone stale), not past its expiry and not nudged so before. A reminder goes to each reviewer
/// who has not voted; an escalation to each of `escalate_to` who is not the requester and has
/// not voted. The adapter marks the record first (`attribute_not_exists`), so each is sent at
/// most once however often the schedule fires.
pub fn nudged(record: &Approval, nudge: Nudge, escalate_to: &[String], now: u64) -> Vec<String> {
    let open = match record.status {
        Status::Pending => true,
        Status::Deciding => claim_is_stale(record.claimed_at, now),
        _ => false,
    };
    if !open || is_past_expiry(record, now) || nudge.sent(record) {
        return Vec::new();
    }
    let voted = |who: &str| record.has_voted(who);
    let mut who: Vec<String> = match nudge {
        Nudge::Remind => record.reviewers.clone(),
        Nudge::Escalate => escalate_to.to_vec(),
    };
    who.retain(|r| !voted(r) && !same_email(r, &record.request.requester));
    who.dedup_by(|a, b| same_email(a, b));
    who
}

/// How sending the decision went (`SendTaskSuccess`, or a durable function's
/// `SendDurableExecutionCallbackSuccess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// The orchestrator took the decision.
    Accepted,
    /// The task or callback is gone: `TaskTimedOut`, `TaskDoesNotExist` or `InvalidToken` from
    /// Step Functions; `CallbackTimeoutException` ("expired or already closed") or
    /// `ResourceNotFoundException` from Lambda.
    TaskGone,
    /// Anything else (throttling, network, service errors): may work if retried.
    Transient,
}

impl SendOutcome {
    /// The outcome of a failed call, from the Step Functions or Lambda error code.
    pub fn from_error_code(code: &str) -> Self {
        match code {
            "TaskTimedOut"
            | "TaskDoesNotExist"
            | "InvalidToken"
            | "CallbackTimeoutException"
            | "ResourceNotFoundException" => Self::TaskGone,
            _ => Self::Transient,
        }
    }
}

/// The transition after sending the claimed `decision` to the orchestrator.
pub fn after_send(decision: Decision, result: SendOutcome) -> Transition {
    match result {
        SendOutcome::Accepted => Transition::Finalise(decision),
        SendOutcome::TaskGone => Transition::Expire,
        SendOutcome::Transient => Transition::Revert,
    }
}

/// What to do when the orchestrator said the task is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterGone {
    /// A retried attempt of the task put its new token into the record meanwhile: send the
    /// same decision with it (the claim still holds).
    Resend(TaskToken),
    /// The execution runs, or the orchestrator cannot say how it stands: the attempt the
    /// token belongs to failed and its retry has not reached the table yet, or a decision
    /// closed the task and the workflow runs the states after it (this claim's, its answer
    /// lost, or a lost claim's). Give up the claim, kept among the lost claims; the reviewer
    /// tries again, and the next send tells which once the execution has ended
    /// ([`taken`]).
    Revert,
    /// The execution ended (with another decision than this claim's: see [`after_closed`]):
    /// expired.
    Expire,
}

/// Where a gone task leaves the claim. `sent_with` is the token just refused; `current` the
/// record as it is now; `running` whether the execution still runs (`None`: could not tell).
/// A running execution never expires the record, however long ago its token was stored: a
/// decision may have closed the task (see [`AfterGone::Revert`]). A workflow that caught the
/// task's failure and runs on leaves the record open until it expires by the clock.
pub fn after_gone(
    sent_with: &TaskToken,
    claim: &Claim,
    current: Option<&Approval>,
    running: Option<bool>,
) -> AfterGone {
    let Some(current) = current else {
        return AfterGone::Expire;
    };
    let ours = current.status == Status::Deciding && current.claimed_at == Some(claim.at);
    if ours && current.task_token != *sent_with {
        return AfterGone::Resend(current.task_token.clone());
    }
    match running {
        Some(false) => AfterGone::Expire,
        Some(true) | None => AfterGone::Revert,
    }
}

/// How an execution stands when its task or callback turned out gone, as `DescribeExecution` or
/// `GetDurableExecution` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Running,
    /// Succeeded, with its output (JSON).
    Succeeded(String),
    /// Failed (or timed out, or stopped): the error's type and message.
    Failed {
        error: String,
        message: String,
    },
}

/// What a task or callback found gone means for `claim`: the execution ended with this very
/// decision (the decision went through but its answer was lost, so that the retry found the
/// task closed): accepted; it ended otherwise: gone; it still runs: cannot tell yet
/// (transient). An approval is this claim's when the execution's output has its decision,
/// reviewer, comment and time (another claim of the same reviewer, a stale one taken over,
/// is not this one). Either orchestrator's rejection is the error `Rejected` with the comment
/// as its cause (the durable SDK's `Rejected: <comment>` is read without its prefix, by the
/// adapter), all it tells: a rejection with the same comment is taken for this one.
pub fn after_closed(claim: &Claim, state: &ExecutionState) -> SendOutcome {
    match state {
        ExecutionState::Running => SendOutcome::Transient,
        ExecutionState::Succeeded(output) => {
            let output: Value = serde_json::from_str(output).unwrap_or(Value::Null);
            let approval = &output["approval"];
            let ours = claim.decision == Decision::Approved
                && approval["decision"] == claim.decision.as_str()
                && approval["reviewer"] == claim.reviewer.as_str()
                && approval["comment"] == claim.comment.as_str()
                && approval["decidedAt"] == rfc3339(claim.at).as_str();
            if ours {
                SendOutcome::Accepted
            } else {
                SendOutcome::TaskGone
            }
        }
        ExecutionState::Failed { error, message } => {
            let ours = claim.decision == Decision::Rejected
                && error == crate::errors::REJECTED
                && *message == claim.comment;
            if ours {
                SendOutcome::Accepted
            } else {
                SendOutcome::TaskGone
            }
        }
    }
}

/// Which claim an ended execution took, when `claim`'s send found its task closed: one of the
/// record's `earlier` claims, given up without knowing (see [`Approval::lost_claims`]), or
/// `claim` itself ([`after_closed`] for each). The earlier ones are weighed first, the
/// earliest first: they were sent before `claim`. `None`: none of them, or the execution still
/// runs.
///
/// Known limit: a rejection tells only its comment. Two rejections with the same comment
/// that could each have been the one taken are told apart by no field of the execution's end,
/// and the record names the earlier one's reviewer; the decision and comment are right.
pub fn taken<'a>(
    claim: &'a Claim,
    earlier: impl IntoIterator<Item = &'a Claim>,
    state: &ExecutionState,
) -> Option<&'a Claim> {
    earlier
        .into_iter()
        .chain([claim])
        .find(|c| after_closed(c, state) == SendOutcome::Accepted)
}

/// The decision as the orchestrator gets it (`SendTaskSuccess`'s output, the durable callback's
/// result):
/// `{approvalId, decision: "approved"|"rejected", comment, reviewer, decidedAt, votes}`, with
/// times in RFC 3339 UTC; `comment`, `reviewer` and `decidedAt` are the deciding vote's, and
/// `votes` is every vote in the order they were cast (`[{reviewer, decision, comment,
/// decidedAt}]`, the deciding one last). With sign-in, the deciding vote and each vote carry
/// `verified: {issuer, subject, email}`, who signed in to cast it. No task token, no link id.
pub fn task_output(approval: &Approval, claim: &Claim) -> String {
    let mut votes: Vec<_> = approval.votes_with(claim).into_iter().collect();
    votes.sort_by_key(|(reviewer, vote)| (vote.at, reviewer == &claim.reviewer));
    let votes: Vec<_> = votes
        .into_iter()
        .map(|(reviewer, vote)| {
            with_verified(
                json!({
                    "reviewer": reviewer,
                    "decision": vote.decision.as_str(),
                    "comment": vote.comment,
                    "decidedAt": rfc3339(vote.at),
                }),
                vote.verified.as_ref(),
            )
        })
        .collect();
    let output = json!({
        "approvalId": approval.id.as_str(),
        "decision": claim.decision.as_str(),
        "comment": claim.comment,
        "reviewer": claim.reviewer,
        "decidedAt": rfc3339(claim.at),
        "votes": votes,
    });
    with_verified(output, claim.verified.as_ref()).to_string()
}

/// `value` with `verified: {issuer, subject, email}` when the reviewer signed in.
fn with_verified(mut value: Value, verified: Option<&Verified>) -> Value {
    if let Some(verified) = verified {
        value["verified"] = json!(verified);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample;
    use serde_json::{Value, json};

    const EXPIRES: u64 = 1_740_821_400 + 86_400;

    fn record(status: Status, claimed_at: Option<u64>) -> Approval {
        let mut a = sample(json!({"title": "T", "requester": "carol@example.com"}));
        assert_eq!(a.expires_at, EXPIRES);
        a.status = status;
        if matches!(
            status,
            Status::Deciding | Status::Approved | Status::Rejected
        ) {
            a.decision = Some(Decision::Approved);
            a.decided_by = Some("alice@example.com".into());
            a.comment = Some(String::new());
        }
        a.claimed_at = claimed_at;
        if matches!(status, Status::Approved | Status::Rejected) {
            a.decided_at = Some(EXPIRES - 100);
        }
        a
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Method {
        Get,
        Head,
        Post,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Clock {
        Before,
        AtExpiry,
        After,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Claimed {
        None,
        Fresh,
        Stale,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Outcome {
        Get(View),
        Post(PostVerdict),
    }

    fn run(status: Status, claimed: Claimed, method: Method, clock: Clock) -> Outcome {
        let now = match clock {
            Clock::Before => EXPIRES - 10,
            Clock::AtExpiry => EXPIRES,
            Clock::After => EXPIRES + 10,
        };
        let claimed_at = match claimed {
            Claimed::None => None,
            Claimed::Fresh => Some(now - 5),
            Claimed::Stale => Some(now - STALE_CLAIM_SECS - 1),
        };
        let r = record(status, claimed_at);
        match method {
            Method::Get | Method::Head => Outcome::Get(view(&r, now)),
            Method::Post => Outcome::Post(post(Some(&r), now)),
        }
    }

    /// Every status × method × clock; `deciding` with fresh and stale claims.
    #[test]
    fn exhaustive_table() {
        use Claimed as C;
        use Clock::*;
        use Method::*;
        use Outcome as O;
        use PostVerdict as P;
        use Status as S;
        let open = O::Get(View::Pending { seconds_left: 10 });
        #[rustfmt::skip]
        let table: &[(Status, Claimed, Method, Clock, Outcome)] = &[
            (S::Pending,  C::None,  Get,  Before,   open),
            (S::Pending,  C::None,  Get,  AtExpiry, O::Get(View::Expired)),
            (S::Pending,  C::None,  Get,  After,    O::Get(View::Expired)),
            (S::Pending,  C::None,  Head, Before,   open),
            (S::Pending,  C::None,  Head, AtExpiry, O::Get(View::Expired)),
            (S::Pending,  C::None,  Head, After,    O::Get(View::Expired)),
            (S::Pending,  C::None,  Post, Before,   O::Post(P::Claim)),
            (S::Pending,  C::None,  Post, AtExpiry, O::Post(P::Expired)),
            (S::Pending,  C::None,  Post, After,    O::Post(P::Expired)),

            (S::Deciding, C::Fresh, Get,  Before,   O::Get(View::BeingDecided)),
            (S::Deciding, C::Fresh, Get,  AtExpiry, O::Get(View::Expired)),
            (S::Deciding, C::Fresh, Get,  After,    O::Get(View::Expired)),
            (S::Deciding, C::Fresh, Head, Before,   O::Get(View::BeingDecided)),
            (S::Deciding, C::Fresh, Head, AtExpiry, O::Get(View::Expired)),
            (S::Deciding, C::Fresh, Head, After,    O::Get(View::Expired)),
            (S::Deciding, C::Fresh, Post, Before,   O::Post(P::BeingDecided)),
            (S::Deciding, C::Fresh, Post, AtExpiry, O::Post(P::Expired)),
            (S::Deciding, C::Fresh, Post, After,    O::Post(P::Expired)),

            (S::Deciding, C::Stale, Get,  Before,   open),
            (S::Deciding, C::Stale, Get,  AtExpiry, O::Get(View::Expired)),
            (S::Deciding, C::Stale, Get,  After,    O::Get(View::Expired)),
            (S::Deciding, C::Stale, Head, Before,   open),
            (S::Deciding, C::Stale, Head, AtExpiry, O::Get(View::Expired)),
            (S::Deciding, C::Stale, Head, After,    O::Get(View::Expired)),
            (S::Deciding, C::Stale, Post, Before,   O::Post(P::Claim)),
            (S::Deciding, C::Stale, Post, AtExpiry, O::Post(P::Expired)),
            (S::Deciding, C::Stale, Post, After,    O::Post(P::Expired)),

            (S::Approved, C::None,  Get,  Before,   O::Get(View::Decided)),
            (S::Approved, C::None,  Get,  AtExpiry, O::Get(View::Decided)),
            (S::Approved, C::None,  Get,  After,    O::Get(View::Decided)),
            (S::Approved, C::None,  Head, Before,   O::Get(View::Decided)),
            (S::Approved, C::None,  Head, AtExpiry, O::Get(View::Decided)),
            (S::Approved, C::None,  Head, After,    O::Get(View::Decided)),
            (S::Approved, C::None,  Post, Before,   O::Post(P::AlreadyDecided)),
            (S::Approved, C::None,  Post, AtExpiry, O::Post(P::AlreadyDecided)),
            (S::Approved, C::None,  Post, After,    O::Post(P::AlreadyDecided)),

            (S::Rejected, C::None,  Get,  Before,   O::Get(View::Decided)),
            (S::Rejected, C::None,  Get,  AtExpiry, O::Get(View::Decided)),
            (S::Rejected, C::None,  Get,  After,    O::Get(View::Decided)),
            (S::Rejected, C::None,  Head, Before,   O::Get(View::Decided)),
            (S::Rejected, C::None,  Head, AtExpiry, O::Get(View::Decided)),
            (S::Rejected, C::None,  Head, After,    O::Get(View::Decided)),
            (S::Rejected, C::None,  Post, Before,   O::Post(P::AlreadyDecided)),
            (S::Rejected, C::None,  Post, AtExpiry, O::Post(P::AlreadyDecided)),
            (S::Rejected, C::None,  Post, After,    O::Post(P::AlreadyDecided)),

            (S::Expired,  C::None,  Get,  Before,   O::Get(View::Expired)),
            (S::Expired,  C::None,  Get,  AtExpiry, O::Get(View::Expired)),
            (S::Expired,  C::None,  Get,  After,    O::Get(View::Expired)),
            (S::Expired,  C::None,  Head, Before,   O::Get(View::Expired)),
            (S::Expired,  C::None,  Head, AtExpiry, O::Get(View::Expired)),
            (S::Expired,  C::None,  Head, After,    O::Get(View::Expired)),
            (S::Expired,  C::None,  Post, Before,   O::Post(P::Expired)),
            (S::Expired,  C::None,  Post, AtExpiry, O::Post(P::Expired)),
            (S::Expired,  C::None,  Post, After,    O::Post(P::Expired)),
        ];
        // The table covers every combination exactly once.
        let mut seen = std::collections::HashSet::new();
        for &(status, claimed, method, clock, expected) in table {
            assert!(
                seen.insert((status, claimed, method, clock)),
                "duplicate row"
            );
            let got = run(status, claimed, method, clock);
            assert_eq!(got, expected, "{status:?} {claimed:?} {method:?} {clock:?}");
        }
        let combos = (Status::ALL.len() + 1) * 3 * 3; // deciding twice: fresh and stale
        assert_eq!(seen.len(), combos);
        assert!(
            Status::ALL
                .iter()
                .all(|s| seen.iter().any(|row| row.0 == *s))
        );
    }

    #[test]
    fn unknown_record_is_not_found_at_any_time() {
        for now in [0, EXPIRES, u64::MAX] {
            assert_eq!(post(None, now), PostVerdict::NotFound);
        }
    }

    #[test]
    fn stale_boundary_is_older_than_sixty_seconds() {
        let now = EXPIRES - 1000;
        let at = |claimed_at| post(Some(&record(Status::Deciding, Some(claimed_at))), now);
        assert_eq!(at(now), PostVerdict::BeingDecided);
        assert_eq!(at(now - STALE_CLAIM_SECS), PostVerdict::BeingDecided);
        assert_eq!(at(now - STALE_CLAIM_SECS - 1), PostVerdict::Claim);
        // A claim "from the future" (clock skew between functions) is fresh.
        assert_eq!(at(now + 30), PostVerdict::BeingDecided);
        // A deciding record without claimed_at is treated as stale, not stuck forever.
        assert_eq!(
            post(Some(&record(Status::Deciding, None)), now),
            PostVerdict::Claim
        );
        assert_eq!(
            view(&record(Status::Deciding, None), now),
            View::Pending { seconds_left: 1000 }
        );
        assert!(!claim_is_stale(Some(5), 30)); // no underflow near zero
        assert_eq!(stale_cutoff(30), 0);
    }

    #[test]
    fn verdict_statuses() {
        assert_eq!(PostVerdict::NotFound.status(), Some(404));
        assert_eq!(PostVerdict::Expired.status(), Some(410));
        assert_eq!(PostVerdict::AlreadyDecided.status(), Some(409));
        assert_eq!(PostVerdict::BeingDecided.status(), Some(409));
        assert_eq!(PostVerdict::Claim.status(), None);
    }

    #[test]
    fn send_outcomes() {
        for code in [
            "TaskTimedOut",
            "TaskDoesNotExist",
            "InvalidToken",
            "CallbackTimeoutException",
            "ResourceNotFoundException",
        ] {
            assert_eq!(
                SendOutcome::from_error_code(code),
                SendOutcome::TaskGone,
                "{code}"
            );
        }
        for code in [
            "ThrottlingException",
            "ServiceUnavailable",
            "",
            "taskTimedOut",
        ] {
            assert_eq!(
                SendOutcome::from_error_code(code),
                SendOutcome::Transient,
                "{code}"
            );
        }
        for d in [Decision::Approved, Decision::Rejected] {
            assert_eq!(
                after_send(d, SendOutcome::Accepted),
                Transition::Finalise(d)
            );
            assert_eq!(after_send(d, SendOutcome::TaskGone), Transition::Expire);
            assert_eq!(after_send(d, SendOutcome::Transient), Transition::Revert);
        }
    }

    #[test]
    fn task_output_shape() {
        let a = record(Status::Deciding, Some(1_740_821_500));
        let claim = Claim {
            decision: Decision::Rejected,
            comment: "Too \"expensive\"".into(),
            reviewer: "bob@example.com".into(),
            at: 1_740_821_400,
            verified: None,
        };
        let out: Value = serde_json::from_str(&task_output(&a, &claim)).expect("JSON");
        assert_eq!(
            out,
            json!({
                "approvalId": a.id.as_str(),
                "decision": "rejected",
                "comment": "Too \"expensive\"",
                "reviewer": "bob@example.com",
                "decidedAt": "2025-03-01T09:30:00Z",
                "votes": [{"reviewer": "bob@example.com", "decision": "rejected", "comment": "Too \"expensive\"", "decidedAt": "2025-03-01T09:30:00Z"}],
            })
        );
    }

    fn quorum_of_two() -> Approval {
        let mut a = sample(json!({"title": "T", "requester": "carol@example.com"}));
        a.reviewers.push("dave@example.com".into());
        a.with_quorum(2).expect("three reviewers")
    }

    fn approve(at: u64) -> Vote {
        Vote {
            decision: Decision::Approved,
            comment: "fine".into(),
            at,
            verified: None,
        }
    }

    #[test]
    fn under_a_quorum_approvals_count_until_the_last_one_and_any_rejection_decides() {
        let mut a = quorum_of_two();
        assert_eq!(
            ballot(&a, "alice@example.com", Decision::Approved),
            Ballot::Count
        );
        assert_eq!(
            ballot(&a, "alice@example.com", Decision::Rejected),
            Ballot::Decide
        );
        a.votes.insert("alice@example.com".into(), approve(10));
        assert_eq!(a.approvals(), 1);
        assert_eq!(
            ballot(&a, "alice@example.com", Decision::Approved),
            Ballot::AlreadyVoted
        );
        assert_eq!(
            ballot(&a, "alice@example.com", Decision::Rejected),
            Ballot::AlreadyVoted
        );
        assert_eq!(
            ballot(&a, "bob@example.com", Decision::Approved),
            Ballot::Decide
        );
        // His address spelt otherwise (as an escalation address may be) is still him.
        assert_eq!(
            ballot(&a, " Alice@Example.COM", Decision::Approved),
            Ballot::AlreadyVoted
        );
        // The default quorum of one: the first approval decides.
        let single = sample(json!({"title": "T", "requester": "carol@example.com"}));
        assert_eq!(
            ballot(&single, "bob@example.com", Decision::Approved),
            Ballot::Decide
        );
    }

    #[test]
    fn the_output_lists_every_vote_in_order_the_deciding_one_last() {
        let mut a = quorum_of_two();
        a.votes.insert("dave@example.com".into(), approve(20));
        let claim = Claim {
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: "alice@example.com".into(),
            at: 20,
            verified: None,
        };
        let out: Value = serde_json::from_str(&task_output(&a, &claim)).expect("JSON");
        let who: Vec<_> = out["votes"]
            .as_array()
            .expect("votes")
            .iter()
            .map(|v| {
                (
                    v["reviewer"].as_str().unwrap(),
                    v["decision"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            who,
            [
                ("dave@example.com", "approved"),
                ("alice@example.com", "approved")
            ]
        );
        assert_eq!(out["reviewer"], "alice@example.com");
    }

    #[test]
    fn nudges_go_to_who_has_not_voted_while_open_and_only_once() {
        let mut a = quorum_of_two();
        a.votes.insert("alice@example.com".into(), approve(10));
        let boss = [
            "boss@example.com".to_owned(),
            "carol@example.com".to_owned(),
        ];
        let now = a.created_at + 100;
        assert_eq!(
            nudged(&a, Nudge::Remind, &boss, now),
            ["bob@example.com", "dave@example.com"]
        );
        // The requester is never asked to approve his own request.
        assert_eq!(
            nudged(&a, Nudge::Escalate, &boss, now),
            ["boss@example.com"]
        );
        let mut reminded = a.clone();
        reminded.reminded_at = Some(now);
        assert!(nudged(&reminded, Nudge::Remind, &boss, now).is_empty());
        assert!(!nudged(&reminded, Nudge::Escalate, &boss, now).is_empty());
        for status in [Status::Approved, Status::Rejected, Status::Expired] {
            let mut closed = a.clone();
            closed.status = status;
            assert!(
                nudged(&closed, Nudge::Remind, &boss, now).is_empty(),
                "{status:?}"
            );
        }
        assert!(nudged(&a, Nudge::Remind, &boss, a.expires_at).is_empty());
        let mut deciding = a.clone();
        deciding.status = Status::Deciding;
        deciding.claimed_at = Some(now);
        assert!(nudged(&deciding, Nudge::Remind, &boss, now + 1).is_empty());
        assert!(!nudged(&deciding, Nudge::Remind, &boss, now + 61).is_empty());
    }

    #[test]
    fn the_expiry_check_closes_a_pending_record_and_counts_what_only_the_orchestrator_settles() {
        let mut a = record(Status::Pending, None);
        let (before, after) = (a.expires_at - 1, a.expires_at);
        assert_eq!(at_expiry(&a, before), AtExpiry::Nothing);
        assert_eq!(at_expiry(&a, after), AtExpiry::Close);
        for status in [Status::Approved, Status::Rejected, Status::Expired] {
            let closed = record(status, None);
            assert_eq!(at_expiry(&closed, after + 3_600), AtExpiry::Nothing);
        }
        // A claim made before the expiry: being sent at the expiry; its function ended long
        // before the last check, which counts a claim still held (once: it fires once).
        let last = after + EXPIRY_CHECK_SECS;
        let claimed = record(Status::Deciding, Some(before));
        assert_eq!(at_expiry(&claimed, after), AtExpiry::Nothing);
        assert_eq!(at_expiry(&claimed, last - 1), AtExpiry::Nothing);
        assert_eq!(at_expiry(&claimed, last), AtExpiry::Unsettled);
        assert!(claim_is_stale(claimed.claimed_at, last));
        // A claim given up without knowing: the workflow may have taken it.
        let claim = Claim {
            decision: Decision::Approved,
            comment: String::new(),
            reviewer: "alice@example.com".into(),
            at: before,
            verified: None,
        };
        a.lost_claims.push(a.lost(claim));
        assert_eq!(at_expiry(&a, after), AtExpiry::Nothing);
        assert_eq!(at_expiry(&a, last), AtExpiry::Unsettled);
    }

    #[test]
    fn a_quorum_above_the_reviewers_left_is_refused() {
        let a = sample(json!({"title": "T", "requester": "carol@example.com"}));
        assert_eq!(
            a.clone().with_quorum(3).expect_err("two reviewers"),
            crate::request::RequestError::QuorumUnreachable {
                quorum: 3,
                reviewers: 2
            }
        );
        assert!(a.clone().with_quorum(0).is_err());
        assert_eq!(a.with_quorum(2).expect("two").quorum, 2);
    }

    #[test]
    fn a_gone_task_resends_with_a_refreshed_token_reverts_while_the_execution_runs() {
        let claim = Claim {
            decision: Decision::Approved,
            comment: "ok".into(),
            reviewer: "alice@example.com".into(),
            at: EXPIRES - 100,
            verified: None,
        };
        let old = TaskToken::new("old-token").expect("token");
        let new = TaskToken::new("new-token").expect("token");
        let mut current = record(Status::Deciding, Some(claim.at));
        current.task_token = new.clone();
        for running in [Some(true), Some(false), None] {
            assert_eq!(
                after_gone(&old, &claim, Some(&current), running),
                AfterGone::Resend(new.clone()),
                "the record's newer token is tried whatever the execution said"
            );
        }
        // The same token: a retry may be on its way, or a decision closed the task and the
        // workflow runs on, however long ago the token was stored; unless it ended.
        current.task_token = old.clone();
        for stored in [claim.at - 10, claim.at - 3_600] {
            current.token_set_at = Some(stored);
            for running in [Some(true), None] {
                assert_eq!(
                    after_gone(&old, &claim, Some(&current), running),
                    AfterGone::Revert
                );
            }
            assert_eq!(
                after_gone(&old, &claim, Some(&current), Some(false)),
                AfterGone::Expire
            );
        }
        // Someone else's claim, or no claim at all: never resend ours with its token.
        let mut theirs = record(Status::Deciding, Some(claim.at + 1));
        theirs.task_token = new.clone();
        assert_eq!(
            after_gone(&old, &claim, Some(&theirs), Some(false)),
            AfterGone::Expire
        );
        let mut pending = record(Status::Pending, None);
        pending.task_token = new;
        assert_eq!(
            after_gone(&old, &claim, Some(&pending), Some(true)),
            AfterGone::Revert
        );
        assert_eq!(
            after_gone(&old, &claim, None, Some(true)),
            AfterGone::Expire
        );
    }

    /// An ended execution took the lost claim it ended with, weighed before the claim just
    /// sent; a rejection tells only its comment, so the earlier of two alike is named.
    #[test]
    fn the_claim_an_ended_execution_took_is_the_earliest_that_matches() {
        let claim = |reviewer: &str, decision, comment: &str, at| Claim {
            decision,
            comment: comment.into(),
            reviewer: reviewer.into(),
            at,
            verified: None,
        };
        let ana = claim("ana@x.io", Decision::Approved, "ok", 1_740_821_500);
        let ben = claim("ben@x.io", Decision::Rejected, "no", 1_740_821_510);
        let cy = claim("cy@x.io", Decision::Rejected, "no", 1_740_821_520);
        let approved = a_succeeded_output(&ana);
        assert_eq!(taken(&cy, [&ben, &ana], &approved), Some(&ana));
        assert_eq!(taken(&ana, [], &approved), Some(&ana));
        assert_eq!(taken(&cy, [&ben], &approved), None);
        let rejected = ExecutionState::Failed {
            error: "Rejected".into(),
            message: "no".into(),
        };
        assert_eq!(taken(&cy, [&ana, &ben], &rejected), Some(&ben));
        assert_eq!(taken(&cy, [&ana], &rejected), Some(&cy));
        assert_eq!(taken(&ana, [], &ExecutionState::Running), None);
    }

    fn a_succeeded_output(claim: &Claim) -> ExecutionState {
        let approval = record(Status::Deciding, Some(claim.at));
        let output = format!(r#"{{"approval":{}}}"#, task_output(&approval, claim));
        ExecutionState::Succeeded(output)
    }

    /// A durable callback that turns out gone after the claim: the execution's ending says
    /// whether this very decision got through (an answer lost on the way back) or not.
    #[test]
    fn a_gone_durable_callback_is_settled_from_how_the_execution_ended() {
        let claim = |decision, comment: &str| Claim {
            decision,
            comment: comment.to_owned(),
            reviewer: "ana@example.com".to_owned(),
            at: 10,
            verified: None,
        };
        let approve = claim(Decision::Approved, "ok");
        let output = |decision: &str, reviewer: &str| {
            ExecutionState::Succeeded(
                json!({"title": "T", "approval": {
                    "decision": decision, "reviewer": reviewer, "comment": "ok",
                    "decidedAt": rfc3339(10),
                }})
                .to_string(),
            )
        };
        // The same reviewer's earlier claim (taken over once stale) is not this one.
        let earlier = ExecutionState::Succeeded(
            json!({"approval": {
                "decision": "approved", "reviewer": "ana@example.com", "comment": "earlier",
                "decidedAt": rfc3339(5),
            }})
            .to_string(),
        );
        let cases = [
            (
                &approve,
                output("approved", "ana@example.com"),
                SendOutcome::Accepted,
            ),
            (&approve, earlier, SendOutcome::TaskGone),
            (
                &approve,
                output("approved", "ben@example.com"),
                SendOutcome::TaskGone,
            ),
            (&approve, ExecutionState::Running, SendOutcome::Transient),
            (
                &approve,
                ExecutionState::Failed {
                    error: "Expired".into(),
                    message: "x".into(),
                },
                SendOutcome::TaskGone,
            ),
        ];
        for (claim, state, expected) in cases {
            assert_eq!(after_closed(claim, &state), expected, "{state:?}");
        }
        let reject = claim(Decision::Rejected, "Over budget");
        let failed = |message: &str| ExecutionState::Failed {
            error: "Rejected".into(),
            message: message.into(),
        };
        assert_eq!(
            after_closed(&reject, &failed("Over budget")),
            SendOutcome::Accepted
        );
        // Another comment, which began with what the durable SDK prefixes (read without it).
        assert_eq!(
            after_closed(&reject, &failed("Rejected: Over budget")),
            SendOutcome::TaskGone
        );
        assert_eq!(
            after_closed(&reject, &failed("Rejected: other")),
            SendOutcome::TaskGone
        );
        assert_eq!(
            after_closed(&reject, &output("approved", "ana@example.com")),
            SendOutcome::TaskGone
        );
    }
}
