//! What the router's threads share: the upstreams, one HTTP agent, the gates, what the router
//! knows of executions, the policies and the sessions it handed out.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use crate::{access::Access, gates::Gates, sessions::Sessions, stepfunctions::Executions};

/// The router's upstreams.
#[derive(Clone)]
pub struct Upstreams {
    /// `http://127.0.0.1:<port>` of moto.
    pub moto: String,
    /// `http://127.0.0.1:<port>` of the durable execution emulator.
    pub durable: String,
    /// `http://127.0.0.1:<port>` of the moto that serves DynamoDB's items ([`crate::items`]);
    /// `None`: moto serves them.
    pub items: Option<String>,
    pub binaries: Vec<String>,
    /// How many calls each function gets at once: `cargo lambda watch`'s instances per
    /// function. Calls beyond wait here, as Lambda would queue or throttle them, instead of
    /// piling up inside cargo-lambda, which stalls under a few hundred waiting invokes.
    pub concurrency: usize,
    /// How long the functions' role sessions last.
    pub session_seconds: u64,
}

/// Hop-by-hop and framing headers, which each side sets for itself.
pub const NOT_FORWARDED: [&str; 5] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "expect",
];

/// What the router's threads share.
#[derive(Clone)]
pub struct Shared {
    pub upstreams: Upstreams,
    pub agent: ureq::Agent,
    pub gates: Arc<Gates>,
    /// The invocations let in that no instance has taken yet ([`crate::clock`]).
    pub takings: Arc<crate::clock::Takings>,
    pub dynamodb: Arc<crate::gates::Tables>,
    /// The tables mirrored in the items' moto.
    pub mirrors: Arc<crate::items::Mirrors>,
    pub executions: Arc<Executions>,
    /// The durable callbacks completed through the router: Lambda refuses a second completion
    /// (`CallbackTimeoutException`, "already closed") while the execution still runs; the
    /// emulator does not.
    pub completed_callbacks: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    pub access: Arc<Access>,
    pub sessions: Arc<Sessions>,
    /// How SQS delivers, as a test asked.
    pub deliveries: Arc<crate::deliveries::Deliveries>,
    /// Schedule groups being deleted.
    pub deleting: Arc<crate::schedule_groups::Deleting>,
    /// The faults a test armed.
    pub faults: Arc<crate::faults::Faults>,
    /// What became of the faults injected.
    pub ledger: Arc<crate::ledger::Ledger>,
    /// The stand-in for Slack.
    pub slack: Arc<crate::slack::Slack>,
    /// The router's own address, for the invokes it makes on a schedule's behalf.
    pub own: String,
    /// The local environment's directory (`<output dir>/local`): the served stacks' files.
    pub dir: std::path::PathBuf,
    /// Held by a `CreateStack` while moto makes the stack (see `router::pass_on`).
    pub stack_creates: Arc<std::sync::Mutex<()>>,
    /// The review API's port of each stack served ([`crate::gateway::serve_stack`]).
    pub apis: Arc<std::sync::Mutex<std::collections::BTreeMap<String, u16>>>,
    counter: Arc<AtomicU64>,
}

impl Shared {
    /// A request id for the next answer, `<prefix>-<n>`.
    pub fn request_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }
}

impl Shared {
    /// The router's shared state for `upstreams`, deciding with `access`; `own` is its address.
    pub fn new(upstreams: Upstreams, access: Arc<Access>, own: String) -> Self {
        Self {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            gates: Arc::new(Gates::new(upstreams.concurrency)),
            takings: Arc::default(),
            dynamodb: Arc::default(),
            mirrors: Arc::default(),
            executions: Arc::default(),
            completed_callbacks: Arc::default(),
            access,
            sessions: Arc::new(Sessions::new(upstreams.session_seconds)),
            faults: Arc::default(),
            ledger: Arc::default(),
            slack: Arc::default(),
            deleting: Arc::default(),
            deliveries: Arc::default(),
            own,
            dir: kit_base::local::dir(),
            apis: Arc::default(),
            stack_creates: Arc::default(),
            counter: Arc::default(),
            upstreams,
        }
    }
}
