//! The ID token checks, one refusal each, with tokens signed here by ring (an RSA key kept for
//! the tests, an elliptic curve key made per run).

use data_encoding::{BASE64, BASE64URL_NOPAD};
use jsonwebtoken::jwk::JwkSet;
use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair},
};
use serde_json::{Value, json};

use super::token::{Expected, Identity, LEEWAY, Refusal, verify, verify_with};

const ISSUER: &str = "https://login.example.com/";
const CLIENT: &str = "hitl-reviews";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: u64 = 1_800_000_000;

fn rsa() -> RsaKeyPair {
    let text: String = include_str!("test_rsa_key.b64")
        .split_whitespace()
        .collect();
    RsaKeyPair::from_der(&BASE64.decode(text.as_bytes()).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// The RSA key as a JWK with `kid` and `extra` members.
fn rsa_jwk(key: &RsaKeyPair, kid: &str, extra: Value) -> Value {
    let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
    let mut jwk = json!({"kty": "RSA", "kid": kid, "n": b64(&public.n), "e": b64(&public.e)});
    jwk.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    jwk
}

fn keys(jwks: Vec<Value>) -> JwkSet {
    serde_json::from_value(json!({ "keys": jwks })).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "nonce": NONCE,
        "iat": NOW - 5, "exp": NOW + 300, "email": "ana@example.com", "email_verified": true,
    })
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn rs256(key: &RsaKeyPair, kid: &str, claims: &Value) -> String {
    let input = unsigned(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}), claims);
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", b64(&signature))
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: NONCE,
        claim: "email",
        now: NOW,
    }
}

/// `claims` changed by `change`, signed with the test key as `k1`, checked against it.
fn check(change: impl FnOnce(&mut Value)) -> Result<Identity, Refusal> {
    let key = rsa();
    let mut claims = claims();
    change(&mut claims);
    let token = rs256(&key, "k1", &claims);
    verify(
        &token,
        &keys(vec![rsa_jwk(&key, "k1", json!({}))]),
        &expected(),
    )
}

#[test]
fn a_good_token_names_who_signed_in() {
    assert_eq!(
        check(|_| {}),
        Ok(Identity {
            issuer: ISSUER.into(),
            subject: "248289761001".into(),
            email: Some("ana@example.com".into()),
            name: "ana@example.com".into(),
        })
    );
}

#[test]
fn a_token_for_another_client_is_refused() {
    assert_eq!(check(|c| c["aud"] = json!("other")), Err(Refusal::Audience));
    assert_eq!(
        check(|c| c["aud"] = json!([CLIENT, "other"])),
        Err(Refusal::Audience)
    );
    assert_eq!(check(|c| c["azp"] = json!("other")), Err(Refusal::Audience));
    assert!(check(|c| c["aud"] = json!([CLIENT])).is_ok());
    assert!(check(|c| c["azp"] = json!(CLIENT)).is_ok());
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    assert_eq!(
        check(|c| c["iss"] = json!("https://evil.example.com/")),
        Err(Refusal::Issuer)
    );
    // Exactly the issuer: not a prefix, not without its slash.
    assert_eq!(
        check(|c| c["iss"] = json!("https://login.example.com")),
        Err(Refusal::Issuer)
    );
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    assert_eq!(
        check(|c| c["exp"] = json!(NOW - LEEWAY)),
        Err(Refusal::Expired)
    );
    assert!(check(|c| c["exp"] = json!(NOW - LEEWAY + 1)).is_ok());
    assert_eq!(check(|c| c["exp"] = json!(null)), Err(Refusal::Expired));
    assert_eq!(
        check(|c| c["iat"] = json!(NOW + LEEWAY + 1)),
        Err(Refusal::IssuedInTheFuture)
    );
}

#[test]
fn a_token_of_another_sign_in_is_refused() {
    assert_eq!(check(|c| c["nonce"] = json!("other")), Err(Refusal::Nonce));
    assert_eq!(check(|c| c["nonce"] = json!(null)), Err(Refusal::Nonce));
}

#[test]
fn an_unverified_email_proves_nothing() {
    assert_eq!(
        check(|c| c["email_verified"] = json!(false)),
        Err(Refusal::EmailNotVerified)
    );
    assert_eq!(
        check(|c| c["email_verified"] = json!(null)),
        Err(Refusal::MissingClaim("email_verified".into()))
    );
    assert!(check(|c| c["email_verified"] = json!("true")).is_ok());
    // Matched by another claim, the token stands; its unverified email is left out.
    let key = rsa();
    let mut claims = claims();
    claims["email_verified"] = json!(false);
    claims["upn"] = json!("ana@corp.example");
    let token = rs256(&key, "k1", &claims);
    let expected = Expected {
        claim: "upn",
        ..expected()
    };
    let identity = verify(
        &token,
        &keys(vec![rsa_jwk(&key, "k1", json!({}))]),
        &expected,
    );
    let identity = identity.unwrap();
    assert_eq!(
        (identity.name.as_str(), identity.email),
        ("ana@corp.example", None)
    );
}

