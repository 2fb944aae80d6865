//! What the local environment adds after CloudFormation, to cover moto's gaps without changing
//! the template: the state machine re-registered so moto executes it, the reviewers' email
//! subscriptions (which moto skips) as SQS queues with the same filter policies (the outbox), and
//! `cargo lambda watch` started with the environment moto recorded for the functions.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use hitl_aws::describe;
use kit_aws::Aws;
use kit_base::local;
use kit_tools::install::Venv;

use crate::runner::Runner;

/// A reviewer's outbox: the SQS queue standing in for his email subscription.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub reviewer: String,
    pub queue_name: String,
}

/// The email subscriptions of a rendered template, as outboxes with their filter policies.
pub fn outboxes(stack_name: &str, template: &str) -> Result<Vec<(Outbox, Value)>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let mut found = Vec::new();
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Ok(found);
    };
    for (id, resource) in resources {
        if resource.get("Type").and_then(|t| t.as_str()) != Some("AWS::SNS::Subscription") {
            continue;
        }
        let properties = &resource["Properties"];
        if properties.get("Protocol").and_then(|p| p.as_str()) != Some("email")
            || !refers_to(&properties["TopicArn"], "Topic")
        {
            continue;
        }
        let reviewer = properties["Endpoint"]
            .as_str()
            .context("a subscription's Endpoint is not an address")?;
        let policy: Value = serde_json::to_value(&properties["FilterPolicy"])?;
        let id = id.as_str().unwrap_or("Subscription");
        found.push((
            Outbox {
                reviewer: reviewer.to_owned(),
                queue_name: queue_name(stack_name, id),
            },
            policy,
        ));
    }
    Ok(found)
}

/// Whether `value` is `!Ref <logical_id>`: the reviewers' topic's subscriptions, not the alarm
/// topic's.
fn refers_to(value: &serde_yaml::Value, logical_id: &str) -> bool {
    match value {
        serde_yaml::Value::Tagged(tagged) => {
            tagged.tag == "Ref" && tagged.value.as_str() == Some(logical_id)
        }
        _ => value.get("Ref").and_then(|r| r.as_str()) == Some(logical_id),
    }
}

/// SQS queue names allow 80 characters of `[A-Za-z0-9_-]`.
fn queue_name(stack_name: &str, logical_id: &str) -> String {
    let name = format!("{stack_name}-outbox-{logical_id}");
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(80)
        .collect()
}

/// Creates the outbox queues and subscribes them to the topic with the template's filter
/// policies (idempotent).
pub async fn subscribe_outboxes(
    aws: &Aws,
    topic_arn: &str,
    outboxes: &[(Outbox, Value)],
) -> Result<()> {
    let (sqs, sns) = (aws.sqs(), aws.sns());
    let existing: Vec<String> = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot list subscriptions: {}", describe(&e)))?
        .subscriptions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.endpoint)
        .collect();
    for (outbox, policy) in outboxes {
        let url = sqs
            .create_queue()
            .queue_name(&outbox.queue_name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the outbox queue: {}", describe(&e)))?
            .queue_url
            .unwrap_or_default();
        let arn = queue_arn(aws, &url).await?;
        if existing.contains(&arn) {
            continue;
        }
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("FilterPolicyScope", "MessageAttributes")
            .attributes("FilterPolicy", policy.to_string())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe the outbox: {}", describe(&e)))?;
    }
    Ok(())
}

async fn queue_arn(aws: &Aws, url: &str) -> Result<String> {
    let out = aws
        .sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the outbox queue: {}", describe(&e)))?;
    out.attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .context("the outbox queue has no ARN")
}

