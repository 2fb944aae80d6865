//! The request side's ports on the SDK, as the request, remind and durable workflow functions
//! build them from their settings.

use aws_config::SdkConfig;
use hitl_protocol::{Messenger, Settings};

use crate::{
    chat::SlackChannel,
    clock::{RandomIds, SystemClock},
    table::DynamoTable,
    topic::SnsTopic,
};

/// The remind function's ports.
pub type AwsMessenger = Messenger<DynamoTable, SnsTopic, SystemClock, RandomIds, SlackChannel>;

/// The table, the topic and the chat channel `settings` and the environment name, on the SDK
/// configuration `aws`.
pub fn messenger(aws: &SdkConfig, settings: Settings) -> Result<AwsMessenger, String> {
    Ok(Messenger {
        table: DynamoTable::on(aws, settings.table.clone()),
        notifier: SnsTopic::new(aws_sdk_sns::Client::new(aws), settings.topic_arn.clone()),
        clock: SystemClock,
        ids: RandomIds,
        chat: SlackChannel::from_env(aws)?,
        settings,
    })
}

#[cfg(feature = "requester")]
pub use requester::{AwsRequester, requester};

#[cfg(feature = "requester")]
mod requester {
    use aws_config::SdkConfig;
    use hitl_protocol::{Requester, Settings};

    use crate::{
        chat::SlackChannel,
        clock::{RandomIds, SystemClock},
        scheduler::EventBridgeScheduler,
        table::DynamoTable,
        topic::SnsTopic,
        webhook::Webhook,
    };

    /// The request function's and the durable workflow's ports.
    pub type AwsRequester = Requester<
        DynamoTable,
        SnsTopic,
        EventBridgeScheduler,
        SlackChannel,
        SystemClock,
        RandomIds,
        Webhook,
    >;

    /// The clients `settings` and the environment need (Teams, when it names its webhook's
    /// parameter), on the SDK configuration `aws`.
    pub fn requester(aws: &SdkConfig, settings: Settings) -> Result<AwsRequester, String> {
        let scheduler = aws_sdk_scheduler::Client::new(aws);
        Ok(Requester {
            scheduler: EventBridgeScheduler::new(scheduler, settings.schedules.clone()),
            teams: Webhook::teams_from_env(aws),
            messenger: super::messenger(aws, settings)?,
        })
    }
}
