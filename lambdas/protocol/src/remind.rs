//! A reminder or an escalation, when its schedule fires: the record is marked first (at most
//! once, only while open: [`RequestTable::mark_nudged`]), then each addressee gets a message
//! with a fresh link of his own. A decided or expired approval sends nothing; so does a schedule
//! that fires again.

use hitl_core::{
    Approval, ApprovalId, AtExpiry, Nudge, Status, at_expiry, message::nudge_message, nudged, slack,
};

use crate::{
    failure::Failure,
    messenger::{self, Messenger},
    ports::{Chat, Clock, Ids, Notifier},
    table::{RequestTable, Written},
};

/// What an approval's expiry schedule came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Closed as `expired`: nobody decided in time.
    pub closed: bool,
    /// Open in a way only its execution tells how to settle: counted, logged, alarmed on.
    pub unsettled: bool,
    /// The Slack app's message brought up to date.
    pub updated: bool,
}

impl<T: RequestTable, N, K: Clock, I, C: Chat> Messenger<T, N, K, I, C> {
    /// An approval's expiry schedule, at its expiry and [`hitl_core::EXPIRY_CHECK_SECS`]
    /// after: what [`at_expiry`] says is done, then the Slack app's message is brought up to
    /// date. A record left open past its expiry is thus one the protocol could not close,
    /// counted ([`crate::measures::UNSETTLED`]) for its alarm.
    pub async fn expiry(&self, approval_id: &str) -> Result<Expiry, Failure> {
        let now = self.clock.now();
        let found = match ApprovalId::parse(approval_id) {
            Some(id) => self.table.approval(&id).await?,
            None => None,
        };
        let Some(mut approval) = found else {
            return Ok(Expiry::default());
        };
        let mut expiry = Expiry::default();
        match at_expiry(&approval, now) {
            AtExpiry::Nothing => {}
            AtExpiry::Close => {
                expiry.closed = self.table.close_expired(&approval.id, now).await? == Written::Done;
                if expiry.closed {
                    approval.status = Status::Expired;
                }
            }
            AtExpiry::Unsettled => {
                tracing::error!(
                    approval = %approval.id,
                    execution = %approval.execution_arn,
                    status = approval.status.as_str(),
                    lost_claims = approval.lost_claims.len(),
                    "an approval is still open past its expiry: its execution tells how it ended"
                );
                crate::measures::unsettled();
                expiry.unsettled = true;
            }
        }
        if let Some(chat) = &self.chat {
            expiry.updated = messenger::refresh(chat, &approval, now).await;
        }
        Ok(expiry)
    }
}

impl<T: RequestTable, N: Notifier, K: Clock, I: Ids, C: Chat> Messenger<T, N, K, I, C> {
    /// Sends `nudge` for the approval `approval_id` to whoever [`nudged`] names, if this call
    /// is the one that marks it sent. Returns how many messages went out.
    pub async fn nudge(&self, approval_id: &str, nudge: Nudge) -> Result<usize, Failure> {
        let now = self.clock.now();
        let found = match ApprovalId::parse(approval_id) {
            Some(id) => self.table.approval(&id).await?,
            None => None,
        };
        let Some(approval) = found else {
            tracing::info!(approval = %approval_id, "no such approval: nothing to send");
            return Ok(0);
        };
        let who = nudged(&approval, nudge, &self.settings.escalate_to, now);
        if who.is_empty()
            || self.table.mark_nudged(&approval.id, nudge, now).await? == Written::ConditionFailed
        {
            tracing::info!(approval = %approval.id, nudge = nudge.as_str(), status = approval.status.as_str(), "closed, or sent before: nothing to send");
            return Ok(0);
        }
        let mut sent = 0;
        for addressee in &who {
            let link = self.new_link(&approval, addressee).await?;
            let base = &self.settings.review_base_url;
            let message = nudge_message(&approval, &link, base, nudge, now);
            // Marked already: a failure is logged and the others still get theirs (at most
            // once).
            match self.notifier.publish(&message).await {
                Ok(()) => sent += 1,
                Err(error) => {
                    tracing::error!(approval = %approval.id, %error, "a nudge could not be sent");
                    crate::measures::notification_failed("email");
                }
            }
        }
        self.nudge_in_thread(&approval, nudge, &who, now).await;
        tracing::info!(approval = %approval.id, nudge = nudge.as_str(), sent, "nudged");
        Ok(sent)
    }

