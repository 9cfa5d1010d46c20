//! Both passes on several threads give exactly what one thread gives — the same plan, the same
//! outcomes in the same order, and, straight to Arrow or to wire records, the same transactions
//! and summary: on
//! every fixture, the shared sample and real files, and generated files whose identical rows,
//! date runs, conflicting dates and read errors straddle chunk boundaries.

use std::io::Write;

use chrono::SubsecRound;
use std::path::{Path, PathBuf};

use verocta_ingest::csv::{CsvImportConfig, CsvSource, Parallelism, RawImportOptions, RowOutcome};
use verocta_ingest::{ImportSummary, IngestError};
use verocta_schemas::Transaction;
use verocta_schemas::arrow::transactions_from_batch;
use verocta_schemas::wire::encode_transaction;

fn config() -> CsvImportConfig {
    let mut config = RawImportOptions {
        tenant: "t1".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    // Arrow keeps microseconds.
    config.ingested_at = config.ingested_at.trunc_subsecs(6);
    config
}

/// Every outcome of one read, and the error that ended the file if one did.
fn outcomes(source: &CsvSource, parallelism: Parallelism) -> (Vec<RowOutcome>, Option<String>) {
    let mut outcomes = Vec::new();
    let ended = source
        .for_each_outcome(parallelism, |outcome| outcomes.push(outcome))
        .err()
        .map(|error: IngestError| error.to_string());
    (outcomes, ended)
}

/// Small chunks, so that every boundary case happens.
fn tiny_chunks(workers: usize) -> Parallelism {
    Parallelism {
        workers,
        chunk_rows: 3,
    }
}

/// Reads `source` sequentially and in parallel several ways, to outcomes and to Arrow; returns
/// how many outcomes.
fn assert_same(source: &CsvSource, name: &str) -> usize {
    let sequential = outcomes(source, Parallelism::sequential());
    for parallelism in [Parallelism::sequential(), tiny_chunks(2), tiny_chunks(3)] {
        assert_same_batches(source, name, parallelism, &sequential);
        assert_same_records(source, name, parallelism, &sequential);
    }
    for parallelism in [tiny_chunks(2), tiny_chunks(3), Parallelism::available()] {
        let parallel = outcomes(source, parallelism);
        assert_eq!(parallel.1, sequential.1, "{name}: {parallelism:?}");
        assert_eq!(parallel.0.len(), sequential.0.len(), "{name}");
        for (index, (a, b)) in parallel.0.iter().zip(&sequential.0).enumerate() {
            assert_eq!(a, b, "{name} outcome {index}, {parallelism:?}");
        }
    }
    sequential.0.len()
}

/// The batches of [`CsvSource::for_each_batch`] hold the transactions of `expected`, in order,
/// and its summary counts what `expected` holds.
fn assert_same_batches(
    source: &CsvSource,
    name: &str,
    parallelism: Parallelism,
    expected: &(Vec<RowOutcome>, Option<String>),
) {
    let (expected_summary, expected_transactions) =
        summary_and_transactions(source, name, expected);
    let mut summary = ImportSummary::new(name.into(), source.plan().clone());
    let mut transactions = Vec::new();
    let mut largest = 0;
    let ended = source
        .for_each_batch(parallelism, &mut summary, |batch| {
            largest = largest.max(batch.num_rows());
            transactions.extend(transactions_from_batch(&batch).unwrap());
        })
        .err()
        .map(|error| error.to_string());
    assert_eq!(ended, expected.1, "{name}: {parallelism:?}");
    assert!(
        largest <= parallelism.chunk_rows,
        "{name}: a batch of {largest}"
    );
    assert_eq!(
        transactions.len(),
        expected_transactions.len(),
        "{name}: {parallelism:?}"
    );
    for (index, (a, b)) in transactions.iter().zip(&expected_transactions).enumerate() {
        assert_eq!(a, *b, "{name} transaction {index}, {parallelism:?}");
    }
    if ended.is_none() {
        assert_same_summary(summary, expected_summary, name, parallelism);
    }
}

/// The summary of `expected`'s outcomes, and its transactions in order.
fn summary_and_transactions<'e>(
    source: &CsvSource,
    name: &str,
    expected: &'e (Vec<RowOutcome>, Option<String>),
) -> (ImportSummary, Vec<&'e Transaction>) {
    let mut summary = ImportSummary::new(name.into(), source.plan().clone());
    let mut transactions = Vec::new();
    for outcome in &expected.0 {
        summary.record(outcome);
        if let RowOutcome::Transaction(transaction) = outcome {
            transactions.push(&**transaction);
        }
    }
    (summary, transactions)
}

