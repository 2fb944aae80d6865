//! Does a template synthesized by the CDK say what the rendered one says? Both are brought to
//! one form first: string-building intrinsics (`Fn::Sub`, `Fn::Join`) become one sequence of
//! text and references, text that is JSON is compared as JSON (so re-indenting a state machine
//! definition changes nothing), tags are compared by key, and what the CDK adds of its own
//! (bootstrap version check, `aws:cdk:*` metadata) is set aside. The kit's package parameters
//! must have become CDK assets.

use serde_json::{Map, Value as Json, json};

use super::sub::substitute;
use kit_base::package::{package_parameters, packaged_function};

/// Resource attributes compared besides `Type` and `Properties`.
const ATTRIBUTES: [&str; 6] = [
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
];

/// Every difference, one line each; empty when the templates agree.
pub fn differences(rendered: &Json, synthesized: &Json, stack_name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (mut rendered, mut synthesized) = (rendered.clone(), synthesized.clone());
    // Before the `Fn::Sub`s become joins: a version's Description is one.
    versions_name_their_assets(&mut rendered, &mut synthesized, &mut found);
    name_the_stack(&mut rendered, stack_name);
    name_the_stack(&mut synthesized, stack_name);
    packages_became_assets(&mut rendered, &mut synthesized, &mut found);
    let empty = Map::new();
    let section = |doc: &Json, name: &str| doc.get(name).and_then(Json::as_object).cloned();
    let resources = |doc: &Json| section(doc, "Resources").unwrap_or_else(|| empty.clone());
    let (ours, theirs) = (resources(&rendered), resources(&synthesized));
    for (id, resource) in &ours {
        let Some(other) = theirs.get(id) else {
            found.push(format!(
                "Resources.{id}: missing from the synthesized template"
            ));
            continue;
        };
        for key in ["Type", "Properties"].into_iter().chain(ATTRIBUTES) {
            // Under its key, so that what depends on the key (DependsOn, Tags) applies.
            let keyed = |r: &Json| r.get(key).map_or(json!({}), |v| json!({ key: v }));
            same(
                &format!("Resources.{id}"),
                Some(&keyed(resource)),
                Some(&keyed(other)),
                &mut found,
            );
        }
        same(
            &format!("Resources.{id}.Metadata"),
            own_metadata(resource.get("Metadata")).as_ref(),
            own_metadata(other.get("Metadata")).as_ref(),
            &mut found,
        );
    }
    for id in theirs.keys().filter(|id| !ours.contains_key(*id)) {
        if id != "CDKMetadata" {
            found.push(format!("Resources.{id}: not in the rendered template"));
        }
    }
    for name in [
        "Description",
        "Conditions",
        "Mappings",
        "Outputs",
        "Transform",
    ] {
        same(name, rendered.get(name), synthesized.get(name), &mut found);
    }
    let kit_parameters: Vec<&str> = package_parameters().collect();
    let parameters = |doc: &Json, skip: &[&str]| -> Json {
        let kept: Map<String, Json> = section(doc, "Parameters")
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| !skip.contains(&name.as_str()))
            .collect();
        Json::Object(kept)
    };
    same(
        "Parameters",
        Some(&parameters(&rendered, &kit_parameters)),
        Some(&parameters(&synthesized, &["BootstrapVersion"])),
        &mut found,
    );
    found
}

fn same(at: &str, ours: Option<&Json>, theirs: Option<&Json>, found: &mut Vec<String>) {
    descend(
        at,
        ours.map(normal).as_ref(),
        theirs.map(normal).as_ref(),
        found,
    );
}

/// The differences of two normal values, each at the deepest key where they part.
fn descend(at: &str, ours: Option<&Json>, theirs: Option<&Json>, found: &mut Vec<String>) {
    if ours == theirs {
        return;
    }
    if let (Some(Json::Object(a)), Some(Json::Object(b))) = (ours, theirs) {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        // A value that is a function (or a joined text) is shown whole.
        let function = |k: &&String| k.starts_with("hitl:") || k.starts_with("Fn::") || *k == "Ref";
        if !keys.iter().any(function) {
            for key in keys {
                descend(&format!("{at}.{key}"), a.get(key), b.get(key), found);
            }
            return;
        }
    }
    let show = |v: Option<&Json>| v.map_or("nothing".to_owned(), Json::to_string);
    found.push(format!(
        "{at}: rendered {} but synthesized {}",
        show(ours),
        show(theirs)
    ));
}