/// Re-creates the stack's state machine in moto's executing store, same name and ARN, same role
/// (CloudFormation's copy cannot be executed). The definition is the template's `Fn::Sub`
/// resolved here from the stack's outputs: moto's `Fn::Sub` turns the `$$` of `$$.Task.Token`
/// into `$`, which real CloudFormation does not. The name is the ARN's and the role the stack's
/// `StateMachineRole`: nothing is asked of moto's store of CloudFormation's copy, which only
/// answers while moto's execution is off (for every stack served at once).
pub async fn make_executable(
    aws: &Aws,
    stack_name: &str,
    template: &str,
    outputs: &BTreeMap<String, String>,
) -> Result<()> {
    let arn = outputs
        .get("StateMachineArn")
        .context("the stack has no StateMachineArn output")?;
    let definition = definition(template, |name| match name {
        "AWS::Partition" => Some("aws".to_owned()),
        "AWS::Region" => Some(local::REGION.to_owned()),
        other => outputs.get(other).cloned(),
    })?;
    let name = arn.rsplit(':').next().unwrap_or_default();
    let role = physical_ids(aws, stack_name)
        .await?
        .remove("StateMachineRole")
        .with_context(|| format!("{stack_name} has no StateMachineRole"))?;
    let role_arn = format!("arn:aws:iam::{}:role/{role}", local::ACCOUNT_ID);
    let sfn = aws.sfn();
    // A copy from an earlier deploy may be there: replace it.
    let _ = sfn
        .delete_state_machine()
        .state_machine_arn(arn)
        .send()
        .await;
    sfn.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(role_arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot register the state machine: {}", describe(&e)))?;
    Ok(())
}

/// The state machine's definition from the rendered template, its `Fn::Sub` variables resolved
/// by `lookup` (which sees the variable names of the substitution map).
pub fn definition(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let property = &doc["Resources"]["StateMachine"]["Properties"]["DefinitionString"];
    let serde_yaml::Value::Tagged(tagged) = property else {
        bail!("the state machine's DefinitionString is not an Fn::Sub");
    };
    let text = match &tagged.value {
        serde_yaml::Value::Sequence(parts) => parts.first().and_then(|t| t.as_str()),
        other => other.as_str(),
    }
    .context("the state machine's Fn::Sub has no text")?;
    substitute(text, lookup)
}

/// The values of the state machine's `Fn::Sub` map that a stack takes from its parameters and
/// from other stacks' exports: `!Ref <parameter>`, and `Fn::ImportValue` of a name made of
/// parameters (`!Sub "${Stack}-Name"`), as CloudFormation resolved them. (Variables the
/// stack's own resources give are looked up in its outputs by `make_executable`.)
pub async fn sub_map_values(
    aws: &Aws,
    template: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let property = &doc["Resources"]["StateMachine"]["Properties"]["DefinitionString"];
    let mut values = BTreeMap::new();
    let serde_yaml::Value::Tagged(tagged) = property else {
        return Ok(values);
    };
    let Some(map) = tagged
        .value
        .as_sequence()
        .and_then(|parts| parts.get(1))
        .and_then(|m| m.as_mapping())
    else {
        return Ok(values);
    };
    let exports = aws
        .cloudformation()
        .list_exports()
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the exports: {}", describe(&e)))?
        .exports
        .unwrap_or_default();
    for (name, value) in map {
        let Some(name) = name.as_str() else { continue };
        let resolved = match value {
            serde_yaml::Value::Tagged(t) if t.tag == "!Ref" => {
                t.value.as_str().and_then(|p| parameters.get(p).cloned())
            }
            serde_yaml::Value::Mapping(m) => match m.get("Fn::ImportValue") {
                Some(serde_yaml::Value::Tagged(t)) if t.tag == "!Sub" => {
                    let export = substitute(t.value.as_str().unwrap_or(""), |p| {
                        parameters.get(p).cloned()
                    })?;
                    exports
                        .iter()
                        .find(|e| e.name.as_deref() == Some(export.as_str()))
                        .and_then(|e| e.value.clone())
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(resolved) = resolved {
            values.insert(name.to_owned(), resolved);
        }
    }
    Ok(values)
}

/// `Fn::Sub` of `text`: `${Name}` from `lookup`, `${!Literal}` as `${Literal}`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .context("an unclosed ${ in the Fn::Sub text")?;
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => out.push_str(
                &lookup(name)
                    .with_context(|| format!("no value for ${{{name}}} in the Fn::Sub"))?,
            ),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The functions' environment as moto recorded it from the template (a version's configuration
/// is its own: a function behind an alias runs the version the alias points to, as Lambda
/// does), with what differs here: moto's endpoint (through the router), the credentials (each
/// function's role session, from the router's credentials endpoint), and the review API served
/// by the router.
pub async fn function_env(
    aws: &Aws,
    runner: &Runner,
    served: &crate::stacks::Served,
    stack_name: &str,
    template: &str,
) -> Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let aliased: BTreeMap<String, String> = aliases_of(&doc)?
        .into_iter()
        .map(|a| (a.function, a.name))
        .collect();
    let mut env = BTreeMap::new();
    for name in function_names(template)? {
        let config = aws
            .lambda()
            .get_function_configuration()
            .function_name(&name)
            .set_qualifier(aliased.get(&name).cloned())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read function {name}: {}", describe(&e)))?;
        let variables = config
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default();
        for (key, value) in variables {
            if let Some(other) = env.get(&key).filter(|v| **v != value) {
                bail!(
                    "the functions disagree on {key} ({other} vs {value}); `cargo lambda watch` \
                     gives all functions one environment"
                );
            }
            env.insert(key, value);
        }
    }
    let review_base_url = served.review_base_url();
    // Sign-in's callback on the router's API, and the local environment's own identity
    // provider in place of the configured one, as Slack's stand-in replaces Slack.
    if env.contains_key("OIDC_ISSUER") {
        env.insert("OIDC_ISSUER".into(), runner.oidc_issuer());
        env.insert(
            "OIDC_REDIRECT_URI".into(),
            format!("{review_base_url}/sign-in"),
        );
    }
    env.insert("REVIEW_BASE_URL".into(), review_base_url);
    // Slack has no emulator: the functions of a stack with the Slack app call the router's
    // stand-in (`crate::slack`) in its place, the stack's own workspace there.
    if env.contains_key("SLACK_API_URL") {
        let stand_in = format!(
            "{}{}{stack_name}/api/",
            runner.functions_endpoint(),
            crate::slack::PATH
        );
        env.insert("SLACK_API_URL".into(), stand_in);
    }
    env.insert("AWS_ENDPOINT_URL".into(), runner.functions_endpoint());
    // Each function's own role session, as Lambda gives it: the SDK's container credentials
    // provider asks the router, with the function's binary as its token (set per binary for
    // `cargo lambda watch` in the workspace's Cargo.toml). No file of the user's may answer first.
    env.insert(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
        format!(
            "{}{}{stack_name}",
            runner.functions_endpoint(),
            crate::sessions::PATH
        ),
    );
    // An empty file (one that is missing makes the SDK warn in every process).
    let nowhere = local::dir().join("no-aws-config");
    std::fs::write(&nowhere, "").with_context(|| format!("cannot write {}", nowhere.display()))?;
    env.insert("AWS_CONFIG_FILE".into(), nowhere.display().to_string());
    env.insert(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        nowhere.display().to_string(),
    );
    env.insert("AWS_REGION".into(), local::REGION.into());
    env.insert("AWS_DEFAULT_REGION".into(), local::REGION.into());
    Ok(env)
}

/// The outputs that name the review API, as the router serves it here (moto has no API
/// Gateway data plane): `ReviewBaseUrl`, and the Slack app's `SlackInteractionsUrl`.
pub fn served_here(outputs: &mut BTreeMap<String, String>, review_base_url: &str) {
    if outputs.contains_key("SlackInteractionsUrl") {
        let url = format!("{review_base_url}{}", crate::api::SLACK_RESOURCE);
        outputs.insert("SlackInteractionsUrl".to_owned(), url);
    }
    outputs.insert("ReviewBaseUrl".to_owned(), review_base_url.to_owned());
}

/// The `AWS::Scheduler::ScheduleGroup`s of a rendered template (moto's CloudFormation skips
/// them), by logical id: their `Name`s.
pub fn schedule_groups(template: &str) -> Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let resources = doc.get("Resources").and_then(|r| r.as_mapping());
    Ok(resources
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Scheduler::ScheduleGroup"))
        .filter_map(|(id, r)| {
            Some((
                id.as_str()?.to_owned(),
                r["Properties"]["Name"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// Makes the template's schedule groups through the API, and gives the functions the names
/// their environment has as `!Ref`s of them (moto dropped those variables with the groups).
pub async fn make_schedule_groups(
    aws: &Aws,
    template: &str,
    env: &mut BTreeMap<String, String>,
) -> Result<()> {
    let groups = schedule_groups(template)?;
    for name in groups.values() {
        let made = aws
            .scheduler()
            .create_schedule_group()
            .name(name)
            .send()
            .await;
        if let Err(error) = made
            && hitl_aws::error_code(&error) != Some("ConflictException")
        {
            bail!("cannot make schedule group {name}: {}", describe(&error));
        }
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    for (_, resource) in doc["Resources"].as_mapping().into_iter().flatten() {
        let variables = &resource["Properties"]["Environment"]["Variables"];
        for (key, value) in variables.as_mapping().into_iter().flatten() {
            let group = reference(value).and_then(|id| groups.get(&id));
            if let (Some(key), Some(group)) = (key.as_str(), group) {
                env.insert(key.to_owned(), group.clone());
            }
        }
    }
    Ok(())
}

/// An `AWS::Lambda::Alias` of a rendered template.
struct AliasSpec {
    logical_id: String,
    /// The aliased function's `FunctionName`.
    function: String,
    name: String,
}

fn reference(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The aliases of a rendered template.
fn aliases_of(doc: &serde_yaml::Value) -> Result<Vec<AliasSpec>> {
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(|t| t.as_str()) != Some("AWS::Lambda::Alias") {
            continue;
        }
        let properties = &resource["Properties"];
        let function_id = reference(&properties["FunctionName"])
            .context("an alias's FunctionName is not a !Ref of the template's function")?;
        let function = resources
            .get(function_id.as_str())
            .and_then(|f| f["Properties"]["FunctionName"].as_str())
            .with_context(|| format!("{function_id} has no plain FunctionName"))?;
        found.push(AliasSpec {
            logical_id: id.as_str().unwrap_or_default().to_owned(),
            function: function.to_owned(),
            name: properties["Name"]
                .as_str()
                .context("an alias's Name is not plain text")?
                .to_owned(),
        });
    }
    Ok(found)
}

/// The outputs whose value is `!Ref` of one of the aliases in `arns` (by logical id).
fn alias_outputs(
    doc: &serde_yaml::Value,
    arns: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    if let Some(declared) = doc.get("Outputs").and_then(|o| o.as_mapping()) {
        for (key, output) in declared {
            if let Some(arn) = reference(&output["Value"]).and_then(|id| arns.get(&id)) {
                outputs.insert(key.as_str().unwrap_or_default().to_owned(), arn.clone());
            }
        }
    }
    outputs
}

/// moto skips `AWS::Lambda::Alias` (and so drops the outputs that name one): each alias of the
/// template is made through the Lambda API, on the newest version of its function (moto does
/// publish `AWS::Lambda::Version`), as CloudFormation would have. Returns the outputs whose
/// value is `!Ref` of an alias, with the alias's ARN.
pub async fn make_aliases(aws: &Aws, template: &str) -> Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let lambda = aws.lambda();
    let mut made = BTreeMap::new();
    for alias in aliases_of(&doc)? {
        let function = alias.function.as_str();
        let versions = lambda
            .list_versions_by_function()
            .function_name(function)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot list the versions of {function}: {}", describe(&e))
            })?
            .versions
            .unwrap_or_default();
        let newest = versions
            .iter()
            .filter_map(|v| v.version.as_deref()?.parse::<u64>().ok())
            .max()
            .with_context(|| format!("the stack published no version of {function}"))?;
        // One from an earlier deploy may point at an older version: replace it.
        let _ = lambda
            .delete_alias()
            .function_name(function)
            .name(&alias.name)
            .send()
            .await;
        let made_alias = lambda
            .create_alias()
            .function_name(function)
            .name(&alias.name)
            .function_version(newest.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot make the alias {} of {function}: {}",
                    alias.name,
                    describe(&e)
                )
            })?;
        made.insert(alias.logical_id, made_alias.alias_arn.unwrap_or_default());
    }
    Ok(alias_outputs(&doc, &made))
}

/// The outputs [`make_aliases`] gave a deployed stack, read back (nothing is made).
pub async fn existing_alias_outputs(aws: &Aws, template: &str) -> Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let mut found = BTreeMap::new();
    for alias in aliases_of(&doc)? {
        if let Ok(existing) = aws
            .lambda()
            .get_alias()
            .function_name(&alias.function)
            .name(&alias.name)
            .send()
            .await
        {
            found.insert(alias.logical_id, existing.alias_arn.unwrap_or_default());
        }
    }
    Ok(alias_outputs(&doc, &found))
}

/// The `AWS::Lambda::Function` resources of a rendered template.
fn functions(template: &str) -> Result<Vec<serde_yaml::Value>> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Ok(Vec::new());
    };
    Ok(resources
        .values()
        .filter(|r| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::Lambda::Function"))
        .cloned()
        .collect())
}

/// The `FunctionName` of each function of a rendered template.
pub fn function_names(template: &str) -> Result<Vec<String>> {
    functions(template)?
        .iter()
        .map(|r| {
            r["Properties"]["FunctionName"]
                .as_str()
                .map(str::to_owned)
                .context("a function's FunctionName is not a plain name")
        })
        .collect()
}

/// Each function's `Timeout` in a rendered template, by binary (its `FunctionName` is
/// `<stack>-<binary>`); Lambda's default, 3 seconds, where it has none
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html>). A timeout that
/// is not a number here (an override's `!Ref`) is left out: that function is not cut.
pub fn function_timeouts(stack_name: &str, template: &str) -> Result<BTreeMap<String, u64>> {
    let mut timeouts = BTreeMap::new();
    for function in functions(template)? {
        let properties = &function["Properties"];
        let name = properties["FunctionName"].as_str();
        let Some(binary) = name.and_then(|n| n.strip_prefix(&format!("{stack_name}-"))) else {
            continue;
        };
        let seconds = match &properties["Timeout"] {
            serde_yaml::Value::Null => Some(3),
            serde_yaml::Value::String(text) => text.parse().ok(),
            timeout => timeout.as_u64(),
        };
        if let Some(seconds) = seconds {
            timeouts.insert(binary.to_owned(), seconds);
        }
    }
    Ok(timeouts)
}

/// Brings the local environment up to date after a deploy of `stack_name`.
pub async fn complete(
    aws: &Aws,
    runner: &Runner,
    venv: &Venv,
    stack_name: &str,
    template: &str,
    outputs: &mut BTreeMap<String, String>,
) -> Result<()> {
    outputs.extend(make_aliases(aws, template).await?);
    let output = |key: &str| {
        outputs
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("the stack has no {key} output"))
    };
    if outputs.contains_key("StateMachineArn") {
        make_executable(aws, stack_name, template, outputs).await?;
    }
    crate::durable::record(
        &local::dir(),
        stack_name,
        &crate::durable::configs_of(template)?,
    )?;
    let api_id = api_id(output("ReviewBaseUrl")?)?;
    let mut served = runner.serve_api(stack_name, &api_id, &api_stage(template)?)?;
    served.timeouts = function_timeouts(stack_name, template)?;
    served.save(&local::dir())?;
    make_permissions(aws, stack_name, template).await?;
    subscribe_outboxes(aws, output("TopicArn")?, &outboxes(stack_name, template)?).await?;
    let mut env = function_env(aws, runner, &served, stack_name, template).await?;
    make_schedule_groups(aws, template, &mut env).await?;
    runner.serve_functions(venv, &mut served, env)?;
    Ok(())
}

/// moto skips the API stage, so a function permission whose `SourceArn` names it (`${Stage}`)
/// is left with the variable unresolved: each `AWS::Lambda::Permission` of the template is made
/// again as CloudFormation would have made it (its `Fn::Sub` resolved from the stack's resources,
/// the stage by its name), in place of moto's: a function's statements are cleared once, then
/// each of its permissions added (a function may have several: the review API's, the Slack
/// app's).
pub async fn make_permissions(aws: &Aws, stack_name: &str, template: &str) -> Result<()> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let physical = physical_ids(aws, stack_name).await?;
    let resources = doc["Resources"].as_mapping().cloned().unwrap_or_default();
    let lookup = |name: &str| match name {
        "AWS::Partition" => Some("aws".to_owned()),
        "AWS::Region" => Some(local::REGION.to_owned()),
        "AWS::AccountId" => Some(local::ACCOUNT_ID.to_owned()),
        other => physical.get(other).cloned().or_else(|| {
            let stage = &resources.get(other)?["Properties"]["StageName"];
            stage.as_str().map(str::to_owned)
        }),
    };
    let mut cleared = std::collections::BTreeSet::new();
    for (id, resource) in &resources {
        if resource["Type"].as_str() != Some("AWS::Lambda::Permission") {
            continue;
        }
        let id = id.as_str().unwrap_or_default();
        let properties = &resource["Properties"];
        let function = function_of(&resources, &properties["FunctionName"])
            .with_context(|| format!("{id}: FunctionName is not a function of the template"))?;
        let source = match &properties["SourceArn"] {
            serde_yaml::Value::Tagged(t) if t.tag == "!Sub" => {
                Some(substitute(t.value.as_str().unwrap_or(""), lookup)?)
            }
            other => other.as_str().map(str::to_owned),
        };
        if cleared.insert(function.clone()) {
            clear_permissions(aws, &function).await;
        }
        add_permission(aws, &function, id, properties, source).await?;
    }
    Ok(())
}

