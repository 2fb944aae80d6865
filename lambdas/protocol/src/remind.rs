//! A reminder or an escalation, when its schedule fires: the record is marked first (at most
//! once, only while open: [`RequestTable::mark_nudged`]), then each addressee gets a message
//! with a fresh link of his own. A decided or expired approval sends nothing; so does a schedule
//! that fires again.

use hitl_core::{
    Approval, ApprovalId, AtExpiry, ExecutionState, Nudge, Settlement, Status, Transition,
    at_expiry, message::nudge_message, nudged, settlement, slack,
};

use crate::{
    failure::Failure,
    messenger::{self, Messenger},
    ports::{Chat, Clock, Executions, Ids, Notifier},
    table::{DecisionTable, RequestTable, Written},
};

/// What an approval's expiry schedule came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Closed as `expired`: nobody decided in time.
    pub closed: bool,
    /// Open past its expiry, and settled from how its execution ended: the status written.
    pub settled: Option<Status>,
    /// Open in a way not even its execution tells how to settle: counted, logged, alarmed on.
    pub unsettled: bool,
    /// The Slack app's message brought up to date.
    pub updated: bool,
}

impl<T: RequestTable + DecisionTable, N, K: Clock, I, C: Chat> Messenger<T, N, K, I, C> {
    /// An approval's expiry schedule, at its expiry and [`hitl_core::EXPIRY_CHECK_SECS`]
    /// after: what [`at_expiry`] says is done, then the Slack app's message is brought up to
    /// date. A record still open at the last check is settled from how its execution ended
    /// (`executions`, [`settlement`]); one that even the execution cannot settle is counted
    /// ([`crate::measures::UNSETTLED`]) for its alarm.
    pub async fn expiry(
        &self,
        approval_id: &str,
        executions: &impl Executions,
    ) -> Result<Expiry, Failure> {
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
                let state = executions.state(&approval.execution_arn).await;
                approval = self
                    .settled_by(approval, state.as_ref(), &mut expiry)
                    .await?;
            }
        }
        if let Some(chat) = &self.chat {
            expiry.updated = messenger::refresh(chat, &approval, now).await;
        }
        Ok(expiry)
    }

    /// `approval` settled from how its execution stands (`state`, [`settlement`]). A write
    /// refused (the record changed since it was read: a press meanwhile) is weighed again once
    /// on the record as it is now; a record this leaves open is counted, since no check comes
    /// after. The record as it ends.
    async fn settled_by(
        &self,
        mut approval: Approval,
        state: Option<&ExecutionState>,
        expiry: &mut Expiry,
    ) -> Result<Approval, Failure> {
        for _ in 0..2 {
            if !approval.status.is_open() {
                return Ok(approval);
            }
            let Some(settled) = settlement(&approval, state) else {
                break;
            };
            if self.settle(&approval, &settled).await? == Written::Done {
                apply(&mut approval, &settled);
                expiry.settled = Some(approval.status);
                tracing::warn!(approval = %approval.id, status = approval.status.as_str(), "an approval left open past its expiry, settled from how its execution ended");
                return Ok(approval);
            }
            match self.table.approval(&approval.id).await? {
                Some(current) => approval = current,
                None => return Ok(approval),
            }
        }
        if approval.status.is_open() {
            unsettled(&approval);
            expiry.unsettled = true;
        }
        Ok(approval)
    }

    /// Writes `settled` to the record of `approval` as read: a claim it holds is settled as the
    /// review function would have ([`DecisionTable::settle`], [`DecisionTable::settle_taken`]),
    /// a pending one with its lost claims ([`DecisionTable::settle_lost`]).
    async fn settle(&self, approval: &Approval, settled: &Settlement) -> Result<Written, Failure> {
        let table = &self.table;
        let written = match (settled, approval.claim()) {
            (Settlement::Held(held), _) => {
                table
                    .settle(approval, held, Transition::Finalise(held.decision))
                    .await
            }
            (Settlement::Lost(taken), Some(held)) => {
                table.settle_taken(approval, &held, taken).await
            }
            (Settlement::Lost(taken), None) => table.settle_lost(approval, Some(taken)).await,
            (Settlement::Expired, Some(held)) => {
                table.settle(approval, &held, Transition::Expire).await
            }
            (Settlement::Expired, None) => table.settle_lost(approval, None).await,
        };
        Ok(written?)
    }
}

