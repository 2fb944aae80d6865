//! Condition operators and their evaluation ("IAM JSON policy elements: Condition operators",
//! "Conditions with multiple context keys or values").

use super::pattern::{self, Tok};
use super::scalar::{self, Cidr};
use crate::Context;

/// What a condition operator compares, before negation, `IfExists` and set qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// `StringEquals` (negated: `StringNotEquals`): exact, case-sensitive.
    StringEquals,
    /// `StringEqualsIgnoreCase` (negated: `StringNotEqualsIgnoreCase`).
    StringEqualsIgnoreCase,
    /// `StringLike` (negated: `StringNotLike`): `*` and `?` wildcards, case-sensitive.
    StringLike,
    /// `ArnEquals`/`ArnLike` (negated: `ArnNotEquals`/`ArnNotLike`), which behave identically:
    /// each colon-delimited component matched separately, with wildcards.
    ArnLike,
    /// `NumericEquals` (negated: `NumericNotEquals`).
    NumericEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals` (negated: `DateNotEquals`).
    DateEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`.
    Bool,
    /// `BinaryEquals`: the base-64 text compared as given.
    BinaryEquals,
    /// `IpAddress` (negated: `NotIpAddress`).
    IpAddress,
    /// `Null`: whether the key is absent (`true`) or present (`false`).
    Null,
}

/// How several context values of one key are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// `ForAllValues:`: every context value must satisfy the operator (true when none).
    ForAllValues,
    /// `ForAnyValue:`: at least one context value must satisfy it (false when none).
    ForAnyValue,
}

/// A parsed condition operator, such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The comparison.
    pub test: Test,
    /// A negated operator (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, …).
    pub negated: bool,
    /// The `…IfExists` suffix: a missing key makes the condition true.
    pub if_exists: bool,
    /// The `ForAllValues:`/`ForAnyValue:` prefix, if any.
    pub set: Option<SetQualifier>,
}

