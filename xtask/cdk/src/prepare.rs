//! What cdk-from-cfn is given, and what it would lose. The template is checked against what
//! the converter keeps: a resource attribute it drops (`UpdateReplacePolicy`,
//! `CreationPolicy`) is restored by the exported app; anything that cannot be restored refuses
//! the export. The kit's package parameters give way to CDK assets.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use kit_base::package::{package_parameters, packaged_function};

/// Template sections cdk-from-cfn converts into the same CloudFormation. (It turns
/// `Conditions` and `Mappings` into code evaluated at synth time and parameters into constructor
/// properties, so those are refused, the kit's package parameters aside.)
const KEPT_SECTIONS: [&str; 6] = [
    "AWSTemplateFormatVersion",
    "Description",
    "Transform",
    "Parameters",
    "Resources",
    "Outputs",
];
/// Resource attributes cdk-from-cfn converts; the others are restored by the app.
const KEPT_RESOURCE_KEYS: [&str; 6] = [
    "Type",
    "Metadata",
    "DependsOn",
    "UpdatePolicy",
    "DeletionPolicy",
    "Properties",
];
const KEPT_OUTPUT_KEYS: [&str; 3] = ["Value", "Export", "Description"];
/// Properties newer than cdk-from-cfn's resource specification (it refuses the whole template
/// over one): taken out before the conversion and set again by the app, as a property override.
const NEWER_PROPERTIES: [(&str, &str); 1] = [("AWS::Lambda::Function", "DurableConfig")];

/// Where the app puts a function's package; the converted stack holds this until then.
pub const CODE_PLACEHOLDER: &str = "supplied-by-the-app-as-a-cdk-asset";

/// A resource attribute cdk-from-cfn drops, which the app sets again.
#[derive(Debug, PartialEq)]
pub struct Restored {
    pub logical_id: String,
    pub attribute: String,
    pub value: Json,
}

#[derive(Debug)]
pub struct Prepared {
    /// The template cdk-from-cfn converts.
    pub template: Json,
    /// Function logical id → the function's package (`request.zip`), a CDK asset in the app.
    pub code: BTreeMap<String, String>,
    /// Version logical id → the package its `Description` names (`workflow.zip`) and the rest
    /// of the description (the configuration's hash): the app writes the asset's hash there, so
    /// that a new package, like a new configuration, publishes a new version.
    pub versions: BTreeMap<String, Version>,
    pub restored: Vec<Restored>,
}

/// The template ready for cdk-from-cfn, or every reason it cannot be exported faithfully.
pub fn prepare(mut template: Json) -> Result<Prepared, Vec<String>> {
    let mut refused = Vec::new();
    let Some(sections) = template.as_object_mut() else {
        return Err(vec!["the template is not a mapping".to_owned()]);
    };
    for section in sections.keys() {
        if !KEPT_SECTIONS.contains(&section.as_str()) {
            refused.push(format!(
                "{section}: cdk-from-cfn has no way to express this template section"
            ));
        }
    }
    let code = packages(sections);
    let versions = versions(sections);
    strip_parameters(sections, &mut refused);
    let mut restored = Vec::new();
    if let Some(Json::Object(resources)) = sections.get_mut("Resources") {
        for (logical_id, resource) in resources.iter_mut() {
            if let Some(resource) = resource.as_object_mut() {
                set_aside(logical_id, resource, &mut restored, &mut refused);
            }
        }
    }
    if let Some(Json::Object(outputs)) = sections.get("Outputs") {
        for (name, output) in outputs {
            let keys = output.as_object().map(Map::keys).into_iter().flatten();
            for key in keys.filter(|k| !KEPT_OUTPUT_KEYS.contains(&k.as_str())) {
                refused.push(format!(
                    "Outputs.{name}.{key}: cdk-from-cfn has no way to express it"
                ));
            }
        }
    }
    let mut mentions = Vec::new();
    find_parameter_mentions(&template, "", &mut mentions);
    refused.extend(mentions.into_iter().map(|at| {
        format!(
            "{at}: refers to a package parameter, which the exported app replaces by CDK assets"
        )
    }));
    subs_to_joins(&mut template);
    if refused.is_empty() {
        Ok(Prepared {
            template,
            code,
            versions,
            restored,
        })
    } else {
        Err(refused)
    }
}

