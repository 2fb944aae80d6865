//! The local environment under load, with a config of its own (an approval timeout long enough
//! for 200 approvals queued on two cores). See `local.rs` for how these tests run.

mod support;

use std::sync::{Arc, Barrier};

const CONFIG: &str = "xtask/tests/load/hitl.yaml";

/// Load: 200 executions started at once, each approved by a POST sent as soon as its reviewer's
/// message arrives (so up to 200 POSTs in flight together); every one ends SUCCEEDED with exactly
/// one decision delivered, none stuck or lost. (`cargo xtask bench load` reports the throughput
/// and latencies; this only checks the outcome.)
#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn two_hundred_concurrent_approvals_all_succeed() {
    const N: usize = 200;
    let env = support::env_under_load(CONFIG, std::time::Duration::from_secs(600));
    let barrier = Arc::new(Barrier::new(N));
    let results: Vec<(support::Run, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    let run = env.start(&format!("load {i}"));
                    let link = env.link(&run.title, "ben@example.com");
                    let status = env.post(&link, "approve", "load").status;
                    (run, status)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = results.iter().map(|(_, s)| *s).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    for (run, _) in &results {
        let done = env.wait_for_end(&run.arn);
        assert_eq!(done["status"], "SUCCEEDED", "{}: {done}", run.title);
        assert_eq!(env.decisions_delivered(&run.arn), 1, "{}", run.title);
    }
}
