//! What sends reviewers their links: shared by the request and the reminder.

use hitl_core::{Approval, Link, LinkItem, slack};

use crate::{
    failure::Failure,
    ports::{Chat, Clock, Ids, Notifier},
    settings::Settings,
    table::{RequestTable, Written},
};

/// The ports that store a link and send it, with the settings that say where links point and
/// who is escalated to, and the optional chat channel. The remind function is one of these; the
/// request side adds a scheduler (`Requester`).
pub struct Messenger<T, N, K, I, C> {
    pub table: T,
    pub notifier: N,
    pub clock: K,
    pub ids: I,
    pub chat: Option<C>,
    pub settings: Settings,
}

impl<T: RequestTable, N: Notifier, K: Clock, I: Ids, C> Messenger<T, N, K, I, C> {
    /// A fresh link for `reviewer` to `approval`, its item stored. A fresh link per message:
    /// the table keeps only its digest, so a retry cannot send the same link again, and a
    /// reviewer whose message never went out never had one.
    pub async fn new_link(&self, approval: &Approval, reviewer: &str) -> Result<Link, Failure> {
        self.store_link(approval.link(self.ids.link_id(), reviewer))
            .await
    }

    /// A fresh channel link to `approval` (`Approval::channel_link`), its item stored.
    pub async fn new_channel_link(&self, approval: &Approval) -> Result<Link, Failure> {
        self.store_link(approval.channel_link(self.ids.link_id()))
            .await
    }

    async fn store_link(&self, (link, item): (Link, LinkItem)) -> Result<Link, Failure> {
        match self.table.put_link(&item).await? {
            Written::Done => Ok(link),
            Written::ConditionFailed => {
                Err(Failure::transient("a new link's key is taken: try again"))
            }
        }
    }
}

/// Replaces the Slack app's message of `approval` with how it stands at `now`; a failure is
/// logged (the record, and the page, are the truth). Whether it was updated.
pub async fn refresh(chat: &impl Chat, approval: &Approval, now: u64) -> bool {
    let Some(message) = approval.slack_message.as_ref().filter(|_| chat.is_app()) else {
        return false;
    };
    match chat.update(message, &slack::message(approval, now)).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(approval = %approval.id, %error, "the Slack message could not be updated");
            crate::measures::notification_failed("slack");
            false
        }
    }
}
