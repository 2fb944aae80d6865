//! The approvals table in memory. Each write checks the condition the DynamoDB adapter's
//! expression states, in the same terms, then writes what its update expression writes.

use hitl_core::{
    Approval, ApprovalId, Claim, LinkItem, LinkKey, LostClaim, Nudge, Status, Transition,
    rules::stale_cutoff, slack::SlackMessage,
};

use super::world::{Call, Outcome, State, World};
use crate::table::{DecisionTable, RequestTable, Table, TableError, Written};

/// The approvals table in memory.
#[derive(Clone)]
pub struct MemoryTable(pub World);

impl MemoryTable {
    /// A conditional write: `condition` on the state, then `write` if it holds.
    async fn write(
        &self,
        call: Call,
        condition: impl FnOnce(&State) -> bool,
        write: impl FnOnce(&mut State),
    ) -> Result<Written, TableError> {
        let outcome = self
            .0
            .call(call, |s| {
                if condition(s) {
                    write(s);
                    Written::Done
                } else {
                    Written::ConditionFailed
                }
            })
            .await;
        match outcome {
            Outcome::Done(written) => Ok(written),
            Outcome::ConditionFailed => Ok(Written::ConditionFailed),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(TableError::Failed(error)),
        }
    }

    /// A read.
    async fn read<R>(&self, call: Call, read: impl FnOnce(&State) -> R) -> Result<R, TableError> {
        match self.0.call(call, |s| read(s)).await {
            Outcome::Done(found) => Ok(found),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(TableError::Failed(error)),
            Outcome::ConditionFailed => Err(TableError::Failed(format!("{call:?}: throttled"))),
        }
    }
}

/// The record `id`, which a condition on it requires.
fn record<'a>(state: &'a State, id: &ApprovalId) -> Option<&'a Approval> {
    state.approvals.get(id)
}

/// `#status IN (:pending, :deciding)`.
fn open(record: &Approval) -> bool {
    matches!(record.status, Status::Pending | Status::Deciding)
}

/// `attribute_not_exists(votes) OR size(votes) = :seen`.
fn votes_as_read(record: &Approval, approval: &Approval) -> bool {
    record.votes.len() == approval.votes.len()
}

impl Table for MemoryTable {
    async fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, TableError> {
        self.read(Call::GetApproval, |s| s.approvals.get(id).cloned())
            .await
    }

    async fn link(&self, key: &LinkKey) -> Result<Option<LinkItem>, TableError> {
        self.read(Call::GetLink, |s| s.links.get(key).cloned())
            .await
    }
}

impl RequestTable for MemoryTable {
    async fn put_approval(&self, approval: &Approval) -> Result<Written, TableError> {
        let id = &approval.id;
        self.write(
            Call::PutApproval,
            |s| !s.approvals.contains_key(id),
            |s| {
                s.approvals.insert(id.clone(), approval.clone());
            },
        )
        .await
    }

    async fn refresh_token(&self, approval: &Approval, now: u64) -> Result<Written, TableError> {
        let earlier = |r: &Approval| match approval.attempt {
            Some(attempt) => r.attempt.is_none_or(|stored| stored < attempt),
            None => true,
        };
        self.write(
            Call::RefreshToken,
            |s| record(s, &approval.id).is_some_and(|r| open(r) && earlier(r)),
            |s| {
                if let Some(r) = s.approvals.get_mut(&approval.id) {
                    r.task_token = approval.task_token.clone();
                    r.attempt = approval.attempt;
                    r.token_set_at = Some(now);
                }
            },
        )
        .await
    }

    async fn put_link(&self, link: &LinkItem) -> Result<Written, TableError> {
        self.write(
            Call::PutLink,
            |s| !s.links.contains_key(&link.id),
            |s| {
                s.links.insert(link.id.clone(), link.clone());
            },
        )
        .await
    }

    async fn mark_notified(
        &self,
        id: &ApprovalId,
        reviewer: &str,
        now: u64,
    ) -> Result<Written, TableError> {
        self.write(
            Call::MarkNotified,
            |s| record(s, id).is_some(),
            |s| {
                if let Some(r) = s.approvals.get_mut(id) {
                    r.notified.insert(reviewer.to_owned(), now);
                }
            },
        )
        .await
    }

    async fn mark_slack_sent(
        &self,
        id: &ApprovalId,
        now: u64,
        message: Option<&SlackMessage>,
    ) -> Result<Written, TableError> {
        self.write(
            Call::MarkSlackSent,
            |s| record(s, id).is_some(),
            |s| {
                if let Some(r) = s.approvals.get_mut(id) {
                    r.slack_sent_at = Some(now);
                    r.slack_message = message.cloned();
                }
            },
        )
        .await
    }

