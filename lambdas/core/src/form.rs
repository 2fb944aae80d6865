//! The guards on a reviewer's POST: the cross-site check and the form body.

use std::fmt;

use crate::record::Decision;

/// Longest comment, in characters (after trimming).
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Largest form body accepted, in bytes (before decoding): room for a comment of
/// [`MAX_COMMENT_CHARS`] characters of up to 3 UTF-8 bytes each, percent-encoded (9 bytes per
/// character), and the other fields.
pub const MAX_FORM_BYTES: usize = 9 * MAX_COMMENT_CHARS + 512;

/// A well-formed POST: `decision=approve|reject&comment=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionForm {
    pub decision: Decision,
    /// Trimmed, line ends as `\n`; may be empty.
    pub comment: String,
}

/// Why a form body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Over [`MAX_FORM_BYTES`].
    TooLarge { bytes: usize },
    /// No `decision` field.
    MissingDecision,
    /// `decision` is neither `approve` nor `reject`.
    InvalidDecision,
    /// A field given more than once, so which one counts would be a guess.
    Repeated(&'static str),
    /// The comment is over [`MAX_COMMENT_CHARS`] characters.
    CommentTooLong { chars: usize },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { bytes } => write!(
                f,
                "The form is {bytes} bytes; at most {MAX_FORM_BYTES} are accepted. Shorten the comment."
            ),
            Self::MissingDecision => {
                f.write_str("The form has no decision: press Approve or Reject.")
            }
            Self::InvalidDecision => {
                f.write_str("The decision must be approve or reject: press Approve or Reject.")
            }
            Self::Repeated(field) => write!(f, "The form gives the field {field} more than once."),
            Self::CommentTooLong { chars } => write!(
                f,
                "The comment is {chars} characters long; at most {MAX_COMMENT_CHARS} are accepted."
            ),
        }
    }
}

impl std::error::Error for FormError {}

/// Why a request to the review function is refused before any record is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A POST from another site (403).
    CrossSite,
    /// A bad form body (400, or 413 when too large).
    Form(FormError),
    /// A method other than GET, HEAD or POST (405).
    Method,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::CrossSite => 403,
            Self::Form(FormError::TooLarge { .. }) => 413,
            Self::Form(_) => 400,
            Self::Method => 405,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CrossSite => f.write_str(
                "This form was sent from another site. Open your link from the email and decide on its page.",
            ),
            Self::Form(error) => error.fmt(f),
            Self::Method => f.write_str("This page only answers GET and POST."),
        }
    }
}

/// Parses an `application/x-www-form-urlencoded` body (percent-decoding, `+` as space). Unknown
/// fields are ignored.
pub fn parse(body: &[u8]) -> Result<DecisionForm, FormError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(FormError::TooLarge { bytes: body.len() });
    }
    let mut decision = None;
    let mut comment = None;
    for (key, value) in form_urlencoded::parse(body) {
        let (slot, name) = match key.as_ref() {
            "decision" => (&mut decision, "decision"),
            "comment" => (&mut comment, "comment"),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(FormError::Repeated(name));
        }
    }
    let decision = match decision.as_deref() {
        None => return Err(FormError::MissingDecision),
        Some("approve") => Decision::Approved,
        Some("reject") => Decision::Rejected,
        Some(_) => return Err(FormError::InvalidDecision),
    };
    let comment = comment
        .as_deref()
        .unwrap_or_default()
        .replace("\r\n", "\n")
        .trim()
        .to_owned();
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(FormError::CommentTooLong { chars });
    }
    Ok(DecisionForm { decision, comment })
}

