//! Hand-checked fixtures for the CSV connector: one small, realistic file per export layout
//! and per quirk (encodings, delimiters, amount and date forms, bad rows, mappings, ids).
//!
//! Every expectation was computed by hand from the fixture; the arithmetic is written next to
//! it. Expectations state the CORRECT behaviour, so a failure here is a connector bug (or a
//! fixture mistake), never something to "fix" by editing the expectation.
//!
//! Mismatches are collected per test and reported together, so one bug does not hide another.
//! Line numbers are 1-based physical lines of the fixture file (header = line 1 unless noted).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use verocta_ingest::csv::amount::DecimalSeparator;
use verocta_ingest::csv::date::DateOrder;
use verocta_ingest::csv::layout::AmountSign;
use verocta_ingest::csv::sniff::TextEncoding;
use verocta_ingest::csv::{ColumnMapping, RawImportOptions};
use verocta_ingest::{ImportSummary, IngestError, import_file};
use verocta_schemas::{Transaction, TransactionClass};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn opts() -> RawImportOptions {
    RawImportOptions {
        tenant: "acme".into(),
        ..Default::default()
    }
}

fn opts_currency(code: &str) -> RawImportOptions {
    RawImportOptions {
        currency: Some(code.into()),
        ..opts()
    }
}

fn try_import(
    path: &Path,
    raw: RawImportOptions,
) -> Result<(ImportSummary, Vec<Transaction>), IngestError> {
    let config = raw.validate().expect("valid options");
    let mut transactions = Vec::new();
    let summary = import_file(path, &config, |tx| transactions.push(tx))?;
    Ok((summary, transactions))
}

fn import_path(path: &Path, raw: RawImportOptions) -> (ImportSummary, Vec<Transaction>) {
    try_import(path, raw).unwrap_or_else(|e| panic!("{} failed to import: {e}", path.display()))
}

fn import(name: &str, raw: RawImportOptions) -> (ImportSummary, Vec<Transaction>) {
    import_path(&fixture(name), raw)
}

/// Collects mismatches and panics with all of them when dropped.
struct Check {
    name: String,
    failures: Vec<String>,
}

impl Check {
    fn new(name: &str) -> Self {
        Check {
            name: name.to_string(),
            failures: Vec::new(),
        }
    }

    fn eq<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.failures
                .push(format!("{what}: got {actual:?}, expected {expected:?}"));
        }
    }

    fn truth(&mut self, what: &str, ok: bool) {
        if !ok {
            self.failures.push(what.to_string());
        }
    }

    /// The transaction whose record starts on `line`, for field checks.
    fn tx<'c, 't>(&'c mut self, transactions: &'t [Transaction], line: u64) -> TxCheck<'c, 't> {
        let tx = transactions.iter().find(|t| t.source.line == Some(line));
        if tx.is_none() {
            self.failures
                .push(format!("no transaction emitted for line {line}"));
        }
        TxCheck {
            check: self,
            line,
            tx,
        }
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        if !self.failures.is_empty() && !std::thread::panicking() {
            panic!(
                "{}: {} mismatch(es):\n  - {}",
                self.name,
                self.failures.len(),
                self.failures.join("\n  - ")
            );
        }
    }
}

/// Field checks on one emitted transaction (skipped when it is missing; that is already a failure).
struct TxCheck<'c, 't> {
    check: &'c mut Check,
    line: u64,
    tx: Option<&'t Transaction>,
}

fn class_code(tx: &Transaction) -> String {
    match tx.class {
        TransactionClass::Excluded => {
            format!(
                "excluded/{}",
                tx.exclusion.as_ref().map_or("?", |e| e.reason.code())
            )
        }
        class => class.code().to_string(),
    }
}

impl TxCheck<'_, '_> {
    fn field<T: PartialEq + Debug>(
        self,
        what: &str,
        get: impl FnOnce(&Transaction) -> T,
        expected: T,
    ) -> Self {
        if let Some(tx) = self.tx {
            let label = format!("line {} {what}", self.line);
            self.check.eq(&label, get(tx), expected);
        }
        self
    }
    /// `spend`, `credit` or `excluded/<reason code>`.
    fn class(self, expected: &str) -> Self {
        self.field("class", class_code, expected.to_string())
    }
    /// `"<decimal> <CODE>"`, e.g. `"42.61 GBP"`.
    fn amount(self, expected: &str) -> Self {
        self.field("amount", |t| t.amount.to_string(), expected.to_string())
    }
    fn date(self, expected: &str) -> Self {
        self.field(
            "booked_date",
            |t| t.booked_date.to_string(),
            expected.to_string(),
        )
    }
    fn time(self, expected: Option<&str>) -> Self {
        self.field(
            "booked_time",
            |t| t.booked_time.map(|x| x.to_string()),
            expected.map(str::to_string),
        )
    }
    fn vendor(self, expected: Option<&str>) -> Self {
        self.field(
            "vendor_raw",
            |t| t.vendor_raw.clone(),
            expected.map(str::to_string),
        )
    }
    fn memo(self, expected: Option<&str>) -> Self {
        self.field("memo", |t| t.memo.clone(), expected.map(str::to_string))
    }
    fn category(self, expected: Option<&str>) -> Self {
        self.field(
            "category_raw",
            |t| t.category_raw.clone(),
            expected.map(str::to_string),
        )
    }
    fn account(self, expected: Option<&str>) -> Self {
        self.field(
            "account",
            |t| t.account.clone(),
            expected.map(str::to_string),
        )
    }
    fn card(self, expected: Option<&str>) -> Self {
        self.field(
            "card_last4",
            |t| t.card_last4.clone(),
            expected.map(str::to_string),
        )
    }
    fn original(self, expected: Option<&str>) -> Self {
        self.field(
            "original_amount",
            |t| t.original_amount.map(|m| m.to_string()),
            expected.map(str::to_string),
        )
    }
    fn external_id(self, expected: Option<&str>) -> Self {
        self.field(
            "external_id",
            |t| t.source.external_id.clone(),
            expected.map(str::to_string),
        )
    }
    fn employee(self, expected: Option<&str>) -> Self {
        self.field(
            "employee",
            |t| t.employee.clone(),
            expected.map(str::to_string),
        )
    }
    fn department(self, expected: Option<&str>) -> Self {
        self.field(
            "department",
            |t| t.department.clone(),
            expected.map(str::to_string),
        )
    }
    fn payment_method(self, expected: Option<&str>) -> Self {
        self.field(
            "payment_method",
            |t| t.payment_method.clone(),
            expected.map(str::to_string),
        )
    }
}

