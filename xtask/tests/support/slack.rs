//! The Slack app's side of the suites, on the local environment: its stand-in for Slack
//! (`kit_local::slack`) set up as the workspace of the environment's app (the bot token and the
//! signing secret the stack reads from SSM, the channel, users with the reviewers' emails, the
//! app's request URL), and what a Slack user does there.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The channel of `xtask/tests/local/hitl.yaml`'s Slack app.
pub const CHANNEL: &str = "C0E2E00001";

/// The workspace's users: the reviewers, the escalation's addressee, and someone else.
pub const USERS: [(&str, &str); 5] = [
    ("U0ANA", "Ana@Example.com"),
    ("U0BEN", "ben@example.com"),
    ("U0CYD", "cyd@example.com"),
    ("U0EVE", "eve@example.com"),
    ("U0MAL", "mallory@example.com"),
];

/// The stand-in, as the suite drives it.
pub struct Workspace {
    /// `{router}/_slack/<stack>/`: the stack's workspace.
    base: String,
    http: ureq::Agent,
    pub signing_secret: String,
    /// The app's request URL (the stack's `SlackInteractionsUrl`).
    pub request_url: String,
}

/// A message of the channel: its ts and what it says now.
pub struct Posted {
    pub ts: String,
    pub message: Value,
}

impl Posted {
    /// Whether it still has the Approve and Reject buttons.
    pub fn has_buttons(&self) -> bool {
        self.message.to_string().contains("hitl_approve")
    }

    pub fn text(&self) -> String {
        self.message["blocks"].to_string()
    }
}

impl Workspace {
    /// Sets up `stack`'s workspace in the stand-in of the router at `router` with the app's
    /// secrets `token` and `signing_secret` and its request URL.
    pub fn set_up(
        router: &str,
        stack: &str,
        token: &str,
        signing_secret: &str,
        request_url: &str,
    ) -> Self {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("{router}{}{stack}/", kit_local::slack::PATH);
        let users: serde_json::Map<String, Value> = USERS
            .iter()
            .map(|(id, email)| (id.to_string(), json!(email)))
            .collect();
        let setup = json!({ "bot_token": token, "signing_secret": signing_secret,
                            "channel": CHANNEL, "users": users, "request_url": request_url });
        let response = http
            .put(format!("{base}workspace"))
            .send(setup.to_string())
            .unwrap();
        assert_eq!(
            response.status(),
            204,
            "the Slack stand-in refused its workspace"
        );
        Self {
            base,
            http,
            signing_secret: signing_secret.to_owned(),
            request_url: request_url.to_owned(),
        }
    }

