//! Validated config values. Each type checks itself while it is deserialized, so a bad value is
//! reported by serde_yaml with the field path, line and column of the offending scalar.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// For a newtype over `String` with a `FromStr` whose error is the user-facing message:
/// `as_str`, `Display`, `Deserialize` (through `FromStr`), `Serialize` and `JsonSchema` (from the
/// given JSON).
macro_rules! string_value {
    ($ty:ident, $name:literal, $schema:tt) => {
        impl $ty {
            #[allow(dead_code, reason = "not every value is read as text yet")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                from_scalar(d)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

/// Like `string_value!`, for a newtype over `u32`: `get`, `Display`, `Deserialize`, `Serialize`
/// (as a number) and `JsonSchema`.
macro_rules! number_value {
    ($ty:ident, $name:literal, $schema:tt) => {
        impl $ty {
            pub fn get(self) -> u32 {
                self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                from_scalar(d)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u32(self.0)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

/// Deserializes any scalar through the type's `FromStr`.
fn from_scalar<'de, D: Deserializer<'de>, T: FromStr<Err = String>>(d: D) -> Result<T, D::Error> {
    ScalarText::deserialize(d)?
        .0
        .parse()
        .map_err(D::Error::custom)
}

/// A scalar read as text, whatever YAML typed it as (`256`, `true`, `24h`), so that value types
/// give their own message instead of serde's "invalid type".
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a single value (not a list or a mapping)")
            }
            fn visit_str<E>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A duration written `90s`, `45m`, `24h` or `7d`, within `[MIN, MAX]` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Duration<MIN, MAX> {
    pub const fn from_secs(secs: u64) -> Self {
        assert!(secs >= MIN && secs <= MAX);
        Self(secs)
    }
    pub fn secs(self) -> u64 {
        self.0
    }
}

/// Writes seconds in the largest unit that divides them exactly, the way a user would.
pub fn format_secs(secs: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs > 0 && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Parses `90s`, `45m`, `24h`, `7d` into seconds.
pub fn parse_secs(text: &str) -> Result<u64, String> {
    let hint = "write a whole number and a unit: s, m, h or d (e.g. 90s, 45m, 24h, 7d)";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let size = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "" => return Err(format!("`{text}` has no unit: {hint}")),
        _ => return Err(format!("`{text}` is not a duration: {hint}")),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: {hint}"))?;
    number
        .checked_mul(size)
        .ok_or_else(|| format!("`{text}` is far too long"))
}

impl<const MIN: u64, const MAX: u64> FromStr for Duration<MIN, MAX> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let secs = parse_secs(text)?;
        if secs < MIN || secs > MAX {
            return Err(format!(
                "`{text}` is out of range: use {} to {}",
                format_secs(MIN),
                format_secs(MAX)
            ));
        }
        Ok(Self(secs))
    }
}

impl<const MIN: u64, const MAX: u64> fmt::Display for Duration<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&format_secs(self.0))
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Duration<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_scalar(d)
    }
}

impl<const MIN: u64, const MAX: u64> Serialize for Duration<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<const MIN: u64, const MAX: u64> JsonSchema for Duration<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Duration_{MIN}_{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let description = format!(
            "A duration: a whole number and a unit s, m, h or d, from {} to {}.",
            format_secs(MIN),
            format_secs(MAX)
        );
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+[smhd]$",
            "description": description,
        })
    }
}

const DAY: u64 = 86_400;
/// How long a reviewer has to answer. Step Functions runs a Standard execution for at most a
/// year, and the execution's own backstop timeout sits above this one.
pub type ApprovalTimeout = Duration<1, { 364 * DAY }>;
/// When, after a request, its reviewers are reminded or it is escalated: before its timeout, and
/// at least a minute after the request: EventBridge Scheduler invokes a one-time schedule within
/// a minute of its time at best, so a nudge any sooner could arrive before the request itself,
/// and one already due when a retried request is stored is skipped.
pub type PolicyDelay = Duration<60, { 364 * DAY }>;
/// How long a decided or expired record is kept after its expiry (DynamoDB TTL).
pub type Retention = Duration<60, { 3650 * DAY }>;
/// Lambda's timeout range.
pub type FunctionTimeout = Duration<1, 900>;