/// (currency, spend_count, spend, credit_count, credit)
type Totals = (&'static str, u64, &'static str, u64, &'static str);

/// What a fixture must import to.
struct Expect {
    layout: &'static str,
    rows_read: u64,
    transactions: u64,
    excluded: u64,
    /// Complete `excluded_by_reason`.
    reasons: &'static [(&'static str, u64)],
    /// (line, column header) of every rejection, in file order.
    rejected: &'static [(u64, Option<&'static str>)],
    /// Complete totals, ordered by currency code.
    totals: &'static [Totals],
}

/// The table-driven part every fixture test runs.
fn check_summary(c: &mut Check, summary: &ImportSummary, transactions: &[Transaction], e: &Expect) {
    c.eq("format", summary.format.as_str(), e.layout);
    c.eq("detected.layout", summary.detected.layout, e.layout);
    c.eq("rows_read", summary.rows_read, e.rows_read);
    c.eq("transactions", summary.transactions, e.transactions);
    c.eq("excluded", summary.excluded, e.excluded);
    let reasons: BTreeMap<&str, u64> = e.reasons.iter().copied().collect();
    let actual_reasons: BTreeMap<&str, u64> = summary
        .excluded_by_reason
        .iter()
        .map(|(k, v)| (*k, *v))
        .collect();
    c.eq("excluded_by_reason", actual_reasons, reasons);
    c.eq(
        "rejected_count",
        summary.rejected_count,
        e.rejected.len() as u64,
    );
    let rejected: Vec<(u64, Option<&str>)> = summary
        .rejected
        .iter()
        .map(|r| (r.line, r.column.as_deref()))
        .collect();
    c.eq("rejected (line, column)", rejected, e.rejected.to_vec());
    let totals: Vec<(&str, u64, &str, u64, &str)> = summary
        .totals
        .iter()
        .map(|t| {
            (
                t.currency.as_str(),
                t.spend_count,
                t.spend.as_str(),
                t.credit_count,
                t.credit.as_str(),
            )
        })
        .collect();
    c.eq("totals", totals, e.totals.to_vec());
    // The accounting identity the summary promises.
    c.eq(
        "rows_read == transactions + excluded + rejected",
        summary.rows_read,
        summary.transactions + summary.excluded + summary.rejected_count,
    );
    for tx in transactions {
        if let Err(error) = tx.validate() {
            c.failures.push(format!("invalid transaction: {error}"));
        }
        c.eq("source.format", tx.source.format.as_str(), e.layout);
    }
}

// ---------------------------------------------------------------------------------------------
// 1–14: one fixture per layout
// ---------------------------------------------------------------------------------------------

/// QuickBooks Online "Transaction List by Date": 3 title rows, blank line, header with a
/// leading empty column on line 5, data on lines 6–15, a blank-cells row (16), TOTAL (17),
/// two blank lines and the export timestamp footer (20).
#[test]
fn quickbooks_transaction_list_by_date() {
    let mut c = Check::new("quickbooks-transaction-list.csv");
    let (s, txs) = import("quickbooks-transaction-list.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "quickbooks-report",
            // 10 data rows (lines 6–15) + TOTAL + footer; the all-empty `,,,,,,,,` row is blank.
            rows_read: 12,
            // spend: Expense, Check, Bill, Expense (4); credit: Deposit, Vendor Credit (2)
            transactions: 6,
            // Bill Payment, Credit Card Payment, Transfer, Journal Entry, TOTAL, footer
            excluded: 6,
            reasons: &[
                ("bill_payment", 1),
                ("card_balance_payment", 1),
                ("non_cash", 1),
                ("own_account_transfer", 1),
                ("report_layout", 1),
                ("total_row", 1),
            ],
            rejected: &[],
            // spend  = 145.20 + 1,234.56 + 2,310.00 + 612.40 = 4,302.16
            // credit = 4,750.00 + 89.50 = 4,839.50
            // (cross-check: TOTAL row -8,689.33 = 4,839.50 - (4,302.16 + 2,310.00 + 1,500.00
            //  + 5,000.00 + 416.67) = 4,839.50 - 13,528.83)
            totals: &[("USD", 4, "4302.16", 2, "4839.50")],
        },
    );
    c.eq(
        "header_line (3 titles + blank, header on line 5)",
        s.detected.header_line,
        5,
    );
    c.eq(
        "date_order (01/15/2024 proves month-first)",
        s.detected.date_order,
        Some(DateOrder::MonthFirst),
    );
    c.tx(&txs, 6)
        .class("spend")
        .amount("145.20 USD")
        .date("2024-01-03")
        .vendor(Some("Staples"));
    c.tx(&txs, 7)
        .class("spend")
        .amount("1234.56 USD")
        .date("2024-01-08")
        .vendor(Some("Oakwood Properties"))
        .memo(Some("January rent"))
        .account(Some("Chase Checking"))
        .external_id(Some("1042"));
    c.tx(&txs, 9)
        .class("excluded/bill_payment")
        .amount("2310.00 USD");
    c.tx(&txs, 10)
        .class("credit")
        .amount("4750.00 USD")
        .vendor(Some("Globex Corp"));
    c.tx(&txs, 11).class("excluded/card_balance_payment");
    c.tx(&txs, 12).class("excluded/own_account_transfer");
    c.tx(&txs, 13).class("credit").amount("89.50 USD");
    c.tx(&txs, 14)
        .class("excluded/non_cash")
        .amount("416.67 USD")
        .vendor(Some("Depreciation Q1"));
    c.tx(&txs, 15)
        .class("spend")
        .amount("612.40 USD")
        .date("2024-03-14")
        .account(Some("Amex Business Card"));
}

/// QuickBooks Online "Transaction Detail by Account" as QuickBooks writes it: section labels
/// and `Total for …` rows in the first (unnamed) column; no Account column, so rows take the
/// section as their account. Lines: header 5, section 6, rows 7–9, total 10, section 11,
/// rows 12–13, total 14, TOTAL 15, footer 17.
#[test]
fn quickbooks_detail_by_account() {
    let mut c = Check::new("quickbooks-detail-by-account.csv");
    let (s, txs) = import("quickbooks-detail-by-account.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "quickbooks-report",
            // 2 sections + 5 rows + 2 section totals + TOTAL + footer
            rows_read: 11,
            // spend: Expense 45.99, Bill 1,250.00, Expense 612.40, Expense 389.00; credit: Vendor Credit
            transactions: 5,
            // report_layout: 2 section labels + footer; total_row: 2 "Total for" + TOTAL
            excluded: 6,
            reasons: &[("report_layout", 3), ("total_row", 3)],
            rejected: &[],
            // spend  = 45.99 + 1,250.00 + 612.40 + 389.00 = 2,297.39
            // credit = 310.00
            // (cross-check: 2,297.39 - 310.00 = 1,987.39 = TOTAL row)
            totals: &[("USD", 4, "2297.39", 1, "310.00")],
        },
    );
    c.tx(&txs, 7)
        .class("spend")
        .amount("45.99 USD")
        .vendor(Some("Staples"))
        .memo(Some("Printer paper"))
        .account(Some("Office Expenses"));
    c.tx(&txs, 8)
        .class("spend")
        .amount("1250.00 USD")
        .account(Some("Office Expenses"))
        .external_id(Some("INV-204"));
    c.tx(&txs, 9)
        .class("credit")
        .amount("310.00 USD")
        .account(Some("Office Expenses"));
    c.tx(&txs, 12)
        .class("spend")
        .amount("612.40 USD")
        .date("2024-02-14")
        .account(Some("Travel"));
    c.tx(&txs, 13)
        .class("spend")
        .amount("389.00 USD")
        .account(Some("Travel"));
}

