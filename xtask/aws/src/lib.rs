//! The kit's AWS clients: the user's credentials chain (profiles, SSO, environment, `--profile`,
//! `--region`, `AWS_ENDPOINT_URL`) for the cloud, or moto's endpoint for the local environment.
//!
//! Uses `kit-base` (the local environment's fixed settings) and `kit-config`; knows nothing of
//! what the clients are used for, except [`workflow`]: a stack's executions, whichever
//! orchestrator runs them.

pub mod workflow;

use anyhow::{Result, bail};
use aws_config::{Region, SdkConfig};
use kit_base::local;
use kit_config::{Effective, values::Endpoint};

/// The SDK settings a cloud environment's clients get: the credential chain, with the profile
/// and region of the config (or the flags) over the environment's.
pub async fn cloud_config(effective: &Effective) -> SdkConfig {
    let mut loader = hitl_aws::config_loader();
    if let Some(profile) = &effective.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &effective.region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}

/// Where an environment's stack lives, and the clients to reach it.
#[derive(Clone)]
pub struct Aws {
    pub sdk: SdkConfig,
    /// moto's endpoint, for `endpoint: local` environments.
    pub local: Option<String>,
}

impl Aws {
    /// Clients for the cloud environment `effective` names; for the emulator, `local` is the
    /// endpoint of its moto server.
    pub async fn connect(effective: &Effective, local: Option<String>) -> Result<Aws> {
        let sdk = match (&effective.endpoint, &local) {
            (Endpoint::Local, Some(endpoint)) => return Ok(Self::local(endpoint).await),
            (Endpoint::Local, None) => bail!(
                "the local environment is not running: `cargo xtask deploy --env {}` starts it",
                effective.environment
            ),
            (Endpoint::Aws, _) => {
                let sdk = cloud_config(effective).await;
                if sdk.region().is_none() {
                    bail!(
                        "no AWS region for {}: pass --region, set `region:` in the config, or \
                         give the profile a region (aws configure set region eu-west-1)",
                        effective.stack_name
                    );
                }
                sdk
            }
        };
        Ok(Aws { sdk, local })
    }

    /// Clients of the local environment at `endpoint` (the router, or moto itself), with the
    /// kit's own credentials.
    pub async fn local(endpoint: &str) -> Aws {
        let sdk = hitl_aws::config_loader()
            .region(Region::new(local::REGION))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                local::ACCESS_KEY,
                local::SECRET_KEY,
                None,
                None,
                "hitl-local",
            ))
            .load()
            .await;
        Aws {
            sdk,
            local: Some(endpoint.to_owned()),
        }
    }

    pub fn region(&self) -> String {
        self.sdk
            .region()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    pub fn apigateway(&self) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::new(&self.sdk)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        // Endpoints other than AWS's (moto, LocalStack) serve buckets by path, not by host name.
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.sdk.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.sdk)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }

    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk)
    }
}
