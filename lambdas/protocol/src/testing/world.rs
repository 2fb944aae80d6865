//! The in-memory world every in-memory port shares: the table's items, what was published,
//! posted and scheduled, the executions, the clock, and the faults armed for the next calls.
//!
//! Every port call first yields once (a step boundary: another operation may run there, as
//! another instance would), then consumes the first fault armed for its kind of call, then
//! acts: so operations interleave at port calls, and each call fails as AWS fails.

use std::{
    cell::RefCell,
    collections::BTreeMap,
    fmt,
    future::Future,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
};

use hitl_core::{Approval, ApprovalId, LinkItem, LinkKey, ReviewerMessage};
use serde_json::Value;

use super::execution::{Execution, Resume};

/// A kind of port call, as a fault names it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    GetApproval,
    GetLink,
    PutApproval,
    RefreshToken,
    PutLink,
    MarkNotified,
    MarkSlackSent,
    MarkTeamsSent,
    MarkNudged,
    CloseExpired,
    Count,
    Claim,
    Settle,
    Publish,
    ChatPost,
    ChatUpdate,
    TeamsPost,
    /// The Slack app's other calls: users.info, views.open, postEphemeral.
    Slack,
    CreateSchedule,
    Resume,
    State,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::GetApproval => "table.approval",
            Self::GetLink => "table.link",
            Self::PutApproval => "table.put_approval",
            Self::RefreshToken => "table.refresh_token",
            Self::PutLink => "table.put_link",
            Self::MarkNotified => "table.mark_notified",
            Self::MarkSlackSent => "table.mark_slack_sent",
            Self::MarkTeamsSent => "table.mark_teams_sent",
            Self::MarkNudged => "table.mark_nudged",
            Self::CloseExpired => "table.close_expired",
            Self::Count => "table.count",
            Self::Claim => "table.claim",
            Self::Settle => "table.settle",
            Self::Publish => "topic.publish",
            Self::ChatPost => "chat.post",
            Self::ChatUpdate => "chat.update",
            Self::TeamsPost => "teams.post",
            Self::Slack => "slack",
            Self::CreateSchedule => "scheduler.create",
            Self::Resume => "orchestrator.resume",
            Self::State => "orchestrator.state",
        };
        f.write_str(name)
    }
}

/// How a call fails, the ways AWS calls fail.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Refused before it did anything: a throttling error (transient).
    Throttle,
    /// A conditional write whose condition the table says failed, though it might have held
    /// (other calls: throttled). Nothing is written.
    ConditionFails,
    /// Done, but its answer is lost: the caller gets an error (a resume: the SDK's retry found
    /// the task closed).
    LostAnswer,
    /// No answer within the client's timeout ([`TIMEOUT_MILLIS`], by the clock): an error, and
    /// nothing done.
    Timeout,
    /// The instance dies just before the call: the operation is aborted there, as Lambda
    /// aborts it, and whatever retries it runs it again from the start.
    Crash,
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Throttle => "throttled",
            Self::ConditionFails => "its condition fails",
            Self::LostAnswer => "done, its answer lost",
            Self::Timeout => "times out",
            Self::Crash => "the instance crashes before it",
        })
    }
}

/// How long a client waits for an answer before it gives up.
pub const TIMEOUT_MILLIS: u64 = 5_000;

/// A message the topic took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message: ReviewerMessage,
    /// Unix seconds.
    pub at: u64,
    /// The operation that published it ([`State::current`]).
    pub by: usize,
}

/// A fault that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub call: Call,
    pub fault: Fault,
    pub by: usize,
}

/// Everything the in-memory ports hold: what the system holds ([`Observable`], its fields read
/// through `State` itself), the clock, and the bookkeeping of faults and operations.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub system: Observable,
    /// Milliseconds since the epoch.
    pub now_millis: u64,
    /// Link ids given so far.
    pub ids_given: u64,
    /// Faults for the next calls of their kind, the first matching one taken.
    pub armed: Vec<(Call, Fault)>,
    /// Faults that fired, in order.
    pub fired: Vec<Fired>,
    /// Set by a crash: the operation being polled must be dropped.
    pub crashed: bool,
    /// The operation being polled (its number), for the record of who did what.
    pub current: usize,
}

