//! Sign-in's flow in the review function, when the stack signs its reviewers in: a link opened
//! without a session goes to the identity provider (authorization code with PKCE, `state` and
//! `nonce`, sealed in a short-lived cookie); the provider's redirect back is checked against
//! that cookie, the code exchanged, the ID token checked (`hitl_core::sign_in::token`), and a
//! session cookie set before the browser returns to the link. GET changes nothing here either:
//! the only thing written is the browser's cookies.

use hitl_core::{
    page,
    sign_in::{
        login::{
            LOGIN_COOKIE, LOGIN_SECONDS, Login, SESSION_COOKIE, SESSION_SECONDS, Session,
            set_cookie,
        },
        sealed::{cookie, open, seal},
        token::{self, Expected, Refusal},
    },
};

use crate::ports::{IdentityProvider, Tokens};

/// What the review function answers for sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `302` to `location`, setting `cookies` (`Set-Cookie` values).
    Redirect {
        location: String,
        cookies: Vec<String>,
    },
    /// A page (status, HTML) saying why not; nothing was recorded.
    Page(u16, String),
}

/// Sign-in with `provider`, its cookies sealed with the stack's `key`.
pub struct SignIn<P> {
    pub provider: P,
    /// The stack's key for the cookies (generated per stack, never in the template or a log).
    pub key: Vec<u8>,
    /// The claim matched against the reviewers.
    pub claim: String,
    /// The callback's URL, as registered with the provider.
    pub redirect_uri: String,
    /// The review API's path the cookies are sent to (its stage: `/v1/`).
    pub cookie_path: String,
}

impl<P: IdentityProvider> SignIn<P> {
    /// The signed-in reviewer the request's `Cookie` header holds, while the session lasts.
    pub fn session(&self, cookies: &str, now: u64) -> Option<Session> {
        let sealed = cookie(cookies, SESSION_COOKIE)?;
        open::<Session>(&self.key, SESSION_COOKIE, sealed).filter(|s| now < s.expires)
    }

    /// A link (`link`, its path) opened without a session: to the provider, the sign-in's
    /// secrets (from `random`) sealed in its cookie.
    pub async fn start(&self, link: &str, now: u64, random: impl FnMut(&mut [u8])) -> Answer {
        let endpoint = match self.provider.authorization_endpoint().await {
            Ok(endpoint) => endpoint,
            Err(error) => return unreachable(&error),
        };
        let login = Login::new(link, now, random);
        let location = login.authorization_url(
            &endpoint,
            self.provider.client_id(),
            &self.redirect_uri,
            &self.claim,
        );
        let sealed = seal(&self.key, LOGIN_COOKIE, &login);
        Answer::Redirect {
            location,
            cookies: vec![set_cookie(
                LOGIN_COOKIE,
                &sealed,
                &self.cookie_path,
                LOGIN_SECONDS,
            )],
        }
    }

    /// The provider's redirect back, its `query` (`code` and `state`, or `error`), with the
    /// request's `Cookie` header: the session, and back to the link; or a page saying why not.
    pub async fn callback(&self, query: &str, cookies: &str, now: u64) -> Answer {
        let get = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = get("error") {
            tracing::warn!(%error, "the identity provider refused the sign-in");
            return failed(403, "Your identity provider did not sign you in.");
        }
        let login = cookie(cookies, LOGIN_COOKIE)
            .and_then(|sealed| open::<Login>(&self.key, LOGIN_COOKIE, sealed))
            .filter(|login| now < login.expires);
        let (Some(login), Some(code)) = (login, get("code")) else {
            return failed(
                400,
                "This sign-in has expired or was started in another browser.",
            );
        };
        if get("state").as_deref() != Some(login.state.as_str()) {
            tracing::warn!("a sign-in's state is not its cookie's");
            return failed(
                400,
                "This sign-in has expired or was started in another browser.",
            );
        }
        let form = login.token_form(&code, self.provider.client_id(), &self.redirect_uri);
        let tokens = match self.provider.exchange(&form).await {
            Ok(tokens) => tokens,
            Err(error) => return unreachable(&error),
        };
        match self.verify(&tokens, &login.nonce, now).await {
            Ok(session) => Answer::Redirect {
                location: login.link.clone(),
                cookies: vec![
                    set_cookie(
                        SESSION_COOKIE,
                        &seal(&self.key, SESSION_COOKIE, &session),
                        &self.cookie_path,
                        SESSION_SECONDS,
                    ),
                    set_cookie(LOGIN_COOKIE, "", &self.cookie_path, 0),
                ],
            },
            Err(Ok(refusal)) => {
                tracing::warn!(%refusal, "an ID token was refused");
                failed(403, "Your sign-in could not be verified.")
            }
            Err(Err(error)) => unreachable(&error),
        }
    }

    /// The session of verified `tokens`: the provider's keys read again once when the ID
    /// token names a key not seen yet (the provider rotated its keys); the claims it lacks
    /// read from UserInfo with the access token.
    async fn verify(
        &self,
        tokens: &Tokens,
        nonce: &str,
        now: u64,
    ) -> Result<Session, Result<Refusal, String>> {
        let id_token = &tokens.id_token;
        let expected = Expected {
            issuer: self.provider.issuer(),
            client_id: self.provider.client_id(),
            nonce,
            claim: &self.claim,
            now,
        };
        let keys = self.provider.keys(false).await.map_err(Err)?;
        let (keys, identity) = match token::verify(id_token, &keys, &expected) {
            Err(Refusal::UnknownKey) => {
                let keys = self.provider.keys(true).await.map_err(Err)?;
                let identity = token::verify(id_token, &keys, &expected);
                (keys, identity)
            }
            checked => (keys, checked),
        };
        let identity = match (identity, &tokens.access_token) {
            (Err(Refusal::MissingClaim(_)), Some(access_token)) => {
                let info = self.provider.userinfo(access_token).await.map_err(Err)?;
                token::verify_with(id_token, &keys, &expected, Some(&info))
            }
            (checked, _) => checked,
        };
        identity.map(|i| Session::new(i, now)).map_err(Ok)
    }
}

fn failed(status: u16, why: &str) -> Answer {
    let (status, html) = page::sign_in_failed(status, why);
    Answer::Page(status, html)
}

/// The provider could not be reached or answered wrong: logged, and a page to try again.
fn unreachable(error: &str) -> Answer {
    tracing::error!(%error, "sign-in failed at the identity provider");
    failed(502, "Your identity provider could not be reached just now.")
}

#[cfg(test)]
mod tests;
