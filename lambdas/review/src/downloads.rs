//! The attachments' downloads: a click on an attachment's link on the page
//! (`…/approvals/<link id>/attachments/<n>`) is answered with a redirect to a GET of the object
//! presigned at that moment with the role's current credentials, for a few minutes
//! (`hitl_core::download::download`). Never earlier: a URL presigned with temporary
//! credentials stops working when they expire. Presigning is SigV4 computed here (a signer,
//! not an S3 client); S3 checks the role's `s3:GetObject` when the URL is opened.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::{
    http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use hitl_core::attachment::Attachment;

pub struct Downloads {
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    /// The partition's domain (`URL_SUFFIX`: `amazonaws.com`, `amazonaws.com.cn`).
    domain: String,
    /// `AWS_ENDPOINT_URL` (an emulator): objects by path under it.
    endpoint: Option<String>,
}

/// The characters of an S3 key kept as they are in a URL path (RFC 3986 unreserved, and `/`).
const KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

impl Downloads {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            credentials: aws.credentials_provider(),
            region: aws.region().map(ToString::to_string).unwrap_or_default(),
            domain: std::env::var("URL_SUFFIX").unwrap_or_else(|_| "amazonaws.com".to_owned()),
            endpoint: aws.endpoint_url().map(str::to_owned),
        }
    }

    /// The object's URL: virtual-hosted on S3 (path-style for a bucket whose name has a dot,
    /// which the S3 certificate's wildcard does not cover), by path under an endpoint. The
    /// bucket is taken to be in the stack's region (README: `attachment_buckets`).
    fn object_url(&self, attachment: &Attachment) -> String {
        let key = percent_encoding::utf8_percent_encode(&attachment.key, KEY);
        let bucket = &attachment.bucket;
        match &self.endpoint {
            Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
            None if bucket.contains('.') => {
                format!("https://s3.{}.{}/{bucket}/{key}", self.region, self.domain)
            }
            None => format!("https://{bucket}.s3.{}.{}/{key}", self.region, self.domain),
        }
    }

    /// A GET of `attachment` presigned now for `lifetime_secs`; `None` (logged) when the
    /// credentials or the signature cannot be had.
    pub async fn presign(&self, attachment: &Attachment, lifetime_secs: u64) -> Option<String> {
        let provider = self.credentials.as_ref()?;
        let credentials = match provider.provide_credentials().await {
            Ok(credentials) => credentials,
            Err(error) => {
                tracing::error!(%error, "no credentials to presign an attachment with");
                return None;
            }
        };
        let identity: Identity = credentials.into();
        let url = self.object_url(attachment);
        match presigned(
            &identity,
            &self.region,
            &url,
            lifetime_secs,
            SystemTime::now(),
        ) {
            Ok(url) => Some(url),
            Err(error) => {
                tracing::error!(%error, "cannot presign an attachment");
                None
            }
        }
    }
}

/// `url` with SigV4's query parameters for a GET valid `lifetime_secs` from now, as S3 takes
/// them: the path encoded once and not normalised, the payload unsigned.
fn presigned(
    identity: &Identity,
    region: &str,
    url: &str,
    lifetime_secs: u64,
    at: SystemTime,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(lifetime_secs));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("s3")
        .time(at)
        .settings(settings)
        .build()?
        .into();
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .ok_or("the object's URL has no host")?;
    let request = SignableRequest::new(
        "GET",
        url,
        std::iter::once(("host", host)),
        SignableBody::UnsignedPayload,
    )?;
    let (instructions, _signature) = sign(request, &params)?.into_parts();
    let (_headers, query) = instructions.into_parts();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_ref())))
        .finish();
    Ok(format!("{url}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn downloads(endpoint: Option<&str>) -> Downloads {
        Downloads {
            credentials: None,
            region: "eu-west-1".into(),
            domain: "amazonaws.com".into(),
            endpoint: endpoint.map(str::to_owned),
        }
    }

    fn attachment(bucket: &str, key: &str) -> Attachment {
        Attachment {
            bucket: bucket.into(),
            key: key.into(),
            name: "n".into(),
        }
    }

    #[test]
    fn objects_are_addressed_as_s3_serves_them() {
        let plain = attachment("shop-data", "reports/Q1 totals+.csv");
        assert_eq!(
            downloads(None).object_url(&plain),
            "https://shop-data.s3.eu-west-1.amazonaws.com/reports/Q1%20totals%2B.csv"
        );
        assert_eq!(
            downloads(None).object_url(&attachment("acme-datasets.eu", "a.pdf")),
            "https://s3.eu-west-1.amazonaws.com/acme-datasets.eu/a.pdf"
        );
        let china = Downloads {
            region: "cn-north-1".into(),
            domain: "amazonaws.com.cn".into(),
            ..downloads(None)
        };
        assert_eq!(
            china.object_url(&plain),
            "https://shop-data.s3.cn-north-1.amazonaws.com.cn/reports/Q1%20totals%2B.csv"
        );
        assert_eq!(
            downloads(Some("http://127.0.0.1:4566/")).object_url(&plain),
            "http://127.0.0.1:4566/shop-data/reports/Q1%20totals%2B.csv"
        );
    }

    /// The query S3 reads a presigned GET from ("Authenticating Requests: Using Query
    /// Parameters", S3 API Reference): algorithm, credential scope, date, lifetime, the session
    /// token of temporary credentials, the signed headers and the signature.
    #[test]
    fn a_presigned_get_carries_sigv4s_query_parameters() {
        let credentials =
            Credentials::new("ASIAEXAMPLE", "secret", Some("token".into()), None, "t");
        let url = "https://shop-data.s3.eu-west-1.amazonaws.com/q1.csv";
        let signed = presigned(
            &credentials.into(),
            "eu-west-1",
            url,
            300,
            SystemTime::now(),
        )
        .unwrap();
        let query = signed.strip_prefix(&format!("{url}?")).expect(&signed);
        let params: std::collections::BTreeMap<String, String> =
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert!(params["X-Amz-Credential"].starts_with("ASIAEXAMPLE/"));
        assert!(params["X-Amz-Credential"].ends_with("/eu-west-1/s3/aws4_request"));
        assert_eq!(params["X-Amz-Expires"], "300");
        assert_eq!(params["X-Amz-Security-Token"], "token");
        assert_eq!(params["X-Amz-SignedHeaders"], "host");
        assert_eq!(params["X-Amz-Signature"].len(), 64);
    }

    /// The worked example of "Authenticating Requests: Using Query Parameters (AWS Signature
    /// Version 4)" (S3 API Reference): GET examplebucket/test.txt, 24 hours, us-east-1, at
    /// 2013-05-24T00:00:00Z, with the documentation's example keys; its signature is given.
    #[test]
    fn the_s3_documentations_presigned_example_is_signed_as_documented() {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "doc",
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let url = "https://examplebucket.s3.amazonaws.com/test.txt";
        let signed = presigned(&credentials.into(), "us-east-1", url, 86_400, at).unwrap();
        assert!(signed.contains("X-Amz-Date=20130524T000000Z"), "{signed}");
        assert!(
            signed.contains(
                "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            ),
            "{signed}"
        );
        assert!(
            signed.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{signed}"
        );
    }
}
