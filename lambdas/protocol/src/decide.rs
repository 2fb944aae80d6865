//! A reviewer's POST: weigh his vote under the quorum, claim the record, send the decision
//! (`send`), settle the record with what the orchestrator answered. A decision is recorded only
//! once the orchestrator accepted it.

use hitl_core::{
    Approval, Claim, DecisionForm, LinkItem, LostClaim, SendOutcome, Status, Transition, Verified,
    form::{self, Refusal},
    page,
    rules::{self, Ballot, PostVerdict, after_send},
};

use crate::{
    messenger,
    ports::{Chat, Clock, Orchestrator, Pause},
    reviewer::Reviewer,
    send::Sent,
    table::{DecisionTable, TableError, Written},
};

/// The waits before settling a record again, in milliseconds (see `Reviewer::settle`).
const SETTLE_RETRY_MILLIS: [u64; 3] = [100, 400, 1_600];

/// What a reviewer's decision came to, before it is shown: as a page, or in Slack.
#[derive(Debug)]
pub(crate) enum Decided {
    /// Refused by the rules (never [`PostVerdict::Claim`]): unknown, expired, decided, or
    /// being decided; nothing changed.
    Refused(PostVerdict, Option<Approval>),
    /// He voted already; nothing changed.
    Voted(Approval),
    /// His approval counted, short of the quorum (the record as it is now).
    Counted(Approval),
    /// The table could not be read or written; nothing changed.
    Unavailable,
    /// Claimed and sent: the record settled with what the orchestrator answered.
    Sent(Approval, SendOutcome),
    /// Claimed and sent, and the task found closed by a claim given up earlier (its answer
    /// lost): the record settled with that one, as decided before this.
    Earlier(Approval),
}

/// The page for what a decision by `reviewer` (his `form`) came to.
fn page_of(decided: Decided, reviewer: &str, form: &DecisionForm, now: u64) -> (u16, String) {
    match decided {
        Decided::Refused(verdict, approval) => match (verdict, approval) {
            (PostVerdict::Expired, Some(a)) => page::expired(&a, now),
            (PostVerdict::AlreadyDecided, Some(a)) => page::decided(&a, now),
            (PostVerdict::BeingDecided | PostVerdict::Claim, Some(a)) => {
                page::being_decided(&a, now)
            }
            _ => page::not_found(),
        },
        Decided::Voted(a) => page::voted(&a, reviewer, now),
        Decided::Counted(a) => page::counted(&a, reviewer, now),
        Decided::Unavailable => page::unavailable(),
        Decided::Sent(a, SendOutcome::Accepted) => page::confirmation(&a, now),
        Decided::Sent(a, SendOutcome::TaskGone) => page::expired(&a, now),
        Decided::Sent(a, SendOutcome::Transient) => page::retry(&a, reviewer, form, now),
        Decided::Earlier(a) => page::decided(&a, now),
    }
}

/// How many times a vote that lost a race is weighed again before the page says the approval
/// is being decided.
const WEIGHINGS: usize = 3;

impl<T: DecisionTable, O: Orchestrator, K: Clock + Pause, S: Chat> Reviewer<T, O, K, S> {
    /// The decision in `body` by `link`'s reviewer on `approval` (as read), `verified` when he
    /// signed in: the page to answer.
    pub(crate) async fn decide(
        &self,
        body: &[u8],
        link: &LinkItem,
        approval: Approval,
        verified: Option<Verified>,
    ) -> (u16, String) {
        let form = match form::parse(body) {
            Ok(form) => form,
            Err(error) => return page::refused(&Refusal::Form(error)),
        };
        let now = self.clock.now();
        let claim = Claim {
            decision: form.decision,
            comment: form.comment.clone(),
            reviewer: link.reviewer.clone(),
            at: now,
            verified,
        };
        let decided = self.decide_as(&claim, approval).await;
        page_of(decided, &link.reviewer, &form, now)
    }

    /// `claim` on `approval` (as read): weighed, claimed, sent and settled; the Slack app's
    /// message then updated when it changed anything.
    pub(crate) async fn decide_as(&self, claim: &Claim, approval: Approval) -> Decided {
        let decided = match self.cast(claim, approval, claim.at).await {
            Ok(claimed) => self.send_and_settle(claimed, claim).await,
            Err(decided) => decided,
        };
        if let Decided::Counted(a) | Decided::Sent(a, _) | Decided::Earlier(a) = &decided {
            self.refresh_chat(a).await;
        }
        decided
    }