/// A reviewer's email address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl FromStr for Email {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let parsed = email_address::EmailAddress::from_str(text)
            .map_err(|e| format!("`{text}` is not a valid email address ({e})"))?;
        // SNS email subscriptions want a plain mailbox, not `Name <a@b>`, and a domain with a dot.
        if parsed.display_part() != "" || !parsed.domain().contains('.') {
            return Err(format!(
                "`{text}` is not a plain email address like name@example.com"
            ));
        }
        Ok(Self(parsed.email().to_lowercase()))
    }
}

string_value!(Email, "Email", { "type": "string", "format": "email" });

/// A lower-case name for the project or an environment: it becomes part of the stack name and
/// of function, topic and state machine names, so it keeps to what all of them accept.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name<const MAX: usize>(String);

impl<const MAX: usize> Name<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> FromStr for Name<MAX> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let ok_chars = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts_with_letter = text.starts_with(|c: char| c.is_ascii_lowercase());
        if !(ok_chars
            && starts_with_letter
            && !text.ends_with('-')
            && !text.contains("--")
            && text.len() <= MAX)
        {
            return Err(format!(
                "`{text}` is not a valid name: use 1 to {MAX} lower-case letters, digits and \
                 single hyphens, starting with a letter (it becomes part of AWS resource names)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

impl<const MAX: usize> fmt::Display for Name<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Name<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_scalar(d)
    }
}

impl<const MAX: usize> Serialize for Name<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<const MAX: usize> JsonSchema for Name<MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Name_{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = "^[a-z](?:-?[a-z0-9])*$";
        json_schema!({ "type": "string", "pattern": pattern, "maxLength": MAX })
    }
}

/// The project name: `<project>-<env>-review` must fit Lambda's 64-character function names.
pub type ProjectName = Name<24>;
/// An environment name.
pub type EnvName = Name<16>;

/// The name of an SSM parameter that holds a secret (a Slack or Teams webhook URL, a bot token,
/// a client secret). The secret itself never appears in the config or the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterName(String);

impl FromStr for ParameterName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let looks_secret = text.contains("://")
            || text.starts_with("hooks.slack.com")
            || text.starts_with("xox")
            || text.contains(' ');
        if looks_secret {
            return Err(
                "this looks like the secret itself: put it in an SSM SecureString parameter \
                 (aws ssm put-parameter --type SecureString --name /hitl/webhook --value ...) \
                 and write the parameter's name here"
                    .to_owned(),
            );
        }
        let ok_chars = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
        let lower = text.trim_start_matches('/').to_ascii_lowercase();
        if text.is_empty()
            || text.len() > 1011
            || !ok_chars
            || lower.starts_with("aws")
            || lower.starts_with("ssm")
            || text.contains("//")
            || text.ends_with('/')
            // A name in a hierarchy is fully qualified ("Working with parameter hierarchies",
            // Systems Manager User Guide): it begins with `/`.
            || (text.contains('/') && !text.starts_with('/'))
        {
            return Err(format!(
                "`{text}` is not an SSM parameter name: use letters, digits and _ . - /, like \
                 /hitl/webhook (names may not begin with aws or ssm)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

/// A Slack channel's id (`C0123456789`; a private channel's may start with `G`): the app posts
/// by id, which a rename does not change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackChannelId(String);

impl FromStr for SlackChannelId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let valid = (9..=21).contains(&text.len())
            && text.starts_with(['C', 'G'])
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        match valid {
            true => Ok(Self(text.to_owned())),
            false => Err(format!(
                "`{text}` is not a Slack channel id: open the channel's details in Slack and copy                  the id at the bottom, like C0123456789 (not the channel's name)"
            )),
        }
    }
}

string_value!(SlackChannelId, "SlackChannelId", {
    "type": "string",
    "pattern": "^[CG][A-Z0-9]{8,20}$"
});

/// The base URL of Slack's Web API: `https://` (`https://slack.com/api/`, or GovSlack's), or
/// plain HTTP to this machine for the local environment's stand-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackApiUrl(String);

impl FromStr for SlackApiUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let local = ["http://127.0.0.1:", "http://localhost:"];
        let host = text
            .strip_prefix("https://")
            .map(|rest| rest.split('/').next());
        let valid = matches!(host, Some(Some(h)) if !h.is_empty())
            || local.iter().any(|l| text.starts_with(l));
        if !valid || text.contains(char::is_whitespace) {
            return Err(format!(
                "`{text}` is not Slack's API URL: write https://slack.com/api/ (the default), or                  GovSlack's https://slack-gov.com/api/"
            ));
        }
        Ok(Self(format!("{}/", text.trim_end_matches('/'))))
    }
}

