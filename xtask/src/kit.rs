//! The config the global flags name: loaded, and resolved for their environment.

use kit_base::diagnostic::Diagnostic;
use kit_base::paths;
use kit_config::{Config, Effective, Overrides, values::Email};

use crate::cli::Global;

/// The config file the flags name, loaded.
pub fn load_config(global: &Global) -> Result<Config, Diagnostic> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => paths::shown(&paths::root().join("hitl.yaml")),
    };
    Config::load(&path)
}

/// The effective config of the environment the flags name.
pub fn effective(global: &Global, emails: &[Email]) -> Result<Effective, Diagnostic> {
    let config = load_config(global)?;
    config.resolve(&global.env, &overrides(global, emails))
}

/// [`effective`], checked for what rendering needs too (see `Config::resolve_for_render`): for
/// the verbs that render a template.
pub fn effective_for_render(global: &Global, emails: &[Email]) -> Result<Effective, Diagnostic> {
    let config = load_config(global)?;
    config.resolve_for_render(&global.env, &overrides(global, emails))
}

pub fn overrides(global: &Global, emails: &[Email]) -> Overrides {
    Overrides {
        region: global.region.clone(),
        profile: global.profile.clone(),
        emails: emails.to_vec(),
    }
}