/// The same report with section labels written one column to the right (`,Office Expenses,,…`),
/// i.e. in the Date column, as the brief describes it. A label-only row is a section heading
/// however it is indented; it must not be rejected as a bad date.
#[test]
fn quickbooks_detail_by_account_shifted_sections() {
    let mut c = Check::new("quickbooks-detail-by-account-shifted.csv");
    let (s, txs) = import("quickbooks-detail-by-account-shifted.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "quickbooks-report",
            // lines 6–15: 2 sections + 5 rows + 2 section totals + TOTAL
            rows_read: 10,
            transactions: 5,
            excluded: 5,
            reasons: &[("report_layout", 2), ("total_row", 3)],
            rejected: &[],
            // same rows as quickbooks-detail-by-account.csv: 45.99 + 1,250.00 + 612.40 + 389.00
            totals: &[("USD", 4, "2297.39", 1, "310.00")],
        },
    );
    c.tx(&txs, 7)
        .class("spend")
        .amount("45.99 USD")
        .account(Some("Office Expenses"));
    c.tx(&txs, 12)
        .class("spend")
        .amount("612.40 USD")
        .account(Some("Travel"));
}

/// QuickBooks 4-column bank upload: Date, Description, Credit, Debit.
#[test]
fn quickbooks_bank_upload() {
    let mut c = Check::new("quickbooks-bank.csv");
    let (s, txs) = import("quickbooks-bank.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "quickbooks-bank",
            rows_read: 8,
            transactions: 7,
            // TRANSFER TO SAVINGS
            excluded: 1,
            reasons: &[("own_account_transfer", 1)],
            rejected: &[],
            // spend  (Debit)  = 312.45 + 8,450.00 + 54.20 + 15.99 = 8,832.64
            // credit (Credit) = 10,000.00 + 2,118.30 + 0.87 = 12,119.17
            totals: &[("USD", 4, "8832.64", 3, "12119.17")],
        },
    );
    c.eq(
        "date_order",
        s.detected.date_order,
        Some(DateOrder::MonthFirst),
    );
    c.tx(&txs, 2)
        .class("credit")
        .amount("10000.00 USD")
        .date("2024-01-02");
    c.tx(&txs, 3)
        .class("spend")
        .amount("312.45 USD")
        .vendor(Some("AMAZON WEB SERVICES"))
        .memo(None);
    c.tx(&txs, 4).class("spend").amount("8450.00 USD");
    c.tx(&txs, 9)
        .class("excluded/own_account_transfer")
        .amount("2000.00 USD");
}

/// Xero precoded statement import (UK): `*Date,*Amount,…`, negative = money out, day-first.
#[test]
fn xero_import_template() {
    let mut c = Check::new("xero-import.csv");
    let (s, txs) = import("xero-import.csv", opts_currency("GBP"));
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "xero-import",
            rows_read: 8,
            transactions: 7,
            // "Transfer to savings"
            excluded: 1,
            reasons: &[("own_account_transfer", 1)],
            rejected: &[],
            // spend  = 42.50 + 1,250.00 + 89.99 + 320.00 + 15.00 + 275.00 = 1,992.49
            // credit = 3,600.00
            totals: &[("GBP", 6, "1992.49", 1, "3600.00")],
        },
    );
    c.eq(
        "date_order (15/01/2024 proves day-first)",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.eq(
        "amount_sign",
        s.detected.amount_sign,
        AmountSign::SpendNegative,
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("42.50 GBP")
        .date("2024-01-02")
        .vendor(Some("Pret A Manger"))
        .memo(Some("Team lunch"));
    c.tx(&txs, 4)
        .class("credit")
        .amount("3600.00 GBP")
        .vendor(Some("Initech Ltd"));
    c.tx(&txs, 8)
        .class("excluded/own_account_transfer")
        .vendor(Some("Transfer to savings"));
    c.tx(&txs, 9)
        .class("spend")
        .amount("275.00 GBP")
        .date("2024-01-31");
}

/// Xero/Revolut-style statement (columns of shared xero_sample.csv) with DECLINED and
/// REVERTED rows and one refund.
#[test]
fn xero_statement() {
    let mut c = Check::new("xero-statement.csv");
    let (s, txs) = import("xero-statement.csv", opts_currency("GBP"));
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "xero-statement",
            rows_read: 8,
            transactions: 6,
            // txn_103 DECLINED, txn_107 REVERTED
            excluded: 2,
            reasons: &[("declined_or_failed", 2)],
            rejected: &[],
            // spend  = 420.00 + 64.99 + 230.00 (txn_104) + 1,899.00 + 18.00 = 2,631.99
            // credit = 64.99 (txn_105 refund)
            totals: &[("GBP", 5, "2631.99", 1, "64.99")],
        },
    );
    c.tx(&txs, 3)
        .class("spend")
        .amount("64.99 GBP")
        .date("2024-03-04")
        .vendor(Some("Figma Inc."))
        .memo(Some("Figma Professional"))
        .category(Some("Software & Apps"))
        .account(Some("GB29 REVO 0099 7000 0000 01"))
        .external_id(Some("txn_102"))
        .payment_method(Some("card"));
    c.tx(&txs, 4)
        .class("excluded/declined_or_failed")
        .external_id(Some("txn_103"));
    c.tx(&txs, 5)
        .class("spend")
        .amount("230.00 GBP")
        .external_id(Some("txn_104"));
    c.tx(&txs, 6).class("credit").amount("64.99 GBP");
    c.tx(&txs, 8)
        .class("excluded/declined_or_failed")
        .amount("75.50 GBP");
}

