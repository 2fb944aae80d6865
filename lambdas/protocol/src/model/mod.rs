//! Model-based tests: random cases of requests, retried attempts, votes through old and new
//! links, racing decisions, expiries, stopped executions, late reminders and injected faults,
//! run on the in-memory ports, every invariant checked after every step ([`checks`]). A failing
//! case shrinks to a short sequence of operations, printed with the trace of what happened.

mod checks;
mod driver;
mod links;
mod ops;
mod system;

use proptest::{prelude::*, test_runner::RngAlgorithm};

use driver::Model;
use system::{Case, System, case};

/// Runs `case`: its operations, then every operation still running to its end, then the
/// protocol's chance on every ended execution. The error names the broken invariant, with the
/// trace.
fn run(case: &Case) -> Result<(), String> {
    let system = System::new(case);
    let mut model = Model::new(&system, case);
    let result = case
        .ops
        .iter()
        .try_for_each(|op| model.apply(op))
        .and_then(|()| model.finish())
        .and_then(|()| model.settle_ended());
    result.map_err(|broken| format!("{broken}\n\ntrace:\n  {}", model.trace.join("\n  ")))
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Thousands of cases in seconds; `PROPTEST_CASES` asks for more (or fewer).
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
        max_shrink_iters: 20_000,
        failure_persistence: None,
        // The default (ChaCha) is slow to seed without optimisations; the cases need no more.
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_protocol_keeps_its_invariants(case in case(40)) {
        if let Err(broken) = run(&case) {
            prop_assert!(false, "{}", broken);
        }
    }
}
