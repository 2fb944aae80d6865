//! A CloudFormation YAML template in JSON form: the short-form tags (`!Ref`, `!GetAtt`, `!Sub`,
//! …) become the long-form intrinsic functions CloudFormation itself accepts in JSON.

use serde_json::{Map, Value as Json};
use serde_yaml::Value as Yaml;

/// The template as JSON, or what in it has no JSON form.
pub fn to_json(text: &str) -> Result<Json, String> {
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    convert(yaml, "")
}

fn convert(value: Yaml, at: &str) -> Result<Json, String> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).map_err(|e| format!("{at}: {e}"))?,
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| convert(item, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("{at}: a key that is not text: {other:?}")),
                };
                let inner = format!("{at}.{key}");
                object.insert(key, convert(value, &inner)?);
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let value = convert(tagged.value, at)?;
            let (key, value) = match (name, value) {
                ("Ref", value) => ("Ref".to_owned(), value),
                ("Condition", value) => ("Condition".to_owned(), value),
                // `!GetAtt Resource.Attribute` (the attribute may itself hold dots).
                ("GetAtt", Json::String(dotted)) => {
                    let Some((resource, attribute)) = dotted.split_once('.') else {
                        return Err(format!("{at}: !GetAtt {dotted} names no attribute"));
                    };
                    (
                        "Fn::GetAtt".to_owned(),
                        Json::from(vec![resource, attribute]),
                    )
                }
                (name, value) => (format!("Fn::{name}"), value),
            };
            Json::Object(Map::from_iter([(key, value)]))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::to_json;
    use serde_json::json;

    #[test]
    fn short_forms_become_long_forms() {
        let text = "\
A: !Ref Topic
B: !GetAtt Table.Arn
C: !GetAtt Db.Endpoint.Address
D: !Sub \"${Api}.example\"
E: !Sub
  - \"${X}\"
  - X: !GetAtt F.Arn
F: !If [IsProd, 1, !Ref AWS::NoValue]
G: !Condition IsProd
H: [1, true, null, 2.5]
";
        assert_eq!(
            to_json(text).unwrap(),
            json!({
                "A": {"Ref": "Topic"},
                "B": {"Fn::GetAtt": ["Table", "Arn"]},
                "C": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
                "D": {"Fn::Sub": "${Api}.example"},
                "E": {"Fn::Sub": ["${X}", {"X": {"Fn::GetAtt": ["F", "Arn"]}}]},
                "F": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
                "G": {"Condition": "IsProd"},
                "H": [1, true, null, 2.5],
            })
        );
    }

    #[test]
    fn what_has_no_json_form_is_named() {
        assert!(
            to_json("A: !GetAtt Table")
                .unwrap_err()
                .contains("A: !GetAtt Table")
        );
        assert!(to_json("A: [").is_err());
    }
}
