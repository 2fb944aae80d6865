//! The system a case runs: its settings, its executions, and the functions on in-memory ports.

use std::fmt;

use hitl_core::{ApprovalKey, ApprovalRequest};
use proptest::prelude::*;
use serde_json::json;

use super::ops::{EXECUTIONS, Op, op};
use crate::{
    schedule::Schedules,
    settings::Settings,
    testing::{Execution, MemoryMessenger, MemoryRequester, MemoryReviewer, World},
};

/// The clock when a case begins.
pub const START: u64 = 1_750_000_000;
/// How long reviewers have.
pub const TIMEOUT_SECS: u64 = 600;
/// The functions' timeout: Lambda ends an invocation that runs longer (the kit's default).
pub const FUNCTION_TIMEOUT_MILLIS: u64 = 10_000;
/// The reviewers, then one of them as an escalation address may spell him.
pub const REVIEWERS: [&str; 3] = ["ana@x.io", "ben@x.io", "cy@x.io"];
const ANA_AGAIN: &str = "Ana@X.io";
const BOSS: &str = "boss@x.io";

/// A case: the stack's settings, and what happens.
#[derive(Clone)]
pub struct Case {
    /// Step Functions (a new token per attempt) or the durable workflow (one callback id).
    pub state_machine: bool,
    pub quorum: u32,
    /// Escalations go to one of the reviewers, spelt otherwise (rather than to a boss).
    pub escalate_to_a_reviewer: bool,
    /// A chat channel, which gets each reviewer a link of his own too.
    pub chat: bool,
    /// The workflow runs on for [`LINGER_SECS`] after its decision (states after the
    /// approval), longer than the review function watches it.
    pub linger: bool,
    pub ops: Vec<Op>,
}

/// How long a lingering workflow runs on after its decision.
pub const LINGER_SECS: u64 = 10;

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let orchestrator = match self.state_machine {
            true => "Step Functions",
            false => "durable workflow",
        };
        let escalation = match self.escalate_to_a_reviewer {
            true => ANA_AGAIN,
            false => BOSS,
        };
        writeln!(
            f,
            "{orchestrator}, quorum {} of {REVIEWERS:?}, escalation to {escalation}, chat {}, \
             {}:",
            self.quorum,
            if self.chat { "on" } else { "off" },
            match self.linger {
                true => format!("runs on {LINGER_SECS}s after its decision"),
                false => "ends at its decision".to_owned(),
            }
        )?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {i:>2}. {op:?}")?;
        }
        Ok(())
    }
}

/// A case with up to `max_ops` operations.
pub fn case(max_ops: usize) -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        1u32..=3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(op(), 1..max_ops),
    )
        .prop_map(
            |(state_machine, quorum, escalate_to_a_reviewer, chat, linger, ops)| Case {
                state_machine,
                quorum,
                escalate_to_a_reviewer,
                chat,
                linger,
                ops,
            },
        )
}

/// The settings the functions of a case are given.
fn settings(case: &Case) -> Settings {
    Settings {
        table: "approvals".into(),
        topic_arn: "topic".into(),
        review_base_url: "https://review.example/v1".into(),
        approval_timeout_secs: TIMEOUT_SECS,
        retention_secs: 3600,
        reviewers: REVIEWERS.map(str::to_owned).to_vec(),
        attachment_buckets: Vec::new(),
        escalate_to: vec![
            if case.escalate_to_a_reviewer {
                ANA_AGAIN
            } else {
                BOSS
            }
            .to_owned(),
        ],
        schedules: Some(Schedules {
            group: "group".into(),
            role_arn: "role".into(),
            target_arn: "remind".into(),
            dead_letter_arn: None,
            remind_after_secs: Some(90),
            escalate_after_secs: Some(150),
        }),
        quorum: case.quorum,
        sign_in: false,
    }
}

/// The functions of a case, on one in-memory world.
pub struct System {
    pub world: World,
    pub requester: MemoryRequester,
    pub reviewer: MemoryReviewer,
    pub messenger: MemoryMessenger,
    pub state_machine: bool,
    /// What each execution asks to approve.
    pub requests: Vec<ApprovalRequest>,
}

impl System {
    pub fn new(case: &Case) -> Self {
        let world = World::at(START);
        for execution in 0..EXECUTIONS {
            let arn = arn(execution);
            let mut waiting = Execution::new(&arn, !case.state_machine, TIMEOUT_SECS);
            waiting.linger_secs = if case.linger { LINGER_SECS } else { 0 };
            world.with(|s| s.executions.insert(arn, waiting));
        }
        Self {
            requester: world.requester(settings(case), case.chat),
            reviewer: world.reviewer(case.state_machine),
            messenger: world.messenger(settings(case)),
            world,
            state_machine: case.state_machine,
            requests: (0..EXECUTIONS).map(request).collect(),
        }
    }
}

/// The ARN of execution `n`.
pub fn arn(n: usize) -> String {
    format!("arn:aws:states:eu-west-1:1:execution:approval:run-{n}")
}

/// The approval key of execution `n`'s approval task.
pub fn key(n: usize) -> ApprovalKey {
    ApprovalKey {
        execution_arn: arn(n),
        state_name: "RequestApproval".into(),
        entered_time: "2025-06-15T15:06:40Z".into(),
        item: None,
    }
}

/// What execution `n` asks to approve.
fn request(n: usize) -> ApprovalRequest {
    ApprovalRequest::from_value(&json!({
        "title": format!("Buy {n} laptops"),
        "requester": "req@x.io",
        "amount": 1250.5,
        "currency": "EUR",
        "costCenter": "R&D",
    }))
    .unwrap_or_else(|e| panic!("the model's request is valid: {e}"))
}
