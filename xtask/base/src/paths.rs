//! Where things are: the kit's directory, the rendered output, the tools; and writing a file so
//! that no reader sees half of it.

use std::path::{Path, PathBuf};

/// The kit's directory (the workspace root): templates, state machine and config live there.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("kit-base sits in xtask/ of the workspace")
        .to_owned()
}

/// `target/hitl` under the kit, or `$HITL_OUTPUT_DIR`.
pub fn output_dir() -> PathBuf {
    match std::env::var_os("HITL_OUTPUT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => root().join("target").join("hitl"),
    }
}

/// Where an environment's rendered template goes.
pub fn template_path(env: &str) -> PathBuf {
    output_dir().join(env).join("template.yaml")
}

/// `target/tools` under the kit: the Python venvs and the CDK toolchain.
pub fn tools_dir() -> PathBuf {
    root().join("target").join("tools")
}

/// A path as the user should read it: relative to the current directory when under it.
pub fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

/// Writes `text` to `path` through a temporary file, so a reader never sees half a template.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
