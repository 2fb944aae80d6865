//! What can happen to the system, as proptest generates it: requests (and their retried
//! attempts), reviewers' POSTs and GETs through any link they were sent, reminders firing,
//! the clock, executions stopped, operations run step by step or crashed, and faults armed for
//! the next call of a port.

use std::fmt;

use hitl_core::{Decision, Nudge};
use proptest::prelude::*;

use crate::testing::{Call, Fault};

/// One thing that happens. Indices pick among what exists when it happens (modulo), so a
/// sequence stays meaningful as proptest shrinks it.
#[derive(Clone)]
pub enum Op {
    /// The request task of execution `execution` is invoked: its first attempt, or a retried
    /// one (with a new token, for a state machine) after a failure or a lost answer.
    Request { execution: usize, steps: Option<u8> },
    /// A reviewer's POST through the `link`th link sent so far.
    Post {
        link: usize,
        decision: Decision,
        steps: Option<u8>,
    },
    /// A GET of the `link`th link sent so far.
    Get { link: usize },
    /// The schedule of `nudge` for execution `execution`'s approval fires (if it was made and is
    /// due; again and again, however late).
    Nudge {
        execution: usize,
        nudge: Nudge,
        steps: Option<u8>,
    },
    /// The expiry check's schedule of execution `execution`'s approval fires (if it was made
    /// and is due; again and again, however late).
    Expiry { execution: usize, steps: Option<u8> },
    /// The clock moves on.
    Advance { secs: u64 },
    /// Someone stops the execution.
    Stop { execution: usize },
    /// The `op`th operation still running takes its next step (its next port call).
    Step { op: usize },
    /// The instance running the `op`th operation still running dies.
    Crash { op: usize },
    /// The next call of its kind fails this way.
    Fault { call: Call, fault: Fault },
}

/// `steps` as the trace says it: an operation runs to its end, or so many steps and waits.
fn runs(steps: &Option<u8>) -> String {
    match steps {
        None => String::new(),
        Some(n) => format!(" (runs {n} step(s), then waits)"),
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request { execution, steps } => {
                write!(f, "request task of execution {execution}{}", runs(steps))
            }
            Self::Post {
                link,
                decision,
                steps,
            } => write!(f, "POST link {link}: {}{}", decision.as_str(), runs(steps)),
            Self::Get { link } => write!(f, "GET link {link}"),
            Self::Nudge {
                execution,
                nudge,
                steps,
            } => write!(
                f,
                "{} schedule of execution {execution} fires{}",
                nudge.as_str(),
                runs(steps)
            ),
            Self::Expiry { execution, steps } => write!(
                f,
                "expiry check of execution {execution} fires{}",
                runs(steps)
            ),
            Self::Advance { secs } => write!(f, "clock +{secs}s"),
            Self::Stop { execution } => write!(f, "execution {execution} stopped"),
            Self::Step { op } => write!(f, "running op {op} takes a step"),
            Self::Crash { op } => write!(f, "running op {op} crashes"),
            Self::Fault { call, fault } => write!(f, "next {call:?} {fault:?}"),
        }
    }
}

/// How many executions a case has at most.
pub const EXECUTIONS: usize = 2;

fn steps() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![3 => Just(None), 1 => (1u8..5).prop_map(Some)]
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![3 => Just(Decision::Approved), 1 => Just(Decision::Rejected)]
}

fn call() -> impl Strategy<Value = Call> {
    prop::sample::select(vec![
        Call::GetApproval,
        Call::GetLink,
        Call::PutApproval,
        Call::RefreshToken,
        Call::PutLink,
        Call::MarkNotified,
        Call::MarkSlackSent,
        Call::MarkNudged,
        Call::CloseExpired,
        Call::Count,
        Call::Claim,
        Call::Settle,
        Call::Publish,
        Call::ChatPost,
        Call::CreateSchedule,
        Call::Resume,
        Call::State,
    ])
}

fn fault() -> impl Strategy<Value = Fault> {
    prop::sample::select(vec![
        Fault::Throttle,
        Fault::ConditionFails,
        Fault::LostAnswer,
        Fault::Timeout,
        Fault::Crash,
    ])
}

/// One operation.
pub fn op() -> impl Strategy<Value = Op> {
    let execution = 0..EXECUTIONS;
    prop_oneof![
        4 => (execution.clone(), steps()).prop_map(|(execution, steps)| Op::Request { execution, steps }),
        8 => (0..12usize, decision(), steps())
            .prop_map(|(link, decision, steps)| Op::Post { link, decision, steps }),
        1 => (0..12usize).prop_map(|link| Op::Get { link }),
        2 => (execution.clone(), prop_oneof![Just(Nudge::Remind), Just(Nudge::Escalate)], steps())
            .prop_map(|(execution, nudge, steps)| Op::Nudge { execution, nudge, steps }),
        1 => (execution.clone(), steps()).prop_map(|(execution, steps)| Op::Expiry { execution, steps }),
        3 => prop_oneof![1u64..70, 60u64..400].prop_map(|secs| Op::Advance { secs }),
        1 => execution.prop_map(|execution| Op::Stop { execution }),
        3 => (0..4usize).prop_map(|op| Op::Step { op }),
        1 => (0..4usize).prop_map(|op| Op::Crash { op }),
        3 => (call(), fault()).prop_map(|(call, fault)| Op::Fault { call, fault }),
    ]
}
