//! The local environment: moto server, the durable execution emulator and `cargo lambda watch`
//! on this machine, joined by a router, with what moto lacks filled in after each deploy.
//!
//! Starts and stops processes ([`runner`], [`process`]); serves the router ([`router`]), which
//! decides every call by IAM as deployed ([`guard`], [`access`], the functions' role sessions:
//! [`sessions`], [`credentials`]), lets calls through as AWS would ([`gates`]), passes invokes to
//! the functions ([`invoke`]), answers for Step Functions, the durable emulator and
//! CloudFormation where moto would not ([`stepfunctions`], [`durable`], [`cloudformation`]),
//! checks API Gateway's logging role as AWS does ([`logging_role`]), stands in for Slack
//! ([`slack`], [`block_kit`]), fires Scheduler's schedules ([`schedules`], [`schedule_groups`]),
//! fills the dead-letter queues ([`dead_letters`]) and serves each stack's review API as API
//! Gateway would ([`gateway`], [`api`]), several stacks at once ([`stacks`]); injects the faults a
//! test asks for and follows what became of each ([`faults`], [`ledger`]); and talks to moto
//! through `kit-aws` after a deploy ([`emulation`]).
//! Uses `kit-base`, `kit-iam` and `kit-tools` (the venv it runs moto and cargo-lambda from);
//! nothing of the deploy engine.

pub mod access;
pub mod api;
pub mod block_kit;
pub mod clock;
pub mod cloudformation;
pub mod credentials;
pub mod dead_letters;
pub mod deliveries;
pub mod durable;
pub mod emulation;
pub mod faults;
pub mod gates;
pub mod gateway;
pub mod guard;
pub mod invoke;
pub mod items;
pub mod ledger;
pub mod logging_role;
pub mod process;
pub mod reply;
pub mod router;
pub mod runner;
pub mod runtime_api;
pub mod schedule_groups;
pub mod schedules;
pub mod sessions;
pub mod shared;
pub mod slack;
pub mod stacks;
pub mod stepfunctions;