    /// The Slack app's message of `approval`, brought up to date with its record.
    async fn refresh_chat(&self, approval: &Approval) {
        let Some(chat) = &self.slack else {
            return;
        };
        match self.table.approval(&approval.id).await {
            Ok(Some(current)) => {
                messenger::refresh(chat, &current, self.clock.now()).await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read the approval to update Slack"),
        }
    }

    /// Writes `transition` of the claim (finalised with `taken` instead, when the orchestrator
    /// took that lost claim), tried again on a failure that may pass (a throttle, a service
    /// error, past the SDK's own retries) after 0.1, 0.4 and 1.6 seconds: the orchestrator has
    /// its answer, and a record left with the claim reads as "being decided" until the claim
    /// goes stale.
    async fn settle(
        &self,
        approval: &Approval,
        claim: &Claim,
        taken: Option<&LostClaim>,
        transition: Transition,
    ) -> Result<Written, TableError> {
        let write = || async {
            match taken {
                Some(taken) => self.table.settle_taken(approval, claim, taken).await,
                None => self.table.settle(approval, claim, transition).await,
            }
        };
        let mut settled = write().await;
        for wait in SETTLE_RETRY_MILLIS {
            let Err(error) = &settled else {
                break;
            };
            tracing::warn!(approval = %approval.id, %error, "settling the approval again");
            self.clock.pause(wait).await;
            settled = write().await;
        }
        settled
    }

    /// Sends the claimed decision and settles the record with the orchestrator's answer.
    async fn send_and_settle(&self, approval: Approval, claim: &Claim) -> Decided {
        let Sent { outcome, taken } = self.send(&approval, claim).await;
        let decided = taken.as_ref().map_or(claim, |l| &l.claim);
        let transition = after_send(decided.decision, outcome);
        let settled = self
            .settle(&approval, claim, taken.as_ref(), transition)
            .await;
        let unsettled = match settled {
            Ok(Written::Done) => None,
            Ok(Written::ConditionFailed) => Some("the record no longer holds this claim".into()),
            Err(error) => Some(error.to_string()),
        };
        if let Some(error) = unsettled {
            // The orchestrator has its answer; the record keeps the claim, which reads as
            // "being decided" until it goes stale.
            tracing::error!(approval = %approval.id, %error, "cannot settle the approval");
        }
        let mut settled = approval;
        settled.apply_claim(claim);
        match &taken {
            Some(taken) => settled.apply_taken(taken),
            None => settled.apply(transition),
        }
        // Counted once the orchestrator took it: a claim it refused is reverted, not a vote.
        if matches!(settled.status, Status::Approved | Status::Rejected) {
            let age = decided.at.saturating_sub(settled.created_at);
            crate::measures::voted();
            crate::measures::decided(settled.status.as_str(), age);
        }
        tracing::info!(approval = %settled.id, status = settled.status.as_str(), "decision handled");
        match taken {
            Some(_) => Decided::Earlier(settled),
            None => Decided::Sent(settled, outcome),
        }
    }

    /// Weighs the reviewer's vote against the record: what it came to when it does not decide
    /// (refused by the rules, his earlier vote, or an approval counted short of the quorum), or
    /// the record claimed for `claim` (as read before the claim). A lost race is weighed again
    /// against the record as it is now: the approval counted just before may make this one the
    /// deciding one.
    async fn cast(
        &self,
        claim: &Claim,
        mut approval: Approval,
        now: u64,
    ) -> Result<Approval, Decided> {
        let reviewer = &claim.reviewer;
        for _ in 0..WEIGHINGS {
            let verdict = rules::post(Some(&approval), now);
            if verdict != PostVerdict::Claim {
                return Err(Decided::Refused(verdict, Some(approval)));
            }
            let written = match rules::ballot(&approval, reviewer, claim.decision) {
                Ballot::AlreadyVoted => return Err(Decided::Voted(approval)),
                Ballot::Count => self.table.count(&approval, claim).await,
                Ballot::Decide => self.table.claim(&approval, claim).await,
            };
            match written {
                Ok(Written::Done) if approval.decides(claim.decision) => return Ok(approval),
                Ok(Written::Done) => {
                    crate::measures::voted();
                    approval.votes = approval.votes_with(claim);
                    tracing::info!(approval = %approval.id, votes = approval.votes.len(), "vote counted");
                    return Err(Decided::Counted(approval));
                }
                Ok(Written::ConditionFailed) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot record the vote");
                    return Err(Decided::Unavailable);
                }
            }
            // Someone else got there first: weigh the vote again on the record as it is now.
            approval = match self.table.approval(&approval.id).await {
                Ok(Some(current)) => current,
                Ok(None) => return Err(Decided::Refused(PostVerdict::NotFound, None)),
                Err(error) => {
                    tracing::error!(%error, "cannot read the approvals table");
                    return Err(Decided::Unavailable);
                }
            };
        }
        Err(Decided::Refused(PostVerdict::BeingDecided, Some(approval)))
    }
}