/// The physical ids of the stack's resources, by logical id.
async fn physical_ids(aws: &Aws, stack_name: &str) -> Result<BTreeMap<String, String>> {
    let described = aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the stack's resources: {}", describe(&e)))?;
    Ok(described
        .stack_resources
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| Some((r.logical_resource_id?, r.physical_resource_id?)))
        .collect())
}

/// The `FunctionName` of the template's function that `value` names (`!GetAtt F.Arn`, `!Ref F`).
fn function_of(resources: &serde_yaml::Mapping, value: &serde_yaml::Value) -> Option<String> {
    let serde_yaml::Value::Tagged(t) = value else {
        return value.as_str().map(str::to_owned);
    };
    let logical = t.value.as_str()?.trim_end_matches(".Arn");
    resources.get(logical)?["Properties"]["FunctionName"]
        .as_str()
        .map(str::to_owned)
}

/// Removes every statement moto made for the function.
async fn clear_permissions(aws: &Aws, function: &str) {
    let lambda = aws.lambda();
    let policy = lambda.get_policy().function_name(function).send().await;
    let existing: Value = policy
        .ok()
        .and_then(|p| p.policy)
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or(Value::Null);
    for statement in existing["Statement"].as_array().into_iter().flatten() {
        if let Some(sid) = statement["Sid"].as_str() {
            let removed = lambda
                .remove_permission()
                .function_name(function)
                .statement_id(sid);
            let _ = removed.send().await;
        }
    }
}

