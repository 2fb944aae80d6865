//! Sending a claimed decision to the orchestrator, and what a task found gone means.

use hitl_core::{
    Approval, Claim, ExecutionState, SendOutcome, TaskToken,
    rules::{self, AfterGone, after_gone, task_output},
};

use crate::{
    ports::{Clock, Orchestrator, Pause},
    reviewer::Reviewer,
    table::Table,
};

/// How many tokens one POST tries: the record's, and newer ones a retried attempt stored.
const SENDS: usize = 3;

/// The waits between two looks at an execution that still runs, in milliseconds: under six
/// seconds in all, inside the function's timeout. An execution ends within moments of its
/// decision, but moments may be seconds when the service is busy (the local environment under
/// the suites side by side took over three): a decision that went through and is taken for
/// gone is asked again of the reviewer, whose next press finds the task closed by a claim not
/// his and expires the record.
const WATCH_MILLIS: [u64; 6] = [0, 250, 500, 1_000, 1_500, 2_500];

impl<T: Table, O: Orchestrator, K: Clock + Pause, S> Reviewer<T, O, K, S> {
    /// Sends the decision with the record's token. When the task is gone, a retried attempt
    /// of a Step Functions task may have refreshed the token since the record was read: send
    /// again with the newer one (a few times at most). Otherwise the execution says what
    /// happened ([`Self::gone`]).
    pub(crate) async fn send(&self, approval: &Approval, claim: &Claim) -> SendOutcome {
        let mut token = approval.task_token.clone();
        for _ in 0..SENDS {
            let outcome = self
                .orchestrator
                .resume(&token, task_output(approval, claim))
                .await;
            if outcome != SendOutcome::TaskGone {
                return outcome;
            }
            let current = match self.orchestrator.tokens_are_refreshed() {
                false => None,
                true => match self.table.approval(&approval.id).await {
                    Ok(current) => current,
                    Err(error) => {
                        tracing::error!(%error, "cannot read the approvals table");
                        return SendOutcome::Transient;
                    }
                },
            };
            let now = self.clock.now();
            if let Some(AfterGone::Resend(newer)) = current
                .as_ref()
                .map(|c| after_gone(&token, claim, Some(c), None, now))
            {
                token = newer;
                continue;
            }
            return self.gone(approval, claim, &token, current.as_ref()).await;
        }
        SendOutcome::Transient
    }

    /// A task or callback found gone, and no newer token to try. If the execution ended with
    /// this very decision, it went through and only its answer was lost (the SDK's retry then
    /// found the task closed): the decision stands. An execution still running is watched for a
    /// few seconds (it ends at once after its decision); then a Step Functions task may still be
    /// retried (the reviewer tries again), a durable callback's id never changes. Ended
    /// otherwise: expired.
    async fn gone(
        &self,
        approval: &Approval,
        claim: &Claim,
        token: &TaskToken,
        current: Option<&Approval>,
    ) -> SendOutcome {
        let refreshed = self.orchestrator.tokens_are_refreshed();
        let state = self.watched(approval).await;
        if let Some(state) = &state {
            let outcome = rules::after_closed(claim, state);
            if outcome == SendOutcome::Accepted {
                tracing::info!(approval = %approval.id, "a closed task, its decision found in the execution");
            }
            if outcome != SendOutcome::Transient || !refreshed {
                return outcome;
            }
        }
        if !refreshed {
            return SendOutcome::Transient;
        }
        let running = state.map(|s| s == ExecutionState::Running);
        match after_gone(token, claim, current, running, self.clock.now()) {
            AfterGone::Resend(_) | AfterGone::Revert => SendOutcome::Transient,
            AfterGone::Expire => SendOutcome::TaskGone,
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
