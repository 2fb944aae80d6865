//! Who signed a call: the SigV4 credential of the `Authorization` header or of a presigned URL's
//! query.
//!
//! Signature Version 4 ("Elements of an AWS API request signature", "Authenticating requests:
//! Using query parameters" in the IAM user guide and the Amazon S3 API reference): the
//! `Authorization` header is `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
//! SignedHeaders=…, Signature=…`; a presigned URL carries the same credential in
//! `X-Amz-Credential`, its signing time in `X-Amz-Date` (`YYYYMMDD'T'HHMMSS'Z'`), its lifetime in
//! seconds in `X-Amz-Expires`, and a session's token in `X-Amz-Security-Token`.

use super::request::Call;

/// The algorithm of every SigV4 signature.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// A SigV4 credential scope: `AKID/DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id (`AKIA…` for a user's key, `ASIA…` for a session's).
    pub access_key: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service: the signing name (`dynamodb`, `states`, `scheduler`, `s3`, …).
    pub service: String,
}

/// What a presigned URL says of its own validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// `X-Amz-Date`, as sent (`20250101T120000Z`).
    pub date: String,
    /// `X-Amz-Expires`, in seconds.
    pub expires: u64,
    /// Whether the URL carries `X-Amz-Security-Token` (signed with a session's credentials).
    pub security_token: bool,
}

impl Presigned {
    /// The signing time, in seconds since the Unix epoch; `None` if `date` is malformed.
    pub fn signed_at(&self) -> Option<i64> {
        unix_seconds(&self.date)
    }

    /// The end of the URL's validity (signing time plus `X-Amz-Expires`), in seconds since the
    /// Unix epoch; `None` if `date` is malformed.
    pub fn expires_at(&self) -> Option<i64> {
        let expires = i64::try_from(self.expires).ok()?;
        self.signed_at()?.checked_add(expires)
    }
}

/// The credential a call is signed with: the `Authorization` header's, else the presigned
/// URL's `X-Amz-Credential`. `None` for an unsigned call or a malformed credential.
pub fn credential(call: &Call) -> Option<Credential> {
    let scope = match call.header("authorization") {
        Some(header) => header_credential(header)?,
        None => call.query_param("X-Amz-Credential")?,
    };
    parse_scope(&scope)
}

/// The access key id a call is signed with.
pub fn access_key(call: &Call) -> Option<String> {
    credential(call).map(|c| c.access_key)
}

/// The service of the call's credential scope (its signing name).
pub fn service(call: &Call) -> Option<String> {
    credential(call).map(|c| c.service)
}

/// The presigned URL's validity, if the call is a presigned URL (its query carries
/// `X-Amz-Algorithm`, `X-Amz-Credential` and `X-Amz-Date`, and no `Authorization` header).
/// A missing or malformed `X-Amz-Expires` gives `None`: AWS refuses such a URL.
pub fn presigned(call: &Call) -> Option<Presigned> {
    if call.header("authorization").is_some() {
        return None;
    }
    if call.query_param("X-Amz-Algorithm")? != ALGORITHM {
        return None;
    }
    call.query_param("X-Amz-Credential")?;
    Some(Presigned {
        date: call.query_param("X-Amz-Date")?,
        expires: call.query_param("X-Amz-Expires")?.parse().ok()?,
        security_token: call.query_param("X-Amz-Security-Token").is_some(),
    })
}

/// The session token a call carries: the `X-Amz-Security-Token` header, else the query
/// parameter of a presigned URL.
pub fn security_token(call: &Call) -> Option<String> {
    call.header("x-amz-security-token")
        .map(str::to_owned)
        .or_else(|| call.query_param("X-Amz-Security-Token"))
}

/// The `Credential=` component of a SigV4 `Authorization` header.
fn header_credential(header: &str) -> Option<String> {
    let rest = header.trim().strip_prefix(ALGORITHM)?;
    rest.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))
        .map(str::to_owned)
}

