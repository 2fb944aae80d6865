//! The typed values condition operators compare ("IAM JSON policy elements: Condition
//! operators"): numbers, dates (W3C ISO 8601 or epoch seconds), booleans and IP ranges. Each
//! parser answers `None` for text that is not such a value; the operator then does not match
//! that value.

use std::net::IpAddr;

/// An integer or decimal (`-12`, `3.5`); not `NaN`, `inf` or exponents.
pub(crate) fn number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (all_digits(int) && all_digits(frac)).then(|| text.parse().ok())?
}

/// `true` or `false`, in any case.
pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A point in time, in nanoseconds since the Unix epoch: epoch seconds (all digits, maybe a
/// fraction) or one of the W3C ISO 8601 profiles (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.s]]TZD`, TZD `Z` or `±hh:mm`). Four digits alone read as epoch
/// seconds, since the date keys (`aws:EpochTime`) carry those.
pub(crate) fn instant(text: &str) -> Option<i128> {
    if number(text).is_some() {
        return epoch(text);
    }
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let days = civil_days(date)?;
    let nanos = match time {
        Some(time) => time_of_day(time)?,
        None => 0,
    };
    Some(i128::from(days) * 86_400 * 1_000_000_000 + nanos)
}

/// Epoch seconds (`1577836801`, `-1.5`) as nanoseconds, exactly (fractions past 9 digits cut).
fn epoch(text: &str) -> Option<i128> {
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches(['-', '+']);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let whole = int.parse::<i128>().ok()?.checked_mul(1_000_000_000)?;
    let nanos = whole.checked_add(frac.parse::<i128>().ok()?)?;
    Some(if negative { -nanos } else { nanos })
}

/// Days since 1970-01-01 of `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
fn civil_days(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let year = fixed(parts.next()?, 4)?;
    let month = parts.next().map_or(Some(1), |m| fixed(m, 2))?;
    let day = parts.next().map_or(Some(1), |d| fixed(d, 2))?;
    let valid = parts.next().is_none() && (1..=12).contains(&month);
    (valid && day >= 1 && day <= month_length(year, month))
        .then(|| days_from_civil(year, month, day))
}

/// Exactly `width` ASCII digits, as a number.
fn fixed(text: &str, width: usize) -> Option<i64> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

fn month_length(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `hh:mm[:ss[.s]]` followed by `Z` or `±hh:mm`, as nanoseconds from midnight UTC.
fn time_of_day(time: &str) -> Option<i128> {
    let split = time.rfind(['Z', '+', '-'])?;
    let (clock, zone) = time.split_at(split);
    let mut parts = clock.split(':');
    let hours = fixed(parts.next()?, 2)?;
    let minutes = fixed(parts.next()?, 2)?;
    let seconds = parts.next().map_or(Some(0), seconds)?;
    let offset = zone_offset(zone)?;
    let ok = parts.next().is_none() && hours < 24 && minutes < 60;
    let local = i128::from((hours * 60 + minutes) * 60 - offset) * 1_000_000_000;
    ok.then_some(local + seconds)
}

/// `ss` or `ss.s…` (below 61), as nanoseconds.
fn seconds(text: &str) -> Option<i128> {
    let whole = text.split('.').next()?;
    let ok = whole.len() == 2 && number(text).is_some_and(|s| s < 61.0);
    ok.then(|| epoch(text))?
}

/// The offset of `Z` or `±hh:mm`, in seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = zone.get(1..)?.split_once(':')?;
    Some(sign * (fixed(hours, 2)? * 3600 + fixed(minutes, 2)? * 60))
}

/// An IP range: `address/prefix`, or an address alone (`/32` for IPv4, `/128` for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u32,
}

impl Cidr {
    /// Parses `203.0.113.0/24`, `2001:DB8::/64` or a bare address.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, prefix): (IpAddr, _) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.parse().ok()?, Some(prefix.parse().ok()?)),
            None => (text.parse().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether the address `ip` lies in this range (same family only).
    pub(crate) fn contains(&self, ip: &str) -> bool {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return false;
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(net.to_bits().into(), ip.to_bits().into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(net.to_bits(), ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of two `width`-bit addresses agree.
fn same_prefix(a: u128, b: u128, width: u32, prefix: u32) -> bool {
    let shift = width - prefix;
    shift >= width || (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i128 = 86_400 * 1_000_000_000;

    // "Condition operators" (Numeric): integers and decimals.
    #[test]
    fn numbers() {
        assert_eq!(number("10"), Some(10.0));
        assert_eq!(number("-2.5"), Some(-2.5));
        for bad in ["", "NaN", "inf", "1e3", "1.", ".5", "ten"] {
            assert_eq!(number(bad), None, "{bad}");
        }
    }

    // "Condition operators" (Date): W3C ISO 8601 profiles and epoch time, one timeline.
    #[test]
    fn instants() {
        let at = |t: &str| instant(t).unwrap_or(i128::MIN);
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("1970-01-02"), DAY);
        assert_eq!(at("2020-01-01T00:00:01Z"), at("1577836801"));
        assert_eq!(at("2020-01-01T01:00:00+01:00"), at("2020-01-01T00:00:00Z"));
        assert_eq!(
            at("2020-01-01T00:00:00.5Z") - at("2020-01-01T00:00:00Z"),
            500_000_000
        );
        assert_eq!(
            at("2020-03-01") - at("2020-02-28"),
            2 * DAY,
            "2020 is a leap year"
        );
        assert_eq!(
            at("2020-01-01T10:30Z") - at("2020-01-01"),
            (10 * 60 + 30) * 60 * 1_000_000_000
        );
        for bad in [
            "2020-13-01",
            "2021-02-29",
            "2020-01-01T25:00Z",
            "2020-01-01T10:00",
            "yesterday",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    // "Condition operators" (IP address): CIDR, default /32, IPv6.
    #[test]
    fn cidrs() {
        let net = Cidr::parse("203.0.113.0/24");
        assert!(net.is_some_and(|n| n.contains("203.0.113.255")));
        assert!(net.is_some_and(|n| !n.contains("203.0.114.1")));
        assert!(
            Cidr::parse("203.0.113.7")
                .is_some_and(|n| n.contains("203.0.113.7") && !n.contains("203.0.113.8"))
        );
        assert!(
            Cidr::parse("2001:DB8:1234:5678::/64")
                .is_some_and(|n| n.contains("2001:db8:1234:5678::1"))
        );
        assert!(
            Cidr::parse("0.0.0.0/0").is_some_and(|n| n.contains("8.8.8.8") && !n.contains("::1"))
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
    }
}