/// The Slack app's workspace in memory: its users, the request messages as they stand, what
/// went in their threads, what users were told, the modals opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlackWorkspace {
    /// Whether the chat is the app (a webhook otherwise).
    pub app: bool,
    pub signing_secret: String,
    /// User id → profile email.
    pub users: BTreeMap<String, String>,
    /// Message ts → its payload as it stands.
    pub messages: BTreeMap<String, Value>,
    /// (Parent ts, payload) in order.
    pub threads: Vec<(String, Value)>,
    /// (User, text) in order.
    pub told: Vec<(String, String)>,
    pub modals: Vec<Value>,
}

/// What the system holds, without the clock and the bookkeeping of faults and operations: what
/// a `GET` must leave as it found it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observable {
    pub approvals: BTreeMap<ApprovalId, Approval>,
    pub links: BTreeMap<LinkKey, LinkItem>,
    pub published: Vec<Published>,
    pub posts: Vec<Value>,
    /// The Teams cards posted, in order.
    pub teams_posts: Vec<Value>,
    /// The Slack app's workspace, when the chat is the app.
    pub slack: SlackWorkspace,
    /// Name → (Unix second it is due, its input).
    pub schedules: BTreeMap<String, (u64, Value)>,
    /// By ARN.
    pub executions: BTreeMap<String, Execution>,
    /// Every decision sent, in order.
    pub resumes: Vec<Resume>,
}

impl std::ops::Deref for State {
    type Target = Observable;

    fn deref(&self) -> &Observable {
        &self.system
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut Observable {
        &mut self.system
    }
}

impl State {
    /// Unix seconds now.
    pub fn now(&self) -> u64 {
        self.now_millis / 1000
    }

    /// The system's state, for comparison.
    pub fn observable(&self) -> Observable {
        self.system.clone()
    }

    /// The fault armed for `call`, taken.
    fn take_fault(&mut self, call: Call) -> Option<Fault> {
        let index = self.armed.iter().position(|(c, _)| *c == call)?;
        let (_, fault) = self.armed.remove(index);
        self.fired.push(Fired {
            call,
            fault,
            by: self.current,
        });
        Some(fault)
    }
}

/// What a port call came to.
pub enum Outcome<R> {
    /// It acted and answered.
    Done(R),
    /// It failed with this one-line error, having done nothing.
    Failed(String),
    /// It acted, and its answer was lost: the caller gets this one-line error.
    Lost(String),
    /// A conditional write refused by an injected [`Fault::ConditionFails`].
    ConditionFailed,
}

/// A handle on the shared state; every in-memory port holds one.
#[derive(Clone, Default)]
pub struct World(Rc<RefCell<State>>);

impl World {
    /// A world whose clock reads `now` (Unix seconds).
    pub fn at(now: u64) -> Self {
        let world = Self::default();
        world.with(|s| s.now_millis = now * 1000);
        world
    }

    /// Runs `f` on the state.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }

    /// Arms `fault` for the next call of kind `call`.
    pub fn arm(&self, call: Call, fault: Fault) {
        self.with(|s| s.armed.push((call, fault)));
    }

    /// One port call: a step boundary, then the armed fault or `effect`.
    pub async fn call<R>(&self, call: Call, effect: impl FnOnce(&mut State) -> R) -> Outcome<R> {
        Step::default().await;
        let fault = self.with(|s| s.take_fault(call));
        match fault {
            None => Outcome::Done(self.with(effect)),
            Some(Fault::Throttle) => Outcome::Failed(format!("{call:?}: ThrottlingException")),
            Some(Fault::ConditionFails) => Outcome::ConditionFailed,
            Some(Fault::LostAnswer) => {
                self.with(effect);
                Outcome::Lost(format!("{call:?}: the answer was lost"))
            }
            Some(Fault::Timeout) => {
                self.with(|s| s.now_millis += TIMEOUT_MILLIS);
                Outcome::Failed(format!("{call:?}: timed out"))
            }
            Some(Fault::Crash) => {
                self.with(|s| s.crashed = true);
                std::future::pending().await
            }
        }
    }
}

/// A future that is pending once (waking itself), then ready: where another operation may run.
#[derive(Default)]
pub struct Step(bool);

impl Future for Step {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