#[cfg(test)]
mod tests {
    use hitl_core::{LinkId, Status};

    use crate::testing::{Call, Execution, Fault, Measured, World, measured, requested, run};

    const NOW: u64 = 1_750_000_000;
    const ARN: &str = "arn:execution";

    /// A world where execution `ARN` waits on `token-0` for an approval whose messages went
    /// out; the first reviewer's link.
    fn waiting(state_machine: bool) -> (World, LinkId) {
        let world = World::at(NOW);
        world.with(|s| {
            let mut execution = Execution::new(ARN, !state_machine, 600);
            execution.begin_attempt(NOW);
            s.executions.insert(ARN.to_owned(), execution);
        });
        let token = world.with(|s| s.executions[ARN].tokens[0].clone());
        requested(&world, ARN, token, NOW);
        let body = world.with(|s| s.published[0].message.body.clone());
        let id = body
            .split("/approvals/")
            .nth(1)
            .and_then(|rest| rest.get(..26));
        (world, id.and_then(LinkId::parse).expect("a link"))
    }

    fn status(world: &World) -> Status {
        world
            .with(|s| s.approvals.values().next().map(|a| a.status))
            .expect("a record")
    }

    /// An approval on either orchestrator with `fault` armed on `call`: it is approved. The
    /// world of each orchestrator's, for more checks.
    fn approved_despite(call: Call, fault: Fault) -> [World; 2] {
        [true, false].map(|state_machine| {
            let (world, link) = waiting(state_machine);
            world.arm(call, fault);
            let reviewer = world.reviewer(state_machine);
            let (code, _) =
                run(&world, 2, reviewer.post(&link, b"decision=approve")).expect("no crash");
            assert_eq!(code, 200);
            assert_eq!(status(&world), Status::Approved);
            world
        })
    }

    #[test]
    fn a_decision_whose_answer_was_lost_stands() {
        for world in approved_despite(Call::Resume, Fault::LostAnswer) {
            assert!(world.with(|s| s.executions[ARN].accepted.is_some()));
        }
    }

    /// A workflow that runs on after its decision (states after the approval) still shows
    /// running when the review function stops watching: a decision whose answer was lost is
    /// given up and kept among the record's lost claims. The next press, another reviewer's
    /// rejection, finds the task closed and the execution ended with the first decision: the
    /// record says what the workflow took, and he is shown it decided.
    #[test]
    fn a_decision_taken_while_the_workflow_runs_on_is_found_by_the_next_press() {
        for state_machine in [true, false] {
            let (world, first) = waiting(state_machine);
            world.with(|s| s.executions.get_mut(ARN).unwrap().linger_secs = 30);
            world.arm(Call::Resume, Fault::LostAnswer);
            let reviewer = world.reviewer(state_machine);
            let body = b"decision=approve&comment=ship+it";
            let (code, _) = run(&world, 2, reviewer.post(&first, body)).expect("no crash");
            assert_eq!(code, 503, "cannot tell yet");
            let record = world.with(|s| s.approvals.values().next().cloned().unwrap());
            assert_eq!(record.status, Status::Pending);
            assert_eq!(record.lost_claims.len(), 1);
            assert!(world.with(|s| s.executions[ARN].accepted.is_some()));

            world.with(|s| s.now_millis += 30_000);
            let second = world.with(|s| s.published[1].message.body.clone());
            let second = second.split("/approvals/").nth(1).and_then(|r| r.get(..26));
            let second = second.and_then(LinkId::parse).expect("a second link");
            let post = reviewer.post(&second, b"decision=reject&comment=no");
            let (code, html) = run(&world, 3, post).expect("no crash");
            assert_eq!(code, 409, "{html}");
            let record = world.with(|s| s.approvals.values().next().cloned().unwrap());
            assert_eq!(record.status, Status::Approved);
            assert_eq!(record.comment.as_deref(), Some("ship it"));
            assert_eq!(
                record.decided_at,
                record.votes.values().next().map(|v| v.at)
            );
            assert!(record.lost_claims.is_empty());
        }
    }

