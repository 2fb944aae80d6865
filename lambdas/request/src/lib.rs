//! The request side of the approval protocol, shared by the two orchestrators: the `request`
//! function (Step Functions' approval task) and the durable `workflow` function, whose callback
//! submitter stores and notifies through the same [`handler::request_approval`].

pub mod ending;
pub mod handler;
pub mod settings;
pub mod slack;
pub mod store;
