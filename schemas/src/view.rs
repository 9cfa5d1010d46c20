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
    Category, Currency, ExclusionReason, Money, SourceKind, Transaction, TransactionClass,
};

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
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ExclusionView<'a> {
    pub reason: ExclusionReason,
    #[serde(borrow)]
    pub detail: Cow<'a, str>,
}

/// A canonical transaction borrowing its strings; field meanings as in [`Transaction`].
#[derive(Clone, Debug, Deserialize)]
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
    pub booked_date: NaiveDate,
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
    pub ingested_at: DateTime<Utc>,
}

impl<'a> TransactionView<'a> {
    /// Decodes and validates one JSON record.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, ViewError> {
        let view: TransactionView<'a> = serde_json::from_slice(bytes)?;
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
        if crate::TenantId::new(self.tenant_id.as_ref()).is_err() {
            return invalid("tenant_id is not a valid tenant id");
        }
        if crate::TransactionId::parse(self.transaction_id.as_ref()).is_err() {
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
}