/// `AKID/DATE/REGION/SERVICE/aws4_request`.
fn parse_scope(scope: &str) -> Option<Credential> {
    let parts: Vec<&str> = scope.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = parts.as_slice() else {
        return None;
    };
    if access_key.is_empty() || service.is_empty() {
        return None;
    }
    Some(Credential {
        access_key: (*access_key).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
    })
}

/// `YYYYMMDDTHHMMSSZ` in seconds since the Unix epoch.
fn unix_seconds(stamp: &str) -> Option<i64> {
    let bytes = stamp.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = stamp.get(from..to)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (number(0, 4)?, number(4, 6)?, number(6, 8)?);
    let (hour, minute, second) = (number(9, 11)?, number(11, 13)?, number(13, 15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(headers: &'a [(String, String)], query: &'a str) -> Call<'a> {
        Call {
            method: "GET",
            path: "/",
            query,
            headers,
            body: b"",
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY123456/20250102/eu-west-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=abc123";

    #[test]
    fn the_authorization_header_names_the_key_and_the_service() {
        let h = headers(&[("Authorization", AUTH), ("X-Amz-Security-Token", "tok")]);
        let c = call(&h, "");
        assert_eq!(
            credential(&c),
            Some(Credential {
                access_key: "ASIAEXAMPLEKEY123456".into(),
                date: "20250102".into(),
                region: "eu-west-1".into(),
                service: "dynamodb".into(),
            })
        );
        assert_eq!(access_key(&c).as_deref(), Some("ASIAEXAMPLEKEY123456"));
        assert_eq!(service(&c).as_deref(), Some("dynamodb"));
        assert_eq!(security_token(&c).as_deref(), Some("tok"));
        assert_eq!(presigned(&c), None);
    }

    #[test]
    fn a_presigned_url_names_the_key_its_lifetime_and_its_token() {
        let h = headers(&[("host", "bucket.s3.eu-west-1.amazonaws.com")]);
        let query = "x-id=GetObject&X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=ASIAEXAMPLEKEY123456%2F20250102%2Feu-west-1%2Fs3%2Faws4_request\
            &X-Amz-Date=20250102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
            &X-Amz-Security-Token=IQo%2Btoken&X-Amz-Signature=deadbeef";
        let c = call(&h, query);
        assert_eq!(access_key(&c).as_deref(), Some("ASIAEXAMPLEKEY123456"));
        assert_eq!(service(&c).as_deref(), Some("s3"));
        let p = presigned(&c).expect("presigned");
        assert_eq!(p.date, "20250102T030405Z");
        assert_eq!(p.expires, 900);
        assert!(p.security_token);
        // 2025-01-02T03:04:05Z
        assert_eq!(p.signed_at(), Some(1_735_787_045));
        assert_eq!(p.expires_at(), Some(1_735_787_945));
        assert_eq!(security_token(&c).as_deref(), Some("IQo+token"));
    }

    #[test]
    fn malformed_credentials_give_nothing() {
        for auth in [
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=x",
            "AWS4-HMAC-SHA256 Credential=AKID/20250102/us-east-1/s3",
            "AWS4-HMAC-SHA256 Credential=/20250102/us-east-1/s3/aws4_request",
            "AWS AKID:signature",
            "",
        ] {
            let h = headers(&[("authorization", auth)]);
            assert_eq!(credential(&call(&h, "")), None, "{auth}");
        }
        assert_eq!(credential(&call(&[], "")), None);
    }

    #[test]
    fn a_malformed_presigned_date_has_no_time() {
        for date in [
            "2025010T030405Z",
            "20251302T030405Z",
            "2025010xT030405Z",
            "é",
        ] {
            let p = Presigned {
                date: date.into(),
                expires: 1,
                security_token: false,
            };
            assert_eq!(p.signed_at(), None, "{date}");
        }
        let far = Presigned {
            date: "20250102T030405Z".into(),
            expires: u64::MAX,
            security_token: false,
        };
        assert_eq!(far.expires_at(), None);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
