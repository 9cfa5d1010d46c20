//! ClickHouse against a real server: `VEROCTA_TEST_CLICKHOUSE_URL` (default
//! http://127.0.0.1:8123), started with `deploy/clickhouse/start-server.sh` when nothing
//! answers there. Every test works in its own database and drops it afterwards.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use verocta_lakehouse::Lake;
use verocta_lakehouse::clickhouse::tenant::{grant, revoke, tenant_database};
use verocta_lakehouse::clickhouse::{
    ClickHouse, ClickHouseConfig, ClickHouseSink, backfill_from_delta, migrate,
    verify_against_delta,
};
use verocta_schemas::arrow::transactions_to_batch;
use verocta_schemas::*;

fn server_url() -> String {
    std::env::var("VEROCTA_TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

fn users_dir() -> PathBuf {
    std::env::var_os("VEROCTA_TEST_CLICKHOUSE_USERS_DIR").map_or_else(
        || PathBuf::from("/var/tmp/verocta-clickhouse/etc/users.d"),
        PathBuf::from,
    )
}

/// Finds the server, or starts one the way the README says.
fn ensure_server() {
    let ping = || {
        std::process::Command::new("curl")
            .args(["-sf", &format!("{}/ping", server_url())])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ping() {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/clickhouse/start-server.sh"
    );
    let status = std::process::Command::new("bash")
        .arg(script)
        .status()
        .unwrap();
    assert!(
        status.success() && ping(),
        "no ClickHouse at {} and {script} could not start one",
        server_url()
    );
}

async fn fresh(test: &str) -> ClickHouse {
    ensure_server();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let config = ClickHouseConfig {
        database: format!("t{}_{test}_{}", std::process::id(), nanos % 1_000_000_000),
        users_dir: Some(users_dir()),
        ..ClickHouseConfig::at(server_url())
    };
    let clickhouse = ClickHouse::connect(&config).await.unwrap();
    let report = migrate(&clickhouse).await.unwrap();
    assert_eq!(
        report.applied.len(),
        verocta_deploy::CLICKHOUSE_MIGRATIONS.len()
    );
    clickhouse
}

async fn drop_database(clickhouse: &ClickHouse) {
    clickhouse
        .execute(&format!(
            "DROP DATABASE IF EXISTS {}",
            clickhouse.database()
        ))
        .await
        .unwrap();
}

/// `count` transactions of `tenant` over March–May 2024, a mix of spend, credit and excluded.
fn transactions(tenant: &str, count: u32) -> Vec<Transaction> {
    let tenant_id = TenantId::new(tenant).unwrap();
    (0..count)
        .map(|i| {
            let (class, exclusion) = match i % 10 {
                0 => (TransactionClass::Credit, None),
                1 => (
                    TransactionClass::Excluded,
                    Some(Exclusion {
                        reason: ExclusionReason::OwnAccountTransfer,
                        detail: "between own accounts".into(),
                    }),
                ),
                _ => (TransactionClass::Spend, None),
            };
            Transaction {
                schema_version: TRANSACTION_SCHEMA_VERSION,
                transaction_id: TransactionId::derive(&tenant_id, "csv", &[&i.to_string()]),
                tenant_id: tenant_id.clone(),
                source: SourceRef {
                    kind: SourceKind::Csv,
                    format: "generic".into(),
                    name: "ledger.csv".into(),
                    line: Some(u64::from(i) + 2),
                    external_id: None,
                },
                booked_date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
                    + chrono::Days::new(u64::from(i % 90)),
                booked_time: None,
                amount: Money::from_minor(100 + i64::from(i) * 37 % 10_000, Currency::GBP),
                original_amount: None,
                class,
                exclusion,
                vendor_raw: Some(format!("Vendor {} Ltd", i % 7)),
                vendor: Some(format!("vendor {}", i % 7)),
                category_raw: None,
                category: if i % 2 == 0 {
                    Category::SoftwareSaas
                } else {
                    Category::Travel
                },
                account: None,
                memo: Some(format!("line {i} with 'quotes' and \\ backslash")),
                payment_method: None,
                card_last4: None,
                employee: None,
                department: None,
                ingested_at: Utc::now(),
            }
        })
        .collect()
}

/// (count, spend, credit) computed here, from the records themselves.
fn truth(transactions: &[Transaction]) -> (i64, i64, i64) {
    transactions
        .iter()
        .fold((0, 0, 0), |(n, s, c), t| match t.class {
            TransactionClass::Spend => (n + 1, s + t.amount.minor_units(), c),
            TransactionClass::Credit => (n + 1, s, c + t.amount.minor_units()),
            TransactionClass::Excluded => (n + 1, s, c),
        })
}

async fn one_row(clickhouse: &ClickHouse, sql: &str) -> Vec<i64> {
    let rows = clickhouse.rows(sql).await.unwrap();
    rows[0].iter().map(|v| v.parse().unwrap()).collect()
}

#[tokio::test]
async fn migrations_apply_once_and_replays_never_double_count() {
    let clickhouse = fresh("replay").await;
    let db = clickhouse.database().to_string();
    let again = migrate(&clickhouse).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(
        again.already_applied.len(),
        verocta_deploy::CLICKHOUSE_MIGRATIONS.len()
    );

    let records = transactions("acme", 800);
    let (count, spend, credit) = truth(&records);
    let batch = transactions_to_batch(&records).unwrap();
    let sink = ClickHouseSink::new(clickhouse.clone()).unwrap();
    let totals_query = format!(
        "SELECT count(), sum(if(class = 'spend', amount_minor, toInt64(0))), sum(if(class = 'credit', amount_minor, toInt64(0))) FROM {db}.transactions FINAL"
    );
    let rollup_query = format!(
        "SELECT sum(spend_count + credit_count + excluded_count), sum(spend_minor), sum(credit_minor) FROM {db}.daily_category_spend FINAL"
    );
    let vendor_query = format!(
        "SELECT sum(spend_count + credit_count + excluded_count), sum(spend_minor), sum(credit_minor) FROM {db}.daily_vendor_spend FINAL"
    );
    let expected = vec![count, spend, credit];
    for delivery in 1..=3 {
        sink.write_transactions(&batch).await.unwrap();
        assert_eq!(
            one_row(&clickhouse, &totals_query).await,
            expected,
            "delivery {delivery}"
        );
        assert_eq!(
            one_row(&clickhouse, &rollup_query).await,
            expected,
            "delivery {delivery}"
        );
        assert_eq!(
            one_row(&clickhouse, &vendor_query).await,
            expected,
            "delivery {delivery}"
        );
    }
    // The raw table really holds three copies: the engine, not luck, keeps the totals right.
    let raw = one_row(
        &clickhouse,
        &format!("SELECT count() FROM {db}.transactions"),
    )
    .await;
    assert!(raw[0] >= count, "raw rows {raw:?}");
    for table in ["transactions", "daily_category_spend", "daily_vendor_spend"] {
        clickhouse
            .execute(&format!("OPTIMIZE TABLE {db}.{table} FINAL"))
            .await
            .unwrap();
    }
    assert_eq!(one_row(&clickhouse, &totals_query).await, expected);
    assert_eq!(one_row(&clickhouse, &rollup_query).await, expected);
    let strings = clickhouse
        .rows(&format!(
            "SELECT memo FROM {db}.transactions FINAL WHERE source_line = 5"
        ))
        .await
        .unwrap();
    assert_eq!(strings, [["line 3 with 'quotes' and \\ backslash"]]);
    drop_database(&clickhouse).await;
}

#[tokio::test]
async fn verify_finds_agreement_then_drift_and_backfill_rebuilds() {
    let clickhouse = fresh("verify").await;
    let data = tempfile::tempdir().unwrap();
    let lake = Lake::in_data_dir(data.path());
    let mut records = transactions("acme", 500);
    records.extend(transactions("globex", 300));
    let batch = transactions_to_batch(&records).unwrap();
    let mut table = lake.transactions().await.unwrap();
    table.append(&batch, &[], &HashMap::new()).await.unwrap();

    let sink = ClickHouseSink::new(clickhouse.clone()).unwrap();
    sink.write_transactions(&batch).await.unwrap();
    let report = verify_against_delta(&lake, &clickhouse).await.unwrap();
    assert!(report.agrees(), "{:?}", report.drifts);
    assert_eq!(report.transaction_counts(), (800, 800));

    // A row only ClickHouse has (a lost Delta commit, a stray insert) is drift, per key.
    let stray = transactions("initech", 1);
    sink.write_transactions(&transactions_to_batch(&stray).unwrap())
        .await
        .unwrap();
    let report = verify_against_delta(&lake, &clickhouse).await.unwrap();
    assert_eq!(report.drifts.len(), 1, "{:?}", report.drifts);
    assert_eq!(report.drifts[0].key.0, "initech");
    assert_eq!(report.drifts[0].delta.transactions, 0);
    assert_eq!(report.drifts[0].clickhouse.transactions, 1);

    // A fresh database rebuilt from Delta agrees, and a second backfill changes nothing.
    let rebuilt = fresh("backfill").await;
    let rebuilt_sink = ClickHouseSink::new(rebuilt.clone()).unwrap();
    for _ in 0..2 {
        let backfill = backfill_from_delta(&lake, &rebuilt_sink, 300)
            .await
            .unwrap();
        assert_eq!(
            (backfill.delta_rows, backfill.inserted, backfill.tenants),
            (800, 800, 2)
        );
        let report = verify_against_delta(&lake, &rebuilt).await.unwrap();
        assert!(report.agrees(), "{:?}", report.drifts);
    }
    drop_database(&clickhouse).await;
    drop_database(&rebuilt).await;
}

/// Runs `sql` as `user`; Ok(answer) or Err(server message).
async fn as_user(user: &str, password: &str, sql: &str) -> Result<String, String> {
    let client = clickhouse::Client::default()
        .with_url(server_url())
        .with_user(user)
        .with_password(password)
        .with_validation(false);
    match client.query_raw(sql).fetch_bytes("TabSeparated") {
        Ok(mut cursor) => cursor
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

#[tokio::test]
async fn a_tenant_user_reads_only_its_tenant() {
    let clickhouse = fresh("grant").await;
    let db = clickhouse.database().to_string();
    let sink = ClickHouseSink::new(clickhouse.clone()).unwrap();
    let acme = transactions("acme", 120);
    let globex = transactions("globex", 80);
    sink.write_transactions(&transactions_to_batch(&acme).unwrap())
        .await
        .unwrap();
    let user = format!("{db}_acme_reader");
    let granted = grant(&clickhouse, "acme", &user, None).await.unwrap();
    let other = grant(&clickhouse, "globex", &format!("{db}_globex_reader"), None)
        .await
        .unwrap();
    // Rows arriving after the grant reach the tenant's copy too.
    sink.write_transactions(&transactions_to_batch(&globex).unwrap())
        .await
        .unwrap();
    let more_acme = transactions("acme", 130);
    sink.write_transactions(&transactions_to_batch(&more_acme).unwrap())
        .await
        .unwrap();

    let own = &granted.database;
    let pw = &granted.password;
    let count = as_user(
        &user,
        pw,
        &format!("SELECT count() FROM {own}.transactions_current"),
    )
    .await;
    assert_eq!(count.unwrap(), "130");
    let tenants = as_user(
        &user,
        pw,
        &format!("SELECT groupUniqArray(tenant_id) FROM {own}.transactions"),
    )
    .await;
    assert_eq!(tenants.unwrap(), "['acme']");
    let rollup = as_user(&user, pw, &format!("SELECT sum(spend_count + credit_count + excluded_count) FROM {own}.daily_category_spend FINAL")).await;
    assert_eq!(rollup.unwrap(), "130");

    let globex_db = tenant_database(&db, "globex");
    let refused = [
        format!("SELECT count() FROM {db}.transactions"),
        format!("SELECT count() FROM {globex_db}.transactions"),
        format!(
            "SELECT count() FROM {own}.transactions WHERE transaction_id IN (SELECT transaction_id FROM {db}.transactions)"
        ),
        format!("SELECT count() FROM merge('{db}', '.*')"),
        format!("SELECT count() FROM remote('127.0.0.1', '{db}', 'transactions')"),
        format!("SELECT count() FROM {db}.daily_category_spend"),
        format!("INSERT INTO {own}.transactions SELECT * FROM {own}.transactions"),
        format!("DROP TABLE {own}.transactions"),
    ];
    for sql in &refused {
        assert!(
            as_user(&user, pw, sql).await.is_err(),
            "acme's user could run: {sql}"
        );
    }
    assert!(as_user(&user, "wrong password", "SELECT 1").await.is_err());
    let databases = as_user(
        &user,
        pw,
        "SELECT groupUniqArray(database) FROM system.tables",
    )
    .await
    .unwrap();
    assert!(
        !databases.contains(&globex_db) && !databases.contains(&format!("'{db}'")),
        "{databases}"
    );

    revoke(&clickhouse, "acme", &user).await.unwrap();
    assert!(as_user(&user, pw, "SELECT 1").await.is_err());
    // globex's user is untouched.
    let globex_count = as_user(
        &other.user,
        &other.password,
        &format!(
            "SELECT count() FROM {}.transactions_current",
            other.database
        ),
    )
    .await;
    assert_eq!(globex_count.unwrap(), "80");
    revoke(&clickhouse, "globex", &other.user).await.unwrap();
    drop_database(&clickhouse).await;
}

#[tokio::test]
async fn every_documented_example_query_runs_as_written() {
    use verocta_lakehouse::clickhouse::migrate::{render, retarget, statements};
    let clickhouse = fresh("examples").await;
    let sink = ClickHouseSink::new(clickhouse.clone()).unwrap();
    sink.write_transactions(&transactions_to_batch(&transactions("acme", 400)).unwrap())
        .await
        .unwrap();
    let text = verocta_deploy::asset("clickhouse/example-queries.sql")
        .unwrap()
        .contents;
    let rendered = retarget(
        &render("example-queries.sql", text, clickhouse.version()).unwrap(),
        clickhouse.database(),
    );
    let queries = statements(&rendered);
    assert_eq!(queries.len(), 10, "docs/clickhouse.md promises 10 queries");
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/clickhouse.md"
    ))
    .unwrap();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    {
        assert!(
            docs.contains(line),
            "docs/clickhouse.md lacks the example line: {line}"
        );
    }
    let mut answered = 0;
    for query in &queries {
        let rows = clickhouse
            .rows(query)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{query}"));
        answered += usize::from(!rows.is_empty());
    }
    // The queries over scores, anomalies and forecasts find nothing: no model writes those
    // tables yet. Every query over transactions and the rollups must answer.
    assert!(
        answered >= 6,
        "only {answered} of 10 queries returned rows on the sample"
    );
    drop_database(&clickhouse).await;
}
