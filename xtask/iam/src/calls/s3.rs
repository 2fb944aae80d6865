//! Amazon S3: REST XML, path-style (`/{Bucket}/{Key}`) or virtual-hosted (`Host:
//! {Bucket}.s3.{Region}.amazonaws.com`, or `{Bucket}.localhost` in front of an emulator). The
//! AWS SDK for Rust (aws-sdk-s3 1.157) adds `x-id=GetObject|PutObject|DeleteObject` to the
//! query and sends ListObjectsV2 as `GET /?list-type=2`.
//!
//! Authorization (SAR, "Actions, resources, and condition keys for Amazon S3", with its table
//! "API operations defined by Amazon S3"):
//! - GetObject and HeadObject: `s3:GetObject` on the `object` resource,
//!   `arn:${Partition}:s3:::${BucketName}/${ObjectName}` (the key percent-decoded); with a
//!   `versionId`, `s3:GetObjectVersion` ("Required permissions for Amazon S3 API operations",
//!   S3 user guide, and the GetObject / HeadObject API reference).
//! - PutObject: `s3:PutObject` on the object. Headers that make S3 authorize more (an ACL,
//!   `x-amz-tagging`, Object Lock, SSE-KMS, a copy source) are not covered.
//! - DeleteObject: `s3:DeleteObject`; with a `versionId`, `s3:DeleteObjectVersion`.
//! - ListObjectsV2: `s3:ListBucket` on the `bucket` resource, `arn:${Partition}:s3:::${BucketName}`,
//!   with `s3:prefix`, `s3:delimiter`, `s3:max-keys` from the query.
//!
//! Condition keys from the request (SAR, "Condition keys for Amazon S3"): `s3:authType`
//! (`REST-HEADER` for a signed header, `REST-QUERY-STRING` for a presigned URL),
//! `s3:signatureversion` (`AWS4-HMAC-SHA256`), `s3:x-amz-content-sha256`, `s3:versionid`, and
//! for PutObject `s3:x-amz-server-side-encryption`, `s3:x-amz-storage-class`, `s3:if-match`,
//! `s3:if-none-match`. `s3:ResourceAccount` is the account given (the local environment's
//! buckets are all its own). Not filled: `s3:signatureAge`, `s3:TlsVersion` (the router knows
//! the connection), `s3:ExistingObjectTag/*` (stored state). Reading an object stored under
//! SSE-KMS also needs `kms:Decrypt`: stored state, the router's to add.

use super::request::{Needed, Scope, Unknown, decoded};

const SERVICE: &str = "s3";

/// The request headers that make S3 authorize more than the operation's own action.
const EXTRA_AUTHORIZATION_HEADERS: [&str; 6] = [
    "x-amz-acl",
    "x-amz-grant-",
    "x-amz-tagging",
    "x-amz-object-lock-",
    "x-amz-copy-source",
    "x-amz-server-side-encryption-",
];

/// Query parameters any call may carry: presigning and the SDK's operation hint.
fn is_common_param(name: &str) -> bool {
    name == "x-id" || name.starts_with("X-Amz-")
}

/// What an S3 call needs.
pub(super) fn needed(call: &super::request::Call, scope: Scope) -> Result<Vec<Needed>, Unknown> {
    let (bucket, key) = bucket_and_key(call)?;
    if bucket.is_empty() {
        return Err(Unknown::new(
            SERVICE,
            "",
            "no bucket: service-level calls not covered",
        ));
    }
    let arn_head = format!("arn:{}:s3:::{bucket}", scope.partition);
    let needed = if key.is_empty() {
        bucket_call(call, arn_head)?
    } else {
        object_call(call, format!("{arn_head}/{key}"))?
    };
    Ok(vec![with_request_keys(needed, call, scope)])
}

/// The bucket and the (decoded) key of a call, virtual-hosted or path-style.
fn bucket_and_key(call: &super::request::Call) -> Result<(String, String), Unknown> {
    let raw = call.path.strip_prefix('/').unwrap_or(call.path);
    if let Some(bucket) = virtual_host_bucket(call)? {
        return Ok((bucket, decoded(raw, SERVICE, "")?));
    }
    let (bucket, key) = raw.split_once('/').unwrap_or((raw, ""));
    Ok((decoded(bucket, SERVICE, "")?, decoded(key, SERVICE, "")?))
}

/// The bucket a virtual-hosted `Host` names: under `*.amazonaws.com` (or `.com.cn`), the labels
/// before the last S3 label (`s3`, `s3-REGION`: "Virtual hosting of buckets", S3 user guide);
/// before a final `localhost`. Access point and S3 Object Lambda hosts are not covered.
fn virtual_host_bucket(call: &super::request::Call) -> Result<Option<String>, Unknown> {
    let Some(host) = call.header("host") else {
        return Ok(None);
    };
    let host = without_port(host).to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    if labels
        .iter()
        .any(|l| matches!(*l, "s3-accesspoint" | "s3-object-lambda" | "s3-outposts"))
    {
        return Err(Unknown::new(SERVICE, "", "access point hosts not covered"));
    }
    let end = if labels.last() == Some(&"localhost") {
        Some(labels.len() - 1)
    } else if host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn") {
        labels
            .iter()
            .rposition(|l| *l == "s3" || l.starts_with("s3-"))
    } else {
        None
    };
    Ok(match end {
        Some(end) if end > 0 => Some(labels[..end].join(".")),
        _ => None,
    })
}

