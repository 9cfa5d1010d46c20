//! A borrowed view of a wire transaction: decoded from JSON without copying its strings and
//! appended straight into Arrow builders.
//!
//! The streaming workers decode tens of thousands of records per second; building an owned
//! [`Transaction`] (a dozen heap strings each) only to copy it into Arrow again would double
//! the work. [`TransactionView`] borrows every string from the message bytes (a `Cow` only
//! allocates when the JSON has escapes) and [`crate::arrow::TransactionBatchBuilder`] appends
//! from it. The owned type converts to a view, so there is one append path.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;

use crate::{
    Category, Currency, Exclusion, ExclusionReason, Money, SourceKind, SourceRef, TenantId,
    Transaction, TransactionClass, TransactionId,
};

mod canonical;

/// Dates and times in the exact forms the encoder writes, read without chrono's general
/// parser; anything else goes to chrono's own `FromStr`, which is what chrono's `Deserialize`
/// impls call, so what is accepted and every error message stay the same.
mod fast_time {
    use std::fmt;

    use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Timelike, Utc};
    use serde::Deserializer;
    use serde::de::{Error, Visitor};

    /// ASCII digits (at most nine) as a number.
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |value, &b| {
            b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
        })
    }

    /// The first `N` bytes as ASCII digits.
    fn digits<const N: usize>(bytes: &[u8]) -> Option<u32> {
        number(bytes.get(..N)?)
    }

    /// `YYYY-MM-DD`.
    pub(super) fn parse_date(text: &[u8]) -> Option<NaiveDate> {
        if text.len() != 10 || text[4] != b'-' || text[7] != b'-' {
            return None;
        }
        let year = i32::try_from(digits::<4>(text)?).ok()?;
        NaiveDate::from_ymd_opt(year, digits::<2>(&text[5..])?, digits::<2>(&text[8..])?)
    }

    /// `HH:MM:SS`, no leap second.
    pub(super) fn parse_time(text: &[u8]) -> Option<NaiveTime> {
        if text.len() != 8 || text[2] != b':' || text[5] != b':' {
            return None;
        }
        let second = digits::<2>(&text[6..]).filter(|&s| s < 60)?;
        NaiveTime::from_hms_opt(digits::<2>(text)?, digits::<2>(&text[3..])?, second)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`.
    pub(super) fn parse_timestamp(text: &[u8]) -> Option<DateTime<Utc>> {
        let body = text.strip_suffix(b"Z")?;
        if body.len() < 19 || body[10] != b'T' {
            return None;
        }
        let date = parse_date(&body[..10])?;
        let time = parse_time(&body[11..19])?;
        let nanos = match &body[19..] {
            [] => 0,
            [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
                number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
            }
            _ => return None,
        };
        Some(date.and_time(time.with_nanosecond(nanos)?).and_utc())
    }

    struct FastVisitor<T> {
        expecting: &'static str,
        fast: fn(&[u8]) -> Option<T>,
        general: fn(&str) -> Result<T, chrono::ParseError>,
    }

    impl<T> Visitor<'_> for FastVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: Error>(self, text: &str) -> Result<T, E> {
            match (self.fast)(text.as_bytes()) {
                Some(value) => Ok(value),
                None => (self.general)(text).map_err(E::custom),
            }
        }
    }

    pub(super) fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        deserializer.deserialize_str(FastVisitor {
            expecting: "a formatted date string",
            fast: parse_date,
            general: str::parse,
        })
    }

    pub(super) fn timestamp<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        deserializer.deserialize_str(FastVisitor {
            expecting: "an RFC 3339 formatted date and time string",
            fast: parse_timestamp,
            general: |text| text.parse::<DateTime<FixedOffset>>().map(|at| at.to_utc()),
        })
    }

    pub(super) fn optional_time<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveTime>, D::Error> {
        struct OptionalTime;
        impl<'de> Visitor<'de> for OptionalTime {
            type Value = Option<NaiveTime>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a formatted time string or null")
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
                inner
                    .deserialize_str(FastVisitor {
                        expecting: "a formatted time string",
                        fast: parse_time,
                        general: str::parse,
                    })
                    .map(Some)
            }
        }
        deserializer.deserialize_option(OptionalTime)
    }
}

/// Why a wire record is not a valid canonical transaction.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Not JSON of the transaction shape.
    #[error("not a canonical transaction: {0}")]
    Decode(#[from] serde_json::Error),
    /// Decoded, but an invariant is broken.
    #[error("invalid transaction: {0}")]
    Invalid(String),
}

/// Money with a borrowed decimal string, converted to exact minor units on decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoneyView(pub Money);

impl<'de> Deserialize<'de> for MoneyView {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire<'a> {
            #[serde(borrow)]
            amount: Cow<'a, str>,
            currency: Currency,
        }
        let wire = Wire::deserialize(deserializer)?;
        Money::from_decimal_str(&wire.amount, wire.currency)
            .map(MoneyView)
            .map_err(serde::de::Error::custom)
    }
}

/// Borrowed source reference.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SourceView<'a> {
    pub kind: SourceKind,
    #[serde(borrow)]
    pub format: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    pub line: Option<u64>,
    #[serde(borrow)]
    pub external_id: Option<Cow<'a, str>>,
}

/// Borrowed exclusion.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ExclusionView<'a> {
    pub reason: ExclusionReason,
    #[serde(borrow)]
    pub detail: Cow<'a, str>,
}

/// A canonical transaction borrowing its strings; field meanings as in [`Transaction`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TransactionView<'a> {
    pub schema_version: u16,
    #[serde(borrow)]
    pub tenant_id: Cow<'a, str>,
    #[serde(borrow)]
    pub transaction_id: Cow<'a, str>,
    #[serde(borrow)]
    pub source: SourceView<'a>,
    #[serde(deserialize_with = "fast_time::date")]
    pub booked_date: NaiveDate,
    #[serde(default, deserialize_with = "fast_time::optional_time")]
    pub booked_time: Option<NaiveTime>,
    pub amount: MoneyView,
    pub original_amount: Option<MoneyView>,
    pub class: TransactionClass,
    #[serde(borrow)]
    pub exclusion: Option<ExclusionView<'a>>,
    #[serde(borrow)]
    pub vendor_raw: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub vendor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub category_raw: Option<Cow<'a, str>>,
    pub category: Category,
    #[serde(borrow)]
    pub account: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub memo: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub payment_method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub card_last4: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub employee: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub department: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "fast_time::timestamp")]
    pub ingested_at: DateTime<Utc>,
}

impl<'a> TransactionView<'a> {
    /// Decodes and validates one JSON record.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, ViewError> {
        let view = match canonical::read(bytes) {
            Some(view) => view,
            None => serde_json::from_slice(bytes)?,
        };
        view.validate()?;
        Ok(view)
    }

    /// The invariants of the canonical form (the same as [`Transaction::validate`], plus the
    /// id formats that the owned newtypes enforce on construction).
    pub fn validate(&self) -> Result<(), ViewError> {
        let invalid = |problem: &str| {
            Err(ViewError::Invalid(format!(
                "{}: {problem}",
                self.transaction_id
            )))
        };
        if !crate::TenantId::is_valid(&self.tenant_id) {
            return invalid("tenant_id is not a valid tenant id");
        }
        if !crate::TransactionId::is_valid(&self.transaction_id) {
            return invalid("transaction_id is not `tx_` + 32 hex digits");
        }
        if self.amount.0.minor_units() < 0 {
            return invalid("amount is negative; the direction belongs in `class`");
        }
        if (self.class == TransactionClass::Excluded) != self.exclusion.is_some() {
            return invalid("`exclusion` must be present exactly when class is `excluded`");
        }
        if self
            .card_last4
            .as_ref()
            .is_some_and(|c| c.len() != 4 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid("`card_last4` must be four digits");
        }
        Ok(())
    }
}

impl TransactionView<'_> {
    /// The owned transaction. The ids are checked, as the owned newtypes require; the other
    /// invariants are [`Transaction::validate`]'s.
    pub fn into_transaction(self) -> Result<Transaction, ViewError> {
        fn owned(text: Option<Cow<'_, str>>) -> Option<String> {
            text.map(Cow::into_owned)
        }
        let invalid = |e: crate::IdError| ViewError::Invalid(e.to_string());
        Ok(Transaction {
            schema_version: self.schema_version,
            tenant_id: TenantId::new(self.tenant_id.into_owned()).map_err(invalid)?,
            transaction_id: TransactionId::parse(self.transaction_id.into_owned())
                .map_err(invalid)?,
            source: SourceRef {
                kind: self.source.kind,
                format: self.source.format.into_owned(),
                name: self.source.name.into_owned(),
                line: self.source.line,
                external_id: owned(self.source.external_id),
            },
            booked_date: self.booked_date,
            booked_time: self.booked_time,
            amount: self.amount.0,
            original_amount: self.original_amount.map(|m| m.0),
            class: self.class,
            exclusion: self.exclusion.map(|e| Exclusion {
                reason: e.reason,
                detail: e.detail.into_owned(),
            }),
            vendor_raw: owned(self.vendor_raw),
            vendor: owned(self.vendor),
            category_raw: owned(self.category_raw),
            category: self.category,
            account: owned(self.account),
            memo: owned(self.memo),
            payment_method: owned(self.payment_method),
            card_last4: owned(self.card_last4),
            employee: owned(self.employee),
            department: owned(self.department),
            ingested_at: self.ingested_at,
        })
    }
}

impl Transaction {
    /// A borrowed view of this transaction.
    pub fn view(&self) -> TransactionView<'_> {
        fn borrow(text: &Option<String>) -> Option<Cow<'_, str>> {
            text.as_deref().map(Cow::Borrowed)
        }
        TransactionView {
            schema_version: self.schema_version,
            tenant_id: Cow::Borrowed(self.tenant_id.as_str()),
            transaction_id: Cow::Borrowed(self.transaction_id.as_str()),
            source: SourceView {
                kind: self.source.kind,
                format: Cow::Borrowed(&self.source.format),
                name: Cow::Borrowed(&self.source.name),
                line: self.source.line,
                external_id: borrow(&self.source.external_id),
            },
            booked_date: self.booked_date,
            booked_time: self.booked_time,
            amount: MoneyView(self.amount),
            original_amount: self.original_amount.map(MoneyView),
            class: self.class,
            exclusion: self.exclusion.as_ref().map(|e| ExclusionView {
                reason: e.reason,
                detail: Cow::Borrowed(&e.detail),
            }),
            vendor_raw: borrow(&self.vendor_raw),
            vendor: borrow(&self.vendor),
            category_raw: borrow(&self.category_raw),
            category: self.category,
            account: borrow(&self.account),
            memo: borrow(&self.memo),
            payment_method: borrow(&self.payment_method),
            card_last4: borrow(&self.card_last4),
            employee: borrow(&self.employee),
            department: borrow(&self.department),
            ingested_at: self.ingested_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_records_with_reasons() {
        assert!(matches!(
            TransactionView::decode(b"{not json"),
            Err(ViewError::Decode(_))
        ));
        assert!(matches!(
            TransactionView::decode(b"{\"schema_version\":1}"),
            Err(ViewError::Decode(_))
        ));
    }

    #[test]
    fn fast_dates_and_times_agree_with_chrono_or_defer_to_it() {
        use chrono::FixedOffset;
        let dates = [
            "2024-02-29",
            "2023-02-29",
            "0000-01-01",
            "9999-12-31",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "2024-01-1x",
            "+2024-01-01",
            "2024/01/01",
            "",
        ];
        for text in dates {
            if let Some(date) = fast_time::parse_date(text.as_bytes()) {
                assert_eq!(Ok(date), text.parse::<NaiveDate>(), "{text}");
            }
        }
        assert!(fast_time::parse_date(b"2023-02-29").is_none());
        let times = [
            "00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00", "7:05:09", "12:00",
        ];
        for text in times {
            if let Some(time) = fast_time::parse_time(text.as_bytes()) {
                assert_eq!(Ok(time), text.parse::<NaiveTime>(), "{text}");
            }
        }
        assert!(fast_time::parse_time(b"23:59:60").is_none()); // leap second: chrono's parser
        let stamps = [
            "2024-11-19T07:06:40Z",
            "2024-11-19T07:06:40.1Z",
            "2024-11-19T07:06:40.123Z",
            "2024-11-19T07:06:40.123456Z",
            "2024-11-19T07:06:40.123456789Z",
            "2024-11-19T07:06:40.1234567891Z",
            "2024-11-19T07:06:40+00:00",
            "2024-11-19 07:06:40Z",
            "2024-11-19T07:06:40.Z",
            "2024-11-19T07:06:60Z",
            "2024-11-19T07:06:40z",
        ];
        for text in stamps {
            let general = text.parse::<DateTime<FixedOffset>>().map(|at| at.to_utc());
            if let Some(at) = fast_time::parse_timestamp(text.as_bytes()) {
                assert_eq!(Ok(at), general, "{text}");
            }
        }
        assert!(fast_time::parse_timestamp(b"2024-11-19T07:06:40.123456Z").is_some());
        assert!(fast_time::parse_timestamp(b"2024-11-19T07:06:40+00:00").is_none());
    }

    #[test]
    fn forms_off_the_fast_path_decode_as_chrono_reads_them() {
        let tx = crate::Transaction {
            booked_time: NaiveTime::from_hms_opt(9, 30, 0),
            ..sample()
        };
        let mut value: serde_json::Value =
            serde_json::from_slice(&crate::wire::encode_transaction(&tx)).unwrap();
        value["ingested_at"] = "2024-11-19T08:06:40+01:00".into();
        value["booked_time"] = "09:30".into();
        let text = value.to_string();
        let view = TransactionView::decode(text.as_bytes()).unwrap();
        assert_eq!(view.ingested_at, tx.ingested_at);
        assert_eq!(view.booked_time, tx.booked_time);
        value["booked_date"] = "2024-02-30".into();
        let error = TransactionView::decode(value.to_string().as_bytes()).unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
        // A missing time is no time, as for the owned type.
        value["booked_date"] = "2024-02-29".into();
        value.as_object_mut().unwrap().remove("booked_time");
        let text = value.to_string();
        let view = TransactionView::decode(text.as_bytes()).unwrap();
        assert_eq!(view.booked_time, None);
    }

    #[test]
    fn the_encoders_layout_is_read_without_serde_and_anything_else_with_it() {
        let tx = sample();
        let encoded = crate::wire::encode_transaction(&tx);
        let fast = canonical::read(&encoded).expect("the encoder's bytes take the fast path");
        let by_serde: TransactionView<'_> = serde_json::from_slice(&encoded).unwrap();
        assert_eq!(fast, by_serde);

        let value: serde_json::Value = serde_json::from_slice(&encoded).unwrap();
        let mut escaped = tx.clone();
        escaped.memo = Some("two\nlines \"quoted\"".into());
        let others = [
            serde_json::to_vec_pretty(&value).unwrap(), // whitespace
            value.to_string().into_bytes(),             // keys in another (sorted) order
            crate::wire::encode_transaction(&escaped),  // escapes
        ];
        for other in &others {
            assert!(canonical::read(other).is_none());
            let by_serde: TransactionView<'_> = serde_json::from_slice(other).unwrap();
            assert_eq!(TransactionView::decode(other).unwrap(), by_serde);
        }
        // Off the fast path and wrong: serde's own error.
        let mut wrong = encoded.clone();
        let at = wrong.windows(7).position(|w| w == b"\"spend\"").unwrap();
        wrong[at + 1] = b'S';
        assert!(canonical::read(&wrong).is_none());
        let error = TransactionView::decode(&wrong).unwrap_err().to_string();
        assert!(error.contains("unknown variant `Spend`"), "{error}");
        let mut leading_zero = encoded.clone();
        leading_zero.splice(18..19, *b"01");
        assert!(canonical::read(&leading_zero).is_none());
        assert!(TransactionView::decode(&leading_zero).is_err());
    }

    #[test]
    fn a_view_converts_back_to_the_transaction_it_views() {
        let mut tx = sample();
        tx.source.external_id = Some("ref-7".into());
        tx.original_amount = Some(Money::from_minor(990, Currency::new("EUR").unwrap()));
        tx.class = crate::TransactionClass::Excluded;
        tx.exclusion = Some(crate::Exclusion {
            reason: ExclusionReason::OwnAccountTransfer,
            detail: "own account".into(),
        });
        tx.account = Some("Card".into());
        tx.card_last4 = Some("4242".into());
        assert_eq!(tx.view().into_transaction().unwrap(), tx);

        let mut bad_id = tx.view();
        bad_id.transaction_id = "tx_nothex".into();
        assert!(matches!(
            bad_id.into_transaction(),
            Err(ViewError::Invalid(_))
        ));
        let mut bad_tenant = tx.view();
        bad_tenant.tenant_id = "no spaces".into();
        assert!(bad_tenant.into_transaction().is_err());
    }

    fn sample() -> crate::Transaction {
        use crate::*;
        let tenant = TenantId::new("acme").unwrap();
        Transaction {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            transaction_id: TransactionId::derive(&tenant, "csv", &["1"]),
            tenant_id: tenant,
            source: SourceRef {
                kind: SourceKind::Csv,
                format: "generic".into(),
                name: "a.csv".into(),
                line: Some(2),
                external_id: None,
            },
            booked_date: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            booked_time: None,
            amount: Money::from_minor(1234, Currency::USD),
            original_amount: None,
            class: TransactionClass::Spend,
            exclusion: None,
            vendor_raw: Some("Acme".into()),
            vendor: Some("acme".into()),
            category_raw: None,
            category: Category::Uncategorized,
            account: None,
            memo: None,
            payment_method: None,
            card_last4: None,
            employee: None,
            department: None,
            ingested_at: "2024-11-19T07:06:40Z".parse().unwrap(),
        }
    }
}
