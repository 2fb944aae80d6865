//! How the workflow's executions stand, on this stack's orchestrator: Step Functions'
//! `DescribeExecution`, or the durable workflow's `GetDurableExecution`. The review function
//! asks when a task it resumes turns out closed; the remind function, for a record still open
//! at the last expiry check.

use aws_sdk_lambda::types::ExecutionStatus as DurableStatus;
use hitl_aws::{describe, error_code};
use hitl_core::ExecutionState;

/// The orchestrator of this stack, from `ORCHESTRATOR` (`step-functions`, the default, or
/// `durable-function`), as a client of its executions.
pub enum Executions {
    StepFunctions(aws_sdk_sfn::Client),
    Durable(aws_sdk_lambda::Client),
}

impl Executions {
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
impl hitl_protocol::Executions for Executions {
    /// How the execution stands; `None` when the orchestrator cannot say (an execution it does
    /// not know has ended, for Step Functions).
    async fn state(&self, execution_arn: &str) -> Option<ExecutionState> {
        match self {
            Self::StepFunctions(sfn) => state_machine_state(sfn, execution_arn).await,
            Self::Durable(lambda) => durable_state(lambda, execution_arn).await,
        }
    }
}

/// A state machine's execution, as `DescribeExecution` tells it. `PENDING_REDRIVE` runs again
/// (a redrive keeps the execution's ARN), so it is running; a status this SDK does not know
/// tells nothing.
async fn state_machine_state(sfn: &aws_sdk_sfn::Client, arn: &str) -> Option<ExecutionState> {
    use aws_sdk_sfn::types::ExecutionStatus as Status;
    match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(out) => match out.status {
            Status::Running | Status::PendingRedrive => Some(ExecutionState::Running),
            Status::Succeeded => Some(ExecutionState::Succeeded(out.output.unwrap_or_default())),
            Status::Failed | Status::TimedOut | Status::Aborted => Some(ExecutionState::Failed {
                error: out.error.unwrap_or_default(),
                message: out.cause.unwrap_or_default(),
            }),
            other => {
                tracing::warn!(
                    status = other.as_str(),
                    "DescribeExecution: a status unknown here"
                );
                None
            }
        },
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

/// A durable execution, as `GetDurableExecution` tells it; a status this SDK does not know
/// tells nothing.
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
    match described.status {
        DurableStatus::Running => Some(ExecutionState::Running),
        DurableStatus::Succeeded => Some(ExecutionState::Succeeded(
            described.result.unwrap_or_default(),
        )),
        DurableStatus::Failed | DurableStatus::TimedOut | DurableStatus::Stopped => {
            let error = described
                .error
                .unwrap_or_else(|| aws_sdk_lambda::types::ErrorObject::builder().build());
            let (error_type, message) = (
                error.error_type.unwrap_or_default(),
                error.error_message.unwrap_or_default(),
            );
            let message = hitl_aws::durable_cause(&error_type, &message).to_owned();
            Some(ExecutionState::Failed {
                error: error_type,
                message,
            })
        }
        other => {
            tracing::warn!(
                status = other.as_str(),
                "GetDurableExecution: a status unknown here"
            );
            None
        }
    }
}
