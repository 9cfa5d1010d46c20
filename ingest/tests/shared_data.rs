//! The real files in `../shared/data/` import with zero rejected rows, and their totals match
//! sums computed independently from the raw `Amount` column.

use std::path::{Path, PathBuf};

use verocta_ingest::csv::RawImportOptions;
use verocta_ingest::{ImportSummary, import_file};
use verocta_schemas::{Transaction, TransactionClass};

fn shared(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(relative)
}

fn import(path: &Path, currency: &str) -> (ImportSummary, Vec<Transaction>) {
    let config = RawImportOptions {
        tenant: "t1".into(),
        currency: Some(currency.into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let mut transactions = Vec::new();
    let summary = import_file(path, &config, |tx| transactions.push(tx)).unwrap();
    (summary, transactions)
}

/// Sum of a plain decimal column in pence, read with a minimal quote-aware splitter that
/// shares no code with the connector.
fn column_sum_minor(path: &Path, column: &str) -> (usize, i128) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = split(lines.next().unwrap());
    let index = header.iter().position(|h| h == column).unwrap();
    let (mut rows, mut sum) = (0, 0i128);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let value = split(line)[index].clone();
        let (whole, fraction) = value.split_once('.').unwrap_or((&value, ""));
        let negative = whole.starts_with('-');
        let cents = whole.trim_start_matches('-').parse::<i128>().unwrap() * 100
            + format!("{fraction:0<2}").parse::<i128>().unwrap();
        sum += if negative { -cents } else { cents };
        rows += 1;
    }
    (rows, sum)
}

fn split(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[test]
fn gla_ledger_imports_every_row_and_nets_to_the_amount_column() {
    let path = shared("real/gla-spend-2008-2013.csv");
    let (summary, transactions) = import(&path, "GBP");
    let (rows, sum) = column_sum_minor(&path, "Amount");
    // The file holds 28,145 records (IDs 0..=28144); `wc -l` shows 28,145 lines because the
    // last record has no trailing newline, which is where a count of 28,144 comes from.
    assert_eq!(rows, 28_145);
    assert_eq!(summary.rows_read, 28_145);
    assert_eq!(
        summary.rejected_count,
        0,
        "{:?}",
        &summary.rejected[..summary.rejected.len().min(5)]
    );
    assert_eq!(summary.transactions, 28_145);
    assert_eq!(summary.net_minor("GBP"), Some(sum));
    assert_eq!(sum, 1_000_083_306_00);
    assert_eq!(summary.format, "generic");
    // Negative amounts are credits; the rest spend.
    let credits = transactions
        .iter()
        .filter(|t| t.class == TransactionClass::Credit)
        .count();
    assert_eq!(credits, 1_209);
    // The source's own ID column makes ids stable and unique.
    let ids: std::collections::HashSet<_> = transactions
        .iter()
        .map(|t| t.transaction_id.clone())
        .collect();
    assert_eq!(ids.len(), 28_145);
    assert!(transactions.iter().all(|t| t.source.external_id.is_some()));
}

#[test]
fn home_office_cards_import_with_duplicates_kept_apart() {
    let path = shared("real/home-office-pcard-2020.csv");
    let (summary, transactions) = import(&path, "GBP");
    let (rows, sum) = column_sum_minor(&path, "Amount");
    assert_eq!(summary.rows_read as usize, rows);
    assert_eq!(summary.rejected_count, 0);
    assert_eq!(summary.net_minor("GBP"), Some(sum));
    // Identical rows (e.g. two £5,000 BACKCARE SOLUTIONS payments on 2020-11-02) are two
    // transactions with two ids.
    let ids: std::collections::HashSet<_> = transactions
        .iter()
        .map(|t| t.transaction_id.clone())
        .collect();
    assert_eq!(ids.len(), transactions.len());
    let backcare = transactions
        .iter()
        .filter(|t| {
            t.vendor_raw.as_deref() == Some("BACKCARE SOLUTIONS")
                && t.amount.minor_units() == 500_000
        })
        .count();
    assert_eq!(backcare, 2);
}

#[test]
fn old_product_samples_import_with_zero_rejections() {
    let expected = [
        // file, layout, rows, spend count, spend, credit count, credit
        (
            "Verocta_Transactions.csv",
            "generic",
            50,
            25,
            "36050.00",
            25,
            "488000.00",
        ),
        (
            "quickbooks.csv",
            "quickbooks-report",
            20,
            20,
            "8982.85",
            0,
            "0.00",
        ),
        (
            "quickbooks_sample.csv",
            "quickbooks-report",
            23,
            23,
            "12954.56",
            0,
            "0.00",
        ),
        ("revolut.csv", "revolut", 20, 20, "1185.62", 0, "0.00"),
        (
            "sample_expenses.csv",
            "generic",
            51,
            51,
            "15632.58",
            0,
            "0.00",
        ),
        ("test_data.csv", "generic", 16, 16, "1448.06", 0, "0.00"),
        ("wave.csv", "wave", 25, 25, "8097.64", 0, "0.00"),
        (
            "xero_sample.csv",
            "xero-statement",
            20,
            20,
            "10165.33",
            0,
            "0.00",
        ),
    ];
    for (file, layout, rows, spend_count, spend, credit_count, credit) in expected {
        let (summary, _) = import(&shared(&format!("veroctaai/{file}")), "USD");
        assert_eq!(summary.format, layout, "{file}");
        assert_eq!(summary.rows_read, rows, "{file}");
        assert_eq!(summary.rejected_count, 0, "{file}: {:?}", summary.rejected);
        let totals = &summary.totals[0];
        assert_eq!(
            (
                totals.spend_count,
                totals.spend.as_str(),
                totals.credit_count,
                totals.credit.as_str()
            ),
            (spend_count, spend, credit_count, credit),
            "{file}"
        );
    }
}

#[test]
fn reimport_gives_identical_ids() {
    let path = shared("real/home-office-pcard-2020.csv");
    let first: Vec<_> = import(&path, "GBP")
        .1
        .into_iter()
        .map(|t| t.transaction_id)
        .collect();
    let second: Vec<_> = import(&path, "GBP")
        .1
        .into_iter()
        .map(|t| t.transaction_id)
        .collect();
    assert_eq!(first, second);
}