/// Wave: `Amount (USD)` states the currency, overriding the default (GBP given here).
#[test]
fn wave() {
    let mut c = Check::new("wave.csv");
    let (s, txs) = import("wave.csv", opts_currency("GBP"));
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "wave",
            rows_read: 8,
            transactions: 6,
            // "Credit card payment", "Transfer to savings"
            excluded: 2,
            reasons: &[("card_balance_payment", 1), ("own_account_transfer", 1)],
            rejected: &[],
            // spend  = 2,800.00 + 25.99 + 89.99 + 156.78 = 3,072.76
            // credit = 4,500.00 + 19.99 = 4,519.99
            totals: &[("USD", 4, "3072.76", 2, "4519.99")],
        },
    );
    c.eq("detected.currency", s.detected.currency.code(), "USD");
    c.tx(&txs, 2)
        .class("spend")
        .amount("2800.00 USD")
        .vendor(Some("Office rent - Regus"))
        .account(Some("Business Checking"));
    c.tx(&txs, 4).class("credit").amount("4500.00 USD");
    c.tx(&txs, 6).class("excluded/card_balance_payment");
    c.tx(&txs, 8)
        .class("spend")
        .amount("156.78 USD")
        .account(Some("Business Credit Card"));
}

/// Revolut Business statement. `Total amount` (fee included) is the amount; `Payer` is the
/// team member who paid, `Description` the counterparty. The PENDING row has no completion
/// date, as Revolut writes it.
#[test]
fn revolut_business() {
    let mut c = Check::new("revolut-business.csv");
    let (s, txs) = import("revolut-business.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "revolut-business",
            rows_read: 11,
            // GBP spend: card payment, supplier transfer, plan fee; GBP credit: card refund,
            // customer transfer in; EUR spend: hotel
            transactions: 6,
            // To EUR, TOPUP, EXCHANGE, REVERTED, PENDING
            excluded: 5,
            reasons: &[
                ("currency_exchange", 1),
                ("declined_or_failed", 1),
                ("own_account_transfer", 1),
                ("pending", 1),
                ("top_up", 1),
            ],
            rejected: &[],
            totals: &[
                // EUR spend = 240.00
                ("EUR", 1, "240.00", 0, "0.00"),
                // GBP spend  = 42.61 + 1,200.20 (1,200.00 + 0.20 fee, the Total amount) + 25.00 = 1,267.81
                // GBP credit = 12.30 + 3,000.00 = 3,012.30
                ("GBP", 3, "1267.81", 2, "3012.30"),
            ],
        },
    );
    c.eq(
        "amount_sign",
        s.detected.amount_sign,
        AmountSign::SpendNegative,
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("42.61 GBP")
        .original(Some("54.00 USD"))
        .date("2024-01-15")
        .time(Some("13:45:12"))
        .vendor(Some("Amazon Web Services"))
        .card(Some("4821"))
        .account(Some("Main"))
        .external_id(Some("65a5372c-1b2d-a6f1-8e3c-7d1f0a2b3c01"));
    // Same currency, no conversion: the fee is not an "original amount".
    c.tx(&txs, 3)
        .class("spend")
        .amount("1200.20 GBP")
        .vendor(Some("To ACME SUPPLIES LTD"))
        .original(None);
    c.tx(&txs, 4).class("excluded/own_account_transfer");
    c.tx(&txs, 5).class("excluded/top_up");
    c.tx(&txs, 6).class("excluded/currency_exchange");
    c.tx(&txs, 7)
        .class("credit")
        .amount("12.30 GBP")
        .original(Some("15.60 USD"));
    c.tx(&txs, 8).class("excluded/declined_or_failed");
    c.tx(&txs, 9).class("credit").amount("3000.00 GBP");
    c.tx(&txs, 10)
        .class("spend")
        .amount("240.00 EUR")
        .account(Some("EUR"))
        .original(None);
    c.tx(&txs, 11).class("excluded/pending").amount("6.85 GBP");
    c.tx(&txs, 12).class("spend").amount("25.00 GBP");
}

/// Revolut personal (current layout): the fee is added to money-out rows.
#[test]
fn revolut_personal() {
    let mut c = Check::new("revolut-personal.csv");
    let (s, txs) = import("revolut-personal.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "revolut",
            rows_read: 11,
            // spend: Tesco, Amazon, To JOHN SMITH, Ryanair; credit: CARD_REFUND
            transactions: 5,
            excluded: 6,
            reasons: &[
                ("cash_withdrawal", 1),
                ("currency_exchange", 1),
                ("declined_or_failed", 1),
                ("own_account_transfer", 1),
                ("pending", 1),
                ("top_up", 1),
            ],
            rejected: &[],
            // spend  = 23.45 + 59.99 + 150.00 + (89.99 + 2.70 fee = 92.69) = 326.13
            // credit = 59.99
            totals: &[("GBP", 4, "326.13", 1, "59.99")],
        },
    );
    c.tx(&txs, 3).class("excluded/top_up");
    c.tx(&txs, 5)
        .class("spend")
        .amount("150.00 GBP")
        .vendor(Some("To JOHN SMITH"));
    c.tx(&txs, 6).class("excluded/cash_withdrawal");
    c.tx(&txs, 7).class("excluded/own_account_transfer");
    c.tx(&txs, 8).class("excluded/currency_exchange");
    c.tx(&txs, 9)
        .class("spend")
        .amount("92.69 GBP")
        .vendor(Some("Ryanair"));
    c.tx(&txs, 10)
        .class("credit")
        .amount("59.99 GBP")
        .date("2024-02-12")
        .time(Some("09:15:00"));
    c.tx(&txs, 11).class("excluded/pending").amount("31.20 GBP");
    c.tx(&txs, 12).class("excluded/declined_or_failed");
}

/// Legacy Revolut: Paid Out (GBP) / Paid In (GBP) / Exchange Out / Exchange In, day-first.
#[test]
fn revolut_legacy() {
    let mut c = Check::new("revolut-legacy.csv");
    let (s, txs) = import("revolut-legacy.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "revolut",
            rows_read: 8,
            transactions: 6,
            // exchange-only row (line 5), "Transfer to Savings"
            excluded: 2,
            reasons: &[("currency_exchange", 1), ("own_account_transfer", 1)],
            rejected: &[],
            // spend  = 45.67 + 89.99 + 23.45 + 5.00 = 164.11
            // credit = 1,250.00 + 19.99 = 1,269.99
            totals: &[("GBP", 4, "164.11", 2, "1269.99")],
        },
    );
    c.eq(
        "date_order",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.eq(
        "detected.currency (from `Paid Out (GBP)`)",
        s.detected.currency.code(),
        "GBP",
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("45.67 GBP")
        .date("2024-01-05")
        .vendor(Some("Office Supplies Ltd"))
        .memo(Some("Stationery and office materials"))
        .category(Some("Shopping"));
    c.tx(&txs, 4).class("credit").amount("1250.00 GBP");
    c.tx(&txs, 5)
        .class("excluded/currency_exchange")
        .amount("200.00 GBP");
    c.tx(&txs, 9)
        .class("excluded/own_account_transfer")
        .amount("500.00 GBP");
}

/// Expensify export with a foreign-currency receipt and a negative (refund) row.
#[test]
fn expensify() {
    let mut c = Check::new("expensify.csv");
    let (s, txs) = import("expensify.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "expensify",
            rows_read: 6,
            transactions: 6,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 24.50 + 96.30 + 412.00 + 38.17 + 45.00 = 615.97
            // credit = 120.00 (Delta refund, written -120.00)
            totals: &[("USD", 5, "615.97", 1, "120.00")],
        },
    );
    c.eq(
        "amount_sign",
        s.detected.amount_sign,
        AmountSign::SpendPositive,
    );
    c.tx(&txs, 3)
        .class("spend")
        .amount("96.30 USD")
        .original(Some("88.00 EUR"))
        .date("2024-01-09")
        .time(Some("19:40:02"))
        .vendor(Some("Le Petit Bistro"))
        .memo(Some("Client dinner, 3 people"))
        .category(Some("Meals & Entertainment"));
    // Original amount equal to the amount (same currency) is not a conversion.
    c.tx(&txs, 2)
        .class("spend")
        .amount("24.50 USD")
        .original(None);
    c.tx(&txs, 6)
        .class("credit")
        .amount("120.00 USD")
        .vendor(Some("Delta Air Lines"));
}

