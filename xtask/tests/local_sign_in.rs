//! Sign-in against the local environment's OpenID Connect provider (oidc-provider-mock, made to
//! require PKCE: `xtask/local/oidc_provider.py`): a reviewer signs in through the authorization
//! code flow as the review function runs it (`hitl_core::sign_in::login`), and the ID token the
//! provider issues passes the kit's checks (`hitl_core::sign_in::token`) against the keys it
//! publishes, or fails them as it should. `cargo xtask test` runs this with the environment up.

use std::time::{SystemTime, UNIX_EPOCH};

use hitl_core::sign_in::{
    JwkSet,
    login::Login,
    token::{self, Expected, Identity, Refusal},
};
use serde_json::Value;

const CLIENT: &str = "hitl-e2e";
const REDIRECT: &str = "http://127.0.0.1:9/v1/sign-in";

fn issuer() -> String {
    let runner = kit_local::runner::recorded_at(&kit_base::local::dir())
        .expect("the local environment: run through `cargo xtask test`");
    runner.oidc_issuer()
}

/// A client that follows no redirect and reads every status.
fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into()
}

fn get_json(url: &str) -> Value {
    let mut answer = http().get(url).call().expect(url);
    serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The provider's endpoints: authorization, token and keys.
struct Provider {
    issuer: String,
    authorize: String,
    token: String,
    jwks: String,
}

fn provider() -> Provider {
    let issuer = issuer();
    let document = get_json(&format!("{issuer}/.well-known/openid-configuration"));
    assert_eq!(document["issuer"], issuer.as_str());
    let url = |name: &str| document[name].as_str().unwrap().to_owned();
    Provider {
        authorize: url("authorization_endpoint"),
        token: url("token_endpoint"),
        jwks: url("jwks_uri"),
        issuer,
    }
}

/// `sub`'s claims at the provider.
fn set_user(provider: &Provider, sub: &str, claims: Value) {
    let answer = http()
        .put(&format!("{}/users/{sub}", provider.issuer))
        .content_type("application/json")
        .send(claims.to_string())
        .unwrap();
    assert_eq!(answer.status().as_u16(), 204);
}

/// Signs `sub` in as the review function would: the authorization (as the browser, the user
/// confirming who he is), then the code for the ID token with `verifier`. The token endpoint's
/// answer.
fn sign_in(provider: &Provider, login: &Login, sub: &str, verifier: &str) -> (u16, Value) {
    let url = login.authorization_url(&provider.authorize, CLIENT, REDIRECT);
    let answer = http()
        .post(&url)
        .content_type("application/x-www-form-urlencoded")
        .send(format!("sub={sub}"))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').unwrap().1;
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(login.state.as_str()));
    let code = param("code").expect("a code");
    let with_verifier = Login {
        verifier: verifier.to_owned(),
        ..login.clone()
    };
    let mut answer = http()
        .post(&provider.token)
        .content_type("application/x-www-form-urlencoded")
        .send(with_verifier.token_form(&code, CLIENT, REDIRECT))
        .unwrap();
    let status = answer.status().as_u16();
    let body = answer.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&body).unwrap_or_default())
}

fn new_login() -> Login {
    Login::new("/v1/approvals/x", now(), |bytes| {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(bytes))
            .unwrap();
    })
}

fn verify(provider: &Provider, id_token: &str, login: &Login) -> Result<Identity, Refusal> {
    let keys: JwkSet = serde_json::from_value(get_json(&provider.jwks)).unwrap();
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: CLIENT,
        nonce: &login.nonce,
        claim: "email",
        now: now(),
    };
    token::verify(id_token, &keys, &expected)
}

/// `sub` (with `email`, verified or not) signed in: the sign-in and the provider's ID token.
fn signed_in(provider: &Provider, sub: &str, email: &str, verified: bool) -> (Login, String) {
    let claims = serde_json::json!({"email": email, "email_verified": verified});
    set_user(provider, sub, claims);
    let login = new_login();
    let (status, answer) = sign_in(provider, &login, sub, &login.verifier);
    assert_eq!(status, 200, "{answer}");
    let id_token = answer["id_token"].as_str().expect("an ID token").to_owned();
    (login, id_token)
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_reviewer_signs_in_and_the_providers_token_passes_the_checks() {
    let provider = provider();
    let (login, id_token) = signed_in(&provider, "ana-1", "ana@example.com", true);
    let id_token = id_token.as_str();
    let identity = verify(&provider, id_token, &login).expect("the token passes");
    assert_eq!(identity.issuer, provider.issuer);
    assert_eq!(identity.subject, "ana-1");
    assert_eq!(identity.name, "ana@example.com");
    // The same token for another sign-in (its nonce) or another client is refused.
    let other = new_login();
    assert_eq!(verify(&provider, id_token, &other), Err(Refusal::Nonce));
    let keys: JwkSet = serde_json::from_value(get_json(&provider.jwks)).unwrap();
    let for_another_client = Expected {
        issuer: &provider.issuer,
        client_id: "another-client",
        nonce: &login.nonce,
        claim: "email",
        now: now(),
    };
    assert_eq!(
        token::verify(id_token, &keys, &for_another_client),
        Err(Refusal::Audience)
    );
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn an_unverified_email_and_a_wrong_verifier_do_not_sign_in() {
    let provider = provider();
    let (login, id_token) = signed_in(&provider, "ben-1", "ben@example.com", false);
    assert_eq!(
        verify(&provider, &id_token, &login),
        Err(Refusal::EmailNotVerified)
    );
    // PKCE: a code is worth nothing without the verifier of its challenge.
    // (Another sign-in's verifier: well formed, RFC 7636 §4.1, but not this code's.)
    let login = new_login();
    let other = new_login();
    let (status, answer) = sign_in(&provider, &login, "ben-1", &other.verifier);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant", "{answer}");
}
