//! Amount patterns: how round an amount is, and how close it sits under an approval limit.
//!
//! This file depends on nothing but `std`, on purpose: the Arroyo UDF crates under
//! `deploy/arroyo/udfs/` compile this very file (their own workspace, arrow 51), so the
//! streaming SQL on an Arroyo cluster and the DataFusion jobs here compute the same numbers.

/// Parses an exact decimal amount as the wire encoding writes it (`"1234.50"`, `"5"`,
/// `"0.125"`; an optional leading `-`) into minor units and the number of decimal digits.
/// `None` for anything else (exponents, separators, more than 4 decimals, overflow).
pub fn parse_decimal_minor(text: &str) -> Option<(i64, u8)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || fraction.len() > 4
        || (digits.contains('.') && fraction.is_empty())
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut minor: i64 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        minor = minor.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let scale = u8::try_from(fraction.len()).ok()?;
    Some((if negative { -minor } else { minor }, scale))
}

/// How "round" an amount is: 1 for a whole multiple of 1,000 in major units, 0.75 of 100,
/// 0.5 of 10, 0.25 for a whole amount, 0 with minor units. Invented expense claims and
/// fraudulent invoices are round far more often than real purchases.
pub fn round_amount_score(amount_minor: i64, digits: u8) -> f64 {
    let unit = 10i64.pow(u32::from(digits.min(4)));
    if amount_minor == 0 || amount_minor % unit != 0 {
        return 0.0;
    }
    let major = amount_minor / unit;
    if major % 1_000 == 0 {
        1.0
    } else if major % 100 == 0 {
        0.75
    } else if major % 10 == 0 {
        0.5
    } else {
        0.25
    }
}

/// Approval limits (major units) that [`under_limit_score`] measures against by default.
pub const DEFAULT_APPROVAL_LIMITS: [i64; 6] = [500, 1_000, 2_500, 5_000, 10_000, 25_000];

/// How close an amount sits just under an approval limit: 0 unless it is within 10% below
/// one, rising to 1 a cent below it.
pub fn under_limit_score(amount_minor: i64, digits: u8, limits_major: &[i64]) -> f64 {
    let unit = 10f64.powi(i32::from(digits.min(4)));
    let amount = amount_minor as f64 / unit;
    limits_major
        .iter()
        .map(|&limit| limit as f64)
        .filter(|&limit| amount < limit && amount >= 0.9 * limit)
        .map(|limit| (amount - 0.9 * limit) / (0.1 * limit))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts() {
        assert_eq!(parse_decimal_minor("1234.50"), Some((123_450, 2)));
        assert_eq!(parse_decimal_minor("5"), Some((5, 0)));
        assert_eq!(parse_decimal_minor("0.125"), Some((125, 3)));
        assert_eq!(parse_decimal_minor("-12.30"), Some((-1_230, 2)));
        for bad in [
            "",
            "-",
            "1,234.50",
            "1e3",
            "12.",
            ".5",
            "1.23456",
            "99999999999999999999",
            "12a",
        ] {
            assert_eq!(parse_decimal_minor(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_amounts() {
        assert_eq!(round_amount_score(500_000, 2), 1.0);
        assert_eq!(round_amount_score(30_000, 2), 0.75);
        assert_eq!(round_amount_score(2_000, 2), 0.5);
        assert_eq!(round_amount_score(700, 2), 0.25);
        assert_eq!(round_amount_score(123_456, 2), 0.0);
        assert_eq!(round_amount_score(5_000, 0), 1.0);
        assert_eq!(round_amount_score(0, 2), 0.0);
    }

    #[test]
    fn just_under_a_limit() {
        let limits = DEFAULT_APPROVAL_LIMITS;
        assert_eq!(under_limit_score(80_000, 2, &limits), 0.0);
        assert!((under_limit_score(95_000, 2, &limits) - 0.5).abs() < 1e-9);
        assert!(under_limit_score(99_999, 2, &limits) > 0.99);
        assert_eq!(under_limit_score(100_000, 2, &limits), 0.0);
        assert!((under_limit_score(4_900, 0, &limits) - 0.8).abs() < 1e-9);
    }
}
