//! `verocta up` with ClickHouse: the sink worker keeps ClickHouse in step with the topic, the
//! stack waits for it when asked to finish, and ClickHouse then agrees with Delta. Embedded
//! broker; ClickHouse at `VEROCTA_TEST_CLICKHOUSE_URL` (default http://127.0.0.1:8123, see
//! lakehouse/tests/clickhouse.rs for how it is started).

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use verocta_lakehouse::clickhouse::{ClickHouse, ClickHouseConfig, verify_against_delta};
use verocta_pipelines::kafka::topics::Topology;
use verocta_pipelines::stack::{Stack, StackConfig};
use verocta_schemas::*;

fn transactions(count: usize) -> Vec<Transaction> {
    (0..count)
        .map(|i| {
            let tenant = TenantId::new(format!("tenant-{}", i % 12)).unwrap();
            Transaction {
                schema_version: TRANSACTION_SCHEMA_VERSION,
                transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
                tenant_id: tenant,
                source: SourceRef {
                    kind: SourceKind::Csv,
                    format: "generic".into(),
                    name: "synthetic.csv".into(),
                    line: Some(i as u64 + 2),
                    external_id: None,
                },
                booked_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
                    + chrono::Days::new((i % 200) as u64),
                booked_time: None,
                amount: Money::from_minor(100 + (i as i64 * 7919) % 100_000, Currency::GBP),
                original_amount: None,
                class: if i % 9 == 0 {
                    TransactionClass::Credit
                } else {
                    TransactionClass::Spend
                },
                exclusion: None,
                vendor_raw: Some(format!("Vendor {} Ltd", i % 50)),
                vendor: Some(format!("vendor {}", i % 50)),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn up_with_clickhouse_finishes_only_when_clickhouse_agrees_with_delta() {
    let url = std::env::var("VEROCTA_TEST_CLICKHOUSE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let clickhouse_config = ClickHouseConfig {
        database: format!("t{}_stack_{}", std::process::id(), nanos % 1_000_000_000),
        batch_rows: 4_000,
        linger_ms: 200,
        ..ClickHouseConfig::at(url)
    };
    let data = tempfile::tempdir().unwrap();
    let mut config = StackConfig::new(data.path());
    config.topology = Topology {
        prefix: format!("ch{nanos}."),
        transaction_partitions: 3,
    };
    config.clickhouse = Some(clickhouse_config.clone());
    let mut stack = Stack::start(config).await.unwrap();
    let mut producer = stack.producer().unwrap();
    let records = transactions(20_000);
    tokio::task::spawn_blocking(move || {
        for record in &records {
            producer.send(record).unwrap();
        }
        producer.flush(Duration::from_secs(60)).unwrap()
    })
    .await
    .unwrap();
    stack
        .wait_until_idle(Duration::from_millis(200))
        .await
        .unwrap();
    let sink_rows: u64 = stack
        .sink_metrics()
        .iter()
        .map(|m| m.rows_in.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let lake = stack.lake();
    stack.shutdown().await.unwrap();
    assert!(sink_rows >= 20_000, "sink read {sink_rows}");

    let clickhouse = ClickHouse::connect(&clickhouse_config).await.unwrap();
    let report = verify_against_delta(&lake, &clickhouse).await.unwrap();
    assert!(report.agrees(), "{:?}", report.drifts);
    assert_eq!(report.transaction_counts(), (20_000, 20_000));
    clickhouse
        .execute(&format!("DROP DATABASE {}", clickhouse.database()))
        .await
        .unwrap();
}
