//! Runs a case: each operation as the function that would run it (the protocol's own code on
//! in-memory ports), started, stepped, crashed and retried as the case says, with every
//! invariant checked after every step, and a trace of what happened for a failing case.

use std::{collections::BTreeSet, future::Future, pin::Pin, task::Poll};

use hitl_core::{ApprovalId, Decision, Ending, LinkId, Nudge};
use serde_json::Value;

use super::{
    checks::{self, Broken},
    links::Delivered,
    ops::{EXECUTIONS, Op},
    system::{Case, FUNCTION_TIMEOUT_MILLIS, System, arn, key},
};
use crate::{
    Failure, ending,
    testing::{Phase, poll_once, run},
};

/// What an operation comes to.
pub enum Done {
    Request(Result<Value, Failure>),
    Page(u16, String),
    Nudged(Result<usize, Failure>),
    Checked(Result<crate::Expiry, Failure>),
}

/// What an operation is.
#[derive(Debug, Clone)]
pub enum Action {
    Request { execution: usize },
    Post { link: Delivered },
    Nudge { execution: usize, nudge: Nudge },
    Expiry { execution: usize },
}

/// An operation under way.
struct Running<'a> {
    id: usize,
    action: Action,
    started_millis: u64,
    future: Pin<Box<dyn Future<Output = Done> + 'a>>,
}

/// A case being run.
pub struct Model<'a> {
    system: &'a System,
    quorum: u32,
    running: Vec<Running<'a>>,
    /// Operations started so far (an operation's id is its number; 0 is the orchestrator).
    started: usize,
    /// Per execution: an invocation of its request task returned (the task then waits).
    returned: [bool; EXECUTIONS],
    /// Executions whose ending the reviewers were told.
    announced: BTreeSet<String>,
    /// Votes the reviewers were told are counted.
    acknowledged: BTreeSet<(ApprovalId, String)>,
    checked: checks::Checked,
    pub trace: Vec<String>,
}

impl<'a> Model<'a> {
    pub fn new(system: &'a System, case: &Case) -> Self {
        Self {
            system,
            quorum: case.quorum,
            running: Vec::new(),
            started: 0,
            returned: [false; EXECUTIONS],
            announced: BTreeSet::new(),
            acknowledged: BTreeSet::new(),
            checked: checks::Checked::default(),
            trace: Vec::new(),
        }
    }

    /// Runs `op`.
    pub fn apply(&mut self, op: &Op) -> Result<(), Broken> {
        match *op {
            Op::Request { execution, steps } => self.request(execution, steps),
            Op::Post {
                link,
                decision,
                steps,
            } => self.post(link, decision, steps),
            Op::Get { link } => self.get(link),
            Op::Nudge {
                execution,
                nudge,
                steps,
            } => self.nudge(execution, nudge, steps),
            Op::Expiry { execution, steps } => self.expiry(execution, steps),
            Op::Advance { secs } => self.advance(secs * 1000),
            Op::Stop { execution } => {
                self.system.world.with(|s| {
                    if let Some(e) = s.executions.get_mut(&arn(execution)) {
                        e.end("Aborted", "stopped by an operator");
                    }
                });
                self.after_step()
            }
            Op::Step { op } => match self.pick(op) {
                Some(id) => self.poll(id),
                None => Ok(()),
            },
            Op::Crash { op } => match self.pick(op) {
                Some(id) => self.crash(id, "its instance died"),
                None => Ok(()),
            },
            Op::Fault { call, fault } => {
                self.system.world.arm(call, fault);
                Ok(())
            }
        }
    }

    /// The id of the `n`th running operation (modulo), if any runs.
    fn pick(&self, n: usize) -> Option<usize> {
        (!self.running.is_empty()).then(|| self.running[n % self.running.len()].id)
    }

    fn note(&mut self, text: String) {
        let now = self.system.world.with(|s| s.now_millis) as f64 / 1000.0;
        let at = now - super::system::START as f64;
        self.trace.push(format!("[t+{at:.2}s] {text}"));
    }

    /// The request task of `execution` is invoked (see [`Op::Request`]).
    fn request(&mut self, execution: usize, steps: Option<u8>) -> Result<(), Broken> {
        let busy = self
            .running
            .iter()
            .any(|r| matches!(r.action, Action::Request { execution: e } if e == execution));
        let phase = self
            .system
            .world
            .with(|s| s.executions[&arn(execution)].phase.clone());
        if busy || matches!(phase, Phase::Ended(_) | Phase::Finishing { .. }) {
            return Ok(());
        }
        if phase == Phase::Waiting && self.returned[execution] {
            if !self.system.state_machine {
                return Ok(()); // A durable callback waits: its submitter does not run again.
            }
            self.note(format!(
                "execution {execution}: the invocation's answer was lost, Step Functions retries"
            ));
            self.system.world.with(|s| {
                if let Some(e) = s.executions.get_mut(&arn(execution)) {
                    e.attempt_failed("Lambda.ServiceException", true);
                }
            });
        }
        self.start_request(execution, steps)
    }