/// Brex card export: "Payment to Brex" is a card-balance payment; a refund; a pending row; GBP.
#[test]
fn brex() {
    let mut c = Check::new("brex.csv");
    let (s, txs) = import("brex.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "brex",
            rows_read: 9,
            transactions: 7,
            excluded: 2,
            reasons: &[("card_balance_payment", 1), ("pending", 1)],
            rejected: &[],
            totals: &[
                // GBP spend = 245.50
                ("GBP", 1, "245.50", 0, "0.00"),
                // USD spend  = 1,843.22 + 45.00 + 689.40 + 32.15 + 144.00 = 2,753.77
                // USD credit = 689.40 (United Airlines refund)
                ("USD", 5, "2753.77", 1, "689.40"),
            ],
        },
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("1843.22 USD")
        .date("2024-02-01")
        .vendor(Some("AWS"))
        .category(Some("Software"))
        .employee(Some("Priya Patel"))
        .card(Some("4417"));
    c.tx(&txs, 6).class("credit").amount("689.40 USD");
    c.tx(&txs, 7)
        .class("excluded/card_balance_payment")
        .amount("5000.00 USD");
    c.tx(&txs, 9).class("excluded/pending");
    c.tx(&txs, 10).class("spend").amount("245.50 GBP");
}

/// Ramp card export with a refund, a zero-amount card check and a EUR row.
#[test]
fn ramp() {
    let mut c = Check::new("ramp.csv");
    let (s, txs) = import("ramp.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "ramp",
            rows_read: 7,
            transactions: 6,
            excluded: 1,
            reasons: &[("zero_amount", 1)],
            rejected: &[],
            totals: &[
                // EUR spend = 89.90
                ("EUR", 1, "89.90", 0, "0.00"),
                // USD spend  = 96.00 + 512.30 + 41.85 + 1,200.00 = 1,850.15
                // USD credit = 512.30
                ("USD", 4, "1850.15", 1, "512.30"),
            ],
        },
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("96.00 USD")
        .vendor(Some("Notion"))
        .memo(Some("Team plan"))
        .category(Some("Software"))
        .employee(Some("Alex Kim"))
        .department(Some("Engineering"))
        .card(Some("7788"));
    c.tx(&txs, 5)
        .class("credit")
        .amount("512.30 USD")
        .card(Some("5521"));
    c.tx(&txs, 7).class("excluded/zero_amount");
    c.tx(&txs, 8).class("spend").amount("89.90 EUR");
}

/// UK bank export with Paid Out / Paid In, opening and closing balance rows.
#[test]
fn bank_split() {
    let mut c = Check::new("bank-split.csv");
    let (s, txs) = import("bank-split.csv", opts_currency("GBP"));
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "bank-split",
            rows_read: 10,
            transactions: 7,
            // Opening Balance, Closing Balance, Transfer to savings
            excluded: 3,
            reasons: &[("balance_row", 2), ("own_account_transfer", 1)],
            rejected: &[],
            // spend  = 84.20 + 56.18 + 1,150.00 + 23.99 + 8.50 = 1,322.87
            // credit = 2,400.00 + 23.99 = 2,423.99
            // (cross-check: 5,230.10 - 1,322.87 - 1,000.00 + 2,423.99 = 5,331.22 closing balance)
            totals: &[("GBP", 5, "1322.87", 2, "2423.99")],
        },
    );
    c.eq(
        "date_order",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.truth(
        "opening balance (line 2) is not emitted as a transaction",
        !txs.iter().any(|t| t.source.line == Some(2)),
    );
    c.tx(&txs, 3)
        .class("spend")
        .amount("84.20 GBP")
        .date("2024-03-01")
        .vendor(Some("DD BRITISH GAS"));
    c.tx(&txs, 5).class("credit").amount("2400.00 GBP");
    c.tx(&txs, 6)
        .class("excluded/own_account_transfer")
        .amount("1000.00 GBP");
}

/// Generic ledger: Date, Description, Amount, Category (positive = spend, inferred).
#[test]
fn generic() {
    let mut c = Check::new("generic.csv");
    let (s, txs) = import("generic.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 8,
            transactions: 7,
            excluded: 1,
            reasons: &[("zero_amount", 1)],
            rejected: &[],
            // spend  = 18,250.00 + 2,310.45 + 87.50 + 1,500.00 + 36.20 + 750.00 = 22,934.15
            // credit = 42.99
            totals: &[("USD", 6, "22934.15", 1, "42.99")],
        },
    );
    c.eq(
        "amount_sign (6 positive vs 1 negative)",
        s.detected.amount_sign,
        AmountSign::SpendPositive,
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("18250.00 USD")
        .vendor(Some("Gusto payroll"))
        .category(Some("Payroll"));
    c.tx(&txs, 5).class("credit").amount("42.99 USD");
    c.tx(&txs, 7).class("excluded/zero_amount");
}

// ---------------------------------------------------------------------------------------------
// Encodings: generated from encoding-source.csv (4 rows, all EUR by `€`)
// ---------------------------------------------------------------------------------------------

fn encoding_source() -> String {
    std::fs::read_to_string(fixture("encoding-source.csv")).unwrap()
}

fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|ch| match ch {
            'é' => 0xE9,
            'É' => 0xC9,
            '€' => 0x80,
            c if c.is_ascii() => c as u8,
            c => panic!("{c} not mapped"),
        })
        .collect()
}

