//! The approvals table, as the review function reads and changes it. Every change is a
//! conditional update that mirrors `hitl_core::rules`, so the table, not this process, decides
//! who wins a race.

use aws_sdk_dynamodb::{Client, types::AttributeValue};
use hitl_aws::{describe, error_code};
use hitl_core::{Approval, Claim, LinkId, LinkItem, Status, Transition, rules::stale_cutoff};

pub struct Table {
    client: Client,
    name: String,
}

/// The claim's result.
pub enum Claimed {
    Won,
    /// Another request changed the record first (or the clock ran out).
    Lost,
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// The record's votes are still the ones read (`:seen` of them): while the approval is open
/// they are approvals only, so their number tells whether another was counted meanwhile. A
/// record stored before votes existed has none.
const VOTES_AS_READ: &str = "(attribute_not_exists(votes) OR size(votes) = :seen)";

/// The votes of `approval` with `claim`'s added, as the attribute to store.
fn votes(approval: &Approval, claim: &Claim) -> Result<AttributeValue, String> {
    serde_dynamo::to_attribute_value(approval.votes_with(claim)).map_err(|e| e.to_string())
}

/// A conditional update's result: lost when its condition failed.
fn claimed<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<Claimed, String>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(Claimed::Won),
        Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => Ok(Claimed::Lost),
        Err(e) => Err(describe(&e)),
    }
}

impl Table {
    pub fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// The link and the approval it opens; `None` when either is unknown.
    pub async fn find(&self, link: &LinkId) -> Result<Option<(LinkItem, Approval)>, String> {
        let Some(link) = self.get::<LinkItem>(link.key().as_str()).await? else {
            return Ok(None);
        };
        let approval = self.get::<Approval>(link.approval_id.as_str()).await?;
        Ok(approval.map(|approval| (link, approval)))
    }

    pub async fn approval(&self, id: &str) -> Result<Option<Approval>, String> {
        self.get(id).await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<Option<T>, String> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        match output.item {
            None => Ok(None),
            // An item of the other kind under this id (or a damaged one) is as good as unknown.
            Some(item) => Ok(serde_dynamo::from_item(item).ok()),
        }
    }

    /// Records `claim` as a vote short of the quorum: only while the approval is pending and
    /// its votes are the ones `approval` holds (so two racing approvals are never both counted
    /// short of the quorum: the later one loses and is weighed again).
    pub async fn count(&self, approval: &Approval, claim: &Claim) -> Result<Claimed, String> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .update_expression("SET votes = :votes")
            .condition_expression(format!(
                "#status = :pending AND expires_at > :now AND {VOTES_AS_READ}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":votes", votes(approval, claim)?)
            .expression_attribute_values(":seen", n(approval.votes.len() as u64))
            .send()
            .await;
        claimed(result)
    }

    /// `pending → deciding` (or re-claiming a stale claim), only while the approval is open
    /// and its votes are the ones `approval` holds.
    pub async fn claim(&self, approval: &Approval, claim: &Claim) -> Result<Claimed, String> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .update_expression(
                "SET #status = :deciding, claimed_at = :now, decision = :decision, \
                 #comment = :comment, decided_by = :reviewer REMOVE decided_at",
            )
            .condition_expression(format!(
                "(#status = :pending OR (#status = :deciding AND \
                 (attribute_not_exists(claimed_at) OR claimed_at < :stale))) \
                 AND expires_at > :now AND {VOTES_AS_READ}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#comment", "comment")
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":stale", n(stale_cutoff(claim.at)))
            .expression_attribute_values(":decision", s(claim.decision.as_str()))
            .expression_attribute_values(":comment", s(&claim.comment))
            .expression_attribute_values(":reviewer", s(&claim.reviewer))
            .expression_attribute_values(":seen", n(approval.votes.len() as u64))
            .send()
            .await;
        claimed(result)
    }

    /// Applies what `SendTaskSuccess` decided, provided the record still holds our claim.
    pub async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        transition: Transition,
    ) -> Result<(), String> {
        // Finalising keeps the claim as the decision; expiring and reverting drop it.
        const DROP_CLAIM: &str =
            "SET #status = :next REMOVE claimed_at, decision, #comment, decided_by, decided_at";
        let (update, next) = match transition {
            Transition::Finalise(decision) => (
                "SET #status = :next, decided_at = claimed_at, votes = :votes REMOVE claimed_at",
                decision.status(),
            ),
            Transition::Expire => (DROP_CLAIM, Status::Expired),
            Transition::Revert => (DROP_CLAIM, Status::Pending),
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .update_expression(update)
            .condition_expression("#status = :deciding AND claimed_at = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .expression_attribute_values(":claimed", n(claim.at));
        if matches!(transition, Transition::Finalise(_)) {
            request = request.expression_attribute_values(":votes", votes(approval, claim)?);
        } else {
            request = request.expression_attribute_names("#comment", "comment");
        }
        request.send().await.map_err(|e| describe(&e))?;
        Ok(())
    }
}
