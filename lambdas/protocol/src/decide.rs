//! A reviewer's POST: weigh his vote under the quorum, claim the record, send the decision
//! (`send`), settle the record with what the orchestrator answered. A decision is recorded only
//! once the orchestrator accepted it.

use hitl_core::{
    Approval, Claim, LinkItem, SendOutcome,
    form::{self, Refusal},
    page,
    rules::{self, Ballot, PostVerdict, after_send},
};

use crate::{
    ports::{Clock, Orchestrator, Pause},
    reviewer::Reviewer,
    table::{DecisionTable, Written},
};

/// The page for a POST that may not claim, per the rules.
fn verdict_page(verdict: PostVerdict, approval: &Approval, now: u64) -> Option<(u16, String)> {
    match verdict {
        PostVerdict::Claim => None,
        PostVerdict::NotFound => Some(page::not_found()),
        PostVerdict::Expired => Some(page::expired(approval, now)),
        PostVerdict::AlreadyDecided => Some(page::decided(approval, now)),
        PostVerdict::BeingDecided => Some(page::being_decided(approval, now)),
    }
}

/// How many times a vote that lost a race is weighed again before the page says the approval
/// is being decided.
const WEIGHINGS: usize = 3;

impl<T: DecisionTable, O: Orchestrator, K: Clock + Pause> Reviewer<T, O, K> {
    /// The decision in `body` by `link`'s reviewer on `approval` (as read): the page to answer.
    pub(crate) async fn decide(
        &self,
        body: &[u8],
        link: &LinkItem,
        approval: Approval,
    ) -> (u16, String) {
        let form = match form::parse(body) {
            Ok(form) => form,
            Err(error) => return page::refused(&Refusal::Form(error)),
        };
        let now = self.clock.now();
        let claim = Claim {
            decision: form.decision,
            comment: form.comment.clone(),
            reviewer: link.reviewer.clone(),
            at: now,
        };
        let approval = match self.cast(&claim, approval, now).await {
            Ok(claimed) => claimed,
            Err(page) => return page,
        };
        let outcome = self.send(&approval, &claim).await;
        let transition = after_send(claim.decision, outcome);
        let settled = self.table.settle(&approval, &claim, transition).await;
        let unsettled = match settled {
            Ok(Written::Done) => None,
            Ok(Written::ConditionFailed) => Some("the record no longer holds this claim".into()),
            Err(error) => Some(error.to_string()),
        };
        if let Some(error) = unsettled {
            // The orchestrator has its answer; the record keeps the claim, which reads as
            // "being decided" until it goes stale.
            tracing::error!(approval = %approval.id, %error, "cannot settle the approval");
        }
        let mut settled = approval;
        settled.apply_claim(&claim);
        settled.apply(transition);
        tracing::info!(approval = %settled.id, status = settled.status.as_str(), "decision handled");
        match outcome {
            SendOutcome::Accepted => page::confirmation(&settled, now),
            SendOutcome::TaskGone => page::expired(&settled, now),
            SendOutcome::Transient => page::retry(&settled, &link.reviewer, &form, now),
        }
    }