    /// A decision is counted once, when the orchestrator took it, with its vote and its age; a
    /// claim the orchestrator refused (reverted) and a post on a decided record count nothing.
    #[test]
    fn a_decision_is_counted_once_the_orchestrator_took_it() {
        let (world, link) = waiting(true);
        world.arm(Call::Resume, Fault::Throttle);
        let reviewer = world.reviewer(true);
        world.with(|s| s.now_millis += 90_000);
        let (_, throttled) = measured(|| run(&world, 2, reviewer.post(&link, b"decision=reject")));
        assert_eq!(throttled, Measured::default(), "a refused claim is no vote");
        let (_, counted) = measured(|| {
            run(&world, 3, reviewer.post(&link, b"decision=reject"));
            run(&world, 4, reviewer.post(&link, b"decision=approve"));
        });
        assert_eq!(status(&world), Status::Rejected);
        assert_eq!(
            counted.count("Decisions{Outcome=rejected}"),
            1,
            "{counted:?}"
        );
        assert_eq!(
            counted.count("Decisions{Outcome=approved}"),
            0,
            "{counted:?}"
        );
        assert_eq!(counted.count("Votes"), 1, "{counted:?}");
        assert_eq!(counted.histograms["TimeToDecision"], [90.0]);
    }

    /// A settle that fails (a throttle past the SDK's retries) is tried again: the orchestrator
    /// took the decision, and the record says so rather than "being decided".
    #[test]
    fn a_settle_that_fails_is_tried_again() {
        approved_despite(Call::Settle, Fault::Throttle);
    }

    #[test]
    fn a_transient_failure_reverts_the_claim_and_records_nothing() {
        let (world, link) = waiting(true);
        world.arm(Call::Resume, Fault::Throttle);
        let reviewer = world.reviewer(true);
        let (code, html) =
            run(&world, 2, reviewer.post(&link, b"decision=reject")).expect("no crash");
        assert_eq!(code, 503);
        assert!(html.contains("nothing was recorded"), "{html}");
        assert_eq!(status(&world), Status::Pending);
        let (code, _) = run(&world, 3, reviewer.post(&link, b"decision=reject")).expect("no crash");
        assert_eq!(code, 200);
        assert_eq!(status(&world), Status::Rejected);
    }

    #[test]
    fn a_task_gone_for_good_expires_the_record() {
        let (world, link) = waiting(true);
        world.with(|s| {
            if let Some(e) = s.executions.get_mut(ARN) {
                e.end("Aborted", "stopped");
            }
        });
        let reviewer = world.reviewer(true);
        let (code, _) =
            run(&world, 2, reviewer.post(&link, b"decision=approve")).expect("no crash");
        assert_eq!(code, 410);
        assert_eq!(status(&world), Status::Expired);
    }

    fn session(name: &str) -> hitl_core::sign_in::login::Session {
        hitl_core::sign_in::login::Session {
            issuer: "https://idp.example/".into(),
            subject: format!("sub-{name}"),
            email: Some(name.into()),
            name: name.into(),
            expires: NOW + 3600,
        }
    }

