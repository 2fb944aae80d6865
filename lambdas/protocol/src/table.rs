//! The approvals table, as the protocol uses it: reads, and conditional writes whose condition
//! the table checks, so the table (not a function instance) decides every race.
//!
//! The one rule for a condition the table refuses: the write answers
//! [`Written::ConditionFailed`], never an error; an adapter maps its store's own signal
//! (DynamoDB's `ConditionalCheckFailedException`) to it in one place.

use std::fmt;

use hitl_core::{
    Approval, ApprovalId, Claim, LinkItem, LinkKey, LostClaim, Nudge, Transition,
    slack::SlackMessage,
};

/// How a conditional write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Written {
    /// The condition held and the write was made.
    Done,
    /// The condition did not hold: nothing was written.
    ConditionFailed,
}

/// Why the table did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// The table refuses the item as it is (a number out of its range, nesting too deep): the
    /// request itself is at fault and a retry cannot help.
    Refused(String),
    /// Anything else (throttling, the network, a timeout, permissions): it may work if tried
    /// again. The write may have been made (an answer lost on the way back).
    Failed(String),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(message) | Self::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for TableError {}

/// What every side reads: consistent reads of one item.
pub trait Table {
    /// The approval record `id`; `None` when there is none, or the item is not a record.
    async fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, TableError>;

    /// The link item under `key`; `None` when there is none, or the item is not a link.
    async fn link(&self, key: &LinkKey) -> Result<Option<LinkItem>, TableError>;
}

/// The request side's writes (the reminder's too): storing an approval, its links, and what
/// was sent.
pub trait RequestTable: Table {
    /// Stores `approval` unless an item with its id exists.
    async fn put_approval(&self, approval: &Approval) -> Result<Written, TableError>;

    /// Sets the record's task token, attempt and `token_set_at` (= `now`) to `approval`'s, while
    /// the record is open (`pending` or `deciding`) and holds an earlier attempt's token: a
    /// stored attempt below `approval.attempt` or none; any attempt when `approval.attempt` is
    /// `None`, which then removes the stored one.
    async fn refresh_token(&self, approval: &Approval, now: u64) -> Result<Written, TableError>;

    /// Stores a new link item unless its key is taken.
    async fn put_link(&self, link: &LinkItem) -> Result<Written, TableError>;

    /// Records on the approval that `reviewer`'s message went out at `now`, if the record exists.
    async fn mark_notified(
        &self,
        id: &ApprovalId,
        reviewer: &str,
        now: u64,
    ) -> Result<Written, TableError>;

    /// Records on the approval that its Slack message went out at `now` (and where it is, when
    /// the Slack app posted it), if the record exists.
    async fn mark_slack_sent(
        &self,
        id: &ApprovalId,
        now: u64,
        message: Option<&SlackMessage>,
    ) -> Result<Written, TableError>;

    /// Marks the Teams card of approval `id` posted at `now`; `ConditionFailed` when the
    /// record is gone.
    async fn mark_teams_sent(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError>;

    /// Closes the approval `id` as `expired` at `now`, only while it is `pending`, past its
    /// expiry, and holds no lost claim (`hitl_core::rules::at_expiry`).
    async fn close_expired(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError>;

    /// Marks `nudge` sent at `now`, only if it was not, the approval is `pending` or `deciding`
    /// and it expires after `now`.
    async fn mark_nudged(
        &self,
        id: &ApprovalId,
        nudge: Nudge,
        now: u64,
    ) -> Result<Written, TableError>;
}

/// The decision side's writes, each the conditional form of a rule of `hitl_core::rules`.
pub trait DecisionTable: Table {
    /// Records `claim` as a vote short of the quorum (`votes` = [`Approval::votes_with`]), only
    /// while the record is `pending`, expires after `claim.at`, and still holds exactly the
    /// votes `approval` holds (as many of them: while open they are approvals only) and its
    /// lost claims (the page says when one may yet have decided).
    async fn count(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError>;

    /// `pending → deciding` with `claim`, only while the record expires after `claim.at` and
    /// still holds exactly the votes and the lost claims `approval` holds. A stale claim `approval` holds (see
    /// `hitl_core::rules::stale_cutoff`) is taken over only while the record still holds it,
    /// and is kept among the lost claims ([`Approval::apply_claim`]).
    async fn claim(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError>;

    /// Applies `transition` to a record that still holds `claim` (`deciding`, claimed at
    /// `claim.at`): finalising keeps the claim as the decision (`decided_at`, and the votes of
    /// `approval` with the claim's); expiring drops it; reverting keeps it among the lost
    /// claims ([`Approval::apply`]).
    async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        transition: Transition,
    ) -> Result<Written, TableError>;

    /// Finalises a record that still holds `claim` with `taken` instead, a lost claim the
    /// orchestrator turned out to have taken (`hitl_core::rules::taken`): its decision,
    /// reviewer, comment and time, and the votes it was sent with
    /// ([`Approval::apply_taken`]).
    async fn settle_taken(
        &self,
        approval: &Approval,
        claim: &Claim,
        taken: &LostClaim,
    ) -> Result<Written, TableError>;

    /// Closes a `pending` record that still holds exactly the lost claims `approval` holds:
    /// finalised with `taken`, the one its execution turned out to have taken (as
    /// [`Self::settle_taken`]), or expired without one (the lost claims dropped). The expiry
    /// check's, for a record its execution outlived (`hitl_core::settlement`).
    async fn settle_lost(
        &self,
        approval: &Approval,
        taken: Option<&LostClaim>,
    ) -> Result<Written, TableError>;
}
