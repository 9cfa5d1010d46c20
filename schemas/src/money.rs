//! Exact money: integer minor units plus an ISO 4217 currency.
//!
//! Money is never a float at rest. A [`Money`] holds the amount in the currency's minor units
//! (cents for USD, yen for JPY, fils for BHD), so `12.34 USD` is `1234` and `1.234 BHD` is
//! `1234`. The number of minor digits comes from ISO 4217 through [`Currency::minor_digits`].

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Errors from building currencies and money values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The code is not an active ISO 4217 currency.
    #[error("unknown currency code `{0}` (expected an ISO 4217 code such as USD, EUR, GBP)")]
    UnknownCurrency(String),
    /// The decimal text could not be read as an amount.
    #[error("`{0}` is not a decimal amount (expected digits with an optional `.` and sign)")]
    NotDecimal(String),
    /// More fractional digits than the currency has, and they are not zeros.
    #[error("`{amount}` has more decimals than {currency} allows ({digits})")]
    TooPrecise {
        /// The amount as written.
        amount: String,
        /// The currency.
        currency: Currency,
        /// The currency's minor digits.
        digits: u8,
    },
    /// The value does not fit in 64-bit minor units.
    #[error("`{0}` is too large to represent")]
    Overflow(String),
}

/// An ISO 4217 currency: its three upper-case ASCII letters and its minor digits, both fixed
/// at construction so the per-row hot paths never look anything up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    digits: u8,
}

/// Active ISO 4217 codes with their minor digits (the exceptions to the default of 2).
const ZERO_DIGIT: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const THREE_DIGIT: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DIGIT: &[&str] = &["CLF", "UYW"];
const TWO_DIGIT: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWL",
];

/// The code lists above with their minor digits.
const CODE_LISTS: [(&[&str], u8); 4] = [
    (ZERO_DIGIT, 0),
    (TWO_DIGIT, 2),
    (THREE_DIGIT, 3),
    (FOUR_DIGIT, 4),
];

/// Every accepted code with its minor digits, sorted by code for binary search.
///
/// Why: a currency is parsed on every imported row, and scanning the lists above (~180
/// string comparisons for a common code) was a tenth of the CSV connector's time.
static MINOR_DIGITS: std::sync::LazyLock<Vec<([u8; 3], u8)>> = std::sync::LazyLock::new(|| {
    let mut table: Vec<([u8; 3], u8)> = CODE_LISTS
        .iter()
        .flat_map(|(list, digits)| {
            list.iter().filter_map(move |code| {
                let code: [u8; 3] = code.as_bytes().try_into().ok()?;
                Some((code, *digits))
            })
        })
        .collect();
    table.sort_unstable();
    table
});

impl Currency {
    /// US dollar, the default for files that state no currency.
    pub const USD: Currency = Currency {
        code: *b"USD",
        digits: 2,
    };
    /// Pound sterling.
    pub const GBP: Currency = Currency {
        code: *b"GBP",
        digits: 2,
    };
    /// Euro.
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        digits: 2,
    };
    /// Japanese yen.
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        digits: 0,
    };

    /// Parses a code case-insensitively; only active ISO 4217 codes are accepted.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let trimmed = code.trim();
        let unknown = || MoneyError::UnknownCurrency(trimmed.to_string());
        let &[a, b, c] = trimmed.as_bytes() else {
            return Err(unknown());
        };
        let upper = [
            a.to_ascii_uppercase(),
            b.to_ascii_uppercase(),
            c.to_ascii_uppercase(),
        ];
        let table = &*MINOR_DIGITS;
        let at = table
            .binary_search_by_key(&upper, |(code, _)| *code)
            .map_err(|_| unknown())?;
        let digits = table[at].1;
        Ok(Currency {
            code: upper,
            digits,
        })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes were validated as ASCII letters on construction.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of minor-unit digits: JPY 0, USD 2, BHD 3, CLF 4.
    pub const fn minor_digits(&self) -> u8 {
        self.digits
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than `String::deserialize`: no allocation per amount decoded.
        struct CodeVisitor;
        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = Currency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, code: &str) -> Result<Currency, E> {
                Currency::new(code).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(CodeVisitor)
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "ISO 4217 currency code"
        })
    }
}

