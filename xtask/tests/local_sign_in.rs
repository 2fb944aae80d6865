//! Sign-in against the local environment's OpenID Connect provider (oidc-provider-mock, made to
//! require PKCE: `xtask/local/oidc_provider.py`): a reviewer signs in through the authorization
//! code flow as the review function runs it (`hitl_core::sign_in::login`), and the ID token the
//! provider issues passes the kit's checks (`hitl_core::sign_in::token`) against the keys it
//! publishes, or fails them as it should. Then the same end to end, on the sign-in twin of
//! `HITL_E2E_ENV`'s stack (`local-sign-in`, or `local-sign-in-df` for the durable workflow): a
//! link opens and decides only for its reviewer, signed in through the review API, and every
//! token a provider must never issue signs no one in. `cargo xtask test` runs this with the
//! environment up.

mod support;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
    time::{SystemTime, UNIX_EPOCH},
};

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
    let url = login.authorization_url(&provider.authorize, CLIENT, REDIRECT, "email");
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
    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());
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
    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());
    let (status, answer) = sign_in(&provider, &login, "ben-1", &other.verifier);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant", "{answer}");
}

/// The provider's forgeries are armed for its next token, whoever asks: one sign-in at a time
/// in this binary.
static PROVIDER: Mutex<()> = Mutex::new(());

/// The sign-in twin of the suite's environment, its Teams webhook a fake of this binary's.
fn stack() -> &'static support::Env {
    let name = match std::env::var("HITL_E2E_ENV").as_deref() {
        Ok("local-durable") => "local-sign-in-df",
        _ => "local-sign-in",
    };
    let env = support::env_named("xtask/tests/local/hitl.yaml", name);
    teams(env);
    env
}

type Posts = Arc<Mutex<Vec<String>>>;

static TEAMS: OnceLock<(String, Posts)> = OnceLock::new();

/// The fake Teams webhook, its URL put in the stack's parameter before any approval is asked.
fn teams(env: &support::Env) -> &'static Posts {
    &TEAMS
        .get_or_init(|| {
            let (url, posts) = support::fake_webhook_on("0");
            env.put_secret(&env.parameter("teams-webhook"), &url);
            (url, posts)
        })
        .1
}

/// The fake Teams webhook's URL (a secret).
fn teams_url() -> String {
    TEAMS.get().expect("the stack's Teams webhook").0.clone()
}

