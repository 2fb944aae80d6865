//! An in-memory implementation of every port, sharing one [`World`], that can be told to fail
//! the way AWS fails ([`Fault`]: throttled, a condition that fails, a lost answer, a timeout, a
//! crash between two steps), and a way to run the protocol's futures step by step.

mod execution;
mod measured;
mod orchestrator;
mod services;
mod table;
mod world;

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
};

pub use execution::{ATTEMPTS, Execution, Phase, Resume};
pub use measured::{Measured, measured};
pub use orchestrator::MemoryOrchestrator;
pub use services::{MemoryChat, MemoryClock, MemoryIds, MemoryScheduler, MemoryTeams, MemoryTopic};
pub use table::MemoryTable;
pub use world::{
    Call, Fault, Fired, Observable, Outcome, Published, SlackWorkspace, State, Step,
    TIMEOUT_MILLIS, World,
};

use hitl_core::{Approval, ApprovalKey, ApprovalRequest, TaskToken};

use crate::{messenger::Messenger, request::Requester, reviewer::Reviewer, settings::Settings};

/// The request side on `world`.
pub type MemoryRequester = Requester<
    MemoryTable,
    MemoryTopic,
    MemoryScheduler,
    MemoryChat,
    MemoryClock,
    MemoryIds,
    MemoryTeams,
>;

/// The reminder on `world`.
pub type MemoryMessenger = Messenger<MemoryTable, MemoryTopic, MemoryClock, MemoryIds, MemoryChat>;

/// The decision side on `world`.
pub type MemoryReviewer = Reviewer<MemoryTable, MemoryOrchestrator, MemoryClock, MemoryChat>;

impl World {
    /// The remind function's ports on this world, with its chat channel when the Slack app is
    /// on ([`State::slack`]).
    pub fn messenger(&self, settings: Settings) -> MemoryMessenger {
        let app = self.with(|s| s.slack.app);
        Messenger {
            table: MemoryTable(self.clone()),
            notifier: MemoryTopic(self.clone()),
            clock: MemoryClock(self.clone()),
            ids: MemoryIds(self.clone()),
            chat: app.then(|| MemoryChat(self.clone())),
            settings,
        }
    }

    /// The request side's ports on this world, with a chat channel or not.
    pub fn requester(&self, settings: Settings, chat: bool) -> MemoryRequester {
        let mut messenger = self.messenger(settings);
        messenger.chat = chat.then(|| MemoryChat(self.clone()));
        Requester {
            messenger,
            scheduler: MemoryScheduler(self.clone()),
            teams: None,
        }
    }

    /// The review function's ports on this world, resuming a state machine or a durable
    /// execution.
    pub fn reviewer(&self, state_machine: bool) -> MemoryReviewer {
        Reviewer {
            table: MemoryTable(self.clone()),
            orchestrator: MemoryOrchestrator {
                world: self.clone(),
                state_machine,
            },
            clock: MemoryClock(self.clone()),
            slack: Some(MemoryChat(self.clone())),
            escalate_to: settings().escalate_to,
            sign_in: false,
        }
    }
}

/// Settings for tests: three reviewers, a quorum of one, ten minutes to decide, a reminder
/// after two minutes and an escalation to `boss@x.io` after four.
pub fn settings() -> Settings {
    Settings {
        table: "approvals".into(),
        topic_arn: "topic".into(),
        review_base_url: "https://review.example/v1".into(),
        approval_timeout_secs: 600,
        retention_secs: 3600,
        reviewers: ["ana@x.io", "ben@x.io", "cy@x.io"]
            .map(str::to_owned)
            .to_vec(),
        attachment_buckets: Vec::new(),
        escalate_to: vec!["boss@x.io".to_owned()],
        schedules: Some(crate::schedule::Schedules {
            group: "group".into(),
            role_arn: "role".into(),
            target_arn: "remind".into(),
            dead_letter_arn: None,
            remind_after_secs: Some(120),
            escalate_after_secs: Some(240),
        }),
        quorum: 1,
        sign_in: false,
    }
}

/// Polls `future` once.
pub fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs `future` to its end on `world`, as operation `by`; `None` when it crashed (an armed
/// [`Fault::Crash`]).
pub fn run<F: Future>(world: &World, by: usize, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    loop {
        world.with(|s| s.current = by);
        if let Poll::Ready(output) = poll_once(future.as_mut()) {
            return Some(output);
        }
        if world.with(|s| std::mem::take(&mut s.crashed)) {
            return None;
        }
    }
}

/// The key of execution `arn`'s approval task.
pub fn key(arn: &str) -> ApprovalKey {
    ApprovalKey {
        execution_arn: arn.into(),
        state_name: "RequestApproval".into(),
        entered_time: "t".into(),
        item: None,
    }
}

/// The request the tests ask approval for.
pub fn request() -> ApprovalRequest {
    let request = serde_json::json!({"title": "T", "requester": "req@x.io"});
    ApprovalRequest::from_value(&request).expect("a valid request")
}

/// Execution `arn`'s first attempt asks for approval of [`request`], waiting on `token`, as
/// operation 1 at `now`: the approval, its messages sent (and posted in Slack when the app is
/// on).
pub fn requested(world: &World, arn: &str, token: TaskToken, now: u64) -> Approval {
    let app = world.with(|s| s.slack.app);
    let requester = world.requester(settings(), app);
    let approval = requester
        .new_approval(token, Some(0), &key(arn), request(), now)
        .expect("an approval");
    run(world, 1, requester.request_approval(&approval, now))
        .expect("no crash")
        .expect("requested");
    approval
}
