//! The local environment: moto server and `cargo lambda watch` on this machine, joined by a
//! router. So far the router; starting and stopping the pieces comes next.

pub mod router;
