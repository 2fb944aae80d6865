//! The functions' HTTP client for the SDK: hyper's HTTP/1.1 client on rustls with ring, the
//! stack the SDK's default client is built on, without its HTTP/2 and proxy support (a quarter
//! of a megabyte of code each function would carry for calls to AWS endpoints that all speak
//! HTTP/1.1). The kit's own clients keep the SDK's default client
//! ([`crate::http_client`]).
//!
//! Errors are classified as the SDK's client classifies them, so the SDK's retries behave the
//! same: a connection that could not be made or was cut is an I/O error (retried), a timeout a
//! timeout, a request hyper refused a user error.

use std::{borrow::Cow, collections::HashMap, sync::Mutex, time::Duration};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        connection::{CaptureSmithyConnection, ConnectionMetadata},
        connector_metadata::ConnectorMetadata,
        http::{
            HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings,
            SharedHttpClient, SharedHttpConnector,
        },
        orchestrator::{HttpRequest, HttpResponse},
        result::ConnectorError,
        retries::ErrorKind,
        runtime_components::{RuntimeComponents, RuntimeComponentsBuilder},
    },
};
use aws_smithy_types::{body::SdkBody, config_bag::ConfigBag};
use hyper_util::client::legacy::connect::{CaptureConnection, capture_connection};

use crate::https::{Https, client};

/// The SDK's [`HttpClient`] on [`crate::https`]: one connector per timeout setting, each with
/// its pool of connections kept from one invocation to the next.
pub fn http1_client() -> SharedHttpClient {
    SharedHttpClient::new(Http1Client::default())
}

/// A connector's settings: its connect and read timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug, Default)]
struct Http1Client {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let new = || {
            SharedHttpConnector::new(Http1 {
                client: client(key.0, true),
                read_timeout: key.1,
            })
        };
        match self.connectors.lock() {
            Ok(mut connectors) => connectors.entry(key).or_insert_with(new).clone(),
            Err(_) => new(),
        }
    }

    /// Reads the root certificates while the SDK's clients are built (the function's init), as
    /// the SDK's own client does, rather than in the first invocation's first call.
    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        crate::https::warm();
        Ok(())
    }

    /// What the SDK's user agent names as the HTTP client (`md/http#hyper-1.x`).
    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

#[derive(Debug, Clone)]
struct Http1 {
    client: Https,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Http1 {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let captured = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || poisonable(&captured));
        }
        let call = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .map_err(|e| ConnectorError::timeout(e.into()))?,
                None => call.await,
            };
            match answer {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(classify(e)),
            }
        })
    }
}

/// The connection a request went out on, as the SDK's retries see it: after a transient error
/// they poison it, so that the retry opens a new one.
fn poisonable(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    captured.connection_metadata().as_ref()?;
    let captured = captured.clone();
    let poison = move || {
        if let Some(connected) = captured.connection_metadata().as_ref() {
            connected.poison();
        }
    };
    Some(
        ConnectionMetadata::builder()
            .proxied(false)
            .poison_fn(poison)
            .build(),
    )
}

/// The SDK's kind of a hyper client error (as `aws-smithy-http-client` classifies it).
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    let hyper = std::error::Error::source(&error).and_then(|e| e.downcast_ref::<hyper::Error>());
    match hyper {
        Some(e) if e.is_timeout() => ConnectorError::timeout(error.into()),
        Some(e) if e.is_user() => ConnectorError::user(error.into()),
        Some(e) if e.is_closed() || e.is_canceled() => ConnectorError::io(error.into()),
        Some(e) if e.is_incomplete_message() => {
            ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
        }
        _ if has_io_error(&error) => ConnectorError::io(error.into()),
        _ => ConnectorError::other(error.into(), None),
    }
}

/// Whether an I/O error is somewhere in `error`'s chain (a reset connection).
fn has_io_error(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<std::io::Error>())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn request(port: u16) -> HttpRequest {
        request_to(&format!("http://127.0.0.1:{port}/"))
    }

    fn request_to(url: &str) -> HttpRequest {
        let request = hyper::Request::builder()
            .uri(url)
            .body(SdkBody::from("{}"))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    fn connector(read_timeout: Option<Duration>) -> Http1 {
        Http1 {
            client: client(Some(Duration::from_secs(1)), true),
            read_timeout,
        }
    }

    /// A server on loopback that reads each request, then answers `answer`: text, or `""` to
    /// close the connection at once, or `None` never.
    fn serve(answer: Option<&'static str>) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buffer = [0; 4096];
                let _ = stream.read(&mut buffer);
                match answer {
                    Some(answer) => drop(stream.write_all(answer.as_bytes())),
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn answers_are_the_sdks_responses() {
        let port = serve(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
        let response = connector(None).call(request(port)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body());
        assert_eq!(body.await.unwrap().to_bytes(), &b"ok"[..]);
    }

    /// The SDK retries I/O errors and timeouts (its standard retry strategy's transient errors).
    #[tokio::test]
    async fn failures_are_classified_as_the_sdks_client_classifies_them() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = refused.local_addr().unwrap().port();
        drop(refused);
        let error = connector(None).call(request(port)).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");

        let cut = serve(Some(""));
        let error = connector(None).call(request(cut)).await.unwrap_err();
        let transient = error.as_other() == Some(ErrorKind::TransientError);
        assert!(error.is_io() || transient, "{error:?}");

        let silent = serve(None);
        let limit = Some(Duration::from_millis(200));
        let error = connector(limit).call(request(silent)).await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    /// The connect timeout bounds the TLS handshake too (a server that never answers the
    /// ClientHello), as the SDK's client bounds it; the SDK retries that as an I/O error.
    #[tokio::test]
    async fn a_stalled_handshake_is_a_connect_error() {
        let silent = serve(None);
        let call = connector(None).call(request_to(&format!("https://127.0.0.1:{silent}/")));
        let error = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("cut at the connect timeout, 1 s")
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }
}
