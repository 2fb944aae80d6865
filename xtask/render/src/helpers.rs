//! Handlebars helpers for writing YAML safely: values from the config go through `json`, which
//! writes a JSON scalar (valid YAML in flow and block context), so no value can break the document.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

/// `{{json value}}`: the value as JSON (strings quoted and escaped).
fn json(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let value = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    let text = serde_json::to_string(value.value())
        .map_err(|e| RenderErrorReason::Other(e.to_string()))?;
    out.write(&text)?;
    Ok(())
}

/// `{{indent N text}}`: `text` with every line after the first indented by N spaces, for block
/// scalars (`|`).
fn indent(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let width =
        h.param(0)
            .and_then(|p| p.value().as_u64())
            .ok_or(RenderErrorReason::InvalidParamType(
                "indent: a number of spaces",
            ))?;
    let text = h
        .param(1)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::InvalidParamType("indent: a string"))?;
    let pad = " ".repeat(width as usize);
    for (i, line) in text.trim_end_matches('\n').lines().enumerate() {
        if i > 0 {
            out.write("\n")?;
            if !line.is_empty() {
                out.write(&pad)?;
            }
        }
        out.write(line)?;
    }
    Ok(())
}

/// `(concat a b ...)`: the parameters as one string, for partial arguments.
fn concat(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    for param in h.params() {
        match param.value() {
            serde_json::Value::String(s) => out.write(s)?,
            other => out.write(&other.to_string())?,
        }
    }
    Ok(())
}

pub fn register(registry: &mut Handlebars) {
    registry.register_helper("concat", Box::new(concat));
    registry.register_helper("json", Box::new(json));
    registry.register_helper("indent", Box::new(indent));
}