    /// Starts an invocation of `execution`'s request task with its next attempt's token.
    fn start_request(&mut self, execution: usize, steps: Option<u8>) -> Result<(), Broken> {
        let world = &self.system.world;
        let now = world.with(|s| s.now());
        let attempt = world.with(|s| {
            s.executions
                .get_mut(&arn(execution))
                .and_then(|e| e.begin_attempt(now))
        });
        let Some((token, attempt)) = attempt else {
            return Ok(());
        };
        let requester = &self.system.requester;
        let approval = requester
            .new_approval(
                token,
                attempt,
                &key(execution),
                self.system.requests[execution].clone(),
                now,
            )
            .map_err(|e| format!("the model's approval is refused: {e}"))?;
        self.returned[execution] = false;
        let future =
            Box::pin(
                async move { Done::Request(requester.request_approval(&approval, now).await) },
            );
        let label = format!("request task of execution {execution}, attempt {attempt:?}");
        self.start(Action::Request { execution }, label, future, steps)
    }

    /// The `n`th link sent so far (modulo), if any was.
    fn link(&mut self, n: usize) -> Option<Delivered> {
        let sent = &mut self.checked.sent;
        self.system.world.with(|s| sent.update(s));
        let links = &self.checked.sent.links;
        links.get(n % links.len().max(1)).cloned()
    }

    /// A POST through the `n`th link sent so far.
    fn post(&mut self, n: usize, decision: Decision, steps: Option<u8>) -> Result<(), Broken> {
        let Some(link) = self.link(n) else {
            return Ok(());
        };
        let body = format!(
            "decision={}&comment=op+{}",
            match decision {
                Decision::Approved => "approve",
                Decision::Rejected => "reject",
            },
            self.started + 1
        );
        let reviewer = &self.system.reviewer;
        let id = link.link.clone();
        let future = Box::pin(async move {
            let (status, html) = reviewer.post(&id, body.as_bytes()).await;
            Done::Page(status, html)
        });
        let label = format!(
            "POST by {} via {}: {}",
            link.reviewer,
            short(&link.link),
            decision.as_str()
        );
        self.start(Action::Post { link }, label, future, steps)
    }

    /// A GET through the `n`th link sent so far: it must change nothing.
    fn get(&mut self, n: usize) -> Result<(), Broken> {
        let Some(link) = self.link(n) else {
            return Ok(());
        };
        let world = &self.system.world;
        let before = world.with(|s| s.observable());
        self.started += 1;
        let shown = run(world, self.started, self.system.reviewer.show(&link.link));
        let Some((status, html)) = shown else {
            return Ok(()); // Its instance crashed.
        };
        let label = checks::page_label(status, &html);
        self.note(format!(
            "op {}: GET by {} → {label}",
            self.started, link.reviewer
        ));
        if world.with(|s| s.observable()) != before {
            return Err(format!("op {}: a GET changed the system", self.started));
        }
        if world.with(|s| checks::page_shows_a_token(s, &html)) {
            return Err(format!("op {}: a page shows a task token", self.started));
        }
        self.after_step()
    }

    /// `execution`'s approval, if its schedule `<approval id>-<suffix>` was made and is due.
    fn due(&self, execution: usize, suffix: &str) -> Option<ApprovalId> {
        let id = key(execution).approval_id();
        let name = format!("{id}-{suffix}");
        let due = self
            .system
            .world
            .with(|s| s.schedules.get(&name).is_some_and(|(at, _)| *at <= s.now()));
        due.then_some(id)
    }

    /// The schedule of `nudge` fires for `execution`'s approval, if it was made and is due.
    fn nudge(&mut self, execution: usize, nudge: Nudge, steps: Option<u8>) -> Result<(), Broken> {
        let Some(id) = self.due(execution, nudge.as_str()) else {
            return Ok(());
        };
        let messenger = &self.system.messenger;
        let future =
            Box::pin(async move { Done::Nudged(messenger.nudge(id.as_str(), nudge).await) });
        let label = format!("{} of execution {execution}", nudge.as_str());
        self.start(Action::Nudge { execution, nudge }, label, future, steps)
    }

    /// The expiry check's schedule fires for `execution`'s approval, if it was made and is due.
    fn expiry(&mut self, execution: usize, steps: Option<u8>) -> Result<(), Broken> {
        let Some(id) = self.due(execution, "expiry") else {
            return Ok(());
        };
        let messenger = &self.system.messenger;
        let executions = &self.system.reviewer.orchestrator;
        let future =
            Box::pin(async move { Done::Checked(messenger.expiry(id.as_str(), executions).await) });
        let label = format!("expiry check of execution {execution}");
        self.start(Action::Expiry { execution }, label, future, steps)
    }

