//! The approval record and its link items, as stored in the table.
//!
//! Serde gives their JSON-like form, one flat map per item with snake_case keys, times as Unix
//! seconds and enums as lowercase strings; the adapters map it to DynamoDB attributes. The
//! record's form holds the task token (the kit writes it nowhere else); link items, messages and
//! pages never do. No link id is stored anywhere: link items are keyed by its digest.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::id::{ApprovalId, ApprovalKey, LinkId, LinkKey, TaskToken};
use crate::request::{ApprovalRequest, RequestError, same_email};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a reviewer.
    Pending,
    /// A reviewer's POST has claimed the record and the decision is on its way to the
    /// orchestrator; the record
    /// carries `claimed_at` and the pending decision.
    Deciding,
    /// The orchestrator accepted an approval.
    Approved,
    /// The orchestrator accepted a rejection.
    Rejected,
    /// Past its expiry, or the orchestrator said the task is gone.
    Expired,
}

impl Status {
    /// The stored string: `pending`, `deciding`, `approved`, `rejected`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Deciding => "deciding",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// Whether nothing has closed it yet: `pending`, or `deciding`.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Deciding)
    }

    /// All statuses, for exhaustive tests and condition expressions.
    pub const ALL: [Status; 5] = [
        Self::Pending,
        Self::Deciding,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
    ];
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// `approved` or `rejected`, as stored and as sent to the orchestrator.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// The status a finalised decision leaves the record in.
    pub fn status(self) -> Status {
        match self {
            Self::Approved => Status::Approved,
            Self::Rejected => Status::Rejected,
        }
    }
}

impl Claim {
    /// The claim as its reviewer's vote.
    pub fn vote(&self) -> Vote {
        Vote {
            decision: self.decision,
            comment: self.comment.clone(),
            at: self.at,
            verified: self.verified.clone(),
        }
    }
}

/// A reviewer's POST that has claimed the record (`pending → deciding`), not yet accepted by
/// the orchestrator. Stored as such only in a [`LostClaim`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub decision: Decision,
    /// Trimmed; may be empty.
    pub comment: String,
    /// The reviewer named by the link item.
    pub reviewer: String,
    /// When the reviewer pressed the button; becomes `decided_at` once accepted.
    pub at: u64,
    /// Who signed in to decide, when the stack signs its reviewers in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

/// A claim given up without knowing whether the orchestrator took it, with the votes it was
/// sent with (`Approval::votes_with`): if it was taken, the record is settled with both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostClaim {
    pub claim: Claim,
    pub votes: BTreeMap<String, Vote>,
}

/// A signed-in reviewer as the identity provider vouched for him: its issuer, his subject
/// there (the id that never changes), and his email when the provider verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One reviewer's vote, as the record keeps it once it counts: an approval short of the quorum
/// when it is recorded, the deciding vote once the orchestrator accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub decision: Decision,
    /// Trimmed; may be empty.
    pub comment: String,
    /// When the reviewer pressed the button.
    pub at: u64,
    /// Who signed in to cast it, when the stack signs its reviewers in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
}

/// A reviewer's link as it is sent: never stored (its item is keyed by [`LinkId::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub reviewer: String,
}