    #[test]
    fn with_sign_in_only_the_links_reviewer_decides_and_the_decision_names_him() {
        for state_machine in [true, false] {
            let (world, link) = waiting(state_machine);
            let reviewer = crate::reviewer::Reviewer {
                sign_in: true,
                ..world.reviewer(state_machine)
            };
            let ana = world.with(|s| s.published[0].message.reviewer.clone());
            let other = session("mallory@x.io");
            for visitor in [None, Some(&other)] {
                let post = reviewer.post_by(&link, b"decision=approve", visitor);
                let (code, html) = run(&world, 2, post).expect("no crash");
                assert_eq!(code, 403, "{html}");
                assert!(html.contains("Nothing was recorded"), "{html}");
                let (code, _) = run(&world, 2, reviewer.show_to(&link, visitor)).expect("no crash");
                assert_eq!(code, 403);
            }
            assert_eq!(status(&world), Status::Pending);
            assert!(world.with(|s| s.executions[ARN].accepted.is_none()));

            let own = session(&ana.to_uppercase());
            let (code, _) = run(&world, 3, reviewer.show_to(&link, Some(&own))).expect("no crash");
            assert_eq!(code, 200);
            let post = reviewer.post_by(&link, b"decision=approve", Some(&own));
            let (code, html) = run(&world, 3, post).expect("no crash");
            assert_eq!(code, 200, "{html}");
            let output = world
                .with(|s| s.executions[ARN].accepted.clone())
                .expect("sent");
            let output: serde_json::Value = serde_json::from_str(&output).unwrap();
            let verified = serde_json::json!({"issuer": "https://idp.example/",
                "subject": format!("sub-{}", ana.to_uppercase()), "email": ana.to_uppercase()});
            assert_eq!(output["verified"], verified);
            assert_eq!(output["votes"][0]["verified"], verified);
            let record = world
                .with(|s| s.approvals.values().next().cloned())
                .unwrap();
            assert_eq!(
                record.votes[&ana]
                    .verified
                    .as_ref()
                    .map(|v| v.subject.clone()),
                Some(format!("sub-{}", ana.to_uppercase()))
            );
        }
    }

    /// A channel link of the waiting approval, stored.
    fn channel_link(world: &World) -> LinkId {
        world.with(|s| {
            let approval = s.approvals.values().next().cloned().expect("a record");
            let (link, item) = approval.channel_link(LinkId::random());
            s.links.insert(item.id.clone(), item);
            link.id
        })
    }

    #[test]
    fn a_channel_link_opens_for_each_reviewer_signed_in_and_decides_as_him() {
        for state_machine in [true, false] {
            let (world, _) = waiting(state_machine);
            let link = channel_link(&world);
            let reviewer = crate::reviewer::Reviewer {
                sign_in: true,
                ..world.reviewer(state_machine)
            };
            for name in ["ana@x.io", "BEN@x.io", "cy@x.io"] {
                let visitor = session(name);
                let show = reviewer.show_to(&link, Some(&visitor));
                let (code, html) = run(&world, 2, show).expect("no crash");
                assert_eq!(code, 200, "{name}: {html}");
            }
            let stranger = session("mallory@x.io");
            for visitor in [None, Some(&stranger)] {
                let post = reviewer.post_by(&link, b"decision=approve", visitor);
                let (code, _) = run(&world, 2, post).expect("no crash");
                assert_eq!(code, 403);
            }
            assert_eq!(status(&world), Status::Pending);
            let ben = session("BEN@x.io");
            let post = reviewer.post_by(&link, b"decision=reject", Some(&ben));
            let (code, html) = run(&world, 3, post).expect("no crash");
            assert_eq!(code, 200, "{html}");
            let record = world
                .with(|s| s.approvals.values().next().cloned())
                .unwrap();
            assert_eq!(record.status, Status::Rejected);
            assert_eq!(
                record.decided_by.as_deref(),
                Some("ben@x.io"),
                "the record's spelling"
            );
        }
    }

    #[test]
    fn without_sign_in_a_channel_link_opens_for_nobody() {
        let (world, _) = waiting(true);
        let link = channel_link(&world);
        let reviewer = world.reviewer(true);
        let (code, _) = run(&world, 2, reviewer.show(&link)).expect("no crash");
        assert_eq!(code, 404);
        let (code, _) =
            run(&world, 2, reviewer.post(&link, b"decision=approve")).expect("no crash");
        assert_eq!(code, 404);
        assert_eq!(status(&world), Status::Pending);
    }
}