/// Two finished summaries say the same.
fn assert_same_summary(
    mut summary: ImportSummary,
    mut expected: ImportSummary,
    name: &str,
    parallelism: Parallelism,
) {
    summary.finish();
    expected.finish();
    let json = |s: &ImportSummary| serde_json::to_string(s).unwrap();
    assert_eq!(json(&summary), json(&expected), "{name}: {parallelism:?}");
}

/// The records of [`CsvSource::for_each_record`] are the wire encoding of the transactions of
/// `expected`, in order, and its summary counts what `expected` holds.
fn assert_same_records(
    source: &CsvSource,
    name: &str,
    parallelism: Parallelism,
    expected: &(Vec<RowOutcome>, Option<String>),
) {
    let (expected_summary, expected_transactions) =
        summary_and_transactions(source, name, expected);
    let expected_records: Vec<Vec<u8>> = expected_transactions
        .into_iter()
        .map(encode_transaction)
        .collect();
    let mut summary = ImportSummary::new(name.into(), source.plan().clone());
    let mut records = Vec::new();
    let ended = source
        .for_each_record(parallelism, &mut summary, |record| {
            records.push(record.to_vec())
        })
        .err()
        .map(|error| error.to_string());
    assert_eq!(ended, expected.1, "{name}: {parallelism:?}");
    assert_eq!(
        records.len(),
        expected_records.len(),
        "{name}: {parallelism:?}"
    );
    for (index, (a, b)) in records.iter().zip(&expected_records).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{name} record {index}, {parallelism:?}"
        );
    }
    if ended.is_none() {
        assert_same_summary(summary, expected_summary, name, parallelism);
    }
}

/// [`assert_same`] on a file, after checking that pass 1 on several threads plans it exactly
/// as on one (or fails the same way).
fn assert_same_file(path: &Path) -> usize {
    let sequential_config = config();
    let mut parallel_config = sequential_config.clone();
    parallel_config.parallelism = tiny_chunks(3);
    let planned = CsvSource::open(path, &sequential_config);
    let planned_in_parallel = CsvSource::open(path, &parallel_config);
    match (planned, planned_in_parallel) {
        (Ok(source), Ok(parallel)) => {
            assert_eq!(
                format!("{:?}", parallel.plan()),
                format!("{:?}", source.plan()),
                "{}",
                path.display()
            );
            assert_same(&source, &path.display().to_string())
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{}", path.display());
            0
        }
        (a, b) => panic!(
            "{}: one thread {:?}, several {:?}",
            path.display(),
            a.err().map(|e| e.to_string()),
            b.err().map(|e| e.to_string())
        ),
    }
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

#[test]
fn fixtures_read_the_same_on_several_threads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let compared: usize = csv_files(&dir)
        .iter()
        .map(|path| assert_same_file(path))
        .sum();
    assert!(compared > 100, "only {compared} outcomes compared");
}

#[test]
fn shared_files_read_the_same_on_several_threads() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let mut files = csv_files(&shared.join("veroctaai"));
    files.extend(csv_files(&shared.join("real")));
    let compared: usize = files.iter().map(|path| assert_same_file(path)).sum();
    // The GLA ledger alone has 28,144 rows.
    assert!(compared > 28_144, "only {compared} outcomes compared");
}

