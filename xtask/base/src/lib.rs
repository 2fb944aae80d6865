//! The kit's ground floor: what every other part of the kit needs and nothing above it
//! defines. Where things are ([`paths`]), the one-line error every input mistake becomes
//! ([`diagnostic`]), cargo-style output ([`status`]), the functions the kit deploys and how
//! their packages are made and named ([`package`]), and the fixed settings of the local
//! environment ([`local`]).
//!
//! Pure apart from the file system and the terminal: no AWS SDK, and it starts no process
//! (`cargo` only prepares the command others run). It may use nothing of the kit.

pub mod cargo;
pub mod diagnostic;
pub mod local;
pub mod package;
pub mod paths;
pub mod status;