    /// Weighs the reviewer's vote against the record: a page when it does not decide (refused
    /// by the rules, his earlier vote, or an approval counted short of the quorum), or the
    /// record claimed for `claim` (as read before the claim). A lost race is weighed again
    /// against the record as it is now: the approval counted just before may make this one the
    /// deciding one.
    async fn cast(
        &self,
        claim: &Claim,
        mut approval: Approval,
        now: u64,
    ) -> Result<Approval, (u16, String)> {
        let reviewer = &claim.reviewer;
        for _ in 0..WEIGHINGS {
            if let Some(page) = verdict_page(rules::post(Some(&approval), now), &approval, now) {
                return Err(page);
            }
            let written = match rules::ballot(&approval, reviewer, claim.decision) {
                Ballot::AlreadyVoted => return Err(page::voted(&approval, reviewer, now)),
                Ballot::Count => self.table.count(&approval, claim).await,
                Ballot::Decide => self.table.claim(&approval, claim).await,
            };
            match written {
                Ok(Written::Done) if approval.decides(claim.decision) => return Ok(approval),
                Ok(Written::Done) => {
                    approval.votes = approval.votes_with(claim);
                    tracing::info!(approval = %approval.id, votes = approval.votes.len(), "vote counted");
                    return Err(page::counted(&approval, reviewer, now));
                }
                Ok(Written::ConditionFailed) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot record the vote");
                    return Err(page::unavailable());
                }
            }
            // Someone else got there first: weigh the vote again on the record as it is now.
            approval = match self.table.approval(&approval.id).await {
                Ok(Some(current)) => current,
                Ok(None) => return Err(page::not_found()),
                Err(error) => {
                    tracing::error!(%error, "cannot read the approvals table");
                    return Err(page::unavailable());
                }
            };
        }
        Err(page::being_decided(&approval, now))
    }
}

#[cfg(test)]
mod tests {
    use hitl_core::{LinkId, Status};

    use crate::testing::{Call, Execution, Fault, World, requested, run};

    const NOW: u64 = 1_750_000_000;
    const ARN: &str = "arn:execution";

    /// A world where execution `ARN` waits on `token-0` for an approval whose messages went
    /// out; the first reviewer's link.
    fn waiting(state_machine: bool) -> (World, LinkId) {
        let world = World::at(NOW);
        world.with(|s| {
            let mut execution = Execution::new(ARN, !state_machine, 600);
            execution.begin_attempt(NOW);
            s.executions.insert(ARN.to_owned(), execution);
        });
        let token = world.with(|s| s.executions[ARN].tokens[0].clone());
        requested(&world, ARN, token, NOW);
        let body = world.with(|s| s.published[0].message.body.clone());
        let id = body
            .split("/approvals/")
            .nth(1)
            .and_then(|rest| rest.get(..26));
        (world, id.and_then(LinkId::parse).expect("a link"))
    }

    fn status(world: &World) -> Status {
        world
            .with(|s| s.approvals.values().next().map(|a| a.status))
            .expect("a record")
    }

    #[test]
    fn a_decision_whose_answer_was_lost_stands() {
        for state_machine in [true, false] {
            let (world, link) = waiting(state_machine);
            world.arm(Call::Resume, Fault::LostAnswer);
            let reviewer = world.reviewer(state_machine);
            let (code, _) =
                run(&world, 2, reviewer.post(&link, b"decision=approve")).expect("no crash");
            assert_eq!(code, 200);
            assert_eq!(status(&world), Status::Approved);
            assert!(world.with(|s| s.executions[ARN].accepted.is_some()));
        }
    }

    #[test]
    fn a_transient_failure_reverts_the_claim_and_records_nothing() {
        let (world, link) = waiting(true);
        world.arm(Call::Resume, Fault::Throttle);
        let reviewer = world.reviewer(true);
        let (code, html) =
            run(&world, 2, reviewer.post(&link, b"decision=reject")).expect("no crash");
        assert_eq!(code, 503);
        assert!(html.contains("nothing was recorded"), "{html}");
        assert_eq!(status(&world), Status::Pending);
        let (code, _) = run(&world, 3, reviewer.post(&link, b"decision=reject")).expect("no crash");
        assert_eq!(code, 200);
        assert_eq!(status(&world), Status::Rejected);
    }

    #[test]
    fn a_task_gone_for_good_expires_the_record() {
        let (world, link) = waiting(true);
        world.with(|s| {
            if let Some(e) = s.executions.get_mut(ARN) {
                e.end("Aborted", "stopped");
            }
        });
        let reviewer = world.reviewer(true);
        let (code, _) =
            run(&world, 2, reviewer.post(&link, b"decision=approve")).expect("no crash");
        assert_eq!(code, 410);
        assert_eq!(status(&world), Status::Expired);
    }
}
