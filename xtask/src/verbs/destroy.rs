//! `cargo xtask destroy [--all]`: delete the environment's stack (naming what its deletion
//! policies keep) and, with `--all`, the bootstrap stack and its emptied asset bucket.

use anyhow::{Context, Result};

use hitl_aws::describe;
use kit_aws::Aws;
use kit_base::status::{confirm, status};
use kit_config::{Effective, values::Endpoint};
use kit_deploy::{self, BOOTSTRAP_STACK, STACK_TIMEOUT, stack};
use kit_local::runner::Runner;

use crate::{cli::Global, kit};

pub fn run(global: &Global, yes: bool, all: bool) -> Result<()> {
    let effective = kit::effective(global, &[])?;
    let runtime = crate::runtime::new()?;
    let local = match effective.endpoint {
        Endpoint::Local => match Runner::find() {
            Some(runner) => Some(runner),
            None => {
                status("Destroyed", "nothing: the local environment is not running");
                return Ok(());
            }
        },
        Endpoint::Aws => None,
    };
    let aws = runtime.block_on(Aws::connect(
        &effective,
        local.as_ref().map(Runner::endpoint),
    ))?;
    let cfn = aws.cloudformation();
    let name = effective.stack_name.as_str();
    let present = runtime.block_on(stack::find(&cfn, name))?.is_some();
    let bootstrap = if all {
        runtime.block_on(stack::find(&cfn, BOOTSTRAP_STACK))?
    } else {
        None
    };
    if let Some(bucket) = bootstrap.as_ref().and_then(|b| b.output("BucketName")) {
        let users = runtime.block_on(bucket_users(&aws, bucket, name))?;
        if !users.is_empty() {
            anyhow::bail!(
                "{BOOTSTRAP_STACK}'s bucket {bucket} serves other stacks in {}: {}; destroy \
                 them first, or destroy without --all (nothing was deleted)",
                aws.region(),
                users.join(", ")
            );
        }
    }
    if !present && bootstrap.is_none() {
        status(
            "Destroyed",
            format!("nothing: {name} does not exist in {}", aws.region()),
        );
        return Ok(());
    }
    let question = if all {
        format!(
            "Delete {name}, {BOOTSTRAP_STACK} and every package in its bucket, in {}?",
            aws.region()
        )
    } else {
        format!("Delete {name} in {}?", aws.region())
    };
    if !confirm(yes, &question)? {
        anyhow::bail!("destroy cancelled: nothing was deleted");
    }
    if present {
        runtime.block_on(destroy_stack(&aws, &effective))?;
    }
    if let Some(boot) = bootstrap {
        runtime.block_on(destroy_bootstrap(&aws, &boot))?;
    }
    Ok(())
}

/// Deletes the environment's stack (and, locally, what the emulation made for it); says what
/// its deletion policies kept.
async fn destroy_stack(aws: &Aws, effective: &Effective) -> Result<()> {
    let cfn = aws.cloudformation();
    let name = effective.stack_name.as_str();
    let template = stack::deployed_template(&cfn, name).await?;
    let kept = retained(aws, name, &template).await?;
    let state_machine = stack::find(&cfn, name)
        .await?
        .and_then(|s| s.output("StateMachineArn").map(str::to_owned));
    stack::delete(&cfn, name, STACK_TIMEOUT).await?;
    if aws.local.is_some() {
        kit_local::emulation::teardown(aws, name, &template, state_machine.as_deref()).await;
        // Its functions stop with it.
        kit_local::stacks::forget(&kit_base::local::dir(), name)?;
    }
    status("Destroyed", name);
    for (id, physical) in kept {
        status("Kept", format!("{id} ({physical}) by its deletion policy"));
    }
    let _ = std::fs::remove_file(kit_deploy::outputs_path(effective));
    Ok(())
}

/// Deletes the bootstrap stack, then empties and deletes its bucket; says what it kept.
async fn destroy_bootstrap(aws: &Aws, boot: &stack::Deployed) -> Result<()> {
    let cfn = aws.cloudformation();
    let bucket = boot.output("BucketName").map(str::to_owned);
    let template = stack::deployed_template(&cfn, BOOTSTRAP_STACK).await?;
    let kept = retained(aws, BOOTSTRAP_STACK, &template).await?;
    stack::delete(&cfn, BOOTSTRAP_STACK, STACK_TIMEOUT).await?;
    if let Some(bucket) = bucket {
        let removed = empty_and_delete_bucket(&aws.s3(), &bucket).await?;
        status(
            "Deleted",
            format!("bucket {bucket} ({removed} object versions)"),
        );
    }
    status("Destroyed", BOOTSTRAP_STACK);
    // The bucket is retained by CloudFormation and emptied and deleted above.
    for (id, physical) in kept.iter().filter(|(id, _)| id != "AssetBucket") {
        status(
            "Kept",
            format!(
                "{id} ({physical}): API Gateway's account setting in {} points at it for every \
                 REST API there; once no stage there logs, delete it by hand (the next bootstrap \
                 makes a new one)",
                aws.region()
            ),
        );
    }
    Ok(())
}

