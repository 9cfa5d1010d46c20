//! Reading money amounts the way spreadsheets and banks write them.
//!
//! Handles currency symbols and codes (`$1,234.56`, `EUR 12,50`, `12.50 GBP`), thousands
//! separators (`,` `.` space, no-break space, `'`), decimal-comma locales (`1.234,56`),
//! parentheses and leading or trailing minus for negatives, and `CR`/`DR` suffixes.
//!
//! Whether `1,234` is a thousand or one-and-a-bit is never decided per value: the file's
//! [`DecimalSeparator`] is inferred from every unambiguous value in it (see
//! [`DecimalEvidence`]), and only then are ambiguous values read. Amounts are exact: a value
//! with more decimals than its currency has is an error, never rounded.

use std::borrow::Cow;
use verocta_schemas::{Currency, Money};

/// Which character separates the decimals in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecimalSeparator {
    /// `1,234.56`
    Point,
    /// `1.234,56`
    Comma,
}

/// An explicit direction written next to the amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// `CR`: money into the account.
    Credit,
    /// `DR`: money out of the account.
    Debit,
}

/// One amount as read from a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedAmount {
    /// Signed amount (negative when written with `-`, `−` or parentheses).
    pub money: Money,
    /// Whether the currency was written in the cell (symbol or code) rather than assumed.
    pub currency_written: bool,
    /// A `CR`/`DR` marker, when present.
    pub marker: Option<Marker>,
}

/// Why a cell is not an amount. Rendered into the rejection reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// No digits at all.
    #[error("`{0}` is not an amount (expected a number such as 1234.56)")]
    NotANumber(String),
    /// Excel-style scientific notation lost precision.
    #[error(
        "`{0}` is in scientific notation, which loses cents: re-export the column as plain numbers"
    )]
    Scientific(String),
    /// Separators are in places no locale uses.
    #[error("`{0}` has thousands separators in unexpected places")]
    BadGrouping(String),
    /// More decimals than the currency has.
    #[error(
        "`{text}` has more decimals than {currency} allows ({digits}); check the currency or the export"
    )]
    TooPrecise {
        /// The cell.
        text: String,
        /// The currency applied.
        currency: Currency,
        /// Its minor digits.
        digits: u8,
    },
    /// Two different currencies in one cell.
    #[error("`{0}` names two different currencies")]
    ConflictingCurrency(String),
    /// Too large.
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// Counts of unambiguous decimal-point and decimal-comma values, gathered over a whole file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecimalEvidence {
    /// Values only readable with `.` as the decimal separator (`12.34`, `1,234.5`).
    pub point: u64,
    /// Values only readable with `,` as the decimal separator (`12,34`, `1.234,5`).
    pub comma: u64,
}

impl DecimalEvidence {
    /// Adds the evidence of one cell.
    pub fn observe(&mut self, text: &str) {
        let number = numeric_core(text);
        match unambiguous_separator(number) {
            Some(DecimalSeparator::Point) => self.point += 1,
            Some(DecimalSeparator::Comma) => self.comma += 1,
            None => {}
        }
    }

    /// Adds the counts of other cells.
    pub fn merge(&mut self, other: DecimalEvidence) {
        self.point += other.point;
        self.comma += other.comma;
    }

    /// The file's separator: the majority of unambiguous values, else `fallback`.
    pub fn decide(&self, fallback: DecimalSeparator) -> DecimalSeparator {
        match self.point.cmp(&self.comma) {
            std::cmp::Ordering::Greater => DecimalSeparator::Point,
            std::cmp::Ordering::Less => DecimalSeparator::Comma,
            std::cmp::Ordering::Equal => fallback,
        }
    }
}

