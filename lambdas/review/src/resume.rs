//! Sending the decision to the orchestrator that waits for it: Step Functions' task token
//! (`SendTaskSuccess`), or a durable execution's callback (`SendDurableExecutionCallbackSuccess`).
//! The record's `task_token` holds whichever the environment's orchestrator gave.

use aws_sdk_lambda::primitives::Blob;
use hitl_adapters::executions::Executions;
use hitl_aws::{describe, error_code};
use hitl_core::{ExecutionState, SendOutcome, TaskToken};

/// The orchestrator of this stack (`ORCHESTRATOR`), as a client of its executions
/// (`hitl_adapters::executions`), which it resumes.
pub struct Orchestrator(Executions);

impl Orchestrator {
    /// The orchestrator `ORCHESTRATOR` names, its client on `aws`.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, String> {
        Executions::from_env(aws).map(Self)
    }
}

/// The protocol's port, on this stack's orchestrator.
impl hitl_protocol::Orchestrator for Orchestrator {
    /// Sends `output` (the decision) with `token`.
    async fn resume(&self, token: &TaskToken, output: String) -> SendOutcome {
        let failed = |code: Option<&str>, error: String| {
            tracing::warn!(%error, "sending the decision failed");
            code.map_or(SendOutcome::Transient, SendOutcome::from_error_code)
        };
        match &self.0 {
            Executions::StepFunctions(sfn) => {
                match sfn
                    .send_task_success()
                    .task_token(token.expose())
                    .output(output)
                    .send()
                    .await
                {
                    Ok(_) => SendOutcome::Accepted,
                    Err(error) => failed(error_code(&error), describe(&error)),
                }
            }
            Executions::Durable(lambda) => {
                match lambda
                    .send_durable_execution_callback_success()
                    .callback_id(token.expose())
                    .result(Blob::new(output))
                    .send()
                    .await
                {
                    Ok(_) => SendOutcome::Accepted,
                    Err(error) => failed(error_code(&error), describe(&error)),
                }
            }
        }
    }

    /// Whether a gone task may come back with a newer token: a Step Functions task retried
    /// under `Retry` gets a new one. A durable callback's id never changes: gone is gone.
    fn tokens_are_refreshed(&self) -> bool {
        matches!(self.0, Executions::StepFunctions(_))
    }
}

impl hitl_protocol::Executions for Orchestrator {
    async fn state(&self, execution_arn: &str) -> Option<ExecutionState> {
        self.0.state(execution_arn).await
    }
}
