//! The request side's ports on the SDK, as the request, remind and durable workflow functions
//! build them from their settings.

use aws_config::SdkConfig;
use hitl_protocol::{Messenger, Settings};

use crate::{
    clock::{RandomIds, SystemClock},
    table::DynamoTable,
    topic::SnsTopic,
};

/// The remind function's ports.
pub type AwsMessenger = Messenger<DynamoTable, SnsTopic, SystemClock, RandomIds>;

/// The table and the topic `settings` name, on the SDK configuration `aws`.
pub fn messenger(aws: &SdkConfig, settings: Settings) -> AwsMessenger {
    Messenger {
        table: DynamoTable::on(aws, settings.table.clone()),
        notifier: SnsTopic::new(aws_sdk_sns::Client::new(aws), settings.topic_arn.clone()),
        clock: SystemClock,
        ids: RandomIds,
        settings,
    }
}

#[cfg(feature = "requester")]
pub use requester::{AwsRequester, requester};

#[cfg(feature = "requester")]
mod requester {
    use aws_config::SdkConfig;
    use hitl_protocol::{Requester, Settings};

    use crate::{
        clock::{RandomIds, SystemClock},
        scheduler::EventBridgeScheduler,
        slack::Slack,
        table::DynamoTable,
        topic::SnsTopic,
    };

    /// The request function's and the durable workflow's ports.
    pub type AwsRequester =
        Requester<DynamoTable, SnsTopic, EventBridgeScheduler, Slack, SystemClock, RandomIds>;

    /// The clients `settings` need, on the SDK configuration `aws`.
    pub fn requester(aws: &SdkConfig, settings: Settings) -> AwsRequester {
        let scheduler = aws_sdk_scheduler::Client::new(aws);
        Requester {
            scheduler: EventBridgeScheduler::new(scheduler, settings.schedules.clone()),
            chat: settings
                .slack_parameter
                .clone()
                .map(|name| Slack::new(name, aws_sdk_ssm::Client::new(aws))),
            messenger: super::messenger(aws, settings),
        }
    }
}
