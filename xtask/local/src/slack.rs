//! A stand-in for Slack on this machine, served by the router under [`PATH`]: Slack has no
//! emulator, so this is its public contract as the kit uses it (docs.slack.dev), held to it. A
//! workspace of its own for each stack (`{PATH}{stack}/…`, the functions' `SLACK_API_URL`), so
//! that the suites of several stacks run side by side; in each:
//!
//! - the Web API at `{PATH}{stack}/api/{method}`: `chat.postMessage`, `chat.update`,
//!   `chat.postEphemeral`, `views.open` (JSON bodies) and `users.info` (a query), each refused
//!   as Slack refuses it (`ok: false` with Slack's error code) without the workspace's bot token,
//!   in a channel the bot is not in, for an unknown message, user or trigger, or a trigger older
//!   than Slack's 3 seconds; Block Kit's limits checked ([`crate::block_kit`]); and HTTP 429 with
//!   `Retry-After` for the calls a test rate-limits;
//! - what Slack does for a user: `{PATH}{stack}/click` presses a button of a message as it
//!   stands, and `{PATH}{stack}/submit` submits an opened modal, each delivered to the app's request URL signed with
//!   its signing secret, as Slack signs (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`);
//! - `{PATH}{stack}/workspace`: `PUT` sets it up (bot token, signing secret, channel, users and
//!   their emails, the request URL), `GET` shows what happened in it, `POST` rate-limits methods.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::reply::{Reply, header};

/// Where the router serves it.
pub const PATH: &str = "/_slack/";

/// Slack's `trigger_id`s expire after 3 seconds.
const TRIGGER_LIFETIME: Duration = Duration::from_secs(3);

/// How a test sets the workspace up.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Setup {
    pub bot_token: String,
    pub signing_secret: String,
    pub channel: String,
    /// User id → profile email.
    pub users: BTreeMap<String, String>,
    /// The app's interactivity request URL.
    pub request_url: String,
}

/// The workspace as it stands.
#[derive(Default)]
pub struct Workspace {
    setup: Setup,
    /// ts → (channel, the message as posted or last updated).
    messages: BTreeMap<String, (String, Value)>,
    /// (parent ts, reply) in order.
    threads: Vec<(String, Value)>,
    /// (user, text) in order.
    ephemeral: Vec<(String, String)>,
    /// view id → the modal, as opened, with who opened it.
    views: BTreeMap<String, (String, Value)>,
    /// trigger id → (user, when issued).
    triggers: BTreeMap<String, (String, Instant)>,
    /// (method, text its call must hold, how many of its next such calls answer 429).
    limited: Vec<(String, String, u32)>,
    /// ts → the message as first posted (what a user may still see and click).
    posted: BTreeMap<String, Value>,
    /// Every Web API call: (method, Slack's error code, if it refused it).
    calls: Vec<(String, Option<String>)>,
    counter: u64,
}

/// The router's Slack: a workspace per stack, by name.
#[derive(Default)]
pub struct Slack(Mutex<BTreeMap<String, std::sync::Arc<Space>>>);

/// One workspace.
#[derive(Default)]
pub struct Space(Mutex<Workspace>);

/// Slack's answer to a Web API call.
fn answer(value: Value) -> Reply {
    let headers = vec![header("content-type", "application/json; charset=utf-8")];
    (200, headers, value.to_string().into_bytes())
}

fn refused(error: &str) -> Reply {
    answer(json!({ "ok": false, "error": error }))
}

impl Slack {
    /// The workspace a request under [`PATH`] is for (`rest`, what follows it, is
    /// `<workspace>/<what>`), and its `<what>`; or the answer to a request of none.
    pub fn space<'a>(&self, rest: &'a str) -> Result<(std::sync::Arc<Space>, &'a str), Reply> {
        let Some((name, rest)) = rest.split_once('/').filter(|(name, _)| !name.is_empty()) else {
            return Err((
                404,
                Vec::new(),
                b"no such workspace: /_slack/<stack>/...".to_vec(),
            ));
        };
        let mut spaces = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok((spaces.entry(name.to_owned()).or_default().clone(), rest))
    }
}