    /// Starts an operation and runs it `steps` steps, or to its end.
    fn start(
        &mut self,
        action: Action,
        label: String,
        future: Pin<Box<dyn Future<Output = Done> + 'a>>,
        steps: Option<u8>,
    ) -> Result<(), Broken> {
        self.started += 1;
        let id = self.started;
        self.note(format!("op {id}: {label} starts"));
        let started_millis = self.system.world.with(|s| s.now_millis);
        self.running.push(Running {
            id,
            action,
            started_millis,
            future,
        });
        let mut left = steps.map_or(usize::MAX, usize::from);
        while left > 0 && self.running.iter().any(|r| r.id == id) {
            self.poll(id)?;
            left -= 1;
        }
        Ok(())
    }

    /// Polls operation `id` once: up to its next port call, or its end.
    fn poll(&mut self, id: usize) -> Result<(), Broken> {
        let Some(index) = self.running.iter().position(|r| r.id == id) else {
            return Ok(());
        };
        let world = &self.system.world;
        world.with(|s| s.current = id);
        let polled = poll_once(self.running[index].future.as_mut());
        match polled {
            Poll::Ready(done) => {
                let running = self.running.remove(index);
                self.complete(running.id, running.action, done)?;
            }
            Poll::Pending if world.with(|s| std::mem::take(&mut s.crashed)) => {
                self.crash(id, "its instance crashed (an injected fault)")?;
            }
            Poll::Pending => {}
        }
        self.after_step()
    }

    /// Operation `id`'s instance died; whatever retries it runs it again.
    fn crash(&mut self, id: usize, why: &str) -> Result<(), Broken> {
        let Some(index) = self.running.iter().position(|r| r.id == id) else {
            return Ok(());
        };
        let running = self.running.remove(index);
        self.note(format!("op {id}: {why}"));
        match running.action {
            Action::Request { execution } => {
                self.system.world.with(|s| {
                    if let Some(e) = s.executions.get_mut(&arn(execution)) {
                        e.attempt_failed("Lambda.Unknown", true);
                    }
                });
                self.note(format!(
                    "execution {execution}: the attempt failed, it is retried"
                ));
                self.start_request(execution, None)
            }
            // The reviewer sees an error page; he may press again.
            Action::Post { .. } => Ok(()),
            // The scheduler's delivery is retried.
            Action::Nudge { execution, nudge } => self.nudge(execution, nudge, None),
            Action::Expiry { execution } => self.expiry(execution, None),
        }
    }

    /// Operation `id` ended with `done`.
    fn complete(&mut self, id: usize, action: Action, done: Done) -> Result<(), Broken> {
        match (action, done) {
            (Action::Request { execution }, Done::Request(result)) => {
                self.note(format!("op {id}: request task answers {result:?}"));
                match result {
                    Ok(_) => self.returned[execution] = true,
                    Err(failure) => self.system.world.with(|s| {
                        if let Some(e) = s.executions.get_mut(&arn(execution)) {
                            e.attempt_failed(failure.kind(), failure.kind() == Failure::TRANSIENT);
                        }
                    }),
                }
                Ok(())
            }
            (Action::Post { link, .. }, Done::Page(status, html)) => {
                self.posted(id, &link, status, &html)
            }
            (_, Done::Nudged(result)) => {
                self.note(format!("op {id}: nudge answers {result:?}"));
                Ok(())
            }
            (_, Done::Checked(result)) => {
                self.note(format!("op {id}: expiry check answers {result:?}"));
                Ok(())
            }
            _ => Err(format!("op {id} ended with another operation's answer")),
        }
    }

    /// A POST's page came back: noted, its vote acknowledged if counted, and if nothing failed
    /// under it, the record is what the orchestrator's answer says.
    fn posted(
        &mut self,
        id: usize,
        link: &Delivered,
        status: u16,
        html: &str,
    ) -> Result<(), Broken> {
        let world = &self.system.world;
        let label = checks::page_label(status, html);
        self.note(format!("op {id}: POST by {} → {label}", link.reviewer));
        // Counted, unless a decision given up earlier may turn out taken: the page says so.
        if label.ends_with("counted")
            && !html.contains(hitl_core::page::EARLIER_DECISION_UNCONFIRMED)
        {
            self.acknowledged
                .insert((link.approval.clone(), link.reviewer.clone()));
        }
        if world.with(|s| checks::page_shows_a_token(s, html)) {
            return Err(format!("op {id}: a page shows a task token"));
        }
        let clean = world.with(|s| s.fired.iter().all(|f| f.by != id));
        match clean {
            true => world.with(|s| checks::after_a_clean_post(s, id)),
            false => Ok(()),
        }
    }