/// An exact amount of one currency, in integer minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    /// Money from minor units (`1234` USD is `12.34`).
    pub const fn from_minor(minor_units: i64, currency: Currency) -> Self {
        Money {
            minor_units,
            currency,
        }
    }

    /// Parses a plain decimal string (`-12.30`, `1234`, `.5`) exactly.
    ///
    /// Extra fractional digits are accepted only when they are zeros (`12.300` USD), so no
    /// value is ever rounded silently.
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        match Self::from_short_decimal(text.as_bytes(), currency) {
            Some(money) => Ok(money),
            None => Self::from_any_decimal(text, currency),
        }
    }

    /// [`Self::from_decimal_str`]'s usual case in one pass: an optional `-`, digits, and at
    /// most the currency's minor digits after a point, short enough that no overflow is
    /// possible. `None` sends anything else (signs, spaces, extra zeros, errors) to the general
    /// path. Why: every amount of every import and every decoded record is read here.
    fn from_short_decimal(bytes: &[u8], currency: Currency) -> Option<Self> {
        let (negative, digits) = match bytes.split_first()? {
            (b'-', rest) => (true, rest),
            _ => (false, bytes),
        };
        let minor_digits = usize::from(currency.minor_digits());
        // 10^18 < i64::MAX: this many digits, scaled up to the minor unit, cannot overflow.
        if digits.len() + minor_digits > 18 {
            return None;
        }
        let mut minor: i64 = 0;
        let mut seen_digit = false;
        let mut fraction_len: Option<usize> = None;
        for &byte in digits {
            match byte {
                b'0'..=b'9' => {
                    minor = minor * 10 + i64::from(byte - b'0');
                    seen_digit = true;
                    if let Some(len) = &mut fraction_len {
                        *len += 1;
                    }
                }
                b'.' if fraction_len.is_none() => fraction_len = Some(0),
                _ => return None,
            }
        }
        let fraction_len = fraction_len.unwrap_or(0);
        if !seen_digit || fraction_len > minor_digits {
            return None;
        }
        let minor = minor * 10_i64.pow((minor_digits - fraction_len) as u32);
        Some(Money::from_minor(
            if negative { -minor } else { minor },
            currency,
        ))
    }

    /// [`Self::from_decimal_str`] for any input.
    fn from_any_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let trimmed = text.trim();
        let (negative, unsigned) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(MoneyError::NotDecimal(text.to_string()));
        }
        let digits = usize::from(currency.minor_digits());
        let (kept, dropped) = fraction.split_at(fraction.len().min(digits));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooPrecise {
                amount: text.to_string(),
                currency,
                digits: currency.minor_digits(),
            });
        }
        let overflow = || MoneyError::Overflow(text.to_string());
        let mut minor: i64 = 0;
        for b in whole.bytes().chain(kept.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        for _ in kept.len()..digits {
            minor = minor.checked_mul(10).ok_or_else(overflow)?;
        }
        Ok(Money::from_minor(
            if negative { -minor } else { minor },
            currency,
        ))
    }

    /// The amount in minor units.
    pub const fn minor_units(&self) -> i64 {
        self.minor_units
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// The same amount with a non-negative sign.
    pub fn abs(&self) -> Money {
        Money::from_minor(self.minor_units.abs(), self.currency)
    }

    /// The amount as an exact decimal string with the currency's digits (`-12.30`).
    pub fn to_decimal_string(&self) -> String {
        format_minor(i128::from(self.minor_units), self.currency.minor_digits())
    }
}

