//! CloudWatch's embedded metric format, read back from the functions' log and held to its
//! specification ("Specification: Embedded metric format", CloudWatch User Guide): CloudWatch
//! Logs drops a document that breaks it, and with it the metrics, without a word.

use serde_json::Value;

/// The units CloudWatch accepts (`StandardUnit`, CloudWatch API Reference).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The embedded-metric documents of `namespace` among `log`'s lines, each checked against the
/// specification (a broken one panics, naming the rule).
pub fn documents(log: &str, namespace: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| {
            let start = line.find("{\"")?;
            serde_json::from_str::<Value>(&line[start..]).ok()
        })
        .filter(|doc| doc.get("_aws").is_some())
        .filter(|doc| doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace)
        .inspect(check)
        .collect()
}

/// Panics with the rule `doc` breaks.
fn check(doc: &Value) {
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "Timestamp in ms: {doc}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!(
            (1..=255).contains(&namespace.len()),
            "Namespace length: {doc}"
        );
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions: {doc}");
            for name in set {
                let name = name.as_str().expect("a dimension name");
                assert!(
                    doc[name].is_string(),
                    "dimension {name} is a string member: {doc}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(metrics.len() <= 100, "at most 100 metrics: {doc}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric's Name");
            assert!((1..=255).contains(&name.len()), "Name length: {doc}");
            let value = &doc[name];
            let values = value.as_array().map_or(vec![value], |v| v.iter().collect());
            assert!(
                !values.is_empty() && values.len() <= 100,
                "{name}: 1 to 100 values: {doc}"
            );
            assert!(
                values.iter().all(|v| v.is_number()),
                "{name} is numbers: {doc}"
            );
            if let Some(unit) = metric.get("Unit") {
                assert!(
                    UNITS.contains(&unit.as_str().unwrap_or("")),
                    "{name}'s Unit: {doc}"
                );
            }
        }
    }
}

/// Whether `docs` hold metric `name` (with `dimension` = `value`, when given) and its unit.
pub fn has(docs: &[Value], name: &str, dimension: Option<(&str, &str)>) -> Option<String> {
    docs.iter().find_map(|doc| {
        if let Some((key, value)) = dimension
            && doc[key] != value
        {
            return None;
        }
        let metrics = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array()?;
        let metric = metrics.iter().find(|m| m["Name"] == name)?;
        Some(metric["Unit"].as_str().unwrap_or("").to_owned())
    })
}
