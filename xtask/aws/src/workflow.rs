//! The approval workflow of a deployed stack, whichever orchestrator runs it: the state machine
//! (Step Functions executions) or the durable workflow (Lambda durable executions, started by an
//! asynchronous invoke of its alias). `start`, `status` and the tests read executions through
//! this, and so see both alike.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aws_sdk_lambda::types::{ExecutionStatus as DurableStatus, InvocationType};
use aws_sdk_sfn::types::ExecutionStatus;
use hitl_aws::describe;

use kit_config::values::Orchestrator;

use crate::Aws;

/// The workflow a stack's outputs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workflow {
    /// `StateMachineArn`.
    StateMachine(String),
    /// `WorkflowFunctionArn`: the durable function's alias.
    Durable(String),
}

/// Where an execution stands, in words both orchestrators share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    /// Failed, timed out or stopped: the orchestrator's own status word, the error and cause.
    Ended {
        status: String,
        error: String,
        cause: String,
    },
}

/// One execution as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub status: Status,
    /// The output of a succeeded execution (JSON).
    pub output: Option<String>,
}

/// One execution in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub started: String,
}

/// Why `name` cannot name an execution of `orchestrator`, in one line; `None` when it can.
/// Step Functions (StartExecution, `name`): 1 to 80 characters, none of them whitespace,
/// `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /` or a control character. Lambda durable
/// executions (Invoke, `DurableExecutionName`): 1 to 64 of `[a-zA-Z0-9-_]`.
pub fn execution_name_problem(orchestrator: Orchestrator, name: &str) -> Option<String> {
    let (most, rule) = match orchestrator {
        Orchestrator::StepFunctions => (
            80,
            "no whitespace, brackets, wildcards or any of \"#%\\^|~`$&,;:/",
        ),
        Orchestrator::DurableFunction => (64, "letters, digits, - and _ only"),
    };
    let length = name.chars().count();
    let refused = |c: char| match orchestrator {
        Orchestrator::StepFunctions => {
            c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
        }
        Orchestrator::DurableFunction => !(c.is_ascii_alphanumeric() || c == '-' || c == '_'),
    };
    if (1..=most).contains(&length) && !name.chars().any(refused) {
        return None;
    }
    Some(format!(
        "`{name}` cannot name a {} execution: 1 to {most} characters, {rule}",
        orchestrator.as_str()
    ))
}

impl Workflow {
    /// The workflow of a stack with these outputs.
    pub fn of(outputs: &BTreeMap<String, String>) -> Result<Self> {
        if let Some(arn) = outputs.get("WorkflowFunctionArn") {
            return Ok(Self::Durable(arn.clone()));
        }
        outputs
            .get("StateMachineArn")
            .map(|arn| Self::StateMachine(arn.clone()))
            .context("the stack has neither a StateMachineArn nor a WorkflowFunctionArn output")
    }

    /// Starts an execution named `name` with `input` (a JSON object); its ARN.
    pub async fn start(&self, aws: &Aws, name: &str, input: &str) -> Result<String> {
        match self {
            Self::StateMachine(machine) => Ok(aws
                .sfn()
                .start_execution()
                .state_machine_arn(machine)
                .name(name)
                .input(input)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot start an execution: {}", describe(&e)))?
                .execution_arn),
            // A durable function runs longer than a synchronous invoke may wait: started
            // asynchronously, by its qualified ARN, the name making the start idempotent.
            Self::Durable(alias) => aws
                .lambda()
                .invoke()
                .function_name(alias)
                .invocation_type(InvocationType::Event)
                .durable_execution_name(name)
                .payload(aws_sdk_lambda::primitives::Blob::new(input.as_bytes()))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot start an execution: {}", describe(&e)))?
                .durable_execution_arn
                .context("Lambda started no durable execution: is the function durable?"),
        }
    }

