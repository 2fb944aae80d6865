//! The attachments' links: a presigned S3 GET per attachment, made as the page is shown and
//! valid until the approval expires (at most SigV4's seven days). Presigning is computed here
//! from the role's credentials; S3 checks the role's `s3:GetObject` when the link is opened.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use hitl_core::{Approval, attachment::link_lifetime_secs};

pub struct Downloads {
    s3: aws_sdk_s3::Client,
}

impl Downloads {
    /// Path-style addressing when an endpoint is set (`AWS_ENDPOINT_URL`: an emulator), as
    /// the SDK's virtual-hosted names need a real S3 domain.
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        let config = aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(aws.endpoint_url().is_some())
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(config),
        }
    }

    /// One link per attachment, in order; none (the page names them only) once the approval
    /// has expired, or when one cannot be made (logged).
    pub async fn links(&self, approval: &Approval, now: u64) -> Vec<String> {
        let attachments = &approval.request.attachments;
        if attachments.is_empty() {
            return Vec::new();
        }
        let Some(lifetime) = link_lifetime_secs(approval.expires_at, now) else {
            return Vec::new();
        };
        let config = match PresigningConfig::expires_in(Duration::from_secs(lifetime)) {
            Ok(config) => config,
            Err(error) => {
                tracing::warn!(%error, "cannot presign the attachments");
                return Vec::new();
            }
        };
        let mut links = Vec::with_capacity(attachments.len());
        for attachment in attachments {
            let presigned = self
                .s3
                .get_object()
                .bucket(&attachment.bucket)
                .key(&attachment.key)
                .presigned(config.clone())
                .await;
            match presigned {
                Ok(request) => links.push(request.uri().to_owned()),
                Err(error) => {
                    tracing::warn!(approval = %approval.id, error = %hitl_aws::describe(&error), "cannot presign an attachment");
                    return Vec::new();
                }
            }
        }
        links
    }
}
