//! The company's identity provider (OpenID Connect) for sign-in: its discovery document
//! (OpenID Connect Discovery 1.0 §4, read once per instance, its `issuer` exactly the configured
//! one, §4.3), its signing keys (kept, and read again when a token names a key not seen yet,
//! at most once a minute) and its token endpoint (RFC 6749 §4.1.3; a confidential client's
//! secret, an SSM SecureString, in HTTP Basic authentication, §2.3.1). No secret, code or token
//! is ever in an error.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use data_encoding::BASE64;
use hitl_aws::https::{self, Method, Request};
use hitl_core::sign_in::JwkSet;
use hitl_protocol::{IdentityProvider, Tokens};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::webhook::secret;

/// Each call to the provider; the review API has 29 seconds in all.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The keys are read again at most this often when a token names one not seen.
const REFRESH: Duration = Duration::from_secs(60);

/// Sign-in's settings, from the environment the template sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_parameter: Option<String>,
    /// The claim matched against the reviewers.
    pub claim: String,
}

impl SignInSettings {
    /// The settings from `get`, when `OIDC_ISSUER` is set; the error names what is wrong.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let Some(issuer) = get("OIDC_ISSUER").filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        if !https::is_https_or_local(&issuer) {
            return Err("environment variable OIDC_ISSUER is not an https:// URL".into());
        }
        let client_id = get("OIDC_CLIENT_ID")
            .filter(|c| !c.is_empty())
            .ok_or("environment variable OIDC_CLIENT_ID is not set")?;
        Ok(Some(Self {
            issuer,
            client_id,
            client_secret_parameter: get("OIDC_CLIENT_SECRET_PARAMETER").filter(|p| !p.is_empty()),
            claim: get("OIDC_CLAIM")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "email".into()),
        }))
    }
}

/// What the discovery document says where to go, and how the token endpoint takes a client's
/// secret.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
    jwks: String,
    userinfo: Option<String>,
    /// `client_secret_post` is listed in `token_endpoint_auth_methods_supported`.
    secret_in_form: bool,
}

/// The provider.
pub struct OpenIdProvider {
    settings: SignInSettings,
    ssm: aws_sdk_ssm::Client,
    endpoints: OnceCell<Endpoints>,
    keys: Mutex<Option<(JwkSet, Instant)>>,
    client_secret: OnceCell<Option<String>>,
}

impl OpenIdProvider {
    pub fn new(settings: SignInSettings, ssm: aws_sdk_ssm::Client) -> Self {
        Self {
            settings,
            ssm,
            endpoints: OnceCell::new(),
            keys: Mutex::new(None),
            client_secret: OnceCell::new(),
        }
    }

    /// The provider of `settings`, its client secret read with the SDK configuration `aws`.
    pub fn on(settings: SignInSettings, aws: &aws_config::SdkConfig) -> Self {
        Self::new(settings, aws_sdk_ssm::Client::new(aws))
    }

    pub fn claim(&self) -> &str {
        &self.settings.claim
    }

    /// The discovery document's endpoints, read once (a failed read is not kept).
    async fn endpoints(&self) -> Result<&Endpoints, String> {
        self.endpoints
            .get_or_try_init(|| discover(&self.settings.issuer))
            .await
    }

