//! The transactions Delta table: offsets committed with the data, fencing, dedupe by id, and
//! maintenance (compaction keeps rows and offsets while cutting files; checkpoint; vacuum).

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use verocta_lakehouse::{Lake, LakeError};
use verocta_schemas::arrow::transactions_to_batch;
use verocta_schemas::*;

fn transactions(range: std::ops::Range<u32>) -> Vec<Transaction> {
    range
        .map(|i| {
            let tenant = TenantId::new(format!("tenant-{}", i % 3)).unwrap();
            Transaction {
                schema_version: TRANSACTION_SCHEMA_VERSION,
                transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
                tenant_id: tenant,
                source: SourceRef {
                    kind: SourceKind::Csv,
                    format: "generic".into(),
                    name: "t.csv".into(),
                    line: Some(u64::from(i)),
                    external_id: None,
                },
                booked_date: NaiveDate::from_ymd_opt(2024, 1 + (i % 3), 1 + (i % 28)).unwrap(),
                booked_time: None,
                amount: Money::from_minor(i64::from(i) * 100 + 1, Currency::GBP),
                original_amount: None,
                class: TransactionClass::Spend,
                exclusion: None,
                vendor_raw: Some("Acme Ltd".into()),
                vendor: Some("acme".into()),
                category_raw: None,
                category: Category::OfficeSupplies,
                account: None,
                memo: None,
                payment_method: None,
                card_last4: None,
                employee: None,
                department: None,
                ingested_at: Utc::now(),
            }
        })
        .collect()
}

fn offsets(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs
        .iter()
        .map(|(app, version)| (app.to_string(), *version))
        .collect()
}

fn expected(pairs: &[(&str, Option<i64>)]) -> HashMap<String, Option<i64>> {
    pairs
        .iter()
        .map(|(app, version)| (app.to_string(), *version))
        .collect()
}

async fn count(lake: &Lake) -> i64 {
    let batches = lake
        .sql("SELECT count(*) AS n FROM transactions")
        .await
        .unwrap();
    let column = batches[0].column(0);
    deltalake::arrow::array::cast::as_primitive_array::<deltalake::arrow::datatypes::Int64Type>(
        column,
    )
    .value(0)
}

#[tokio::test]
async fn a_writer_sees_offsets_another_writer_committed_since_it_last_looked() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut first = lake.transactions().await.unwrap();
    let batch = transactions_to_batch(&transactions(0..10)).unwrap();
    first
        .append(
            &batch,
            &offsets(&[("topic-0", 9)]),
            &expected(&[("topic-0", None)]),
        )
        .await
        .unwrap();
    // The first writer now knows topic-0 at 9; a second writer moves it on.
    let mut second = lake.transactions().await.unwrap();
    for (range, last, previous) in [(10..20, 19, 9), (20..30, 29, 19)] {
        let batch = transactions_to_batch(&transactions(range)).unwrap();
        second
            .append(
                &batch,
                &offsets(&[("topic-0", last)]),
                &expected(&[("topic-0", Some(previous))]),
            )
            .await
            .unwrap_or_else(|e| panic!("commit up to {last}: {e}"));
    }
    let versions = first
        .committed_versions(&["topic-0".to_string()])
        .await
        .unwrap();
    assert_eq!(versions["topic-0"], Some(29), "read from the commits since");
    let late = transactions_to_batch(&transactions(30..40)).unwrap();
    let error = first
        .append(
            &late,
            &offsets(&[("topic-0", 39)]),
            &expected(&[("topic-0", Some(9))]),
        )
        .await
        .unwrap_err();
    assert!(error.is_fenced(), "{error}");
    assert_eq!(count(&lake).await, 30);
    // Told the right offset, the first writer commits on top of the second's commits, which
    // its table had not loaded when the offsets were read from the commit files.
    let next = transactions_to_batch(&transactions(30..40)).unwrap();
    first
        .append(
            &next,
            &offsets(&[("topic-0", 39)]),
            &expected(&[("topic-0", Some(29))]),
        )
        .await
        .unwrap();
    let versions = second
        .committed_versions(&["topic-0".to_string()])
        .await
        .unwrap();
    assert_eq!(versions["topic-0"], Some(39));
    assert_eq!(count(&lake).await, 40);
}