/// Identical rows (which get numbered ids) in runs that cross chunks, dates that repeat out
/// of order (so counting never restarts), rejections and skipped rows between them.
#[test]
fn identical_rows_are_numbered_in_file_order_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    for (name, dates) in [
        ("runs.csv", vec!["2024-01-01", "2024-01-02", "2024-01-03"]),
        (
            "interleaved.csv",
            vec!["2024-01-01", "2024-01-02", "2024-01-01"],
        ),
    ] {
        let path = dir.path().join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(file, "Date,Description,Amount").unwrap();
        for (run, date) in dates.iter().enumerate() {
            for row in 0..17 {
                match row % 5 {
                    0 => writeln!(file, "{date},COFFEE SHOP,-4.50").unwrap(),
                    1 => writeln!(file, "{date},Opening balance,100.00").unwrap(),
                    2 => writeln!(file, "{date},BROKEN,not money").unwrap(),
                    3 => writeln!(file, "{date},VENDOR {run},-{row}.00").unwrap(),
                    _ => writeln!(file, "{date},COFFEE SHOP,-4.50").unwrap(),
                }
            }
        }
        drop(file);
        let source = CsvSource::open(&path, &config()).unwrap();
        let (sequential, _) = outcomes(&source, Parallelism::sequential());
        let ids: std::collections::HashSet<_> = sequential
            .iter()
            .filter_map(|o| match o {
                RowOutcome::Transaction(t) => Some(t.transaction_id.clone()),
                _ => None,
            })
            .collect();
        let transactions = sequential
            .iter()
            .filter(|o| matches!(o, RowOutcome::Transaction(_)))
            .count();
        assert_eq!(ids.len(), transactions, "{name}: identical rows keep apart");
        assert!(
            sequential
                .iter()
                .any(|o| matches!(o, RowOutcome::Rejected(_)))
        );
        assert_same(&source, name);
    }
    // Rows identified by their own ids, some of them repeated: a repeat is renumbered from
    // its own id, not its content.
    let path = dir.path().join("own_ids.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "Transaction ID,Date,Description,Amount").unwrap();
    for row in 0..40 {
        writeln!(
            file,
            "T-{},2024-02-0{},SHOP {row},-{row}.25",
            row % 7,
            1 + row / 10
        )
        .unwrap();
    }
    drop(file);
    let source = CsvSource::open(&path, &config()).unwrap();
    assert_eq!(assert_same(&source, "own_ids.csv"), 40);
}

/// A read error mid-file (the file was rewritten with invalid UTF-8 after it was planned):
/// both readers hand on the same rows before it, then fail with the same error.
#[test]
fn a_read_error_ends_both_readers_after_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.csv");
    let rows = |middle: &[u8]| {
        let mut bytes = b"Date,Description,Amount\n".to_vec();
        for row in 0..40 {
            bytes
                .extend(format!("2024-02-{:02},SHOP {row},-1.{row:02}\n", row % 28 + 1).as_bytes());
        }
        bytes.extend(middle);
        for row in 0..40 {
            bytes.extend(format!("2024-03-02,AFTER {row},-3.00\n").as_bytes());
        }
        bytes
    };
    std::fs::write(&path, rows(b"2024-03-01,GOOD BYTES,-2.00\n")).unwrap();
    let source = CsvSource::open(&path, &config()).unwrap();
    std::fs::write(&path, rows(b"2024-03-01,BAD \xff\xfe BYTES,-2.00\n")).unwrap();
    let (sequential, error) = outcomes(&source, Parallelism::sequential());
    let error = error.expect("the invalid bytes end the read");
    assert!(error.contains("UTF-8"), "{error}");
    assert_eq!(sequential.len(), 40, "{error}");
    assert_same(&source, "broken.csv");
}

/// Pass 1's evidence keeps the first example of each kind when chunks merge: the error for a
/// file proving both date orders names the same first lines either way.
#[test]
fn conflicting_dates_name_the_first_proofs_on_several_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conflicting.csv");
    let mut text = String::from("Date,Description,Amount\n");
    for day in 13..=28 {
        text.push_str(&format!("{day}/01/2024,DAY FIRST {day},-1.00\n"));
    }
    for day in 13..=28 {
        text.push_str(&format!("02/{day}/2024,MONTH FIRST {day},-1.00\n"));
    }
    std::fs::write(&path, text).unwrap();
    assert_same_file(&path);
    let error = CsvSource::open(&path, &config())
        .err()
        .expect("both orders proven");
    let message = error.to_string();
    assert!(
        message.contains("line 2") && message.contains("line 18"),
        "{message}"
    );
}