string_value!(SlackApiUrl, "SlackApiUrl", { "type": "string", "format": "uri" });

/// An OpenID Connect issuer, exactly as written: the ID token's `iss` must equal it character
/// for character, so it is never normalised (a trailing slash stays). `https://` with a host, or
/// plain HTTP to this machine for the local environment's provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// Whether it is the `http://` issuer of a provider on this machine.
    pub fn is_loopback(&self) -> bool {
        self.0.starts_with("http://")
    }
}

impl FromStr for IssuerUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let refuse = |why: &str| {
            Err(format!(
                "`{text}` is not an issuer: {why}; write the provider's issuer exactly as its \
                 discovery document gives it, like https://login.example.com/"
            ))
        };
        if text.len() > 2048 {
            return refuse("it is longer than 2048 characters");
        }
        if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return refuse("it has a space in it");
        }
        if text.contains(['?', '#']) {
            return refuse("an issuer has no query and no fragment");
        }
        let valid = match (text.strip_prefix("https://"), text.strip_prefix("http://")) {
            (Some(rest), _) => authority(rest).is_some_and(is_host),
            (_, Some(rest)) => authority(rest).is_some_and(is_loopback),
            _ => false,
        };
        if !valid {
            return refuse(
                "it must be https:// and a host (http:// only to 127.0.0.1 or localhost)",
            );
        }
        Ok(Self(text.to_owned()))
    }
}

/// The authority of a URL's `rest` after its scheme, split into host and port: the host
/// non-empty, the port (if written) a number.
fn authority(rest: &str) -> Option<(&str, Option<u16>)> {
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port.parse().ok()?)),
        None => (authority, None),
    };
    (!host.is_empty()).then_some((host, port))
}

