//! A reader for exactly the bytes [`crate::wire::encode_transaction`] writes: the fields in
//! their order, no whitespace, strings without escapes. Such a record is read by comparing
//! each key with the literal the encoder wrote and slicing each value out, without serde's
//! per-key dispatch and per-string scans (decoding was an eighth of the pipeline's CPU).
//!
//! Anything else — another producer's field order, whitespace, an escaped string, an unknown
//! code, a number serde_json would reject — returns `None`, and the caller decodes the record
//! with serde_json, so what is accepted, and every error, is serde's. A property test checks
//! that both readers give the same view of any encoded transaction.

use std::borrow::Cow;

use super::{ExclusionView, MoneyView, SourceView, TransactionView, fast_time};
use crate::{Category, Currency, ExclusionReason, Money, SourceKind, TransactionClass};

/// The view of a record in the encoder's exact layout, or `None` (see the module docs).
pub(super) fn read(bytes: &[u8]) -> Option<TransactionView<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut cursor = Cursor { text, at: 0 };
    let view = cursor.transaction()?;
    (cursor.at == text.len()).then_some(view)
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn transaction(&mut self) -> Option<TransactionView<'a>> {
        self.literal(b"{\"schema_version\":")?;
        let schema_version = u16::try_from(self.integer()?).ok()?;
        self.literal(b",\"tenant_id\":")?;
        let tenant_id = self.string()?;
        self.literal(b",\"transaction_id\":")?;
        let transaction_id = self.string()?;
        self.literal(b",\"source\":{\"kind\":")?;
        let kind = SourceKind::from_code(self.string()?)?;
        self.literal(b",\"format\":")?;
        let format = self.string()?;
        self.literal(b",\"name\":")?;
        let name = self.string()?;
        self.literal(b",\"line\":")?;
        let line = self.optional(Self::integer)?;
        self.literal(b",\"external_id\":")?;
        let external_id = self.optional(Self::string)?;
        self.literal(b"},\"booked_date\":")?;
        let booked_date = fast_time::parse_date(self.string()?.as_bytes())?;
        self.literal(b",\"booked_time\":")?;
        let booked_time = self.optional(|c| fast_time::parse_time(c.string()?.as_bytes()))?;
        self.literal(b",\"amount\":")?;
        let amount = self.money()?;
        self.literal(b",\"original_amount\":")?;
        let original_amount = self.optional(Self::money)?;
        self.literal(b",\"class\":")?;
        let class = TransactionClass::from_code(self.string()?)?;
        self.literal(b",\"exclusion\":")?;
        let exclusion = self.optional(Self::exclusion)?;
        self.literal(b",\"vendor_raw\":")?;
        let vendor_raw = self.optional_text()?;
        self.literal(b",\"vendor\":")?;
        let vendor = self.optional_text()?;
        self.literal(b",\"category_raw\":")?;
        let category_raw = self.optional_text()?;
        self.literal(b",\"category\":")?;
        let category = Category::from_code(self.string()?)?;
        self.literal(b",\"account\":")?;
        let account = self.optional_text()?;
        self.literal(b",\"memo\":")?;
        let memo = self.optional_text()?;
        self.literal(b",\"payment_method\":")?;
        let payment_method = self.optional_text()?;
        self.literal(b",\"card_last4\":")?;
        let card_last4 = self.optional_text()?;
        self.literal(b",\"employee\":")?;
        let employee = self.optional_text()?;
        self.literal(b",\"department\":")?;
        let department = self.optional_text()?;
        self.literal(b",\"ingested_at\":")?;
        let ingested_at = fast_time::parse_timestamp(self.string()?.as_bytes())?;
        self.literal(b"}")?;
        Some(TransactionView {
            schema_version,
            tenant_id: Cow::Borrowed(tenant_id),
            transaction_id: Cow::Borrowed(transaction_id),
            source: SourceView {
                kind,
                format: Cow::Borrowed(format),
                name: Cow::Borrowed(name),
                line,
                external_id: external_id.map(Cow::Borrowed),
            },
            booked_date,
            booked_time,
            amount,
            original_amount,
            class,
            exclusion,
            vendor_raw,
            vendor,
            category_raw,
            category,
            account,
            memo,
            payment_method,
            card_last4,
            employee,
            department,
            ingested_at,
        })
    }

    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        let rest = &self.text.as_bytes()[self.at..];
        rest.starts_with(expected)
            .then(|| self.at += expected.len())
    }

    /// A string without escapes or control characters (serde_json rejects raw controls).
    fn string(&mut self) -> Option<&'a str> {
        self.literal(b"\"")?;
        let rest = &self.text.as_bytes()[self.at..];
        let length = crate::wire::first_escaped(rest)?;
        if rest[length] != b'"' {
            return None;
        }
        // Both ends are ASCII quotes, so the slice is on character boundaries.
        let value = self.text.get(self.at..self.at + length)?;
        self.at += length + 1;
        Some(value)
    }

    fn optional_text(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.optional(Self::string)
            .map(|text| text.map(Cow::Borrowed))
    }

    /// `null`, or a value read by `read`.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal(b"null").is_some() {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A non-negative integer as serde_json accepts it: no leading zeros, no sign, no
    /// fraction or exponent, within u64.
    fn integer(&mut self) -> Option<u64> {
        let rest = &self.text.as_bytes()[self.at..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = rest[..digits].iter().try_fold(0u64, |value, &b| {
            value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })?;
        self.at += digits;
        Some(value)
    }

    fn money(&mut self) -> Option<MoneyView> {
        self.literal(b"{\"amount\":")?;
        let amount = self.string()?;
        self.literal(b",\"currency\":")?;
        let currency = Currency::new(self.string()?).ok()?;
        self.literal(b"}")?;
        Money::from_decimal_str(amount, currency)
            .ok()
            .map(MoneyView)
    }

    fn exclusion(&mut self) -> Option<ExclusionView<'a>> {
        self.literal(b"{\"reason\":")?;
        let reason = ExclusionReason::from_code(self.string()?)?;
        self.literal(b",\"detail\":")?;
        let detail = Cow::Borrowed(self.string()?);
        self.literal(b"}")?;
        Some(ExclusionView { reason, detail })
    }
}
