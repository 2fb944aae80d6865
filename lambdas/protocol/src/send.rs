//! Sending a claimed decision to the orchestrator, and what a task found gone means.

use hitl_core::{
    Approval, Claim, ExecutionState, LostClaim, SendOutcome, TaskToken,
    rules::{self, AfterGone, after_gone, task_output},
};

/// What sending a claim came to: the orchestrator's answer, and the claim it is for. That is
/// the claim sent, unless the task was found closed by one of the record's lost claims, whose
/// answer was lost: then `Accepted`, for that claim (`taken`).
#[derive(Debug)]
pub(crate) struct Sent {
    pub outcome: SendOutcome,
    pub taken: Option<LostClaim>,
}

impl From<SendOutcome> for Sent {
    fn from(outcome: SendOutcome) -> Self {
        Self {
            outcome,
            taken: None,
        }
    }
}

use crate::{
    ports::{Clock, Orchestrator, Pause},
    reviewer::Reviewer,
    table::Table,
};

/// How many tokens one POST tries: the record's, and newer ones a retried attempt stored.
const SENDS: usize = 3;

/// The waits between two looks at an execution that still runs, in milliseconds: under six
/// seconds in all, inside the function's timeout. An execution ends within moments of its
/// decision, but moments may be seconds when the service is busy, and a workflow may have
/// states after the approval: a decision that went through but cannot be told yet is reverted
/// and kept among the record's lost claims, and the next claim's send finds it in the
/// execution's end.
const WATCH_MILLIS: [u64; 6] = [0, 250, 500, 1_000, 1_500, 2_500];

impl<T: Table, O: Orchestrator, K: Clock + Pause, S> Reviewer<T, O, K, S> {
    /// Sends the decision with the record's token. When the task is gone, a retried attempt
    /// of a Step Functions task may have refreshed the token since the record was read: send
    /// again with the newer one (a few times at most). Otherwise the execution says what
    /// happened ([`Self::gone`]).
    pub(crate) async fn send(&self, approval: &Approval, claim: &Claim) -> Sent {
        let mut token = approval.task_token.clone();
        for _ in 0..SENDS {
            let outcome = self
                .orchestrator
                .resume(&token, task_output(approval, claim))
                .await;
            if outcome != SendOutcome::TaskGone {
                return outcome.into();
            }
            let current = match self.orchestrator.tokens_are_refreshed() {
                false => None,
                true => match self.table.approval(&approval.id).await {
                    Ok(current) => current,
                    Err(error) => {
                        tracing::error!(%error, "cannot read the approvals table");
                        return SendOutcome::Transient.into();
                    }
                },
            };
            if let Some(AfterGone::Resend(newer)) = current
                .as_ref()
                .map(|c| after_gone(&token, claim, Some(c), None))
            {
                token = newer;
                continue;
            }
            return self.gone(approval, claim, &token, current.as_ref()).await;
        }
        SendOutcome::Transient.into()
    }

    /// A task or callback found gone, and no newer token to try. If the execution ended with
    /// this very decision, it went through and only its answer was lost (the SDK's retry then
    /// found the task closed): the decision stands. If it ended with one of the record's lost
    /// claims, that one went through ([`rules::taken`]). An execution still running is watched
    /// for a few seconds; then a Step Functions task may still be retried (the reviewer tries
    /// again), a durable callback's id never changes. Ended otherwise: expired.
    async fn gone(
        &self,
        approval: &Approval,
        claim: &Claim,
        token: &TaskToken,
        current: Option<&Approval>,
    ) -> Sent {
        let refreshed = self.orchestrator.tokens_are_refreshed();
        let state = self.watched(approval).await;
        match &state {
            Some(ExecutionState::Running) | None => {}
            Some(ended) => return ended_with(approval, claim, ended),
        }
        if !refreshed {
            return SendOutcome::Transient.into();
        }
        let running = state.map(|s| s == ExecutionState::Running);
        match after_gone(token, claim, current, running) {
            AfterGone::Resend(_) | AfterGone::Revert => SendOutcome::Transient.into(),
            AfterGone::Expire => SendOutcome::TaskGone.into(),
        }
    }

    /// How the execution stands, watched while it runs.
    async fn watched(&self, approval: &Approval) -> Option<ExecutionState> {
        let mut state = None;
        for wait in WATCH_MILLIS {
            self.clock.pause(wait).await;
            state = self.orchestrator.state(&approval.execution_arn).await;
            if state != Some(ExecutionState::Running) {
                break;
            }
        }
        state
    }
}

/// The claim an ended execution took: this one, one of the record's lost claims, or none
/// (gone).
fn ended_with(approval: &Approval, claim: &Claim, ended: &ExecutionState) -> Sent {
    let earlier = approval.earlier_claims();
    let Some(taken) = rules::taken(claim, earlier.iter().map(|l| &l.claim), ended) else {
        return SendOutcome::TaskGone.into();
    };
    let taken = earlier.iter().find(|l| &l.claim == taken).cloned();
    tracing::info!(
        approval = %approval.id,
        earlier = taken.is_some(),
        "a closed task, its decision found in the execution"
    );
    Sent {
        outcome: SendOutcome::Accepted,
        taken,
    }
}
