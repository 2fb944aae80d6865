//! An execution in memory: waiting on a task token (Step Functions: a new token per attempt of
//! the task) or on a callback (a durable execution: one id for good), accepting a decision sent
//! with the token it waits on, and ending; and the decisions sent to it.

use hitl_core::{ExecutionState, SendOutcome, TaskToken};
use serde_json::{Value, json};

/// Where an execution stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Its task waits on its newest token.
    Waiting,
    /// An attempt of its task failed; the next has not started: no token is good.
    Between,
    /// It took a decision and runs the states after the approval until `until` (Unix
    /// seconds): it still shows running, then ends as `state`.
    Finishing {
        state: ExecutionState,
        until: u64,
    },
    Ended(ExecutionState),
}

/// One execution of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    /// A durable execution (its callback id never changes) rather than a state machine's.
    pub durable: bool,
    pub phase: Phase,
    /// Every token given, the newest last.
    pub tokens: Vec<TaskToken>,
    /// Failed attempts of the task (or of the durable submitter).
    pub failures: u32,
    /// How long the wait lasts from the first attempt.
    pub timeout_secs: u64,
    /// When the wait times out (Unix seconds), once the first attempt began.
    pub deadline: Option<u64>,
    /// The decision it accepted (the task output).
    pub accepted: Option<String>,
    /// How long it runs on after taking a decision (a workflow with states after the
    /// approval), in seconds.
    pub linger_secs: u64,
}

/// Attempts of the request task (or the submitter) before the execution fails: the state
/// machine's `Retry` of `Hitl.Transient` (three retries), the durable workflow's four attempts.
pub const ATTEMPTS: u32 = 4;

impl Execution {
    /// A new execution whose wait times out `timeout_secs` after its first attempt began.
    pub fn new(arn: &str, durable: bool, timeout_secs: u64) -> Self {
        Self {
            arn: arn.to_owned(),
            durable,
            phase: Phase::Between,
            tokens: Vec::new(),
            failures: 0,
            timeout_secs,
            deadline: None,
            accepted: None,
            linger_secs: 0,
        }
    }

    /// Ends it if it has run the states after its decision by `now`, or its wait has timed out
    /// at `now` (the expired branch).
    pub fn tick(&mut self, now: u64) {
        if let Phase::Finishing { state, until } = &self.phase {
            if now >= *until {
                self.phase = Phase::Ended(state.clone());
            }
            return;
        }
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            self.end(
                "Expired",
                "No reviewer decided within the approval timeout.",
            );
        }
    }

    /// Whether it has ended.
    pub fn ended(&self) -> bool {
        matches!(self.phase, Phase::Ended(_))
    }

    /// Whether it waits no more: it took a decision, or ended.
    pub fn closed(&self) -> bool {
        !matches!(self.phase, Phase::Waiting | Phase::Between)
    }

    /// How `DescribeExecution` (or `GetDurableExecution`) tells it.
    pub fn state(&self) -> ExecutionState {
        match &self.phase {
            Phase::Waiting | Phase::Between | Phase::Finishing { .. } => ExecutionState::Running,
            Phase::Ended(state) => state.clone(),
        }
    }

    /// The next attempt's token and attempt number (a durable submitter: the callback id, no
    /// attempt), beginning at `now`; `None` when it has ended.
    pub fn begin_attempt(&mut self, now: u64) -> Option<(TaskToken, Option<u32>)> {
        if self.closed() {
            return None;
        }
        self.deadline.get_or_insert(now + self.timeout_secs);
        let attempt = self.tokens.len() as u32;
        if !self.durable || self.tokens.is_empty() {
            let token = format!("{}-token-{attempt}", self.arn);
            self.tokens.push(TaskToken::new(token)?);
        }
        self.phase = Phase::Waiting;
        let token = self.tokens.last()?.clone();
        Some((token, (!self.durable).then_some(attempt)))
    }

    /// An attempt failed with `error`: the next is to come, unless that was the last, or the
    /// error is not retried (the execution then fails with it; `Hitl.Expired` takes the
    /// expired branch). A durable callback stays good while the submitter is retried.
    pub fn attempt_failed(&mut self, error: &str, retried: bool) {
        if self.closed() {
            return;
        }
        self.failures += 1;
        if !retried || self.failures >= ATTEMPTS {
            let error = if error == "Hitl.Expired" {
                "Expired"
            } else {
                error
            };
            self.end(error, "the request task failed");
        } else if !self.durable {
            self.phase = Phase::Between;
        }
    }

    /// Ends, failed with `error`.
    pub fn end(&mut self, error: &str, message: &str) {
        if !self.ended() {
            self.phase = Phase::Ended(ExecutionState::Failed {
                error: error.to_owned(),
                message: message.to_owned(),
            });
        }
    }

    /// `output` sent with `token` at `now`: accepted if the execution waits on that very token.
    pub(super) fn resume(&mut self, token: &TaskToken, output: &str, now: u64) -> SendOutcome {
        if self.phase != Phase::Waiting || self.tokens.last() != Some(token) {
            return SendOutcome::TaskGone;
        }
        let decision: Value = serde_json::from_str(output).unwrap_or(Value::Null);
        let state = match decision["decision"].as_str() {
            Some("approved") => {
                ExecutionState::Succeeded(json!({ "approval": decision }).to_string())
            }
            _ => ExecutionState::Failed {
                error: "Rejected".to_owned(),
                message: decision["comment"].as_str().unwrap_or_default().to_owned(),
            },
        };
        self.phase = Phase::Finishing {
            state,
            until: now + self.linger_secs,
        };
        self.tick(now);
        self.accepted = Some(output.to_owned());
        SendOutcome::Accepted
    }
}

/// A decision sent to the orchestrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub execution: Option<String>,
    pub output: String,
    pub outcome: SendOutcome,
    /// Whether the execution had ended when it was sent.
    pub execution_ended: bool,
    /// Whether the table held this very claim when it was sent (the record of the execution
    /// `deciding`, by this reviewer, for this decision, claimed at this second).
    pub claim_held: bool,
    /// The operation that sent it.
    pub by: usize,
}
