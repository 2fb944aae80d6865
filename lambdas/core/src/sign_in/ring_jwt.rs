//! jsonwebtoken's signature checks on ring, the crypto library every package already carries
//! for TLS (jsonwebtoken's own backends are aws-lc, a second crypto stack, or RustCrypto's RSA
//! and elliptic curves, a quarter of a megabyte more per package). Verification only: the kit
//! never signs a JWT.

use jsonwebtoken::{
    Algorithm, DecodingKey, DecodingKeyKind,
    crypto::{CryptoProvider, JwtVerifier, KeyUtils},
    errors::{Error, ErrorKind},
    signature,
};
use ring::signature::{self as ring_sig, RsaPublicKeyComponents, UnparsedPublicKey};

/// The provider: installed once per process by [`install`].
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(unsupported()),
    verifier_factory: new_verifier,
    // What only making a JWK from a private key or a thumbprint needs: refused, never a panic.
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        ed_pub_components_from_private_key: |_, _| Err(unsupported()),
        compute_digest: |_, _| Err(unsupported()),
    },
};

fn unsupported() -> Error {
    ErrorKind::UnsupportedAlgorithm.into()
}

/// Makes ring jsonwebtoken's provider for this process (a no-op after the first call).
pub fn install() {
    let _ = PROVIDER.install_default();
}

/// The ring algorithm of an asymmetric JWS algorithm; `None` for HMAC (never accepted: the
/// provider's secret would be the key).
fn ring_algorithm(algorithm: Algorithm) -> Option<Ring> {
    use Algorithm::*;
    Some(match algorithm {
        RS256 => Ring::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
        RS384 => Ring::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA384),
        RS512 => Ring::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA512),
        PS256 => Ring::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA256),
        PS384 => Ring::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA384),
        PS512 => Ring::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA512),
        ES256 => Ring::Other(&ring_sig::ECDSA_P256_SHA256_FIXED),
        ES384 => Ring::Other(&ring_sig::ECDSA_P384_SHA384_FIXED),
        EdDSA => Ring::Other(&ring_sig::ED25519),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum Ring {
    Rsa(&'static ring_sig::RsaParameters),
    Other(&'static dyn ring_sig::VerificationAlgorithm),
}

struct Verifier {
    algorithm: Algorithm,
    ring: Ring,
    key: DecodingKey,
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let ring = ring_algorithm(*algorithm).ok_or(ErrorKind::InvalidAlgorithm)?;
    if !key.family().algorithms().contains(algorithm) {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(Verifier {
        algorithm: *algorithm,
        ring,
        key: key.clone(),
    }))
}

impl signature::Verifier<Vec<u8>> for Verifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let verified = match (self.ring, self.key.kind()) {
            (Ring::Rsa(params), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            (Ring::Rsa(params), DecodingKeyKind::SecretOrDer(der)) => {
                UnparsedPublicKey::new(params, der).verify(message, signature)
            }
            (Ring::Other(algorithm), DecodingKeyKind::SecretOrDer(bytes)) => {
                UnparsedPublicKey::new(algorithm, bytes).verify(message, signature)
            }
            (Ring::Other(_), DecodingKeyKind::RsaModulusExponent { .. }) => {
                return Err(signature::Error::new());
            }
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Verifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}