/// Adds the permission `id` as CloudFormation would have.
async fn add_permission(
    aws: &Aws,
    function: &str,
    id: &str,
    properties: &serde_yaml::Value,
    source: Option<String>,
) -> Result<()> {
    let text = |key: &str| properties[key].as_str().map(str::to_owned);
    aws.lambda()
        .add_permission()
        .function_name(function)
        .statement_id(id)
        .action(text("Action").unwrap_or_else(|| "lambda:InvokeFunction".to_owned()))
        .set_principal(text("Principal"))
        .set_source_arn(source)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot make the permission {id}: {}", describe(&e)))?;
    Ok(())
}

/// The REST API's id in its URL (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`).
fn api_id(review_base_url: &str) -> Result<String> {
    review_base_url
        .strip_prefix("https://")
        .and_then(|rest| rest.split('.').next())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("no API id in the ReviewBaseUrl output {review_base_url}"))
}

/// The `StageName` of the template's API stage, which moto does not create: the router serves the
/// review API under it, as API Gateway would.
pub fn api_stage(template: &str) -> Result<String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).context("the rendered template is not YAML")?;
    doc.get("Resources")
        .and_then(|r| r.as_mapping())
        .into_iter()
        .flatten()
        .find(|(_, r)| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::ApiGateway::Stage"))
        .and_then(|(_, r)| r["Properties"]["StageName"].as_str())
        .map(str::to_owned)
        .context("the rendered template has no AWS::ApiGateway::Stage with a StageName")
}