/// `settled`, as [`Messenger::settle`] wrote it, applied to the record in memory.
fn apply(approval: &mut Approval, settled: &Settlement) {
    match settled {
        Settlement::Held(held) => approval.apply(Transition::Finalise(held.decision)),
        Settlement::Lost(taken) => approval.apply_taken(taken),
        Settlement::Expired => approval.apply(Transition::Expire),
    }
}

/// A record nobody can settle: logged and counted for its alarm.
fn unsettled(approval: &Approval) {
    tracing::error!(
        approval = %approval.id,
        execution = %approval.execution_arn,
        status = approval.status.as_str(),
        lost_claims = approval.lost_claims.len(),
        "an approval is still open past its expiry, and its execution does not tell how it ended"
    );
    crate::measures::unsettled();
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
    use hitl_core::{
        Approval, Claim, Decision, EXPIRY_CHECK_SECS, LinkId, Nudge, Status, TaskToken, Transition,
    };

    use crate::testing::{
        Call, Execution, Fault, Measured, World, measured, requested, run, settings,
    };

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
    /// while its execution still runs (it should have timed out) is counted for the alarm.
    #[test]
    fn the_expiry_check_closes_what_nobody_decided_and_counts_a_claim_left_held() {
        for stuck in [false, true] {
            let (world, approval) = waiting(86_400);
            if stuck {
                held_by_a_dead_function(&world, &approval);
            }
            let messenger = world.messenger(settings());
            let executions = world.reviewer(true).orchestrator;
            let id = approval.id.as_str();
            let early = run(&world, 2, messenger.expiry(id, &executions)).expect("no crash");
            assert_eq!(early, Ok(super::Expiry::default()), "before the expiry");
            let (expiry, counted) = last_check(&world, &approval);
            assert_eq!((expiry.closed, expiry.unsettled), (!stuck, stuck));
            assert_eq!(expiry.settled, None);
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

    /// A decision the orchestrator took whose settle was throttled past every retry leaves the
    /// record `deciding`: the last check finds the decision in the execution's end and writes
    /// it as the review function would have. No alarm.
    #[test]
    fn a_record_left_deciding_is_settled_from_the_executions_end() {
        let (world, approval) = waiting(600);
        for _ in 0..4 {
            world.arm(Call::Settle, Fault::Throttle);
        }
        let link = first_link(&world);
        let reviewer = world.reviewer(true);
        let post = reviewer.post(&link, b"decision=approve&comment=ship+it");
        let (code, _) = run(&world, 2, post).expect("no crash");
        assert_eq!(code, 200, "the orchestrator took it");
        let held = world.with(|s| s.approvals[&approval.id].clone());
        assert_eq!(held.status, Status::Deciding, "the settle never landed");
        let (expiry, counted) = last_check(&world, &approval);
        assert_eq!(expiry.settled, Some(Status::Approved));
        assert!(!expiry.unsettled);
        assert_eq!(counted.count("UnsettledApprovals"), 0);
        let record = world.with(|s| s.approvals[&approval.id].clone());
        let mut expected = held;
        expected.apply(Transition::Finalise(Decision::Approved));
        assert_eq!(record, expected);
        assert_eq!(record.comment.as_deref(), Some("ship it"));
    }

    /// A decision whose answer was lost while the workflow ran on is kept among the lost
    /// claims of a `pending` record; nobody pressed since. The last check finds it taken.
    #[test]
    fn a_lost_claim_nobody_found_is_settled_from_the_executions_end() {
        let (world, approval) = waiting(600);
        world.with(|s| s.executions.get_mut(ARN).unwrap().linger_secs = 30);
        world.arm(Call::Resume, Fault::LostAnswer);
        let link = first_link(&world);
        let reviewer = world.reviewer(true);
        let (code, _) = run(
            &world,
            2,
            reviewer.post(&link, b"decision=reject&comment=no"),
        )
        .expect("no crash");
        assert_eq!(code, 503, "cannot tell yet");
        let lost = world.with(|s| s.approvals[&approval.id].clone());
        assert_eq!((lost.status, lost.lost_claims.len()), (Status::Pending, 1));
        let (expiry, counted) = last_check(&world, &approval);
        assert_eq!(expiry.settled, Some(Status::Rejected));
        assert_eq!(counted.count("UnsettledApprovals"), 0);
        let record = world.with(|s| s.approvals[&approval.id].clone());
        let mut expected = lost.clone();
        expected.apply_taken(&lost.lost_claims[0]);
        assert_eq!(record, expected);
        assert!(record.lost_claims.is_empty());
    }

    /// A write the table refuses (the record changed since it was read) is weighed again on
    /// the record as it is now; refused again, a record still open is counted, since no check
    /// comes after.
    #[test]
    fn a_settle_refused_is_weighed_again_then_counted() {
        for refusals in [1, 2] {
            let (world, approval) = waiting(600);
            held_by_a_dead_function(&world, &approval);
            for _ in 0..refusals {
                world.arm(Call::Settle, Fault::ConditionFails);
            }
            let (expiry, counted) = last_check(&world, &approval);
            let settled = (refusals == 1).then_some(Status::Expired);
            assert_eq!((expiry.settled, expiry.unsettled), (settled, refusals == 2));
            assert_eq!(
                counted.count("UnsettledApprovals"),
                u64::from(refusals == 2)
            );
        }
    }

    /// A claim held by a function that died, while the execution took its timeout branch:
    /// the record expires with it.
    #[test]
    fn a_claim_left_held_past_an_expired_execution_expires() {
        let (world, approval) = waiting(600);
        held_by_a_dead_function(&world, &approval);
        let (expiry, counted) = last_check(&world, &approval);
        assert_eq!(expiry.settled, Some(Status::Expired));
        assert_eq!(counted.count("UnsettledApprovals"), 0);
        let record = world.with(|s| s.approvals[&approval.id].clone());
        assert_eq!((record.status, record.claim()), (Status::Expired, None));
    }

    /// The first reviewer's claim of `approval`, held since 30 s after the request by a
    /// function that died before its send.
    fn held_by_a_dead_function(world: &World, approval: &Approval) {
        world.with(|s| {
            let record = s.approvals.get_mut(&approval.id).unwrap();
            record.apply_claim(&Claim {
                decision: Decision::Approved,
                comment: String::new(),
                reviewer: record.reviewers[0].clone(),
                at: NOW + 30,
                verified: None,
            });
        });
    }

    const ARN: &str = "arn:execution";

    /// A world where execution `ARN` (a state machine's, whose wait times out after
    /// `timeout_secs`) waits for an approval requested at `NOW`.
    fn waiting(timeout_secs: u64) -> (World, Approval) {
        let world = World::at(NOW);
        let mut execution = Execution::new(ARN, false, timeout_secs);
        let (token, _) = execution.begin_attempt(NOW).expect("a token");
        world.with(|s| s.executions.insert(ARN.to_owned(), execution));
        let approval = requested(&world, ARN, token, NOW);
        (world, approval)
    }

    /// The link of the first message sent.
    fn first_link(world: &World) -> LinkId {
        let body = world.with(|s| s.published[0].message.body.clone());
        let id = body.split("/approvals/").nth(1).and_then(|r| r.get(..26));
        id.and_then(LinkId::parse).expect("a link")
    }

    /// The expiry check's last run on `approval`, at its expiry and `EXPIRY_CHECK_SECS`, and
    /// what it counted.
    fn last_check(world: &World, approval: &Approval) -> (super::Expiry, Measured) {
        world.with(|s| s.now_millis = (approval.expires_at + EXPIRY_CHECK_SECS) * 1000);
        let messenger = world.messenger(settings());
        let executions = world.reviewer(true).orchestrator;
        let id = approval.id.as_str();
        let (expiry, counted) = measured(|| run(world, 9, messenger.expiry(id, &executions)));
        (expiry.expect("no crash").expect("checked"), counted)
    }
}
