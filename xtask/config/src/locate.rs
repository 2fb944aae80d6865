//! Finds the line of a key path in block-style YAML: for a value's error (serde_yaml places it at
//! the start of the enclosing mapping, not at the key) and for errors found after parsing.

/// The 1-based line of the key at `path` (e.g. `["environments", "dev", "templates"]`), if the
/// document writes it in block style.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut depth = 0;
    let mut parent_indent: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if parent_indent.is_some_and(|parent| indent <= parent) {
            return None; // left the block that should have held the next key
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
        if key == path[depth] {
            depth += 1;
            if depth == path.len() {
                return Some(index + 1);
            }
            parent_indent = Some(indent);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const DOC: &str = "\
# comment
project: hitl
defaults:
  templates: a
environments:
  dev:
    reviewers: []
  prod:
    # note
    templates: overrides/prod
";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(line_of(DOC, &["project"]), Some(2));
        assert_eq!(line_of(DOC, &["defaults", "templates"]), Some(4));
        assert_eq!(
            line_of(DOC, &["environments", "prod", "templates"]),
            Some(10)
        );
    }

    #[test]
    fn does_not_match_a_key_of_another_block() {
        assert_eq!(line_of(DOC, &["environments", "dev", "templates"]), None);
        assert_eq!(line_of(DOC, &["environments", "qa"]), None);
    }
}
