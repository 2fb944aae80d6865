//! The authorization code flow with PKCE (RFC 7636, S256) as the review function runs it: a
//! sign-in in progress (state, nonce, the code verifier and the link to return to, sealed in a
//! short-lived cookie), the provider's authorization URL, and the session that follows.

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::token::Identity;

/// The sign-in in progress' cookie, and how long it lasts (seconds): long enough to type a
/// password and answer a second factor.
pub const LOGIN_COOKIE: &str = "__Secure-hitl-sign-in";
pub const LOGIN_SECONDS: u64 = 600;
/// The session's cookie, and how long it lasts (seconds).
pub const SESSION_COOKIE: &str = "__Secure-hitl-session";
pub const SESSION_SECONDS: u64 = 3600;

/// A sign-in in progress, sealed in [`LOGIN_COOKIE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// The link's path to return to, under the review API.
    pub link: String,
    pub expires: u64,
}

impl Login {
    /// A new sign-in for `link` at `now`, its secrets from `random` (32 bytes each, as RFC 7636
    /// §7.1 recommends for the verifier).
    pub fn new(link: &str, now: u64, mut random: impl FnMut(&mut [u8])) -> Self {
        let mut secret = || {
            let mut bytes = [0u8; 32];
            random(&mut bytes);
            BASE64URL_NOPAD.encode(&bytes)
        };
        Self {
            state: secret(),
            nonce: secret(),
            verifier: secret(),
            link: link.to_owned(),
            expires: now + LOGIN_SECONDS,
        }
    }

    /// The provider's authorization URL for this sign-in, asking for the scopes that give
    /// `claim` ([`scope`]).
    pub fn authorization_url(
        &self,
        endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        claim: &str,
    ) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope(claim))
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &challenge(&self.verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        format!("{endpoint}{separator}{query}")
    }

    /// The token request's form (RFC 6749 §4.1.3 with RFC 7636's verifier), as a public client
    /// sends it; a confidential client's adapter authenticates it (§2.3.1).
    pub fn token_form(&self, code: &str, client_id: &str, redirect_uri: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", client_id)
            .append_pair("code_verifier", &self.verifier)
            .finish()
    }
}

/// The scopes asked for: `openid email` gives `email` and `email_verified`; any other claim
/// (`preferred_username`, `upn`, `name`) needs `profile` too (Entra ID sends
/// `preferred_username` only with it). Asking no more than the claim needs keeps an app client
/// that allows `openid email` alone (a Cognito default) working.
pub fn scope(claim: &str) -> &'static str {
    match claim {
        "email" => "openid email",
        _ => "openid email profile",
    }
}

/// RFC 7636's S256 code challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()))
}

/// A signed-in reviewer, sealed in [`SESSION_COOKIE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: String,
    pub expires: u64,
}

impl Session {
    /// Who signed in, as the decision records it.
    pub fn verified(&self) -> crate::Verified {
        crate::Verified {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            email: self.email.clone(),
        }
    }

    pub fn new(identity: Identity, now: u64) -> Self {
        Self {
            issuer: identity.issuer,
            subject: identity.subject,
            email: identity.email,
            name: identity.name,
            expires: now + SESSION_SECONDS,
        }
    }

    /// Whether this session is `reviewer`'s (matched as the reviewers' addresses are, without
    /// regard to case) and still valid at `now`.
    pub fn is(&self, reviewer: &str, now: u64) -> bool {
        now < self.expires && crate::request::same_email(&self.name, reviewer)
    }
}

/// A `Set-Cookie` header's value: `HttpOnly`, `Secure`, `SameSite=Lax` (the provider's redirect
/// back is a top-level GET, which Lax lets through), for `path` only.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: u64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    fn login() -> Login {
        let mut n = 0u8;
        Login::new("/v1/approvals/abc", 1000, |bytes| {
            n += 1;
            bytes.fill(n);
        })
    }

    #[test]
    fn each_secret_of_a_sign_in_is_its_own() {
        let login = login();
        assert_eq!(login.expires, 1000 + LOGIN_SECONDS);
        assert_eq!(login.state.len(), 43);
        assert_ne!(login.state, login.nonce);
        assert_ne!(login.nonce, login.verifier);
    }

    #[test]
    fn the_authorization_url_asks_for_a_code_with_pkce() {
        let login = login();
        let url = login.authorization_url(
            "https://login.example.com/authorize",
            "hitl reviews",
            "https://api.example.com/v1/sign-in",
            "email",
        );
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://login.example.com/authorize");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("hitl reviews"));
        assert_eq!(
            get("redirect_uri"),
            Some("https://api.example.com/v1/sign-in")
        );
        assert_eq!(get("scope"), Some("openid email"));
        assert_eq!(get("state"), Some(login.state.as_str()));
        assert_eq!(get("nonce"), Some(login.nonce.as_str()));
        assert_eq!(
            get("code_challenge"),
            Some(challenge(&login.verifier).as_str())
        );
        assert_eq!(get("code_challenge_method"), Some("S256"));
        // The verifier itself never leaves for the provider's front channel.
        assert!(!url.contains(&login.verifier));
        let with_query =
            login.authorization_url("https://idp/authorize?tenant=x", "c", "r", "email");
        assert!(with_query.starts_with("https://idp/authorize?tenant=x&response_type=code"));
        // A claim other than email comes with the profile scope.
        let entra = login.authorization_url("https://idp/a", "c", "r", "preferred_username");
        assert!(entra.contains("scope=openid+email+profile"), "{entra}");
    }

    #[test]
    fn a_session_is_its_reviewers_until_it_expires() {
        let identity = Identity {
            issuer: "https://idp/".into(),
            subject: "1".into(),
            email: Some("Ana@Example.com".into()),
            name: "Ana@Example.com".into(),
        };
        let session = Session::new(identity, 1000);
        assert!(session.is("ana@example.com", 1000));
        assert!(!session.is("bob@example.com", 1000));
        assert!(!session.is("ana@example.com", 1000 + SESSION_SECONDS));
    }

    #[test]
    fn cookies_are_http_only_secure_and_lax() {
        assert_eq!(
            set_cookie(SESSION_COOKIE, "v.t", "/v1/", SESSION_SECONDS),
            "__Secure-hitl-session=v.t; Path=/v1/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"
        );
    }
}