fn check_encoded(name: &str, bytes: &[u8], encoding: TextEncoding) {
    let mut c = Check::new(name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let (s, txs) = import_path(&path, opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 4,
            transactions: 4,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 4.60 + 12.30 + 8.00 = 24.90; credit = 4.60 (refund)
            totals: &[("EUR", 3, "24.90", 1, "4.60")],
        },
    );
    c.eq("encoding", s.detected.encoding, encoding);
    c.tx(&txs, 2)
        .class("spend")
        .amount("4.60 EUR")
        .vendor(Some("Café Nero"));
    c.tx(&txs, 3).vendor(Some("Boulangerie Éric"));
    c.tx(&txs, 4).vendor(Some("Société Générale fee"));
    c.tx(&txs, 5).class("credit").amount("4.60 EUR");
}

#[test]
fn encoding_utf8() {
    check_encoded("utf8.csv", encoding_source().as_bytes(), TextEncoding::Utf8);
}

#[test]
fn encoding_utf8_bom() {
    let bytes: Vec<u8> = [0xEF, 0xBB, 0xBF]
        .into_iter()
        .chain(encoding_source().into_bytes())
        .collect();
    check_encoded("utf8-bom.csv", &bytes, TextEncoding::Utf8Bom);
}

#[test]
fn encoding_utf16_le_bom() {
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(encoding_source().encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    check_encoded("utf16le.csv", &bytes, TextEncoding::Utf16Le);
}

#[test]
fn encoding_utf16_be_bom() {
    let bytes: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(encoding_source().encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    check_encoded("utf16be.csv", &bytes, TextEncoding::Utf16Be);
}

#[test]
fn encoding_windows_1252() {
    let bytes = windows_1252(&encoding_source());
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "0xE9 / 0x80 must make the file invalid UTF-8"
    );
    check_encoded("cp1252.csv", &bytes, TextEncoding::Windows1252);
}

// ---------------------------------------------------------------------------------------------
// Delimiters and quoting
// ---------------------------------------------------------------------------------------------

/// `;` with decimal comma and dotted day-first dates; negatives are spend (3 vs 2).
#[test]
fn semicolon_decimal_comma() {
    let mut c = Check::new("semicolon-decimal-comma.csv");
    let (s, txs) = import("semicolon-decimal-comma.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 5,
            transactions: 5,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 49.95 + 1,234.56 + 389.20 = 1,673.71
            // credit = 2,500.00 + 19.99 = 2,519.99
            totals: &[("EUR", 3, "1673.71", 2, "2519.99")],
        },
    );
    c.eq("delimiter", s.detected.delimiter, ';');
    c.eq("decimal", s.detected.decimal, DecimalSeparator::Comma);
    c.eq(
        "date_order",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.eq(
        "amount_sign (3 negative vs 2 positive)",
        s.detected.amount_sign,
        AmountSign::SpendNegative,
    );
    c.tx(&txs, 3)
        .class("spend")
        .amount("1234.56 EUR")
        .date("2024-01-05")
        .vendor(Some("Miete Büro Januar"));
    c.tx(&txs, 4).class("credit").amount("2500.00 EUR");
}

#[test]
fn tab_delimited() {
    let mut c = Check::new("tab-delimited.csv");
    let (s, txs) = import("tab-delimited.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 5,
            transactions: 5,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 27.40 + 1,250.00 + 54.99 + 18.35 = 1,350.74; credit = 54.99
            totals: &[("USD", 4, "1350.74", 1, "54.99")],
        },
    );
    c.eq("delimiter", s.detected.delimiter, '\t');
    c.tx(&txs, 3)
        .class("spend")
        .amount("1250.00 USD")
        .vendor(Some("Smith, Jones & Co"));
}

#[test]
fn pipe_delimited() {
    let mut c = Check::new("pipe-delimited.csv");
    let (s, txs) = import("pipe-delimited.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 5,
            transactions: 5,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 250.00 + 49.00 + 63.10 + 21.00 = 383.10; credit = 25.00
            totals: &[("USD", 4, "383.10", 1, "25.00")],
        },
    );
    c.eq("delimiter", s.detected.delimiter, '|');
    c.tx(&txs, 3)
        .vendor(Some("Zapier, Inc."))
        .amount("49.00 USD");
    c.tx(&txs, 4).amount("63.10 USD");
}

