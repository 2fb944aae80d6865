//! The suite's inbox: an SQS queue of its own subscribed to the stack's topic, unfiltered, so it
//! receives every reviewer's messages (each with its `reviewer` attribute) without a mailbox.
//!
//! What AWS does that moto does not, and how the inbox copes:
//! - A queue policy set after the queue is made takes up to 60 seconds to take effect, and SNS
//!   does not retry a delivery the policy refused ("Dead-letter queues", SNS Developer Guide:
//!   a client-side error): the queue is made with its policy in `CreateQueue`, and the inbox is
//!   ready only once a probe published through the topic has arrived (re-published for up to
//!   90 seconds), which also proves the subscription delivers.
//! - A short `ReceiveMessage` samples a subset of SQS's servers and can return nothing while
//!   messages wait: every receive waits (long polling), and a collection drains until two
//!   receives in a row come back empty.
//! - SNS to SQS delivers at least once: messages are told apart by the SNS envelope's
//!   `MessageId`, and a redelivery is dropped.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

/// A message the topic sent, as the inbox received it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The `reviewer` message attribute: an address, or `all`.
    pub reviewer_attribute: String,
    pub subject: String,
    pub body: String,
    /// The SNS envelope, as received.
    pub raw: String,
}

impl Message {
    /// Whether `reviewer`'s email subscription delivers it.
    pub fn reaches(&self, reviewer: &str) -> bool {
        self.reviewer_attribute == reviewer || self.reviewer_attribute == "all"
    }
}

/// The subject of the probes, which no test waits for.
pub const PROBE: &str = "hitl e2e inbox probe";

/// The queue, and the SNS message ids it received already.
pub struct Inbox {
    pub url: String,
    seen: std::sync::Mutex<HashSet<String>>,
}

/// The queue policy admitting `topic` alone to send to the queue `arn`.
pub fn policy(arn: &str, topic: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
        }],
    })
}

/// `arn:aws:sqs:<region>:<account>:<name>`, from the topic's region and account (the inbox
/// lives beside the topic).
fn queue_arn(topic: &str, name: &str) -> String {
    let parts: Vec<&str> = topic.split(':').collect();
    format!("arn:{}:sqs:{}:{}:{name}", parts[1], parts[3], parts[4])
}

impl Inbox {
    /// Makes the queue `name` with its policy (SQS-managed encryption), subscribes it to
    /// `topic`, and waits until a probe arrives.
    pub async fn subscribe(sdk: &aws_config::SdkConfig, topic: &str, name: &str) -> Inbox {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let arn = queue_arn(topic, name);
        let url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
            .attributes(QueueAttributeName::Policy, policy(&arn, topic).to_string())
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let sns = aws_sdk_sns::Client::new(sdk);
        let subscribed = sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .send()
            .await
            .unwrap()
            .subscriptions
            .unwrap_or_default()
            .iter()
            .any(|s| s.endpoint.as_deref() == Some(arn.as_str()));
        if !subscribed {
            sns.subscribe()
                .topic_arn(topic)
                .protocol("sqs")
                .endpoint(&arn)
                .send()
                .await
                .unwrap();
        }
        let inbox = Inbox {
            url,
            seen: Default::default(),
        };
        inbox.probe(sdk, topic).await;
        inbox
    }

    /// Publishes a probe and waits for it (publishing again every 20 seconds), 90 seconds at
    /// most. The probe has no `reviewer` attribute, so no reviewer's subscription takes it.
    async fn probe(&self, sdk: &aws_config::SdkConfig, topic: &str) {
        let sns = aws_sdk_sns::Client::new(sdk);
        let started = Instant::now();
        let mut published = None::<Instant>;
        while started.elapsed() < Duration::from_secs(90) {
            if published.is_none_or(|at| at.elapsed() > Duration::from_secs(20)) {
                sns.publish()
                    .topic_arn(topic)
                    .subject(PROBE)
                    .message("the suite's inbox receives what the topic sends")
                    .send()
                    .await
                    .unwrap();
                published = Some(Instant::now());
            }
            if self.receive(sdk).await.iter().any(|m| m.subject == PROBE) {
                return;
            }
        }
        panic!("the suite's inbox received no probe from the topic within 90 seconds");
    }

    /// What the queue holds now, each message once (by its SNS message id): received by long
    /// polls until two in a row come back empty.
    pub async fn collect(&self, sdk: &aws_config::SdkConfig) -> Vec<Message> {
        let mut collected = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            let received = self.receive(sdk).await;
            empty = if received.is_empty() { empty + 1 } else { 0 };
            collected.extend(received);
        }
        collected
    }

    /// One long poll (a second), its messages deleted; redeliveries dropped.
    async fn receive(&self, sdk: &aws_config::SdkConfig) -> Vec<Message> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let out = sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let mut received = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let raw = message.body.clone().unwrap_or_default();
            let envelope: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
            let id = envelope["MessageId"].as_str().unwrap_or("").to_owned();
            if let Some(handle) = message.receipt_handle {
                let deleted = sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle);
                deleted.send().await.unwrap();
            }
            if !self.seen.lock().unwrap().insert(id) {
                continue;
            }
            received.push(Message {
                reviewer_attribute: envelope["MessageAttributes"]["reviewer"]["Value"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                subject: envelope["Subject"].as_str().unwrap_or("").to_owned(),
                body: envelope["Message"].as_str().unwrap_or("").to_owned(),
                raw,
            });
        }
        received
    }
}
