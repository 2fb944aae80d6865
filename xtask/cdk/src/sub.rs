//! `Fn::Sub` taken apart: its text and its variables, in order, as a `Fn::Join` would list
//! them.

use serde_json::{Map, Value as Json, json};

/// `Fn::Sub` text split at its `${…}`: each variable becomes its value from `variables`, a
/// `Ref` or a `Fn::GetAtt`; `${!x}` is the text `${x}`.
pub fn substitute(text: &str, variables: &Map<String, Json>) -> Vec<Json> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}').map(|e| start + e) else {
            break;
        };
        parts.push(Json::String(rest[..start].to_owned()));
        let name = &rest[start + 2..end];
        parts.push(if let Some(literal) = name.strip_prefix('!') {
            Json::String(format!("${{{literal}}}"))
        } else if let Some(value) = variables.get(name) {
            value.clone()
        } else if let Some((resource, attribute)) =
            name.split_once('.').filter(|_| !name.starts_with("AWS::"))
        {
            json!({"Fn::GetAtt": [resource, attribute]})
        } else {
            json!({"Ref": name})
        });
        rest = &rest[end + 1..];
    }
    parts.push(Json::String(rest.to_owned()));
    parts
}

/// The `Fn::Join` (on nothing) that says what a `Fn::Sub` says, or `None` for another value.
/// Text parts stay text exactly, variables become references.
pub fn as_join(value: &Json) -> Option<Json> {
    let args = value.as_object().filter(|o| o.len() == 1)?.get("Fn::Sub")?;
    let parts = match args {
        Json::String(text) => substitute(text, &Map::new()),
        Json::Array(args) if args.len() == 2 => substitute(args[0].as_str()?, args[1].as_object()?),
        _ => return None,
    };
    let mut joined: Vec<Json> = Vec::new();
    for part in parts.into_iter().filter(|p| p.as_str() != Some("")) {
        match (joined.last_mut(), &part) {
            (Some(Json::String(last)), Json::String(next)) => last.push_str(next),
            _ => joined.push(part),
        }
    }
    let parts = joined;
    Some(match parts.as_slice() {
        [] => Json::String(String::new()),
        [Json::String(text)] => Json::String(text.clone()),
        _ => json!({"Fn::Join": ["", parts]}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_becomes_the_join_of_its_text_and_references() {
        let sub = json!({"Fn::Sub": ["a`${X}`\\\"${AWS::Region}${Res.Arn}${!Lit}z", {"X": {"Ref": "Y"}}]});
        assert_eq!(
            as_join(&sub).unwrap(),
            json!({"Fn::Join": ["", [
                "a`", {"Ref": "Y"}, "`\\\"", {"Ref": "AWS::Region"},
                {"Fn::GetAtt": ["Res", "Arn"]}, "${Lit}z"
            ]]})
        );
        assert_eq!(
            as_join(&json!({"Fn::Sub": "plain"})).unwrap(),
            json!("plain")
        );
        assert_eq!(as_join(&json!({"Ref": "X"})), None);
    }
}