/// A `Host` without its `:port`.
fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// A call on a bucket (no key): ListObjectsV2 only.
fn bucket_call(call: &super::request::Call, bucket_arn: String) -> Result<Needed, Unknown> {
    let params = call.query_params();
    let list_v2 = params.iter().any(|(k, v)| k == "list-type" && v == "2");
    let known = |k: &str| {
        is_common_param(k)
            || matches!(
                k,
                "list-type"
                    | "prefix"
                    | "delimiter"
                    | "max-keys"
                    | "continuation-token"
                    | "fetch-owner"
                    | "start-after"
                    | "encoding-type"
            )
    };
    if call.method != "GET" || !list_v2 || !params.iter().all(|(k, _)| known(k)) {
        return Err(Unknown::new(
            SERVICE,
            "",
            format!("bucket call {} ?{} not covered", call.method, call.query),
        ));
    }
    let param = |name: &str| call.query_param(name);
    Ok(Needed::new("s3:ListBucket", bucket_arn)
        .with_some("s3:prefix", param("prefix"))
        .with_some("s3:delimiter", param("delimiter"))
        .with_some("s3:max-keys", param("max-keys")))
}

/// A call on an object: GetObject, HeadObject, PutObject, DeleteObject.
fn object_call(call: &super::request::Call, object_arn: String) -> Result<Needed, Unknown> {
    let params = call.query_params();
    let version = call.query_param("versionId");
    let (operation, allowed): (&str, fn(&str) -> bool) = match call.method {
        "GET" => ("GetObject", is_read_param),
        "HEAD" => ("HeadObject", is_read_param),
        "PUT" => ("PutObject", |_| false),
        "DELETE" => ("DeleteObject", |k| k == "versionId"),
        other => {
            return Err(Unknown::new(
                SERVICE,
                other,
                "method not covered on objects",
            ));
        }
    };
    if let Some((name, _)) = params
        .iter()
        .find(|(k, _)| !is_common_param(k) && !allowed(k))
    {
        return Err(Unknown::new(
            SERVICE,
            operation,
            format!("the subresource or parameter {name:?} is not covered"),
        ));
    }
    let action = match (operation, version.is_some()) {
        ("GetObject" | "HeadObject", false) => "s3:GetObject",
        ("GetObject" | "HeadObject", true) => "s3:GetObjectVersion",
        ("DeleteObject", false) => "s3:DeleteObject",
        ("DeleteObject", true) => "s3:DeleteObjectVersion",
        _ => "s3:PutObject",
    };
    let needed = Needed::new(action, object_arn).with_some("s3:versionid", version);
    if operation == "PutObject" {
        return put_object(call, needed);
    }
    Ok(needed)
}

/// The query parameters of GetObject and HeadObject (S3 API reference).
fn is_read_param(name: &str) -> bool {
    name == "versionId" || name == "partNumber" || name.starts_with("response-")
}

/// PutObject: refuses the headers that need more than `s3:PutObject`, adds its header keys.
fn put_object(call: &super::request::Call, needed: Needed) -> Result<Needed, Unknown> {
    let extra = call.headers.iter().find(|(name, _)| {
        let name = name.to_ascii_lowercase();
        EXTRA_AUTHORIZATION_HEADERS
            .iter()
            .any(|prefix| name.starts_with(prefix))
    });
    if let Some((name, _)) = extra {
        return Err(Unknown::new(
            SERVICE,
            "PutObject",
            format!("the header {name} makes S3 authorize more: not covered"),
        ));
    }
    let sse = call.header("x-amz-server-side-encryption");
    if sse.is_some_and(|sse| sse != "AES256") {
        return Err(Unknown::new(
            SERVICE,
            "PutObject",
            "server-side encryption with KMS keys is not covered",
        ));
    }
    Ok(needed
        .with_some("s3:x-amz-server-side-encryption", sse)
        .with_some("s3:x-amz-storage-class", call.header("x-amz-storage-class"))
        .with_some("s3:if-match", call.header("if-match"))
        .with_some("s3:if-none-match", call.header("if-none-match")))
}

/// The keys every S3 call sets.
fn with_request_keys(needed: Needed, call: &super::request::Call, scope: Scope) -> Needed {
    let auth_type = if call.header("authorization").is_some() {
        Some("REST-HEADER")
    } else if super::sigv4::presigned(call).is_some() {
        Some("REST-QUERY-STRING")
    } else {
        None
    };
    needed
        .with_some("s3:authType", auth_type)
        .with_some("s3:signatureversion", auth_type.map(|_| "AWS4-HMAC-SHA256"))
        .with_some(
            "s3:x-amz-content-sha256",
            call.header("x-amz-content-sha256"),
        )
        .with("s3:ResourceAccount", scope.account)
}