    /// The clock moves on by `millis`: waits time out, overdue invocations are ended.
    fn advance(&mut self, millis: u64) -> Result<(), Broken> {
        self.system.world.with(|s| s.now_millis += millis);
        self.note(format!("clock +{}s", millis / 1000));
        self.after_step()
    }

    /// After every step: executions whose wait timed out end, invocations past the function's
    /// timeout are ended as Lambda ends them, endings are announced, invariants checked.
    fn after_step(&mut self) -> Result<(), Broken> {
        let world = &self.system.world;
        let now_millis = world.with(|s| {
            let now = s.now();
            s.executions.values_mut().for_each(|e| e.tick(now));
            s.now_millis
        });
        let overdue: Vec<usize> = self
            .running
            .iter()
            .filter(|r| r.started_millis + FUNCTION_TIMEOUT_MILLIS < now_millis)
            .map(|r| r.id)
            .collect();
        for id in overdue {
            self.crash(id, "Lambda ended it at its timeout")?;
        }
        self.announce();
        let (quorum, acknowledged, checked) = (self.quorum, &self.acknowledged, &mut self.checked);
        world.with(|s| checks::always(s, quorum, acknowledged, checked))
    }

    /// Tells the reviewers how each execution that ended did, once (the state machine's
    /// `Notify…` states, the durable workflow's ending step).
    fn announce(&mut self) {
        let world = &self.system.world;
        for execution in 0..EXECUTIONS {
            let (ended, accepted, state) = world.with(|s| {
                let e = &s.executions[&arn(execution)];
                (e.ended(), e.accepted.clone(), e.state())
            });
            if !ended || !self.announced.insert(arn(execution)) {
                continue;
            }
            self.note(format!("execution {execution} ends: {state:?}"));
            let decided: Value = accepted
                .map(|a| serde_json::from_str(&a).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            let text = |field: &str| decided[field].as_str().unwrap_or_default().to_owned();
            let (reviewer, comment) = (text("reviewer"), text("comment"));
            let ending = match decided["decision"].as_str() {
                Some("approved") => Ending::Decided {
                    decision: Decision::Approved,
                    reviewer: &reviewer,
                    comment: &comment,
                },
                Some(_) => Ending::Decided {
                    decision: Decision::Rejected,
                    reviewer: &reviewer,
                    comment: &comment,
                },
                None if matches!(&state, hitl_core::ExecutionState::Failed { error, .. } if error == "Expired") => {
                    Ending::Expired
                }
                None => continue,
            };
            let notifier = &self.system.requester.messenger.notifier;
            let _ = run(
                world,
                0,
                ending::announce(notifier, &self.system.requests[execution], ending),
            );
        }
    }

    /// Runs every operation still under way to its end, by turns.
    pub fn finish(&mut self) -> Result<(), Broken> {
        while !self.running.is_empty() {
            let ids: Vec<usize> = self.running.iter().map(|r| r.id).collect();
            for id in ids {
                self.poll(id)?;
            }
        }
        Ok(())
    }

    /// Gives the protocol its chance on every execution that ended: with the faults cleared and
    /// any claim gone stale, a reviewer who has not voted rejects (which reaches the
    /// orchestrator); then no record of an ended execution may still be open.
    pub fn settle_ended(&mut self) -> Result<(), Broken> {
        let world = &self.system.world;
        world.with(|s| s.armed.clear());
        self.advance((hitl_core::STALE_CLAIM_SECS + 1) * 1000)?;
        for execution in 0..EXECUTIONS {
            let id = key(execution).approval_id();
            let (ended, record) = world.with(|s| {
                let ended = s.executions[&arn(execution)].ended();
                (ended, s.approvals.get(&id).cloned())
            });
            self.link(0);
            let links = &self.checked.sent.links;
            let Some(record) = record.filter(|r| ended && checks::open(r, world.with(|s| s.now())))
            else {
                continue;
            };
            let presser = links
                .iter()
                .position(|l| l.approval == id && !checks::voted(&record, &l.reviewer));
            // Nobody who may press was sent a link: the protocol has no chance.
            let Some(n) = presser else {
                continue;
            };
            // A rejection decides whatever the quorum, so it reaches the orchestrator.
            self.note(format!("execution {execution} ended: a reviewer rejects"));
            self.post(n, Decision::Rejected, None)?;
            self.finish()?;
            let now = world.with(|s| s.now());
            if let Some(record) = world.with(|s| s.approvals.get(&id).cloned())
                && checks::open(&record, now)
            {
                return Err(format!(
                    "execution {execution} ended and its record is still {} ({})",
                    record.status.as_str(),
                    checks::view_label(&record, now)
                ));
            }
        }
        Ok(())
    }
}

/// A link's first characters, for the trace.
fn short(link: &LinkId) -> String {
    format!("link …{}", &link.as_str()[20..])
}