/// A message a reviewer would have received, read from his outbox.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub reviewer: String,
    pub subject: String,
    pub body: String,
}

/// Takes the messages waiting in the outboxes (waiting up to `wait_secs` for the first).
pub async fn take_outbox(aws: &Aws, outboxes: &[Outbox], wait_secs: i32) -> Result<Vec<Delivered>> {
    let sqs = aws.sqs();
    let mut delivered = Vec::new();
    for outbox in outboxes {
        let url = sqs
            .get_queue_url()
            .queue_name(&outbox.queue_name)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot find the outbox {}: {}",
                    outbox.queue_name,
                    describe(&e)
                )
            })?
            .queue_url
            .unwrap_or_default();
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_secs)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the outbox: {}", describe(&e)))?;
        let mut taken = Vec::new();
        for (i, message) in out.messages.unwrap_or_default().into_iter().enumerate() {
            let envelope: Value =
                serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or(Value::Null);
            delivered.push(Delivered {
                reviewer: outbox.reviewer.clone(),
                subject: envelope["Subject"].as_str().unwrap_or("").to_owned(),
                body: envelope["Message"].as_str().unwrap_or("").to_owned(),
            });
            if let Some(handle) = message.receipt_handle() {
                taken.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        // One call for the ten at most: under load every call to moto counts.
        if !taken.is_empty() {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(taken))
                .send()
                .await;
        }
    }
    Ok(delivered)
}

