//! The request side's writes and the decision side's, each one conditional update.

use aws_sdk_dynamodb::types::AttributeValue;
use hitl_core::slack::SlackMessage;
use hitl_core::{
    Approval, ApprovalId, Claim, LinkItem, LostClaim, Nudge, Status, Transition,
    rules::stale_cutoff,
};
use hitl_protocol::{DecisionTable, RequestTable, TableError, Written};

use super::{DynamoTable, VOTES_AS_READ, attribute, item, n, s, votes, written};

impl RequestTable for DynamoTable {
    async fn put_approval(&self, approval: &Approval) -> Result<Written, TableError> {
        self.put_new(item(approval)?).await
    }

    async fn refresh_token(&self, approval: &Approval, now: u64) -> Result<Written, TableError> {
        let open = "#status IN (:pending, :deciding)";
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(approval.task_token.expose()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()));
        update = match approval.attempt {
            Some(attempt) => update
                .update_expression(
                    "SET task_token = :token, attempt = :attempt, token_set_at = :now",
                )
                .condition_expression(format!(
                    "{open} AND (attribute_not_exists(attempt) OR attempt < :attempt)"
                ))
                .expression_attribute_values(":attempt", n(u64::from(attempt))),
            None => update
                .update_expression("SET task_token = :token, token_set_at = :now REMOVE attempt")
                .condition_expression(open),
        };
        written(update.send().await)
    }

    async fn put_link(&self, link: &LinkItem) -> Result<Written, TableError> {
        self.put_new(item(link)?).await
    }

    async fn mark_notified(
        &self,
        id: &ApprovalId,
        reviewer: &str,
        now: u64,
    ) -> Result<Written, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id.as_str()))
            .update_expression("SET notified.#r = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#r", reviewer)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(result)
    }

    async fn mark_slack_sent(
        &self,
        id: &ApprovalId,
        now: u64,
        message: Option<&SlackMessage>,
    ) -> Result<Written, TableError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id.as_str()))
            .update_expression("SET slack_sent_at = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":now", n(now));
        if let Some(message) = message {
            let at = [("channel", &message.channel), ("ts", &message.ts)]
                .map(|(name, value)| (name.to_owned(), s(value)));
            update = update
                .update_expression("SET slack_sent_at = :now, slack_message = :message")
                .expression_attribute_values(":message", AttributeValue::M(at.into()));
        }
        written(update.send().await)
    }

    async fn mark_teams_sent(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id.as_str()))
            .update_expression("SET teams_sent_at = :now")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":now", n(now));
        written(update.send().await)
    }

    async fn close_expired(&self, id: &ApprovalId, now: u64) -> Result<Written, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id.as_str()))
            .update_expression("SET #status = :expired")
            .condition_expression(
                "#status = :pending AND expires_at <= :now AND attribute_not_exists(lost_claims)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", s(Status::Expired.as_str()))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(result)
    }

    async fn mark_nudged(
        &self,
        id: &ApprovalId,
        nudge: Nudge,
        now: u64,
    ) -> Result<Written, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id.as_str()))
            .update_expression("SET #n = :now")
            .condition_expression(
                "attribute_not_exists(#n) AND #status IN (:pending, :deciding) AND expires_at > :now",
            )
            .expression_attribute_names("#n", nudge.attribute())
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .send()
            .await;
        written(result)
    }
}

