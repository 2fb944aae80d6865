//! A recorder that keeps what the protocol counted, for tests: `measured(|| …)` runs the
//! closure with it installed on this thread and returns each counter's total by its key
//! (`Decisions{Outcome=approved}`) and each histogram's values.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// What was counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Measured {
    pub counters: BTreeMap<String, u64>,
    pub histograms: BTreeMap<String, Vec<f64>>,
}

impl Measured {
    /// The total of counter `key` (0 when never counted).
    pub fn count(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }
}

/// Runs `f` with a recorder keeping every count on this thread.
pub fn measured<T>(f: impl FnOnce() -> T) -> (T, Measured) {
    let recorder = Keeper::default();
    let out = metrics::with_local_recorder(&recorder, f);
    let measured = recorder.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (out, measured)
}

#[derive(Default)]
struct Keeper(Arc<Mutex<Measured>>);

struct Handle {
    key: String,
    kept: Arc<Mutex<Measured>>,
}

fn name(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    match labels.is_empty() {
        true => key.name().to_owned(),
        false => format!("{}{{{}}}", key.name(), labels.join(",")),
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        *kept.counters.entry(self.key.clone()).or_default() += value;
    }

    fn absolute(&self, value: u64) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.counters.insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.histograms
            .entry(self.key.clone())
            .or_default()
            .push(value);
    }
}

impl Recorder for Keeper {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle {
            key: name(key),
            kept: self.0.clone(),
        }))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle {
            key: name(key),
            kept: self.0.clone(),
        }))
    }
}