/// The stacks other than `except` and the bootstrap stack that use `bucket`: by a parameter
/// (the kit's environments pass it as `AssetBucket`) or by importing the bootstrap stack's
/// `BucketName` export.
async fn bucket_users(aws: &Aws, bucket: &str, except: &str) -> Result<Vec<String>> {
    let cfn = aws.cloudformation();
    let mut users = std::collections::BTreeSet::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow::anyhow!("cannot list the stacks: {}", describe(&e)))?;
        for found in page.stacks.unwrap_or_default() {
            let Some(name) = found.stack_name else {
                continue;
            };
            let deleted = found
                .stack_status
                .is_some_and(|s| s.as_str() == "DELETE_COMPLETE");
            if deleted || name == except || name == BOOTSTRAP_STACK {
                continue;
            }
            let uses = found
                .parameters
                .unwrap_or_default()
                .iter()
                .any(|p| p.parameter_value.as_deref() == Some(bucket));
            if uses {
                users.insert(name);
            }
        }
    }
    let export = format!("{BOOTSTRAP_STACK}-BucketName");
    let mut imports = cfn
        .list_imports()
        .export_name(&export)
        .into_paginator()
        .send();
    while let Some(page) = imports.next().await {
        match page {
            Ok(out) => users.extend(
                out.imports
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|n| n != except),
            ),
            // "Export … is not imported by any stack."
            Err(e) if hitl_aws::error_code(&e) == Some("ValidationError") => break,
            // An endpoint without the operation (moto has no ListImports) answers without an AWS
            // error code: the parameters were checked, the imports cannot be.
            Err(e) if hitl_aws::error_code(&e).is_none() && e.as_service_error().is_some() => {
                kit_base::status::warning(format!(
                    "cannot check which stacks import {export} (the endpoint has no ListImports); \
                 checked the stacks' parameters only"
                ));
                break;
            }
            Err(e) => anyhow::bail!("cannot list the imports of {export}: {}", describe(&e)),
        }
    }
    Ok(users.into_iter().collect())
}

/// The resources of the stack that CloudFormation will keep: DeletionPolicy Retain (or
/// RetainExceptOnCreate) in the template, with their physical IDs.
async fn retained(aws: &Aws, name: &str, template: &str) -> Result<Vec<(String, String)>> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let keeps: Vec<String> = doc["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            matches!(
                r.get("DeletionPolicy").and_then(|p| p.as_str()),
                Some("Retain" | "RetainExceptOnCreate")
            )
        })
        .filter_map(|(id, _)| id.as_str().map(str::to_owned))
        .collect();
    if keeps.is_empty() {
        return Ok(Vec::new());
    }
    // Physical IDs are a courtesy: if CloudFormation cannot list them, name the resources anyway.
    let physical: Vec<(String, String)> = aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(name)
        .send()
        .await
        .map(|out| {
            out.stack_resources
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| Some((r.logical_resource_id?, r.physical_resource_id?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(keeps
        .into_iter()
        .map(|id| {
            let found = physical
                .iter()
                .find(|(logical, _)| *logical == id)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| "physical id unknown".to_owned());
            (id, found)
        })
        .collect())
}

/// The objects a `DeleteObjects` answer says it could not delete, as an error naming them (a
/// few) with S3's codes.
fn undeleted(
    bucket: &str,
    answer: &aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput,
) -> Result<()> {
    let errors = answer.errors();
    if errors.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = errors
        .iter()
        .take(5)
        .map(|e| {
            format!(
                "{} ({}: {})",
                e.key().unwrap_or("?"),
                e.code().unwrap_or("?"),
                e.message().unwrap_or("")
            )
        })
        .collect();
    anyhow::bail!(
        "cannot empty s3://{bucket}: {} of its objects could not be deleted, among them {}; fix \
         their permissions (or object lock) and run it again",
        errors.len(),
        named.join(", ")
    )
}

/// Deletes every version and delete marker in the bucket, then the bucket. Objects that
/// `DeleteObjects` could not delete (it answers 200 and lists them) stop it, named, rather than
/// listing the bucket forever.
pub async fn empty_and_delete_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let mut removed = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).send().await {
            Ok(page) => page,
            Err(e) if hitl_aws::error_code(&e) == Some("NoSuchBucket") => return Ok(removed),
            Err(e) => anyhow::bail!("cannot list s3://{bucket}: {}", describe(&e)),
        };
        let ids: Vec<ObjectIdentifier> = page
            .versions
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.key, v.version_id))
            .chain(
                page.delete_markers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| (m.key, m.version_id)),
            )
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version)
                    .build()
                    .ok()
            })
            .take(1000)
            .collect();
        if ids.is_empty() {
            break;
        }
        removed += ids.len();
        let deleted = s3
            .delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(ids)).build()?)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot empty s3://{bucket}: {}", describe(&e)))?;
        undeleted(bucket, &deleted)?;
    }
    s3.delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))
        .with_context(|| format!("cannot delete bucket {bucket}"))?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::{operation::delete_objects::DeleteObjectsOutput, types::Error as S3Error};

    /// `DeleteObjects` answers 200 with the objects it could not delete listed ("DeleteObjects",
    /// S3 API Reference): those stop the emptying, named.
    #[test]
    fn objects_delete_objects_could_not_delete_stop_the_emptying_by_name() {
        assert!(undeleted("b", &DeleteObjectsOutput::builder().build()).is_ok());
        let failed = DeleteObjectsOutput::builder()
            .errors(
                S3Error::builder()
                    .key("packages/a.zip")
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
            .build();
        let message = undeleted("b", &failed).unwrap_err().to_string();
        assert!(message.contains("s3://b"), "{message}");
        assert!(
            message.contains("packages/a.zip (AccessDenied: Access Denied)"),
            "{message}"
        );
    }
}