/// Symbols mapped to currencies. `$`, `¥` and `kr` depend on the file's default currency.
fn symbol_currency(symbol: &str, default: Currency) -> Option<Currency> {
    let code = match symbol {
        "£" => "GBP",
        "€" => "EUR",
        "₹" => "INR",
        "₩" => "KRW",
        "₽" => "RUB",
        "₺" => "TRY",
        "₪" => "ILS",
        "₫" => "VND",
        "฿" => "THB",
        "₦" => "NGN",
        "₱" => "PHP",
        "zł" => "PLN",
        "R$" => "BRL",
        "US$" => "USD",
        "A$" | "AU$" => "AUD",
        "C$" | "CA$" => "CAD",
        "NZ$" => "NZD",
        "HK$" => "HKD",
        "S$" => "SGD",
        "$" => {
            let dollar = ["USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD"];
            return Some(if dollar.contains(&default.code()) {
                default
            } else {
                Currency::USD
            });
        }
        "¥" | "￥" => {
            return Some(if default.code() == "CNY" {
                default
            } else {
                Currency::JPY
            });
        }
        "kr" => {
            let krona = ["SEK", "NOK", "DKK", "ISK"];
            return krona.contains(&default.code()).then_some(default);
        }
        _ => return None,
    };
    Currency::new(code).ok()
}

/// Strips everything but digits, separators and signs, for evidence gathering.
fn numeric_core(text: &str) -> &str {
    // Byte-wise: an ASCII digit is never part of a longer character, so its byte offset is a
    // character boundary (`str::find` with a closure decodes every character).
    let bytes = text.as_bytes();
    let start = bytes
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap_or(text.len());
    let end = bytes
        .iter()
        .rposition(u8::is_ascii_digit)
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// The decimal separator a number's own shape proves, if any: with both separators the last
/// one; with one kind only, that one when it occurs once and is not followed by exactly three
/// digits (which would look like thousands grouping).
fn unambiguous_separator(number: &str) -> Option<DecimalSeparator> {
    // One pass over the bytes, counting both separators and finding the last of each.
    let (mut points, mut commas) = (0, 0);
    let (mut last_point, mut last_comma) = (None, None);
    for (i, &byte) in number.as_bytes().iter().enumerate() {
        match byte {
            b'.' => (points, last_point) = (points + 1, Some(i)),
            b',' => (commas, last_comma) = (commas + 1, Some(i)),
            _ => {}
        }
    }
    let decimal =
        |occurrences: usize, last: usize| occurrences == 1 && number.len() - last - 1 != 3;
    match (last_point, last_comma) {
        (Some(p), Some(c)) => Some(if p > c {
            DecimalSeparator::Point
        } else {
            DecimalSeparator::Comma
        }),
        (Some(p), None) => decimal(points, p).then_some(DecimalSeparator::Point),
        (None, Some(c)) => decimal(commas, c).then_some(DecimalSeparator::Comma),
        (None, None) => None,
    }
}

/// Reads one amount cell. Returns `Ok(None)` for an empty cell (or one holding only a dash).
pub fn parse_amount(
    text: &str,
    decimal: DecimalSeparator,
    default_currency: Currency,
) -> Result<Option<ParsedAmount>, AmountError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "-" || trimmed == "–" {
        return Ok(None);
    }
    if let Some(plain) = parse_plain(trimmed, decimal, default_currency) {
        return plain.map(Some);
    }
    let err_text = || trimmed.to_string();
    let mut rest = trimmed;
    let mut negative = false;
    let mut marker = None;

    // Parentheses wrap everything, including the currency: `($12.00)`.
    if rest.starts_with('(') && rest.ends_with(')') && rest.len() >= 2 {
        negative = true;
        rest = rest[1..rest.len() - 1].trim();
    }
    // CR/DR suffix (or prefix, rarely).
    for (token, found) in [("CR", Marker::Credit), ("DR", Marker::Debit)] {
        if let Some(stripped) = strip_suffix_ci(rest, token) {
            marker = Some(found);
            rest = stripped.trim_end();
        }
    }
    let mut currency: Option<Currency> = None;
    let mut numeric = String::with_capacity(rest.len());
    let mut pending_symbol = String::new();
    let mut seen_digit = false;
    let mut trailing_minus = false;
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '0'..='9' => {
                if trailing_minus {
                    return Err(AmountError::NotANumber(err_text()));
                }
                seen_digit = true;
                numeric.push(c);
            }
            '.' | ',' | '\'' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' if seen_digit => {
                numeric.push(c)
            }
            '.' if !seen_digit && chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                numeric.push(c)
            }
            '-' | '−' | '–' => {
                trailing_minus = seen_digit;
                negative = true;
            }
            '+' => {}
            // Parentheses are only meaningful around the whole amount (handled above); a
            // stray one would also stop the symbol run below without consuming anything.
            '(' | ')' => return Err(AmountError::NotANumber(err_text())),
            'e' | 'E'
                if seen_digit
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '+' || *n == '-') =>
            {
                return Err(AmountError::Scientific(err_text()));
            }
            _ => {
                // Collect a run of non-numeric characters: a symbol or a code.
                let start = i;
                while i < chars.len()
                    && !chars[i].is_ascii_digit()
                    && !matches!(chars[i], '-' | '−' | '+' | '(' | ')')
                    && !(chars[i] == ' ' && i > start)
                {
                    i += 1;
                }
                pending_symbol.clear();
                pending_symbol.extend(&chars[start..i]);
                let token = pending_symbol.trim();
                if !token.is_empty() {
                    let found = symbol_currency(token, default_currency)
                        .or_else(|| {
                            (token.len() == 3)
                                .then(|| Currency::new(token).ok())
                                .flatten()
                        })
                        .ok_or_else(|| AmountError::NotANumber(err_text()))?;
                    if currency.is_some_and(|c| c != found) {
                        return Err(AmountError::ConflictingCurrency(err_text()));
                    }
                    currency = Some(found);
                }
                continue;
            }
        }
        i += 1;
    }
    if !seen_digit {
        return Err(AmountError::NotANumber(err_text()));
    }
    let mut buffer = [0; GROUPED_MAX];
    let canonical = canonical_decimal(numeric.trim_end(), decimal, &mut buffer)
        .ok_or_else(|| AmountError::BadGrouping(err_text()))?;
    let applied = currency.unwrap_or(default_currency);
    let money = Money::from_decimal_str(&canonical, applied).map_err(|error| match error {
        verocta_schemas::MoneyError::TooPrecise { .. } => AmountError::TooPrecise {
            text: err_text(),
            currency: applied,
            digits: applied.minor_digits(),
        },
        _ => AmountError::Overflow(err_text()),
    })?;
    let money = if negative {
        Money::from_minor(-money.minor_units(), applied)
    } else {
        money
    };
    Ok(Some(ParsedAmount {
        money,
        currency_written: currency.is_some(),
        marker,
    }))
}

