//! `cargo xtask docs`: the reference sections of `docs/` that the code generates, each between
//! `<!-- generated: NAME -->` and `<!-- end generated -->`: the configuration keys from the
//! config's JSON Schema and built-in defaults ([`config_reference`]), the template variables from
//! the render context ([`template_variables`]). Without `--write` it checks them and fails,
//! naming the command that refreshes them, when one is stale.

mod config_reference;
mod template_variables;

use anyhow::{Context, Result, bail};
use kit_base::{paths, status::status};

/// Where a generated section ends.
const END: &str = "<!-- end generated -->";

/// What writes a section's Markdown.
type Generate = fn() -> Result<String>;

/// Each generated section: its file, its name, what generates it.
const SECTIONS: [(&str, &str, Generate); 2] = [
    ("docs/configuration.md", "config", config_reference::render),
    ("docs/templates.md", "templates", template_variables::render),
];

pub fn run(write: bool) -> Result<()> {
    let mut stale = Vec::new();
    for (file, name, generate) in SECTIONS {
        let path = paths::root().join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let current = with_section(&text, name, &generate()?).with_context(|| file.to_owned())?;
        if current == text {
            continue;
        }
        if write {
            paths::write_atomically(&path, &current)
                .with_context(|| format!("cannot write {}", path.display()))?;
            status("Wrote", file);
        } else {
            stale.push(file);
        }
    }
    if !stale.is_empty() {
        bail!(
            "the generated reference in {} differs from what the code generates: run `cargo \
             xtask docs --write`",
            stale.join(", ")
        );
    }
    status("Checked", "the generated reference sections of docs/");
    Ok(())
}

/// `text` with the section `name` holding `body` (Markdown ending in a newline).
fn with_section(text: &str, name: &str, body: &str) -> Result<String> {
    let start = format!("<!-- generated: {name} -->");
    let Some((before, rest)) = text.split_once(&start) else {
        bail!("no `{start}` line: put it, and `{END}` after it, where the reference goes");
    };
    let Some((_, after)) = rest.split_once(END) else {
        bail!("no `{END}` after `{start}`");
    };
    Ok(format!("{before}{start}\n\n{body}\n{END}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_between_its_markers_and_nowhere_else() {
        let text = "# T\n<!-- generated: a -->\nold\n<!-- end generated -->\nafter\n";
        let new = with_section(text, "a", "new\n").unwrap();
        assert_eq!(
            new,
            "# T\n<!-- generated: a -->\n\nnew\n\n<!-- end generated -->\nafter\n"
        );
        assert_eq!(with_section(&new, "a", "new\n").unwrap(), new);
        assert!(with_section(text, "b", "x\n").is_err());
        assert!(with_section("<!-- generated: a -->\n", "a", "x\n").is_err());
    }
}
