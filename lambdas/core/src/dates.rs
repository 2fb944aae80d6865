//! Times as people and machines read them. All times in this crate are Unix seconds (`u64`), the
//! form DynamoDB's TTL wants; the caller reads the clock.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

fn datetime(secs: u64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()
}

/// RFC 3339 in UTC, e.g. `2025-03-01T09:30:00Z` (the `decidedAt` of the task output).
pub fn rfc3339(secs: u64) -> String {
    datetime(secs)
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// An absolute time for people, e.g. `2025-03-01 09:30 UTC`.
pub fn utc(secs: u64) -> String {
    datetime(secs)
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("@{secs}"))
}

/// `at` relative to `now`: `in 24 hours`, `in 5 minutes`, `3 days ago`, `just now`.
/// Rounds down, so it never promises more time than there is.
pub fn relative(now: u64, at: u64) -> String {
    let (span, future) = if at > now {
        (at - now, true)
    } else {
        (now - at, false)
    };
    let amount = if span < 60 {
        return if future {
            "in less than a minute".to_owned()
        } else {
            "just now".to_owned()
        };
    } else if span < 2 * 3600 {
        plural(span / 60, "minute")
    } else if span < 2 * 86_400 {
        plural(span / 3600, "hour")
    } else {
        plural(span / 86_400, "day")
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-03-01T09:30:00Z
    const T: u64 = 1_740_821_400;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(T), "2025-03-01T09:30:00Z");
        assert_eq!(utc(T), "2025-03-01 09:30 UTC");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(u64::MAX), format!("@{}", u64::MAX));
        assert_eq!(utc(u64::MAX), format!("@{}", u64::MAX));
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(T, T + 86_400), "in 24 hours");
        assert_eq!(relative(T, T + 86_399), "in 23 hours");
        assert_eq!(relative(T, T + 7200), "in 2 hours");
        assert_eq!(relative(T, T + 7199), "in 119 minutes");
        assert_eq!(relative(T, T + 60), "in 1 minute");
        assert_eq!(relative(T, T + 59), "in less than a minute");
        assert_eq!(relative(T, T + 1), "in less than a minute");
        assert_eq!(relative(T, T), "just now");
        assert_eq!(relative(T, T + 3 * 86_400 + 5), "in 3 days");
        assert_eq!(relative(T, T + 2 * 86_400), "in 2 days");
        assert_eq!(relative(T + 30, T), "just now");
        assert_eq!(relative(T + 3600, T), "60 minutes ago");
        assert_eq!(relative(T + 5 * 86_400, T), "5 days ago");
    }
}
