//! The approval protocol behind ports, written once for every function and both orchestrators.
//!
//! `hitl-core` holds the pure rules (records, ballots, pages, messages); this crate holds what
//! the functions do with them, against small traits for what they use: the approvals table
//! ([`table`]: reads, and conditional writes answering [`Written::ConditionFailed`] when the
//! table refuses their condition), the reviewers' topic, the chat channel, the orchestrator a
//! decision resumes, the scheduler of nudges, the clock and the link ids ([`ports`]). The
//! functions are adapters: the SDK's implementations of the ports (`hitl-aws`, and the
//! review function's orchestrator) and the event plumbing; no protocol decision is left in
//! them.
//!
//! - The request side ([`Requester::request_approval`]): store the approval or find it stored
//!   ([`store`]), send whoever has not had his message a fresh link of his own, post to the chat
//!   once, schedule the nudges ([`Schedules::make`]; one that cannot be made never fails the
//!   approval).
//! - The decision side ([`Reviewer`]): `GET` shows and changes nothing; `POST` votes under the
//!   quorum or claims, resumes the orchestrator, and settles the record with its answer; a task
//!   found gone is resent with a newer token, or settled from how its execution ended.
//! - The Slack app ([`Reviewer::interaction`]): a signed click by a reviewer decides as him,
//!   through the same claim → send → settle; the channel message is kept current.
//! - The reminder ([`Messenger::nudge`]): mark the record, then send. The expiry check
//!   ([`Messenger::expiry`]): close what nobody decided, and settle a record its execution
//!   outlived from how the execution ended.
//! - The ending ([`ending::announce`]).
//!
//! With the `testing` feature (and in its own tests), [`testing`] has an in-memory
//! implementation of every port that fails the way AWS fails.

// The ports are used with concrete types (the SDK adapters, the in-memory ones), whose futures'
// `Send` shows through; no caller needs a `Send` bound on a generic port's future.
#![allow(async_fn_in_trait)]

mod decide;
pub mod ending;
pub mod failure;
mod interact;
pub mod measures;
pub mod messenger;
pub mod ports;
mod remind;
pub mod request;
pub mod review;
pub mod reviewer;
pub mod schedule;
mod send;
pub mod settings;
pub mod sign_in;
pub mod store;
pub mod table;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod model;

pub use failure::Failure;
pub use messenger::Messenger;
pub use ports::{
    Chat, Clock, Executions, IdentityProvider, Ids, Notifier, Orchestrator, Pause, Scheduled,
    Scheduler, SlackApp, Teams, Tokens,
};
pub use remind::Expiry;
pub use request::Requester;
pub use review::Download;
pub use reviewer::Reviewer;
pub use schedule::Schedules;
pub use settings::Settings;
pub use store::Stored;
pub use table::{DecisionTable, RequestTable, Table, TableError, Written};
