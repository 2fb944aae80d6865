//! The approval workflow of a deployed stack, whichever orchestrator runs it: the state machine
//! (Step Functions executions) or the durable workflow (Lambda durable executions, started by an
//! asynchronous invoke of its alias). `start`, `status` and the tests read executions through
//! this, and so see both alike.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aws_sdk_lambda::types::{
    EventType as DurableEvent, ExecutionStatus as DurableStatus, InvocationType,
};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
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
        Ok(match self {
            Self::StateMachine(_) => state_machine_history(aws, arn)
                .await?
                .into_iter()
                .filter(|e| {
                    let details = e.task_succeeded_event_details.as_ref();
                    details.is_some_and(|d| d.resource_type == "lambda")
                })
                .count(),
            Self::Durable(_) => {
                let succeeded = Some(DurableEvent::CallbackSucceeded);
                let history = durable_history(aws, arn).await?;
                history.iter().filter(|e| e.event_type == succeeded).count()
            }
        })
    }

    /// Whether the execution `arn` waits for its decision and for nothing else, by its history
    /// ([`awaits_task`], [`awaits_callback`]).
    pub async fn awaits_decision(&self, aws: &Aws, arn: &str) -> Result<bool> {
        Ok(match self {
            Self::StateMachine(_) => {
                let history = state_machine_history(aws, arn).await?;
                awaits_task(history.iter().map(|e| &e.r#type))
            }
            Self::Durable(_) => {
                let history = durable_history(aws, arn).await?;
                awaits_callback(history.iter().filter_map(|e| e.event_type.as_ref()))
            }
        })
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

/// The events of the state machine's execution `arn`, oldest first.
async fn state_machine_history(
    aws: &Aws,
    arn: &str,
) -> Result<Vec<aws_sdk_sfn::types::HistoryEvent>> {
    let pages = aws
        .sfn()
        .get_execution_history()
        .execution_arn(arn)
        .max_results(1000)
        .into_paginator()
        .items()
        .send();
    pages
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the history of {arn}: {}", describe(&e)))
}

/// The events of the durable execution `arn`, oldest first.
async fn durable_history(aws: &Aws, arn: &str) -> Result<Vec<aws_sdk_lambda::types::Event>> {
    let pages = aws
        .lambda()
        .get_durable_execution_history()
        .durable_execution_arn(arn)
        .max_items(1000)
        .into_paginator()
        .items()
        .send();
    pages
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the history of {arn}: {}", describe(&e)))
}

/// Whether a state machine's execution with these events (oldest first) waits for its task
/// token and nothing else: its task submitted last (the request function returned). An attempt
/// that failed and was retried is followed by its retry's events.
fn awaits_task<'a>(events: impl Iterator<Item = &'a HistoryEventType>) -> bool {
    use HistoryEventType as Event;
    events.fold(false, |submitted, event| match event {
        Event::TaskSubmitted => true,
        Event::TaskScheduled
        | Event::TaskStarted
        | Event::TaskSucceeded
        | Event::TaskFailed
        | Event::TaskTimedOut => false,
        _ => submitted,
    })
}

/// Whether a durable execution with these events (oldest first) waits for its callback and
/// nothing else: a callback started, its submitter step succeeded (a step retried has failed
/// or started since), and the invocation completed after it; none decided, the execution not
/// ended.
fn awaits_callback<'a>(events: impl Iterator<Item = &'a DurableEvent>) -> bool {
    use DurableEvent as Event;
    #[derive(Clone, Copy, PartialEq)]
    enum Stage {
        None,
        Started,
        Submitted,
        Suspended,
    }
    let mut stage = Stage::None;
    for event in events {
        stage = match (event, stage) {
            (Event::CallbackStarted, _) => Stage::Started,
            (Event::StepSucceeded, Stage::Started) => Stage::Submitted,
            (Event::StepStarted | Event::StepFailed, Stage::Submitted | Stage::Suspended) => {
                Stage::Started
            }
            (Event::InvocationCompleted, Stage::Submitted) => Stage::Suspended,
            (
                Event::CallbackSucceeded
                | Event::CallbackFailed
                | Event::CallbackTimedOut
                | Event::ExecutionSucceeded
                | Event::ExecutionFailed
                | Event::ExecutionTimedOut
                | Event::ExecutionStopped,
                _,
            ) => return false,
            (_, stage) => stage,
        }
    }
    stage == Stage::Suspended
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.waitForTaskToken` task's events: TaskScheduled, TaskStarted, then TaskSubmitted when
    /// the invoked function returned, TaskSucceeded when the token came back ("Step Functions
    /// history events", AWS Step Functions API reference: `HistoryEvent`).
    #[test]
    fn a_state_machine_awaits_its_decision_once_its_last_attempt_was_submitted() {
        use HistoryEventType::*;
        let awaits = |events: &[HistoryEventType]| awaits_task(events.iter());
        assert!(!awaits(&[
            ExecutionStarted,
            TaskStateEntered,
            TaskScheduled,
            TaskStarted
        ]));
        assert!(awaits(&[TaskScheduled, TaskStarted, TaskSubmitted]));
        // The first attempt cut at its timeout, retried: its retry not yet submitted, then so.
        let retried = [
            TaskScheduled,
            TaskStarted,
            TaskFailed,
            TaskScheduled,
            TaskStarted,
        ];
        assert!(!awaits(&retried));
        assert!(awaits(&[&retried[..], &[TaskSubmitted]].concat()));
        assert!(!awaits(&[
            TaskScheduled,
            TaskStarted,
            TaskSubmitted,
            TaskSucceeded
        ]));
        assert!(!awaits(&[TaskSubmitted, TaskTimedOut]));
    }

    #[test]
    fn a_durable_execution_awaits_its_decision_once_its_invocation_ended_after_the_callback() {
        use DurableEvent::*;
        let awaits = |events: &[DurableEvent]| awaits_callback(events.iter());
        assert!(!awaits(&[ExecutionStarted, InvocationCompleted]));
        assert!(!awaits(&[ExecutionStarted, CallbackStarted, StepStarted]));
        let waiting = [
            ExecutionStarted,
            ContextStarted,
            CallbackStarted,
            StepStarted,
            StepSucceeded,
            InvocationCompleted,
        ];
        assert!(awaits(&waiting));
        // Its submitter failed after sending, to be retried: suspended, but not only for the
        // decision; then retried and done.
        let retrying = [
            CallbackStarted,
            StepStarted,
            StepFailed,
            InvocationCompleted,
        ];
        assert!(!awaits(&retrying));
        let retried = [
            &retrying[..],
            &[StepStarted, StepSucceeded, InvocationCompleted],
        ]
        .concat();
        assert!(awaits(&retried));
        assert!(!awaits(&[&waiting[..], &[CallbackSucceeded]].concat()));
        assert!(!awaits(&[&waiting[..], &[CallbackTimedOut]].concat()));
        assert!(!awaits(&[&retrying[..], &[ExecutionFailed]].concat()));
    }

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
