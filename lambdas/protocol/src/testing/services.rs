//! The topic, the chat channel, the scheduler, the clock and the link ids in memory.

use hitl_core::{LinkId, ReviewerMessage, slack::SlackMessage};
use serde_json::Value;

use super::world::{Call, Outcome, Published, State, Step, World};
use crate::ports::{Chat, Clock, Ids, Notifier, Pause, Scheduled, Scheduler, SlackApp, Teams};

/// The reviewers' topic in memory: what it takes is in [`State::published`].
#[derive(Clone)]
pub struct MemoryTopic(pub World);

impl Notifier for MemoryTopic {
    async fn publish(&self, message: &ReviewerMessage) -> Result<(), String> {
        let publish = |s: &mut State| {
            let at = s.now();
            let by = s.current;
            s.published.push(Published {
                message: message.clone(),
                at,
                by,
            });
        };
        match self.0.call(Call::Publish, publish).await {
            Outcome::Done(()) => Ok(()),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(error),
            Outcome::ConditionFailed => Err("topic.publish: throttled".to_owned()),
        }
    }
}

/// Teams in memory: its cards are in [`State::teams_posts`].
#[derive(Clone)]
pub struct MemoryTeams(pub World);

impl Teams for MemoryTeams {
    async fn post(&self, card: &Value) -> Result<(), String> {
        let post = |s: &mut State| s.system.teams_posts.push(card.clone());
        match self.0.call(Call::TeamsPost, post).await {
            Outcome::Done(()) => Ok(()),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(error),
            Outcome::ConditionFailed => Err("teams.post: HTTP 429".to_owned()),
        }
    }
}

/// The chat channel in memory: its posts are in [`State::posts`]; the app's workspace is
/// [`State::slack`].
#[derive(Clone)]
pub struct MemoryChat(pub World);

impl MemoryChat {
    async fn slack<R>(&self, call: Call, f: impl FnOnce(&mut State) -> R) -> Result<R, String> {
        match self.0.call(call, f).await {
            Outcome::Done(r) => Ok(r),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(error),
            Outcome::ConditionFailed => Err(format!("{call:?}: HTTP 429, Retry-After: 30")),
        }
    }
}

impl Chat for MemoryChat {
    fn is_app(&self) -> bool {
        self.0.with(|s| s.slack.app)
    }

    async fn post(
        &self,
        payload: &Value,
        thread: Option<&SlackMessage>,
    ) -> Result<Option<SlackMessage>, String> {
        self.slack(Call::ChatPost, |s| {
            s.system.posts.push(payload.clone());
            if !s.slack.app {
                return None;
            }
            let ts = format!("{}.{:06}", s.now(), s.posts.len());
            let slack = &mut s.system.slack;
            match thread {
                Some(parent) => slack.threads.push((parent.ts.clone(), payload.clone())),
                None => {
                    slack.messages.insert(ts.clone(), payload.clone());
                }
            }
            Some(SlackMessage {
                channel: "C0123456789".into(),
                ts,
            })
        })
        .await
    }

    async fn update(&self, message: &SlackMessage, payload: &Value) -> Result<(), String> {
        self.slack(Call::ChatUpdate, |s| {
            s.system.posts.push(payload.clone());
            s.system
                .slack
                .messages
                .insert(message.ts.clone(), payload.clone());
        })
        .await
    }
}

impl SlackApp for MemoryChat {
    async fn signing_secret(&self) -> Result<String, String> {
        Ok(self.0.with(|s| s.slack.signing_secret.clone()))
    }

    async fn email(&self, user: &str) -> Result<Option<String>, String> {
        self.slack(Call::Slack, |s| s.slack.users.get(user).cloned())
            .await
    }

    async fn open_modal(&self, _trigger_id: &str, view: &Value) -> Result<(), String> {
        self.slack(Call::Slack, |s| s.system.slack.modals.push(view.clone()))
            .await
    }

    async fn tell(&self, _channel: &str, user: &str, text: &str) -> Result<(), String> {
        let told = (user.to_owned(), text.to_owned());
        self.slack(Call::Slack, |s| s.system.slack.told.push(told))
            .await
    }
}

/// The scheduler in memory: its schedules are in [`State::schedules`].
#[derive(Clone)]
pub struct MemoryScheduler(pub World);

impl Scheduler for MemoryScheduler {
    async fn create(&self, name: &str, at: u64, input: &Value) -> Result<Scheduled, String> {
        let create = |s: &mut State| {
            if s.schedules.contains_key(name) {
                return Scheduled::AlreadyMade;
            }
            s.schedules.insert(name.to_owned(), (at, input.clone()));
            Scheduled::Made
        };
        match self.0.call(Call::CreateSchedule, create).await {
            Outcome::Done(made) => Ok(made),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(error),
            Outcome::ConditionFailed => Err("scheduler.create: throttled".to_owned()),
        }
    }
}

/// The clock in memory: it moves when told to, and while an operation pauses.
#[derive(Clone)]
pub struct MemoryClock(pub World);

impl Clock for MemoryClock {
    fn now(&self) -> u64 {
        self.0.with(|s| s.now())
    }
}

impl Pause for MemoryClock {
    async fn pause(&self, millis: u64) {
        Step::default().await;
        self.0.with(|s| s.now_millis += millis);
    }
}

/// Link ids in memory: `link…` and a count, in the ids' alphabet.
#[derive(Clone)]
pub struct MemoryIds(pub World);

impl Ids for MemoryIds {
    fn link_id(&self) -> LinkId {
        let number = self.0.with(|s| {
            s.ids_given += 1;
            s.ids_given
        });
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut digits = [b'a'; 22];
        let mut rest = number;
        for digit in digits.iter_mut().rev() {
            *digit = ALPHABET[(rest % 32) as usize];
            rest /= 32;
        }
        let text = format!("link{}", String::from_utf8_lossy(&digits));
        LinkId::parse(&text).unwrap_or_else(|| panic!("{text} is not a link id"))
    }
}