#[tokio::test]
async fn offsets_commit_with_the_data_and_stale_writers_are_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    let batch = transactions_to_batch(&transactions(0..10)).unwrap();
    let outcome = table
        .append(
            &batch,
            &offsets(&[("topic-0", 9)]),
            &expected(&[("topic-0", None)]),
        )
        .await
        .unwrap();
    assert_eq!(outcome.written, 10);
    let versions = table
        .committed_versions(&["topic-0".to_string(), "topic-1".to_string()])
        .await
        .unwrap();
    assert_eq!(versions["topic-0"], Some(9));
    assert_eq!(versions["topic-1"], None);

    // A writer that still believes the partition is uncommitted must not commit it again.
    let mut stale = lake.transactions().await.unwrap();
    let again = transactions_to_batch(&transactions(10..20)).unwrap();
    let error = stale
        .append(
            &again,
            &offsets(&[("topic-0", 19)]),
            &expected(&[("topic-0", None)]),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, LakeError::Fenced { .. }), "{error}");
    assert!(error.is_fenced());
    assert_eq!(count(&lake).await, 10);
}

#[tokio::test]
async fn ids_already_in_the_table_or_repeated_in_a_batch_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    let first = transactions(0..50);
    table
        .append(
            &transactions_to_batch(&first).unwrap(),
            &[],
            &HashMap::new(),
        )
        .await
        .unwrap();
    let mut overlapping = transactions(25..75);
    overlapping.extend(transactions(70..75));
    let outcome = table
        .append(
            &transactions_to_batch(&overlapping).unwrap(),
            &[],
            &HashMap::new(),
        )
        .await
        .unwrap();
    // 25..50 are already in the table; 70..75 appear twice in the batch.
    assert_eq!((outcome.written, outcome.duplicates), (25, 30));
    assert_eq!(count(&lake).await, 75);
}

#[tokio::test]
async fn a_reopened_writer_dedupes_against_the_months_already_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let none = HashMap::new();
    // Three months in one batch: each month's rows go to that month's partition.
    let first = transactions(0..60);
    let outcome = lake
        .transactions()
        .await
        .unwrap()
        .append(&transactions_to_batch(&first).unwrap(), &[], &none)
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.duplicates), (60, 0));
    let misplaced = lake
        .sql(
            "SELECT count(*) AS n FROM transactions \
             WHERE booked_month <> substr(CAST(booked_date AS VARCHAR), 1, 7)",
        )
        .await
        .unwrap();
    let misplaced = deltalake::arrow::array::cast::as_primitive_array::<
        deltalake::arrow::datatypes::Int64Type,
    >(misplaced[0].column(0))
    .value(0);
    assert_eq!(misplaced, 0, "rows filed under another month's partition");
    // A new writer knows no ids yet: it must read them from the months' files.
    let mut reopened = lake.transactions().await.unwrap();
    let overlapping = transactions(30..90);
    let outcome = reopened
        .append(&transactions_to_batch(&overlapping).unwrap(), &[], &none)
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.duplicates), (30, 30));
    assert_eq!(count(&lake).await, 90);
}

#[tokio::test]
async fn each_writer_dedupes_against_what_the_other_writers_committed() {
    // Each handle keeps its own id index between appends; it must learn the other handle's
    // commits (read from the files they added), survive compaction, and still write once.
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut first = lake.transactions().await.unwrap();
    let mut second = lake.transactions().await.unwrap();
    let none = HashMap::new();
    let append = |rows: Vec<Transaction>| transactions_to_batch(&rows).unwrap();
    first
        .append(&append(transactions(0..50)), &[], &none)
        .await
        .unwrap();
    let outcome = second
        .append(&append(transactions(40..100)), &[], &none)
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.duplicates), (50, 10));
    let outcome = first
        .append(&append(transactions(90..120)), &[], &none)
        .await
        .unwrap();
    assert_eq!(
        (outcome.written, outcome.duplicates),
        (20, 10),
        "the first writer knows the second's rows 90..100"
    );
    first.compact().await.unwrap();
    let outcome = second
        .append(&append(transactions(0..130)), &[], &none)
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.duplicates), (10, 120));
    let outcome = first
        .append(&append(transactions(125..140)), &[], &none)
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.duplicates), (10, 5));
    assert_eq!(count(&lake).await, 140);
}

