//! Where things are: the kit's directory, the config file, the rendered output.

use std::path::{Path, PathBuf};

use crate::{
    cli::Global,
    config::{Config, Diagnostic, Effective, Overrides},
    render::Sources,
};

/// The kit's directory (the workspace root): templates, state machine and config live there.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
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

/// A path as the user should read it: relative to the current directory when under it.
pub fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

pub fn sources() -> Sources {
    Sources::in_kit(&root())
}

/// The config file the flags name, loaded.
pub fn load_config(global: &Global) -> Result<Config, Diagnostic> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => shown(&root().join("hitl.yaml")),
    };
    Config::load(&path)
}

/// The effective config of the environment the flags name.
pub fn effective(
    global: &Global,
    emails: &[crate::config::values::Email],
) -> Result<Effective, Diagnostic> {
    let config = load_config(global)?;
    config.resolve(&global.env, &overrides(global, emails))
}

pub fn overrides(global: &Global, emails: &[crate::config::values::Email]) -> Overrides {
    Overrides {
        region: global.region.clone(),
        profile: global.profile.clone(),
        emails: emails.to_vec(),
    }
}