    /// The nudge in the thread of the Slack app's message (the email is the channel of
    /// record: a failure is logged).
    async fn nudge_in_thread(&self, approval: &Approval, nudge: Nudge, who: &[String], now: u64) {
        let (Some(chat), Some(at)) = (&self.chat, &approval.slack_message) else {
            return;
        };
        if !chat.is_app() {
            return;
        }
        let escalated = (nudge == Nudge::Escalate).then_some(who);
        let text = slack::nudge_text(approval, escalated, now);
        if let Err(error) = chat.post(&text, Some(at)).await {
            tracing::warn!(approval = %approval.id, %error, "the nudge could not be posted in Slack");
            crate::measures::notification_failed("slack");
        }
    }
}

#[cfg(test)]
mod tests {
    use hitl_core::{EXPIRY_CHECK_SECS, Nudge, Status, TaskToken};

    use crate::testing::{World, measured, requested, run, settings};

    const NOW: u64 = 1_750_000_000;

    #[test]
    fn a_reminder_goes_once_to_who_has_not_voted_however_often_it_fires() {
        let world = World::at(NOW);
        let token = TaskToken::new("token").expect("a token");
        let approval = requested(&world, "arn:execution", token, NOW);
        world.with(|s| s.now_millis += 120_000);
        let messenger = world.messenger(settings());
        let id = approval.id.as_str();
        let sent = run(&world, 2, messenger.nudge(id, Nudge::Remind)).expect("no crash");
        assert_eq!(sent, Ok(3));
        let again = run(&world, 3, messenger.nudge(id, Nudge::Remind)).expect("no crash");
        assert_eq!(again, Ok(0));
        let reminders = world.with(|s| {
            s.published
                .iter()
                .filter(|m| m.message.subject.starts_with("Reminder: "))
                .count()
        });
        assert_eq!(reminders, 3);
        let unknown =
            run(&world, 4, messenger.nudge("nosuchid", Nudge::Escalate)).expect("no crash");
        assert_eq!(unknown, Ok(0));
    }

    /// At the expiry a record nobody decided is closed; at the last check a claim still held
    /// (its function died) is counted for the alarm, and left for the execution to tell.
    #[test]
    fn the_expiry_check_closes_what_nobody_decided_and_counts_a_claim_left_held() {
        for stuck in [false, true] {
            let world = World::at(NOW);
            let token = TaskToken::new("token").expect("a token");
            let approval = requested(&world, "arn:execution", token, NOW);
            if stuck {
                world.with(|s| {
                    let record = s.approvals.get_mut(&approval.id).unwrap();
                    record.status = Status::Deciding;
                    record.claimed_at = Some(NOW + 30);
                });
            }
            let messenger = world.messenger(settings());
            let id = approval.id.as_str();
            let early = run(&world, 2, messenger.expiry(id)).expect("no crash");
            assert_eq!(early, Ok(super::Expiry::default()), "before the expiry");
            let last = (approval.expires_at + EXPIRY_CHECK_SECS - NOW) * 1000;
            world.with(|s| s.now_millis += last);
            let (expiry, counted) = measured(|| run(&world, 3, messenger.expiry(id)));
            let expiry = expiry.expect("no crash").expect("checked");
            assert_eq!((expiry.closed, expiry.unsettled), (!stuck, stuck));
            assert_eq!(counted.count("UnsettledApprovals"), u64::from(stuck));
            let status = world.with(|s| s.approvals[&approval.id].status);
            let left = if stuck {
                Status::Deciding
            } else {
                Status::Expired
            };
            assert_eq!(status, left);
        }
    }
}
