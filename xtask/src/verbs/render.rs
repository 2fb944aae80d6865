//! `cargo xtask render`: the template of one environment (or all), and the bootstrap template.

use anyhow::{Context, Result};
use kit_base::paths;

use kit_base::status::{status, warning};
use kit_config::{Effective, values::Email};

use crate::{cli::Global, kit};

pub fn run(global: &Global, emails: &[Email], all: bool) -> Result<()> {
    let config = kit::load_config(global)?;
    let envs = if all {
        config.environment_names()
    } else {
        vec![global.env.clone()]
    };
    // Resolve and render everything before writing anything: a mistake in one environment
    // leaves every template as it was.
    let mut rendered = Vec::new();
    for env in &envs {
        let effective = config.resolve_for_render(env, &kit::overrides(global, emails))?;
        let text = kit_render::stack(&kit_render::Sources::kit(), &effective)?;
        rendered.push((effective, text));
    }
    let bootstrap = kit_render::bootstrap(&kit_render::Sources::kit(), true)?;
    for (effective, text) in &rendered {
        let path = paths::template_path(effective.environment.as_str());
        paths::write_atomically(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        status("Rendered", summary(effective, text, &path));
        if effective.reviewers.is_empty() {
            warning(format!(
                "{} has no reviewers: nobody would be asked; add --email ADDR or `reviewers:` in {}",
                effective.stack_name,
                config.path.display()
            ));
        }
    }
    let path = paths::template_path("bootstrap");
    paths::write_atomically(&path, &bootstrap)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn summary(effective: &Effective, text: &str, path: &std::path::Path) -> String {
    let resources = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("Resources")
                .and_then(|r| r.as_mapping())
                .map(|m| m.len())
        })
        .unwrap_or(0);
    let reviewers = match effective.reviewers.len() {
        0 => "no reviewers".to_owned(),
        1 => "1 reviewer".to_owned(),
        n => format!("{n} reviewers"),
    };
    format!(
        "{} → {} ({resources} resources, {reviewers})",
        effective.stack_name,
        paths::shown(path).display()
    )
}
