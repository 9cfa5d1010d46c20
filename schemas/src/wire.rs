//! JSON wire encoding of canonical records.
//!
//! One transaction is one JSON object (newline-delimited when streamed). Money is an exact
//! decimal string with its currency (`{"amount": "12.34", "currency": "USD"}`), dates are
//! `YYYY-MM-DD`, times `HH:MM:SS`, timestamps RFC 3339 in UTC. Unknown fields are rejected, so
//! a producer and consumer that disagree on the layout fail loudly instead of dropping data.
//! [`transaction_json_schema`] is the JSON Schema of exactly this encoding.
//!
//! The encoder writes the bytes itself: every connector record is encoded once on the way to
//! Kafka, and going through serde cost a copy of both ids (`#[serde(into = "String")]`), a
//! `String` per amount and `fmt` machinery per date and timestamp. Its output is byte for byte
//! what `serde_json::to_vec` writes for the same transaction (tested on generated records),
//! and anything outside its fast path — a date outside years 0–9999, a leap second — goes
//! through serde_json itself.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

use crate::view::{TransactionView, ViewError};
use crate::{Money, Transaction};

/// Errors from decoding wire records.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes are not a canonical transaction.
    #[error("not a canonical transaction: {0}")]
    Decode(#[from] serde_json::Error),
    /// The record decoded but breaks an invariant.
    #[error(transparent)]
    Invalid(#[from] crate::TransactionError),
}

/// Encodes a transaction as one line of JSON (no trailing newline).
pub fn encode_transaction(tx: &Transaction) -> Vec<u8> {
    let mut out = Vec::with_capacity(768);
    encode_transaction_into(tx, &mut out);
    out
}

/// Appends a transaction's JSON (no trailing newline) to `out`, so a producer can reuse one
/// buffer for every record.
pub fn encode_transaction_into(tx: &Transaction, out: &mut Vec<u8>) {
    let start = out.len();
    if write_transaction(&tx.view(), out).is_none() {
        out.truncate(start);
        // Serialising these types cannot fail: every field is a plain value or string.
        let _ = serde_json::to_writer(&mut *out, tx);
    }
}

/// Appends the JSON of a transaction held as a view — the same bytes as
/// [`encode_transaction_into`] of its owned transaction, without building one — and returns
/// where in `out` the transaction id's text starts (its 35 characters can be overwritten in
/// place by another id: the connector renumbers identical rows after encoding them).
///
/// Fails only when the view's ids are not valid ids and a value needs serde_json's general
/// formatting (a date outside years 0–9999, a leap second).
pub fn encode_view_into(view: &TransactionView<'_>, out: &mut Vec<u8>) -> Result<usize, ViewError> {
    let start = out.len();
    if let Some(id_at) = write_transaction(view, out) {
        return Ok(id_at);
    }
    out.truncate(start);
    let tx = view.clone().into_transaction()?;
    // serde_json writes the fields in the same order and the same bytes before the id (the
    // fast path only gives up on later fields), so the id is where the fast path put it.
    let _ = serde_json::to_writer(&mut *out, &tx);
    Ok(start + id_offset(view))
}

/// Where the transaction id's text starts in a record the fast path writes.
fn id_offset(view: &TransactionView<'_>) -> usize {
    let mut prefix = Vec::with_capacity(64);
    write_prefix(view, &mut prefix)
}

/// The record up to the transaction id's text, which starts at the returned offset.
fn write_prefix(view: &TransactionView<'_>, out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(b"{\"schema_version\":");
    write_digits(u64::from(view.schema_version), 1, out);
    out.extend_from_slice(b",\"tenant_id\":");
    write_str(&view.tenant_id, out);
    out.extend_from_slice(b",\"transaction_id\":");
    out.len() + 1
}

/// Writes the fast path's JSON and returns where the transaction id's text starts; `None`
/// when a value needs serde_json's general formatting.
fn write_transaction(tx: &TransactionView<'_>, out: &mut Vec<u8>) -> Option<usize> {
    let id_at = write_prefix(tx, out);
    write_str(&tx.transaction_id, out);
    out.extend_from_slice(b",\"source\":{\"kind\":");
    write_code(tx.source.kind.code(), out);
    out.extend_from_slice(b",\"format\":");
    write_str(&tx.source.format, out);
    out.extend_from_slice(b",\"name\":");
    write_str(&tx.source.name, out);
    out.extend_from_slice(b",\"line\":");
    match tx.source.line {
        Some(line) => write_digits(line, 1, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"external_id\":");
    write_optional_str(tx.source.external_id.as_deref(), out);
    out.extend_from_slice(b"},\"booked_date\":\"");
    write_date(tx.booked_date, out)?;
    out.extend_from_slice(b"\",\"booked_time\":");
    match tx.booked_time {
        Some(time) => {
            out.push(b'"');
            write_whole_seconds(time, out)?;
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"amount\":");
    write_money(&tx.amount.0, out)?;
    out.extend_from_slice(b",\"original_amount\":");
    match &tx.original_amount {
        Some(money) => write_money(&money.0, out)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"class\":");
    write_code(tx.class.code(), out);
    out.extend_from_slice(b",\"exclusion\":");
    match &tx.exclusion {
        Some(exclusion) => {
            out.extend_from_slice(b"{\"reason\":");
            write_code(exclusion.reason.code(), out);
            out.extend_from_slice(b",\"detail\":");
            write_str(&exclusion.detail, out);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    let texts: [(&[u8], &Option<Cow<'_, str>>); 3] = [
        (b",\"vendor_raw\":", &tx.vendor_raw),
        (b",\"vendor\":", &tx.vendor),
        (b",\"category_raw\":", &tx.category_raw),
    ];
    write_optional_fields(&texts, out);
    out.extend_from_slice(b",\"category\":");
    write_code(tx.category.code(), out);
    let texts: [(&[u8], &Option<Cow<'_, str>>); 6] = [
        (b",\"account\":", &tx.account),
        (b",\"memo\":", &tx.memo),
        (b",\"payment_method\":", &tx.payment_method),
        (b",\"card_last4\":", &tx.card_last4),
        (b",\"employee\":", &tx.employee),
        (b",\"department\":", &tx.department),
    ];
    write_optional_fields(&texts, out);
    out.extend_from_slice(b",\"ingested_at\":\"");
    write_timestamp(&tx.ingested_at, out)?;
    out.extend_from_slice(b"\"}");
    Some(id_at)
}

fn write_optional_fields(fields: &[(&[u8], &Option<Cow<'_, str>>)], out: &mut Vec<u8>) {
    for (name, value) in fields {
        out.extend_from_slice(name);
        write_optional_str(value.as_deref(), out);
    }
}

fn write_optional_str(text: Option<&str>, out: &mut Vec<u8>) {
    match text {
        Some(text) => write_str(text, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string; text with anything to escape is left to serde_json, whose escapes
/// (`\n`, `\u001f`, …) the output must match.
fn write_str(text: &str, out: &mut Vec<u8>) {
    if first_escaped(text.as_bytes()).is_none() {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// A JSON string of one of our own codes (a class, category, currency…): lowercase or
/// uppercase ASCII letters and `_`, which never need escaping.
fn write_code(code: &str, out: &mut Vec<u8>) {
    debug_assert!(first_escaped(code.as_bytes()).is_none(), "{code}");
    out.push(b'"');
    out.extend_from_slice(code.as_bytes());
    out.push(b'"');
}

/// Where the first byte JSON escapes is (a quote, a backslash, a control), if any.
///
/// Eight bytes at a time (SWAR): a record's strings are mostly short, and almost never need
/// escaping, so the encoder checks each before copying it and the decoder finds a string's
/// closing quote with it. In `x − 0x01…01` a byte that was zero borrows from the next, which
/// can only flag bytes *above* a true match, so the lowest flag is always exact.
pub(crate) fn first_escaped(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS;
    let flags = |word: u64| {
        below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20)
    };
    let first = |word: u64| (word != 0).then(|| (word.trailing_zeros() / 8) as usize);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if let Some(offset) = first(flags(u64::from_le_bytes(word))) {
            return Some(at + offset);
        }
        at += 8;
    }
    if chunks.remainder().is_empty() {
        return None;
    }
    // The last eight bytes, overlapping bytes already found clean, so the lowest flag is
    // still exact (a copy of the remainder into a padded word was a `memcpy` call per string).
    let Some(tail_at) = bytes.len().checked_sub(8) else {
        return bytes
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\');
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[tail_at..]);
    first(flags(u64::from_le_bytes(word))).map(|offset| tail_at + offset)
}

/// "00" to "99": digits are written two at a time (a division per pair instead of per digit).
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The two digits of `value` (below 100).
fn pair(value: u64) -> [u8; 2] {
    let at = 2 * value as usize;
    [PAIRS[at], PAIRS[at + 1]]
}

/// `value` in decimal, zero-padded to at least `width` digits (at most 20).
fn write_digits(value: u64, width: usize, out: &mut Vec<u8>) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = value;
    while rest >= 100 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&pair(rest % 100));
        rest /= 100;
    }
    if rest >= 10 {
        at -= 2;
        digits[at..at + 2].copy_from_slice(&pair(rest));
    } else {
        at -= 1;
        digits[at] = b'0' + rest as u8;
    }
    let start = at.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[start..]);
}

/// `{"amount":"12.34","currency":"USD"}`, the decimal as [`crate::format_minor`] writes it;
/// `None` for more minor digits than a u64 scale holds (no ISO 4217 currency has them).
fn write_money(money: &Money, out: &mut Vec<u8>) -> Option<()> {
    let digits = u32::from(money.currency().minor_digits());
    let scale = 10u64.checked_pow(digits)?;
    out.extend_from_slice(b"{\"amount\":\"");
    let minor = money.minor_units();
    if minor < 0 {
        out.push(b'-');
    }
    let magnitude = minor.unsigned_abs();
    write_digits(magnitude / scale, 1, out);
    if digits > 0 {
        out.push(b'.');
        write_digits(magnitude % scale, digits as usize, out);
    }
    out.extend_from_slice(b"\",\"currency\":");
    write_code(money.currency().code(), out);
    out.push(b'}');
    Some(())
}

/// `YYYY-MM-DD`, as chrono displays dates of years 0–9999 (others are signed: `None`).
fn write_date(date: NaiveDate, out: &mut Vec<u8>) -> Option<()> {
    let year = u64::try_from(date.year()).ok().filter(|&y| y <= 9999)?;
    let [c0, c1] = pair(year / 100);
    let [y0, y1] = pair(year % 100);
    let [m0, m1] = pair(u64::from(date.month()));
    let [d0, d1] = pair(u64::from(date.day()));
    out.extend_from_slice(&[c0, c1, y0, y1, b'-', m0, m1, b'-', d0, d1]);
    Some(())
}

/// `HH:MM:SS` of a time without fraction or leap second (others: `None`).
fn write_whole_seconds(time: NaiveTime, out: &mut Vec<u8>) -> Option<()> {
    if time.nanosecond() != 0 {
        return None;
    }
    let [h0, h1] = pair(u64::from(time.hour()));
    let [m0, m1] = pair(u64::from(time.minute()));
    let [s0, s1] = pair(u64::from(time.second()));
    out.extend_from_slice(&[h0, h1, b':', m0, m1, b':', s0, s1]);
    Some(())
}

/// RFC 3339 in UTC as chrono's serde writes it: `…THH:MM:SS[.fff|.ffffff|.fffffffff]Z`, the
/// shortest of the three fraction widths that is exact, none for whole seconds.
fn write_timestamp(at: &DateTime<Utc>, out: &mut Vec<u8>) -> Option<()> {
    let naive = at.naive_utc();
    let nanos = naive.nanosecond();
    if nanos >= 1_000_000_000 {
        return None; // a leap second
    }
    write_date(naive.date(), out)?;
    out.push(b'T');
    write_whole_seconds(naive.time().with_nanosecond(0)?, out)?;
    let nanos = u64::from(nanos);
    if nanos != 0 {
        out.push(b'.');
        if nanos % 1_000_000 == 0 {
            write_digits(nanos / 1_000_000, 3, out);
        } else if nanos % 1_000 == 0 {
            write_digits(nanos / 1_000, 6, out);
        } else {
            write_digits(nanos, 9, out);
        }
    }
    out.push(b'Z');
    Some(())
}

/// Decodes and validates one JSON transaction.
pub fn decode_transaction(bytes: &[u8]) -> Result<Transaction, WireError> {
    let tx: Transaction = serde_json::from_slice(bytes)?;
    tx.validate()?;
    Ok(tx)
}

/// The JSON Schema (draft 2020-12) of the transaction wire encoding, pretty-printed.
pub fn transaction_json_schema() -> String {
    let schema = schemars::schema_for!(Transaction);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_escaped_finds_every_escaped_byte_in_any_position() {
        let simple = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        };
        for length in 0..40 {
            let plain = vec![b'a'; length];
            assert_eq!(first_escaped(&plain), None);
            for at in 0..length {
                for byte in [0x00, 0x1f, b'"', b'\\', 0x20, 0x7f, 0xc3, b'/'] {
                    let mut bytes = plain.clone();
                    bytes[at] = byte;
                    assert_eq!(first_escaped(&bytes), simple(&bytes), "{bytes:?}");
                    bytes[length - 1] = b'"';
                    assert_eq!(first_escaped(&bytes), simple(&bytes), "{bytes:?}");
                }
            }
        }
    }

    /// Every code `write_code` writes needs no escaping (`write_code` does not check).
    #[test]
    fn codes_need_no_escaping() {
        use crate::{Category, ExclusionReason, SourceKind, TransactionClass};
        let kinds = [
            SourceKind::Csv,
            SourceKind::Quickbooks,
            SourceKind::Xero,
            SourceKind::Sheets,
        ];
        let classes = [
            TransactionClass::Spend,
            TransactionClass::Credit,
            TransactionClass::Excluded,
        ];
        let codes = kinds
            .iter()
            .map(|k| k.code())
            .chain(classes.iter().map(|c| c.code()))
            .chain(Category::ALL.iter().map(|c| c.code()))
            .chain(ExclusionReason::ALL.iter().map(|r| r.code()));
        for code in codes {
            assert!(
                !code.is_empty() && first_escaped(code.as_bytes()).is_none(),
                "{code}"
            );
        }
        for code in ["USD", "GBP", "JPY", "BHD"] {
            let currency = crate::Currency::new(code).unwrap();
            assert_eq!(first_escaped(currency.code().as_bytes()), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn first_escaped_agrees_with_a_byte_by_byte_scan(bytes: Vec<u8>, plain in 0usize..40) {
            let simple = |bytes: &[u8]| {
                bytes.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            };
            let mut prefixed = vec![b'x'; plain];
            prefixed.extend_from_slice(&bytes);
            proptest::prop_assert_eq!(first_escaped(&prefixed), simple(&prefixed));
        }

        #[test]
        fn digits_are_written_as_format_writes_them(value: u64, width in 0usize..22, small in 0u64..1_000) {
            for value in [value, small] {
                let mut out = b"x".to_vec();
                write_digits(value, width, &mut out);
                let expected = format!("x{value:0width$}", width = width.min(20));
                proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }
    }
}