/// The common case, read without the general tokenizer: digits with `,`/`.` separators and an
/// optional leading sign (`-1,234.56`). `None` sends anything else down the general path.
fn parse_plain(
    text: &str,
    decimal: DecimalSeparator,
    currency: Currency,
) -> Option<Result<ParsedAmount, AmountError>> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let plain = digits.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b',' || b == b'.');
    if !plain {
        return None;
    }
    let mut buffer = [0; GROUPED_MAX];
    let Some(canonical) = canonical_decimal(digits, decimal, &mut buffer) else {
        return Some(Err(AmountError::BadGrouping(text.to_string())));
    };
    let money = match Money::from_decimal_str(&canonical, currency) {
        Ok(money) => money,
        Err(verocta_schemas::MoneyError::TooPrecise { .. }) => {
            return Some(Err(AmountError::TooPrecise {
                text: text.to_string(),
                currency,
                digits: currency.minor_digits(),
            }));
        }
        Err(_) => return Some(Err(AmountError::Overflow(text.to_string()))),
    };
    let money = if negative {
        Money::from_minor(-money.minor_units(), currency)
    } else {
        money
    };
    Some(Ok(ParsedAmount {
        money,
        currency_written: false,
        marker: None,
    }))
}

fn strip_suffix_ci<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    if !text.is_char_boundary(split) {
        return None;
    }
    let (head, tail) = text.split_at(split);
    let preceded_by_digit_or_space = head.ends_with(|c: char| c.is_ascii_digit() || c == ' ');
    (tail.eq_ignore_ascii_case(suffix) && preceded_by_digit_or_space).then_some(head)
}

