//! Rendering CloudFormation from the handlebars templates: the built-in ones in `templates/`,
//! with an environment's override directory replacing partials of the same name and adding new
//! ones. Strict mode: a variable the data lacks is an error. Same inputs, same bytes.
//!
//! Uses `kit-base` and `kit-config`; no AWS SDK, no processes.

pub mod asl;
pub mod context;
mod dashboard;
mod helpers;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use handlebars::{Handlebars, no_escape};

use context::StackContext;
use kit_base::diagnostic::Diagnostic;
use kit_config::Effective;

/// The extension of template files.
pub const EXTENSION: &str = ".yaml.hbs";
/// The main template of the application stack, by name.
const STACK: &str = "stack";
/// The main template of the per account/region bootstrap stack, by name.
const BOOTSTRAP: &str = "bootstrap";

/// Where the kit's own files are.
pub struct Sources {
    pub templates: PathBuf,
    pub statemachine: PathBuf,
}

impl Sources {
    pub fn in_kit(root: &Path) -> Self {
        Self {
            templates: root.join("templates"),
            statemachine: root.join("statemachine").join("approval.asl.json"),
        }
    }

    /// The sources of this kit.
    pub fn kit() -> Self {
        Self::in_kit(&kit_base::paths::root())
    }
}

/// Template sources by name, with the file each came from, and the registry built from them.
#[derive(Default)]
struct TemplateSet {
    sources: BTreeMap<String, (PathBuf, String)>,
    registry: Handlebars<'static>,
}

impl TemplateSet {
    /// Adds every `*.yaml.hbs` in `dir`, replacing templates of the same name.
    fn add_dir(&mut self, dir: &Path) -> Result<(), Diagnostic> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Diagnostic::new(dir, format!("cannot read the directory ({e})")))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(name) = file_name.strip_suffix(EXTENSION) else {
                continue;
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Diagnostic::new(&path, format!("cannot read it ({e})")))?;
            self.sources.insert(name.to_owned(), (path.clone(), text));
        }
        Ok(())
    }

    /// Compiles the templates; called once every source is added.
    fn compile(&mut self) -> Result<(), Diagnostic> {
        let registry = &mut self.registry;
        registry.set_strict_mode(true);
        // Partials are written at the indentation they take in the document.
        registry.set_prevent_indent(true);
        registry.register_escape_fn(no_escape);
        helpers::register(registry);
        for (name, (path, text)) in &self.sources {
            registry.register_template_string(name, text).map_err(|e| {
                let mut d = Diagnostic::new(path, format!("template syntax error: {}", e.reason()));
                if let Some((line, column)) = e.pos() {
                    d = d.at(line, column);
                }
                d
            })?;
        }
        Ok(())
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.sources
            .get(name)
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| PathBuf::from(format!("{name}{EXTENSION}")))
    }

    fn render(&self, name: &str, data: &impl serde::Serialize) -> Result<String, Diagnostic> {
        let text = self.render_partial(name, data)?;
        check_yaml(&text, &self.path_of(name))?;
        Ok(text)
    }

    /// Renders one template on its own, without checking that the result is a whole document.
    fn render_partial(
        &self,
        name: &str,
        data: &impl serde::Serialize,
    ) -> Result<String, Diagnostic> {
        self.registry.render(name, data).map_err(|e| {
            let file = e
                .template_name
                .as_deref()
                .map(|n| self.path_of(n))
                .unwrap_or_else(|| self.path_of(name));
            let mut d = Diagnostic::new(file, render_message(&e));
            if let (Some(line), Some(column)) = (e.line_no, e.column_no) {
                d = d.at(line, column);
            }
            d
        })
    }
}

fn render_message(e: &handlebars::RenderError) -> String {
    use handlebars::RenderErrorReason as R;
    match e.reason() {
        R::MissingVariable(Some(var)) => format!(
            "`{var}` is not a template variable (see README, Templates, for the variables there are)"
        ),
        R::PartialNotFound(name) => format!(
            "no partial `{name}`: add `{name}{EXTENSION}` to the templates or the override directory"
        ),
        other => format!("cannot render: {other}"),
    }
}