    /// The execution `arn` as it stands.
    pub async fn describe(&self, aws: &Aws, arn: &str) -> Result<Execution> {
        match self {
            Self::StateMachine(_) => {
                let out = aws
                    .sfn()
                    .describe_execution()
                    .execution_arn(arn)
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read the execution: {}", describe(&e)))?;
                let status = match out.status {
                    ExecutionStatus::Running => Status::Running,
                    ExecutionStatus::Succeeded => Status::Succeeded,
                    other => Status::Ended {
                        status: other.as_str().to_owned(),
                        error: out.error.unwrap_or_default(),
                        cause: out.cause.unwrap_or_default(),
                    },
                };
                Ok(Execution {
                    status,
                    output: out.output,
                })
            }
            Self::Durable(_) => {
                let out = aws
                    .lambda()
                    .get_durable_execution()
                    .durable_execution_arn(arn)
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read the execution: {}", describe(&e)))?;
                let status = match out.status {
                    DurableStatus::Running => Status::Running,
                    DurableStatus::Succeeded => Status::Succeeded,
                    other => {
                        let error = out.error.unwrap_or_else(|| {
                            aws_sdk_lambda::types::ErrorObject::builder().build()
                        });
                        let error_type = error.error_type.unwrap_or_default();
                        let message = error.error_message.unwrap_or_default();
                        Status::Ended {
                            status: other.as_str().to_owned(),
                            cause: hitl_aws::durable_cause(&error_type, &message).to_owned(),
                            error: error_type,
                        }
                    }
                };
                Ok(Execution {
                    status,
                    output: out.result,
                })
            }
        }
    }

    /// How many decisions reached the execution `arn`: the callbacks that succeeded in its
    /// history (a state machine's task token, a durable execution's callback). One for an
    /// execution decided once.
    pub async fn decisions_delivered(&self, aws: &Aws, arn: &str) -> Result<usize> {
        let unreadable = |e: String| anyhow::anyhow!("cannot read the history of {arn}: {e}");
        match self {
            Self::StateMachine(_) => {
                let mut history = aws
                    .sfn()
                    .get_execution_history()
                    .execution_arn(arn)
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send();
                let mut delivered = 0;
                while let Some(event) = history.next().await {
                    let event = event.map_err(|e| unreadable(describe(&e)))?;
                    let details = event.task_succeeded_event_details;
                    delivered += usize::from(details.is_some_and(|d| d.resource_type == "lambda"));
                }
                Ok(delivered)
            }
            Self::Durable(_) => {
                let mut history = aws
                    .lambda()
                    .get_durable_execution_history()
                    .durable_execution_arn(arn)
                    .max_items(1000)
                    .into_paginator()
                    .items()
                    .send();
                let succeeded = aws_sdk_lambda::types::EventType::CallbackSucceeded;
                let mut delivered = 0;
                while let Some(event) = history.next().await {
                    let event = event.map_err(|e| unreadable(describe(&e)))?;
                    delivered += usize::from(event.event_type.as_ref() == Some(&succeeded));
                }
                Ok(delivered)
            }
        }
    }

