//! The outside tools the kit runs: the Python venvs and the CDK toolchain it installs under
//! `target/tools` ([`install`]), cargo-lambda builds of the functions ([`functions`]), and the
//! type-check and synthesis of an exported CDK app ([`cdk_verify`]).
//!
//! Starts processes; talks to no AWS endpoint. Uses `kit-base`, `kit-config` (the
//! architecture) and `kit-cdk` (the toolchain pins, the comparison).

pub mod cdk_verify;
pub mod functions;
pub mod install;