impl DecisionTable for DynamoTable {
    async fn count(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .update_expression("SET votes = :votes")
            .condition_expression(format!(
                "#status = :pending AND expires_at > :now AND {VOTES_AS_READ} AND {LOST_AS_READ}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":votes", votes(approval, claim)?)
            .expression_attribute_values(":seen", n(approval.votes.len() as u64))
            .expression_attribute_values(":lostseen", n(approval.lost_claims.len() as u64))
            .send()
            .await;
        written(result)
    }

    async fn claim(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError> {
        let held = (approval.status == Status::Deciding).then(|| approval.claim());
        // Chosen by the record as read: a stale claim is taken over only while the record
        // still holds it, and kept among the lost claims (`Approval::apply_claim`).
        let open = match &held {
            Some(Some(_)) => "#status = :deciding AND claimed_at = :held AND claimed_at < :stale",
            Some(None) => {
                "#status = :deciding AND (attribute_not_exists(claimed_at) OR claimed_at < :stale)"
            }
            None => "#status = :pending",
        };
        let request = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .condition_expression(format!(
                "{open} AND expires_at > :now AND {VOTES_AS_READ} AND {LOST_AS_READ}"
            ))
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":seen", n(approval.votes.len() as u64))
            .expression_attribute_values(":lostseen", n(approval.lost_claims.len() as u64));
        let (request, keep) = match held {
            Some(Some(held)) => {
                let request = request
                    .expression_attribute_values(":held", n(held.at))
                    .expression_attribute_values(":stale", n(stale_cutoff(claim.at)));
                keeping(request, approval, approval.lost(held))?
            }
            Some(None) => (
                request.expression_attribute_values(":stale", n(stale_cutoff(claim.at))),
                "",
            ),
            None => (
                request.expression_attribute_values(":pending", s(Status::Pending.as_str())),
                "",
            ),
        };
        let request = request.update_expression(format!(
            "SET #status = :deciding, claimed_at = :now{}{keep} REMOVE decided_at{}",
            decision_set(claim),
            verified_removed(claim)
        ));
        written(with_decision(request, claim)?.send().await)
    }

    async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        transition: Transition,
    ) -> Result<Written, TableError> {
        // Finalising keeps the claim as the decision; expiring drops it, reverting keeps it
        // among the lost claims (`Approval::apply`).
        const DROP_CLAIM: &str = "REMOVE claimed_at, decision, #comment, decided_by, #verified, \
             decided_at";
        let request = self.settle_request(approval, claim);
        let request = match transition {
            Transition::Finalise(decision) => request
                .update_expression(
                    "SET #status = :next, decided_at = claimed_at, votes = :votes \
                     REMOVE claimed_at, lost_claims",
                )
                .expression_attribute_values(":next", s(decision.status().as_str()))
                .expression_attribute_values(":votes", votes(approval, claim)?),
            Transition::Expire => request
                .update_expression(format!("SET #status = :next {DROP_CLAIM}, lost_claims"))
                .expression_attribute_values(":next", s(Status::Expired.as_str())),
            Transition::Revert => {
                let (request, keep) = keeping(request, approval, approval.lost(claim.clone()))?;
                request
                    .update_expression(format!("SET #status = :next{keep} {DROP_CLAIM}"))
                    .expression_attribute_values(":next", s(Status::Pending.as_str()))
            }
        };
        let request = match transition {
            Transition::Finalise(_) => request,
            _ => request
                .expression_attribute_names("#comment", "comment")
                .expression_attribute_names("#verified", "verified"),
        };
        written(request.send().await)
    }

    async fn settle_taken(
        &self,
        approval: &Approval,
        claim: &Claim,
        taken: &LostClaim,
    ) -> Result<Written, TableError> {
        let votes = attribute(&taken.votes)?;
        let taken_claim = &taken.claim;
        let request = self
            .settle_request(approval, claim)
            .update_expression(format!(
                "SET #status = :next, decided_at = :at, votes = :votes{} \
                 REMOVE claimed_at, lost_claims{}",
                decision_set(taken_claim),
                verified_removed(taken_claim)
            ))
            .expression_attribute_values(":next", s(taken_claim.decision.status().as_str()))
            .expression_attribute_values(":at", n(taken_claim.at))
            .expression_attribute_values(":votes", votes);
        written(with_decision(request, taken_claim)?.send().await)
    }

    async fn settle_lost(
        &self,
        approval: &Approval,
        taken: Option<&LostClaim>,
    ) -> Result<Written, TableError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .condition_expression(format!("#status = :pending AND {LOST_AS_READ}"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":lostseen", n(approval.lost_claims.len() as u64));
        let Some(taken) = taken else {
            let request = request
                .update_expression("SET #status = :next REMOVE lost_claims")
                .expression_attribute_values(":next", s(Status::Expired.as_str()));
            return written(request.send().await);
        };
        let claim = &taken.claim;
        let request = request
            .update_expression(format!(
                "SET #status = :next, decided_at = :at, votes = :votes{} \
                 REMOVE lost_claims{}",
                decision_set(claim),
                verified_removed(claim)
            ))
            .expression_attribute_values(":next", s(claim.decision.status().as_str()))
            .expression_attribute_values(":at", n(claim.at))
            .expression_attribute_values(":votes", attribute(&taken.votes)?);
        written(with_decision(request, claim)?.send().await)
    }
}

/// The record's lost claims are still the ones read (`:lostseen` of them; they only grow
/// while it is open): a claim must know every claim lost before it
/// (`hitl_core::rules::taken`).
const LOST_AS_READ: &str = "(attribute_not_exists(lost_claims) OR size(lost_claims) = :lostseen)";

/// The claim's fields of a record, set from [`with_decision`]'s values.
fn decision_set(claim: &Claim) -> &'static str {
    match claim.verified {
        Some(_) => {
            ", decision = :decision, #comment = :comment, decided_by = :reviewer, \
             #verified = :verified"
        }
        None => ", decision = :decision, #comment = :comment, decided_by = :reviewer",
    }
}

/// The identity a claim without one removes from the record.
fn verified_removed(claim: &Claim) -> &'static str {
    match claim.verified {
        Some(_) => "",
        None => ", #verified",
    }
}

type Update = aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// `request` with the values of [`decision_set`] from `claim`, and the names it and
/// [`verified_removed`] use.
fn with_decision(request: Update, claim: &Claim) -> Result<Update, TableError> {
    let request = request
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#comment", "comment")
        .expression_attribute_names("#verified", "verified")
        .expression_attribute_values(":decision", s(claim.decision.as_str()))
        .expression_attribute_values(":comment", s(&claim.comment))
        .expression_attribute_values(":reviewer", s(&claim.reviewer));
    Ok(match &claim.verified {
        Some(verified) => request.expression_attribute_values(":verified", attribute(verified)?),
        None => request,
    })
}

/// `request` appending `lost` to the record's lost claims when it keeps it
/// (`Approval::keeps`), and the SET clause that does (none when it does not).
fn keeping(
    request: Update,
    approval: &Approval,
    lost: LostClaim,
) -> Result<(Update, &'static str), TableError> {
    if !approval.keeps(&lost) {
        return Ok((request, ""));
    }
    let request = request
        .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
        .expression_attribute_values(":lost", attribute([lost])?);
    Ok((
        request,
        ", lost_claims = list_append(if_not_exists(lost_claims, :none), :lost)",
    ))
}

impl DynamoTable {
    /// An update of the record of `approval` while it still holds `claim` (`deciding`, claimed at
    /// `claim.at`); the caller sets the update and its `:next` status.
    fn settle_request(&self, approval: &Approval, claim: &Claim) -> Update {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .condition_expression("#status = :deciding AND claimed_at = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .expression_attribute_values(":claimed", n(claim.at))
    }
}
