//! The functions' metrics, in CloudWatch's embedded metric format: what the protocol counts
//! (through the `metrics` facade) is kept in memory and written to standard output, one JSON
//! document per dimension set, after each invocation; CloudWatch Logs turns each into metrics
//! in the namespace `METRICS_NAMESPACE` (`hitl/<stack>`) with no API call. Without that
//! variable nothing is recorded.

use std::io::Write;

use metrics_cloudwatch_embedded::{Builder, Collector};

/// The installed collector, if any.
pub struct Metrics(Option<&'static Collector>);

/// Installs the collector for `METRICS_NAMESPACE`; a second install (or none asked) records
/// nothing, and says so in the log.
pub fn init_metrics() -> Metrics {
    let Ok(namespace) = std::env::var("METRICS_NAMESPACE") else {
        return Metrics(None);
    };
    match Builder::new().cloudwatch_namespace(namespace).init() {
        Ok(collector) => Metrics(Some(collector)),
        Err(error) => {
            tracing::error!(%error, "metrics are off: the collector could not be installed");
            Metrics(None)
        }
    }
}

impl Metrics {
    /// Writes what was counted since the last flush (nothing when nothing was).
    pub fn flush(&self) {
        let Some(collector) = self.0 else { return };
        let mut out = std::io::stdout().lock();
        if let Err(error) = collector.flush(&mut out).and_then(|()| out.flush()) {
            tracing::error!(%error, "the invocation's metrics could not be written");
        }
    }

    /// `work`'s output, once what it counted is written.
    pub async fn after<T>(&self, work: impl Future<Output = T>) -> T {
        let out = work.await;
        self.flush();
        out
    }
}