/// The approval record, keyed by [`ApprovalId`].
///
/// Its stored form is serde's, with one addition: `details_order`, the request's detail names
/// in the order the request gave them, since the table keeps no order in a map (see the
/// `Deserialize` impl).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Approval {
    pub id: ApprovalId,
    /// Secret; `Debug` redacts it. The newest attempt's: a retried task refreshes it.
    pub task_token: TaskToken,
    /// The task attempt the token belongs to (`$$.State.RetryCount`): only a later attempt
    /// replaces it. `None` for a workflow that does not pass `retryCount`: then any other
    /// token replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// When the token was stored (created or refreshed).
    #[serde(default)]
    pub token_set_at: Option<u64>,
    pub status: Status,
    pub request: ApprovalRequest,
    /// Stored only: written from `request` ([`ApprovalRequest::detail_names`]) and read back
    /// into it, so it is always empty in memory.
    #[serde(
        default,
        getter = "Approval::stored_details_order",
        skip_serializing_if = "Vec::is_empty"
    )]
    details_order: Vec<String>,
    pub execution_arn: String,
    pub created_at: u64,
    /// `created_at` + the approval timeout. From this second on, nothing can be decided.
    pub expires_at: u64,
    /// `expires_at` + the retention: when DynamoDB may delete the record.
    pub ttl: u64,
    /// The reviewers who get a link: configured reviewers without duplicates and without the
    /// requester.
    pub reviewers: Vec<String>,
    /// Reviewer → when his message went out; a retried attempt sends only to the others.
    #[serde(default)]
    pub notified: BTreeMap<String, u64>,
    /// How many different reviewers' approvals approve the request; one rejection rejects it.
    #[serde(default = "one")]
    pub quorum: u32,
    /// Reviewer → his vote. While the approval is open these are approvals short of the quorum
    /// (a rejection decides at once); once decided, the deciding vote is among them.
    #[serde(default)]
    pub votes: BTreeMap<String, Vote>,
    /// When the reminder went out (at most once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<u64>,
    /// When the request was escalated (at most once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<u64>,
    /// When the Slack message went out (at most once per approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_sent_at: Option<u64>,
    /// When the Teams card went out (at most once per approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_sent_at: Option<u64>,
    /// Where the Slack app's message is (channel, ts), once posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_message: Option<SlackMessage>,
    /// Set while `deciding`: when the claim was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<u64>,
    /// The decision: pending while `deciding`, final once `approved`/`rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Who signed in to decide (with `decided_by`), when the stack signs its reviewers in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    /// Set once `approved`/`rejected`: the claim's time, the `decidedAt` the orchestrator got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<u64>,
    /// While open: the claims given up without knowing whether the orchestrator took them, the
    /// earliest first: each reverted after a send that could not tell (its answer lost while
    /// the execution ran on), or a stale claim taken over (its function died after sending).
    /// When a later claim finds the task closed, the execution's end tells which one it took
    /// ([`crate::rules::taken`]). Dropped once the record is decided or expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_claims: Vec<LostClaim>,
}

fn one() -> u32 {
    1
}

impl Serialize for Approval {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Approval::serialize(self, serializer)
    }
}

/// A stored record, with its request's details put back in the order stored beside it (or by
/// name, for a record stored before the order was kept).
impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut approval = Approval::deserialize(deserializer)?;
        let order = std::mem::take(&mut approval.details_order);
        approval.request.order_details(&order);
        Ok(approval)
    }
}

/// Where the request's message is in Slack: its channel and timestamp (`ts`, Slack's id of a
/// message), stored on the record so it can be updated and threaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
}

/// A link item, keyed by its link's [`LinkKey`]: which approval a reviewer's link opens, and
/// who he is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkItem {
    pub id: LinkKey,
    pub approval_id: ApprovalId,
    pub reviewer: String,
    /// Same as the approval's, so both go together.
    pub ttl: u64,
}

/// The reviewer of a channel link: whichever of the approval's reviewers signs in (never an
/// address).
pub const ANY_REVIEWER: &str = "*";

/// How large a record's lost claims may grow, as JSON: a few dozen claims with their votes.
pub const LOST_CLAIMS_BYTES: usize = 64 * 1024;

/// The length of `value` as JSON; one that cannot be written counts as too large.
fn json_len(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |json| json.len())
}

impl LinkItem {
    /// Whether this is a channel link ([`Approval::channel_link`]).
    pub fn is_channel(&self) -> bool {
        self.reviewer == ANY_REVIEWER
    }
}

/// Where a claimed (`deciding`) record goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `deciding → approved/rejected`; the confirmation page.
    Finalise(Decision),
    /// `deciding → expired`; the expired page (410).
    Expire,
    /// `deciding → pending`; the retry page.
    Revert,
}