    async fn mark_teams_sent(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError> {
        self.write(
            Call::MarkTeamsSent,
            |s| record(s, id).is_some(),
            |s| {
                if let Some(r) = s.approvals.get_mut(id) {
                    r.teams_sent_at = Some(now);
                }
            },
        )
        .await
    }

    async fn close_expired(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError> {
        self.write(
            Call::CloseExpired,
            |s| {
                record(s, id).is_some_and(|r| {
                    r.status == Status::Pending && r.expires_at <= now && r.lost_claims.is_empty()
                })
            },
            |s| {
                if let Some(r) = s.approvals.get_mut(id) {
                    r.status = Status::Expired;
                }
            },
        )
        .await
    }

    async fn mark_nudged(
        &self,
        id: &ApprovalId,
        nudge: Nudge,
        now: u64,
    ) -> Result<Written, TableError> {
        let sent = |r: &Approval| match nudge {
            Nudge::Remind => r.reminded_at.is_some(),
            Nudge::Escalate => r.escalated_at.is_some(),
        };
        self.write(
            Call::MarkNudged,
            |s| record(s, id).is_some_and(|r| !sent(r) && open(r) && r.expires_at > now),
            |s| {
                if let Some(r) = s.approvals.get_mut(id) {
                    match nudge {
                        Nudge::Remind => r.reminded_at = Some(now),
                        Nudge::Escalate => r.escalated_at = Some(now),
                    }
                }
            },
        )
        .await
    }
}

impl DecisionTable for MemoryTable {
    async fn count(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError> {
        self.write(
            Call::Count,
            |s| {
                record(s, &approval.id).is_some_and(|r| {
                    r.status == Status::Pending
                        && r.expires_at > claim.at
                        && votes_as_read(r, approval)
                        && r.lost_claims.len() == approval.lost_claims.len()
                })
            },
            |s| {
                if let Some(r) = s.approvals.get_mut(&approval.id) {
                    r.votes = approval.votes_with(claim);
                }
            },
        )
        .await
    }

    async fn claim(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError> {
        // The adapter's condition, chosen by the record as read: a stale claim is taken over
        // only while the record still holds it, and kept among the lost claims.
        let stale = |at: Option<u64>| at.is_none_or(|at| at < stale_cutoff(claim.at));
        let claimable = |r: &Approval| match (approval.status, approval.claim()) {
            (Status::Pending, _) => r.status == Status::Pending,
            (Status::Deciding, Some(held)) => {
                r.status == Status::Deciding
                    && r.claimed_at == Some(held.at)
                    && stale(Some(held.at))
            }
            (Status::Deciding, None) => r.status == Status::Deciding && stale(r.claimed_at),
            _ => false,
        };
        self.write(
            Call::Claim,
            |s| {
                record(s, &approval.id).is_some_and(|r| {
                    claimable(r)
                        && r.expires_at > claim.at
                        && votes_as_read(r, approval)
                        && r.lost_claims.len() == approval.lost_claims.len()
                })
            },
            |s| {
                if let Some(r) = s.approvals.get_mut(&approval.id) {
                    r.apply_claim(claim);
                }
            },
        )
        .await
    }

    async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        transition: Transition,
    ) -> Result<Written, TableError> {
        self.settle_with(approval, claim, |r| settle(r, approval, claim, transition))
            .await
    }

    async fn settle_taken(
        &self,
        approval: &Approval,
        claim: &Claim,
        taken: &LostClaim,
    ) -> Result<Written, TableError> {
        self.settle_with(approval, claim, |r| r.apply_taken(taken))
            .await
    }

    async fn settle_lost(
        &self,
        approval: &Approval,
        taken: Option<&LostClaim>,
    ) -> Result<Written, TableError> {
        let lost = approval.lost_claims.len();
        self.write(
            Call::Settle,
            |s| {
                record(s, &approval.id)
                    .is_some_and(|r| r.status == Status::Pending && r.lost_claims.len() == lost)
            },
            |s| {
                let Some(r) = s.approvals.get_mut(&approval.id) else {
                    return;
                };
                match taken {
                    Some(taken) => r.apply_taken(taken),
                    None => {
                        r.status = Status::Expired;
                        r.lost_claims.clear();
                    }
                }
            },
        )
        .await
    }
}

impl MemoryTable {
    /// `change` made to the record of `approval` while it still holds `claim`.
    async fn settle_with(
        &self,
        approval: &Approval,
        claim: &Claim,
        change: impl FnOnce(&mut Approval),
    ) -> Result<Written, TableError> {
        self.write(
            Call::Settle,
            |s| {
                record(s, &approval.id)
                    .is_some_and(|r| r.status == Status::Deciding && r.claimed_at == Some(claim.at))
            },
            |s| {
                if let Some(r) = s.approvals.get_mut(&approval.id) {
                    change(r);
                }
            },
        )
        .await
    }
}

/// The settle's update expression: finalising keeps the claim as the decision, with the votes
/// of `approval` (as the claimer read it) and the claim's, and drops the lost claims;
/// expiring and reverting as [`Approval::apply`].
fn settle(record: &mut Approval, approval: &Approval, claim: &Claim, transition: Transition) {
    match transition {
        Transition::Finalise(decision) => {
            record.status = decision.status();
            record.decided_at = record.claimed_at;
            record.votes = approval.votes_with(claim);
            record.claimed_at = None;
            record.lost_claims.clear();
        }
        Transition::Expire | Transition::Revert => record.apply(transition),
    }
}