/// `AWS::StackName` as the name the stack is deployed under, which is what the CDK writes.
fn name_the_stack(value: &mut Json, stack_name: &str) {
    if *value == json!({"Ref": "AWS::StackName"}) {
        *value = json!(stack_name);
        return;
    }
    if let Some(join) = super::sub::as_join(value) {
        *value = join;
    }
    match value {
        Json::Array(items) => items.iter_mut().for_each(|v| name_the_stack(v, stack_name)),
        Json::Object(object) => object
            .values_mut()
            .for_each(|v| name_the_stack(v, stack_name)),
        _ => {}
    }
}

/// Metadata less what the CDK writes of its own.
fn own_metadata(metadata: Option<&Json>) -> Option<Json> {
    let kept: Map<String, Json> = metadata?
        .as_object()?
        .iter()
        .filter(|(key, _)| !key.starts_with("aws:cdk:") && !key.starts_with("aws:asset:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(Json::Object(kept))
}

/// The logical ids of a template's resources.
fn resource_ids(doc: &Json) -> Vec<String> {
    doc.get("Resources")
        .and_then(Json::as_object)
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

/// Replaces the value at `pointer` in both documents by the same `text`, once it is checked.
fn set_aside(docs: [&mut Json; 2], pointer: &str, text: &str) {
    for doc in docs {
        if let Some(value) = doc.pointer_mut(pointer) {
            *value = json!(text);
        }
    }
}

/// Checks that each function's package became a CDK asset, then sets both `Code`s aside.
fn packages_became_assets(rendered: &mut Json, synthesized: &mut Json, found: &mut Vec<String>) {
    let ids = resource_ids(rendered);
    for id in ids {
        let pointer = format!("/Resources/{id}/Properties/Code");
        let Some(code) = rendered.pointer(&pointer) else {
            continue;
        };
        if packaged_function(code).is_none() {
            continue;
        }
        let asset = synthesized.pointer(&pointer);
        let key = asset.and_then(|c| c.get("S3Key")).and_then(Json::as_str);
        let bucket = asset.and_then(|c| c.get("S3Bucket"));
        if !key.is_some_and(|k| k.ends_with(".zip")) || bucket.is_none() {
            found.push(format!(
                "Resources.{id}.Properties.Code: not a CDK asset in the synthesized template: {}",
                asset.map_or("nothing".to_owned(), Json::to_string)
            ));
        }
        set_aside(
            [&mut *rendered, &mut *synthesized],
            &pointer,
            "the function's package",
        );
    }
}

/// Checks that each version that names its package names its CDK asset, then sets both
/// `Description`s aside.
fn versions_name_their_assets(
    rendered: &mut Json,
    synthesized: &mut Json,
    found: &mut Vec<String>,
) {
    let ids = resource_ids(rendered);
    for id in ids {
        let pointer = format!("/Resources/{id}/Properties/Description");
        let Some(named) = rendered
            .pointer(&pointer)
            .and_then(crate::prepare::version_package)
        else {
            continue;
        };
        let theirs = synthesized.pointer(&pointer).and_then(Json::as_str);
        let hash = theirs
            .and_then(|t| t.strip_prefix("package "))
            .and_then(|t| t.strip_suffix(named.suffix.as_str()));
        if !hash.is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())) {
            found.push(format!(
                "Resources.{id}.Properties.Description: not the package's asset hash and \
                 `{}` in the synthesized template: {theirs:?}",
                named.suffix
            ));
        }
        set_aside(
            [&mut *rendered, &mut *synthesized],
            &pointer,
            "the package's version",
        );
    }
}

/// One form for values that mean the same to CloudFormation.
pub fn normal(value: &Json) -> Json {
    match value {
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => value.clone(),
        },
        Json::Array(items) => Json::Array(items.iter().map(normal).collect()),
        Json::Object(object) => {
            if let Some(parts) = text_parts(object) {
                return joined(parts);
            }
            let mut out = Map::new();
            for (key, inner) in object {
                let inner = match (key.as_str(), inner) {
                    ("Fn::GetAtt", Json::String(dotted)) => match dotted.split_once('.') {
                        Some((r, a)) => json!([r, a]),
                        None => inner.clone(),
                    },
                    ("DependsOn", Json::String(one)) => json!([one]),
                    ("DependsOn", Json::Array(many)) => {
                        let mut many = many.clone();
                        many.sort_by_key(Json::to_string);
                        Json::Array(many)
                    }
                    ("Tags", Json::Array(tags)) => {
                        let mut tags: Vec<Json> = tags.iter().map(normal).collect();
                        tags.sort_by_key(|t| t.get("Key").map(Json::to_string));
                        Json::Array(tags)
                    }
                    _ => normal(inner),
                };
                out.insert(key.clone(), inner);
            }
            Json::Object(out)
        }
        _ => value.clone(),
    }
}

