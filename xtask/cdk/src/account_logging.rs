//! The account's API Gateway logging role, which an exported app brings itself. The stage
//! writes access logs, which API Gateway refuses ("CloudWatch Logs role ARN must be set in
//! account settings") until the account names a role it may push logs with. The kit's
//! bootstrap stack sets it; an exported app deployed where the kit never ran has only
//! `cdk bootstrap`, so it takes the same two resources from the bootstrap template
//! (`ApiGatewayCloudWatchRole`, `ApiGatewayAccount`, both retained on delete, as the CDK's own
//! `RestApi` does with its `cloudWatchRole`), and its stage waits for them.

use serde_json::{Value as Json, json};

/// The bootstrap template's resources that set the account's logging role.
pub const RESOURCES: [&str; 2] = ["ApiGatewayCloudWatchRole", "ApiGatewayAccount"];

/// `template` (JSON) with the logging role and the account setting of `bootstrap` (JSON), and
/// every `AWS::ApiGateway::Stage` depending on the setting.
pub fn add(template: &mut Json, bootstrap: &Json) -> Result<(), String> {
    let Some(resources) = template.get_mut("Resources").and_then(Json::as_object_mut) else {
        return Err("the template has no Resources".to_owned());
    };
    for id in RESOURCES {
        if resources.contains_key(id) {
            return Err(format!(
                "the template already has a resource {id}, which the export adds"
            ));
        }
        let resource = bootstrap
            .get("Resources")
            .and_then(|r| r.get(id))
            .ok_or_else(|| format!("the bootstrap template has no {id}"))?;
        resources.insert(id.to_owned(), resource.clone());
    }
    let account = RESOURCES[1];
    for resource in resources.values_mut() {
        if resource.get("Type") != Some(&json!("AWS::ApiGateway::Stage")) {
            continue;
        }
        let Some(object) = resource.as_object_mut() else {
            continue;
        };
        let mut depends: Vec<Json> = match object.remove("DependsOn") {
            Some(Json::Array(list)) => list,
            Some(one) => vec![one],
            None => Vec::new(),
        };
        if !depends.contains(&json!(account)) {
            depends.push(json!(account));
        }
        object.insert("DependsOn".to_owned(), Json::Array(depends));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bootstrap() -> Json {
        json!({"Resources": {
            "AssetBucket": {"Type": "AWS::S3::Bucket"},
            "ApiGatewayCloudWatchRole": {"Type": "AWS::IAM::Role", "DeletionPolicy": "Retain"},
            "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account", "DeletionPolicy": "Retain",
                "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}},
        }})
    }

    #[test]
    fn the_role_and_the_setting_come_from_the_bootstrap_and_the_stage_waits_for_them() {
        let mut template = json!({"Resources": {
            "Stage": {"Type": "AWS::ApiGateway::Stage", "DependsOn": "Deployment"},
            "Other": {"Type": "AWS::SNS::Topic"},
        }});
        add(&mut template, &bootstrap()).expect("added");
        let resources = &template["Resources"];
        assert_eq!(
            resources["ApiGatewayAccount"],
            bootstrap()["Resources"]["ApiGatewayAccount"]
        );
        assert_eq!(
            resources["ApiGatewayCloudWatchRole"]["DeletionPolicy"],
            "Retain"
        );
        assert!(
            resources.get("AssetBucket").is_none(),
            "only the logging setting is taken"
        );
        assert_eq!(
            resources["Stage"]["DependsOn"],
            json!(["Deployment", "ApiGatewayAccount"])
        );
        assert!(resources["Other"].get("DependsOn").is_none());
    }

    #[test]
    fn a_clash_or_a_bootstrap_without_the_setting_is_refused() {
        let mut clash =
            json!({"Resources": {"ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account"}}});
        assert!(
            add(&mut clash, &bootstrap())
                .unwrap_err()
                .contains("already has")
        );
        let mut template = json!({"Resources": {}});
        assert!(
            add(&mut template, &json!({"Resources": {}}))
                .unwrap_err()
                .contains("bootstrap")
        );
    }
}