/// Quoted fields with embedded newlines and doubled quotes. Records start on lines 2, 4, 7,
/// 8 and 10; the rejected rows on 7 and 10 follow multi-line records.
#[test]
fn quoted_multiline() {
    let mut c = Check::new("quoted-multiline.csv");
    let (s, txs) = import("quoted-multiline.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 5,
            transactions: 3,
            excluded: 0,
            reasons: &[],
            rejected: &[(7, Some("Amount")), (10, Some("Amount"))],
            // spend = 120.00 + 45.00 + 80.25 = 245.25
            totals: &[("USD", 3, "245.25", 0, "0.00")],
        },
    );
    c.tx(&txs, 2)
        .class("spend")
        .amount("120.00 USD")
        .vendor(Some("Acme \"Rush\" Printing"))
        .memo(Some("Business cards\n500 units, matte"));
    c.tx(&txs, 4)
        .amount("45.00 USD")
        .memo(Some("Line one\nline two\nline three"));
    c.tx(&txs, 8)
        .amount("80.25 USD")
        .vendor(Some("Quote \"Heavy\" Supplies"))
        .memo(Some("He said \"ship it\"\ntomorrow"));
    if let Some(r) = s.rejected.first() {
        c.truth(
            &format!("reason names the cell: {}", r.reason),
            r.reason.contains("N/A"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Amounts
// ---------------------------------------------------------------------------------------------

/// `$1,234.56`, `(45.00)`, `45.00-`, `120.00 CR`, `99.00 DR` in one point-decimal file.
/// Sign inference: 5 unsigned vs 2 negative → positive = spend; CR/DR override the sign.
#[test]
fn amounts_point_decimal_forms() {
    let mut c = Check::new("amounts-point.csv");
    let (s, txs) = import("amounts-point.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 7,
            transactions: 7,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 1,234.56 + 99.00 (DR) + 89.00 + 12.00 = 1,434.56
            // credit = 45.00 (parens) + 45.00 (trailing minus) + 120.00 (CR) = 210.00
            totals: &[("USD", 4, "1434.56", 3, "210.00")],
        },
    );
    c.tx(&txs, 2).class("spend").amount("1234.56 USD");
    c.tx(&txs, 3).class("credit").amount("45.00 USD");
    c.tx(&txs, 4).class("credit").amount("45.00 USD");
    c.tx(&txs, 5).class("credit").amount("120.00 USD");
    c.tx(&txs, 6).class("spend").amount("99.00 USD");
}

/// `EUR 12,50`, `1 234,56 €`, `1.049,00 €`, `-49,00 €` in a `;` decimal-comma file.
#[test]
fn amounts_decimal_comma_forms() {
    let mut c = Check::new("amounts-comma.csv");
    let (s, txs) = import("amounts-comma.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 4,
            transactions: 4,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 12.50 + 1,234.56 + 1,049.00 = 2,296.06; credit = 49.00
            totals: &[("EUR", 3, "2296.06", 1, "49.00")],
        },
    );
    c.eq("decimal", s.detected.decimal, DecimalSeparator::Comma);
    c.eq(
        "date_order (all dotted)",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.tx(&txs, 2).amount("12.50 EUR").date("2024-02-03");
    c.tx(&txs, 3).amount("1234.56 EUR");
    c.tx(&txs, 4).amount("1049.00 EUR");
    c.tx(&txs, 5).class("credit").amount("49.00 EUR");
}

/// Currency from a Currency column, from `¥`/`£` symbols and a `BHD` code; JPY has 0 decimals,
/// BHD 3.
#[test]
fn amounts_currencies() {
    let mut c = Check::new("amounts-currencies.csv");
    let (s, txs) = import("amounts-currencies.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 7,
            transactions: 7,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            totals: &[
                // BHD = 1.234 + 12.500 = 13.734
                ("BHD", 2, "13.734", 0, "0.000"),
                // GBP = 38.50 + 4.20 = 42.70
                ("GBP", 2, "42.70", 0, "0.00"),
                // JPY = 45,800 + 14,170 = 59,970
                ("JPY", 2, "59970", 0, "0"),
                // USD (default, no currency anywhere) = 5.75
                ("USD", 1, "5.75", 0, "0.00"),
            ],
        },
    );
    c.eq("decimal", s.detected.decimal, DecimalSeparator::Point);
    c.tx(&txs, 2).amount("45800 JPY");
    c.tx(&txs, 3).amount("14170 JPY");
    c.tx(&txs, 4).amount("38.50 GBP");
    c.tx(&txs, 5).amount("1.234 BHD");
    c.tx(&txs, 6).amount("12.500 BHD");
    c.tx(&txs, 8).amount("5.75 USD");
}

/// `Amount (GBP)` header hint with the default currency left at USD.
#[test]
fn amount_header_currency_hint() {
    let mut c = Check::new("amount-header-gbp.csv");
    let (s, txs) = import("amount-header-gbp.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 3,
            transactions: 3,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend = 7.85 + 64.30 = 72.15; credit = 64.30
            totals: &[("GBP", 2, "72.15", 1, "64.30")],
        },
    );
    c.eq("detected.currency", s.detected.currency.code(), "GBP");
    c.tx(&txs, 2).amount("7.85 GBP");
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

const DATES_TOTALS: &[Totals] = &[
    // 23.10 + 12.00 + 8.45 + 99.00 = 142.55
    ("USD", 4, "142.55", 0, "0.00"),
];

#[test]
fn dates_month_first() {
    let mut c = Check::new("dates-month-first.csv");
    let (s, txs) = import("dates-month-first.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 4,
            transactions: 4,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            totals: DATES_TOTALS,
        },
    );
    c.eq(
        "date_order (01/13/2024)",
        s.detected.date_order,
        Some(DateOrder::MonthFirst),
    );
    c.tx(&txs, 2).date("2024-01-05");
    c.tx(&txs, 3).date("2024-01-13");
    c.tx(&txs, 4).date("2024-02-03");
    c.tx(&txs, 5).date("2024-12-31");
}

#[test]
fn dates_day_first() {
    let mut c = Check::new("dates-day-first.csv");
    let (s, txs) = import("dates-day-first.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 4,
            transactions: 4,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            totals: DATES_TOTALS,
        },
    );
    c.eq(
        "date_order (13/01/2024)",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.tx(&txs, 2).date("2024-01-05");
    c.tx(&txs, 3).date("2024-01-13");
    c.tx(&txs, 4).date("2024-03-02");
    c.tx(&txs, 5).date("2024-12-31");
}

/// `15 Jan 2024`, `Jan 16, 2024`, `17-Jan-24`, ISO datetimes and `15.01.2024`.
#[test]
fn dates_named_months_and_iso_datetimes() {
    let mut c = Check::new("dates-named-and-iso.csv");
    let (s, txs) = import("dates-named-and-iso.csv", opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            rows_read: 6,
            transactions: 6,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // 4.20 + 3.10 + 2.50 + 14.75 + 22.40 + 31.00 = 77.95
            totals: &[("USD", 6, "77.95", 0, "0.00")],
        },
    );
    c.tx(&txs, 2).date("2024-01-15").time(None);
    c.tx(&txs, 3).date("2024-01-16").time(None);
    c.tx(&txs, 4).date("2024-01-17").time(None);
    c.tx(&txs, 5).date("2024-01-18").time(Some("09:30:00"));
    c.tx(&txs, 6).date("2024-01-19").time(Some("17:05:00"));
    c.tx(&txs, 7).date("2024-01-15").time(None);
}

/// Only values like 03/04/2024: an error unless the order is stated; both orders then read.
#[test]
fn dates_ambiguous() {
    let mut c = Check::new("dates-ambiguous.csv");
    match try_import(&fixture("dates-ambiguous.csv"), opts()) {
        Err(IngestError::AmbiguousDates { line, example, .. }) => {
            c.eq("ambiguous line", line, 2);
            c.eq("ambiguous example", example.as_str(), "03/04/2024");
        }
        other => c.failures.push(format!(
            "expected AmbiguousDates, got {:?}",
            other.map(|(s, _)| s.rows_read)
        )),
    }
    let expect = Expect {
        layout: "generic",
        rows_read: 3,
        transactions: 3,
        excluded: 0,
        reasons: &[],
        rejected: &[],
        // 23.10 + 12.00 + 8.45 = 43.55
        totals: &[("USD", 3, "43.55", 0, "0.00")],
    };
    let (s, txs) = import(
        "dates-ambiguous.csv",
        RawImportOptions {
            date_order: Some(DateOrder::DayFirst),
            ..opts()
        },
    );
    check_summary(&mut c, &s, &txs, &expect);
    c.eq(
        "stated day-first",
        s.detected.date_order,
        Some(DateOrder::DayFirst),
    );
    c.tx(&txs, 2).date("2024-04-03");
    c.tx(&txs, 3).date("2024-06-05");
    c.tx(&txs, 4).date("2024-08-07");
    let (s, txs) = import(
        "dates-ambiguous.csv",
        RawImportOptions {
            date_order: Some(DateOrder::MonthFirst),
            ..opts()
        },
    );
    check_summary(&mut c, &s, &txs, &expect);
    c.tx(&txs, 2).date("2024-03-04");
    c.tx(&txs, 3).date("2024-05-06");
    c.tx(&txs, 4).date("2024-07-08");
}