/// Removes the package parameters (the app's assets stand for them); any other parameter is
/// refused.
fn strip_parameters(sections: &mut Map<String, Json>, refused: &mut Vec<String>) {
    let Some(Json::Object(parameters)) = sections.get_mut("Parameters") else {
        return;
    };
    for parameter in package_parameters() {
        parameters.remove(parameter);
    }
    for name in parameters.keys() {
        refused.push(format!(
            "Parameters.{name}: cdk-from-cfn makes a parameter a constructor property, not a \
             stack parameter"
        ));
    }
    if parameters.is_empty() {
        sections.remove("Parameters");
    }
}

/// Takes out of one resource what cdk-from-cfn cannot write (its attributes beyond the kept
/// ones, metadata keys that are no identifier, properties newer than its schema), for the app
/// to restore; a `Condition` is refused.
fn set_aside(
    logical_id: &str,
    resource: &mut Map<String, Json>,
    restored: &mut Vec<Restored>,
    refused: &mut Vec<String>,
) {
    if resource.contains_key("Condition") {
        refused.push(format!(
            "Resources.{logical_id}.Condition: cdk-from-cfn evaluates conditions at synth time"
        ));
    }
    let mut dropped: Vec<String> = resource
        .keys()
        .filter(|k| !KEPT_RESOURCE_KEYS.contains(&k.as_str()) && *k != "Condition")
        .cloned()
        .collect();
    // cdk-from-cfn writes metadata keys unquoted into TypeScript: keys that are no identifier
    // (`cfn-lint`, `AWS::CloudFormation::Init`) are set by the app instead.
    let odd_keys = resource
        .get("Metadata")
        .and_then(Json::as_object)
        .is_some_and(|m| m.keys().any(|k| !is_identifier(k)));
    if odd_keys {
        dropped.push("Metadata".to_owned());
    }
    for attribute in dropped {
        let value = resource.remove(&attribute).unwrap_or(Json::Null);
        restored.push(Restored {
            logical_id: logical_id.to_owned(),
            attribute,
            value,
        });
    }
    let kind = resource
        .get("Type")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    for (_, property) in NEWER_PROPERTIES.iter().filter(|(t, _)| *t == kind) {
        let taken = resource
            .get_mut("Properties")
            .and_then(Json::as_object_mut)
            .and_then(|p| p.remove(*property));
        if let Some(value) = taken {
            restored.push(Restored {
                logical_id: logical_id.to_owned(),
                attribute: format!("Properties.{property}"),
                value,
            });
        }
    }
}

/// A name TypeScript takes unquoted as an object key.
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Every `Fn::Sub` as the `Fn::Join` it amounts to. cdk-from-cfn writes a `Fn::Sub`'s text
/// into a TypeScript template literal or a Python f-string without escaping it, so a backtick,
/// a backslash or a line break in it would change or break the code; the text of a `Fn::Join`
/// is written as an escaped string literal. The CDK synthesizes either as a `Fn::Join`.
fn subs_to_joins(value: &mut Json) {
    match value {
        Json::Array(items) => items.iter_mut().for_each(subs_to_joins),
        Json::Object(object) => {
            object.values_mut().for_each(subs_to_joins);
            if let Some(join) = super::sub::as_join(value) {
                *value = join;
            }
        }
        _ => {}
    }
}

/// Replaces each function's `Code` that names the kit's package parameters by placeholders,
/// and says which package each function gets.
fn packages(sections: &mut Map<String, Json>) -> BTreeMap<String, String> {
    let mut code = BTreeMap::new();
    let Some(Json::Object(resources)) = sections.get_mut("Resources") else {
        return code;
    };
    for (logical_id, resource) in resources.iter_mut() {
        let Some(location) = resource.pointer_mut("/Properties/Code") else {
            continue;
        };
        if let Some(function) = packaged_function(location) {
            *location = json!({"S3Bucket": CODE_PLACEHOLDER, "S3Key": CODE_PLACEHOLDER});
            code.insert(logical_id.clone(), format!("{function}.zip"));
        }
    }
    code
}

/// What a published version's `Description` names: its function's package, then literal text
/// (`!Sub "package ${WorkflowCodeKey}, configuration 1a2b3c4d"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The package file (`workflow.zip`).
    pub package: String,
    /// The text after the package (`, configuration 1a2b3c4d`), written after the asset's hash.
    pub suffix: String,
}

impl Version {
    /// As the app reads it from `cdk.json` (`hitl:versions`).
    pub fn to_json(&self) -> Json {
        json!({"package": self.package, "suffix": self.suffix})
    }
}