impl Space {
    /// A request of this workspace's: `rest` is what follows its name.
    pub fn serve(
        &self,
        rest: &str,
        method: &str,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
        agent: &ureq::Agent,
    ) -> Reply {
        match (method, rest) {
            ("PUT", "workspace") => self.set_up(body),
            ("GET", "workspace") => self.show(),
            ("POST", "workspace") => self.limit(body),
            ("POST", "click") => self.click(body, agent),
            ("POST", "submit") => self.submit(body, agent),
            (_, api) if api.starts_with("api/") => {
                let name = &api["api/".len()..];
                let token = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                    .and_then(|(_, v)| v.strip_prefix("Bearer "));
                self.web_api(name, token, query, body)
            }
            _ => (
                404,
                Vec::new(),
                b"no such part of the Slack stand-in".to_vec(),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Workspace> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_up(&self, body: &[u8]) -> Reply {
        match serde_json::from_slice::<Setup>(body) {
            Ok(setup) => {
                *self.lock() = Workspace {
                    setup,
                    ..Workspace::default()
                };
                (204, Vec::new(), Vec::new())
            }
            Err(e) => (
                400,
                Vec::new(),
                format!("not a workspace: {e}").into_bytes(),
            ),
        }
    }

    fn show(&self) -> Reply {
        let w = self.lock();
        let messages: Vec<Value> = w
            .messages
            .iter()
            .map(|(ts, (channel, m))| json!({ "ts": ts, "channel": channel, "message": m }))
            .collect();
        let threads: Vec<Value> = w
            .threads
            .iter()
            .map(|(ts, m)| json!({ "thread_ts": ts, "message": m }))
            .collect();
        let ephemeral: Vec<Value> = w
            .ephemeral
            .iter()
            .map(|(u, t)| json!({ "user": u, "text": t }))
            .collect();
        let views: Vec<Value> = w
            .views
            .iter()
            .map(|(id, (user, v))| json!({ "id": id, "user": user, "view": v }))
            .collect();
        let calls: Vec<Value> = w
            .calls
            .iter()
            .map(|(m, e)| json!({ "method": m, "error": e }))
            .collect();
        answer(
            json!({ "messages": messages, "threads": threads, "ephemeral": ephemeral,
                       "views": views, "calls": calls }),
        )
    }

    /// `{"method": "chat.update", "times": 2, "matching": "1.000200"}`: its next two calls
    /// whose body or query holds `matching` (any, without it) answer 429.
    fn limit(&self, body: &[u8]) -> Reply {
        let asked: Value = serde_json::from_slice(body).unwrap_or_default();
        let matching = asked["matching"].as_str().unwrap_or_default().to_owned();
        match (asked["method"].as_str(), asked["times"].as_u64()) {
            (Some(method), Some(times)) => {
                let limit = (method.to_owned(), matching, times as u32);
                self.lock().limited.push(limit);
                (204, Vec::new(), Vec::new())
            }
            _ => (400, Vec::new(), b"{\"method\": ..., \"times\": n}".to_vec()),
        }
    }

    /// One Web API call, recorded with how it went.
    fn web_api(&self, method: &str, token: Option<&str>, query: &str, body: &[u8]) -> Reply {
        let mut w = self.lock();
        let text = format!("{query} {}", String::from_utf8_lossy(body));
        let limit = w.limited.iter_mut().find(|(m, matching, left)| {
            m == method && *left > 0 && text.contains(matching.as_str())
        });
        if let Some((_, _, left)) = limit {
            *left -= 1;
            w.calls
                .push((method.to_owned(), Some("ratelimited".into())));
            let headers = vec![header("retry-after", "30")];
            return (
                429,
                headers,
                br#"{"ok":false,"error":"ratelimited"}"#.to_vec(),
            );
        }
        let outcome = match token {
            None => Err("not_authed".to_owned()),
            Some(t) if t != w.setup.bot_token || t.is_empty() => Err("invalid_auth".to_owned()),
            Some(_) => w.call(method, query, body),
        };
        w.calls
            .push((method.to_owned(), outcome.as_ref().err().cloned()));
        match outcome {
            Ok(value) => answer(value),
            Err(error) => refused(&error),
        }
    }

    /// Presses the button `action_id` of the message `ts` as `user`, as Slack would deliver it:
    /// of the message as it stands, or with `as_posted` as it was first posted.
    fn click(&self, body: &[u8], agent: &ureq::Agent) -> Reply {
        let asked: Value = serde_json::from_slice(body).unwrap_or_default();
        let (Some(user), Some(ts), Some(action)) = (
            asked["user"].as_str(),
            asked["ts"].as_str(),
            asked["action_id"].as_str(),
        ) else {
            return (
                400,
                Vec::new(),
                b"{\"user\", \"ts\", \"action_id\"}".to_vec(),
            );
        };
        let (payload, setup) = {
            let mut w = self.lock();
            let Some((channel, mut message)) = w.messages.get(ts).cloned() else {
                return (404, Vec::new(), b"no such message".to_vec());
            };
            // A user may still see the message as first posted (an update late, or refused).
            if let Some(posted) = w.posted.get(ts).filter(|_| asked["as_posted"] == true) {
                message = posted.clone();
            }
            let Some(button) = button(&message, action) else {
                return (
                    409,
                    Vec::new(),
                    b"the message has no such button now".to_vec(),
                );
            };
            let trigger = w.next("trigger");
            w.triggers
                .insert(trigger.clone(), (user.to_owned(), Instant::now()));
            let payload = json!({
                "type": "block_actions", "user": { "id": user, "username": user },
                "api_app_id": "A0STANDIN", "token": "deprecated-verification-token",
                "container": { "type": "message", "message_ts": ts, "channel_id": channel },
                "trigger_id": trigger, "channel": { "id": channel },
                "message": message, "response_url": "https://hooks.slack.com/actions/standin",
                "actions": [{ "action_id": action, "block_id": button.0, "value": button.1,
                              "type": "button", "action_ts": now_ts() }]
            });
            (payload, w.setup.clone())
        };
        deliver(agent, &setup, &payload)
    }

    /// Submits the opened modal `view_id` as its user, its input `block_id`/`action_id` set to
    /// `value` (`{"view_id", "values": {"block": {"action": "text"}}}`).
    fn submit(&self, body: &[u8], agent: &ureq::Agent) -> Reply {
        let asked: Value = serde_json::from_slice(body).unwrap_or_default();
        let (payload, setup) = {
            let w = self.lock();
            let Some((user, view)) = asked["view_id"].as_str().and_then(|id| w.views.get(id))
            else {
                return (404, Vec::new(), b"no such view".to_vec());
            };
            let mut values = serde_json::Map::new();
            for (block, actions) in asked["values"].as_object().into_iter().flatten() {
                let mut inputs = serde_json::Map::new();
                for (action, text) in actions.as_object().into_iter().flatten() {
                    inputs.insert(
                        action.clone(),
                        json!({ "type": "plain_text_input", "value": text }),
                    );
                }
                values.insert(block.clone(), Value::Object(inputs));
            }
            let mut view = view.clone();
            view["id"] = asked["view_id"].clone();
            view["state"] = json!({ "values": values });
            let payload = json!({ "type": "view_submission", "team": { "id": "T0STANDIN" },
                                  "user": { "id": user }, "view": view, "api_app_id": "A0STANDIN" });
            (payload, w.setup.clone())
        };
        deliver(agent, &setup, &payload)
    }
}

impl Workspace {
    fn next(&mut self, what: &str) -> String {
        self.counter += 1;
        format!("{what}-{}", self.counter)
    }

    fn call(&mut self, method: &str, query: &str, body: &[u8]) -> Result<Value, String> {
        if method == "users.info" {
            let user = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "user")
                .map(|(_, v)| v.into_owned());
            return self.user(user.as_deref());
        }
        let body: Value = serde_json::from_slice(body).map_err(|_| "invalid_json".to_owned())?;
        if !body.is_object() {
            return Err("json_not_object".into());
        }
        match method {
            "chat.postMessage" => self.post(&body),
            "chat.update" => self.update(&body),
            "chat.postEphemeral" => self.ephemeral(&body),
            "views.open" => self.open(&body),
            _ => Err("unknown_method".into()),
        }
    }

    fn user(&self, user: Option<&str>) -> Result<Value, String> {
        let user = user.ok_or("invalid_arguments")?;
        let email = self.setup.users.get(user).ok_or("user_not_found")?;
        Ok(
            json!({ "ok": true, "user": { "id": user, "name": user, "deleted": false,
                   "is_bot": false, "profile": { "email": email } } }),
        )
    }

    fn channel_of(&self, body: &Value) -> Result<String, String> {
        match body["channel"].as_str() {
            None => Err("channel_not_found".into()),
            Some(c) if c != self.setup.channel => Err("not_in_channel".into()),
            Some(c) => Ok(c.to_owned()),
        }
    }

    fn post(&mut self, body: &Value) -> Result<Value, String> {
        let channel = self.channel_of(body)?;
        crate::block_kit::check_message(body)?;
        let ts = format!("{}.{:06}", now_secs(), self.counter + 1);
        self.counter += 1;
        match body["thread_ts"].as_str() {
            Some(parent) if self.messages.contains_key(parent) => {
                self.threads.push((parent.to_owned(), body.clone()));
            }
            Some(_) => return Err("thread_not_found".into()),
            None => {
                self.messages
                    .insert(ts.clone(), (channel.clone(), body.clone()));
                self.posted.insert(ts.clone(), body.clone());
            }
        }
        Ok(json!({ "ok": true, "channel": channel, "ts": ts, "message": body }))
    }

    fn update(&mut self, body: &Value) -> Result<Value, String> {
        let channel = self.channel_of(body)?;
        crate::block_kit::check_message(body)?;
        let ts = body["ts"].as_str().ok_or("message_not_found")?;
        let message = self.messages.get_mut(ts).ok_or("message_not_found")?;
        *message = (channel.clone(), body.clone());
        Ok(json!({ "ok": true, "channel": channel, "ts": ts, "text": body["text"] }))
    }

    fn ephemeral(&mut self, body: &Value) -> Result<Value, String> {
        self.channel_of(body)?;
        let user = body["user"].as_str().ok_or("user_not_in_channel")?;
        if !self.setup.users.contains_key(user) {
            return Err("user_not_in_channel".into());
        }
        let text = body["text"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("no_text")?;
        self.ephemeral.push((user.to_owned(), text.to_owned()));
        Ok(json!({ "ok": true, "message_ts": format!("{}.000000", now_secs()) }))
    }

    fn open(&mut self, body: &Value) -> Result<Value, String> {
        let trigger = body["trigger_id"].as_str().ok_or("invalid_arguments")?;
        let (user, issued) = self
            .triggers
            .get(trigger)
            .cloned()
            .ok_or("invalid_trigger_id")?;
        if issued.elapsed() > TRIGGER_LIFETIME {
            return Err("expired_trigger_id".into());
        }
        crate::block_kit::check_modal(&body["view"])?;
        let id = self.next("V");
        self.views.insert(id.clone(), (user, body["view"].clone()));
        let mut view = body["view"].clone();
        view["id"] = json!(id);
        Ok(json!({ "ok": true, "view": view }))
    }
}

/// The block id and value of the button `action_id` in `message`'s actions blocks.
fn button(message: &Value, action_id: &str) -> Option<(Value, Value)> {
    let blocks = message["blocks"].as_array()?;
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .find_map(|block| {
            let elements = block["elements"].as_array()?;
            let button = elements.iter().find(|e| e["action_id"] == action_id)?;
            Some((block["block_id"].clone(), button["value"].clone()))
        })
}

/// Posts `payload` to the app's request URL as Slack does: form-encoded, signed now with the
/// signing secret. The app's answer is passed on.
fn deliver(agent: &ureq::Agent, setup: &Setup, payload: &Value) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let timestamp = now_secs().to_string();
    let signature = sign(setup.signing_secret.as_bytes(), &timestamp, body.as_bytes());
    let sent = agent
        .post(&setup.request_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &timestamp)
        .header("x-slack-signature", &signature)
        .send(body.as_bytes());
    match sent {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_vec().unwrap_or_default();
            (
                status,
                vec![header("content-type", "application/json")],
                text,
            )
        }
        Err(e) => (
            502,
            Vec::new(),
            format!("cannot reach the app: {e}").into_bytes(),
        ),
    }
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`
/// (docs.slack.dev/authentication/verifying-requests-from-slack).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_ts() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of "Verifying requests from Slack".
    #[test]
    fn signs_as_slack_documents() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign(
                b"8f742231b10e8888abcd99yyyzzz85a5",
                "1531420618",
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    fn workspace() -> Space {
        let slack = Space::default();
        let setup = json!({ "bot_token": "xoxb-1", "signing_secret": "s", "channel": "C1",
                            "users": { "U1": "ana@example.com" }, "request_url": "http://127.0.0.1:9/" });
        assert_eq!(slack.set_up(setup.to_string().as_bytes()).0, 204);
        slack
    }

    fn call(slack: &Space, method: &str, token: Option<&str>, body: Value) -> Value {
        let (status, _, text) = slack.web_api(method, token, "", body.to_string().as_bytes());
        assert_eq!(status, 200);
        serde_json::from_slice(&text).unwrap()
    }

    #[test]
    fn each_stack_has_a_workspace_of_its_own() {
        let slack = Slack::default();
        let agent: ureq::Agent = ureq::Agent::new_with_defaults();
        let setup = json!({ "bot_token": "xoxb-1", "signing_secret": "s", "channel": "C1",
                            "users": {}, "request_url": "http://127.0.0.1:9/" });
        let serve = |rest: &str, method: &str, token: &str, body: &str| {
            let auth = [("Authorization".to_owned(), format!("Bearer {token}"))];
            match slack.space(rest) {
                Ok((space, rest)) => space.serve(rest, method, "", &auth, body.as_bytes(), &agent),
                Err(reply) => reply,
            }
        };
        assert_eq!(
            serve("e2e-a/workspace", "PUT", "", &setup.to_string()).0,
            204
        );
        let post = r#"{"channel": "C1", "text": "hi"}"#;
        let posted = |rest: &str| {
            let (_, _, body) = serve(rest, "POST", "xoxb-1", post);
            serde_json::from_slice::<Value>(&body).unwrap()
        };
        assert_eq!(posted("e2e-a/api/chat.postMessage")["ok"], true);
        // Another stack's workspace knows neither the token nor the message.
        assert_eq!(
            posted("e2e-b/api/chat.postMessage")["error"],
            "invalid_auth"
        );
        let shown = |name: &str| {
            let (_, _, body) = serve(&format!("{name}/workspace"), "GET", "", "");
            serde_json::from_slice::<Value>(&body).unwrap()["messages"].clone()
        };
        assert_eq!(shown("e2e-a").as_array().unwrap().len(), 1);
        assert_eq!(shown("e2e-b"), json!([]));
        assert_eq!(serve("workspace", "GET", "", "").0, 404);
    }

    #[test]
    fn the_web_api_refuses_as_slack_does() {
        let slack = workspace();
        let post = json!({ "channel": "C1", "text": "hi" });
        assert_eq!(
            call(&slack, "chat.postMessage", None, post.clone())["error"],
            "not_authed"
        );
        assert_eq!(
            call(&slack, "chat.postMessage", Some("xoxb-2"), post.clone())["error"],
            "invalid_auth"
        );
        let other = json!({ "channel": "C2", "text": "hi" });
        assert_eq!(
            call(&slack, "chat.postMessage", Some("xoxb-1"), other)["error"],
            "not_in_channel"
        );
        let posted = call(&slack, "chat.postMessage", Some("xoxb-1"), post);
        assert_eq!(posted["ok"], true);
        let unknown = json!({ "channel": "C1", "ts": "1.2", "text": "x" });
        assert_eq!(
            call(&slack, "chat.update", Some("xoxb-1"), unknown)["error"],
            "message_not_found"
        );
        let view = json!({ "trigger_id": "nope", "view": {} });
        assert_eq!(
            call(&slack, "views.open", Some("xoxb-1"), view)["error"],
            "invalid_trigger_id"
        );
        let (_, _, user) = slack.web_api("users.info", Some("xoxb-1"), "user=U1", b"");
        let user: Value = serde_json::from_slice(&user).unwrap();
        assert_eq!(user["user"]["profile"]["email"], "ana@example.com");
        assert!(slack.limit(br#"{"method": "chat.update", "times": 1}"#).0 == 204);
        let (status, headers, _) = slack.web_api("chat.update", Some("xoxb-1"), "", b"{}");
        assert_eq!((status, headers[0].1.as_str()), (429, "30"));
    }
}