#[test]
fn unsigned_and_symmetric_tokens_are_refused() {
    let key = rsa();
    let jwks = keys(vec![rsa_jwk(&key, "k1", json!({}))]);
    let none = format!("{}.", unsigned(&json!({"alg": "none"}), &claims()));
    assert_eq!(
        verify(&none, &jwks, &expected()),
        Err(Refusal::Algorithm("none".into()))
    );
    // HS256 keyed with the RSA key's public modulus: the classic key-confusion attack.
    let hs = unsigned(&json!({"alg": "HS256", "kid": "k1"}), &claims());
    let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public.n),
        hs.as_bytes(),
    );
    let hs = format!("{hs}.{}", b64(tag.as_ref()));
    assert_eq!(
        verify(&hs, &jwks, &expected()),
        Err(Refusal::Algorithm("HS256".into()))
    );
    assert_eq!(verify("abc", &jwks, &expected()), Err(Refusal::Malformed));
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let key = rsa();
    let token = rs256(&key, "k1", &claims());
    // The provider's key `k1` is an elliptic curve key: not the one that signed.
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = &ec.public_key().as_ref()[1..];
    let ec_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": b64(&point[..32]), "y": b64(&point[32..])});
    assert_eq!(
        verify(&token, &keys(vec![ec_jwk.clone()]), &expected()),
        Err(Refusal::UnknownKey)
    );
    // The same claims changed after signing.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut changed = claims();
    changed["email"] = json!("mallory@example.com");
    parts[1] = b64(changed.to_string().as_bytes());
    let jwks = keys(vec![rsa_jwk(&key, "k1", json!({}))]);
    assert_eq!(
        verify(&parts.join("."), &jwks, &expected()),
        Err(Refusal::Signature)
    );
    // And an ES256 token the EC key did sign verifies.
    let input = unsigned(&json!({"alg": "ES256", "kid": "k1"}), &claims());
    let signature = ec.sign(&rng, input.as_bytes()).unwrap();
    let token = format!("{input}.{}", b64(signature.as_ref()));
    assert!(verify(&token, &keys(vec![ec_jwk]), &expected()).is_ok());
}

#[test]
fn the_key_must_be_the_tokens_and_for_signing() {
    let key = rsa();
    let token = rs256(&key, "k1", &claims());
    for (jwk, why) in [
        (rsa_jwk(&key, "k2", json!({})), "another kid"),
        (
            rsa_jwk(&key, "k1", json!({"use": "enc"})),
            "an encryption key",
        ),
        (
            rsa_jwk(&key, "k1", json!({"alg": "RS384"})),
            "another algorithm",
        ),
    ] {
        assert_eq!(
            verify(&token, &keys(vec![jwk]), &expected()),
            Err(Refusal::UnknownKey),
            "{why}"
        );
    }
    let with_alg = rsa_jwk(&key, "k1", json!({"use": "sig", "alg": "RS256"}));
    assert!(verify(&token, &keys(vec![with_alg]), &expected()).is_ok());
}

/// A thin ID token (no `email_verified`, say: Okta's org server puts it at UserInfo alone) is
/// completed from the UserInfo answer of the same subject, and of no other; UserInfo never
/// overrides what the token says.
#[test]
fn what_the_token_lacks_comes_from_userinfo_of_the_same_subject() {
    let key = rsa();
    let set = keys(vec![rsa_jwk(&key, "k1", json!({}))]);
    let mut thin = claims();
    thin.as_object_mut().unwrap().remove("email_verified");
    let token = rs256(&key, "k1", &thin);
    let info = json!({"sub": "248289761001", "email": "ana@example.com", "email_verified": true});
    let identity = verify_with(&token, &set, &expected(), Some(&info)).expect("completed");
    assert_eq!(identity.email.as_deref(), Some("ana@example.com"));
    let someone_else = json!({"sub": "other", "email_verified": true});
    assert_eq!(
        verify_with(&token, &set, &expected(), Some(&someone_else)),
        Err(Refusal::MissingClaim("email_verified".into()))
    );
    let mut unverified = claims();
    unverified["email_verified"] = json!(false);
    let token = rs256(&key, "k1", &unverified);
    assert_eq!(
        verify_with(&token, &set, &expected(), Some(&info)),
        Err(Refusal::EmailNotVerified),
        "the token's own false stands"
    );
}
