//! `cargo xtask config` and `cargo xtask schema`.

use anyhow::{Context, Result};
use kit_base::paths;

use kit_base::status::status;
use kit_config::values::Email;

use crate::{cli::Global, kit};

pub fn run(global: &Global, emails: &[Email], json: bool) -> Result<()> {
    let effective = kit::effective_for_render(global, emails)?;
    let text = if json {
        serde_json::to_string_pretty(&effective)? + "\n"
    } else {
        serde_yaml::to_string(&effective)?
    };
    print!("{text}");
    Ok(())
}

/// The name of the schema file next to the config, which `hitl.yaml`'s first line points at.
pub const SCHEMA_FILE: &str = "hitl.schema.json";

pub fn schema(write: bool) -> Result<()> {
    let schema = kit_config::json_schema();
    if write {
        let path = paths::root().join(SCHEMA_FILE);
        std::fs::write(&path, schema)
            .with_context(|| format!("cannot write {}", path.display()))?;
        status("Wrote", paths::shown(&path).display());
    } else {
        print!("{schema}");
    }
    Ok(())
}
