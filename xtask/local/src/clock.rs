//! Lambda's clock for an invocation, as the router keeps it. Lambda starts an invocation's
//! timeout when an instance takes it, after the instance's Init: a cold start's Init is not on
//! the invocation's clock ("Lambda execution environment lifecycle",
//! <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>). Here each
//! instance reaches the Runtime API through the router ([`crate::runtime_api`]), which sees it
//! take each invocation (the answer to its `GET …/invocation/next`, which carries the router's
//! request id), and starts the clock then; API Gateway's clock starts when the call is let in.
//!
//! Init's own limit (10 s on Lambda) is not kept: how long a local instance takes to start is
//! this machine's load, not the kit's code. An invocation no instance took [`INIT`] after it
//! was let in is on the clock from then, so a call is cut even if the Runtime API does not pass
//! through the router (a system without a POSIX shell: see `runner::start_instances_as_built`);
//! the router says so when it cuts such a call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use crate::{
    gates::Gates,
    ledger::{Account, Ledger},
};

/// How long an invocation waits, once let in, for an instance to take it before it is on the
/// clock anyway.
pub const INIT: Duration = Duration::from_secs(30);

/// What the router says when it cuts a call no instance was seen taking.
pub const NOT_SEEN_TAKEN: &str = "no instance was seen taking the invocation: its clock started \
     30 s after it was let in (is the functions' Runtime API passing through the router? Run \
     `cargo xtask local down` and `up` again)";

/// The limits of a call: the function's timeout from when an instance takes it, and the
/// integration's (API Gateway's) from when it is let in.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub function: Option<Duration>,
    pub integration: Option<Duration>,
}

/// How a call ended: answered, or cut by one of its limits.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended<T> {
    Answered(T),
    Function,
    Integration,
}

impl<T> Ended<T> {
    /// How a cut call shows in the stack's metrics: a function error at the function's timeout
    /// (Lambda counts a timeout in `Errors`), a 504 in the API's `5XXError` at API Gateway's.
    pub fn shown_as(&self) -> Option<Account> {
        match self {
            Ended::Answered(_) => None,
            Ended::Function => Some(Account::FunctionErrors),
            Ended::Integration => Some(Account::Api5xx),
        }
    }
}

/// How a call went, as its caller waited for it.
#[derive(Debug)]
pub struct Within<T> {
    /// How long it waited for the gate.
    pub queued: Duration,
    pub ended: Ended<T>,
    /// Whether an instance was seen taking the invocation.
    pub taken: bool,
    /// The X-Ray trace root the invocation ran under, once an instance took it.
    pub trace: Option<String>,
}

impl<T> Within<T> {
    /// Notes a call cut, shown as `account`: in the `ledger` of faults, by the trace it ran
    /// under (a fault in it is then accounted for), and says so when a call cut at the
    /// function's timeout was never seen taken.
    pub fn note_cut(&self, account: Account, ledger: &Ledger) {
        if account == Account::FunctionErrors && !self.taken {
            eprintln!("router: {NOT_SEEN_TAKEN}");
        }
        if let (Some(trace), true) = (&self.trace, ledger.following()) {
            ledger.cut(trace, account);
        }
    }
}

/// What a call's waiter hears.
enum Heard<T> {
    LetIn(Instant),
    /// With the invocation's trace root.
    Taken(Instant, Option<String>),
    Answered(T),
}

type Tell = Box<dyn FnOnce(Option<String>) + Send>;

/// The invocations waiting for an instance to take them, by request id.
#[derive(Default)]
pub struct Takings {
    waiting: Mutex<HashMap<String, Tell>>,
    init: Option<Duration>,
}

impl Takings {
    /// Waiting invocations that go on the clock `init` after they were let in (tests).
    pub fn with_init(init: Duration) -> Self {
        Self {
            init: Some(init),
            ..Self::default()
        }
    }

