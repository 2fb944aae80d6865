//! The CDK export: the rendered template, converted by cdk-from-cfn's own API (no jsii, no
//! Node), wrapped in a complete CDK app ([`app`]). What the converter cannot express is
//! restored by the app or refuses the export ([`prepare`]); [`compare`] checks a synthesized
//! template against the rendered one.
//!
//! Pure: text in, text out. Uses `kit-base` (the package parameters) and cdk-from-cfn; no AWS
//! SDK, no processes (running `tsc` and `cdk synth` on an export is `kit-tools`' job).

pub mod account_logging;
pub mod app;
pub mod compare;
mod long_form;
pub mod prepare;
mod sub;

use std::borrow::Cow;

use cdk_from_cfn::{
    CloudformationParseTree,
    cdk::Schema,
    ir::CloudformationProgramIr,
    synthesizer::{Python, Synthesizer, Typescript},
};

pub use prepare::Prepared;

/// The languages the export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Typescript,
    Python,
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::ALL
            .into_iter()
            .find(|lang| lang.id() == s)
            .ok_or_else(|| format!("unknown language `{s}`"))
    }
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Typescript, Lang::Python];

    /// The language's name on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Lang::Typescript => "typescript",
            Lang::Python => "python",
        }
    }

    /// The language's name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Typescript => "TypeScript",
            Lang::Python => "Python",
        }
    }
}

/// The stack class every export defines.
pub const CLASS: &str = "HitlStack";

/// The converted stack class and what the app must add to it.
pub struct Conversion {
    /// The rendered template in JSON form, with the account's API Gateway logging role when
    /// asked ([`account_logging`]): what the app deploys, and what `--verify` compares with.
    pub rendered: serde_json::Value,
    pub stack_code: String,
    pub prepared: Prepared,
}

/// Why a template cannot be exported.
#[derive(Debug)]
pub enum Refusal {
    /// Parts of the template the converter would lose, each named.
    Inexpressible(Vec<String>),
    /// The template or the converter failed.
    Failed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Inexpressible(reasons) => f.write_str(&reasons.join("; ")),
            Refusal::Failed(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Refusal {}

/// Converts a rendered template (YAML, short-form tags allowed); with `bootstrap` (the rendered
/// bootstrap template), the app also sets the account's API Gateway logging role
/// ([`account_logging`]).
pub fn convert(template: &str, bootstrap: Option<&str>, lang: Lang) -> Result<Conversion, Refusal> {
    let mut json = long_form::to_json(template).map_err(Refusal::Failed)?;
    if let Some(bootstrap) = bootstrap {
        let bootstrap = long_form::to_json(bootstrap).map_err(Refusal::Failed)?;
        account_logging::add(&mut json, &bootstrap).map_err(Refusal::Failed)?;
    }
    let prepared = prepare::prepare(json.clone()).map_err(Refusal::Inexpressible)?;
    let tree: CloudformationParseTree = serde_json::from_value(prepared.template.clone())
        .map_err(|e| Refusal::Failed(format!("cdk-from-cfn cannot read the template: {e}")))?;
    let schema = Cow::Borrowed(Schema::builtin());
    let ir = CloudformationProgramIr::from(tree, &schema)
        .map_err(|e| Refusal::Failed(format!("cdk-from-cfn: {e}")))?;
    let synthesizer: Box<dyn Synthesizer> = match lang {
        Lang::Typescript => Box::new(Typescript {}),
        Lang::Python => Box::new(Python {}),
    };
    let mut code = Vec::new();
    ir.synthesize(synthesizer.as_ref(), &mut code, CLASS)
        .map_err(|e| Refusal::Failed(format!("cdk-from-cfn: {e}")))?;
    let stack_code = String::from_utf8(code)
        .map_err(|e| Refusal::Failed(format!("cdk-from-cfn wrote no text: {e}")))?;
    Ok(Conversion {
        rendered: json,
        stack_code,
        prepared,
    })
}
