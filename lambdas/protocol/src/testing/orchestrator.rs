//! The orchestrator in memory: its executions ([`super::execution`]) resumed with the token
//! they wait on.

use hitl_core::{ExecutionState, SendOutcome, TaskToken, dates::rfc3339};
use serde_json::Value;

use super::{
    execution::Resume,
    world::{Call, Outcome, State, World},
};
use crate::ports::{Executions, Orchestrator};

impl State {
    /// `output` sent with `token`, recorded.
    fn resume(&mut self, token: &TaskToken, output: String) -> SendOutcome {
        let arn = self
            .executions
            .values()
            .find(|e| e.tokens.contains(token))
            .map(|e| e.arn.clone());
        let claim_held = arn.as_deref().is_some_and(|arn| self.holds(arn, &output));
        let now = self.now();
        let execution = arn.as_ref().and_then(|arn| self.executions.get_mut(arn));
        let execution_ended = execution.as_ref().is_none_or(|e| e.ended());
        let outcome = match execution {
            Some(execution) => execution.resume(token, &output, now),
            None => SendOutcome::TaskGone,
        };
        let by = self.current;
        self.resumes.push(Resume {
            execution: arn,
            output,
            outcome,
            execution_ended,
            claim_held,
            by,
        });
        outcome
    }

    /// Whether the record of the execution `arn` holds the claim `output` carries.
    fn holds(&self, arn: &str, output: &str) -> bool {
        let sent: Value = serde_json::from_str(output).unwrap_or(Value::Null);
        self.approvals
            .values()
            .filter(|a| a.execution_arn == arn)
            .any(|a| {
                a.claim().is_some_and(|claim| {
                    sent["decision"] == claim.decision.as_str()
                        && sent["reviewer"] == claim.reviewer.as_str()
                        && sent["decidedAt"] == rfc3339(claim.at).as_str()
                })
            })
    }
}

/// The orchestrator in memory.
#[derive(Clone)]
pub struct MemoryOrchestrator {
    pub world: World,
    /// A state machine's (a retried task gets a new token) rather than the durable workflow's.
    pub state_machine: bool,
}

impl Orchestrator for MemoryOrchestrator {
    async fn resume(&self, token: &TaskToken, output: String) -> SendOutcome {
        match self
            .world
            .call(Call::Resume, |s| s.resume(token, output))
            .await
        {
            Outcome::Done(outcome) => outcome,
            // The SDK retried a call that went through, and found the task closed.
            Outcome::Lost(_) => SendOutcome::TaskGone,
            Outcome::Failed(_) | Outcome::ConditionFailed => SendOutcome::Transient,
        }
    }

    fn tokens_are_refreshed(&self) -> bool {
        self.state_machine
    }
}

impl Executions for MemoryOrchestrator {
    async fn state(&self, execution_arn: &str) -> Option<ExecutionState> {
        let state = |s: &mut State| {
            let now = s.now();
            let execution = s.executions.get_mut(execution_arn)?;
            execution.tick(now);
            Some(execution.state())
        };
        match self.world.call(Call::State, state).await {
            Outcome::Done(Some(state)) => Some(state),
            // Step Functions: `ExecutionDoesNotExist`, an execution that ended long ago.
            Outcome::Done(None) => Some(ExecutionState::Failed {
                error: "ExecutionDoesNotExist".to_owned(),
                message: String::new(),
            }),
            Outcome::Failed(_) | Outcome::Lost(_) | Outcome::ConditionFailed => None,
        }
    }
}
