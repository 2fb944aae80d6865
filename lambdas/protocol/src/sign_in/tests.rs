//! Sign-in's flow against an identity provider held here: it signs its ID tokens with an
//! elliptic curve key made per run, and can be told to sign the wrong thing.

use std::sync::Mutex;

use data_encoding::BASE64URL_NOPAD;
use hitl_core::sign_in::{
    JwkSet,
    login::{LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE},
};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::{Value, json};

use super::{Answer, SignIn};
use crate::{
    ports::{IdentityProvider, Tokens},
    testing::poll_once,
};

/// The output of `future`, which never waits (the provider here answers at once).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    match poll_once(std::pin::pin!(future)) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the sign-in waited on nothing"),
    }
}

const NOW: u64 = 1_800_000_000;
const LINK: &str = "/v1/approvals/abcdefghijklmnopqrstuvwxyz";

struct Provider {
    key: EcdsaKeyPair,
    /// What the next token says over the defaults (the nonce is the last authorization's).
    claims: Mutex<Value>,
    /// The nonce the browser brought from the authorization URL.
    nonce: Mutex<String>,
    /// The code challenge the authorization URL carried.
    challenge: Mutex<String>,
    exchanged: Mutex<Vec<String>>,
    /// The keys first read are an old set (the provider rotated since).
    rotated: bool,
    reads: Mutex<Vec<bool>>,
    /// What its UserInfo endpoint answers.
    userinfo: Mutex<Value>,
}

fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

impl Provider {
    fn new(rotated: bool) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self {
            key,
            claims: Mutex::new(json!({})),
            nonce: Mutex::default(),
            challenge: Mutex::default(),
            exchanged: Mutex::default(),
            rotated,
            reads: Mutex::default(),
            userinfo: Mutex::new(json!({})),
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        let point = &self.key.public_key().as_ref()[1..];
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": b64(&point[..32]), "y": b64(&point[32..])})
    }

