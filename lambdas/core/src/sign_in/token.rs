//! The ID token's checks, as OpenID Connect Core 1.0 §3.1.3.7 lists them for the authorization
//! code flow: the signature against the provider's published keys (asymmetric algorithms only),
//! `iss` exactly the issuer, `aud` the client and nobody else, `azp` the client when present,
//! `exp` not passed, `iat` not in the future, `nonce` the one this sign-in sent; and, when the
//! reviewers are matched by email, `email_verified` true (an unverified address proves nothing).

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use serde_json::Value;

/// A clock's leeway for `exp` and `iat`, in seconds (providers' and Lambda's clocks drift).
pub const LEEWAY: u64 = 60;

/// The asymmetric algorithms accepted; never `none`, never an HMAC (whose key would be the
/// client's secret, or anything an attacker chose).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// The claim matched against the reviewers (`email` by default).
    pub claim: &'a str,
    /// Now, in seconds since the epoch.
    pub now: u64,
}

/// Who signed in: what the record and the workflow's output name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// The value of the configured claim, matched against the reviewers.
    pub name: String,
}

/// Why a token was refused (said in the log, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a JWS with a JSON header and claims.
    Malformed,
    /// `alg` is not one of the asymmetric algorithms.
    Algorithm(String),
    /// No key of the provider's set matches the token's `kid` and `alg`.
    UnknownKey,
    /// The signature does not verify with that key.
    Signature,
    Issuer,
    Audience,
    Expired,
    IssuedInTheFuture,
    Nonce,
    EmailNotVerified,
    /// The configured claim (or `sub`) is missing or not a string.
    MissingClaim(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => write!(f, "the ID token is not a signed JWT"),
            Self::Algorithm(alg) => write!(f, "the ID token's algorithm {alg} is not accepted"),
            Self::UnknownKey => write!(f, "no key of the provider signed the ID token"),
            Self::Signature => write!(f, "the ID token's signature does not verify"),
            Self::Issuer => write!(f, "the ID token is from another issuer"),
            Self::Audience => write!(f, "the ID token is for another client"),
            Self::Expired => write!(f, "the ID token has expired"),
            Self::IssuedInTheFuture => write!(f, "the ID token is issued in the future"),
            Self::Nonce => write!(f, "the ID token's nonce is not this sign-in's"),
            Self::EmailNotVerified => write!(f, "the ID token's email is not verified"),
            Self::MissingClaim(claim) => write!(f, "the ID token has no {claim} claim"),
        }
    }
}

/// Checks `token` against the provider's `keys` and what is `expected`. A token whose claims
/// lack the configured claim or `email_verified` (a provider that puts them at its UserInfo
/// endpoint alone) is refused with [`Refusal::MissingClaim`]: see [`verify_with`].
pub fn verify(token: &str, keys: &JwkSet, expected: &Expected) -> Result<Identity, Refusal> {
    verify_with(token, keys, expected, None)
}

/// [`verify`], the claims the ID token lacks (the configured one, `email`, `email_verified`)
/// taken from the provider's UserInfo answer `userinfo`, which is used only if its `sub` is
/// the token's (OpenID Connect Core §5.3.2).
pub fn verify_with(
    token: &str,
    keys: &JwkSet,
    expected: &Expected,
    userinfo: Option<&Value>,
) -> Result<Identity, Refusal> {
    super::ring_jwt::install();
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::Json(_) if alg_of(token).is_some() => {
            Refusal::Algorithm(alg_of(token).unwrap_or_default())
        }
        _ => Refusal::Malformed,
    })?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Refusal::Algorithm(format!("{:?}", header.alg)));
    }
    let key = key_for(keys, header.kid.as_deref(), header.alg).ok_or(Refusal::UnknownKey)?;
    let key = DecodingKey::from_jwk(key).map_err(|_| Refusal::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    // The times are checked below against the caller's clock; the audience too (the crate
    // accepts a token that names other audiences beside the client).
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Refusal::Signature,
            _ => Refusal::Malformed,
        })?
        .claims;
    check_claims(&completed(claims, userinfo, expected.claim), expected)
}

