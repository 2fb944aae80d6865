//! What the hitl functions share around the AWS SDK. Kept apart from `hitl-core`, which does
//! no I/O and knows nothing of the SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::{display::DisplayErrorContext, metadata::ProvideErrorMetadata};
use tracing_subscriber::{EnvFilter, filter::LevelFilter};

/// Crates that log raw events or SDK responses at debug and trace level: the invocation event
/// holds the task token, a GetItem response the stored record. They never log below info,
/// whatever level the function is set to.
const CAPPED: [&str; 6] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
];

/// Logging as Lambda's advanced logging controls ask (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`,
/// else info; `AWS_LAMBDA_LOG_FORMAT=JSON`), with the [`CAPPED`] crates held at info.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = log_filter(level);
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

fn log_filter(level: LevelFilter) -> EnvFilter {
    CAPPED.iter().fold(
        EnvFilter::builder()
            .with_default_directive(level.into())
            .parse_lossy(""),
        |filter, target| match format!("{target}=info").parse() {
            Ok(directive) if level > LevelFilter::INFO => filter.add_directive(directive),
            _ => filter,
        },
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_event_loggers_stay_at_info_even_at_trace() {
        let filter = log_filter(LevelFilter::TRACE).to_string();
        for target in CAPPED {
            assert!(filter.contains(&format!("{target}=info")), "{filter}");
        }
        assert!(filter.contains("trace"), "{filter}");
    }
}