/// The package and the rest of a published version's `Description` that names its function's
/// package; `None` for any other description.
pub fn version_package(description: &Json) -> Option<Version> {
    let text = description.get("Fn::Sub")?.as_str()?;
    let (parameter, suffix) = text.strip_prefix("package ${")?.split_once('}')?;
    if suffix.contains("${") {
        return None;
    }
    kit_base::package::CODE_KEY_PARAMETERS
        .iter()
        .find(|(p, _)| *p == parameter)
        .map(|(_, function)| Version {
            package: format!("{function}.zip"),
            suffix: suffix.to_owned(),
        })
}

/// Replaces each `AWS::Lambda::Version`'s `Description` that names a package by a placeholder,
/// and says which package each names.
fn versions(sections: &mut Map<String, Json>) -> BTreeMap<String, Version> {
    let mut versions = BTreeMap::new();
    let Some(Json::Object(resources)) = sections.get_mut("Resources") else {
        return versions;
    };
    for (logical_id, resource) in resources.iter_mut() {
        if resource.get("Type").and_then(Json::as_str) != Some("AWS::Lambda::Version") {
            continue;
        }
        let Some(description) = resource.pointer_mut("/Properties/Description") else {
            continue;
        };
        if let Some(package) = version_package(description) {
            *description = json!(CODE_PLACEHOLDER);
            versions.insert(logical_id.clone(), package);
        }
    }
    versions
}

