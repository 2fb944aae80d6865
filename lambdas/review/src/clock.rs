//! The clock the decision side reads, and waits on while it watches an execution end.

use hitl_protocol::{Clock, Pause};

/// The system clock, and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        hitl_aws::now()
    }
}

impl Pause for SystemClock {
    async fn pause(&self, millis: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
}