    /// Whether the execution `arn` waits for its decision and for nothing else, by its history:
    /// a state machine's task submitted last (the request function returned; the task token is
    /// awaited; an attempt that failed and was retried is followed by its retry's events), a
    /// durable execution's callback started and its invocation completed since.
    pub async fn awaits_decision(&self, aws: &Aws, arn: &str) -> Result<bool> {
        let unreadable = |e: String| anyhow::anyhow!("cannot read the history of {arn}: {e}");
        match self {
            Self::StateMachine(_) => {
                use aws_sdk_sfn::types::HistoryEventType as Event;
                let mut history = aws
                    .sfn()
                    .get_execution_history()
                    .execution_arn(arn)
                    .max_results(1000)
                    .into_paginator()
                    .items()
                    .send();
                let mut submitted = false;
                while let Some(event) = history.next().await {
                    match event.map_err(|e| unreadable(describe(&e)))?.r#type {
                        Event::TaskSubmitted => submitted = true,
                        Event::TaskScheduled
                        | Event::TaskStarted
                        | Event::TaskSucceeded
                        | Event::TaskFailed
                        | Event::TaskTimedOut => submitted = false,
                        _ => {}
                    }
                }
                Ok(submitted)
            }
            Self::Durable(_) => {
                use aws_sdk_lambda::types::EventType as Event;
                let mut history = aws
                    .lambda()
                    .get_durable_execution_history()
                    .durable_execution_arn(arn)
                    .max_items(1000)
                    .into_paginator()
                    .items()
                    .send();
                let (mut started, mut completed_since) = (false, false);
                while let Some(event) = history.next().await {
                    match event.map_err(|e| unreadable(describe(&e)))?.event_type {
                        Some(Event::CallbackStarted) => (started, completed_since) = (true, false),
                        Some(Event::InvocationCompleted) => completed_since = started,
                        Some(Event::CallbackSucceeded | Event::CallbackFailed) => return Ok(false),
                        _ => {}
                    }
                }
                Ok(started && completed_since)
            }
        }
    }

    /// Up to `max` executions, newest first: every version's, for the durable workflow (each
    /// execution stays on the version it started on, and the alias moves on).
    pub async fn list(&self, aws: &Aws, max: i32) -> Result<Vec<Summary>> {
        match self {
            Self::StateMachine(machine) => Ok(aws
                .sfn()
                .list_executions()
                .state_machine_arn(machine)
                .max_results(max)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot list executions: {}", describe(&e)))?
                .executions
                .into_iter()
                .map(|e| Summary {
                    arn: e.execution_arn,
                    name: e.name,
                    status: e.status.as_str().to_owned(),
                    started: e.start_date.to_string(),
                })
                .collect()),
            Self::Durable(alias) => {
                let (function, _alias) = split_qualifier(alias)?;
                Ok(aws
                    .lambda()
                    .list_durable_executions_by_function()
                    .function_name(function)
                    .reverse_order(true)
                    .max_items(max)
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot list executions: {}", describe(&e)))?
                    .durable_executions
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| Summary {
                        arn: e.durable_execution_arn,
                        name: e.durable_execution_name,
                        status: e.status.as_str().to_owned(),
                        started: e.start_timestamp.to_string(),
                    })
                    .collect())
            }
        }
    }
}

/// `arn:…:function:name:qualifier` → (the function's name, the qualifier).
fn split_qualifier(alias_arn: &str) -> Result<(&str, &str)> {
    let parts: Vec<&str> = alias_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, qualifier] => Ok((name, qualifier)),
        _ => bail!("{alias_arn} is not a qualified function ARN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outputs_say_which_orchestrator_runs_the_workflow() {
        let outputs = |key: &str| BTreeMap::from([(key.to_owned(), "arn:x".to_owned())]);
        assert_eq!(
            Workflow::of(&outputs("StateMachineArn")).unwrap(),
            Workflow::StateMachine("arn:x".into())
        );
        assert_eq!(
            Workflow::of(&outputs("WorkflowFunctionArn")).unwrap(),
            Workflow::Durable("arn:x".into())
        );
        assert!(Workflow::of(&BTreeMap::new()).is_err());
    }

    /// The names each orchestrator's API takes: StartExecution's `name` (Step Functions API
    /// Reference) and Invoke's `DurableExecutionName` (Lambda API Reference, `Execution`).
    #[test]
    fn execution_names_follow_each_orchestrators_rules() {
        use Orchestrator::{DurableFunction, StepFunctions};
        for ok in ["hitl-1733-ab12", "a", &"x".repeat(80), "é-ok.v2(1)"] {
            assert_eq!(execution_name_problem(StepFunctions, ok), None, "{ok}");
        }
        for bad in [
            "",
            "has space",
            "a/b",
            "a:b",
            "tab\t",
            &"x".repeat(81),
            "{x}",
            "50%",
        ] {
            let problem = execution_name_problem(StepFunctions, bad).expect(bad);
            assert!(problem.contains("1 to 80 characters"), "{problem}");
        }
        for ok in ["hitl-1733-ab12", "A_b-9", &"x".repeat(64)] {
            assert_eq!(execution_name_problem(DurableFunction, ok), None, "{ok}");
        }
        for bad in ["", "a.b", "é", "a b", &"x".repeat(65)] {
            let problem = execution_name_problem(DurableFunction, bad).expect(bad);
            assert!(problem.contains("1 to 64 characters"), "{problem}");
        }
    }

    #[test]
    fn an_alias_arn_splits_into_function_and_qualifier() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:hitl-dev-workflow:live";
        assert_eq!(split_qualifier(arn).unwrap(), ("hitl-dev-workflow", "live"));
        assert!(split_qualifier("arn:aws:lambda:us-east-1:1:function:f").is_err());
    }
}
