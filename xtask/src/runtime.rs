//! The async runtime the AWS verbs block on.

use anyhow::Result;

/// The runtime the AWS verbs block on.
pub fn new() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