/// The rendered text must be a YAML mapping with `Resources`, or CloudFormation would reject
/// it later with a vaguer message.
fn check_yaml(text: &str, main: &Path) -> Result<(), Diagnostic> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line()).unwrap_or(0);
        Diagnostic::new(
            main,
            format!(
                "the rendered template is not valid YAML (rendered line {line}: {e}); check the \
                 partials' indentation"
            ),
        )
    })?;
    if value
        .get("Resources")
        .and_then(|r| r.as_mapping())
        .is_none()
    {
        return Err(Diagnostic::new(
            main,
            "the rendered template has no `Resources` mapping",
        ));
    }
    Ok(())
}

fn templates(sources: &Sources, overrides: Option<&Path>) -> Result<TemplateSet, Diagnostic> {
    let mut set = TemplateSet::default();
    set.add_dir(&sources.templates)?;
    set.add_dir(&sources.templates.join("partials"))?;
    if let Some(dir) = overrides {
        set.add_dir(dir)?;
    }
    set.compile()?;
    Ok(set)
}

/// Renders the application stack of one environment.
pub fn stack(sources: &Sources, config: &Effective) -> Result<String, Diagnostic> {
    let asl = std::fs::read_to_string(&sources.statemachine)
        .map_err(|e| Diagnostic::new(&sources.statemachine, format!("cannot read it ({e})")))?;
    let numbers = asl::Numbers {
        approval_timeout_seconds: config.approval_timeout.secs(),
        execution_timeout_seconds: context::execution_timeout_seconds(config),
    };
    let definition = asl::prepare(&asl, &numbers)
        .map_err(|message| Diagnostic::new(&sources.statemachine, message))?;
    let set = templates(sources, config.templates.as_deref())?;
    let mut context = StackContext::new(config, definition);
    // A new API deployment whenever what it serves changes, wherever that is written (the `api`
    // partial, or methods an override adds through `extra_resources`): the template is rendered
    // once to find the API's resources, then again with their hash in the deployment's name.
    let draft = set.render(STACK, &context)?;
    let (served, methods) = served_api(&draft);
    context.api.deployment_id = format!("ApiDeployment{}", context::short_hash(&served));
    context.api.deployed_methods = methods;
    // A Lambda version freezes the function's configuration ("Function versions", Lambda
    // Developer Guide): the durable workflow's version names a hash of it, so that any change
    // publishes a new version and the alias moves to it.
    if let Some(durable) = &mut context.durable {
        durable.configuration = context::short_hash(&workflow_configuration(&draft));
    }
    set.render(STACK, &context)
}

/// The durable workflow function's properties in a rendered template, as text (empty when an
/// override took it out).
fn workflow_configuration(template: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(template).unwrap_or_default();
    serde_yaml::to_string(&doc["Resources"][WORKFLOW_FUNCTION]["Properties"]).unwrap_or_default()
}

/// The logical ID of the durable workflow's function, which its version publishes.
pub const WORKFLOW_FUNCTION: &str = "WorkflowFunction";

/// What an API deployment snapshots, from a rendered template: every `AWS::ApiGateway::*`
/// resource but the deployment and the stage, as text in logical-ID order; and the logical IDs
/// of the methods among them.
fn served_api(template: &str) -> (String, Vec<String>) {
    let doc: serde_yaml::Value = serde_yaml::from_str(template).unwrap_or_default();
    let mut served = BTreeMap::new();
    let mut methods = Vec::new();
    for (id, resource) in doc["Resources"].as_mapping().into_iter().flatten() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some(id) = id.as_str() else { continue };
        if !kind.starts_with("AWS::ApiGateway::")
            || matches!(
                kind,
                "AWS::ApiGateway::Deployment" | "AWS::ApiGateway::Stage"
            )
        {
            continue;
        }
        if kind == "AWS::ApiGateway::Method" {
            methods.push(id.to_owned());
        }
        served.insert(id.to_owned(), resource.clone());
    }
    methods.sort();
    (serde_yaml::to_string(&served).unwrap_or_default(), methods)
}

/// Renders the bootstrap stack: the asset bucket, and API Gateway's logging role with
/// `logging_role` (where the account has no working one, or the stack already holds it).
pub fn bootstrap(sources: &Sources, logging_role: bool) -> Result<String, Diagnostic> {
    templates(sources, None)?.render(
        BOOTSTRAP,
        &serde_json::json!({ "logging_role": logging_role }),
    )
}

#[cfg(test)]
mod tests;
