//! The request side: store the approval (or find it stored), send each reviewer who has not had
//! his message his own link, post to the chat once, schedule the nudges. What both orchestrators
//! do before they wait.

use hitl_core::{
    Approval, ApprovalKey, ApprovalRequest, RequestError, TaskToken, attachment,
    message::{link_url, reviewer_message, slack_payload},
    slack,
    teams::teams_payload,
};
use serde_json::{Value, json};

use crate::{
    failure::Failure,
    messenger::Messenger,
    ports::{Chat, Clock, Ids, Notifier, Scheduler, Teams},
    store::{Stored, store},
    table::{RequestTable, Written},
};

/// The request side's ports: a [`Messenger`] (with the optional chat channel), the scheduler
/// of the nudges, and the optional Teams channel.
pub struct Requester<T, N, S, C, K, I, W> {
    pub messenger: Messenger<T, N, K, I, C>,
    pub scheduler: S,
    pub teams: Option<W>,
}

impl<T, N, S, C, K, I, W> Requester<T, N, S, C, K, I, W> {
    /// A new record for `request` under the settings' reviewers, quorum, timeout and
    /// retention; refused when an attachment is in a bucket the stack may not read.
    pub fn new_approval(
        &self,
        token: TaskToken,
        attempt: Option<u32>,
        key: &ApprovalKey,
        request: ApprovalRequest,
        now: u64,
    ) -> Result<Approval, RequestError> {
        let settings = &self.messenger.settings;
        attachment::check_buckets(&request.attachments, &settings.attachment_buckets)
            .map_err(RequestError::Attachment)?;
        Approval::new(
            token,
            attempt,
            key,
            request,
            &settings.reviewers,
            now,
            settings.approval_timeout_secs,
            settings.retention_secs,
        )?
        .with_quorum(settings.quorum)
    }
}

/// The task's answer: `{approvalId, expiresAt}`.
fn answer(approval: &Approval) -> Value {
    json!({ "approvalId": approval.id.as_str(), "expiresAt": approval.expires_at })
}

impl<T, N, S, C, K, I, W> Requester<T, N, S, C, K, I, W>
where
    T: RequestTable,
    N: Notifier,
    S: Scheduler,
    C: Chat,
    K: Clock,
    I: Ids,
    W: Teams,
{
    /// Stores `approval` (or finds it stored by an earlier invocation) and sends each reviewer
    /// who has not had his message yet his own link: what both orchestrators do before they
    /// wait. The answer is `{approvalId, expiresAt}`.
    pub async fn request_approval(&self, approval: &Approval, now: u64) -> Result<Value, Failure> {
        let stored = store(&self.messenger.table, approval, now).await?;
        let attempt = stored.attempt();
        let approval = match &stored {
            Stored::New(a) | Stored::Again(a) | Stored::Refreshed(a) => a,
            Stored::Superseded(_) | Stored::Closed(_) | Stored::Conflict(_) => {
                return not_sent(&stored);
            }
        };
        if let Stored::New(_) = &stored {
            crate::measures::requested();
        }
        let sent = self.notify(approval, now).await?;
        let chat = self.messenger.chat.as_ref();
        let slack = match chat {
            Some(chat) => self.notify_chat(chat, approval, now).await?,
            None => "off",
        };
        let teams = match &self.teams {
            Some(teams) => self.notify_teams(teams, approval, now).await?,
            None => "off",
        };
        // After the messages, and never failing the approval: each schedule that cannot be
        // made is logged and counted for its alarm (see `Schedules::make`).
        let app = chat.is_some_and(|c| c.is_app());
        let unscheduled = match &self.messenger.settings.schedules {
            Some(schedules) => schedules
                .make(&self.scheduler, approval, app, now)
                .await
                .len(),
            None => 0,
        };
        tracing::info!(
            approval = %approval.id,
            reviewers = approval.reviewers.len(),
            sent,
            attempt,
            slack,
            teams,
            unscheduled,
            "approval requested"
        );
        Ok(answer(approval))
    }

    /// Sends each reviewer who has not had his message his own link, and marks it sent.
    async fn notify(&self, approval: &Approval, now: u64) -> Result<usize, Failure> {
        let messenger = &self.messenger;
        let mut sent = 0;
        for reviewer in approval.unnotified() {
            let link = messenger.new_link(approval, reviewer).await?;
            let base = &messenger.settings.review_base_url;
            let message = reviewer_message(approval, &link, base, now);
            messenger
                .notifier
                .publish(&message)
                .await
                .map_err(Failure::transient)?;
            let marked = messenger
                .table
                .mark_notified(&approval.id, reviewer, now)
                .await?;
            if marked == Written::ConditionFailed {
                return Err(Failure::transient(
                    "the approval vanished while it was sent",
                ));
            }
            sent += 1;
        }
        Ok(sent)
    }

    /// Posts the request to the chat once per approval: the webhook's text names who was asked
    /// (`slack_payload`), with the channel link when reviewers sign in; the app's message has
    /// the buttons (`slack::message`). Email is the channel of record: a chat failure is logged
    /// and does not fail the request.
    async fn notify_chat(
        &self,
        chat: &C,
        approval: &Approval,
        now: u64,
    ) -> Result<&'static str, Failure> {
        let messenger = &self.messenger;
        let current = messenger.table.approval(&approval.id).await?;
        if current.is_some_and(|a| a.slack_sent_at.is_some()) {
            return Ok("already sent");
        }
        let payload = match chat.is_app() {
            true => slack::message(approval, now),
            false => slack_payload(approval, now, self.channel_link(approval).await?.as_deref()),
        };
        match chat.post(&payload, None).await {
            Ok(at) => match (messenger.table)
                .mark_slack_sent(&approval.id, now, at.as_ref())
                .await?
            {
                Written::Done => Ok("sent"),
                Written::ConditionFailed => Err(Failure::transient(
                    "the approval vanished while it was posted",
                )),
            },
            Err(error) => {
                tracing::warn!(approval = %approval.id, %error, "Slack notification failed");
                crate::measures::notification_failed("slack");
                Ok("failed")
            }
        }
    }
}

