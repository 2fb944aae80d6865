//! Sign-in, when the stack has it (the template sets `OIDC_ISSUER`): the provider from the
//! settings, the callback's URL (`OIDC_REDIRECT_URI`, the review API's `/<stage>/sign-in`), and
//! the stack's key for the cookies from the approvals table, read at the first request that
//! needs it: a table that cannot be read then is a page to try again, not a function that
//! fails to start.

use aws_config::SdkConfig;
use hitl_adapters::{
    identity::{OpenIdProvider, SignInSettings},
    table::{DynamoTable, sign_in_key::KEY_BYTES},
};
use hitl_core::id::os_random;
use hitl_protocol::sign_in::SignIn;
use tokio::sync::OnceCell;

/// Sign-in as the environment configures it.
pub struct Gate {
    settings: SignInSettings,
    aws: SdkConfig,
    table: String,
    redirect_uri: String,
    cookie_path: String,
    ready: OnceCell<SignIn<OpenIdProvider>>,
}

impl Gate {
    /// Sign-in from the environment, for the approvals table `table`; `None` when the stack
    /// does not sign its reviewers in. The error names the variable that is wrong.
    pub fn from_env(aws: &SdkConfig, table: &str) -> Result<Option<Self>, String> {
        let var = |name: &str| std::env::var(name).ok();
        let Some(settings) = SignInSettings::from_lookup(var)? else {
            return Ok(None);
        };
        let redirect_uri = var("OIDC_REDIRECT_URI")
            .filter(|uri| hitl_aws::https::is_https_or_local(uri))
            .ok_or("environment variable OIDC_REDIRECT_URI is not an https:// URL")?;
        let cookie_path = cookie_path(&redirect_uri)
            .ok_or("environment variable OIDC_REDIRECT_URI has no path")?;
        Ok(Some(Self {
            settings,
            aws: aws.clone(),
            table: table.to_owned(),
            redirect_uri,
            cookie_path,
            ready: OnceCell::new(),
        }))
    }

    /// The sign-in flow, with the stack's key (read once; a failed read is tried again by the
    /// next request).
    pub async fn ready(&self) -> Result<&SignIn<OpenIdProvider>, String> {
        self.ready
            .get_or_try_init(|| async {
                let mut fresh = [0u8; KEY_BYTES];
                os_random(&mut fresh);
                let table = DynamoTable::on(&self.aws, self.table.clone());
                let key = table.sign_in_key(fresh).await?;
                Ok(SignIn {
                    provider: OpenIdProvider::on(self.settings.clone(), &self.aws),
                    key,
                    claim: self.settings.claim.clone(),
                    redirect_uri: self.redirect_uri.clone(),
                    cookie_path: self.cookie_path.clone(),
                })
            })
            .await
    }
}

/// The path the cookies are sent to: the callback's directory, the review API's stage
/// (`https://…/v1/sign-in` → `/v1/`), so that they go to the links and the callback alone; the
/// whole host's for a callback at its root (a custom domain without a base path).
fn cookie_path(redirect_uri: &str) -> Option<String> {
    let after_scheme = redirect_uri.split_once("://")?.1;
    let path = &after_scheme[after_scheme.find('/')?..];
    Some(path[..=path.rfind('/')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::cookie_path;

    #[test]
    fn the_cookies_go_to_the_stage() {
        assert_eq!(
            cookie_path("https://a1.execute-api.eu-west-1.amazonaws.com/v1/sign-in").as_deref(),
            Some("/v1/")
        );
        assert_eq!(
            cookie_path("http://127.0.0.1:4000/local/sign-in").as_deref(),
            Some("/local/")
        );
        assert_eq!(
            cookie_path("https://example.com/sign-in").as_deref(),
            Some("/")
        );
        assert_eq!(cookie_path("https://example.com"), None);
    }
}
