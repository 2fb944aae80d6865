//! The Slack app's interactivity endpoint: a request Slack signed, by a user whose profile email
//! is one of the approval's reviewers, decides as that reviewer through the same protocol as
//! his link (`decide`): one vote per reviewer whichever way it comes. **Approve** decides at
//! once; **Reject** opens a modal for the reason, whose submission decides. Anything unsigned,
//! forged, stale or altered is refused (401) before it is read; a user who is not a reviewer is
//! told so, and nothing is recorded.

use hitl_core::{
    Approval, ApprovalId, Claim, Decision, SendOutcome, page,
    rules::{self, PostVerdict},
    slack::{self, Interaction},
    slack_signature,
};

use crate::{
    decide::Decided,
    ports::{Clock, Orchestrator, Pause, SlackApp},
    reviewer::Reviewer,
    table::DecisionTable,
};

/// What the user is told (ephemeral, or under the modal's input) of what his click came to.
fn told(decided: &Decided) -> String {
    match decided {
        Decided::Refused(verdict, approval) => refused(*verdict, approval.as_ref()),
        Decided::Voted(a) => format!("You have voted on this request already; {}.", progress(a)),
        Decided::Counted(a) if !a.lost_claims.is_empty() => format!(
            "Your approval is counted; {}. {}",
            progress(a),
            page::EARLIER_DECISION_UNCONFIRMED
        ),
        Decided::Counted(a) => format!("Your approval is counted; {}.", progress(a)),
        Decided::Unavailable => {
            "Nothing was recorded: the approvals cannot be reached right now. Please try again."
                .to_owned()
        }
        Decided::Sent(a, SendOutcome::Accepted) => match a.decision {
            Some(Decision::Rejected) => "You rejected the request; the workflow goes on.".into(),
            _ => "You approved the request; the workflow goes on.".into(),
        },
        Decided::Sent(_, SendOutcome::TaskGone) => {
            "The workflow no longer waits for this request: it expired, and nothing was recorded."
                .to_owned()
        }
        Decided::Sent(_, SendOutcome::Transient) => {
            "Nothing was recorded: the workflow did not answer in time. Please try again."
                .to_owned()
        }
        Decided::Earlier(a) => refused(PostVerdict::AlreadyDecided, Some(a)),
    }
}

/// Why a decision may not be made on the approval.
fn refused(verdict: PostVerdict, approval: Option<&Approval>) -> String {
    match (verdict, approval) {
        (PostVerdict::AlreadyDecided, Some(a)) => format!(
            "This request was {} already by {}.",
            a.status.as_str(),
            a.decided_by.as_deref().unwrap_or("another reviewer")
        ),
        (PostVerdict::Expired, _) => "This request expired: nothing was recorded.".to_owned(),
        (PostVerdict::BeingDecided | PostVerdict::Claim, _) => {
            "Another reviewer's decision is being recorded right now: nothing was recorded."
                .to_owned()
        }
        _ => "This request is not known (any more): nothing was recorded.".to_owned(),
    }
}

fn progress(a: &Approval) -> String {
    format!("{} of {} approvals so far", a.approvals(), a.quorum)
}

