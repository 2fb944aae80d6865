//! Where things are: the kit's directory, the rendered output, the tools; and writing a file so
//! that no reader sees half of it.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

/// The kit's directory (the workspace root): templates, state machine and config live there.
/// Found at run time, never baked in at compile time: a moved or renamed checkout (whose
/// `target/` cargo keeps fresh) works where it is now. The first kit at or above the current
/// directory, else above the package `cargo run`/`cargo test` name (`CARGO_MANIFEST_DIR` at run
/// time), else above the running binary; the current directory when none is (then the files
/// the verb needs are missing, and it says which).
pub fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let current = std::env::current_dir().ok();
        let starts = [
            current.clone(),
            std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
            std::env::current_exe().ok(),
        ];
        starts
            .into_iter()
            .flatten()
            .find_map(|start| kit_at_or_above(&start))
            .or(current)
            .unwrap_or_default()
    })
    .clone()
}

/// The nearest directory at or above `start` that holds a kit: its main template and the
/// xtask's manifest.
pub fn kit_at_or_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| {
            dir.join("templates").join("stack.yaml.hbs").is_file()
                && dir.join("xtask").join("Cargo.toml").is_file()
        })
        .map(Path::to_owned)
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

/// cargo's target directory for the kit: `$CARGO_TARGET_DIR` (relative to the kit, where the
/// kit runs cargo), else `target` under the kit.
pub fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kit_is_the_nearest_directory_with_its_template_and_xtask() {
        let dir = tempfile::tempdir().unwrap();
        let kit = dir.path().join("moved-kit");
        std::fs::create_dir_all(kit.join("templates")).unwrap();
        std::fs::create_dir_all(kit.join("xtask").join("src")).unwrap();
        std::fs::write(kit.join("templates").join("stack.yaml.hbs"), "").unwrap();
        std::fs::write(kit.join("xtask").join("Cargo.toml"), "").unwrap();
        assert_eq!(kit_at_or_above(&kit), Some(kit.clone()));
        assert_eq!(
            kit_at_or_above(&kit.join("xtask").join("src")),
            Some(kit.clone())
        );
        assert_eq!(kit_at_or_above(dir.path()), None);
        // This checkout, from where cargo runs its tests.
        let here = kit_at_or_above(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(here.join("hitl.yaml").is_file());
    }
}
