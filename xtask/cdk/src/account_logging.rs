//! The account's API Gateway logging role, which an exported app sets only when asked
//! (`cargo xtask cdk --api-gateway-account`). The stage writes access logs, which API Gateway
//! refuses ("CloudWatch Logs role ARN must be set in account settings") until the account names
//! a role it may push logs with. That is one setting per account and region, and the
//! CloudFormation reference says to keep one `AWS::ApiGateway::Account` per region per account
//! "to avoid overwriting other roles": the kit's deploy keeps a role that works and sets its own
//! only where none does, and an app, like the CDK's `RestApi` since `cloudWatchRole` defaults to
//! false, leaves the setting alone unless told. Told, it takes the bootstrap template's role and
//! adds the setting (both retained on delete, as the CDK's `RestApi` does with its
//! `cloudWatchRole`), and its stage waits for them.

use serde_json::{Value as Json, json};

/// The resources that set the account's logging role: the bootstrap template's role, and the
/// setting.
pub const RESOURCES: [&str; 2] = ["ApiGatewayCloudWatchRole", "ApiGatewayAccount"];

/// `template` (JSON) with the logging role of `bootstrap` (JSON, rendered with its role), the
/// account setting naming it, and every `AWS::ApiGateway::Stage` depending on the setting.
pub fn add(template: &mut Json, bootstrap: &Json) -> Result<(), String> {
    let [role, account] = RESOURCES;
    let Some(resources) = template.get_mut("Resources").and_then(Json::as_object_mut) else {
        return Err("the template has no Resources".to_owned());
    };
    if let Some(id) = RESOURCES.iter().find(|id| resources.contains_key(**id)) {
        return Err(format!(
            "the template already has a resource {id}, which the export adds"
        ));
    }
    let resource = bootstrap
        .get("Resources")
        .and_then(|r| r.get(role))
        .ok_or_else(|| format!("the bootstrap template has no {role}"))?;
    resources.insert(role.to_owned(), resource.clone());
    let setting = json!({
        "Type": "AWS::ApiGateway::Account",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": [role, "Arn"]}},
    });
    resources.insert(account.to_owned(), setting);
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
        }})
    }

    #[test]
    fn the_role_comes_from_the_bootstrap_the_setting_names_it_and_the_stage_waits_for_them() {
        let mut template = json!({"Resources": {
            "Stage": {"Type": "AWS::ApiGateway::Stage", "DependsOn": "Deployment"},
            "Other": {"Type": "AWS::SNS::Topic"},
        }});
        add(&mut template, &bootstrap()).expect("added");
        let resources = &template["Resources"];
        assert_eq!(
            resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"],
            json!({"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]})
        );
        assert_eq!(resources["ApiGatewayAccount"]["DeletionPolicy"], "Retain");
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