impl Approval {
    /// A new `pending` record created at `now` (Unix seconds) for the task attempt `attempt`.
    /// Reviewers are trimmed, blanks and case-insensitive duplicates dropped, and the
    /// requester removed (no self-approval); when nobody is left, [`RequestError::NoReviewer`],
    /// since nobody could ever decide.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        task_token: TaskToken,
        attempt: Option<u32>,
        key: &ApprovalKey,
        request: ApprovalRequest,
        reviewers: &[impl AsRef<str>],
        now: u64,
        timeout_secs: u64,
        retention_secs: u64,
    ) -> Result<Self, RequestError> {
        let mut kept: Vec<String> = Vec::new();
        for reviewer in reviewers {
            let reviewer = reviewer.as_ref().trim();
            if reviewer.is_empty()
                || same_email(reviewer, &request.requester)
                || kept.iter().any(|k| same_email(k, reviewer))
            {
                continue;
            }
            kept.push(reviewer.to_owned());
        }
        if kept.is_empty() {
            return Err(RequestError::NoReviewer);
        }
        let expires_at = now.saturating_add(timeout_secs);
        Ok(Self {
            id: key.approval_id(),
            task_token,
            attempt,
            token_set_at: Some(now),
            status: Status::Pending,
            request,
            details_order: Vec::new(),
            execution_arn: key.execution_arn.clone(),
            created_at: now,
            expires_at,
            ttl: expires_at.saturating_add(retention_secs),
            reviewers: kept,
            notified: BTreeMap::new(),
            quorum: 1,
            votes: BTreeMap::new(),
            reminded_at: None,
            escalated_at: None,
            slack_sent_at: None,
            teams_sent_at: None,
            slack_message: None,
            claimed_at: None,
            decision: None,
            comment: None,
            decided_by: None,
            verified: None,
            decided_at: None,
            lost_claims: Vec::new(),
        })
    }

    /// The same record needing `quorum` approvals; [`RequestError::QuorumUnreachable`] when
    /// fewer reviewers than that are left (the requester is none of them).
    pub fn with_quorum(mut self, quorum: u32) -> Result<Self, RequestError> {
        let reviewers = self.reviewers.len();
        if quorum == 0 || quorum as usize > reviewers {
            return Err(RequestError::QuorumUnreachable { quorum, reviewers });
        }
        self.quorum = quorum;
        Ok(self)
    }

    /// The approvals recorded so far.
    pub fn approvals(&self) -> u32 {
        let approvals = self.votes.values();
        approvals
            .filter(|v| v.decision == Decision::Approved)
            .count() as u32
    }

    /// The reviewer someone proven to be `email` (by his Slack profile, or by signing in on a
    /// channel link) decides as: one of the reviewers, or once the request was escalated one of
    /// `escalate_to` (as configured); never the requester. The spelling is the record's (or the
    /// configuration's), so a vote counts once whichever way it comes.
    pub fn reviewer_for(&self, escalate_to: &[String], email: &str) -> Option<String> {
        let escalated = self.escalated_at.is_some().then_some(escalate_to);
        self.reviewers
            .iter()
            .chain(escalated.into_iter().flatten())
            .find(|r| same_email(r, email))
            .filter(|r| !same_email(r, &self.request.requester))
            .cloned()
    }

    /// Whether `reviewer` has voted: under any spelling of his address (a reviewer may also be
    /// an escalation address, written otherwise, and get a link as each).
    pub fn has_voted(&self, reviewer: &str) -> bool {
        self.votes.keys().any(|voter| same_email(voter, reviewer))
    }

    /// Whether `decision` by a reviewer who has not voted decides the request: a rejection,
    /// or the approval that reaches the quorum.
    pub fn decides(&self, decision: Decision) -> bool {
        decision == Decision::Rejected || self.approvals() + 1 >= self.quorum
    }

    /// The votes with `claim`'s added: what the record holds once the claim is final.
    pub fn votes_with(&self, claim: &Claim) -> BTreeMap<String, Vote> {
        let mut votes = self.votes.clone();
        votes.insert(claim.reviewer.clone(), claim.vote());
        votes
    }

    /// The reviewers whose message has not gone out yet, in order.
    pub fn unnotified(&self) -> impl Iterator<Item = &str> {
        self.reviewers
            .iter()
            .map(String::as_str)
            .filter(|r| !self.notified.contains_key(*r))
    }

    /// The detail names to store beside the request: their order.
    fn stored_details_order(&self) -> Vec<String> {
        self.request.detail_names()
    }

    /// A new link for `reviewer` (a fresh random id) and the item to store for it.
    pub fn new_link(&self, reviewer: &str) -> (Link, LinkItem) {
        self.link(LinkId::random(), reviewer)
    }

    /// A channel link to this approval (`id`): one that any of its reviewers opens and decides
    /// through once signed in, for a shared channel (the Slack webhook, Teams). Only a stack
    /// that signs its reviewers in makes them.
    pub fn channel_link(&self, id: LinkId) -> (Link, LinkItem) {
        self.link(id, ANY_REVIEWER)
    }

    /// The link `id` for `reviewer` and the item to store for it; `id` must be fresh and
    /// random ([`LinkId::random`]): whoever has it reviews as `reviewer`.
    pub fn link(&self, id: LinkId, reviewer: &str) -> (Link, LinkItem) {
        let item = LinkItem {
            id: id.key(),
            approval_id: self.id.clone(),
            reviewer: reviewer.to_owned(),
            ttl: self.ttl,
        };
        let link = Link {
            id,
            reviewer: reviewer.to_owned(),
        };
        (link, item)
    }

    /// The pending decision of a `deciding` record.
    pub fn claim(&self) -> Option<Claim> {
        if self.status != Status::Deciding {
            return None;
        }
        Some(Claim {
            decision: self.decision?,
            comment: self.comment.clone().unwrap_or_default(),
            reviewer: self.decided_by.clone()?,
            at: self.claimed_at?,
            verified: self.verified.clone(),
        })
    }

    /// The claims a claim made on this record now would find lost, the earliest first: its
    /// [`Self::lost_claims`], and the stale claim it takes over, if any.
    pub fn earlier_claims(&self) -> Vec<LostClaim> {
        let held = self.claim().map(|claim| self.lost(claim));
        self.lost_claims.iter().cloned().chain(held).collect()
    }

    /// Whether `lost` is kept among the lost claims: while they stay within
    /// [`LOST_CLAIMS_BYTES`], so the record stays far from DynamoDB's 400 KB an item. Past it, a
    /// claim is given up as it was before lost claims were kept: a later claim cannot find it.
    pub fn keeps(&self, lost: &LostClaim) -> bool {
        json_len(&self.lost_claims).saturating_add(json_len(lost)) <= LOST_CLAIMS_BYTES
    }

    /// `claim`, given up, with the votes it was sent with.
    pub fn lost(&self, claim: Claim) -> LostClaim {
        LostClaim {
            votes: self.votes_with(&claim),
            claim,
        }
    }

    /// `deciding → approved/rejected` in memory with `taken`, a lost claim the orchestrator
    /// turned out to have taken: its decision, and the votes it was sent with.
    pub fn apply_taken(&mut self, taken: &LostClaim) {
        self.apply_claim(&taken.claim);
        self.apply(Transition::Finalise(taken.claim.decision));
        self.votes = taken.votes.clone();
    }

    /// `pending → deciding` in memory (the adapter does it as a conditional update); a stale
    /// claim taken over is kept among the lost claims (if [`Self::keeps`] it).
    pub fn apply_claim(&mut self, claim: &Claim) {
        if let Some(held) = self.claim().map(|held| self.lost(held))
            && self.keeps(&held)
        {
            self.lost_claims.push(held);
        }
        self.status = Status::Deciding;
        self.claimed_at = Some(claim.at);
        self.decision = Some(claim.decision);
        self.comment = Some(claim.comment.clone());
        self.decided_by = Some(claim.reviewer.clone());
        self.verified = claim.verified.clone();
        self.decided_at = None;
    }

    /// The outcome of sending the decision, in memory: finalise keeps the claim and stamps
    /// `decided_at` with the claim's time; expire drops the claim, revert keeps it among the
    /// lost claims (the orchestrator may have taken it). Deciding or expiring drops the lost
    /// claims.
    pub fn apply(&mut self, transition: Transition) {
        let claim = self.claim();
        match transition {
            Transition::Finalise(decision) => {
                if let Some(claim) = &claim {
                    self.votes = self.votes_with(claim);
                }
                self.status = decision.status();
                self.decision = Some(decision);
                self.decided_at = self.claimed_at;
                self.claimed_at = None;
                self.lost_claims.clear();
            }
            Transition::Expire | Transition::Revert => {
                if transition == Transition::Expire {
                    self.status = Status::Expired;
                    self.lost_claims.clear();
                } else {
                    self.status = Status::Pending;
                    let lost = claim.map(|claim| self.lost(claim));
                    if let Some(lost) = lost.filter(|lost| self.keeps(lost)) {
                        self.lost_claims.push(lost);
                    }
                }
                self.claimed_at = None;
                self.decision = None;
                self.comment = None;
                self.decided_by = None;
                self.verified = None;
                self.decided_at = None;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAATOKEN-zz9-distinctive-secret";

    pub(crate) fn key(execution: &str) -> ApprovalKey {
        ApprovalKey {
            execution_arn: execution.into(),
            state_name: "RequestApproval".into(),
            entered_time: "2025-03-01T09:30:00.000Z".into(),
            item: None,
        }
    }

    pub(crate) fn sample(request: serde_json::Value) -> Approval {
        Approval::new(
            TaskToken::new(TOKEN).expect("token"),
            Some(0),
            &key("arn:aws:states:eu-west-1:123456789012:execution:approval:run-1"),
            ApprovalRequest::from_value(&request).expect("valid request"),
            &["alice@example.com", "bob@example.com"],
            1_740_821_400,
            86_400,
            30 * 86_400,
        )
        .expect("reviewers")
    }

    fn basic() -> Approval {
        sample(json!({"title": "Buy a laptop", "requester": "carol@example.com"}))
    }

    #[test]
    fn new_sets_times_status_and_ids() {
        let a = basic();
        assert_eq!(
            a.id,
            key("arn:aws:states:eu-west-1:123456789012:execution:approval:run-1").approval_id()
        );
        assert_eq!(
            a.execution_arn,
            key("arn:aws:states:eu-west-1:123456789012:execution:approval:run-1").execution_arn
        );
        assert_eq!(a.status, Status::Pending);
        assert_eq!(a.created_at, 1_740_821_400);
        assert_eq!(a.expires_at, 1_740_821_400 + 86_400);
        assert_eq!(a.ttl, 1_740_821_400 + 86_400 + 30 * 86_400);
        assert_eq!(a.reviewers, ["alice@example.com", "bob@example.com"]);
        assert_eq!((a.attempt, a.token_set_at), (Some(0), Some(1_740_821_400)));
        assert_eq!(a.claim(), None);
    }

    #[test]
    fn times_saturate_instead_of_overflowing() {
        let a = Approval::new(
            TaskToken::new("t").expect("token"),
            Some(0),
            &key("arn"),
            basic().request,
            &["a@b.co"],
            u64::MAX - 5,
            10,
            10,
        )
        .expect("reviewers");
        assert_eq!((a.expires_at, a.ttl), (u64::MAX, u64::MAX));
    }

    #[test]
    fn the_requester_gets_no_link_and_duplicates_one() {
        let a = Approval::new(
            TaskToken::new("t").expect("token"),
            Some(0),
            &key("arn"),
            basic().request,
            &[
                " Carol@Example.com",
                "alice@example.com",
                "ALICE@example.com ",
                "",
                "bob@example.com",
            ],
            0,
            10,
            10,
        )
        .expect("reviewers");
        let who: Vec<_> = a.unnotified().collect();
        assert_eq!(who, ["alice@example.com", "bob@example.com"]);
        // Each new link is fresh; its item is keyed by the link's digest, not the link.
        let (first, item) = a.new_link("alice@example.com");
        let (again, _) = a.new_link("alice@example.com");
        assert_ne!(first.id, again.id);
        assert_eq!(item.id, first.id.key());
        assert_ne!(item.id.as_str(), first.id.as_str());
        assert_eq!((item.approval_id, item.ttl), (a.id.clone(), a.ttl));
        let mut notified = a.clone();
        notified.notified.insert("alice@example.com".into(), 5);
        assert_eq!(
            notified.unnotified().collect::<Vec<_>>(),
            ["bob@example.com"]
        );
    }

    #[test]
    fn no_reviewer_but_the_requester_is_refused() {
        let err = Approval::new(
            TaskToken::new("t").expect("token"),
            Some(0),
            &key("arn"),
            basic().request,
            &["CAROL@example.com"],
            0,
            10,
            10,
        )
        .expect_err("nobody can decide");
        assert_eq!(err, RequestError::NoReviewer);
        let none: [&str; 0] = [];
        assert!(
            Approval::new(
                TaskToken::new("t").expect("token"),
                Some(0),
                &key("arn"),
                basic().request,
                &none,
                0,
                1,
                1
            )
            .is_err()
        );
    }

    #[test]
    fn json_form_is_flat_and_round_trips() {
        let mut a = basic();
        let value = serde_json::to_value(&a).expect("serializes");
        assert_eq!(value["id"], json!(a.id.as_str()));
        assert_eq!(value["task_token"], json!(TOKEN));
        assert_eq!(value["status"], json!("pending"));
        assert_eq!(value["request"]["title"], json!("Buy a laptop"));
        assert_eq!(value["expires_at"], json!(a.expires_at));
        assert!(value.get("decision").is_none() && value.get("claimed_at").is_none());
        assert_eq!(
            serde_json::from_value::<Approval>(value).expect("parses"),
            a
        );

        a.apply_claim(&Claim {
            decision: Decision::Rejected,
            comment: "no".into(),
            reviewer: "bob@example.com".into(),
            at: a.created_at + 5,
            verified: None,
        });
        a.apply(Transition::Finalise(Decision::Rejected));
        let value = serde_json::to_value(&a).expect("serializes");
        assert_eq!(value["status"], json!("rejected"));
        assert_eq!(value["decision"], json!("rejected"));
        assert_eq!(value["decided_by"], json!("bob@example.com"));
        assert_eq!(value["decided_at"], json!(a.created_at + 5));
        assert_eq!(
            serde_json::from_value::<Approval>(value).expect("parses"),
            a
        );
    }

    /// The table gives a map back in no particular order: the details come back in the
    /// request's order all the same, and an old record's (no order stored) by name.
    #[test]
    fn the_details_order_survives_a_store_that_keeps_no_order() {
        let text = r#"{"title": "T", "requester": "c@x.io", "zeta": 1, "alpha": 2, "mid": 3}"#;
        let a = sample(serde_json::from_str(text).expect("JSON"));
        let mut stored = serde_json::to_value(&a).expect("serializes");
        assert_eq!(stored["details_order"], json!(["zeta", "alpha", "mid"]));
        // Reversed, as a store that keeps no order might give it back.
        let reversed = |v: &mut serde_json::Value| {
            if let serde_json::Value::Object(fields) = v {
                let mut entries: Vec<_> = std::mem::take(fields).into_iter().collect();
                entries.reverse();
                fields.extend(entries);
            }
        };
        reversed(&mut stored["request"]);
        let back: Approval = serde_json::from_value(stored.clone()).expect("parses");
        assert_eq!(back, a);
        assert_eq!(back.request.detail_names(), ["zeta", "alpha", "mid"]);
        let mut old = stored;
        old.as_object_mut().map(|o| o.remove("details_order"));
        let old: Approval = serde_json::from_value(old).expect("parses");
        assert_eq!(old.request.detail_names(), ["alpha", "mid", "zeta"]);
        // Without details, nothing is stored beside the request.
        let plain = serde_json::to_value(basic()).expect("serializes");
        assert!(plain.get("details_order").is_none(), "{plain}");
    }

    #[test]
    fn link_item_json_has_no_token() {
        let (sent, link) = basic().new_link("alice@example.com");
        let value = serde_json::to_value(&link).expect("serializes");
        assert_eq!(
            value,
            json!({"id": link.id.as_str(), "approval_id": link.approval_id.as_str(), "reviewer": "alice@example.com", "ttl": link.ttl})
        );
        assert!(
            !value.to_string().contains(sent.id.as_str()),
            "the link id is stored"
        );
    }

    #[test]
    fn status_and_decision_strings() {
        for status in Status::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                json!(status.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(Decision::Approved).expect("serializes"),
            json!("approved")
        );
        assert_eq!(
            serde_json::from_value::<Decision>(json!("rejected")).expect("parses"),
            Decision::Rejected
        );
        assert!(serde_json::from_value::<Decision>(json!("Approved")).is_err());
        assert_eq!(Decision::Approved.status(), Status::Approved);
        assert_eq!(Decision::Rejected.status(), Status::Rejected);
    }

    #[test]
    fn claim_then_each_transition() {
        let claim = Claim {
            decision: Decision::Approved,
            comment: "ok".into(),
            reviewer: "alice@example.com".into(),
            at: 1_740_821_500,
            // Who signed in stays with the claim: a claim found mid-decision (after a crash)
            // sends the decision with it.
            verified: Some(Verified {
                issuer: "https://idp.example/".into(),
                subject: "u-1".into(),
                email: None,
            }),
        };
        let mut a = basic();
        a.apply_claim(&claim);
        assert_eq!(a.status, Status::Deciding);
        assert_eq!(a.claim(), Some(claim.clone()));
        let stored = serde_json::to_value(&a).expect("serializes");
        assert_eq!(stored["verified"]["subject"], "u-1");
        assert!(stored["verified"].get("email").is_none());

        let mut done = a.clone();
        done.apply(Transition::Finalise(Decision::Approved));
        assert_eq!(done.status, Status::Approved);
        assert_eq!(done.decided_at, Some(claim.at));
        assert_eq!(done.decided_by.as_deref(), Some("alice@example.com"));
        assert_eq!(done.comment.as_deref(), Some("ok"));
        assert_eq!(done.claim(), None);

        for (transition, status) in [
            (Transition::Expire, Status::Expired),
            (Transition::Revert, Status::Pending),
        ] {
            let mut b = a.clone();
            b.apply(transition);
            assert_eq!(b.status, status);
            assert_eq!(
                (b.claimed_at, b.decision, b.decided_by.clone(), b.decided_at),
                (None, None, None, None)
            );
            assert_eq!(b.comment, None);
            assert_eq!(b.verified, None);
            // A claim given up may have been taken: kept, with the votes it was sent with.
            let kept = match transition {
                Transition::Revert => vec![a.lost(claim.clone())],
                _ => Vec::new(),
            };
            assert_eq!(b.lost_claims, kept);
        }
    }

    /// A reverted claim is kept among the lost claims, and a stale claim taken over too, the
    /// earliest first, stored and read back whole; the one taken settles the record with its
    /// own decision and votes, and the lost claims go.
    #[test]
    fn lost_claims_are_kept_until_one_is_taken() {
        let claim = |reviewer: &str, at: u64| Claim {
            decision: Decision::Rejected,
            comment: format!("no, says {reviewer}"),
            reviewer: reviewer.into(),
            at,
            verified: None,
        };
        let (first, second, third) = (
            claim("a@x.io", 10),
            claim("b@x.io", 20),
            claim("c@x.io", 90),
        );
        let mut a = basic();
        a.apply_claim(&first);
        a.apply(Transition::Revert);
        a.apply_claim(&second);
        assert_eq!(
            a.earlier_claims().len(),
            2,
            "the lost one, and the one held"
        );
        a.apply_claim(&third);
        let lost: Vec<_> = a.lost_claims.iter().map(|l| l.claim.clone()).collect();
        assert_eq!(lost, [first.clone(), second.clone()]);
        assert_eq!(
            a.lost_claims[0].votes.keys().collect::<Vec<_>>(),
            ["a@x.io"]
        );

        let stored = serde_json::to_string(&a).expect("serializes");
        let read: Approval = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(read, a);

        let taken = a.lost_claims[1].clone();
        a.apply_taken(&taken);
        assert_eq!(a.status, Status::Rejected);
        assert_eq!(
            (a.decided_by.as_deref(), a.decided_at, a.comment.as_deref()),
            (Some("b@x.io"), Some(20), Some("no, says b@x.io"))
        );
        assert_eq!(a.votes, taken.votes);
        assert!(a.lost_claims.is_empty());
    }

    /// The lost claims stay within their bytes, far from DynamoDB's 400 KB an item: past
    /// them a claim given up is not kept.
    #[test]
    fn lost_claims_stay_within_their_bytes() {
        let mut a = basic();
        for at in 1..=4 {
            let claim = Claim {
                decision: Decision::Rejected,
                comment: "x".repeat(LOST_CLAIMS_BYTES / 3),
                reviewer: "a@x.io".into(),
                at,
                verified: None,
            };
            a.apply_claim(&claim);
            a.apply(Transition::Revert);
        }
        assert_eq!(a.lost_claims.len(), 1, "votes carry the comment too");
        assert!(json_len(&a.lost_claims) <= LOST_CLAIMS_BYTES);
    }
}