/// Formats minor units as a decimal string with `digits` fractional digits.
///
/// Takes `i128` so sums of many `i64` amounts can be formatted without overflow.
pub fn format_minor(minor_units: i128, digits: u8) -> String {
    let sign = if minor_units < 0 { "-" } else { "" };
    let magnitude = minor_units.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10u128.pow(u32::from(digits));
    let width = usize::from(digits);
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// Wire form of [`Money`]: an exact decimal string and the currency code.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyWire {
    /// Exact decimal amount with the currency's minor digits, e.g. `"12.34"`.
    #[schemars(regex(pattern = r"^-?[0-9]+(\.[0-9]+)?$"))]
    pub amount: String,
    /// ISO 4217 currency code.
    pub currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyWire {
            amount: self.to_decimal_string(),
            currency: self.currency,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = MoneyWire::deserialize(deserializer)?;
        Money::from_decimal_str(&wire.amount, wire.currency).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Money {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        MoneyWire::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_parses_with_its_minor_digits_in_any_case() {
        let mut seen = std::collections::HashSet::new();
        for (list, digits) in CODE_LISTS {
            for code in list {
                assert!(seen.insert(*code), "{code} is listed twice");
                assert_eq!(
                    Currency::new(code).unwrap().minor_digits(),
                    digits,
                    "{code}"
                );
                let lower = code.to_ascii_lowercase();
                assert_eq!(Currency::new(&format!(" {lower} ")).unwrap().code(), *code);
            }
        }
        assert_eq!(MINOR_DIGITS.len(), seen.len());
        for bad in ["", "US", "USDX", "XYZ", "ÜSD", "U D"] {
            assert!(Currency::new(bad).is_err(), "{bad:?}");
        }
    }

    use proptest::prelude::*;

    #[test]
    fn minor_digits_follow_iso_4217() {
        assert_eq!(Currency::new("jpy").unwrap().minor_digits(), 0);
        assert_eq!(Currency::new("USD").unwrap().minor_digits(), 2);
        assert_eq!(Currency::new("BHD").unwrap().minor_digits(), 3);
        assert!(Currency::new("ABC").is_err());
    }

    #[test]
    fn parses_and_formats_exactly() {
        let bhd = Currency::new("BHD").unwrap();
        assert_eq!(
            Money::from_decimal_str("1.234", bhd).unwrap().minor_units(),
            1234
        );
        assert_eq!(
            Money::from_decimal_str("-0.5", Currency::USD)
                .unwrap()
                .minor_units(),
            -50
        );
        assert_eq!(
            Money::from_decimal_str("12.300", Currency::USD)
                .unwrap()
                .minor_units(),
            1230
        );
        assert_eq!(
            Money::from_decimal_str("1500", Currency::JPY)
                .unwrap()
                .to_decimal_string(),
            "1500"
        );
        assert!(Money::from_decimal_str("12.345", Currency::USD).is_err());
        assert!(Money::from_decimal_str("1.5", Currency::JPY).is_err());
        assert!(Money::from_decimal_str("abc", Currency::USD).is_err());
        assert!(Money::from_decimal_str("99999999999999999999", Currency::USD).is_err());
        assert_eq!(
            Money::from_minor(-5, Currency::USD).to_decimal_string(),
            "-0.05"
        );
    }

    proptest! {
        #[test]
        fn the_short_path_reads_as_the_general_one(
            text in "[-+ ]?[0-9]{0,19}(\\.[0-9]{0,6})?\\.?",
            code in prop::sample::select(vec!["JPY", "USD", "BHD", "CLF"]),
        ) {
            let currency = Currency::new(code).unwrap();
            if let Some(short) = Money::from_short_decimal(text.as_bytes(), currency) {
                prop_assert_eq!(Ok(short), Money::from_any_decimal(&text, currency));
            }
            prop_assert_eq!(
                Money::from_decimal_str(&text, currency).ok(),
                Money::from_any_decimal(&text, currency).ok()
            );
        }

        #[test]
        fn decimal_round_trip(minor in any::<i64>().prop_filter("not min", |m| *m != i64::MIN),
                              code in prop::sample::select(vec!["JPY", "USD", "BHD", "CLF"])) {
            let currency = Currency::new(code).unwrap();
            let money = Money::from_minor(minor, currency);
            let text = money.to_decimal_string();
            prop_assert_eq!(Money::from_decimal_str(&text, currency).unwrap(), money);
            let json = serde_json::to_string(&money).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        }
    }
}
