//! Wildcard patterns, policy variables and ARN matching, as the IAM User Guide describes them
//! ("IAM JSON policy elements: Resource", "Condition operators", "Variables and tags").

use crate::Context;

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// This character, literally.
    Lit(char),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Compiles `raw` into tokens: `*` and `?` are wildcards, every other character is literal.
/// With `vars`, policy variables (`${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) are
/// substituted from the context; `None` when a variable has no value and no default (such a
/// pattern matches nothing: "Variables and tags", "Policy variables with no value").
pub(crate) fn tokens(raw: &str, vars: Option<&Context>) -> Option<Vec<Tok>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if let (Some(ctx), true) = (vars, rest.starts_with("${"))
            && let Some(end) = rest.find('}')
        {
            out.extend(variable(&rest[2..end], ctx)?);
            rest = &rest[end + 1..];
            continue;
        }
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// The value of one policy variable (the text between `${` and `}`), as literal tokens.
fn variable(inner: &str, ctx: &Context) -> Option<Vec<Tok>> {
    if let "*" | "?" | "$" = inner {
        return Some(inner.chars().map(Tok::Lit).collect());
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => (key, quoted(default.trim())),
        None => (inner, None),
    };
    let value = match lookup(ctx, key.trim()).map(Vec::as_slice) {
        // Only a single-valued key can be a variable ("Single-valued vs. multivalued").
        Some([one]) => Some(one.as_str()),
        _ => default,
    };
    value.map(|v| v.chars().map(Tok::Lit).collect())
}

/// A context key's values; keys compare case-insensitively ("Variables and tags"). The context
/// stores them lower-cased; a key stored otherwise is still found.
pub(crate) fn lookup<'c>(ctx: &'c Context, key: &str) -> Option<&'c Vec<String>> {
    let key = key.to_lowercase();
    ctx.get(&key).or_else(|| {
        ctx.iter()
            .find(|(k, _)| k.to_lowercase() == key)
            .map(|(_, v)| v)
    })
}

/// The text of a `'quoted'` default value.
fn quoted(text: &str) -> Option<&str> {
    text.strip_prefix('\'')?.strip_suffix('\'')
}

/// The tokens as plain text, wildcards as their characters (for the `Equals` operators, where
/// `*` and `?` are not wildcards).
pub(crate) fn literal(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            Tok::Star => '*',
            Tok::One => '?',
        })
        .collect()
}

/// Whether `text` matches the whole pattern (case-sensitive). Iterative, backtracking to the
/// last `*` only: linear in practice, never recursive.
pub(crate) fn glob(pattern: &[Tok], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => (p, t) = (p + 1, t + 1),
            Some(Tok::Lit(c)) if *c == text[t] => (p, t) = (p + 1, t + 1),
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    (p, t) = (sp + 1, st + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Tok::Star)
}

/// Whether an action (`service:Action`) matches a policy's action pattern: case-insensitive,
/// `*` and `?` wildcards ("IAM JSON policy elements: Action").
pub(crate) fn action_matches(pattern: &str, action: &str) -> bool {
    tokens(&pattern.to_lowercase(), None).is_some_and(|toks| glob(&toks, &action.to_lowercase()))
}

/// Whether a resource ARN matches a `Resource`/`NotResource` entry ("IAM JSON policy elements:
/// Resource"): `*` alone matches everything; otherwise each of the six colon-separated ARN
/// segments is matched on its own (the last, the resource part, keeps its colons), wildcards
/// stay within their segment, none may appear in the service segment, and policy variables
/// are substituted in the resource part only (when `vars` is given).
pub(crate) fn resource_matches(pattern: &str, resource: &str, vars: Option<&Context>) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some(pat), Some(res)) = (six(pattern), six(resource)) else {
        return false;
    };
    if pat[2].contains(['*', '?']) {
        return false;
    }
    let head = (0..5).all(|i| tokens(pat[i], None).is_some_and(|toks| glob(&toks, res[i])));
    head && tokens(pat[5], vars).is_some_and(|toks| glob(&toks, res[5]))
}

/// An ARN's six segments (`arn:partition:service:region:account:resource`), or `None`.
fn six(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let mut out = [""; 6];
    for slot in &mut out {
        *slot = parts.next()?;
    }
    Some(out)
}

/// `ArnLike`/`ArnEquals` ("Condition operators", ARN): each of the six colon-delimited
/// components matched separately, wildcards allowed in any of them. A value or pattern that is
/// not six components matches only one of the same shape.
pub(crate) fn arn_like(pattern: &[Tok], value: &str) -> bool {
    let groups = split_tokens(pattern);
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    groups.len() == parts.len() && groups.iter().zip(parts).all(|(g, part)| glob(g, part))
}