    /// The client's secret, for a confidential client.
    async fn client_secret(&self) -> Result<Option<&str>, String> {
        let secret = self
            .client_secret
            .get_or_try_init(|| async {
                match &self.settings.client_secret_parameter {
                    Some(name) => secret(&self.ssm, name).await.map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        Ok(secret.as_deref())
    }
}

impl IdentityProvider for OpenIdProvider {
    fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    async fn authorization_endpoint(&self) -> Result<String, String> {
        Ok(self.endpoints().await?.authorization.clone())
    }

    async fn keys(&self, refresh: bool) -> Result<JwkSet, String> {
        let kept = self.keys.lock().ok().and_then(|k| k.clone());
        match kept {
            Some((keys, _)) if !refresh => return Ok(keys),
            Some((keys, read)) if read.elapsed() < REFRESH => return Ok(keys),
            _ => {}
        }
        let answer = get(&self.endpoints().await?.jwks, "keys").await?;
        let keys: JwkSet = serde_json::from_value(answer)
            .map_err(|_| "the provider's keys (jwks_uri) are not a JWK set".to_owned())?;
        if let Ok(mut kept) = self.keys.lock() {
            *kept = Some((keys.clone(), Instant::now()));
        }
        Ok(keys)
    }

    async fn exchange(&self, form: &str) -> Result<Tokens, String> {
        let mut headers = vec![
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ];
        let endpoints = self.endpoints().await?;
        let mut form = form.to_owned();
        if let Some(secret) = self.client_secret().await? {
            let client_id = &self.settings.client_id;
            match endpoints.secret_in_form {
                true => form = with_secret(&form, secret),
                false => {
                    form = without_client_id(&form);
                    headers.push(("authorization", basic(client_id, secret)));
                }
            }
        }
        let request = Request {
            method: Method::POST,
            url: &endpoints.token,
            headers,
            body: Some(form),
        };
        let answer = https::send(request, TIMEOUT).await.map_err(|kind| {
            format!("the provider's token endpoint could not be reached: {kind}")
        })?;
        let json: Value = serde_json::from_str(&answer.body).unwrap_or_default();
        match (answer.status, json["id_token"].as_str()) {
            (200, Some(token)) => Ok(Tokens {
                id_token: token.to_owned(),
                access_token: json["access_token"].as_str().map(str::to_owned),
            }),
            (200, None) => Err("the provider's token endpoint answered without an ID token".into()),
            (status, _) => Err(format!(
                "the provider's token endpoint answered HTTP {status}, error {}",
                json["error"].as_str().unwrap_or("(none)")
            )),
        }
    }

    async fn userinfo(&self, access_token: &str) -> Result<Value, String> {
        match &self.endpoints().await?.userinfo {
            Some(endpoint) => userinfo(endpoint, access_token).await,
            None => Err("the provider's discovery document has no userinfo_endpoint".into()),
        }
    }
}

/// The provider's UserInfo answer for `access_token` (OpenID Connect Core §5.3.1).
async fn userinfo(endpoint: &str, access_token: &str) -> Result<Value, String> {
    let request = Request {
        method: Method::GET,
        url: endpoint,
        headers: vec![
            ("accept", "application/json".to_owned()),
            ("authorization", format!("Bearer {access_token}")),
        ],
        body: None,
    };
    let answer = https::send(request, TIMEOUT)
        .await
        .map_err(|kind| format!("the provider's userinfo endpoint could not be reached: {kind}"))?;
    match answer.status {
        200 => serde_json::from_str(&answer.body)
            .map_err(|_| "the provider's userinfo answer is not JSON".to_owned()),
        status => Err(format!(
            "the provider's userinfo endpoint answered HTTP {status}"
        )),
    }
}

/// A confidential client's token request with its secret in the form
/// (`client_secret_post`, RFC 6749 §2.3.1): preferred where the provider takes it, since
/// providers differ in decoding the Basic header's form-encoded parts.
fn with_secret(form: &str, secret: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(form.to_owned());
    form.append_pair("client_secret", secret).finish()
}

/// The token request without its `client_id`, for a client that authenticates with HTTP
/// Basic: RFC 6749 §4.1.3 asks for it only of a client that does not authenticate, and some
/// providers (Okta) refuse a request with the client named twice.
fn without_client_id(form: &str) -> String {
    let pairs = form_urlencoded::parse(form.as_bytes()).filter(|(name, _)| name != "client_id");
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// HTTP Basic authentication of the client (RFC 6749 §2.3.1: each part form-encoded first).
fn basic(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!("Basic {}", BASE64.encode(pair.as_bytes()))
}

/// The provider's discovery document, checked: its issuer is `issuer` exactly, its endpoints
/// HTTPS (or this machine, for the local environment).
async fn discover(issuer: &str) -> Result<Endpoints, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document = get(&url, "discovery document").await?;
    if document["issuer"].as_str() != Some(issuer) {
        return Err(format!(
            "the provider's discovery document names issuer {}, not {issuer}: set sign_in.issuer to it",
            document["issuer"]
        ));
    }
    let endpoint = |name: &str| -> Result<String, String> {
        match document[name].as_str() {
            Some(url) if https::is_https_or_local(url) => Ok(url.to_owned()),
            _ => Err(format!(
                "the provider's discovery document has no https:// {name}"
            )),
        }
    };
    let methods = document["token_endpoint_auth_methods_supported"].as_array();
    Ok(Endpoints {
        authorization: endpoint("authorization_endpoint")?,
        token: endpoint("token_endpoint")?,
        jwks: endpoint("jwks_uri")?,
        userinfo: endpoint("userinfo_endpoint").ok(),
        secret_in_form: methods.is_some_and(|m| m.iter().any(|m| m == "client_secret_post")),
    })
}

/// A JSON document the provider publishes at `url` (its `what` in errors).
async fn get(url: &str, what: &str) -> Result<Value, String> {
    let request = Request {
        method: Method::GET,
        url,
        headers: vec![("accept", "application/json".to_owned())],
        body: None,
    };
    let answer = https::send(request, TIMEOUT)
        .await
        .map_err(|kind| format!("the provider's {what} could not be read: {kind}"))?;
    if answer.status != 200 {
        return Err(format!(
            "the provider's {what} answered HTTP {}",
            answer.status
        ));
    }
    serde_json::from_str(&answer.body).map_err(|_| format!("the provider's {what} is not JSON"))
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        io::{BufRead, BufReader, Read, Write},
        sync::Arc,
    };

    use super::*;

    type Hits = Arc<Mutex<HashMap<String, (usize, String)>>>;

    /// A provider on loopback: its discovery document names `issuer` (its own URL when `None`),
    /// and every request's path is counted with its last body.
    fn provider(issuer: Option<&'static str>) -> (String, Hits) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let hits: Hits = Arc::default();
        let (me, kept) = (base.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (path, body) = read_request(&stream);
                let answer = match path.as_str() {
                    "/.well-known/openid-configuration" => serde_json::json!({
                        "issuer": issuer.map_or(me.clone(), str::to_owned),
                        "authorization_endpoint": format!("{me}/authorize"),
                        "token_endpoint": format!("{me}/token"),
                        "jwks_uri": format!("{me}/jwks"),
                        "userinfo_endpoint": format!("{me}/userinfo"),
                    }),
                    "/jwks" => serde_json::json!({"keys": []}),
                    "/token" if body.contains("code=good") => {
                        serde_json::json!({"id_token": "h.c.s", "access_token": "at"})
                    }
                    "/userinfo" => serde_json::json!({"sub": "u-1", "email_verified": true}),
                    _ => serde_json::json!({"error": "invalid_grant"}),
                };
                let status = if answer["error"].is_null() {
                    "200 OK"
                } else {
                    "400 Bad Request"
                };
                let entry = &mut *kept.lock().unwrap();
                let hit = entry.entry(path).or_default();
                *hit = (hit.0 + 1, body);
                let text = answer.to_string();
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    )
                    .as_bytes(),
                );
            }
        });
        (base, hits)
    }

    /// The path and body of one HTTP/1.1 request.
    fn read_request(stream: &std::net::TcpStream) -> (String, String) {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (path, String::from_utf8(body).unwrap())
    }

    fn open_id(issuer: &str) -> OpenIdProvider {
        let ssm = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .build();
        let settings = SignInSettings {
            issuer: issuer.to_owned(),
            client_id: "hitl".into(),
            client_secret_parameter: None,
            claim: "email".into(),
        };
        OpenIdProvider::new(settings, aws_sdk_ssm::Client::from_conf(ssm))
    }

    #[tokio::test]
    async fn the_endpoints_and_keys_come_from_the_discovery_document() {
        let (base, hits) = provider(None);
        let provider = open_id(&base);
        assert_eq!(
            provider.authorization_endpoint().await,
            Ok(format!("{base}/authorize"))
        );
        assert!(provider.keys(false).await.unwrap().keys.is_empty());
        // Kept: read again only when asked, and not twice within a minute.
        provider.keys(false).await.unwrap();
        provider.keys(true).await.unwrap();
        let hits = hits.lock().unwrap();
        assert_eq!(hits["/.well-known/openid-configuration"].0, 1);
        assert_eq!(hits["/jwks"].0, 1);
    }

    #[tokio::test]
    async fn a_document_of_another_issuer_is_refused() {
        let (base, _) = provider(Some("https://evil.example.com/"));
        let error = open_id(&base).authorization_endpoint().await.unwrap_err();
        assert!(
            error.contains("names issuer \"https://evil.example.com/\""),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_code_is_exchanged_for_the_id_token() {
        let (base, hits) = provider(None);
        let provider = open_id(&base);
        let tokens = Tokens {
            id_token: "h.c.s".into(),
            access_token: Some("at".into()),
        };
        assert_eq!(provider.exchange("code=good&x=1").await, Ok(tokens));
        let info = provider.userinfo("at").await.unwrap();
        assert_eq!(info["email_verified"], true);
        assert_eq!(hits.lock().unwrap()["/token"].1, "code=good&x=1");
        let refused = provider.exchange("code=used").await.unwrap_err();
        assert_eq!(
            refused,
            "the provider's token endpoint answered HTTP 400, error invalid_grant"
        );
        assert!(!refused.contains("used"));
    }

    #[test]
    fn a_confidential_clients_secret_goes_in_the_form_or_alone_in_basic() {
        let form = "grant_type=authorization_code&code=c&client_id=hitl+app&code_verifier=v";
        assert_eq!(
            with_secret(form, "s~1&x"),
            format!("{form}&client_secret=s%7E1%26x")
        );
        assert_eq!(
            without_client_id(form),
            "grant_type=authorization_code&code=c&code_verifier=v"
        );
    }

    #[test]
    fn the_client_authenticates_with_http_basic() {
        // RFC 6749 §2.3.1's example.
        assert_eq!(
            basic("s6BhdRkqt3", "gX1fBat3bV"),
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        // Each part form-encoded first: a colon in the secret stays the secret's.
        assert_eq!(
            basic("a", "b:c"),
            format!("Basic {}", BASE64.encode(b"a:b%3Ac"))
        );
    }

    #[test]
    fn the_settings_need_an_https_issuer_and_a_client() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(SignInSettings::from_lookup(env(&[])), Ok(None));
        let settings = SignInSettings::from_lookup(env(&[
            ("OIDC_ISSUER", "https://idp/"),
            ("OIDC_CLIENT_ID", "c"),
        ]));
        assert_eq!(settings.unwrap().unwrap().claim, "email");
        assert!(
            SignInSettings::from_lookup(env(&[
                ("OIDC_ISSUER", "http://idp/"),
                ("OIDC_CLIENT_ID", "c")
            ]))
            .is_err()
        );
        assert!(SignInSettings::from_lookup(env(&[("OIDC_ISSUER", "https://idp/")])).is_err());
    }
}
