//! The canonical transaction every connector produces and every job consumes.
//!
//! Guarantees:
//! - `amount` is exact money and never negative: the direction is in `class` (`spend` is money
//!   out, `credit` money in), so sums never depend on a source's sign convention.
//! - `transaction_id` is a pure function of tenant, source kind and the record's identity, so a
//!   re-import produces the same ids and downstream upserts dedupe.
//! - Everything as written in the source is kept beside its normalised form (`vendor_raw`,
//!   `category_raw`), so normalisation can be improved and re-run.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Category, Money, TenantId, TransactionId};

/// Version of the canonical transaction layout; bumped on any incompatible change.
pub const TRANSACTION_SCHEMA_VERSION: u16 = 1;

/// Where a transaction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A CSV export uploaded or imported from disk.
    Csv,
    /// The QuickBooks Online API.
    Quickbooks,
    /// The Xero API.
    Xero,
    /// A Google Sheets spreadsheet.
    Sheets,
}

impl SourceKind {
    /// Stable code, as used on the wire and in ids.
    pub const fn code(self) -> &'static str {
        match self {
            SourceKind::Csv => "csv",
            SourceKind::Quickbooks => "quickbooks",
            SourceKind::Xero => "xero",
            SourceKind::Sheets => "sheets",
        }
    }

    /// The kind for a code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "csv" => Some(SourceKind::Csv),
            "quickbooks" => Some(SourceKind::Quickbooks),
            "xero" => Some(SourceKind::Xero),
            "sheets" => Some(SourceKind::Sheets),
            _ => None,
        }
    }
}

/// The precise origin of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    /// Kind of source.
    pub kind: SourceKind,
    /// Layout or API the record was read with, e.g. `quickbooks-report`, `revolut-business`.
    pub format: String,
    /// File name (CSV) or endpoint/object name (APIs).
    pub name: String,
    /// 1-based physical line of the record's first line in the file, when read from a file.
    pub line: Option<u64>,
    /// The source's own id for the record, when it has one.
    pub external_id: Option<String>,
}

/// Direction of a transaction, or why it is kept out of spend and credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionClass {
    /// Money out for goods, services or fees.
    Spend,
    /// Money in: refunds, income, deposits.
    Credit,
    /// Kept for the record but neither spend nor credit; see `exclusion`.
    Excluded,
}

impl TransactionClass {
    /// Stable code.
    pub const fn code(self) -> &'static str {
        match self {
            TransactionClass::Spend => "spend",
            TransactionClass::Credit => "credit",
            TransactionClass::Excluded => "excluded",
        }
    }

    /// The class for a code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "spend" => Some(TransactionClass::Spend),
            "credit" => Some(TransactionClass::Credit),
            "excluded" => Some(TransactionClass::Excluded),
            _ => None,
        }
    }
}

macro_rules! exclusion_reasons {
    ($( $variant:ident => $code:literal, $doc:literal; )*) => {
        /// Why a row is neither spend nor credit.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ExclusionReason {
            $( #[doc = $doc] $variant, )*
        }

        impl ExclusionReason {
            /// Every reason.
            pub const ALL: &'static [ExclusionReason] = &[$(ExclusionReason::$variant),*];

            /// Stable code.
            pub const fn code(self) -> &'static str {
                match self { $(ExclusionReason::$variant => $code,)* }
            }

            /// The reason for a code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some(ExclusionReason::$variant),)* _ => None }
            }
        }
    };
}

