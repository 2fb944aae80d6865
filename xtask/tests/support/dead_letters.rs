//! The stack's dead-letter queues, as an operator reads them.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::Env;

/// One message of a dead-letter queue: its body and its string attributes.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

impl Env {
    /// The messages of the stack's queue `<stack>-<suffix>` that `wanted` keeps, waiting up to
    /// the environment's patience for `count` of them; each read is deleted.
    pub fn wait_for_dead_letters(
        &self,
        suffix: &str,
        count: usize,
        wanted: impl Fn(&DeadLetter) -> bool,
    ) -> Vec<DeadLetter> {
        let name = format!("{}-{suffix}", self.stack());
        let started = Instant::now();
        let mut found = Vec::new();
        while found.len() < count {
            assert!(
                started.elapsed() < self.patience(),
                "{} of {count} letters in {name} within {:?}: {found:?}",
                found.len(),
                self.patience()
            );
            let read = self.runtime.block_on(receive(&self.sdk, &name));
            found.extend(read.into_iter().filter(&wanted));
            std::thread::sleep(Duration::from_millis(500));
        }
        found
    }
}

async fn receive(sdk: &aws_config::SdkConfig, name: &str) -> Vec<DeadLetter> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs.get_queue_url().queue_name(name).send().await;
    let url = url
        .unwrap_or_else(|e| panic!("no queue {name}: {e:?}"))
        .queue_url
        .unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let mut letters = Vec::new();
    for message in received.messages.unwrap_or_default() {
        if let Some(handle) = &message.receipt_handle {
            let deleted = sqs.delete_message().queue_url(&url).receipt_handle(handle);
            deleted.send().await.unwrap();
        }
        let attributes = message.message_attributes.unwrap_or_default().into_iter();
        letters.push(DeadLetter {
            body: message.body.unwrap_or_default(),
            attributes: attributes
                .filter_map(|(k, v)| Some((k, v.string_value?)))
                .collect(),
        });
    }
    letters
}
