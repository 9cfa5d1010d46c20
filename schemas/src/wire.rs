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

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

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
    if write_transaction(tx, out).is_none() {
        out.truncate(start);
        // Serialising these types cannot fail: every field is a plain value or string.
        let _ = serde_json::to_writer(&mut *out, tx);
    }
}

/// Writes the fast path's JSON; `None` when a value needs serde_json's general formatting.
fn write_transaction(tx: &Transaction, out: &mut Vec<u8>) -> Option<()> {
    out.extend_from_slice(b"{\"schema_version\":");
    write_digits(u64::from(tx.schema_version), 1, out);
    out.extend_from_slice(b",\"tenant_id\":");
    write_str(tx.tenant_id.as_str(), out);
    out.extend_from_slice(b",\"transaction_id\":");
    write_str(tx.transaction_id.as_str(), out);
    out.extend_from_slice(b",\"source\":{\"kind\":");
    write_str(tx.source.kind.code(), out);
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
    write_money(&tx.amount, out)?;
    out.extend_from_slice(b",\"original_amount\":");
    match &tx.original_amount {
        Some(money) => write_money(money, out)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"class\":");
    write_str(tx.class.code(), out);
    out.extend_from_slice(b",\"exclusion\":");
    match &tx.exclusion {
        Some(exclusion) => {
            out.extend_from_slice(b"{\"reason\":");
            write_str(exclusion.reason.code(), out);
            out.extend_from_slice(b",\"detail\":");
            write_str(&exclusion.detail, out);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    let texts: [(&[u8], &Option<String>); 3] = [
        (b",\"vendor_raw\":", &tx.vendor_raw),
        (b",\"vendor\":", &tx.vendor),
        (b",\"category_raw\":", &tx.category_raw),
    ];
    write_optional_fields(&texts, out);
    out.extend_from_slice(b",\"category\":");
    write_str(tx.category.code(), out);
    let texts: [(&[u8], &Option<String>); 6] = [
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
    Some(())
}

fn write_optional_fields(fields: &[(&[u8], &Option<String>)], out: &mut Vec<u8>) {
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
    let rest = chunks.remainder();
    let mut word = [b' '; 8]; // padding that never needs escaping
    word[..rest.len()].copy_from_slice(rest);
    first(flags(u64::from_le_bytes(word))).map(|offset| at + offset)
}

/// `value` in decimal, zero-padded to at least `width` digits (at most 20).
fn write_digits(value: u64, width: usize, out: &mut Vec<u8>) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
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
    write_str(money.currency().code(), out);
    out.push(b'}');
    Some(())
}

/// `YYYY-MM-DD`, as chrono displays dates of years 0–9999 (others are signed: `None`).
fn write_date(date: NaiveDate, out: &mut Vec<u8>) -> Option<()> {
    let year = u64::try_from(date.year()).ok().filter(|&y| y <= 9999)?;
    write_digits(year, 4, out);
    out.push(b'-');
    write_digits(u64::from(date.month()), 2, out);
    out.push(b'-');
    write_digits(u64::from(date.day()), 2, out);
    Some(())
}

/// `HH:MM:SS` of a time without fraction or leap second (others: `None`).
fn write_whole_seconds(time: NaiveTime, out: &mut Vec<u8>) -> Option<()> {
    if time.nanosecond() != 0 {
        return None;
    }
    write_digits(u64::from(time.hour()), 2, out);
    out.push(b':');
    write_digits(u64::from(time.minute()), 2, out);
    out.push(b':');
    write_digits(u64::from(time.second()), 2, out);
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
    }
}
