//! The request side's settings (the request and remind functions', the durable workflow's), from
//! the environment the template sets.

use std::env;

use crate::schedule::Schedules;

/// Where the approvals go and who reviews them: what every request-side function is given.
#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub topic_arn: String,
    /// `https://…/v1`: links are `<base>/approvals/<link id>`.
    pub review_base_url: String,
    pub approval_timeout_secs: u64,
    pub retention_secs: u64,
    pub reviewers: Vec<String>,
    /// The buckets a request's attachments may be in (`ATTACHMENT_BUCKETS`, comma-separated).
    pub attachment_buckets: Vec<String>,
    /// Who an escalated request goes to (`ESCALATE_TO`, comma-separated).
    pub escalate_to: Vec<String>,
    /// The approval's reminder and escalation schedules, when the stack has either
    /// (`SCHEDULE_GROUP`, `SCHEDULER_ROLE_ARN`, `REMIND_FUNCTION_ARN`,
    /// `SCHEDULE_DEAD_LETTER_ARN`, `REMIND_AFTER_SECONDS`, `ESCALATE_AFTER_SECONDS`).
    pub schedules: Option<Schedules>,
    /// How many reviewers' approvals approve a request (`QUORUM`, 1 when unset).
    pub quorum: u32,
    /// The stack signs its reviewers in (`SIGN_IN` = `true`): shared channels (the Slack
    /// webhook, Teams) then carry a channel link.
    pub sign_in: bool,
}

/// A comma-separated list (`REVIEWERS`, `ESCALATE_TO`, `ATTACHMENT_BUCKETS`): each item
/// trimmed, blanks dropped.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    /// The settings from the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// The settings from `get` (a variable's value by name); the error names the variable
    /// missing or wrong.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text =
            |name: &str| get(name).ok_or_else(|| format!("environment variable {name} is not set"));
        let number = |name: &str| -> Result<u64, String> {
            text(name)?
                .parse()
                .map_err(|_| format!("environment variable {name} is not a whole number"))
        };
        // Named apart from `list`: a closure of that name would shadow it below.
        let list_or_empty = |name: &str| list(&get(name).unwrap_or_default());
        let optional_number = |name: &str| -> Result<Option<u64>, String> {
            get(name).map(|_| number(name)).transpose()
        };
        Ok(Self {
            table: text("TABLE_NAME")?,
            topic_arn: text("TOPIC_ARN")?,
            review_base_url: text("REVIEW_BASE_URL")?.trim_end_matches('/').to_owned(),
            approval_timeout_secs: number("APPROVAL_TIMEOUT_SECONDS")?,
            retention_secs: number("RETENTION_SECONDS")?,
            reviewers: list(&text("REVIEWERS")?),
            attachment_buckets: list_or_empty("ATTACHMENT_BUCKETS"),
            escalate_to: list_or_empty("ESCALATE_TO"),
            schedules: match get("SCHEDULE_GROUP") {
                None => None,
                Some(group) => Some(Schedules {
                    group,
                    role_arn: text("SCHEDULER_ROLE_ARN")?,
                    target_arn: text("REMIND_FUNCTION_ARN")?,
                    dead_letter_arn: get("SCHEDULE_DEAD_LETTER_ARN"),
                    remind_after_secs: optional_number("REMIND_AFTER_SECONDS")?,
                    escalate_after_secs: optional_number("ESCALATE_AFTER_SECONDS")?,
                }),
            },
            quorum: match get("QUORUM") {
                None => 1,
                Some(text) => text
                    .parse()
                    .ok()
                    .filter(|q| *q > 0)
                    .ok_or("environment variable QUORUM is not a whole number above 0")?,
            },
            sign_in: get("SIGN_IN").as_deref() == Some("true"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting() {
        let settings = Settings::from_lookup(|name| {
            Some(
                match name {
                    "REVIEW_BASE_URL" => "https://x.example/v1/",
                    "APPROVAL_TIMEOUT_SECONDS" => "300",
                    "RETENTION_SECONDS" => "600",
                    "REVIEWERS" => " a@example.com, ,b@example.com",
                    "QUORUM" => "2",
                    "ATTACHMENT_BUCKETS" => "shop-data,invoices",
                    "REMIND_AFTER_SECONDS" => "60",
                    "ESCALATE_AFTER_SECONDS" => "120",
                    "ESCALATE_TO" => "boss@example.com",
                    // Only the variables' names answer with themselves: a value read as a
                    // name (a lookup of the list's text) finds nothing.
                    other if other.chars().all(|c| c.is_ascii_uppercase() || c == '_') => other,
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap();
        assert_eq!(settings.review_base_url, "https://x.example/v1");
        assert_eq!(settings.reviewers, ["a@example.com", "b@example.com"]);
        assert_eq!(settings.approval_timeout_secs, 300);
        assert_eq!(settings.quorum, 2);
        assert_eq!(settings.attachment_buckets, ["shop-data", "invoices"]);
        assert_eq!(settings.escalate_to, ["boss@example.com"]);
        let schedules = settings.schedules.expect("schedules");
        assert_eq!(schedules.group, "SCHEDULE_GROUP");
        assert_eq!(
            schedules.dead_letter_arn.as_deref(),
            Some("SCHEDULE_DEAD_LETTER_ARN")
        );
        assert_eq!(
            (schedules.remind_after_secs, schedules.escalate_after_secs),
            (Some(60), Some(120))
        );
        let plain = Settings::from_lookup(|name| {
            (!["SCHEDULE_GROUP", "QUORUM"].contains(&name)).then(|| "1".to_owned())
        })
        .unwrap();
        assert!(plain.schedules.is_none());
        assert_eq!(plain.quorum, 1);
    }

    #[test]
    fn names_what_is_missing_or_wrong() {
        let err = Settings::from_lookup(|name| (name != "TOPIC_ARN").then(|| "1".to_owned()))
            .unwrap_err();
        assert_eq!(err, "environment variable TOPIC_ARN is not set");
        let err = Settings::from_lookup(|name| {
            Some(
                if name == "RETENTION_SECONDS" {
                    "30d"
                } else {
                    "1"
                }
                .to_owned(),
            )
        })
        .unwrap_err();
        assert_eq!(
            err,
            "environment variable RETENTION_SECONDS is not a whole number"
        );
    }
}