/// `claims` with what they lack of the claims that name the reviewer, from `userinfo` when it
/// is the same subject's.
fn completed(mut claims: Value, userinfo: Option<&Value>, claim: &str) -> Value {
    let Some(info) = userinfo.filter(|i| i["sub"].is_string() && i["sub"] == claims["sub"]) else {
        return claims;
    };
    for name in [claim, "email", "email_verified"] {
        if claims.get(name).is_none_or(Value::is_null) && info.get(name).is_some() {
            claims[name] = info[name].clone();
        }
    }
    claims
}

/// The `alg` of a token whose header is not one jsonwebtoken reads (`none`, say).
fn alg_of(token: &str) -> Option<String> {
    use data_encoding::BASE64URL_NOPAD;
    let header = BASE64URL_NOPAD
        .decode(token.split('.').next()?.as_bytes())
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header["alg"].as_str().map(str::to_owned)
}

/// The key that signed a token with `kid` and `alg`: the set's key of that id (or its only
/// key, when the token names none), if it is a signing key for that algorithm.
fn key_for<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let usable = |key: &&Jwk| {
        let for_signing = !matches!(
            key.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        );
        let algorithm = key
            .common
            .key_algorithm
            .is_none_or(|a| key_algorithm(a) == Some(alg));
        for_signing && algorithm && fits(key, alg)
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(usable),
        None => match keys.keys.as_slice() {
            [only] => Some(only).filter(usable),
            _ => None,
        },
    }
}

/// Whether `key`'s type (and curve) is one `alg` signs with.
fn fits(key: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters as Key, EllipticCurve as Curve};
    match (&key.algorithm, alg) {
        (Key::RSA(_), _) => alg.family() == jsonwebtoken::AlgorithmFamily::Rsa,
        (Key::EllipticCurve(ec), Algorithm::ES256) => ec.curve == Curve::P256,
        (Key::EllipticCurve(ec), Algorithm::ES384) => ec.curve == Curve::P384,
        (Key::OctetKeyPair(okp), Algorithm::EdDSA) => okp.curve == Curve::Ed25519,
        _ => false,
    }
}

/// The JWS algorithm of a JWK's `alg`.
fn key_algorithm(algorithm: KeyAlgorithm) -> Option<Algorithm> {
    algorithm.to_string().parse().ok()
}

/// §3.1.3.7's claim checks, after the signature.
fn check_claims(claims: &Value, expected: &Expected) -> Result<Identity, Refusal> {
    if claims["iss"].as_str() != Some(expected.issuer) {
        return Err(Refusal::Issuer);
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let azp = claims.get("azp").map(|a| a.as_str());
    if audiences != [expected.client_id] || azp.is_some_and(|a| a != Some(expected.client_id)) {
        return Err(Refusal::Audience);
    }
    let time = |name: &str| claims[name].as_u64();
    match time("exp") {
        Some(exp) if expected.now < exp.saturating_add(LEEWAY) => {}
        _ => return Err(Refusal::Expired),
    }
    match time("iat") {
        Some(iat) if iat <= expected.now.saturating_add(LEEWAY) => {}
        _ => return Err(Refusal::IssuedInTheFuture),
    }
    if claims["nonce"].as_str() != Some(expected.nonce) {
        return Err(Refusal::Nonce);
    }
    let text = |name: &str| {
        claims[name]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Refusal::MissingClaim(name.to_owned()))
    };
    if expected.claim == "email" && claims["email_verified"].is_null() {
        return Err(Refusal::MissingClaim("email_verified".into()));
    }
    if expected.claim == "email" && !is_true(&claims["email_verified"]) {
        return Err(Refusal::EmailNotVerified);
    }
    let verified_email = is_true(&claims["email_verified"]);
    Ok(Identity {
        issuer: expected.issuer.to_owned(),
        subject: text("sub")?,
        email: text("email").ok().filter(|_| verified_email),
        name: text(expected.claim)?,
    })
}

/// `true`, or `"true"` (Cognito user pools have sent the string).
fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}