exclusion_reasons! {
    DeclinedOrFailed => "declined_or_failed", "Declined, reverted, failed or cancelled: no money moved.";
    Pending => "pending", "Not settled yet; the settled record arrives in a later export with the same id.";
    OwnAccountTransfer => "own_account_transfer", "A transfer between the company's own accounts.";
    TopUp => "top_up", "Money added to an account or wallet from another of the company's accounts.";
    CurrencyExchange => "currency_exchange", "A conversion between the company's own currency balances.";
    CardBalancePayment => "card_balance_payment", "Paying off a card balance (e.g. \"Payment to Brex\"); the card purchases are the spend.";
    BillPayment => "bill_payment", "Paying a bill in an accounting export; the bill itself is the spend.";
    CashWithdrawal => "cash_withdrawal", "Cash taken out of the account; what the cash buys is not known.";
    NonCash => "non_cash", "An accounting document that moves no money (journal entry, invoice, estimate).";
    ZeroAmount => "zero_amount", "An amount of zero (authorisation checks, memo lines).";
    BalanceRow => "balance_row", "An opening, closing or running balance row.";
    TotalRow => "total_row", "A total or subtotal row of a report.";
    ReportLayout => "report_layout", "A report heading, section label or footer (such as the export timestamp): no date and no amount.";
}

/// The reason a transaction is excluded, with the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// Machine-readable reason.
    pub reason: ExclusionReason,
    /// What in the source led to it, e.g. `State is REVERTED`.
    pub detail: String,
}

/// One canonical transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    /// Layout version of this record ([`TRANSACTION_SCHEMA_VERSION`]).
    pub schema_version: u16,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Stable id; equal ids are the same real-world transaction.
    pub transaction_id: TransactionId,
    /// Where the record came from.
    pub source: SourceRef,
    /// Date the transaction was booked (transaction date when the source has several).
    pub booked_date: NaiveDate,
    /// Local time of day, when the source states it (whole seconds).
    pub booked_time: Option<NaiveTime>,
    /// Exact, non-negative amount; the direction is in `class`.
    pub amount: Money,
    /// The amount in the original currency when the source converted it.
    pub original_amount: Option<Money>,
    /// Spend, credit or excluded.
    pub class: TransactionClass,
    /// Why it is excluded; present exactly when `class` is `excluded`.
    pub exclusion: Option<Exclusion>,
    /// Vendor, merchant or payee as written.
    pub vendor_raw: Option<String>,
    /// Normalised vendor key (lowercase, legal suffixes and processor prefixes removed).
    pub vendor: Option<String>,
    /// Category as written in the source.
    pub category_raw: Option<String>,
    /// Normalised category.
    pub category: Category,
    /// Account (ledger account, bank account or card account) as written.
    pub account: Option<String>,
    /// Description, memo or notes as written.
    pub memo: Option<String>,
    /// Payment method (`card`, `transfer`, `cheque`, …) as written.
    pub payment_method: Option<String>,
    /// Last four digits of the card, when present.
    pub card_last4: Option<String>,
    /// Employee or cardholder, when present.
    pub employee: Option<String>,
    /// Department, class or cost centre, when present.
    pub department: Option<String>,
    /// When Verocta ingested the record.
    pub ingested_at: DateTime<Utc>,
}

/// Errors from checking a transaction's invariants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// An invariant of the canonical form is broken.
    #[error("transaction {id}: {problem}")]
    Invalid {
        /// The transaction's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

impl Transaction {
    /// Checks the invariants that the type system cannot express.
    pub fn validate(&self) -> Result<(), TransactionError> {
        let fail = |problem: &str| {
            Err(TransactionError::Invalid {
                id: self.transaction_id.to_string(),
                problem: problem.to_string(),
            })
        };
        if self.amount.minor_units() < 0 {
            return fail("amount is negative; the direction belongs in `class`");
        }
        if (self.class == TransactionClass::Excluded) != self.exclusion.is_some() {
            return fail("`exclusion` must be present exactly when class is `excluded`");
        }
        if self
            .card_last4
            .as_ref()
            .is_some_and(|c| c.len() != 4 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return fail("`card_last4` must be four digits");
        }
        Ok(())
    }

    /// The amount with the sign of its direction: spend positive, credit negative, excluded 0.
    pub fn net_spend_minor(&self) -> i64 {
        match self.class {
            TransactionClass::Spend => self.amount.minor_units(),
            TransactionClass::Credit => -self.amount.minor_units(),
            TransactionClass::Excluded => 0,
        }
    }
}
