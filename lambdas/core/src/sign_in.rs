//! Sign-in with the company's identity provider (OpenID Connect, authorization code flow with
//! PKCE): the sign-in in progress and the session, sealed in cookies with the stack's key, and
//! the ID token's checks on jsonwebtoken with ring. Pure: the provider's documents and keys are
//! fetched by the caller.

pub use jsonwebtoken::jwk::JwkSet;

pub mod login;
mod ring_jwt;
pub mod sealed;
pub mod token;

#[cfg(test)]
mod token_tests;
