//! Uploading the function packages (and large templates) to the asset bucket, only what it does
//! not have yet.

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
        if put_missing(s3, bucket, &asset.key(project), &asset.zip).await? {
            uploaded += asset.zip.len() as u64;
        }
    }
    Ok(uploaded)
}

/// Uploads `bytes` as `key` unless the bucket has it (keys name their content's digest);
/// whether it uploaded.
pub async fn put_missing(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> Result<bool> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
        Err(e) if error_code(&e) == Some("NotFound") => {}
        Err(e) => anyhow::bail!("cannot read s3://{bucket}/{key}: {}", describe(&e)),
    }
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.to_vec().into())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))
        .with_context(|| format!("cannot upload s3://{bucket}/{key}"))?;
    Ok(true)
}
