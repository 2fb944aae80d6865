//! How SQS delivers where moto does not, when a test asks (`POST /hitl-local/deliveries`,
//! `{"policy_delay_secs": 60, "duplicate": 3}`; `DELETE` resets): a queue policy set with
//! `SetQueueAttributes` takes effect only after a while (up to 60 seconds in AWS), and SNS's
//! deliveries refused meanwhile are lost (it does not retry a client-side error); and SNS to SQS
//! delivers at least once, so a message may come twice. For the suites' own support code, which
//! must cope with both; any caller's calls are touched.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Deserialize;
use serde_json::Value;

/// The admin path.
pub const PATH: &str = "/hitl-local/deliveries";

/// What a test asked for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Asked {
    /// How long a policy set on a queue takes to take effect.
    pub policy_delay_secs: u64,
    /// How many received messages are delivered once more.
    pub duplicate: u32,
}

#[derive(Default)]
struct State {
    asked: Asked,
    /// Queue URL → when (Unix milliseconds) its policy took effect.
    effective_from: HashMap<String, u64>,
}

#[derive(Default)]
pub struct Deliveries(Mutex<State>);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Deliveries {
    pub fn ask(&self, body: &[u8]) -> Result<(), String> {
        self.lock().asked = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(())
    }

    pub fn reset(&self) {
        *self.lock() = State::default();
    }

    /// Notes a `SetQueueAttributes` (JSON body) that sets a queue's policy.
    pub fn saw_policy(&self, body: &[u8]) {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let mut state = self.lock();
        if state.asked.policy_delay_secs == 0 || body["Attributes"]["Policy"].is_null() {
            return;
        }
        if let Some(url) = body["QueueUrl"].as_str() {
            let from = now_ms() + state.asked.policy_delay_secs * 1000;
            state.effective_from.insert(url.to_owned(), from);
        }
    }

    /// A `ReceiveMessage` body (JSON) asking for the messages' sent time too, when the queue's
    /// policy was delayed (its earlier messages are then dropped).
    pub fn receive_request(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut request: Value = serde_json::from_slice(body).ok()?;
        let url = request["QueueUrl"].as_str()?;
        self.lock().effective_from.get(url)?;
        request["AttributeNames"] = serde_json::json!(["SentTimestamp"]);
        serde_json::to_vec(&request).ok()
    }

    /// A `ReceiveMessage` answer as SQS would give it: messages SNS sent before the queue's
    /// policy took effect are not there (returned as lost: their receipt handles, for deletion);
    /// and messages to deliver once more (their bodies).
    pub fn received(&self, request: &[u8], answer: &[u8]) -> Option<Received> {
        let request: Value = serde_json::from_slice(request).ok()?;
        let mut answer: Value = serde_json::from_slice(answer).ok()?;
        let url = request["QueueUrl"].as_str()?.to_owned();
        let mut state = self.lock();
        let from = state.effective_from.get(&url).copied().unwrap_or(0);
        let messages = answer["Messages"].as_array_mut()?;
        let mut lost = Vec::new();
        messages.retain(|m| {
            let sent: u64 = m["Attributes"]["SentTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(u64::MAX);
            let kept = sent >= from;
            if !kept {
                lost.extend(m["ReceiptHandle"].as_str().map(str::to_owned));
            }
            kept
        });
        let again: Vec<String> = messages
            .iter()
            .take(state.asked.duplicate as usize)
            .filter_map(|m| m["Body"].as_str().map(str::to_owned))
            .collect();
        state.asked.duplicate -= again.len() as u32;
        Some(Received {
            url,
            answer: serde_json::to_vec(&answer).ok()?,
            lost,
            again,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A `ReceiveMessage` answer after [`Deliveries::received`].
pub struct Received {
    pub url: String,
    pub answer: Vec<u8>,
    /// Receipt handles of the messages lost.
    pub lost: Vec<String>,
    /// Bodies of the messages to deliver once more.
    pub again: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delayed_policy_loses_what_came_before_and_duplicates_come_again() {
        let deliveries = Deliveries::default();
        deliveries
            .ask(br#"{"policy_delay_secs": 3600, "duplicate": 1}"#)
            .unwrap();
        deliveries.saw_policy(br#"{"QueueUrl":"q","Attributes":{"Policy":"{}"}}"#);
        let asked = deliveries
            .receive_request(br#"{"QueueUrl":"q"}"#)
            .expect("changed");
        assert!(String::from_utf8(asked).unwrap().contains("SentTimestamp"));
        assert!(
            deliveries
                .receive_request(br#"{"QueueUrl":"other"}"#)
                .is_none()
        );
        let answer = serde_json::json!({"Messages": [
            {"Body": "b1", "ReceiptHandle": "r1", "Attributes": {"SentTimestamp": now_ms().to_string()}},
        ]});
        let received = deliveries
            .received(br#"{"QueueUrl":"q"}"#, answer.to_string().as_bytes())
            .expect("an answer");
        assert_eq!(received.lost, ["r1"]);
        assert!(received.again.is_empty());
        let other = serde_json::json!({"Messages": [{"Body": "b2", "ReceiptHandle": "r2"}]});
        let received = deliveries
            .received(br#"{"QueueUrl":"other"}"#, other.to_string().as_bytes())
            .expect("an answer");
        assert!(received.lost.is_empty());
        assert_eq!(received.again, ["b2"]);
        let received = deliveries
            .received(br#"{"QueueUrl":"other"}"#, other.to_string().as_bytes())
            .expect("an answer");
        assert!(received.again.is_empty(), "once only");
    }
}