/// A host name or an IPv4 address: letters, digits, dots and hyphens.
fn is_host((host, _): (&str, Option<u16>)) -> bool {
    host.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// This machine, by address or by name.
fn is_loopback((host, _): (&str, Option<u16>)) -> bool {
    host == "127.0.0.1" || host == "localhost"
}

string_value!(IssuerUrl, "IssuerUrl", {
    "type": "string",
    "format": "uri",
    "maxLength": 2048,
    "pattern": "^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|localhost))(:[0-9]+)?(/[^?#\\s]*)?$"
});

/// The client id the identity provider gave the kit's application: visible ASCII, no spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId(String);

impl FromStr for ClientId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let visible = text.bytes().all(|b| (0x21..=0x7E).contains(&b));
        if !(1..=255).contains(&text.len()) || !visible {
            return Err(format!(
                "`{text}` is not a client id: write the id the identity provider gave the kit's \
                 application, 1 to 255 visible ASCII characters without spaces"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(ClientId, "ClientId", {
    "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"
});

/// The ID token claim matched against the reviewers' addresses: `email`, `preferred_username`,
/// `upn`, `sub`…
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimName(String);

impl ClaimName {
    /// The default: the `email` claim.
    pub fn email() -> Self {
        Self("email".to_owned())
    }
}

impl FromStr for ClaimName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let ok_chars = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c));
        if !(1..=64).contains(&text.len()) || !ok_chars {
            return Err(format!(
                "`{text}` is not a claim name: write the ID token claim holding the reviewer's \
                 address, like email, preferred_username or upn (1 to 64 letters, digits and \
                 _ : . -)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(ClaimName, "ClaimName", {
    "type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_:.-]+$"
});

/// The resource part of `text`, an ARN of `service` in a region and an account
/// (`arn:aws…:<service>:<region>:<12 digits>:<resource>`).
fn arn_resource<'a>(text: &'a str, service: &str) -> Option<&'a str> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ["arn", partition, in_service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    (partition.starts_with("aws") && *in_service == service && region_ok && account_ok)
        .then_some(*resource)
}

/// The ARN of a KMS key (not an alias: IAM grants `kms:Decrypt` on keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKeyArn(String);

impl FromStr for KmsKeyArn {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let valid = arn_resource(text, "kms").is_some_and(|resource| {
            resource.strip_prefix("key/").is_some_and(|id| {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        });
        if !valid {
            return Err(format!(
                "`{text}` is not a KMS key ARN: write the key's ARN, like \
                 arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab \
                 (an alias cannot be granted kms:Decrypt)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(KmsKeyArn, "KmsKeyArn", {
    "type": "string",
    "pattern": "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"
});

/// The ARN of an SNS topic the alarms notify (an existing one, of the stack's account and
/// region: CloudWatch alarms notify topics in their own region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicArn(String);

impl FromStr for TopicArn {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let valid = arn_resource(text, "sns").is_some_and(|name| {
            (1..=256).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        });
        if !valid {
            return Err(format!(
                "`{text}` is not an SNS topic ARN: write the topic's ARN, like \
                 arn:aws:sns:eu-west-1:111122223333:ops-alarms"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(TopicArn, "TopicArn", {
    "type": "string",
    "pattern": "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$"
});

string_value!(ParameterName, "ParameterName", {
    "type": "string",
    "pattern": "^[A-Za-z0-9_./-]+$",
    "description": "The NAME of an SSM SecureString parameter holding a secret (never the secret itself)."
});

/// Lambda memory in MB, 128 to 10240.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryMb(u32);

impl MemoryMb {
    pub const fn new(mb: u32) -> Self {
        assert!(mb >= 128 && mb <= 10_240);
        Self(mb)
    }
}

impl FromStr for MemoryMb {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.parse::<u32>() {
            Ok(mb) if (128..=10_240).contains(&mb) => Ok(Self(mb)),
            _ => Err(format!(
                "`{text}` is not a memory size Lambda accepts: use a whole number of MB from 128 \
                 to 10240"
            )),
        }
    }
}

number_value!(MemoryMb, "MemoryMb", { "type": "integer", "minimum": 128, "maximum": 10240 });

/// How many different reviewers must approve a request, 1 to 100 (at most the reviewers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum(u32);

impl Quorum {
    pub const ONE: Self = Self(1);
}

impl FromStr for Quorum {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(Self(n)),
            _ => Err(format!(
                "`{text}` is not a quorum: use how many reviewers must approve, a whole number \
                 from 1 (the default: one approval decides) to the number of reviewers"
            )),
        }
    }
}

number_value!(Quorum, "Quorum", { "type": "integer", "minimum": 1, "maximum": 100 });

/// An S3 bucket name, by S3's general purpose bucket naming rules: 3 to 63 characters of
/// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no
/// `..`, not an IP address, none of the reserved prefixes and suffixes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BucketName(String);

impl FromStr for BucketName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let refuse = |why: &str| {
            Err(format!(
                "`{text}` is not an S3 bucket name: {why} (see S3's bucket naming rules)"
            ))
        };
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&text.len()) {
            return refuse("it must be 3 to 63 characters long");
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        {
            return refuse("use only lowercase letters, digits, dots and hyphens");
        }
        if !edge(text.chars().next()) || !edge(text.chars().last()) {
            return refuse("it must begin and end with a letter or a digit");
        }
        if text.contains("..") {
            return refuse("two dots may not be adjacent");
        }
        if text.parse::<std::net::Ipv4Addr>().is_ok() {
            return refuse("it may not be formatted as an IP address");
        }
        for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
            if text.starts_with(prefix) {
                return refuse(&format!("the prefix `{prefix}` is reserved"));
            }
        }
        for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
            if text.ends_with(suffix) {
                return refuse(&format!("the suffix `{suffix}` is reserved"));
            }
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(BucketName, "BucketName", {
    "type": "string", "minLength": 3, "maxLength": 63, "pattern": "^[a-z0-9][a-z0-9.-]*[a-z0-9]$"
});

/// The retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// A CloudWatch Logs retention in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRetentionDays(u32);

impl LogRetentionDays {
    pub const fn new(days: u32) -> Self {
        Self(days)
    }
}

impl FromStr for LogRetentionDays {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.parse::<u32>() {
            Ok(days) if LOG_RETENTION_DAYS.contains(&days) => Ok(Self(days)),
            _ => Err(format!(
                "`{text}` is not a retention CloudWatch Logs accepts: use one of {}",
                LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")
            )),
        }
    }
}

number_value!(LogRetentionDays, "LogRetentionDays", { "type": "integer", "enum": LOG_RETENTION_DAYS });

/// A bounded positive number (API Gateway throttling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounded<const MIN: u32, const MAX: u32>(f64);

impl<const MIN: u32, const MAX: u32> Bounded<MIN, MAX> {
    pub const fn new(v: f64) -> Self {
        Self(v)
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<const MIN: u32, const MAX: u32> FromStr for Bounded<MIN, MAX> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= f64::from(MIN) && v <= f64::from(MAX) => Ok(Self(v)),
            _ => Err(format!(
                "`{text}` is out of range: use a number from {MIN} to {MAX}"
            )),
        }
    }
}

impl<const MIN: u32, const MAX: u32> fmt::Display for Bounded<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_scalar(d)
    }
}

impl<const MIN: u32, const MAX: u32> Serialize for Bounded<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 {
            s.serialize_u64(self.0 as u64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<const MIN: u32, const MAX: u32> JsonSchema for Bounded<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Bounded_{MIN}_{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "minimum": MIN, "maximum": MAX })
    }
}

