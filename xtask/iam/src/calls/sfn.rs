//! Step Functions: AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`.
//!
//! SAR, "Actions, resources, and condition keys for AWS Step Functions":
//! - `states:SendTaskSuccess`, `SendTaskFailure`, `SendTaskHeartbeat`: no resource type, so
//!   `*` (the task token scopes the call).
//! - `states:DescribeExecution`, `StopExecution`, `GetExecutionHistory`: the `execution`
//!   resource, `arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}`
//!   (`DescribeExecution` also takes `express`), the request's `executionArn`.
//! - `states:StartExecution`, `DescribeStateMachine`: the `statemachine` resource, with the
//!   condition key `states:StateMachineQualifier`. A version or alias ARN
//!   (`stateMachine:NAME:QUALIFIER`) is authorized on the state machine's unqualified ARN, the
//!   qualifier going to `states:StateMachineQualifier` ("Authorization for versions and aliases
//!   in Step Functions workflows", Step Functions developer guide).

use super::request::{Needed, Unknown, json_body, json_target, required};

const SERVICE: &str = "states";

/// What a Step Functions call needs.
pub(super) fn needed(call: &super::request::Call) -> Result<Vec<Needed>, Unknown> {
    let operation = json_target(call, SERVICE, "AWSStepFunctions")?;
    let body = json_body(call, SERVICE, operation)?;
    let action = format!("states:{operation}");
    match operation {
        "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
            Ok(vec![Needed::new(&action, "*")])
        }
        "DescribeExecution" | "StopExecution" | "GetExecutionHistory" => {
            let execution = required(&body, "executionArn", SERVICE, operation)?;
            Ok(vec![Needed::new(&action, execution)])
        }
        "StartExecution" | "DescribeStateMachine" => {
            let arn = required(&body, "stateMachineArn", SERVICE, operation)?;
            let (state_machine, qualifier) = split_qualifier(arn);
            Ok(vec![
                Needed::new(&action, state_machine)
                    .with_some("states:StateMachineQualifier", qualifier),
            ])
        }
        other => Err(Unknown::new(SERVICE, other, "operation not covered")),
    }
}

/// A state machine ARN and its qualifier:
/// `arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME[:QUALIFIER]`.
fn split_qualifier(arn: &str) -> (String, Option<String>) {
    let fields: Vec<&str> = arn.splitn(8, ':').collect();
    match fields.as_slice() {
        [head @ .., qualifier] if fields.len() == 8 && fields[5] == "stateMachine" => {
            (head.join(":"), Some((*qualifier).to_owned()))
        }
        _ => (arn.to_owned(), None),
    }
}