#[tokio::test]
async fn compaction_cuts_files_and_keeps_rows_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    let mut version = None;
    for batch_number in 0..8u32 {
        let rows = transactions(batch_number * 100..(batch_number + 1) * 100);
        let last = i64::from((batch_number + 1) * 100 - 1);
        table
            .append(
                &transactions_to_batch(&rows).unwrap(),
                &offsets(&[("p", last)]),
                &expected(&[("p", version)]),
            )
            .await
            .unwrap();
        version = Some(last);
    }
    let before = table.file_count();
    assert!(
        before >= 8 * 3,
        "one file per month partition per batch: {before}"
    );
    let report = table.compact().await.unwrap();
    assert!(report.contains("compacted"), "{report}");
    table.refresh().await.unwrap();
    assert_eq!(table.file_count(), 3, "one file per month partition");
    assert_eq!(count(&lake).await, 800);
    let versions = table.committed_versions(&["p".to_string()]).await.unwrap();
    assert_eq!(versions["p"], Some(799), "offsets survive compaction");

    let checkpoint = table.checkpoint().await.unwrap();
    assert!(
        dir.path()
            .join(format!(
                "lake/transactions/_delta_log/{:020}.checkpoint.parquet",
                checkpoint.version
            ))
            .exists()
    );
    // Compacted-away files are recent, so the default retention keeps them.
    let deleted = table.vacuum(168, true, false).await.unwrap();
    assert!(deleted.is_empty());
    let would_delete = table.vacuum(0, true, true).await.unwrap();
    assert_eq!(would_delete.len(), before);
    assert_eq!(count(&lake).await, 800);
}

#[tokio::test]
async fn sql_sees_every_table_in_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    table
        .append(
            &transactions_to_batch(&transactions(0..30)).unwrap(),
            &[],
            &HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(lake.table_names(), vec!["transactions".to_string()]);
    let batches = lake
        .sql("SELECT tenant_id, count(*) AS n FROM transactions GROUP BY tenant_id ORDER BY tenant_id")
        .await
        .unwrap();
    let text = verocta_lakehouse::pretty_table(&batches).unwrap();
    assert!(
        text.contains("tenant-0") && text.contains("| 10 "),
        "{text}"
    );
    assert!(lake.sql("SELECT nope FROM transactions").await.is_err());
}

#[tokio::test]
async fn files_record_statistics_of_the_filtered_columns_only() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    let batch = transactions_to_batch(&transactions(0..10)).unwrap();
    let outcome = table.append(&batch, &[], &HashMap::new()).await.unwrap();
    let version = outcome.version.expect("committed");
    let commit = std::fs::read_to_string(
        lake.table_dir("transactions")
            .join("_delta_log")
            .join(format!("{version:020}.json")),
    )
    .unwrap();
    let (mut files, mut rows) = (0, 0);
    for line in commit.lines() {
        let action: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(stats) = action["add"]["stats"].as_str() else {
            continue;
        };
        let stats: serde_json::Value = serde_json::from_str(stats).unwrap();
        let mut columns: Vec<&str> = stats["minValues"]
            .as_object()
            .expect("min values")
            .keys()
            .map(String::as_str)
            .collect();
        columns.sort_unstable();
        assert_eq!(columns, ["amount_minor", "booked_date", "tenant_id"]);
        rows += stats["numRecords"].as_u64().expect("a row count");
        files += 1;
    }
    assert_eq!((files, rows), (3, 10), "one file per month: {commit}");
}

#[tokio::test]
async fn unique_columns_are_written_without_a_dictionary() {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(dir.path());
    let mut table = lake.transactions().await.unwrap();
    let batch = transactions_to_batch(&transactions(0..10)).unwrap();
    table.append(&batch, &[], &HashMap::new()).await.unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![lake.table_dir("transactions")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty());
    for path in files {
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let row_group = reader.metadata().row_group(0);
        let dictionary = |name: &str| {
            let column = row_group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            column.dictionary_page_offset().is_some()
                || column.encodings().any(|e| e == Encoding::RLE_DICTIONARY)
        };
        for name in verocta_lakehouse::delta::TRANSACTIONS_PLAIN_COLUMNS {
            assert!(!dictionary(name), "{name} has a dictionary in {path:?}");
        }
        assert!(dictionary("vendor"), "repeating columns keep theirs");
    }
}
