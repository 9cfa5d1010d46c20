//! The import summary: what a file became, in the shape `verocta import --json` prints.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use verocta_schemas::view::TransactionView;
use verocta_schemas::{Currency, TransactionClass, format_minor};

use crate::csv::{FilePlan, Rejection, RowOutcome};

/// Rejections kept in detail; beyond this only `rejected_count` grows, so a file of garbage
/// cannot exhaust memory.
pub const MAX_LISTED_REJECTIONS: usize = 10_000;

/// Spend and credit totals of one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    /// ISO 4217 code.
    pub currency: String,
    /// Spend transactions.
    pub spend_count: u64,
    /// Spend, exact decimal string.
    pub spend: String,
    /// Credit transactions.
    pub credit_count: u64,
    /// Credit, exact decimal string.
    pub credit: String,
}

/// What one file became. `rows_read = transactions + excluded + rejected_count`.
#[derive(Clone, Debug, Serialize)]
pub struct ImportSummary {
    /// The file as given.
    pub file: String,
    /// Layout it was read with.
    pub format: String,
    /// Non-blank rows below the header.
    pub rows_read: u64,
    /// Rows that became spend or credit transactions.
    pub transactions: u64,
    /// Rows that could not be read (at most [`MAX_LISTED_REJECTIONS`] listed).
    pub rejected: Vec<Rejection>,
    /// All rejected rows.
    pub rejected_count: u64,
    /// Rows kept out of spend and credit (excluded transactions plus report rows).
    pub excluded: u64,
    /// `excluded` by reason code.
    pub excluded_by_reason: BTreeMap<&'static str, u64>,
    /// Earliest booked date of the file's transactions.
    pub first_date: Option<NaiveDate>,
    /// Latest booked date.
    pub last_date: Option<NaiveDate>,
    /// Totals per currency, ordered by code.
    pub totals: Vec<CurrencyTotals>,
    /// The conventions detected for the file.
    pub detected: FilePlan,
    #[serde(skip)]
    sums: BTreeMap<Currency, Sums>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    spend_count: u64,
    spend: i128,
    credit_count: u64,
    credit: i128,
}

impl ImportSummary {
    /// An empty summary for a planned file.
    pub fn new(file: String, plan: FilePlan) -> Self {
        ImportSummary {
            file,
            format: plan.layout.to_string(),
            rows_read: 0,
            transactions: 0,
            rejected: Vec::new(),
            rejected_count: 0,
            excluded: 0,
            excluded_by_reason: BTreeMap::new(),
            first_date: None,
            last_date: None,
            totals: Vec::new(),
            detected: plan,
            sums: BTreeMap::new(),
        }
    }

    /// Counts one row outcome.
    pub fn record(&mut self, outcome: &RowOutcome) {
        match outcome {
            RowOutcome::Rejected(rejection) => {
                self.rows_read += 1;
                self.rejected_count += 1;
                if self.rejected.len() < MAX_LISTED_REJECTIONS {
                    self.rejected.push(rejection.clone());
                }
            }
            RowOutcome::Skipped { exclusion, .. } => {
                self.rows_read += 1;
                self.excluded += 1;
                *self
                    .excluded_by_reason
                    .entry(exclusion.reason.code())
                    .or_default() += 1;
            }
            RowOutcome::Transaction(tx) => self.count_transaction(&tx.view()),
        }
        // Totals are rebuilt cheaply from the per-currency sums when read.
    }

    /// Counts one transaction row, from its view: the Arrow path has no owned transaction.
    pub(crate) fn count_transaction(&mut self, tx: &TransactionView<'_>) {
        self.rows_read += 1;
        self.first_date = Some(
            self.first_date
                .map_or(tx.booked_date, |d| d.min(tx.booked_date)),
        );
        self.last_date = Some(
            self.last_date
                .map_or(tx.booked_date, |d| d.max(tx.booked_date)),
        );
        let amount = tx.amount.0;
        let sums = self.sums.entry(amount.currency()).or_default();
        let minor = i128::from(amount.minor_units());
        match (&tx.class, &tx.exclusion) {
            (TransactionClass::Spend, _) => {
                self.transactions += 1;
                sums.spend_count += 1;
                sums.spend += minor;
            }
            (TransactionClass::Credit, _) => {
                self.transactions += 1;
                sums.credit_count += 1;
                sums.credit += minor;
            }
            (TransactionClass::Excluded, exclusion) => {
                self.excluded += 1;
                let code = exclusion.as_ref().map_or("unknown", |e| e.reason.code());
                *self.excluded_by_reason.entry(code).or_default() += 1;
            }
        }
    }

    /// Adds the counts of the rows right after these (counted apart, on another thread), as if
    /// they had been recorded here: rejections stay listed in file order.
    pub fn merge(&mut self, later: ImportSummary) {
        self.rows_read += later.rows_read;
        self.transactions += later.transactions;
        let room = MAX_LISTED_REJECTIONS.saturating_sub(self.rejected.len());
        self.rejected.extend(later.rejected.into_iter().take(room));
        self.rejected_count += later.rejected_count;
        self.excluded += later.excluded;
        for (code, count) in later.excluded_by_reason {
            *self.excluded_by_reason.entry(code).or_default() += count;
        }
        self.first_date = self.first_date.into_iter().chain(later.first_date).min();
        self.last_date = self.last_date.into_iter().chain(later.last_date).max();
        for (currency, sums) in later.sums {
            let mine = self.sums.entry(currency).or_default();
            mine.spend_count += sums.spend_count;
            mine.spend += sums.spend;
            mine.credit_count += sums.credit_count;
            mine.credit += sums.credit;
        }
    }

    /// Finalises the per-currency totals (call once all rows are recorded).
    pub fn finish(&mut self) {
        self.totals = self
            .sums
            .iter()
            .filter(|(_, s)| s.spend_count + s.credit_count > 0)
            .map(|(currency, s)| CurrencyTotals {
                currency: currency.code().to_string(),
                spend_count: s.spend_count,
                spend: format_minor(s.spend, currency.minor_digits()),
                credit_count: s.credit_count,
                credit: format_minor(s.credit, currency.minor_digits()),
            })
            .collect();
    }

    /// Net spend (spend minus credit) of one currency in minor units, for checks.
    pub fn net_minor(&self, currency: &str) -> Option<i128> {
        let currency = Currency::new(currency).ok()?;
        self.sums.get(&currency).map(|s| s.spend - s.credit)
    }
}