impl<T, N, S, C, K, I, W> Requester<T, N, S, C, K, I, W>
where
    T: RequestTable,
    N: Notifier,
    K: Clock,
    I: Ids,
    W: Teams,
{
    /// A fresh channel link's URL for a shared channel's message when reviewers sign in (its
    /// item stored); none without sign-in, where a shared channel gets no link at all.
    async fn channel_link(&self, approval: &Approval) -> Result<Option<String>, Failure> {
        let messenger = &self.messenger;
        if !messenger.settings.sign_in {
            return Ok(None);
        }
        let link = messenger.new_channel_link(approval).await?;
        Ok(Some(link_url(
            &messenger.settings.review_base_url,
            &link.id,
        )))
    }

    /// Posts the request to Teams once per approval (`teams_payload`): with sign-in, with the
    /// channel link; without, naming who was asked. A failure is logged and does not fail the
    /// request, as with Slack.
    async fn notify_teams(
        &self,
        teams: &W,
        approval: &Approval,
        now: u64,
    ) -> Result<&'static str, Failure> {
        let table = &self.messenger.table;
        let current = table.approval(&approval.id).await?;
        if current.is_some_and(|a| a.teams_sent_at.is_some()) {
            return Ok("already sent");
        }
        let link = self.channel_link(approval).await?;
        let card = teams_payload(approval, link.as_deref(), now);
        if let Err(error) = teams.post(&card).await {
            tracing::warn!(approval = %approval.id, %error, "Teams notification failed");
            crate::measures::notification_failed("teams");
            return Ok("failed");
        }
        match table.mark_teams_sent(&approval.id, now).await? {
            Written::Done => Ok("sent"),
            Written::ConditionFailed => Err(Failure::transient(
                "the approval vanished while it was posted",
            )),
        }
    }
}

/// The answer when this invocation may not send: a conflict is refused, a late attempt sends
/// nothing (the later one sends what is missing; an earlier one must not send with its token),
/// and an approval closed under an earlier attempt's token ends this one now rather than after
/// its timeout (nobody can decide for it).
fn not_sent(stored: &Stored) -> Result<Value, Failure> {
    let approval = stored.approval();
    match stored {
        Stored::Conflict(_) => Err(Failure::invalid(
            "another request already holds this approval (same execution, state and entry \
             time): inside a Map, pass approvalKey: $$.Map.Item.Index",
        )),
        Stored::Superseded(_) => {
            tracing::warn!(approval = %approval.id, attempt = stored.attempt(), "sent nothing");
            Ok(answer(approval))
        }
        _ => {
            tracing::warn!(approval = %approval.id, status = approval.status.as_str(), "the approval is closed");
            Err(Failure::expired(format!(
                "the approval closed ({}) before this attempt of the task reached it",
                approval.status.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests;