    fn expect(&self, request_id: &str, tell: Tell) {
        self.lock().insert(request_id.to_owned(), tell);
    }

    fn forget(&self, request_id: &str) {
        self.lock().remove(request_id);
    }

    /// An instance took the invocation `request_id`, to run under the X-Ray `trace` root: its
    /// clock starts. Whether it was waited for (a call cut before an instance took it no
    /// longer is).
    pub fn taken(&self, request_id: &str, trace: Option<&str>) -> bool {
        let tell = self.lock().remove(request_id);
        tell.map(|tell| tell(trace.map(str::to_owned))).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tell>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Gates {
    /// Runs `call` (the invocation `request_id`) through the gate of `function` on a thread of
    /// its own, and waits for its answer within `clock`, its taking told by `takings`: how it
    /// went. A call that was cut keeps its permit until it ends: cargo-lambda cannot end one
    /// invocation, so its instance stays busy, and a later call let in meanwhile would wait for
    /// an instance inside cargo-lambda, on its own clock.
    pub fn within<T: Send + 'static>(
        self: &Arc<Self>,
        takings: &Takings,
        function: &str,
        request_id: &str,
        clock: Clock,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> Within<T> {
        let (told, hears) = mpsc::channel();
        let taken = told.clone();
        let tell: Tell =
            Box::new(move |trace| drop(taken.send(Heard::Taken(Instant::now(), trace))));
        takings.expect(request_id, tell);
        let (gates, gate) = (self.clone(), function.to_owned());
        let asked = Instant::now();
        std::thread::spawn(move || {
            let answer = gates.through(&gate, || {
                let _ = told.send(Heard::LetIn(Instant::now()));
                call()
            });
            let _ = told.send(Heard::Answered(answer));
        });
        let init = takings.init.unwrap_or(INIT);
        let mut waiting = Waiting::default();
        let ended = loop {
            let cut = waiting.cut(clock, init);
            let heard = match cut {
                None => hears.recv().ok(),
                Some((at, _)) => hears
                    .recv_timeout(at.saturating_duration_since(Instant::now()))
                    .ok(),
            };
            match heard {
                Some(Heard::LetIn(at)) => {
                    waiting.let_in = Some((at, at.saturating_duration_since(asked)))
                }
                Some(Heard::Taken(at, trace)) => (waiting.taken, waiting.trace) = (Some(at), trace),
                Some(Heard::Answered(answer)) => break Ended::Answered(answer),
                None => break cut.map_or(Ended::Function, |(_, ended)| ended),
            }
        };
        takings.forget(request_id);
        Within {
            queued: waiting.queued(asked),
            ended,
            taken: waiting.taken.is_some(),
            trace: waiting.trace,
        }
    }
}

/// Where a call stands while it is waited for.
#[derive(Default)]
struct Waiting {
    /// When the gate let it in, and how long it had waited for it.
    let_in: Option<(Instant, Duration)>,
    taken: Option<Instant>,
    trace: Option<String>,
}

impl Waiting {
    /// The first limit the call runs into, if it has one yet: none before it is let in.
    fn cut<T>(&self, clock: Clock, init: Duration) -> Option<(Instant, Ended<T>)> {
        let (let_in, _) = self.let_in?;
        let on_anyway = let_in + init;
        let started = self.taken.map_or(on_anyway, |taken| taken.min(on_anyway));
        let function = clock.function.map(|f| (started + f, Ended::Function));
        let integration = clock.integration.map(|i| (let_in + i, Ended::Integration));
        match (function, integration) {
            (Some(f), Some(i)) if f.0 < i.0 => Some(f),
            (f, None) => f,
            (_, i) => i,
        }
    }

    fn queued(&self, asked: Instant) -> Duration {
        self.let_in
            .map_or_else(|| asked.elapsed(), |(_, queued)| queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        thread,
    };

    fn function(millis: u64) -> Clock {
        Clock {
            function: Some(Duration::from_millis(millis)),
            integration: None,
        }
    }

    /// Gates, and the takings of invocations that go on the clock `init` after they are let in
    /// untaken.
    fn gates(permits: usize, init: u64) -> (Arc<Gates>, Arc<Takings>) {
        let takings = Takings::with_init(Duration::from_millis(init));
        (Arc::new(Gates::new(permits)), Arc::new(takings))
    }

    #[test]
    fn a_call_is_cut_from_when_an_instance_takes_it_and_keeps_its_permit_until_it_ends() {
        let (gates, takings) = gates(1, 60_000);
        // Taken at once, answered quickly.
        let quick = {
            let takings = takings.clone();
            move || {
                takings.taken("quick", Some("1-t-1"));
                "answer"
            }
        };
        let quick = gates.within(&takings, "f", "quick", function(5_000), quick);
        assert_eq!(quick.ended, Ended::Answered("answer"));
        assert_eq!(quick.trace.as_deref(), Some("1-t-1"));
        // A cold start: 600 ms before an instance takes it, then 100 ms of work; cut at 400 ms
        // of the function's time, it is answered.
        let cold = {
            let takings = takings.clone();
            move || {
                thread::sleep(Duration::from_millis(600));
                takings.taken("cold", None);
                thread::sleep(Duration::from_millis(100));
                "after its Init"
            }
        };
        let cold = gates.within(&takings, "f", "cold", function(400), cold);
        assert_eq!(cold.ended, Ended::Answered("after its Init"));
        // Taken, then slower than its timeout: cut, and the gate stays taken until it ends.
        let ended = Arc::new(AtomicBool::new(false));
        let slow = {
            let (takings, ended) = (takings.clone(), ended.clone());
            move || {
                takings.taken("slow", Some("1-t-3"));
                thread::sleep(Duration::from_millis(500));
                ended.store(true, Ordering::SeqCst);
            }
        };
        assert_eq!(
            gates
                .within(&takings, "f", "slow", function(50), slow)
                .ended,
            Ended::Function
        );
        assert!(!ended.load(Ordering::SeqCst));
        gates.through("f", || assert!(ended.load(Ordering::SeqCst)));
    }

    #[test]
    fn an_invocation_no_instance_takes_goes_on_the_clock_after_the_init_allowance() {
        let (gates, takings) = gates(1, 100);
        let never_taken = || thread::sleep(Duration::from_millis(800));
        let started = Instant::now();
        let untaken = gates.within(&takings, "f", "untaken", function(100), never_taken);
        assert_eq!((untaken.ended, untaken.trace), (Ended::Function, None));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(800), "{waited:?}");
        assert!(takings.lock().is_empty(), "forgotten once ended");
    }

    #[test]
    fn the_integrations_clock_runs_from_the_gate_and_the_wait_there_is_on_no_clock() {
        let (gates, takings) = gates(1, 60_000);
        let clock = Clock {
            function: Some(Duration::from_millis(10_000)),
            integration: Some(Duration::from_millis(200)),
        };
        // Never taken, slower than the integration: API Gateway's cut.
        let slow = || thread::sleep(Duration::from_millis(600));
        assert_eq!(
            gates.within(&takings, "f", "a", clock, slow).ended,
            Ended::Integration
        );
        thread::sleep(Duration::from_millis(600));
        // Waiting for the gate is not on the clock.
        let (holds, held) = mpsc::channel();
        let busy = {
            let gates = gates.clone();
            thread::spawn(move || {
                gates.through("f", || {
                    holds.send(()).unwrap();
                    thread::sleep(Duration::from_millis(300));
                })
            })
        };
        held.recv().unwrap();
        let started = Instant::now();
        let after = gates.within(&takings, "f", "b", clock, || "after the wait");
        let queued = after.queued;
        assert!(queued >= Duration::from_millis(200) && started.elapsed() >= queued);
        assert_eq!(after.ended, Ended::Answered("after the wait"));
        busy.join().unwrap();
    }
}
