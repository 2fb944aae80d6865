//! Uploading the function packages to the asset bucket, only those it does not have yet.

use anyhow::{Context, Result};
use kit_base::package::Asset;

use hitl_aws::{describe, error_code};

/// Uploads the assets the bucket lacks; returns the bytes uploaded.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    project: &str,
    assets: &[Asset],
) -> Result<u64> {
    let mut uploaded = 0;
    for asset in assets {
        let key = asset.key(project);
        match s3.head_object().bucket(bucket).key(&key).send().await {
            Ok(_) => continue,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) if error_code(&e) == Some("NotFound") => {}
            Err(e) => anyhow::bail!("cannot read s3://{bucket}/{key}: {}", describe(&e)),
        }
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(asset.zip.clone().into())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))
            .with_context(|| format!("cannot upload s3://{bucket}/{key}"))?;
        uploaded += asset.zip.len() as u64;
    }
    Ok(uploaded)
}