    fn token(&self) -> String {
        let mut claims = json!({
            "iss": "https://idp.example/", "aud": "hitl", "sub": "u-1",
            "nonce": *self.nonce.lock().unwrap(), "iat": NOW, "exp": NOW + 300,
            "email": "Ana@Example.com", "email_verified": true,
        });
        let over = self.claims.lock().unwrap().clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(over.as_object().unwrap().clone());
        let header = json!({"alg": "ES256", "kid": "k2"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

impl IdentityProvider for &Provider {
    fn issuer(&self) -> &str {
        "https://idp.example/"
    }

    fn client_id(&self) -> &str {
        "hitl"
    }

    async fn authorization_endpoint(&self) -> Result<String, String> {
        Ok("https://idp.example/authorize".into())
    }

    async fn keys(&self, refresh: bool) -> Result<JwkSet, String> {
        self.reads.lock().unwrap().push(refresh);
        let kid = if self.rotated && !refresh { "k1" } else { "k2" };
        Ok(serde_json::from_value(json!({ "keys": [self.jwk(kid)] })).unwrap())
    }

    async fn exchange(&self, form: &str) -> Result<Tokens, String> {
        self.exchanged.lock().unwrap().push(form.to_owned());
        Ok(Tokens {
            id_token: self.token(),
            access_token: Some("at-1".into()),
        })
    }

    async fn userinfo(&self, access_token: &str) -> Result<Value, String> {
        assert_eq!(access_token, "at-1");
        Ok(self.userinfo.lock().unwrap().clone())
    }
}

fn sign_in(provider: &Provider) -> SignIn<&Provider> {
    SignIn {
        provider,
        key: b"the stack's key, 32 bytes long..".to_vec(),
        claim: "email".into(),
        redirect_uri: "https://api.example/v1/sign-in".into(),
        cookie_path: "/v1/".into(),
    }
}

/// `start`, and what the browser then holds: the `Cookie` header, and the query the provider
/// sends it back with (`code=c1` and the state), the provider told the nonce.
async fn started(sign_in: &SignIn<&Provider>) -> (String, String) {
    let mut n = 0;
    let answer = sign_in
        .start(LINK, NOW, |bytes| {
            n += 1;
            bytes.fill(n);
        })
        .await;
    let Answer::Redirect { location, cookies } = answer else {
        panic!("not a redirect: {answer:?}");
    };
    let query = location.split_once('?').unwrap().1;
    let get = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    *sign_in.provider.nonce.lock().unwrap() = get("nonce");
    *sign_in.provider.challenge.lock().unwrap() = get("code_challenge");
    let cookie = cookies[0].split(';').next().unwrap().to_owned();
    (cookie, format!("code=c1&state={}", get("state")))
}

#[test]
fn a_link_without_a_session_goes_to_the_provider() {
    ready(async {
        let provider = Provider::new(false);
        let answer = sign_in(&provider).start(LINK, NOW, |b| b.fill(7)).await;
        let Answer::Redirect { location, cookies } = answer else {
            panic!("{answer:?}")
        };
        assert!(
            location.starts_with("https://idp.example/authorize?response_type=code&client_id=hitl")
        );
        assert!(location.contains("code_challenge_method=S256"));
        assert!(location.contains("redirect_uri=https%3A%2F%2Fapi.example%2Fv1%2Fsign-in"));
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].starts_with(&format!("{LOGIN_COOKIE}=")));
        assert!(cookies[0].ends_with(&format!(
            "Path=/v1/; Max-Age={LOGIN_SECONDS}; HttpOnly; Secure; SameSite=Lax"
        )));
    });
}

#[test]
fn a_verified_sign_in_sets_the_session_and_returns_to_the_link() {
    ready(async {
        let provider = Provider::new(false);
        let sign_in = sign_in(&provider);
        let (cookie, query) = started(&sign_in).await;
        let answer = sign_in.callback(&query, &cookie, NOW + 30).await;
        let Answer::Redirect { location, cookies } = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(location, LINK);
        let session = cookies[0].split(';').next().unwrap();
        assert!(session.starts_with(&format!("{SESSION_COOKIE}=")));
        assert!(
            cookies[1].starts_with(&format!("{LOGIN_COOKIE}=; "))
                && cookies[1].contains("Max-Age=0")
        );
        let found = sign_in
            .session(&format!("a=b; {session}"), NOW + 60)
            .unwrap();
        assert_eq!(
            (found.subject.as_str(), found.name.as_str()),
            ("u-1", "Ana@Example.com")
        );
        assert!(found.is("ana@example.com", NOW + 60));
        // The code went with the verifier whose challenge the authorization URL carried.
        let form = &provider.exchanged.lock().unwrap()[0];
        assert!(form.contains("grant_type=authorization_code&code=c1&redirect_uri="));
        let verifier = form_urlencoded::parse(form.as_bytes())
            .find(|(n, _)| n == "code_verifier")
            .map(|(_, v)| v.into_owned())
            .expect("a verifier");
        assert_eq!(
            hitl_core::sign_in::login::challenge(&verifier),
            *provider.challenge.lock().unwrap()
        );
        // Expired, or sealed by another stack: no session.
        assert!(sign_in.session(session, NOW + 30 + 3600).is_none());
        let other = SignIn {
            key: b"another stack".to_vec(),
            ..super::tests::sign_in(&provider)
        };
        assert!(other.session(session, NOW + 60).is_none());
    });
}

#[test]
fn a_callback_of_another_sign_in_exchanges_nothing() {
    ready(async {
        let provider = Provider::new(false);
        let sign_in = sign_in(&provider);
        let (cookie, query) = started(&sign_in).await;
        let other_state = query.replace("state=", "state=x");
        for (query, cookie, now) in [
            (other_state.as_str(), cookie.as_str(), NOW),
            (query.as_str(), "", NOW),
            (query.as_str(), cookie.as_str(), NOW + LOGIN_SECONDS),
            ("state=s", cookie.as_str(), NOW),
        ] {
            let answer = sign_in.callback(query, cookie, now).await;
            assert!(
                matches!(answer, Answer::Page(400, _)),
                "{query} {cookie}: {answer:?}"
            );
        }
        let answer = sign_in.callback("error=access_denied", &cookie, NOW).await;
        assert!(matches!(answer, Answer::Page(403, _)));
        assert!(provider.exchanged.lock().unwrap().is_empty());
    });
}

#[test]
fn a_token_that_does_not_verify_sets_no_session() {
    ready(async {
        for (claims, why) in [
            (json!({"aud": "other"}), "another client"),
            (json!({"nonce": "another sign-in"}), "another nonce"),
            (json!({"email_verified": false}), "an unverified email"),
            (json!({"exp": NOW - 120}), "expired"),
            (json!({"iss": "https://evil.example/"}), "another issuer"),
        ] {
            let provider = Provider::new(false);
            *provider.claims.lock().unwrap() = claims;
            let sign_in = sign_in(&provider);
            let (cookie, query) = started(&sign_in).await;
            let answer = sign_in.callback(&query, &cookie, NOW).await;
            let Answer::Page(403, html) = answer else {
                panic!("{why}: {answer:?}")
            };
            assert!(html.contains("could not be verified"), "{why}");
        }
    });
}

#[test]
fn keys_rotated_since_they_were_read_are_read_again() {
    ready(async {
        let provider = Provider::new(true);
        let sign_in = sign_in(&provider);
        let (cookie, query) = started(&sign_in).await;
        let answer = sign_in.callback(&query, &cookie, NOW).await;
        assert!(matches!(answer, Answer::Redirect { .. }), "{answer:?}");
        assert_eq!(*provider.reads.lock().unwrap(), [false, true]);
    });
}

/// A thin ID token (no `email_verified`: Okta's org server keeps it for UserInfo) signs in
/// with what UserInfo says of the same subject, and not with what it says of another.
#[test]
fn what_a_thin_token_lacks_is_read_from_userinfo_of_the_same_subject() {
    ready(async {
        for (sub, signed_in) in [("u-1", true), ("someone-else", false)] {
            let provider = Provider::new(false);
            *provider.claims.lock().unwrap() = json!({"email_verified": null});
            *provider.userinfo.lock().unwrap() = json!({"sub": sub, "email_verified": true});
            let sign_in = sign_in(&provider);
            let (cookie, query) = started(&sign_in).await;
            let answer = sign_in.callback(&query, &cookie, NOW).await;
            assert_eq!(
                matches!(answer, Answer::Redirect { .. }),
                signed_in,
                "{sub}: {answer:?}"
            );
        }
    });
}
