//! The local environment: moto server and `cargo lambda watch` on this machine, joined by a
//! router, with what moto lacks filled in after each deploy.

pub mod emulation;
pub mod process;
pub mod router;
pub mod runner;
