//! The clock and the link ids, as the functions read them.

use hitl_core::LinkId;
use hitl_protocol::{Clock, Ids};

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        hitl_aws::now()
    }
}

/// Link ids from the operating system's random number generator ([`LinkId::random`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl Ids for RandomIds {
    fn link_id(&self) -> LinkId {
        LinkId::random()
    }
}
