//! The request side of the approval protocol, shared by the two orchestrators: the `request`
//! function (Step Functions' approval task) and the durable `workflow` function, whose callback
//! submitter stores and notifies through the same [`handler::request_approval`]; and the
//! `remind` function, which sends an approval's reminder and escalation when their schedules
//! ([`schedule`]) fire ([`remind::handle`]).

pub mod ending;
pub mod handler;
pub mod remind;
pub mod schedule;
pub mod settings;
pub mod slack;
pub mod store;
