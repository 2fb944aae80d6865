//! The configuration reference: every key of `hitl.yaml` as the config's JSON Schema describes
//! it (type, limits, description), with its built-in default as the code resolves an
//! environment that sets nothing.

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// An environment that sets nothing: what it resolves to are the built-in defaults.
const EMPTY: &str = "project: example\nenvironments:\n  example:\n";

pub fn render() -> Result<String> {
    let schema: Value = serde_json::from_str(&kit_config::json_schema())?;
    let config = kit_config::Config::parse(Path::new("(the built-in defaults)"), EMPTY.to_owned())?;
    let defaults = serde_json::to_value(config.resolve("example", &Default::default())?)?;
    let mut out = String::new();
    out.push_str("### The file's top level\n\n");
    table(&mut out, &schema, &schema, None, &defaults)?;
    out.push_str("\n### Settings: under `defaults:` and `environments.<name>:`\n\n");
    let settings = resolve(&schema, &schema["$defs"]["Settings"])?;
    table(&mut out, &schema, settings, Some(""), &defaults)?;
    Ok(out)
}

/// The rows of `object`'s keys; with a `prefix`, nested groups of settings flattened as
/// `group.key` (the top level's `defaults` is a row of its own).
fn table(
    out: &mut String,
    root: &Value,
    object: &Value,
    prefix: Option<&str>,
    defaults: &Value,
) -> Result<()> {
    if prefix.is_none_or(str::is_empty) {
        out.push_str("| key | type | default | description |\n| --- | --- | --- | --- |\n");
    }
    let required: Vec<&str> = strings(&object["required"]);
    for (key, property) in object["properties"].as_object().into_iter().flatten() {
        let path = format!("{}{key}", prefix.unwrap_or_default());
        let schema = resolve(root, property)?;
        if prefix.is_some() && schema["properties"].is_object() {
            table(out, root, schema, Some(&format!("{path}.")), &defaults[key])?;
            continue;
        }
        let default = match required.contains(&key.as_str()) {
            true => "required".to_owned(),
            false => shown(&defaults[key]),
        };
        let description = text(&property["description"]);
        out.push_str(&format!(
            "| `{path}` | {} | {default} | {} |\n",
            cell(&kind(root, property)?),
            cell(&description)
        ));
    }
    Ok(())
}

/// `schema` without its `null` alternative, its `$ref` followed.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Result<&'a Value> {
    if let Some(reference) = schema["$ref"].as_str() {
        let Some(name) = reference.strip_prefix("#/$defs/") else {
            bail!("a schema reference outside $defs: {reference}");
        };
        return resolve(root, &root["$defs"][name]);
    }
    match schema["anyOf"].as_array().map(|a| non_null(a)).as_deref() {
        Some([one]) => resolve(root, one),
        Some(_) => bail!("a schema with several alternatives: {schema}"),
        None => Ok(schema),
    }
}

fn non_null(alternatives: &[Value]) -> Vec<&Value> {
    alternatives
        .iter()
        .filter(|a| a["type"] != "null")
        .collect()
}

/// The type of a value, with its limits.
fn kind(root: &Value, schema: &Value) -> Result<String> {
    let schema = resolve(root, schema)?;
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{}`", bare(v))).collect();
        return Ok(format!("one of {}", values.join(", ")));
    }
    let types = match &schema["type"] {
        Value::Array(types) => types.iter().filter(|t| *t != "null").cloned().collect(),
        one => vec![one.clone()],
    };
    let limits = limits(schema.as_object().unwrap_or(&Map::new()));
    Ok(match types.first().and_then(Value::as_str) {
        Some("array") => format!("list of {}", kind(root, &schema["items"])?),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("map of {}", kind(root, &schema["additionalProperties"])?)
        }
        Some("object") if schema["properties"].is_object() => "settings (below)".to_owned(),
        Some("object") => "map of environment name → settings (below)".to_owned(),
        Some("string") if schema["pattern"] == DURATION => duration(schema),
        Some(other) => [other.to_owned(), limits].join(" ").trim().to_owned(),
        None => bail!("a schema without a type: {schema}"),
    })
}

/// The pattern of a duration's schema.
const DURATION: &str = "^[0-9]+[smhd]$";

/// A duration with its range, which its schema's description ends with (`… from 1s to 364d.`).
fn duration(schema: &Value) -> String {
    let description = text(&schema["description"]);
    match description.rsplit_once(" from ") {
        Some((_, range)) => format!("duration, {}", range.trim_end_matches('.')),
        None => "duration".to_owned(),
    }
}

/// What a schema bounds: range, length, format, pattern.
fn limits(schema: &Map<String, Value>) -> String {
    let get = |key: &str| schema.get(key).map(bare);
    let mut parts = Vec::new();
    match (get("minimum"), get("maximum")) {
        (Some(min), Some(max)) => parts.push(format!("{min}–{max}")),
        (Some(min), None) => parts.push(format!("≥ {min}")),
        _ => {}
    }
    match (get("minLength"), get("maxLength")) {
        (Some(min), Some(max)) => parts.push(format!("{min}–{max} characters")),
        (None, Some(max)) => parts.push(format!("≤ {max} characters")),
        _ => {}
    }
    if let Some(format) = get("format") {
        parts.push(format!("({format})"));
    }
    if let Some(pattern) = get("pattern") {
        parts.push(format!("matching `{pattern}`"));
    }
    parts.join(", ")
}

/// A default as the table shows it.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        other => format!("`{}`", bare(other)),
    }
}

/// A JSON value as text: strings without their quotes.
fn bare(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A description on one line.
fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text safe in a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
