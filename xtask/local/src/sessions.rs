//! The functions' credentials, as Lambda gives them: each function runs with a session of its
//! own role (`arn:aws:sts::<account>:assumed-role/<role>/<function>`), which expires. In the
//! local environment each function asks the router for it (the SDK's container credentials
//! provider, `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the function's binary as its token), the
//! router assumes the function's role as Lambda would (its trust policy must let
//! `lambda.amazonaws.com` do so) and remembers the session, so that every later call names the
//! role whose policies decide it, and a credential used after its expiry is refused as AWS
//! refuses it (`ExpiredToken`): a URL presigned with it stops working then, whatever its
//! `X-Amz-Expires`.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hasher},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

/// The path of the credentials endpoint: `/hitl-local/credentials/<stack>`.
pub const PATH: &str = "/hitl-local/credentials/";

/// How long a function's session lasts, unless the runner says otherwise: STS's shortest
/// session (15 minutes), so that the credentials' expiry is met in any long test.
pub const DEFAULT_LIFETIME_SECS: u64 = 900;

/// One role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub role_arn: String,
    /// The function the session is for (Lambda names the session after the function).
    pub name: String,
    /// Unix seconds.
    pub expires: u64,
}

impl Session {
    /// The session's principal: `arn:aws:sts::<account>:assumed-role/<role name>/<session>`.
    pub fn principal(&self) -> String {
        let (account, role) = role_parts(&self.role_arn);
        format!("arn:aws:sts::{account}:assumed-role/{role}/{}", self.name)
    }

    pub fn expired(&self, now: u64) -> bool {
        now >= self.expires
    }
}

/// The account and the role's name (without its path) of a role ARN.
fn role_parts(role_arn: &str) -> (&str, &str) {
    let account = role_arn.split(':').nth(4).unwrap_or("");
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    (account, name)
}

/// The sessions handed out, by access key id.
pub struct Sessions {
    by_key: Mutex<HashMap<String, Session>>,
    lifetime_secs: u64,
}

impl Sessions {
    pub fn new(lifetime_secs: u64) -> Self {
        Self {
            by_key: Mutex::new(HashMap::new()),
            lifetime_secs: lifetime_secs.max(1),
        }
    }

    /// A new session of `role_arn` for `function`: the container credentials provider's
    /// answer (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
    pub fn mint(&self, role_arn: &str, function: &str, now: u64) -> Value {
        let access_key = format!("ASIA{}", random_text(16));
        let session = Session {
            role_arn: role_arn.to_owned(),
            name: function.to_owned(),
            expires: now + self.lifetime_secs,
        };
        let expiration = rfc3339(session.expires);
        self.lock().insert(access_key.clone(), session);
        json!({
            "AccessKeyId": access_key,
            "SecretAccessKey": random_text(40),
            "Token": random_text(64),
            "Expiration": expiration,
            "RoleArn": role_arn,
        })
    }

    /// The session of an access key the router handed out.
    pub fn find(&self, access_key: &str) -> Option<Session> {
        self.lock().get(access_key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_key.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `n` random characters of `[A-Z0-9]` (from the standard library's randomly keyed hasher:
/// enough for names nobody guesses on this machine).
fn random_text(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut bits = std::hash::RandomState::new().build_hasher().finish();
        for _ in 0..12 {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[(bits & 31) as usize] as char);
            bits >>= 5;
        }
    }
    out
}

/// `2025-03-01T09:30:00Z`.
fn rfc3339(secs: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_names_its_role_and_function_and_expires() {
        let sessions = Sessions::new(60);
        let role = "arn:aws:iam::123456789012:role/service/e2e-local-ReviewFunctionRole-AB12";
        let issued = sessions.mint(role, "e2e-local-review", 1_740_821_400);
        let key = issued["AccessKeyId"].as_str().unwrap();
        assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
        assert_eq!(issued["Expiration"], "2025-03-01T09:31:00Z");
        assert_eq!(issued["SecretAccessKey"].as_str().unwrap().len(), 40);
        let session = sessions.find(key).expect("remembered");
        assert_eq!(
            session.principal(),
            "arn:aws:sts::123456789012:assumed-role/e2e-local-ReviewFunctionRole-AB12/e2e-local-review"
        );
        assert!(!session.expired(1_740_821_459));
        assert!(session.expired(1_740_821_460));
        let other = sessions.mint(role, "e2e-local-review", 1_740_821_400);
        assert_ne!(other["AccessKeyId"], issued["AccessKeyId"]);
        assert!(sessions.find("ASIAUNKNOWN").is_none());
    }
}