/// True when a POST must be refused as cross-site. With `Sec-Fetch-Site` present, only
/// `same-origin` and `none` (the user's own navigation) pass. Without it, an `Origin` header
/// must name the same host (and port) as `Host`; `Origin: null` and an `Origin` without a
/// `Host` are refused. With neither header it is not a browser's cross-site form: allowed.
pub fn cross_site(sec_fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
    if let Some(site) = sec_fetch_site {
        let site = site.trim();
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let Some(origin) = origin else {
        return false;
    };
    let Some(host) = host else {
        return true;
    };
    let origin = origin.trim();
    let Some((scheme, authority)) = origin.split_once("://") else {
        return true; // "null" or garbage
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return true;
    }
    let scheme = scheme.to_ascii_lowercase();
    normalise_authority(authority, &scheme) != normalise_authority(host.trim(), &scheme)
}

/// Lowercase, with the scheme's default port dropped.
fn normalise_authority(authority: &str, scheme: &str) -> String {
    let lower = authority.to_ascii_lowercase();
    let default = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return lower,
    };
    match lower.strip_suffix(default) {
        Some(bare) => bare.to_owned(),
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> DecisionForm {
        parse(body.as_bytes()).expect("valid form")
    }

    fn err(body: &str) -> FormError {
        parse(body.as_bytes()).expect_err("refused")
    }

    #[test]
    fn decisions_and_comments() {
        assert_eq!(
            ok("decision=approve&comment=fine"),
            DecisionForm {
                decision: Decision::Approved,
                comment: "fine".into()
            }
        );
        assert_eq!(ok("comment=&decision=reject").decision, Decision::Rejected);
        assert_eq!(ok("decision=reject").comment, "");
        assert_eq!(ok("decision=approve&extra=1").decision, Decision::Approved);
    }

    #[test]
    fn percent_decoding_plus_as_space_trimming_and_line_ends() {
        let form =
            ok("decision=approve&comment=+%20Looks+good%2C%0D%0Ashipped+%26+%3Cdone%3E%C3%A9++");
        assert_eq!(form.comment, "Looks good,\nshipped & <done>é");
        assert_eq!(ok("decision=%61pprove").decision, Decision::Approved);
    }

    #[test]
    fn decision_must_be_present_valid_and_single() {
        assert_eq!(err(""), FormError::MissingDecision);
        assert_eq!(err("comment=hi"), FormError::MissingDecision);
        assert_eq!(err("decision="), FormError::InvalidDecision);
        assert_eq!(err("decision=Approve"), FormError::InvalidDecision);
        assert_eq!(err("decision=approved"), FormError::InvalidDecision);
        assert_eq!(err("decision=approve+"), FormError::InvalidDecision);
        assert_eq!(
            err("decision=approve&decision=reject"),
            FormError::Repeated("decision")
        );
        assert_eq!(
            err("decision=approve&comment=a&comment=b"),
            FormError::Repeated("comment")
        );
    }

    #[test]
    fn a_full_comment_in_any_script_fits_the_body_limit() {
        // 1000 CJK characters: 3 UTF-8 bytes each, 9 once percent-encoded, as browsers send it.
        let body = format!(
            "decision=reject&comment={}",
            "%E6%BC%A2".repeat(MAX_COMMENT_CHARS)
        );
        assert_eq!(ok(&body).comment.chars().count(), MAX_COMMENT_CHARS);
    }

    #[test]
    fn comment_length_counts_characters_after_trimming() {
        let at_limit = format!(
            "decision=approve&comment={}",
            "%C3%A9".repeat(MAX_COMMENT_CHARS / 2)
        );
        assert!(at_limit.len() <= MAX_FORM_BYTES);
        assert_eq!(ok(&at_limit).comment.chars().count(), MAX_COMMENT_CHARS / 2);
        let exactly = format!(
            "decision=approve&comment=++{}++",
            "x".repeat(MAX_COMMENT_CHARS)
        );
        assert_eq!(ok(&exactly).comment.len(), MAX_COMMENT_CHARS);
        let over = format!(
            "decision=approve&comment={}",
            "x".repeat(MAX_COMMENT_CHARS + 1)
        );
        assert_eq!(
            err(&over),
            FormError::CommentTooLong {
                chars: MAX_COMMENT_CHARS + 1
            }
        );
    }

    #[test]
    fn body_size_limit() {
        let prefix = "decision=approve&pad=";
        let fits = format!("{prefix}{}", "x".repeat(MAX_FORM_BYTES - prefix.len()));
        assert!(parse(fits.as_bytes()).is_ok());
        let over = format!("{prefix}{}", "x".repeat(MAX_FORM_BYTES - prefix.len() + 1));
        assert_eq!(
            err(&over),
            FormError::TooLarge {
                bytes: MAX_FORM_BYTES + 1
            }
        );
        assert_eq!(Refusal::Form(err(&over)).status(), 413);
    }

    #[test]
    fn refusal_statuses_and_messages() {
        assert_eq!(Refusal::CrossSite.status(), 403);
        assert_eq!(Refusal::Form(FormError::InvalidDecision).status(), 400);
        assert_eq!(Refusal::Method.status(), 405);
        assert_eq!(
            Refusal::Form(FormError::CommentTooLong { chars: 1200 }).to_string(),
            "The comment is 1200 characters long; at most 1000 are accepted."
        );
    }

    #[test]
    fn cross_site_by_sec_fetch_site() {
        let h = Some("api.example.com");
        assert!(!cross_site(Some("same-origin"), None, h));
        assert!(!cross_site(Some("none"), None, h));
        assert!(!cross_site(Some(" Same-Origin "), None, h));
        assert!(cross_site(Some("same-site"), None, h));
        assert!(cross_site(Some("cross-site"), None, h));
        assert!(cross_site(Some(""), None, h));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(cross_site(
            Some("cross-site"),
            Some("https://api.example.com"),
            h
        ));
        assert!(!cross_site(
            Some("same-origin"),
            Some("https://evil.example"),
            h
        ));
    }

    #[test]
    fn cross_site_by_origin_and_host() {
        let h = Some("api.example.com");
        assert!(!cross_site(None, Some("https://api.example.com"), h));
        assert!(!cross_site(None, Some("https://API.example.com"), h));
        assert!(!cross_site(None, Some("https://api.example.com:443"), h));
        assert!(!cross_site(
            None,
            Some("https://api.example.com"),
            Some("api.example.com:443")
        ));
        assert!(!cross_site(
            None,
            Some("http://localhost:9000"),
            Some("localhost:9000")
        ));
        assert!(!cross_site(
            None,
            Some("http://[::1]:9000"),
            Some("[::1]:9000")
        ));
        assert!(cross_site(
            None,
            Some("http://localhost:9001"),
            Some("localhost:9000")
        ));
        assert!(cross_site(None, Some("https://evil.example"), h));
        assert!(cross_site(
            None,
            Some("https://api.example.com.evil.example"),
            h
        ));
        assert!(cross_site(None, Some("https://api.example.com:8443"), h));
        assert!(cross_site(None, Some("null"), h));
        assert!(cross_site(None, Some(""), h));
        assert!(cross_site(None, Some("https://"), h));
        assert!(cross_site(None, Some("https://user@api.example.com"), h));
        assert!(cross_site(None, Some("https://api.example.com"), None));
        // Neither header: not a browser's cross-site form post.
        assert!(!cross_site(None, None, h));
        assert!(!cross_site(None, None, None));
    }
}