/// A `Fn::Sub` or a `Fn::Join` of text: its pieces, text and references, in order.
fn text_parts(object: &Map<String, Json>) -> Option<Vec<Json>> {
    if object.len() != 1 {
        return None;
    }
    let (key, args) = object.iter().next()?;
    match (key.as_str(), args) {
        ("Fn::Sub", Json::String(text)) => Some(substitute(text, &Map::new())),
        ("Fn::Sub", Json::Array(args)) if args.len() == 2 => {
            Some(substitute(args[0].as_str()?, args[1].as_object()?))
        }
        ("Fn::Join", Json::Array(args)) if args.len() == 2 => {
            let delimiter = args[0].as_str()?;
            let items = args[1].as_array()?;
            let mut parts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 && !delimiter.is_empty() {
                    parts.push(Json::String(delimiter.to_owned()));
                }
                parts.push(item.clone());
            }
            Some(parts)
        }
        _ => None,
    }
}

/// The pieces as one value: nested pieces flattened, neighbouring text joined; plain text when
/// only text is left, the reference itself when it stands alone, and JSON text compared as
/// JSON, with its references in order beside it.
fn joined(parts: Vec<Json>) -> Json {
    let mut flat: Vec<Json> = Vec::new();
    flatten(parts, &mut flat);
    flat.retain(|p| p.as_str() != Some(""));
    match flat.as_slice() {
        [] => Json::String(String::new()),
        [one] => one.clone(),
        _ => as_json_text(&flat).unwrap_or_else(|| json!({"hitl:text": flat})),
    }
}

fn flatten(parts: Vec<Json>, out: &mut Vec<Json>) {
    for part in parts {
        if let Some(inner) = part.as_object().and_then(text_parts) {
            flatten(inner, out);
            continue;
        }
        let part = normal(&part);
        match (out.last_mut(), &part) {
            (Some(Json::String(last)), Json::String(next)) => last.push_str(next),
            _ => out.push(part),
        }
    }
}

