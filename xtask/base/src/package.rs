//! The functions the kit deploys and their packages: deterministic zips keyed by their SHA-256,
//! and the stack parameters that name them.

use anyhow::Result;
use sha2::{Digest, Sha256};

/// The function binaries, as the workspace's `lambdas/` build them and the stack names them
/// (`<stack>-<binary>`). A stack deploys the review function and, by its orchestrator, the
/// request function (Step Functions) or the durable workflow.
/// The remind function is deployed when the stack has a reminder or an escalation.
pub const FUNCTIONS: [&str; 4] = ["request", "review", "workflow", "remind"];

/// The binary that is a durable function: an invoke of it starts a durable execution.
pub const DURABLE_FUNCTION: &str = "workflow";

/// The features of a dev build of the functions (the local environment's): the workspace-hack,
/// so that it reuses every dependency the xtask compiled.
pub fn dev_features() -> String {
    FUNCTIONS.map(|f| format!("{f}/workspace-hack")).join(",")
}

/// The stack parameter naming the bucket of the function packages.
pub const ASSET_BUCKET_PARAMETER: &str = "AssetBucket";
/// The stack parameters naming each function's package, with the function.
pub const CODE_KEY_PARAMETERS: [(&str, &str); 4] = [
    ("RequestCodeKey", "request"),
    ("ReviewCodeKey", "review"),
    ("WorkflowCodeKey", "workflow"),
    ("RemindCodeKey", "remind"),
];

/// Every stack parameter about the packages: the bucket, then each function's key.
pub fn package_parameters() -> impl Iterator<Item = &'static str> {
    std::iter::once(ASSET_BUCKET_PARAMETER).chain(CODE_KEY_PARAMETERS.iter().map(|(p, _)| *p))
}

/// The function whose package a Lambda `Code` names through the stack parameters, if it does.
pub fn packaged_function(code: &serde_json::Value) -> Option<&'static str> {
    CODE_KEY_PARAMETERS
        .iter()
        .find_map(|(parameter, function)| {
            let named = serde_json::json!({
                "S3Bucket": {"Ref": ASSET_BUCKET_PARAMETER},
                "S3Key": {"Ref": parameter},
            });
            (*code == named).then_some(*function)
        })
}

/// One function's package.
pub struct Asset {
    /// The function binary's name (`request`, `review`).
    pub function: String,
    pub zip: Vec<u8>,
}

impl Asset {
    /// `<project>/<function>-<sha256>.zip`: the same code gives the same key, so an unchanged
    /// function is neither uploaded again nor redeployed.
    pub fn key(&self, project: &str) -> String {
        format!("{project}/{}-{}.zip", self.function, hex_sha256(&self.zip))
    }
}

/// The version of [`zip_bootstrap`]'s output: a change to how packages are made changes it, so
/// that no zip made the old way is reused.
pub const ZIP_FORMAT: &str = "hitl-zip-1";

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Lambda package holding `bootstrap` (mode 0755) with a fixed timestamp: the same binary
/// always gives the same bytes.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // Deflate's best: a package is zipped once per build and downloaded at every cold start.
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    out.start_file("bootstrap", options)?;
    out.write_all(binary)?;
    Ok(out.finish()?.into_inner())
}

/// The local environment's packages: moto only stores a function's code, `cargo lambda watch`
/// runs it, so each package holds a script saying so.
pub fn local_placeholders(functions: &[&str]) -> Result<Vec<Asset>> {
    functions
        .iter()
        .map(|&function| {
            let script = format!(
                "#!/bin/sh\necho 'hitl local environment: {function} runs in cargo lambda watch, \
                 not from this package' >&2\nexit 1\n"
            );
            Ok(Asset {
                function: function.to_owned(),
                zip: zip_bootstrap(script.as_bytes())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_always_zips_to_the_same_bytes() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let zip = zip_bootstrap(&binary).unwrap();
        assert_eq!(zip, zip_bootstrap(&binary).unwrap());
        assert_ne!(zip, zip_bootstrap(b"another binary").unwrap());
        // One file, `bootstrap`, executable, at the fixed timestamp.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let file = archive.by_index(0).unwrap();
        assert_eq!(file.name(), "bootstrap");
        assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(file.last_modified(), Some(zip::DateTime::default()));
    }
}