/// Every place still naming a package parameter (by `Ref` or inside a `Fn::Sub` string).
fn find_parameter_mentions(value: &Json, at: &str, out: &mut Vec<String>) {
    let names: Vec<&str> = package_parameters().collect();
    match value {
        Json::Object(object) => {
            for (key, inner) in object {
                let mentioned = match (key.as_str(), inner) {
                    ("Ref", Json::String(name)) => names.contains(&name.as_str()),
                    ("Fn::Sub", Json::String(text)) => {
                        names.iter().any(|n| text.contains(&format!("${{{n}}}")))
                    }
                    ("Fn::Sub", Json::Array(parts)) => {
                        parts.first().and_then(Json::as_str).is_some_and(|text| {
                            names.iter().any(|n| text.contains(&format!("${{{n}}}")))
                        })
                    }
                    _ => false,
                };
                let inner_at = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                if mentioned {
                    out.push(inner_at);
                } else {
                    find_parameter_mentions(inner, &inner_at, out);
                }
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_parameter_mentions(item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(code_key: &str) -> Json {
        json!({
            "Type": "AWS::Lambda::Function",
            "Properties": {"Code": {"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": code_key}}}
        })
    }

    fn kit_template() -> Json {
        json!({
            "Description": "d",
            "Parameters": {
                "AssetBucket": {"Type": "String"},
                "RequestCodeKey": {"Type": "String"},
                "ReviewCodeKey": {"Type": "String"},
            },
            "Resources": {
                "RequestFunction": function("RequestCodeKey"),
                "ReviewFunction": function("ReviewCodeKey"),
                "Table": {
                    "Type": "AWS::DynamoDB::Table",
                    "DeletionPolicy": "Retain",
                    "UpdateReplacePolicy": "Retain",
                    "Properties": {}
                },
            },
            "Outputs": {
                "T": {"Value": {"Ref": "Table"}},
                "U": {"Value": {"Fn::Sub": "`${Table}\\"}},
            },
        })
    }

    #[test]
    fn package_parameters_give_way_to_assets_and_dropped_attributes_are_restored() {
        let prepared = prepare(kit_template()).unwrap();
        assert_eq!(prepared.template.get("Parameters"), None);
        assert_eq!(
            prepared.template["Resources"]["RequestFunction"]["Properties"]["Code"]["S3Key"],
            CODE_PLACEHOLDER
        );
        assert_eq!(
            prepared.code,
            BTreeMap::from([
                ("RequestFunction".to_owned(), "request.zip".to_owned()),
                ("ReviewFunction".to_owned(), "review.zip".to_owned()),
            ])
        );
        assert_eq!(
            prepared.restored,
            vec![Restored {
                logical_id: "Table".to_owned(),
                attribute: "UpdateReplacePolicy".to_owned(),
                value: json!("Retain"),
            }]
        );
        // What cdk-from-cfn keeps stays where it was.
        assert_eq!(
            prepared.template["Outputs"]["U"]["Value"],
            json!({"Fn::Join": ["", ["`", {"Ref": "Table"}, "\\"]]})
        );
        assert_eq!(
            prepared.template["Resources"]["Table"]["DeletionPolicy"],
            "Retain"
        );
        assert!(
            prepared.template["Resources"]["Table"]
                .get("UpdateReplacePolicy")
                .is_none()
        );
    }

    /// A durable function: its `DurableConfig` is newer than cdk-from-cfn, so the app sets it;
    /// its published version's `Description` names the package, so the app writes the asset's
    /// hash there.
    #[test]
    fn a_durable_function_is_exported_with_its_config_and_versioned_by_its_asset() {
        let template = json!({
            "Parameters": {
                "AssetBucket": {"Type": "String"},
                "WorkflowCodeKey": {"Type": "String"},
            },
            "Resources": {
                "WorkflowFunction": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": "WorkflowCodeKey"}},
                        "DurableConfig": {"ExecutionTimeout": 90, "RetentionPeriodInDays": 1},
                    },
                },
                "WorkflowVersion": {
                    "Type": "AWS::Lambda::Version",
                    "Properties": {
                        "FunctionName": {"Ref": "WorkflowFunction"},
                        "Description": {"Fn::Sub": "package ${WorkflowCodeKey}, configuration 0123abcd"},
                    },
                },
            },
        });
        let prepared = prepare(template).unwrap();
        let resources = &prepared.template["Resources"];
        assert!(
            resources["WorkflowFunction"]["Properties"]
                .get("DurableConfig")
                .is_none()
        );
        assert_eq!(
            prepared.restored,
            vec![Restored {
                logical_id: "WorkflowFunction".to_owned(),
                attribute: "Properties.DurableConfig".to_owned(),
                value: json!({"ExecutionTimeout": 90, "RetentionPeriodInDays": 1}),
            }]
        );
        assert_eq!(
            resources["WorkflowVersion"]["Properties"]["Description"],
            CODE_PLACEHOLDER
        );
        assert_eq!(
            prepared.versions,
            BTreeMap::from([(
                "WorkflowVersion".to_owned(),
                Version {
                    package: "workflow.zip".to_owned(),
                    suffix: ", configuration 0123abcd".to_owned()
                }
            )])
        );
    }

    #[test]
    fn metadata_with_keys_typescript_cannot_take_bare_is_restored_by_the_app() {
        let mut template = kit_template();
        template["Resources"]["Table"]["Metadata"] = json!({"cfn-lint": {"config": {}}});
        template["Resources"]["RequestFunction"]["Metadata"] = json!({"checkov": {}});
        let prepared = prepare(template).unwrap();
        assert!(prepared.restored.iter().any(|r| r.logical_id == "Table"
            && r.attribute == "Metadata"
            && r.value == json!({"cfn-lint": {"config": {}}})));
        assert!(
            prepared.template["Resources"]["Table"]
                .get("Metadata")
                .is_none()
        );
        assert_eq!(
            prepared.template["Resources"]["RequestFunction"]["Metadata"],
            json!({"checkov": {}})
        );
    }

    #[test]
    fn what_cannot_be_expressed_is_refused_each_by_name() {
        let mut template = kit_template();
        template["Rules"] = json!({"R": {}});
        template["Parameters"]["Name"] = json!({"Type": "String", "Default": "x"});
        template["Conditions"] = json!({"IsProd": {"Fn::Equals": ["a", "b"]}});
        template["Resources"]["Table"]["Condition"] = json!("IsProd");
        template["Outputs"]["Bucket"] = json!({"Value": {"Ref": "AssetBucket"}});
        template["Resources"]["Other"] = json!({
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": {"Fn::Sub": "${RequestCodeKey}-x"}}
        });
        let refused = prepare(template).unwrap_err();
        let expected = [
            "Rules: cdk-from-cfn has no way to express this template section",
            "Conditions: cdk-from-cfn has no way to express this template section",
            "Parameters.Name: cdk-from-cfn makes a parameter a constructor property",
            "Resources.Table.Condition: cdk-from-cfn evaluates conditions at synth time",
            "Outputs.Bucket.Value.Ref: refers to a package parameter",
            "Resources.Other.Properties.TopicName.Fn::Sub: refers to a package parameter",
        ];
        for line in expected {
            assert!(
                refused.iter().any(|r| r.starts_with(line)),
                "{line} not in {refused:#?}"
            );
        }
        assert_eq!(refused.len(), expected.len(), "{refused:#?}");
    }
}