    /// What happened in the workspace (`kit_local::slack`'s `GET workspace`).
    pub fn state(&self) -> Value {
        let mut response = self
            .http
            .get(format!("{}workspace", self.base))
            .call()
            .unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// The channel's message about `title` as it stands, waiting up to `wait` for it.
    pub fn message_about(&self, title: &str, wait: Duration) -> Posted {
        let started = Instant::now();
        loop {
            let state = self.state();
            let found = state["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| {
                    m["message"]["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(title))
                });
            if let Some(m) = found {
                let ts = m["ts"].as_str().unwrap().to_owned();
                return Posted {
                    ts,
                    message: m["message"].clone(),
                };
            }
            assert!(started.elapsed() < wait, "no Slack message about {title}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the message `ts` passes `done`, up to `wait`; the message then.
    pub fn wait_for(&self, title: &str, wait: Duration, done: impl Fn(&Posted) -> bool) -> Posted {
        let started = Instant::now();
        loop {
            let posted = self.message_about(title, wait);
            if done(&posted) {
                return posted;
            }
            assert!(
                started.elapsed() < wait,
                "the message about {title} is still {}",
                posted.text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `user` presses the button `action` (`hitl_approve`, `hitl_reject`) of the message `ts`:
    /// the app's answer (status, body).
    pub fn click(&self, user: &str, ts: &str, action: &str) -> (u16, String) {
        let asked = json!({ "user": user, "ts": ts, "action_id": action });
        self.send("click", &asked)
    }

    /// [`Self::click`] on the message as it was first posted (a user who has not seen it
    /// updated yet).
    pub fn click_as_posted(&self, user: &str, ts: &str, action: &str) -> (u16, String) {
        let asked = json!({ "user": user, "ts": ts, "action_id": action, "as_posted": true });
        self.send("click", &asked)
    }

    /// `user` presses Reject on the message `ts` until the reason's modal opens, as a user
    /// would: Slack gives the app 3 seconds to open it, and the local environment's first
    /// invocation of a function instance (`cargo lambda watch` starting it) may take longer,
    /// which the app answers with "could not open the form … try again".
    pub fn open_reason(&self, user: &str, ts: &str) {
        let opened = |s: &Value| {
            s["views"]
                .as_array()
                .map_or(0, |v| v.iter().filter(|v| v["user"] == user).count())
        };
        let before = opened(&self.state());
        for _ in 0..3 {
            let told = self.told(user).len();
            assert_eq!(self.click(user, ts, "hitl_reject").0, 200);
            if opened(&self.state()) > before {
                return;
            }
            let again = self.told_at_least(user, told + 1, Duration::from_secs(10));
            assert!(
                again.last().is_some_and(|t| t.contains("try again")),
                "{again:?}"
            );
        }
        panic!("the reason's modal never opened for {user}");
    }

    /// `user` submits the last modal opened for him with `reason`: the app's answer.
    pub fn submit_reason(&self, user: &str, reason: &str) -> (u16, String) {
        let views = self.state()["views"].clone();
        let view = views
            .as_array()
            .into_iter()
            .flatten()
            .rfind(|v| v["user"] == user)
            .unwrap_or_else(|| panic!("no modal was opened for {user}: {views}"));
        let asked = json!({ "view_id": view["id"], "user": user,
                            "values": { "reason": { "reason_input": reason } } });
        self.send("submit", &asked)
    }

    fn send(&self, what: &str, asked: &Value) -> (u16, String) {
        let mut response = self
            .http
            .post(format!("{}{what}", self.base))
            .send(asked.to_string())
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// What `user` was told by the app, in order.
    pub fn told(&self, user: &str) -> Vec<String> {
        let state = self.state();
        let told = state["ephemeral"].as_array().into_iter().flatten();
        told.filter(|e| e["user"] == user)
            .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits up to `wait` for what `user` was told to number `n`; all of it.
    pub fn told_at_least(&self, user: &str, n: usize, wait: Duration) -> Vec<String> {
        let started = Instant::now();
        loop {
            let told = self.told(user);
            if told.len() >= n || started.elapsed() > wait {
                return told;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The replies in the thread of the message `ts`.
    pub fn thread(&self, ts: &str) -> Vec<String> {
        let state = self.state();
        let replies = state["threads"].as_array().into_iter().flatten();
        replies
            .filter(|r| r["thread_ts"] == ts)
            .map(|r| r["message"]["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The next `times` calls of Slack's `method` that hold `matching` (a user id, a message's
    /// ts: the suite's tests run side by side) answer 429 with `Retry-After`.
    pub fn rate_limit(&self, method: &str, matching: &str, times: u32) {
        let asked = json!({ "method": method, "times": times, "matching": matching });
        let response = self
            .http
            .post(format!("{}workspace", self.base))
            .send(asked.to_string())
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// Posts `body` to the app's request URL with these headers, as anyone on the internet
    /// could: the app's status.
    pub fn post_raw(&self, body: &str, timestamp: Option<&str>, signature: Option<&str>) -> u16 {
        let mut request = self
            .http
            .post(&self.request_url)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(timestamp) = timestamp {
            request = request.header("x-slack-request-timestamp", timestamp);
        }
        if let Some(signature) = signature {
            request = request.header("x-slack-signature", signature);
        }
        request.send(body).unwrap().status().as_u16()
    }
}
