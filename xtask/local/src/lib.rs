//! The local environment: moto server, the durable execution emulator and `cargo lambda watch`
//! on this machine, joined by a router, with what moto lacks filled in after each deploy.
//!
//! Starts and stops processes ([`runner`], [`process`]), serves the router ([`router`], with the
//! review API as API Gateway would serve it: [`api`]; durable executions: [`durable`]) and
//! talks to moto through `kit-aws` ([`emulation`]). Uses `kit-base` and `kit-tools` (the venv
//! it runs moto and cargo-lambda from); nothing of the deploy engine.

pub mod api;
pub mod durable;
pub mod emulation;
pub mod process;
pub mod reply;
pub mod router;
pub mod runner;
pub mod schedules;