/// Pieces whose text, references replaced by markers, is a JSON object or array.
fn as_json_text(pieces: &[Json]) -> Option<Json> {
    let mut text = String::new();
    let mut references = Vec::new();
    for piece in pieces {
        match piece {
            Json::String(s) => text.push_str(s),
            other => {
                text.push_str(&format!("@hitl:{}@", references.len()));
                references.push(other.clone());
            }
        }
    }
    let parsed: Json = serde_json::from_str(&text).ok()?;
    (parsed.is_object() || parsed.is_array())
        .then(|| json!({"hitl:json": normal(&parsed), "hitl:references": references}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit_function() -> Json {
        json!({
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": "RequestCodeKey"}},
                "MemorySize": 256,
                "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}],
            }
        })
    }

    fn rendered() -> Json {
        json!({
            "Description": "d",
            "Parameters": {"AssetBucket": {"Type": "String"}, "RequestCodeKey": {"Type": "String"}},
            "Resources": {
                "Fn": kit_function(),
                "Url": {
                    "Type": "AWS::SSM::Parameter",
                    "DependsOn": "Fn",
                    "UpdateReplacePolicy": "Retain",
                    "Properties": {
                        "Value": {"Fn::Sub": ["https://${Api}.execute-api.${AWS::Region}/${X}", {"X": {"Fn::GetAtt": ["Fn", "Arn"]}}]},
                        "Definition": {"Fn::Sub": "{\n  \"A\": \"${Fn.Arn}\",\n  \"B\": 10.0\n}"},
                    }
                }
            },
            "Outputs": {"U": {
                "Value": {"Fn::GetAtt": ["Fn", "Arn"]},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-U"}}
            }},
        })
    }

    /// The same stack as the CDK writes it.
    fn synthesized() -> Json {
        let mut function = kit_function();
        function["Properties"]["Code"] = json!({
            "S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
            "S3Key": "0123abcd.zip"
        });
        function["Properties"]["Tags"] =
            json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]);
        function["Metadata"] = json!({"aws:cdk:path": "hitl-dev/Fn"});
        json!({
            "Description": "d",
            "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
            "Resources": {
                "Fn": function,
                "Url": {
                    "Type": "AWS::SSM::Parameter",
                    "DependsOn": ["Fn"],
                    "UpdateReplacePolicy": "Retain",
                    "Properties": {
                        "Value": {"Fn::Join": ["", ["https://", {"Ref": "Api"}, ".execute-api.", {"Ref": "AWS::Region"}, "/", {"Fn::GetAtt": ["Fn", "Arn"]}]]},
                        "Definition": {"Fn::Join": ["", ["{\n        \"A\": \"", {"Fn::GetAtt": ["Fn", "Arn"]}, "\",\n        \"B\": 10\n      }"]]},
                    }
                },
                "CDKMetadata": {"Type": "AWS::CDK::Metadata"}
            },
            "Outputs": {"U": {
                "Value": {"Fn::GetAtt": ["Fn", "Arn"]},
                "Export": {"Name": "hitl-dev-U"}
            }},
        })
    }

    #[test]
    fn the_same_stack_written_the_cdk_way_has_no_differences() {
        assert_eq!(
            differences(&rendered(), &synthesized(), "hitl-dev"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_change_is_found_and_named() {
        type Change = fn(&mut Json);
        let changes: [(&str, Change); 7] = [
            ("Resources.Url: missing", |s| {
                s["Resources"].as_object_mut().unwrap().remove("Url");
            }),
            ("Resources.Fn.Properties.MemorySize: rendered 256", |s| {
                s["Resources"]["Fn"]["Properties"]["MemorySize"] = json!(512);
            }),
            (
                "Resources.Url.UpdateReplacePolicy: rendered \"Retain\" but synthesized nothing",
                |s| {
                    s["Resources"]["Url"]
                        .as_object_mut()
                        .unwrap()
                        .remove("UpdateReplacePolicy");
                },
            ),
            ("Resources.Url.Properties.Definition: rendered", |s| {
                s["Resources"]["Url"]["Properties"]["Definition"]["Fn::Join"][1][2] =
                    json!("\", \"B\": 11}");
            }),
            ("Resources.Fn.Properties.Code: not a CDK asset", |s| {
                s["Resources"]["Fn"]["Properties"]["Code"]["S3Key"] = json!("placeholder");
            }),
            ("Outputs.U.Value: rendered", |s| {
                s["Outputs"]["U"]["Value"] = json!({"Ref": "Fn"});
            }),
            ("Resources.Extra: not in the rendered template", |s| {
                s["Resources"]["Extra"] = json!({"Type": "AWS::SNS::Topic"});
            }),
        ];
        for (expected, change) in changes {
            let mut synthesized = synthesized();
            change(&mut synthesized);
            let found = differences(&rendered(), &synthesized, "hitl-dev");
            assert!(
                found.iter().any(|f| f.starts_with(expected)),
                "{expected} not in {found:#?}"
            );
        }
    }

    #[test]
    fn sub_and_join_meet_in_one_form() {
        let sub = json!({"Fn::Sub": "arn:${AWS::Partition}:x:${Res.Arn}:${!Literal}"});
        let join = json!({"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "x", {"Fn::GetAtt": ["Res", "Arn"]}, "${Literal}"]]});
        assert_eq!(normal(&sub), normal(&join));
        assert_eq!(
            normal(&json!({"Fn::Sub": "${Topic}"})),
            json!({"Ref": "Topic"})
        );
        assert_eq!(normal(&json!({"Fn::Sub": "plain"})), json!("plain"));
        assert_ne!(
            normal(&sub),
            normal(&json!({"Fn::Sub": "arn:${AWS::Partition}:y:${Res.Arn}"}))
        );
    }
}
