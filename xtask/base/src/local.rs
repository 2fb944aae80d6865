//! The fixed settings of the local environment that the kit's clients, the runner and the
//! functions must agree on.

use std::path::PathBuf;

/// The region and credentials every local client uses (moto accepts any).
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "local";
pub const SECRET_KEY: &str = "local";
/// The account moto serves when credentials name none.
pub const ACCOUNT_ID: &str = "123456789012";

/// Where the local environment keeps its state file and logs: `<output dir>/local`.
pub fn dir() -> PathBuf {
    crate::paths::output_dir().join("local")
}