/// The Teams card about `title`, once posted.
fn teams_card(env: &support::Env, title: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let posts = teams(env).lock().unwrap().clone();
        if let Some(card) = posts.iter().find(|p| p.contains(title)) {
            return serde_json::from_str(card).unwrap();
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "no Teams card about {title}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A browser: the cookies it was given, sent back by name (a `Max-Age=0` one deleted), and
/// every `Set-Cookie` it saw.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
    seen: Vec<String>,
    /// Every cookie value, code and state it held: none may reach a log.
    secrets: Vec<String>,
}

/// An answer: status, `Location`, body.
type Answer = (u16, Option<String>, String);

impl Browser {
    fn send(&mut self, url: &str, form: Option<&str>) -> Answer {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let cookie = cookie.join("; ");
        let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
        let answer = match form {
            None => http().get(url).header("cookie", &cookie).call(),
            Some(form) => http()
                .post(url)
                .header("cookie", &cookie)
                .header("origin", &origin)
                .header("sec-fetch-site", "same-origin")
                .content_type("application/x-www-form-urlencoded")
                .send(form),
        };
        let mut answer = answer.unwrap();
        for set in answer.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap().to_owned();
            let (pair, _) = set.split_once(';').unwrap_or((&set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            match set.contains("Max-Age=0") {
                true => self.cookies.remove(name),
                false => self.cookies.insert(name.to_owned(), value.to_owned()),
            };
            self.secrets.push(value.to_owned());
            self.seen.push(set);
        }
        let location = answer.headers().get("location");
        let location = location.map(|l| l.to_str().unwrap().to_owned());
        let body = answer.body_mut().read_to_string().unwrap_or_default();
        (answer.status().as_u16(), location, body)
    }

    fn get(&mut self, url: &str) -> Answer {
        self.send(url, None)
    }

    fn post(&mut self, url: &str, form: &str) -> Answer {
        self.send(url, Some(form))
    }

    /// Opens `link` without a session and signs in at the provider as `sub` (who confirms who
    /// he is there): the review API's answer to the provider's redirect back.
    fn sign_in(&mut self, provider: &Provider, link: &str, sub: &str) -> Answer {
        let (status, authorize, _) = self.get(link);
        assert_eq!(status, 302, "a link without a session goes to sign-in");
        let authorize = authorize.unwrap();
        assert!(authorize.starts_with(&provider.authorize), "{authorize}");
        let (status, callback, body) = self.post(&authorize, &format!("sub={sub}"));
        assert_eq!(status, 302, "the provider signed {sub} in: {body}");
        let callback = callback.unwrap();
        let query = callback.split_once('?').map_or("", |(_, q)| q);
        let values = form_urlencoded::parse(query.as_bytes()).map(|(_, v)| v.into_owned());
        self.secrets.extend(values);
        self.get(&callback)
    }

    /// None of the secrets it held is in the local environment's logs (the functions', the
    /// router's, its IAM decisions).
    fn assert_never_logged(&self, env: &support::Env) {
        for log in ["lambda.log", "router.log", "iam.jsonl"] {
            let Some(text) = env.local_log(log) else {
                return;
            };
            for secret in self.secrets.iter().filter(|s| s.len() >= 16) {
                assert!(
                    !text.contains(secret.as_str()),
                    "a cookie, code or state in {log}"
                );
            }
        }
    }

    fn has_session(&self) -> bool {
        self.cookies.contains_key("__Secure-hitl-session")
    }
}

/// `sub` at the provider, with `email`, verified or not.
fn user(provider: &Provider, sub: &str, email: &str, verified: bool) {
    let claims = serde_json::json!({"email": email, "email_verified": verified});
    set_user(provider, sub, claims);
}

/// `path` (`/v1/approvals/…`, as the callback answers) on the review API of `link`.
fn on_api(link: &str, path: &str) -> String {
    let origin = link.split('/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{path}")
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_link_opens_and_decides_for_its_reviewer_signed_in_alone() {
    let env = stack();
    let provider = provider();
    user(&provider, "ana-sub", "ana@example.com", true);
    user(&provider, "ben-sub", "ben@example.com", true);
    let run = env.start("sign-in");
    let link = env.link(&run.title, "ana@example.com");
    let before = env.record(&link);
    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());

    // Without a session: to the provider, the sign-in sealed in a short-lived cookie.
    let mut stranger = Browser::default();
    let (status, location, _) = stranger.get(&link);
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("code_challenge_method=S256"));
    let login = &stranger.seen[0];
    for attribute in [
        "__Secure-hitl-sign-in=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/v1/",
    ] {
        assert!(login.contains(attribute), "{attribute} in {login}");
    }
    assert_eq!(stranger.post(&link, "decision=approve").0, 403);

    // Ben, signed in, on Ana's link: refused, nothing recorded.
    let mut ben = Browser::default();
    let (status, back, body) = ben.sign_in(&provider, &link, "ben-sub");
    assert_eq!(status, 302, "{body}");
    assert_eq!(on_api(&link, &back.unwrap()), link, "back to the link");
    assert!(ben.has_session());
    let (status, _, body) = ben.get(&link);
    assert_eq!(status, 403);
    assert!(body.contains("another reviewer"), "{body}");
    assert_eq!(ben.post(&link, "decision=approve&comment=mine").0, 403);
    assert_eq!(env.record(&link), before, "a refusal changed the record");

    // Ana, signed in: her page, her decision, and who she proved to be in the output.
    let mut ana = Browser::default();
    let (status, _, body) = ana.sign_in(&provider, &link, "ana-sub");
    assert_eq!(status, 302, "{body}");
    let (status, _, body) = ana.get(&link);
    assert_eq!(status, 200);
    assert!(body.contains(&run.title));
    let (status, _, body) = ana.post(&link, "decision=approve&comment=signed");
    assert_eq!(status, 200, "{body}");
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    let verified = serde_json::json!({
        "issuer": provider.issuer, "subject": "ana-sub", "email": "ana@example.com"
    });
    assert_eq!(output["approval"]["verified"], verified, "{output}");
    assert_eq!(output["approval"]["reviewer"], "ana@example.com");
    for browser in [&stranger, &ben, &ana] {
        browser.assert_never_logged(env);
    }
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn tokens_a_provider_must_never_issue_sign_no_one_in() {
    let env = stack();
    let provider = provider();
    user(&provider, "ana-sub", "ana@example.com", true);
    user(&provider, "not-ana", "ana@example.com", false);
    let run = env.start("forged tokens");
    let link = env.link(&run.title, "ana@example.com");
    let before = env.record(&link);
    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());
    let forgeries = [
        ("audience", "the ID token is for another client"),
        ("issuer", "the ID token is from another issuer"),
        ("expired", "the ID token has expired"),
        ("none", "the ID token's algorithm"),
        ("other-key", "the ID token's signature does not verify"),
        ("nonce", "the ID token's nonce is not this sign-in's"),
    ];
    for (kind, why) in forgeries {
        forge(&provider, kind);
        refused(env, &provider, &link, "ana-sub", why);
    }
    refused(
        env,
        &provider,
        &link,
        "not-ana",
        "the ID token's email is not verified",
    );
    assert_eq!(
        env.record(&link),
        before,
        "a refused sign-in changed the record"
    );
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");
    env.stop(&run.arn);
}

/// Arms the provider's forgery `kind` for its next token.
fn forge(provider: &Provider, kind: &str) {
    let armed = http()
        .put(&format!("{}/hitl-test/forge", provider.issuer))
        .content_type("application/json")
        .send(serde_json::json!({ "kind": kind }).to_string())
        .unwrap();
    assert_eq!(armed.status().as_u16(), 204, "{kind}");
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_thin_token_is_completed_from_userinfo() {
    let env = stack();
    let provider = provider();
    user(&provider, "ana-sub", "ana@example.com", true);
    let run = env.start("thin token");
    let link = env.link(&run.title, "ana@example.com");
    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());
    forge(&provider, "thin");
    let mut ana = Browser::default();
    let (status, _, body) = ana.sign_in(&provider, &link, "ana-sub");
    assert_eq!(
        status, 302,
        "signed in with UserInfo's email_verified: {body}"
    );
    assert_eq!(ana.get(&link).0, 200);
    env.stop(&run.arn);
}

/// `sub`'s sign-in on `link` answered with the sign-in page (403), no session, and the review
/// function's log says `why` once more than before.
fn refused(env: &support::Env, provider: &Provider, link: &str, sub: &str, why: &str) {
    let logged = || {
        env.local_log("lambda.log")
            .map(|log| log.matches(why).count())
    };
    let before = logged();
    let mut browser = Browser::default();
    let (status, _, body) = browser.sign_in(provider, link, sub);
    assert_eq!(status, 403, "{why}: {body}");
    assert!(body.contains("could not be verified"), "{body}");
    assert!(!browser.has_session(), "{why}: a session was set");
    assert_eq!(browser.get(link).0, 302, "{why}: the link opened");
    // The log is written as the function goes: give it a moment to reach the file.
    let logged_again = || {
        (0..20).find_map(|_| {
            let after = logged().filter(|after| Some(*after) > before);
            std::thread::sleep(std::time::Duration::from_millis(100));
            after
        })
    };
    if before.is_some() {
        assert!(
            logged_again().is_some(),
            "the review function's log has no new `{why}`"
        );
    }
}

#[test]
#[ignore = "needs the local environment: run through `cargo xtask test`"]
fn a_channel_link_opens_for_each_reviewer_signed_in_and_for_nobody_else() {
    let env = stack();
    let provider = provider();
    user(&provider, "ana-sub", "ana@example.com", true);
    user(&provider, "ben-sub", "ben@example.com", true);
    user(&provider, "carl-sub", "carl@example.com", true);
    let run = env.start("channel link");
    // Each shared channel's message carries a channel link of its own, never a personal one.
    let card = teams_card(env, &run.title);
    let actions = card
        .pointer("/attachments/0/content/actions")
        .expect("actions");
    let teams_link = actions[0]["url"].as_str().expect("an OpenUrl").to_owned();
    let slack = env.slack_posts_about(&run.title, std::time::Duration::from_secs(60));
    let text = slack[0]["text"].as_str().unwrap().to_owned();
    let slack_link = text
        .split('<')
        .nth(1)
        .and_then(|t| t.split('|').next())
        .unwrap();
    for link in [&teams_link, slack_link] {
        assert!(link.contains("/approvals/"), "{link}");
        let item = env.record(link);
        assert_eq!(item["status"], "pending", "the link opens the approval");
    }
    assert_ne!(teams_link, slack_link);
    let personal = env.link(&run.title, "ana@example.com");
    assert!(!text.contains(&personal) && !card.to_string().contains(&personal));

    let _one_at_a_time = PROVIDER.lock().unwrap_or_else(|e| e.into_inner());
    let mut ana = Browser::default();
    assert_eq!(ana.sign_in(&provider, slack_link, "ana-sub").0, 302);
    for link in [slack_link, teams_link.as_str()] {
        let (status, _, body) = ana.get(link);
        assert_eq!(status, 200);
        assert!(body.contains(&run.title));
    }
    let mut carl = Browser::default();
    assert_eq!(carl.sign_in(&provider, &teams_link, "carl-sub").0, 302);
    let (status, _, body) = carl.get(&teams_link);
    assert_eq!(status, 403, "not a reviewer: {body}");
    assert_eq!(carl.post(&teams_link, "decision=approve").0, 403);
    assert_eq!(env.execution(&run.arn)["status"], "RUNNING");

    let mut ben = Browser::default();
    assert_eq!(ben.sign_in(&provider, &teams_link, "ben-sub").0, 302);
    let (status, _, body) = ben.post(&teams_link, "decision=approve&comment=from%20Teams");
    assert_eq!(status, 200, "{body}");
    let done = env.wait_for_end(&run.arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output["approval"]["reviewer"], "ben@example.com",
        "{output}"
    );
    assert_eq!(
        output["approval"]["verified"]["subject"], "ben-sub",
        "{output}"
    );
    if let Some(log) = env.local_log("lambda.log") {
        assert!(
            !log.contains(&teams_url()),
            "the Teams webhook's URL in a log"
        );
    }
}
