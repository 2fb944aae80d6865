//! What the hitl functions share around the AWS SDK. Kept apart from `hitl-core`, which does
//! no I/O and knows nothing of the SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::{display::DisplayErrorContext, metadata::ProvideErrorMetadata};

/// An SDK error in one line: the service's error code and message, or the transport's chain of
/// causes. Never the request's data, so it is safe to log.
pub fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("service error"),
            service.message().unwrap_or("")
        ),
        None => DisplayErrorContext(error).to_string(),
    }
}

/// The service's error code, when the service answered.
pub fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
