//! One HTTPS client for everything a function calls: the SDK's calls through
//! [`crate::connector`], and those the SDK does not make (Slack's webhook and Web API, the
//! identity provider of sign-in) through [`send`]. Hyper's HTTP/1.1 client on rustls with ring, so a package carries one HTTP and TLS
//! stack. Redirects are never followed (a secret URL is never sent elsewhere) and every status
//! is an answer (the caller reads the service's). Errors never name the URL.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Mutex, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use aws_smithy_types::body::SdkBody;
use http_body_util::{BodyExt, Limited};
pub use hyper::Method;
use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};

/// The longest answer [`send`] reads: Slack's are a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

/// The client: cloned, it shares its pool of connections.
pub(crate) type Https = Client<ConnectTimeout<HttpsConnector<HttpConnector>>, SdkBody>;

/// The client whose connections time out after `connect_timeout`, one per instance and
/// setting. A `pooled` one keeps its connections from one invocation to the next: the SDK's,
/// which retries a call that went out on a connection the other end had closed meanwhile.
/// [`send`]'s calls are not retried, so its client keeps none.
pub(crate) fn client(connect_timeout: Option<Duration>, pooled: bool) -> Https {
    type Clients = Mutex<HashMap<(Option<Duration>, bool), Https>>;
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|e| e.into_inner());
    clients
        .entry((connect_timeout, pooled))
        .or_insert_with(|| new_client(connect_timeout, pooled))
        .clone()
}

fn new_client(connect_timeout: Option<Duration>, pooled: bool) -> Https {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    // ring, for rustls' default (the only provider in a package; the kit's build may have two).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots().clone())
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_timer(TokioTimer::new());
    if !pooled {
        builder.pool_max_idle_per_host(0);
    }
    builder.build(ConnectTimeout {
        inner: https,
        limit: connect_timeout,
    })
}

/// Reads the root certificates now (they are read once per instance).
pub(crate) fn warm() {
    roots();
}

/// The system's root certificates (Lambda's runtime has them), read once, as the SDK's client
/// reads them; none found is said in the log, since every TLS handshake will then fail.
fn roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if roots.is_empty() {
            tracing::warn!("no native root CA certificates found: every HTTPS call will fail");
        }
        roots
    })
}

/// The connection's whole setup (DNS, TCP and the TLS handshake) within `limit`, as the SDK's
/// client bounds it: a connection that stalls is a connect error, which the SDK retries.
#[derive(Debug, Clone)]
pub(crate) struct ConnectTimeout<C> {
    inner: C,
    limit: Option<Duration>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<C> tower_service::Service<Uri> for ConnectTimeout<C>
where
    C: tower_service::Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connecting.await.map_err(Into::into),
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected.map_err(Into::into),
                    Err(_) => Err("the connection was not set up in time".into()),
                },
            }
        })
    }
}

/// Whether `url` is HTTPS, or plain HTTP to this machine (the local environment's stand-ins).
pub fn is_https_or_local(url: &str) -> bool {
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    url.starts_with("https://") || local.iter().any(|p| url.starts_with(p))
}

/// A request: the method, the URL, its headers and body.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

/// An answer: its status, its `Retry-After` header, its body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Sends `request` and reads the answer, all within `timeout`; what went wrong, without the URL.
pub async fn send(request: Request<'_>, timeout: Duration) -> Result<Answer, &'static str> {
    let mut builder = hyper::Request::builder()
        .method(request.method)
        .uri(request.url);
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let body = SdkBody::from(request.body.unwrap_or_default());
    let request = builder.body(body).map_err(|_| "not a valid request")?;
    let client = client(Some(timeout), false);
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| match e.is_connect() {
                true => "connection failed",
                false => "request failed",
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|_| "the answer could not be read")?
            .to_bytes();
        Ok(Answer {
            status,
            retry_after,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err("timed out"))
}
