//! Amounts as money: `642.80 EUR`, with as many decimals as the currency has minor units
//! (ISO 4217: the yen none, the euro two, the Bahraini dinar three). An amount is never rounded:
//! one with more decimals than its currency has, or in a currency the standard does not know,
//! is shown as given.

use serde_json::Number;

/// The currencies whose minor unit is not a hundredth (ISO 4217, list one): none, or a
/// thousandth, or (the Chilean and Uruguayan units of account) a ten-thousandth.
const NOT_HUNDREDTHS: &[(&str, u8)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// The active ISO 4217 currencies whose minor unit is a hundredth.
const HUNDREDTHS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR",
    "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU",
    "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The number of decimals of `currency`'s minor unit (ISO 4217), matched without regard to case
/// or surrounding spaces; `None` for a code the standard does not list (or lists without a minor
/// unit, as gold).
pub fn minor_units(currency: &str) -> Option<u8> {
    let code = currency.trim().to_ascii_uppercase();
    if code.len() != 3 {
        return None;
    }
    if let Some((_, units)) = NOT_HUNDREDTHS.iter().find(|(c, _)| *c == code) {
        return Some(*units);
    }
    HUNDREDTHS.contains(&code.as_str()).then_some(2)
}

/// `amount` in `currency`: `642.80 EUR`, `1250 JPY`, `1.500 BHD`. Padded with zeros to the
/// currency's decimals, never cut or rounded; as given when the currency is unknown, the amount
/// is in exponent form, or it has more decimals than the currency.
pub fn amount_text(amount: &Number, currency: Option<&str>) -> String {
    let given = amount.to_string();
    let Some(currency) = currency else {
        return given;
    };
    let shown = minor_units(currency)
        .and_then(|units| padded(&given, usize::from(units)))
        .unwrap_or(given);
    format!("{shown} {currency}")
}

/// `number` (a plain decimal, as serde_json writes one) with exactly `decimals` decimals, by
/// adding zeros; `None` when that would drop a digit or the form is not plain.
fn padded(number: &str, decimals: usize) -> Option<String> {
    if !number
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return None;
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > decimals {
        return None;
    }
    Some(match decimals {
        0 => whole.to_owned(),
        _ => format!("{whole}.{fraction:0<decimals$}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(amount: serde_json::Value, currency: &str) -> String {
        let Some(amount) = amount.as_number() else {
            panic!("{amount} is not a number");
        };
        amount_text(amount, Some(currency))
    }

    #[test]
    fn each_currency_has_its_own_decimals() {
        assert_eq!(money(json!(642.8), "EUR"), "642.80 EUR");
        assert_eq!(money(json!(642), "USD"), "642.00 USD");
        assert_eq!(money(json!(0.5), "GBP"), "0.50 GBP");
        assert_eq!(money(json!(-3.1), "CHF"), "-3.10 CHF");
        assert_eq!(money(json!(1250), "JPY"), "1250 JPY");
        assert_eq!(money(json!(1.5), "BHD"), "1.500 BHD");
        assert_eq!(money(json!(2), "KWD"), "2.000 KWD");
        for code in ["OMR", "TND", "JOD", "IQD", "LYD"] {
            assert_eq!(minor_units(code), Some(3), "{code}");
        }
        assert_eq!(minor_units("CLF"), Some(4));
        assert_eq!(minor_units(" eur "), Some(2));
    }

    #[test]
    fn an_amount_is_never_rounded_or_guessed() {
        // More decimals than the currency has: as given, the reviewer sees the true number.
        assert_eq!(money(json!(10.125), "EUR"), "10.125 EUR");
        assert_eq!(money(json!(1000.5), "JPY"), "1000.5 JPY");
        // A code ISO 4217 does not know, or one without a minor unit: as given.
        assert_eq!(money(json!(12.5), "BTC"), "12.5 BTC");
        assert_eq!(money(json!(3), "XAU"), "3 XAU");
        assert_eq!(money(json!(3), "euros"), "3 euros");
        // Exponent forms are left alone.
        assert_eq!(money(json!(1e300), "EUR"), format!("{} EUR", json!(1e300)));
        // No currency: the number as given.
        let Some(amount) = json!(7.5).as_number().cloned() else {
            panic!("a number");
        };
        assert_eq!(amount_text(&amount, None), "7.5");
    }

    #[test]
    fn the_lists_hold_each_code_once() {
        let mut codes: Vec<&str> = HUNDREDTHS.to_vec();
        codes.extend(NOT_HUNDREDTHS.iter().map(|(c, _)| *c));
        let count = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), count, "a code is listed twice");
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }
}
