//! What the hitl functions (and the kit's own clients) share around the AWS SDK: the one HTTPS
//! client and the config loader on it, one-line error descriptions, logging, metrics, the clock. Kept
//! apart from `hitl-core` and `hitl-protocol`, which do no I/O and know nothing of the SDK, and
//! from `hitl-adapters`, the SDK's implementations of the protocol's ports, which only the
//! functions build.

pub mod connector;
pub mod ending;
pub mod https;
mod metrics;

pub use metrics::{Metrics, init_metrics};

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use aws_smithy_runtime_api::client::{orchestrator::HttpResponse, result::SdkError};
use aws_smithy_types::error::{display::DisplayErrorContext, metadata::ProvideErrorMetadata};
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    prelude::*,
};

/// The kit's HTTPS client for the SDK: the SDK's default client (hyper, HTTP/1.1 and 2) with
/// rustls on ring.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// `aws_config::defaults` with the kit's [`http_client`]: the credential chain, region and
/// endpoint settings from the environment, as `aws_config::load_from_env` reads them.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// The functions' [`config_loader`]: the same settings on [`connector::http1_client`], the one
/// HTTP client of a function's package.
pub fn function_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(connector::http1_client())
}

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
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(log_filter(level));
    if json {
        registry.with(format.json()).init();
    } else {
        registry.with(format.with_ansi(false)).init();
    }
}

/// `level` for everything, the [`CAPPED`] crates at info at most. A plain target list, no
/// directive syntax: no regex engine in the functions.
fn log_filter(level: LevelFilter) -> Targets {
    CAPPED
        .iter()
        .fold(Targets::new().with_default(level), |filter, target| {
            filter.with_target(*target, level.min(LevelFilter::INFO))
        })
}

/// An SDK error in one line: the service's error code and message, or the transport's chain of
/// causes; an answer with neither code nor message is told by its HTTP status. Never the
/// request's data, so it is safe to log.
pub fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Some(service) = error.as_service_error() else {
        return DisplayErrorContext(error).to_string();
    };
    match (service.code(), service.message()) {
        (None, None | Some("")) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            format!(
                "the service answered HTTP {} with no error code or message",
                status.map_or_else(|| "?".to_owned(), |s| s.to_string())
            )
        }
        (code, message) => format!(
            "{}: {}",
            code.unwrap_or("service error"),
            message.unwrap_or("")
        ),
    }
}

/// The service's error code, when the service answered.
pub fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
}

/// A durable execution's error cause as Step Functions would give it: the durable SDK writes a
/// typed error's message as its chain, `<error type>: <message>` (`Rejected: <comment>`), so
/// the type is taken off the front.
pub fn durable_cause<'a>(error_type: &str, message: &'a str) -> &'a str {
    message
        .strip_prefix(error_type)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(message)
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
    fn a_durable_cause_is_its_message_without_the_sdks_type_frame() {
        assert_eq!(
            durable_cause("Rejected", "Rejected: Over budget"),
            "Over budget"
        );
        assert_eq!(
            durable_cause("Rejected", "Rejected: Rejected: twice"),
            "Rejected: twice"
        );
        assert_eq!(durable_cause("Rejected", "Rejected"), "Rejected");
        assert_eq!(durable_cause("Rejected", "Over budget"), "Over budget");
        assert_eq!(durable_cause("Expired", "Rejected: x"), "Rejected: x");
    }

    #[test]
    fn raw_event_loggers_stay_at_info_even_at_trace() {
        use tracing::Level;
        let filter = log_filter(LevelFilter::TRACE);
        for target in CAPPED {
            assert!(filter.would_enable(target, &Level::INFO), "{target}");
            assert!(!filter.would_enable(target, &Level::DEBUG), "{target}");
            assert!(!filter.would_enable(&format!("{target}::client"), &Level::DEBUG));
        }
        assert!(filter.would_enable("request", &Level::TRACE));
        let quiet = log_filter(LevelFilter::WARN);
        assert!(!quiet.would_enable("lambda_runtime", &Level::INFO));
        assert!(!quiet.would_enable("request", &Level::INFO));
    }

    #[test]
    fn an_error_answer_with_nothing_in_it_is_told_by_its_status() {
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::{body::SdkBody, error::ErrorMetadata};
        let answer = |status: u16| {
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
        };
        let empty = SdkError::service_error(ErrorMetadata::builder().build(), answer(500));
        assert_eq!(
            describe(&empty),
            "the service answered HTTP 500 with no error code or message"
        );
        let throttled = ErrorMetadata::builder()
            .code("ThrottlingException")
            .message("Rate exceeded")
            .build();
        let throttled = SdkError::service_error(throttled, answer(400));
        assert_eq!(describe(&throttled), "ThrottlingException: Rate exceeded");
    }
}