/// Operator names, without qualifiers: (name, test, negated).
const NAMES: [(&str, Test, bool); 26] = [
    ("StringEquals", Test::StringEquals, false),
    ("StringNotEquals", Test::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Test::StringLike, false),
    ("StringNotLike", Test::StringLike, true),
    ("ArnEquals", Test::ArnLike, false),
    ("ArnLike", Test::ArnLike, false),
    ("ArnNotEquals", Test::ArnLike, true),
    ("ArnNotLike", Test::ArnLike, true),
    ("NumericEquals", Test::NumericEquals, false),
    ("NumericNotEquals", Test::NumericEquals, true),
    ("NumericLessThan", Test::NumericLessThan, false),
    ("NumericLessThanEquals", Test::NumericLessThanEquals, false),
    ("NumericGreaterThan", Test::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Test::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", Test::DateEquals, false),
    ("DateNotEquals", Test::DateEquals, true),
    ("DateLessThan", Test::DateLessThan, false),
    ("DateLessThanEquals", Test::DateLessThanEquals, false),
    ("DateGreaterThan", Test::DateGreaterThan, false),
    ("DateGreaterThanEquals", Test::DateGreaterThanEquals, false),
    ("Bool", Test::Bool, false),
    ("BinaryEquals", Test::BinaryEquals, false),
    ("IpAddress", Test::IpAddress, false),
    ("NotIpAddress", Test::IpAddress, true),
];

impl Operator {
    /// Parses an operator name (case-insensitively). `Null` takes neither `IfExists` nor a set
    /// qualifier.
    pub fn parse(name: &str) -> Result<Self, String> {
        let lower = name.to_ascii_lowercase();
        let (set, rest) = if let Some(rest) = lower.strip_prefix("forallvalues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = lower.strip_prefix("foranyvalue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, lower.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("ifexists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        if base == "null" && !if_exists && set.is_none() {
            return Ok(Self {
                test: Test::Null,
                negated: false,
                if_exists,
                set,
            });
        }
        let (_, test, negated) = NAMES
            .iter()
            .find(|(n, ..)| n.eq_ignore_ascii_case(base))
            .ok_or_else(|| format!("unknown condition operator {name:?}"))?;
        Ok(Self {
            test: *test,
            negated: *negated,
            if_exists,
            set,
        })
    }
}

/// One condition: an operator, a context key (lower-cased) and the policy's values for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// The condition key, lower-cased (keys are case-insensitive).
    pub key: String,
    /// The policy's values (OR-ed; NOR-ed for a negated operator).
    pub values: Vec<String>,
}

impl Condition {
    /// Whether the condition holds for `ctx`. `variables`: policy variables are substituted in
    /// the values of String, ARN and Bool operators (policy Version 2012-10-17).
    pub fn holds(&self, ctx: &Context, variables: bool) -> bool {
        let present = pattern::lookup(ctx, &self.key).filter(|v| !v.is_empty());
        let op = &self.operator;
        if op.test == Test::Null {
            let absent = present.is_none();
            return self
                .values
                .iter()
                .any(|v| scalar::boolean(v) == Some(absent));
        }
        let Some(context_values) = present else {
            return missing(op);
        };
        let vars = (variables && takes_variables(op.test)).then_some(ctx);
        let patterns: Vec<Option<Pattern>> = self
            .values
            .iter()
            .map(|v| Pattern::new(op.test, v, vars))
            .collect();
        let hit = |cv: &String| patterns.iter().flatten().any(|p| p.matches(op.test, cv));
        match op.set {
            Some(SetQualifier::ForAllValues) => {
                context_values.iter().all(|cv| hit(cv) != op.negated)
            }
            Some(SetQualifier::ForAnyValue) => {
                context_values.iter().any(|cv| hit(cv) != op.negated)
            }
            None => context_values.iter().any(hit) != op.negated,
        }
    }
}

/// A condition whose key is not in the context: `…IfExists` is true; `ForAllValues` true,
/// `ForAnyValue` false; otherwise false, or true for a negated operator ("Condition operators").
fn missing(op: &Operator) -> bool {
    match (op.if_exists, op.set) {
        (true, _) => true,
        (false, Some(SetQualifier::ForAllValues)) => true,
        (false, Some(SetQualifier::ForAnyValue)) => false,
        (false, None) => op.negated,
    }
}

/// Operators whose values may hold policy variables ("Condition operators", "Variables and
/// tags"): String, ARN and Boolean.
fn takes_variables(test: Test) -> bool {
    use Test::*;
    matches!(
        test,
        StringEquals | StringEqualsIgnoreCase | StringLike | ArnLike | Bool
    )
}

/// One policy value, compiled for its operator.
enum Pattern {
    Text(String),
    Wild(Vec<Tok>),
    Number(f64),
    Instant(i128),
    Bool(bool),
    Range(Cidr),
}

impl Pattern {
    /// Compiles a policy value; `None` when it cannot match anything (a variable with no value,
    /// or text that is no value of the operator's type).
    fn new(test: Test, raw: &str, vars: Option<&Context>) -> Option<Self> {
        use Test::*;
        Some(match test {
            StringEquals | BinaryEquals => {
                Self::Text(pattern::literal(&pattern::tokens(raw, vars)?))
            }
            StringEqualsIgnoreCase => {
                Self::Text(pattern::literal(&pattern::tokens(raw, vars)?).to_lowercase())
            }
            StringLike | ArnLike => Self::Wild(pattern::tokens(raw, vars)?),
            Bool => Self::Bool(scalar::boolean(&pattern::literal(&pattern::tokens(
                raw, vars,
            )?))?),
            IpAddress => Self::Range(Cidr::parse(raw)?),
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Self::Instant(scalar::instant(raw)?),
            _ => Self::Number(scalar::number(raw)?),
        })
    }

    /// Whether the context value `cv` satisfies the (positive) comparison.
    fn matches(&self, test: Test, cv: &str) -> bool {
        match self {
            Self::Text(t) if test == Test::StringEqualsIgnoreCase => *t == cv.to_lowercase(),
            Self::Text(t) => t == cv,
            Self::Wild(toks) if test == Test::ArnLike => pattern::arn_like(toks, cv),
            Self::Wild(toks) => pattern::glob(toks, cv),
            Self::Bool(b) => scalar::boolean(cv) == Some(*b),
            Self::Range(net) => net.contains(cv),
            Self::Number(n) => scalar::number(cv).is_some_and(|c| ordered(test, c.partial_cmp(n))),
            Self::Instant(t) => scalar::instant(cv).is_some_and(|c| ordered(test, Some(c.cmp(t)))),
        }
    }
}

/// Whether `context.cmp(policy)` satisfies a Numeric or Date comparison.
fn ordered(test: Test, order: Option<std::cmp::Ordering>) -> bool {
    use Test::*;
    use std::cmp::Ordering::*;
    match (test, order) {
        (_, None) => false,
        (NumericEquals | DateEquals, Some(o)) => o == Equal,
        (NumericLessThan | DateLessThan, Some(o)) => o == Less,
        (NumericLessThanEquals | DateLessThanEquals, Some(o)) => o != Greater,
        (NumericGreaterThan | DateGreaterThan, Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context from (key, value) pairs; a repeated key gets several values.
    fn ctx(pairs: &[(&str, &str)]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.entry(k.to_lowercase()).or_default().push(v.to_string());
        }
        c
    }

    /// Whether `operator: {key: values}` holds in `context` (variables on).
    fn holds_in(operator: &str, key: &str, values: &[&str], context: &Context) -> bool {
        let operator = Operator::parse(operator).expect("a known operator");
        let values = values.iter().map(|v| v.to_string()).collect();
        let condition = Condition {
            operator,
            key: key.to_lowercase(),
            values,
        };
        condition.holds(context, true)
    }

    fn holds(operator: &str, key: &str, values: &[&str], context: &[(&str, &str)]) -> bool {
        holds_in(operator, key, values, &ctx(context))
    }

    // "Condition operators": names, IfExists, set qualifiers; Null takes no IfExists.
    #[test]
    fn operator_names() {
        let op = Operator::parse("ForAnyValue:StringNotLikeIfExists").expect("valid");
        assert_eq!(
            (op.test, op.negated, op.if_exists),
            (Test::StringLike, true, true)
        );
        assert_eq!(op.set, Some(SetQualifier::ForAnyValue));
        assert_eq!(
            Operator::parse("ArnEquals").map(|o| o.test),
            Ok(Test::ArnLike)
        );
        assert_eq!(
            Operator::parse("stringequals").map(|o| o.test),
            Ok(Test::StringEquals)
        );
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("StringSimilar").is_err());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_err());
    }

    // "Condition operators" (String): case-sensitive, IgnoreCase, Like with wildcards.
    #[test]
    fn string_operators() {
        let key = "aws:PrincipalTag/job-category";
        let tag = [(key, "iamuser-admin")];
        assert!(holds("StringEquals", key, &["iamuser-admin"], &tag));
        assert!(!holds("StringEquals", key, &["IAMUSER-ADMIN"], &tag));
        assert!(holds(
            "StringEqualsIgnoreCase",
            key,
            &["IAMUSER-Admin"],
            &tag
        ));
        assert!(!holds(
            "StringNotEqualsIgnoreCase",
            key,
            &["IAMUSER-Admin"],
            &tag
        ));
        assert!(holds("StringLike", key, &["iamuser-*"], &tag));
        assert!(!holds("StringEquals", key, &["iamuser-*"], &tag));
        assert!(holds("StringNotLike", key, &["admin-*"], &tag));
    }

    // "Condition operators" (Important): a missing key fails a positive operator and satisfies
    // a negated one; ...IfExists is true on a missing key.
    #[test]
    fn missing_key() {
        let positive = [
            "StringEquals",
            "StringLike",
            "ArnLike",
            "NumericEquals",
            "DateEquals",
        ];
        for op in positive.into_iter().chain(["IpAddress", "Bool"]) {
            assert!(!holds(op, "k", &["1"], &[]), "{op}");
        }
        let negated = [
            "StringNotEquals",
            "StringNotLike",
            "ArnNotLike",
            "ArnNotEquals",
        ];
        for op in negated
            .into_iter()
            .chain(["NumericNotEquals", "DateNotEquals", "NotIpAddress"])
        {
            assert!(holds(op, "k", &["1"], &[]), "{op}");
        }
        assert!(holds("StringEqualsIfExists", "k", &["x"], &[]));
        assert!(holds("StringNotEqualsIfExists", "k", &["x"], &[]));
        assert!(!holds("StringEqualsIfExists", "k", &["x"], &[("k", "y")]));
        let types = ["t1.*", "t2.*", "m3.*"];
        let micro = [("ec2:InstanceType", "t2.micro")];
        assert!(holds(
            "StringLikeIfExists",
            "ec2:InstanceType",
            &types,
            &micro
        ));
    }

    // "Condition operators" (Null): true means absent, false means present.
    #[test]
    fn null_operator() {
        let present = [("aws:TokenIssueTime", "2020-01-01T00:00:00Z")];
        assert!(holds("Null", "aws:TokenIssueTime", &["true"], &[]));
        assert!(!holds("Null", "aws:TokenIssueTime", &["true"], &present));
        assert!(holds("Null", "aws:TokenIssueTime", &["false"], &present));
        assert!(!holds("Null", "aws:TokenIssueTime", &["false"], &[]));
    }

    // "Condition operators" (ARN): ArnEquals and ArnLike behave identically; per component.
    #[test]
    fn arn_operators() {
        let source = [("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic")];
        for op in ["ArnEquals", "ArnLike"] {
            assert!(holds(
                op,
                "aws:SourceArn",
                &["arn:aws:sns:*:123456789012:topic"],
                &source
            ));
            assert!(!holds(
                op,
                "aws:SourceArn",
                &["arn:aws:sns:*:999999999999:topic"],
                &source
            ));
        }
        let other_account = ["arn:aws:sns:*:999999999999:*"];
        assert!(holds(
            "ArnNotEquals",
            "aws:SourceArn",
            &other_account,
            &source
        ));
        assert!(!holds(
            "ArnNotLike",
            "aws:SourceArn",
            &["arn:aws:sns:us-east-?:*:*"],
            &source
        ));
    }

    // "Condition operators" (Numeric): s3:max-keys up to 10.
    #[test]
    fn numeric_operators() {
        let keys = |n| [("s3:max-keys", n)];
        assert!(holds(
            "NumericLessThanEquals",
            "s3:max-keys",
            &["10"],
            &keys("10")
        ));
        assert!(!holds(
            "NumericLessThanEquals",
            "s3:max-keys",
            &["10"],
            &keys("11")
        ));
        assert!(holds(
            "NumericLessThan",
            "s3:max-keys",
            &["10"],
            &keys("9.5")
        ));
        assert!(holds(
            "NumericGreaterThan",
            "s3:max-keys",
            &["10"],
            &keys("11")
        ));
        assert!(holds(
            "NumericGreaterThanEquals",
            "s3:max-keys",
            &["10"],
            &keys("10")
        ));
        assert!(holds(
            "NumericEquals",
            "s3:max-keys",
            &["10"],
            &keys("10.0")
        ));
        assert!(holds(
            "NumericNotEquals",
            "s3:max-keys",
            &["10"],
            &keys("3")
        ));
        assert!(!holds(
            "NumericEquals",
            "s3:max-keys",
            &["ten"],
            &keys("10")
        ));
    }

    // "Condition operators" (Date): ISO 8601 and epoch, compared as instants.
    #[test]
    fn date_operators() {
        let key = "aws:TokenIssueTime";
        let issued = [(key, "2020-06-01T12:00:00Z")];
        assert!(holds(
            "DateGreaterThan",
            key,
            &["2020-01-01T00:00:01Z"],
            &issued
        ));
        assert!(!holds(
            "DateLessThan",
            key,
            &["2020-01-01T00:00:01Z"],
            &issued
        ));
        assert!(holds("DateEquals", key, &["1591012800"], &issued));
        assert!(holds(
            "DateLessThanEquals",
            key,
            &["2020-06-01T14:00:00+02:00"],
            &issued
        ));
        let epoch = [("aws:EpochTime", "1591012800")];
        assert!(holds(
            "DateGreaterThanEquals",
            "aws:EpochTime",
            &["2020-06-01"],
            &epoch
        ));
        assert!(holds(
            "DateNotEquals",
            "aws:EpochTime",
            &["2020-06-02"],
            &epoch
        ));
    }

    // "Condition operators" (Boolean, Binary).
    #[test]
    fn bool_and_binary() {
        let https = [("aws:SecureTransport", "true")];
        assert!(holds("Bool", "aws:SecureTransport", &["true"], &https));
        assert!(holds("Bool", "aws:SecureTransport", &["TRUE"], &https));
        assert!(!holds("Bool", "aws:SecureTransport", &["false"], &https));
        assert!(!holds("Bool", "aws:SecureTransport", &["yes"], &https));
        let blob = "QmluYXJ5VmFsdWVJbkJhc2U2NA==";
        assert!(holds("BinaryEquals", "k", &[blob], &[("k", blob)]));
    }

    // "Condition operators" (IP address): CIDR, IPv4 and IPv6 mixed.
    #[test]
    fn ip_operators() {
        let ranges = ["203.0.113.0/24", "2001:DB8:1234:5678::/64"];
        let from = |ip| [("aws:SourceIp", ip)];
        assert!(holds(
            "IpAddress",
            "aws:SourceIp",
            &ranges,
            &from("203.0.113.9")
        ));
        assert!(holds(
            "IpAddress",
            "aws:SourceIp",
            &ranges,
            &from("2001:db8:1234:5678::9")
        ));
        assert!(!holds(
            "IpAddress",
            "aws:SourceIp",
            &ranges,
            &from("198.51.100.1")
        ));
        assert!(holds(
            "NotIpAddress",
            "aws:SourceIp",
            &ranges,
            &from("198.51.100.1")
        ));
    }

    // "Conditions with multiple context keys or values": values OR-ed; a negated operator's
    // values NOR-ed.
    #[test]
    fn values_or_and_nor() {
        let key = "aws:PrincipalAccount";
        let account = [(key, "123456789012")];
        let accounts = ["111111111111", "123456789012"];
        assert!(holds("StringEquals", key, &accounts, &account));
        assert!(!holds("StringNotEquals", key, &accounts, &account));
        assert!(holds(
            "StringNotEquals",
            key,
            &["111111111111", "222222222222"],
            &account
        ));
    }

    // "Single-valued vs. multivalued context keys" (ForAllValues table, without its Null).
    #[test]
    fn for_all_values() {
        let allowed = ["environment", "cost-center"];
        let (op, key) = ("ForAllValues:StringEquals", "aws:TagKeys");
        assert!(holds(op, key, &allowed, &[(key, "environment")]));
        assert!(holds(
            op,
            key,
            &allowed,
            &[(key, "environment"), (key, "cost-center")]
        ));
        assert!(!holds(
            op,
            key,
            &allowed,
            &[(key, "environment"), (key, "dept")]
        ));
        assert!(holds(op, key, &allowed, &[]), "true on a missing key");
        let empty: Context = [("aws:tagkeys".to_string(), Vec::new())].into();
        assert!(holds_in(op, key, &allowed, &empty), "true on an empty set");
    }

    // "Single-valued vs. multivalued context keys" (ForAnyValue table).
    #[test]
    fn for_any_value() {
        let wanted = ["environment", "cost-center"];
        let (op, key) = ("ForAnyValue:StringEquals", "aws:TagKeys");
        assert!(holds(
            op,
            key,
            &wanted,
            &[(key, "environment"), (key, "dept")]
        ));
        assert!(!holds(op, key, &wanted, &[(key, "dept")]));
        assert!(!holds(op, key, &wanted, &[]), "false on a missing key");
        assert!(holds("ForAnyValue:StringEqualsIfExists", key, &wanted, &[]));
    }

    // "Multivalued context key examples": ForAllValues:StringNotLike, one and two patterns.
    #[test]
    fn for_all_values_negated() {
        let (op, key) = ("ForAllValues:StringNotLike", "aws:TagKeys");
        assert!(!holds(
            op,
            key,
            &["key1*"],
            &[(key, "key1:hr"), (key, "key1:personnel")]
        ));
        assert!(holds(op, key, &["key1*"], &[(key, "key2:audit")]));
        assert!(holds(op, key, &["key1*"], &[]));
        let two = ["key1*", "key2*"];
        assert!(!holds(
            op,
            key,
            &two,
            &[(key, "key1:hr"), (key, "key2:audit")]
        ));
        assert!(holds(op, key, &two, &[(key, "key3:legal")]));
    }

    // "Variables and tags": variables in String and ARN values; a variable with no value
    // matches nothing (positive false, negated true); none in Numeric.
    #[test]
    fn variables_in_values() {
        let c = [("aws:username", "alice"), ("s3:prefix", "alice/docs")];
        assert!(holds("StringLike", "s3:prefix", &["${aws:username}/*"], &c));
        assert!(!holds("StringLike", "s3:prefix", &["${aws:userid}/*"], &c));
        assert!(holds(
            "StringNotLike",
            "s3:prefix",
            &["${aws:userid}/*"],
            &c
        ));
        assert!(holds(
            "StringLike",
            "s3:prefix",
            &["${aws:userid, 'alice'}/*"],
            &c
        ));
        let arn = "arn:aws:sqs:us-east-1:123456789012:q";
        let src = [
            ("aws:SourceArn", arn),
            ("aws:SourceAccount", "123456789012"),
        ];
        let pattern = ["arn:aws:sqs:*:${aws:SourceAccount}:*"];
        assert!(holds("ArnLike", "aws:SourceArn", &pattern, &src));
        let account = ["${aws:SourceAccount}"];
        assert!(!holds("NumericEquals", "aws:SourceAccount", &account, &src));
    }

    // Condition with multivalued context but no set qualifier (not documented): a positive
    // operator matches when any value does; a negated one when none does.
    #[test]
    fn multivalued_without_qualifier() {
        let key = "aws:TagKeys";
        let tags = [(key, "a"), (key, "b")];
        assert!(holds("StringEquals", key, &["b"], &tags));
        assert!(!holds("StringNotEquals", key, &["b"], &tags));
        assert!(holds("StringNotEquals", key, &["c"], &tags));
    }
}