/// Splits tokens at literal colons into at most six groups (the sixth keeps its colons).
fn split_tokens(pattern: &[Tok]) -> Vec<&[Tok]> {
    let mut groups = Vec::with_capacity(6);
    let mut rest = pattern;
    while groups.len() < 5 {
        match rest.iter().position(|t| *t == Tok::Lit(':')) {
            Some(i) => {
                groups.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => break,
        }
    }
    groups.push(rest);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    fn like(pattern: &str, text: &str) -> bool {
        glob(&tokens(pattern, None).unwrap_or_default(), text)
    }

    // "Condition operators" (String): `*` any run of characters, `?` exactly one.
    #[test]
    fn glob_wildcards() {
        assert!(like("a*c", "abbbc"));
        assert!(like("a*c", "ac"));
        assert!(like("a?c", "abc"));
        assert!(!like("a?c", "ac"));
        assert!(like("*", ""));
        assert!(!like("abc", "abcd"));
        assert!(like("*/test/*", "1/2/test/3/x.jpg"));
        assert!(!like("a*b*c", "a-b-d"));
        assert!(!like("ABC", "abc"), "case-sensitive");
    }

    // "IAM JSON policy elements: Resource": `*` expands across `/` within the resource part.
    #[test]
    fn resource_wildcard_spans_slashes() {
        let p = "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*";
        for key in [
            "1/test/object.jpg",
            "1/2/3/test/4/object.jpg",
            "1///test///object.jpg",
        ] {
            assert!(resource_matches(
                p,
                &format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}"),
                None
            ));
        }
        for key in ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"] {
            assert!(!resource_matches(
                p,
                &format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{key}"),
                None
            ));
        }
    }

    // "IAM JSON policy elements: Resource": wildcards work within a segment, not across colons,
    // and not in the service segment.
    #[test]
    fn resource_segments() {
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
        assert!(resource_matches(
            "arn:aws:dynamodb:*:*:table/t",
            table,
            None
        ));
        assert!(!resource_matches("arn:aws:dynamodb:*:table/t", table, None));
        assert!(!resource_matches(
            "arn:aws:*:us-east-1:123456789012:table/t",
            table,
            None
        ));
        assert!(resource_matches("*", table, None));
        assert!(resource_matches("*", "*", None));
        assert!(!resource_matches("arn:aws:dynamodb:*:*:*", "*", None));
        // The resource part keeps its colons: a log group's streams.
        let stream = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:x";
        assert!(resource_matches(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*",
            stream,
            None
        ));
    }

    // "Variables and tags": substitution, defaults, special characters, missing values.
    #[test]
    fn variables() {
        let c = ctx(&[("aws:username", "alice")]);
        let lit = |raw: &str| tokens(raw, Some(&c)).map(|t| literal(&t));
        assert_eq!(lit("home/${aws:username}/").as_deref(), Some("home/alice/"));
        assert_eq!(
            lit("${AWS:UserName}").as_deref(),
            Some("alice"),
            "key case-insensitive"
        );
        assert_eq!(
            lit("b-${aws:PrincipalTag/team, 'company-wide'}").as_deref(),
            Some("b-company-wide")
        );
        assert_eq!(lit("${aws:PrincipalTag/team}"), None);
        assert_eq!(lit("${unclosed").as_deref(), Some("${unclosed"));
        // `${*}` is a literal asterisk, not a wildcard.
        let star = tokens("a${*}", Some(&c)).unwrap_or_default();
        assert!(glob(&star, "a*"));
        assert!(!glob(&star, "ab"));
        // Without variables (Version 2008-10-17) the text is literal.
        assert!(like("${aws:username}", "${aws:username}"));
    }

    // "Single-valued vs. multivalued context keys": a multivalued key is no variable.
    #[test]
    fn multivalued_key_is_no_variable() {
        let mut c = Context::new();
        c.insert("aws:tagkeys".into(), vec!["a".into(), "b".into()]);
        assert_eq!(tokens("${aws:TagKeys}", Some(&c)), None);
    }

    // "Condition operators" (ARN): the page's own example: StringLike matches, ArnLike not.
    #[test]
    fn arn_like_per_component() {
        let pattern =
            tokens("arn:aws:someservice:*:111122223333:finance/*", None).unwrap_or_default();
        let value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(glob(&pattern, value));
        assert!(!arn_like(&pattern, value));
        assert!(arn_like(
            &pattern,
            "arn:aws:someservice:us-east-2:111122223333:finance/a:b"
        ));
    }
}
