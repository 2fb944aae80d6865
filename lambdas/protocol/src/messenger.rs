//! What sends reviewers their links: shared by the request and the reminder.

use hitl_core::{Approval, Link};

use crate::{
    failure::Failure,
    ports::{Clock, Ids, Notifier},
    settings::Settings,
    table::{RequestTable, Written},
};

/// The ports that store a link and send it, with the settings that say where links point and
/// who is escalated to. The remind function is one of these; the request side adds a scheduler
/// and a chat channel (`Requester`).
pub struct Messenger<T, N, K, I> {
    pub table: T,
    pub notifier: N,
    pub clock: K,
    pub ids: I,
    pub settings: Settings,
}

impl<T: RequestTable, N: Notifier, K: Clock, I: Ids> Messenger<T, N, K, I> {
    /// A fresh link for `reviewer` to `approval`, its item stored. A fresh link per message:
    /// the table keeps only its digest, so a retry cannot send the same link again, and a
    /// reviewer whose message never went out never had one.
    pub async fn new_link(&self, approval: &Approval, reviewer: &str) -> Result<Link, Failure> {
        let (link, item) = approval.link(self.ids.link_id(), reviewer);
        match self.table.put_link(&item).await? {
            Written::Done => Ok(link),
            Written::ConditionFailed => {
                Err(Failure::transient("a new link's key is taken: try again"))
            }
        }
    }
}