/// Steady-state requests per second on the review API.
pub type ThrottleRate = Bounded<1, 10_000>;
/// Burst of requests on the review API.
pub type ThrottleBurst = Bounded<1, 5_000>;

/// A resource tag key: AWS reserves `aws:`, the kit reserves `hitl:`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagKey(String);

fn tag_chars_ok(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

impl FromStr for TagKey {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("hitl:") {
            return Err(format!(
                "tag key `{text}` uses a reserved prefix (aws: belongs to AWS, hitl: to this kit)"
            ));
        }
        if text.is_empty() || text.chars().count() > 128 || !tag_chars_ok(text) {
            return Err(format!(
                "`{text}` is not a valid tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(TagKey, "TagKey", { "type": "string", "minLength": 1, "maxLength": 128 });

/// A resource tag value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagValue(String);

impl FromStr for TagValue {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.chars().count() > 256 || !tag_chars_ok(text) {
            return Err(format!(
                "`{text}` is not a valid tag value: up to 256 letters, digits, spaces and _ . : / = + - @"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(TagValue, "TagValue", { "type": "string", "maxLength": 256 });

/// An AWS region name such as `eu-west-1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(String);

impl FromStr for Region {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('-').collect();
        let ok = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit());
        if !ok {
            return Err(format!(
                "`{text}` is not an AWS region name like eu-west-1 or us-east-1"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(Region, "Region", { "type": "string", "pattern": "^[a-z]+(-[a-z0-9]+)+-[0-9]+$" });

/// The CPU architecture of the functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Architecture {
    #[serde(rename = "arm64")]
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The architecture that is not this one.
    pub fn other(self) -> Self {
        match self {
            Self::Arm64 => Self::X86_64,
            Self::X86_64 => Self::Arm64,
        }
    }

    /// The Rust target Lambda runs this architecture's functions on.
    pub fn rust_target(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64-unknown-linux-gnu",
            Self::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "arm64" => Ok(Self::Arm64),
            "x86_64" => Ok(Self::X86_64),
            _ => Err(format!(
                "`{text}` is not a Lambda architecture: use arm64 or x86_64"
            )),
        }
    }
}

/// What CloudFormation does with the approvals table when it leaves the stack (DynamoDB has no
/// `Snapshot`; point-in-time recovery is always on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum DeletionPolicy {
    Retain,
    RetainExceptOnCreate,
    Delete,
}

/// What runs the approval workflow: a Step Functions state machine that waits on a task token,
/// or a Lambda durable function that waits on a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Orchestrator {
    StepFunctions,
    DurableFunction,
}

impl Orchestrator {
    /// As written in the config, and as the review function's `ORCHESTRATOR` reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StepFunctions => "step-functions",
            Self::DurableFunction => "durable-function",
        }
    }

    /// The function binaries the stack deploys: the review function, and the request function
    /// (the state machine's task) or the durable workflow.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            Self::StepFunctions => &["request", "review"],
            Self::DurableFunction => &["workflow", "review"],
        }
    }
}

/// Where the stack is deployed: real AWS, or the local emulator on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Aws,
    Local,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("45m"), Ok(2_700));
        assert_eq!(parse_secs("24h"), Ok(86_400));
        assert_eq!(parse_secs("7d"), Ok(604_800));
        for bad in [
            "",
            "5",
            "5x",
            "h",
            "1.5h",
            "-3s",
            "5 h",
            "99999999999999999999d",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        assert_eq!(format_secs(90), "90s");
        assert_eq!(format_secs(2_700), "45m");
        assert_eq!(format_secs(86_400), "1d");
        assert_eq!(format_secs(0), "0s");
        for secs in [1, 59, 61, 3_600, 90_000, 604_800] {
            assert_eq!(parse_secs(&format_secs(secs)), Ok(secs));
        }
    }

    #[test]
    fn durations_enforce_their_range() {
        assert!("0s".parse::<ApprovalTimeout>().is_err());
        assert!("365d".parse::<ApprovalTimeout>().is_err());
        assert_eq!(
            "364d".parse::<ApprovalTimeout>().map(|d| d.secs()),
            Ok(364 * DAY)
        );
        assert!("901s".parse::<FunctionTimeout>().is_err());
    }

    #[test]
    fn names_keep_to_what_aws_resource_names_accept() {
        for good in ["hitl", "a", "pay-ments2", "x1-y2"] {
            assert!(good.parse::<ProjectName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "Hitl",
            "1abc",
            "a_b",
            "a--b",
            "abc-",
            "-abc",
            "a.b",
            &"a".repeat(25),
        ] {
            assert!(bad.parse::<ProjectName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_plain_mailboxes() {
        assert_eq!(
            "Ana@Example.com".parse::<Email>().unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "Ana <ana@example.com>",
            "a b@c.d",
        ] {
            assert!(bad.parse::<Email>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_is_refused_where_a_parameter_name_belongs() {
        let err = "https://hooks.slack.com/services/T0/B0/XYZ"
            .parse::<ParameterName>()
            .unwrap_err();
        assert!(err.contains("SecureString"), "{err}");
        assert!("xoxb-123-456".parse::<ParameterName>().is_err());
        assert!("/hitl/slack-webhook".parse::<ParameterName>().is_ok());
        assert!("/aws/reserved".parse::<ParameterName>().is_err());
        // In a hierarchy, a name begins with `/`; a flat one need not.
        assert!("hitl/slack-webhook".parse::<ParameterName>().is_err());
        assert!("slack-webhook".parse::<ParameterName>().is_ok());
    }

    #[test]
    fn a_parameter_name_refuses_any_secret_pasted_in_its_place() {
        let err = "https://prod-00.westeurope.logic.azure.com:443/workflows/abc"
            .parse::<ParameterName>()
            .unwrap_err();
        assert!(
            !err.contains("Slack") && err.contains("SecureString"),
            "{err}"
        );
        assert!(!err.contains("workflows"), "the secret is echoed: {err}");
        assert!("/hitl/teams-webhook".parse::<ParameterName>().is_ok());
        assert!("/hitl/oidc-secret".parse::<ParameterName>().is_ok());
    }

    #[test]
    fn issuers_are_https_or_this_machine_and_kept_as_written() {
        for good in [
            "https://login.example.com/",
            "https://login.example.com",
            "https://login.microsoftonline.com/0000-1111/v2.0",
            "https://idp.example.com:8443/realms/hitl",
            "http://127.0.0.1:8080",
            "http://localhost:9000/oidc/",
            "http://127.0.0.1",
            "http://localhost/issuer",
        ] {
            let issuer = good.parse::<IssuerUrl>();
            assert_eq!(issuer.map(|i| i.to_string()), Ok(good.to_owned()), "{good}");
        }
        assert!(
            !"https://login.example.com/"
                .parse::<IssuerUrl>()
                .unwrap()
                .is_loopback()
        );
        assert!(
            "http://localhost:9000"
                .parse::<IssuerUrl>()
                .unwrap()
                .is_loopback()
        );
        for bad in [
            "",
            "login.example.com",
            "https://",
            "https:///path",
            "http://login.example.com/",
            "http://127.0.0.2:8080",
            "http://localhost.example.com/",
            "https://login.example.com/?tenant=1",
            "https://login.example.com/#top",
            "https://login example.com/",
            "https://login.example.com/ ",
            "https://login.example.com:port/",
            "https://user@login.example.com/",
            "ftp://login.example.com/",
            &format!("https://login.example.com/{}", "a".repeat(2030)),
        ] {
            assert!(bad.parse::<IssuerUrl>().is_err(), "{bad:?}");
        }
        let err = "http://login.example.com/"
            .parse::<IssuerUrl>()
            .unwrap_err();
        assert!(err.contains("https://login.example.com/"), "{err}");
    }

    #[test]
    fn client_ids_are_visible_ascii() {
        for good in [
            "hitl-reviews",
            "0oa1b2c3d4e5f6g7h8i9",
            "123456789012-abc.apps.googleusercontent.com",
            "00000000-1111-2222-3333-444444444444",
            &"x".repeat(255),
        ] {
            assert!(good.parse::<ClientId>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "hitl reviews",
            "hitl\treviews",
            "café",
            &"x".repeat(256),
        ] {
            assert!(bad.parse::<ClientId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn claim_names_are_short_and_plain() {
        for good in [
            "email",
            "preferred_username",
            "upn",
            "sub",
            "urn:ex.claim-1",
        ] {
            assert!(good.parse::<ClaimName>().is_ok(), "{good}");
        }
        for bad in ["", "e mail", "email!", "emaíl", "a/b", &"c".repeat(65)] {
            assert!(bad.parse::<ClaimName>().is_err(), "{bad:?}");
        }
        assert_eq!(ClaimName::email().as_str(), "email");
    }

    #[test]
    fn kms_keys_are_named_by_their_arn() {
        let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            key.parse::<KmsKeyArn>().map(|k| k.to_string()),
            Ok(key.to_owned())
        );
        assert!(
            "arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234"
                .parse::<KmsKeyArn>()
                .is_ok()
        );
        for bad in [
            "alias/my-key",
            "arn:aws:kms:eu-west-1:111122223333:alias/my-key",
            "arn:aws:kms:eu-west-1:1111:key/1234",
            "arn:aws:kms:eu-west-1:111122223333:key/",
            "arn:aws:s3:eu-west-1:111122223333:key/1234",
        ] {
            assert!(bad.parse::<KmsKeyArn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn alarm_topics_are_named_by_their_arn() {
        for good in [
            "arn:aws:sns:eu-west-1:111122223333:ops-alarms",
            "arn:aws-us-gov:sns:us-gov-west-1:111122223333:ops.alarms_1",
        ] {
            assert!(good.parse::<TopicArn>().is_ok(), "{good}");
        }
        for bad in [
            "ops-alarms",
            "arn:aws:sns:eu-west-1:1111:ops",
            "arn:aws:sqs:eu-west-1:111122223333:ops",
            "arn:aws:sns:eu-west-1:111122223333:",
            "arn:aws:sns:eu-west-1:111122223333:a/b",
        ] {
            let error = bad.parse::<TopicArn>().unwrap_err();
            assert!(error.contains("not an SNS topic ARN"), "{error}");
        }
    }

    #[test]
    fn lambda_limits_are_enforced() {
        assert!("0".parse::<Quorum>().is_err());
        assert!("101".parse::<Quorum>().is_err());
        assert_eq!("2".parse::<Quorum>().map(Quorum::get), Ok(2));
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "bucket_name",
            "-bucket",
            "bucket.",
            "my..bucket",
            "192.168.5.4",
            "xn--bucket",
            "sthree-data",
            "data-s3alias",
            "data--ol-s3",
        ] {
            assert!(bad.parse::<BucketName>().is_err(), "{bad}");
        }
        for good in ["abc", "my-bucket.data-1", "123-bucket", &"a".repeat(63)] {
            assert!(good.parse::<BucketName>().is_ok(), "{good}");
        }
        assert!("127".parse::<MemoryMb>().is_err());
        assert!("10241".parse::<MemoryMb>().is_err());
        assert!("abc".parse::<MemoryMb>().is_err());
        assert_eq!("1769".parse::<MemoryMb>().map(MemoryMb::get), Ok(1769));
        assert!("31".parse::<LogRetentionDays>().is_err());
        assert!("30".parse::<LogRetentionDays>().is_ok());
    }

    #[test]
    fn tags_refuse_reserved_prefixes() {
        assert!("aws:foo".parse::<TagKey>().is_err());
        assert!("HITL:env".parse::<TagKey>().is_err());
        assert!("team".parse::<TagKey>().is_ok());
        assert!("bad\u{7}".parse::<TagValue>().is_err());
    }

    #[test]
    fn regions_look_like_regions() {
        for good in ["eu-west-1", "us-gov-west-1", "ap-southeast-4"] {
            assert!(good.parse::<Region>().is_ok(), "{good}");
        }
        for bad in ["eu-west", "EU-WEST-1", "euwest1", "eu-west-1a"] {
            assert!(bad.parse::<Region>().is_err(), "{bad}");
        }
    }
}