/// Removes what [`complete`] added for the stack: the outbox queues, the executable state
/// machine, and the schedule groups (CloudFormation deletes a stack's; moto made none).
pub async fn teardown(
    aws: &Aws,
    stack_name: &str,
    template: &str,
    state_machine_arn: Option<&str>,
) {
    for name in schedule_groups(template).unwrap_or_default().values() {
        let _ = aws
            .scheduler()
            .delete_schedule_group()
            .name(name)
            .send()
            .await;
    }
    let sqs = aws.sqs();
    if let Ok(outboxes) = outboxes(stack_name, template) {
        for (outbox, _) in outboxes {
            if let Ok(url) = sqs
                .get_queue_url()
                .queue_name(&outbox.queue_name)
                .send()
                .await
            {
                let _ = sqs
                    .delete_queue()
                    .queue_url(url.queue_url.unwrap_or_default())
                    .send()
                    .await;
            }
        }
    }
    if let Some(arn) = state_machine_arn {
        let _ = aws
            .sfn()
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn each_functions_timeout_is_read_by_binary_and_lambdas_default_is_three_seconds() {
        let template = "Resources:
  ReviewFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: e2e-local-review
      Timeout: 10
  RemindFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: e2e-local-remind
  Table:
    Type: AWS::DynamoDB::Table
";
        let timeouts = function_timeouts("e2e-local", template).unwrap();
        assert_eq!(
            timeouts,
            BTreeMap::from([("remind".to_owned(), 3), ("review".to_owned(), 10)])
        );
        // CloudFormation takes a string of digits too; a reference is not known here.
        let quoted = template.replace("Timeout: 10", "Timeout: \"10\"");
        assert_eq!(function_timeouts("e2e-local", &quoted).unwrap(), timeouts);
        let reference = template.replace("Timeout: 10", "Timeout: !Ref ReviewTimeout");
        let timeouts = function_timeouts("e2e-local", &reference).unwrap();
        assert_eq!(timeouts, BTreeMap::from([("remind".to_owned(), 3)]));
    }
    use super::*;

    #[test]
    fn substitutes_like_cloudformation() {
        let lookup = |name: &str| (name == "Arn").then(|| "arn:x".to_owned());
        assert_eq!(
            substitute(
                r#"{"a": "${Arn}", "t.$": "$$.Task.Token", "l": "${!Literal}"}"#,
                lookup
            )
            .unwrap(),
            r#"{"a": "arn:x", "t.$": "$$.Task.Token", "l": "${Literal}"}"#
        );
        assert!(
            substitute("${Missing}", lookup)
                .unwrap_err()
                .to_string()
                .contains("${Missing}")
        );
        assert!(substitute("${Arn", lookup).is_err());
    }

    #[test]
    fn reads_the_definition_and_the_outboxes_of_a_rendered_template() {
        let template = r#"
Resources:
  Sub1:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: email
      Endpoint: "a@example.com"
      FilterPolicy:
        reviewer: ["a@example.com", all]
  AlarmSubscription1:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref AlarmTopic
      Protocol: email
      Endpoint: "ops@example.com"
  StateMachine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      DefinitionString: !Sub
        - |
          {"F": "${RequestFunctionArn}", "T.$": "$$.Task.Token"}
        - RequestFunctionArn: !GetAtt RequestFunction.Arn
"#;
        let definition = definition(template, |n| {
            (n == "RequestFunctionArn").then(|| "arn:f".into())
        })
        .unwrap();
        assert_eq!(
            definition.trim(),
            r#"{"F": "arn:f", "T.$": "$$.Task.Token"}"#
        );
        let outboxes = outboxes("hitl-local", template).unwrap();
        assert_eq!(
            outboxes.len(),
            1,
            "the alarm topic's subscriber is no reviewer"
        );
        assert_eq!(outboxes[0].0.reviewer, "a@example.com");
        assert_eq!(outboxes[0].0.queue_name, "hitl-local-outbox-Sub1");
        assert_eq!(outboxes[0].1["reviewer"][1], "all");
    }
}
