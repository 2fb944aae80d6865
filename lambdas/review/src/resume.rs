//! Sending the decision to the orchestrator that waits for it: Step Functions' task token
//! (`SendTaskSuccess`), or a durable execution's callback (`SendDurableExecutionCallbackSuccess`).
//! The record's `task_token` holds whichever the environment's orchestrator gave.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::ExecutionStatus as DurableStatus;
use hitl_aws::{describe, error_code};
use hitl_core::{ExecutionState, SendOutcome, TaskToken};

/// The orchestrator of this stack, from `ORCHESTRATOR` (`step-functions`, the default, or
/// `durable-function`).
pub enum Orchestrator {
    StepFunctions(aws_sdk_sfn::Client),
    Durable(aws_sdk_lambda::Client),
}

impl Orchestrator {
    /// The orchestrator `ORCHESTRATOR` names, its client on `aws`.
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, String> {
        match std::env::var("ORCHESTRATOR").as_deref() {
            Err(_) | Ok("step-functions") => Ok(Self::StepFunctions(aws_sdk_sfn::Client::new(aws))),
            Ok("durable-function") => Ok(Self::Durable(aws_sdk_lambda::Client::new(aws))),
            Ok(other) => Err(format!(
                "environment variable ORCHESTRATOR is `{other}`: use step-functions or \
                 durable-function"
            )),
        }
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
        match self {
            Self::StepFunctions(sfn) => {
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
            Self::Durable(lambda) => {
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
        matches!(self, Self::StepFunctions(_))
    }

    /// How the execution stands (`DescribeExecution` or `GetDurableExecution`); `None` when the
    /// orchestrator cannot say (an execution it does not know has ended, for Step Functions).
    async fn state(&self, execution_arn: &str) -> Option<ExecutionState> {
        match self {
            Self::StepFunctions(sfn) => state_machine_state(sfn, execution_arn).await,
            Self::Durable(lambda) => durable_state(lambda, execution_arn).await,
        }
    }
}

async fn state_machine_state(sfn: &aws_sdk_sfn::Client, arn: &str) -> Option<ExecutionState> {
    match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(out) => Some(match out.status {
            aws_sdk_sfn::types::ExecutionStatus::Running => ExecutionState::Running,
            aws_sdk_sfn::types::ExecutionStatus::Succeeded => {
                ExecutionState::Succeeded(out.output.unwrap_or_default())
            }
            _ => ExecutionState::Failed {
                error: out.error.unwrap_or_default(),
                message: out.cause.unwrap_or_default(),
            },
        }),
        Err(error) if error_code(&error) == Some("ExecutionDoesNotExist") => {
            Some(ExecutionState::Failed {
                error: "ExecutionDoesNotExist".to_owned(),
                message: String::new(),
            })
        }
        Err(error) => {
            tracing::warn!(error = %describe(&error), "DescribeExecution failed");
            None
        }
    }
}

async fn durable_state(lambda: &aws_sdk_lambda::Client, arn: &str) -> Option<ExecutionState> {
    let described = lambda
        .get_durable_execution()
        .durable_execution_arn(arn)
        .send()
        .await;
    let described = match described {
        Ok(described) => described,
        Err(error) => {
            tracing::warn!(error = %describe(&error), "GetDurableExecution failed");
            return None;
        }
    };
    Some(match described.status {
        DurableStatus::Running => ExecutionState::Running,
        DurableStatus::Succeeded => ExecutionState::Succeeded(described.result.unwrap_or_default()),
        _ => {
            let error = described
                .error
                .unwrap_or_else(|| aws_sdk_lambda::types::ErrorObject::builder().build());
            ExecutionState::Failed {
                error: error.error_type.unwrap_or_default(),
                message: error.error_message.unwrap_or_default(),
            }
        }
    })
}