/// Turns `1.234,56` / `1,234.56` / `1 234,5` into `1234.56` given the file's separator, or
/// `None` when grouping is malformed. A number already in that form (most are) is returned
/// as it is, and `1,234.56` (two in five amounts of a typical bank export) is written into
/// `buffer`: neither allocates.
fn canonical_decimal<'a>(
    number: &'a str,
    file_decimal: DecimalSeparator,
    buffer: &'a mut [u8; GROUPED_MAX],
) -> Option<Cow<'a, str>> {
    if is_canonical(number, file_decimal) {
        return Some(Cow::Borrowed(number));
    }
    if let Some(ungrouped) = ungroup_with_point(number, buffer) {
        return Some(Cow::Borrowed(ungrouped));
    }
    regroup(number, file_decimal).map(Cow::Owned)
}

/// The longest number [`ungroup_with_point`] rewrites; longer ones take [`regroup`].
const GROUPED_MAX: usize = 48;

/// `1,234,567.89` — Western grouping by commas and a decimal point, which [`regroup`] reads the
/// same way in any file (both separators present, the point last) — as `1234567.89`, written
/// into `buffer`. `None` for any other shape.
fn ungroup_with_point<'b>(number: &str, buffer: &'b mut [u8; GROUPED_MAX]) -> Option<&'b str> {
    let bytes = number.as_bytes();
    let point = bytes.iter().rposition(|&b| b == b'.')?;
    let (integer, fraction) = (&bytes[..point], &bytes[point + 1..]);
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if fraction.is_empty() || !digits(fraction) || bytes.len() > GROUPED_MAX {
        return None;
    }
    let mut groups = integer.split(|&b| b == b',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !digits(first) {
        return None;
    }
    buffer[..first.len()].copy_from_slice(first);
    let mut len = first.len();
    let mut grouped = false;
    for group in groups {
        if group.len() != 3 || !digits(group) {
            return None;
        }
        buffer[len..len + 3].copy_from_slice(group);
        len += 3;
        grouped = true;
    }
    if !grouped {
        return None;
    }
    buffer[len] = b'.';
    buffer[len + 1..len + 1 + fraction.len()].copy_from_slice(fraction);
    std::str::from_utf8(&buffer[..len + 1 + fraction.len()]).ok()
}

/// [`canonical_decimal`]'s general case.
fn regroup(number: &str, file_decimal: DecimalSeparator) -> Option<String> {
    let decimal = unambiguous_separator(number).unwrap_or(file_decimal);
    let decimal_char = match decimal {
        DecimalSeparator::Point => '.',
        DecimalSeparator::Comma => ',',
    };
    let (integer, fraction) = match number.rfind(decimal_char) {
        // A lone decimal-looking separator followed by three digits under the other locale
        // is grouping: `1,234` in a decimal-comma file is 1.234, in a point file 1234.
        Some(index) => (&number[..index], Some(&number[index + 1..])),
        None => (number, None),
    };
    if integer.contains(decimal_char) {
        return None;
    }
    let groups: Vec<&str> = integer
        .split(|c: char| {
            matches!(
                c,
                '.' | ',' | '\'' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}'
            )
        })
        .collect();
    if groups.len() > 1 && !valid_grouping(&groups) {
        return None;
    }
    let mut out: String = groups.concat();
    if out.is_empty() {
        out.push('0');
    }
    if let Some(fraction) = fraction {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push('.');
        out.push_str(fraction);
    }
    Some(out)
}