impl<T, O, K, S> Reviewer<T, O, K, S>
where
    T: DecisionTable,
    O: Orchestrator,
    K: Clock + Pause,
    S: SlackApp,
{
    /// A request to the interactivity endpoint: its `X-Slack-Request-Timestamp` and
    /// `X-Slack-Signature` headers and its raw body. The answer: a status, and a JSON body for
    /// a modal that stays open (empty otherwise, which Slack takes as done).
    pub async fn interaction(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> (u16, String) {
        let Some(slack) = &self.slack else {
            return (404, String::new());
        };
        let secret = match slack.signing_secret().await {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(%error, "cannot read the Slack signing secret");
                return (503, String::new());
            }
        };
        let now = self.clock.now();
        if let Err(refusal) =
            slack_signature::verify(secret.as_bytes(), timestamp, signature, body, now)
        {
            tracing::warn!(?refusal, "a request to the Slack endpoint refused");
            return (401, String::new());
        }
        match slack::interaction(body) {
            None => (400, String::new()),
            Some(Interaction::Other) => (200, String::new()),
            Some(Interaction::Click {
                user,
                decision,
                approval,
                trigger_id,
                channel,
            }) => {
                let channel = channel.unwrap_or_default();
                let text = self
                    .click(slack, &user, decision, &approval, &trigger_id)
                    .await;
                if let Some(text) = text {
                    self.tell(slack, &channel, &user, &text).await;
                }
                (200, String::new())
            }
            Some(Interaction::Reason {
                user,
                approval,
                comment,
            }) => self.reason(slack, &user, &approval, comment).await,
        }
    }

    /// A button: Approve decides, Reject opens the reason's modal. What to tell the user, if
    /// anything.
    async fn click(
        &self,
        slack: &S,
        user: &str,
        decision: Decision,
        approval: &str,
        trigger_id: &str,
    ) -> Option<String> {
        if decision == Decision::Rejected {
            return self.ask_reason(slack, approval, trigger_id).await;
        }
        let (approval, reviewer) = match self.reviewer_of(slack, user, approval).await {
            Ok(found) => found,
            Err(text) => return Some(text),
        };
        let claim = Claim {
            decision,
            comment: String::new(),
            reviewer,
            at: self.clock.now(),
            verified: None,
        };
        Some(told(&self.decide_as(&claim, approval).await))
    }

    /// Opens the reason's modal while the approval is open: at once, since the click's
    /// `trigger_id` lasts 3 seconds; who the user is, and whether he voted, is checked when he
    /// submits it.
    async fn ask_reason(&self, slack: &S, id: &str, trigger_id: &str) -> Option<String> {
        let approval = match self.approval_of(id).await {
            Ok(approval) => approval,
            Err(text) => return Some(text),
        };
        let verdict = rules::post(Some(&approval), self.clock.now());
        if verdict != PostVerdict::Claim {
            return Some(refused(verdict, Some(&approval)));
        }
        let modal = slack::reason_modal(&approval);
        match slack.open_modal(trigger_id, &modal).await {
            Ok(()) => None,
            Err(error) => {
                tracing::warn!(approval = %approval.id, %error, "the reason's modal could not be opened");
                Some("Slack could not open the form for your reason: nothing was recorded. Please try again.".into())
            }
        }
    }

    /// The reason's modal submitted: reject with it. Anything but an accepted rejection keeps
    /// the modal open and says why under the reason.
    async fn reason(
        &self,
        slack: &S,
        user: &str,
        approval: &str,
        comment: String,
    ) -> (u16, String) {
        let error = |text: &str| (200, slack::reason_error(text).to_string());
        if comment.is_empty() {
            return error("Say why you reject the request.");
        }
        let (approval, reviewer) = match self.reviewer_of(slack, user, approval).await {
            Ok(found) => found,
            Err(text) => return error(&text),
        };
        let claim = Claim {
            decision: Decision::Rejected,
            comment,
            reviewer,
            at: self.clock.now(),
            verified: None,
        };
        match self.decide_as(&claim, approval).await {
            Decided::Sent(_, SendOutcome::Accepted) => (200, String::new()),
            other => error(&told(&other)),
        }
    }

    /// The approval `id`, or what to tell the user.
    async fn approval_of(&self, id: &str) -> Result<Approval, String> {
        let found = match ApprovalId::parse(id) {
            Some(id) => self.table.approval(&id).await,
            None => Ok(None),
        };
        match found {
            Ok(Some(approval)) => Ok(approval),
            Ok(None) => Err(refused(PostVerdict::NotFound, None)),
            Err(error) => {
                tracing::error!(%error, "cannot read the approvals table");
                Err(told(&Decided::Unavailable))
            }
        }
    }

    /// The approval `id` and the reviewer Slack user `user` decides it as, or what to tell him.
    async fn reviewer_of(
        &self,
        slack: &S,
        user: &str,
        id: &str,
    ) -> Result<(Approval, String), String> {
        let approval = self.approval_of(id).await?;
        let email = match slack.email(user).await {
            Ok(Some(email)) => email,
            Ok(None) => {
                return Err("Your Slack profile shows no email, so you cannot be matched to a reviewer: nothing was recorded.".into());
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read a Slack user's email");
                return Err("Slack could not tell who you are right now: nothing was recorded. Please try again.".into());
            }
        };
        match approval.reviewer_for(&self.escalate_to, &email) {
            Some(reviewer) => Ok((approval, reviewer)),
            None => {
                tracing::info!(approval = %approval.id, "a click by someone who is not a reviewer");
                Err("You are not a reviewer of this request: nothing was recorded.".into())
            }
        }
    }

    /// Tells `user` alone `text` (a failure is logged: what he did is already settled).
    async fn tell(&self, slack: &S, channel: &str, user: &str, text: &str) {
        if let Err(error) = slack.tell(channel, user, text).await {
            tracing::warn!(%error, "cannot answer a Slack user");
        }
    }
}

#[cfg(test)]
mod tests;