#[test]
fn dates_conflicting() {
    let mut c = Check::new("dates-conflicting.csv");
    match try_import(&fixture("dates-conflicting.csv"), opts()) {
        Err(IngestError::ConflictingDates {
            day_first_line,
            day_first,
            month_first_line,
            month_first,
            ..
        }) => {
            c.eq("day_first_line", day_first_line, 2);
            c.eq("day_first", day_first.as_str(), "13/01/2024");
            c.eq("month_first_line", month_first_line, 3);
            c.eq("month_first", month_first.as_str(), "01/13/2024");
        }
        other => c.failures.push(format!(
            "expected ConflictingDates, got {:?}",
            other.map(|(s, _)| s.rows_read)
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Bad rows
// ---------------------------------------------------------------------------------------------

/// Lines: 2 good, 3 bad amount, 4 good, 5 empty date, 6 blank, 7 impossible date, 8 good.
fn check_bad_rows(name: &str, path: &Path) {
    let mut c = Check::new(name);
    let (s, txs) = import_path(path, opts());
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "generic",
            // 6 non-blank rows below the header
            rows_read: 6,
            transactions: 3,
            excluded: 0,
            reasons: &[],
            rejected: &[(3, Some("Amount")), (5, Some("Date")), (7, Some("Date"))],
            // spend = 10.00 + 20.00 = 30.00; credit = 5.00
            totals: &[("USD", 2, "30.00", 1, "5.00")],
        },
    );
    let reasons: Vec<&str> = s.rejected.iter().map(|r| r.reason.as_str()).collect();
    if let [amount, empty, impossible] = reasons[..] {
        c.truth(
            &format!("bad-amount reason names the cell: {amount}"),
            amount.contains("twelve"),
        );
        c.truth(
            &format!("empty-date reason says so: {empty}"),
            empty.contains("empty"),
        );
        c.truth(
            &format!("impossible-date reason names the cell: {impossible}"),
            impossible.contains("2024-02-30"),
        );
    }
    c.tx(&txs, 2).class("spend").amount("10.00 USD");
    c.tx(&txs, 4).class("spend").amount("20.00 USD");
    c.tx(&txs, 8)
        .class("credit")
        .amount("5.00 USD")
        .date("2024-02-07");
}

#[test]
fn bad_rows() {
    check_bad_rows("bad-rows.csv", &fixture("bad-rows.csv"));
}

/// The same file with Windows line endings (as Excel and QuickBooks write them): same lines.
#[test]
fn bad_rows_crlf() {
    let text = std::fs::read_to_string(fixture("bad-rows.csv"))
        .unwrap()
        .replace('\n', "\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-rows-crlf.csv");
    std::fs::write(&path, text).unwrap();
    check_bad_rows("bad-rows-crlf.csv", &path);
}

// ---------------------------------------------------------------------------------------------
// Explicit mapping
// ---------------------------------------------------------------------------------------------

/// Headers "Posted On", "Value", "Counterparty". Detection alone reads `Created` as the date
/// and infers positive = spend (3 positive vs 2 negative); the mapping names the real date
/// column and states that negative amounts are spend.
#[test]
fn explicit_mapping() {
    let mut c = Check::new("mapped.csv");
    let (auto, auto_txs) = import("mapped.csv", opts());
    c.eq("auto layout", auto.format.as_str(), "generic");
    c.eq(
        "auto amount_sign",
        auto.detected.amount_sign,
        AmountSign::SpendPositive,
    );
    c.tx(&auto_txs, 2).date("2024-08-30");

    let mapping: ColumnMapping = serde_json::from_str(
        r#"{ "date": "Posted On", "amount": "Value", "vendor": "Counterparty", "id": "Reference",
             "amount_sign": "spend-negative" }"#,
    )
    .unwrap();
    let (s, txs) = import(
        "mapped.csv",
        RawImportOptions {
            mapping: Some(mapping),
            ..opts()
        },
    );
    check_summary(
        &mut c,
        &s,
        &txs,
        &Expect {
            layout: "mapped",
            rows_read: 5,
            transactions: 5,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // spend  = 420.00 + 133.45 = 553.45
            // credit = 1,500.00 + 2,750.00 + 980.00 = 5,230.00
            totals: &[("USD", 2, "553.45", 3, "5230.00")],
        },
    );
    c.eq(
        "amount_sign",
        s.detected.amount_sign,
        AmountSign::SpendNegative,
    );
    c.tx(&txs, 2)
        .class("credit")
        .amount("1500.00 USD")
        .date("2024-09-02")
        .vendor(Some("Initech Ltd"))
        .external_id(Some("INV-301"));
    c.tx(&txs, 4)
        .class("spend")
        .amount("420.00 USD")
        .vendor(Some("Hooli Cloud"));

    let wrong = ColumnMapping {
        date: "Booked".into(),
        amount: Some("Value".into()),
        ..Default::default()
    };
    match try_import(
        &fixture("mapped.csv"),
        RawImportOptions {
            mapping: Some(wrong),
            ..opts()
        },
    ) {
        Err(IngestError::NoHeader { mapped, .. }) => c.eq("NoHeader.mapped", mapped, true),
        other => c.failures.push(format!(
            "expected NoHeader, got {:?}",
            other.map(|(s, _)| s.rows_read)
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

/// Lines 2 and 3 are byte-identical; line 4 differs only by date.
#[test]
fn reimport_determinism_and_duplicate_rows() {
    let mut c = Check::new("duplicates.csv");
    let (s, first) = import("duplicates.csv", opts());
    check_summary(
        &mut c,
        &s,
        &first,
        &Expect {
            layout: "generic",
            rows_read: 4,
            transactions: 4,
            excluded: 0,
            reasons: &[],
            rejected: &[],
            // 4.50 × 3 + 17.80 = 13.50 + 17.80 = 31.30
            totals: &[("USD", 4, "31.30", 0, "0.00")],
        },
    );
    let ids = |txs: &[Transaction]| {
        txs.iter()
            .map(|t| t.transaction_id.to_string())
            .collect::<Vec<_>>()
    };
    let first_ids = ids(&first);
    let distinct: std::collections::HashSet<_> = first_ids.iter().collect();
    c.eq(
        "distinct ids (identical rows 2 and 3 stay two)",
        distinct.len(),
        4,
    );

    let (_, second) = import("duplicates.csv", opts());
    c.eq("ids on re-import", ids(&second), first_ids.clone());

    // The same bytes under another file name: the same records, so the same ids.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("duplicates-renamed.csv");
    std::fs::copy(fixture("duplicates.csv"), &copy).unwrap();
    let (_, renamed) = import_path(&copy, opts());
    c.eq("ids of a renamed copy", ids(&renamed), first_ids.clone());

    // Another tenant: different ids.
    let (_, other) = import(
        "duplicates.csv",
        RawImportOptions {
            tenant: "globex".into(),
            ..Default::default()
        },
    );
    let other_ids = ids(&other);
    c.truth(
        "another tenant gets different ids",
        other_ids.iter().all(|id| !first_ids.contains(id)),
    );
}
