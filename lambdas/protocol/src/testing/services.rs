//! The topic, the chat channel, the scheduler, the clock and the link ids in memory.

use hitl_core::{LinkId, ReviewerMessage};
use serde_json::Value;

use super::world::{Call, Outcome, Published, State, Step, World};
use crate::ports::{Chat, Clock, Ids, Notifier, Pause, Scheduled, Scheduler};

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

/// The chat channel in memory: its posts are in [`State::posts`].
#[derive(Clone)]
pub struct MemoryChat(pub World);

impl Chat for MemoryChat {
    async fn post(&self, payload: &Value) -> Result<(), String> {
        match self
            .0
            .call(Call::ChatPost, |s| s.posts.push(payload.clone()))
            .await
        {
            Outcome::Done(()) => Ok(()),
            Outcome::Failed(error) | Outcome::Lost(error) => Err(error),
            Outcome::ConditionFailed => Err("chat.post: HTTP 429".to_owned()),
        }
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
