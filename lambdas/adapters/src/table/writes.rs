//! The request side's writes and the decision side's, each one conditional update.

use aws_sdk_dynamodb::types::AttributeValue;
use hitl_core::slack::SlackMessage;
use hitl_core::{
    Approval, ApprovalId, Claim, LinkItem, Nudge, Status, Transition, rules::stale_cutoff,
};
use hitl_protocol::{DecisionTable, RequestTable, TableError, Written};

use super::{DynamoTable, VOTES_AS_READ, item, n, s, votes, written};

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
                "#status = :pending AND expires_at > :now AND {VOTES_AS_READ}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":votes", votes(approval, claim)?)
            .expression_attribute_values(":seen", n(approval.votes.len() as u64))
            .send()
            .await;
        written(result)
    }

    async fn claim(&self, approval: &Approval, claim: &Claim) -> Result<Written, TableError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(approval.id.as_str()))
            .update_expression(match &claim.verified {
                Some(_) => {
                    "SET #status = :deciding, claimed_at = :now, decision = :decision, \
                     #comment = :comment, decided_by = :reviewer, #verified = :verified \
                     REMOVE decided_at"
                }
                None => {
                    "SET #status = :deciding, claimed_at = :now, decision = :decision, \
                     #comment = :comment, decided_by = :reviewer REMOVE decided_at, #verified"
                }
            })
            .condition_expression(format!(
                "(#status = :pending OR (#status = :deciding AND \
                 (attribute_not_exists(claimed_at) OR claimed_at < :stale))) \
                 AND expires_at > :now AND {VOTES_AS_READ}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#comment", "comment")
            .expression_attribute_names("#verified", "verified")
            .expression_attribute_values(":deciding", s(Status::Deciding.as_str()))
            .expression_attribute_values(":pending", s(Status::Pending.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":stale", n(stale_cutoff(claim.at)))
            .expression_attribute_values(":decision", s(claim.decision.as_str()))
            .expression_attribute_values(":comment", s(&claim.comment))
            .expression_attribute_values(":reviewer", s(&claim.reviewer))
            .expression_attribute_values(":seen", n(approval.votes.len() as u64));
        if let Some(verified) = &claim.verified {
            let value = serde_dynamo::to_attribute_value(verified)
                .map_err(|e| TableError::Failed(e.to_string()))?;
            request = request.expression_attribute_values(":verified", value);
        }
        written(request.send().await)
    }

    async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        transition: Transition,
    ) -> Result<Written, TableError> {
        // Finalising keeps the claim as the decision; expiring and reverting drop it.
        const DROP_CLAIM: &str = "SET #status = :next \
             REMOVE claimed_at, decision, #comment, decided_by, #verified, decided_at";
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
            request = request
                .expression_attribute_names("#comment", "comment")
                .expression_attribute_names("#verified", "verified");
        }
        written(request.send().await)
    }
}