/// Digits, optionally followed by a point and digits, in a file whose decimal separator is the
/// point (or digits alone in any file): what [`canonical_decimal`] would give back unchanged.
/// A point cannot be grouping then: a number with no comma has no other separator to prove,
/// so the file's point decides.
fn is_canonical(number: &str, file_decimal: DecimalSeparator) -> bool {
    let (integer, fraction) = match number.split_once('.') {
        Some(parts) if file_decimal == DecimalSeparator::Point => parts,
        Some(_) => return false,
        None => (number, ""),
    };
    !integer.is_empty()
        && integer.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Western grouping (`1,234,567`) or Indian lakh grouping (`12,34,567`).
fn valid_grouping(groups: &[&str]) -> bool {
    let (first, rest) = groups.split_first().unwrap_or((&"", &[]));
    if first.is_empty() || first.len() > 3 || rest.last().is_none_or(|g| g.len() != 3) {
        return false;
    }
    let middle = &rest[..rest.len() - 1];
    middle.iter().all(|g| g.len() == 3) || middle.iter().all(|g| g.len() == 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn canonical_numbers_pass_through_as_the_general_case_would_give_them(
            number in "[0-9]{0,7}(\\.[0-9]{0,4}){0,2}",
            point in any::<bool>(),
        ) {
            let file_decimal = if point { DecimalSeparator::Point } else { DecimalSeparator::Comma };
            prop_assert_eq!(
                canonical_decimal(&number, file_decimal, &mut [0; GROUPED_MAX]).map(Cow::into_owned),
                regroup(&number, file_decimal)
            );
        }

        #[test]
        fn grouped_numbers_with_a_point_are_ungrouped_as_the_general_case_would(
            number in "[0-9]{0,4}(,[0-9]{2,4}){0,3}(\\.[0-9]{0,3})?[0-9]{0,45}",
            point in any::<bool>(),
        ) {
            let file_decimal = if point { DecimalSeparator::Point } else { DecimalSeparator::Comma };
            let mut buffer = [0; GROUPED_MAX];
            if let Some(ungrouped) = ungroup_with_point(&number, &mut buffer) {
                prop_assert_eq!(Some(ungrouped.to_string()), regroup(&number, file_decimal));
            }
            prop_assert_eq!(
                canonical_decimal(&number, file_decimal, &mut [0; GROUPED_MAX]).map(Cow::into_owned),
                regroup(&number, file_decimal)
            );
        }
    }

    /// The evidence functions as first written (with `str` searches), which the byte-wise
    /// ones must answer exactly as.
    fn first_numeric_core(text: &str) -> &str {
        let start = text
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(text.len());
        let end = text
            .rfind(|c: char| c.is_ascii_digit())
            .map_or(start, |i| i + 1);
        &text[start..end]
    }

    fn first_unambiguous_separator(number: &str) -> Option<DecimalSeparator> {
        let single_kind = |separator: char, last: usize| {
            number.matches(separator).count() == 1 && number.len() - last - 1 != 3
        };
        match (number.rfind('.'), number.rfind(',')) {
            (Some(p), Some(c)) => Some(if p > c {
                DecimalSeparator::Point
            } else {
                DecimalSeparator::Comma
            }),
            (Some(p), None) => single_kind('.', p).then_some(DecimalSeparator::Point),
            (None, Some(c)) => single_kind(',', c).then_some(DecimalSeparator::Comma),
            (None, None) => None,
        }
    }

    proptest! {
        #[test]
        fn evidence_is_read_as_the_first_version_read_it(text in "[0-9.,€£ -]{0,12}") {
            prop_assert_eq!(numeric_core(&text), first_numeric_core(&text));
            prop_assert_eq!(unambiguous_separator(&text), first_unambiguous_separator(&text));
            let core = numeric_core(&text);
            prop_assert_eq!(unambiguous_separator(core), first_unambiguous_separator(core));
        }
    }

    #[test]
    fn grouped_amounts_with_a_point_are_read_without_the_general_path() {
        let mut buffer = [0; GROUPED_MAX];
        assert_eq!(ungroup_with_point("9,999.99", &mut buffer), Some("9999.99"));
        assert_eq!(
            ungroup_with_point("1,234,567.8", &mut buffer),
            Some("1234567.8")
        );
        for other in [
            "999.99",
            "12,34,567.00",
            "1,234.",
            "1,234",
            ",123.45",
            "1,23.4",
            "1.234,56",
        ] {
            assert_eq!(ungroup_with_point(other, &mut buffer), None, "{other}");
        }
        assert_eq!(usd("-9,999.99"), -999_999);
        assert_eq!(eur_comma("99,999.99"), 9_999_999);
    }

    fn usd(text: &str) -> i64 {
        parse_amount(text, DecimalSeparator::Point, Currency::USD)
            .unwrap()
            .unwrap()
            .money
            .minor_units()
    }

    fn eur_comma(text: &str) -> i64 {
        parse_amount(text, DecimalSeparator::Comma, Currency::EUR)
            .unwrap()
            .unwrap()
            .money
            .minor_units()
    }

    #[test]
    fn reads_common_forms() {
        assert_eq!(usd("1234.56"), 123_456);
        assert_eq!(usd("$1,234.56"), 123_456);
        assert_eq!(usd("-$1,234.56"), -123_456);
        assert_eq!(usd("$-1,234.56"), -123_456);
        assert_eq!(usd("(1,234.56)"), -123_456);
        assert_eq!(usd("($12.00)"), -1200);
        assert_eq!(usd("1234.56-"), -123_456);
        assert_eq!(usd("+15"), 1500);
        assert_eq!(usd(".5"), 50);
        assert_eq!(usd("1,234"), 123_400);
        assert_eq!(usd("12,34,567.00"), 1_234_567_00);
        assert_eq!(usd("1 234.56"), 123_456);
        assert_eq!(usd("1'234.56"), 123_456);
        assert_eq!(usd("−7.10"), -710);
        assert_eq!(eur_comma("1.234,56"), 123_456);
        assert_eq!(eur_comma("1.234"), 123_400);
        assert_eq!(eur_comma("12,5"), 1250);
        assert_eq!(eur_comma("1 234,56 €"), 123_456);
    }

    #[test]
    fn unambiguous_values_ignore_the_file_default() {
        assert_eq!(eur_comma("1,234.56"), 123_456);
        assert_eq!(usd("12,34"), 1234);
        assert_eq!(usd("1.234,56"), 123_456);
    }

    #[test]
    fn currencies_from_symbols_and_codes() {
        let read = |text| {
            parse_amount(text, DecimalSeparator::Point, Currency::USD)
                .unwrap()
                .unwrap()
                .money
        };
        assert_eq!(read("£12.00").currency().code(), "GBP");
        assert_eq!(read("EUR 12.00").currency().code(), "EUR");
        assert_eq!(read("12.00 GBP").currency().code(), "GBP");
        assert_eq!(read("¥1500").minor_units(), 1500);
        assert_eq!(read("1.234 BHD").minor_units(), 1234);
        assert_eq!(read("A$5").currency().code(), "AUD");
        let cad = parse_amount("$5", DecimalSeparator::Point, Currency::new("CAD").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(cad.money.currency().code(), "CAD");
        assert!(parse_amount("£5 EUR", DecimalSeparator::Point, Currency::USD).is_err());
    }

    #[test]
    fn markers() {
        let read = |text| {
            parse_amount(text, DecimalSeparator::Point, Currency::GBP)
                .unwrap()
                .unwrap()
        };
        assert_eq!(read("120.00 CR").marker, Some(Marker::Credit));
        assert_eq!(read("120.00DR").marker, Some(Marker::Debit));
        assert_eq!(read("120.00DR").money.minor_units(), 12000);
    }

    #[test]
    fn errors_are_specific() {
        let read = |text| parse_amount(text, DecimalSeparator::Point, Currency::USD);
        assert!(matches!(read("abc"), Err(AmountError::NotANumber(_))));
        assert!(matches!(read("1.2E+03"), Err(AmountError::Scientific(_))));
        assert!(matches!(
            read("12.345"),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            read("1,23,4.00"),
            Err(AmountError::BadGrouping(_))
        ));
        assert!(matches!(read("12-3"), Err(AmountError::NotANumber(_))));
        // Stray parentheses once looped forever (found by the arbitrary-input property test).
        for stray in ["(5", "5)", "$(5", "1(2", "£)", "(12.00"] {
            assert!(
                matches!(read(stray), Err(AmountError::NotANumber(_))),
                "{stray}"
            );
        }
        assert_eq!(read("").unwrap(), None);
        assert_eq!(read(" - ").unwrap(), None);
        assert_eq!(
            parse_amount("1.5", DecimalSeparator::Point, Currency::JPY)
                .unwrap_err()
                .to_string(),
            "`1.5` has more decimals than JPY allows (0); check the currency or the export"
        );
    }

    #[test]
    fn evidence_decides_the_file() {
        let mut evidence = DecimalEvidence::default();
        for cell in ["1.234", "12,50", "3,10", "7"] {
            evidence.observe(cell);
        }
        assert_eq!(
            evidence.decide(DecimalSeparator::Point),
            DecimalSeparator::Comma
        );
        assert_eq!(
            DecimalEvidence::default().decide(DecimalSeparator::Comma),
            DecimalSeparator::Comma
        );
    }

    /// Formats `minor` (2 decimals) in one of the supported written forms.
    fn render(minor: i64, style: u8) -> (String, DecimalSeparator) {
        let negative = minor < 0;
        let magnitude = minor.unsigned_abs();
        let whole = (magnitude / 100).to_string();
        let cents = format!("{:02}", magnitude % 100);
        let group = |sep: &str| {
            let digits: Vec<char> = whole.chars().collect();
            let mut out = String::new();
            for (i, d) in digits.iter().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push_str(sep);
                }
                out.push(*d);
            }
            out
        };
        let sign = if negative { "-" } else { "" };
        match style % 8 {
            0 => (format!("{sign}{whole}.{cents}"), DecimalSeparator::Point),
            1 => (
                format!("{sign}${}.{cents}", group(",")),
                DecimalSeparator::Point,
            ),
            2 => (
                if negative {
                    format!("({}.{cents})", group(","))
                } else {
                    format!("{}.{cents}", group(","))
                },
                DecimalSeparator::Point,
            ),
            3 => (
                format!("{}.{cents}{}", group(","), if negative { "-" } else { "" }),
                DecimalSeparator::Point,
            ),
            4 => (
                format!("{sign}{},{cents}", group(".")),
                DecimalSeparator::Comma,
            ),
            5 => (
                format!("{sign}{},{cents} €", group("\u{a0}")),
                DecimalSeparator::Comma,
            ),
            6 => (
                format!("{sign}USD {}.{cents}", group(" ")),
                DecimalSeparator::Point,
            ),
            _ => (
                format!("{sign}{}.{cents} USD", group("'")),
                DecimalSeparator::Point,
            ),
        }
    }

    proptest! {
        #[test]
        fn every_written_form_reads_back_exactly(minor in -1_000_000_000_000i64..1_000_000_000_000, style in 0u8..8) {
            let (text, decimal) = render(minor, style);
            let default = if style % 8 == 5 { Currency::EUR } else { Currency::USD };
            let parsed = parse_amount(&text, decimal, default).unwrap().unwrap();
            prop_assert_eq!(parsed.money.minor_units(), minor, "{}", text);
        }
    }
}
