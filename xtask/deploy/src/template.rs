//! How a template reaches CloudFormation: in the request (`TemplateBody`, at most 51,200 bytes)
//! or, when larger, from the asset bucket (`TemplateURL`, at most 1 MB). Both limits are in "AWS
//! CloudFormation quotas" ("Template body size in a request" and "Template body size in an
//! Amazon S3 object"); a larger `TemplateBody` is refused with `ValidationError` ("Member must
//! have length less than or equal to 51200"), which moto does not do, so the local router does
//! (`kit_local::router::refused_by_aws`).

use anyhow::{Result, bail};

use kit_aws::Aws;
use kit_base::package::hex_sha256;

/// The largest template CloudFormation takes in the request.
pub const BODY_LIMIT: usize = 51_200;
/// The largest template CloudFormation reads from S3 (1 MB).
pub const URL_LIMIT: usize = 1_000_000;

/// Where CloudFormation reads the template from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In the request.
    Body,
    /// From this `https://` S3 URL.
    Url(String),
}

impl Location {
    /// `TemplateBody`: `template` when it goes in the request.
    pub fn body(&self, template: &str) -> Option<String> {
        (*self == Self::Body).then(|| template.to_owned())
    }

    /// `TemplateURL`, when CloudFormation reads the template from the bucket.
    pub fn url(&self) -> Option<String> {
        match self {
            Self::Url(url) => Some(url.clone()),
            Self::Body => None,
        }
    }
}

/// Where a template of `bytes` must go: the request, the bucket, or nowhere (too large).
pub fn needs_bucket(bytes: usize) -> Result<bool> {
    if bytes > URL_LIMIT {
        bail!(
            "the rendered template is {bytes} bytes; CloudFormation takes at most {URL_LIMIT} \
             (1 MB) from S3: split the reviewers or extra_resources into another stack"
        );
    }
    Ok(bytes > BODY_LIMIT)
}

/// The bucket key of a template: per project and stack, named by its digest (so a template is
/// uploaded once, and a change set always reads the template it was made from).
pub fn key(project: &str, stack: &str, template: &str) -> String {
    format!(
        "{project}/templates/{stack}-{}.yaml",
        hex_sha256(template.as_bytes())
    )
}

/// The virtual-hosted-style URL of an object, the form CloudFormation's `TemplateURL` takes
/// ("must start with https://"); the China regions' S3 lives under `amazonaws.com.cn`.
pub fn object_url(bucket: &str, region: &str, key: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{bucket}.s3.{region}.{suffix}/{key}")
}

/// Puts `template` where CloudFormation can take it from: nowhere for a small one, the asset
/// bucket for a large one (uploaded unless it is there).
pub async fn stage(
    aws: &Aws,
    bucket: &str,
    project: &str,
    stack: &str,
    template: &str,
) -> Result<Location> {
    if !needs_bucket(template.len())? {
        return Ok(Location::Body);
    }
    let key = key(project, stack, template);
    crate::assets::put_missing(&aws.s3(), bucket, &key, template.as_bytes()).await?;
    Ok(Location::Url(object_url(bucket, &aws.region(), &key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_templates_go_in_the_request_large_ones_by_url_and_huge_ones_nowhere() {
        assert!(!needs_bucket(0).unwrap());
        assert!(!needs_bucket(51_200).unwrap());
        assert!(needs_bucket(51_201).unwrap());
        assert!(needs_bucket(1_000_000).unwrap());
        let error = needs_bucket(1_000_001).unwrap_err().to_string();
        assert!(
            error.contains("1000001 bytes") && error.contains("1 MB"),
            "{error}"
        );
    }

    #[test]
    fn template_keys_and_urls() {
        let key = key("hitl", "hitl-prod", "Resources: {}");
        assert!(key.starts_with("hitl/templates/hitl-prod-"), "{key}");
        assert!(key.ends_with(".yaml"));
        assert_eq!(key.len(), "hitl/templates/hitl-prod-".len() + 64 + 5);
        assert_ne!(key, super::key("hitl", "hitl-prod", "Resources: {} "));
        assert_eq!(
            object_url("hitl-assets-1", "eu-west-1", "hitl/templates/x.yaml"),
            "https://hitl-assets-1.s3.eu-west-1.amazonaws.com/hitl/templates/x.yaml"
        );
        assert_eq!(
            object_url("b", "cn-north-1", "k"),
            "https://b.s3.cn-north-1.amazonaws.com.cn/k"
        );
    }
}
