//! ClickHouse serving benchmark, against a real server (`--url`, default
//! http://127.0.0.1:8123; `deploy/clickhouse/start-server.sh` starts one). Every run works in
//! a fresh database and drops it afterwards. One JSON line per run on stdout, a summary on
//! stderr.
//!
//! - `sink`: synthetic canonical transactions (`--tenants`, dates in order across 2024) written in
//!   `--batch-rows` batches through `ClickHouseSink`, timed twice on fresh databases: insert
//!   only (RowBinary over HTTP), and the sink's full path (insert + rollup refresh of each
//!   batch's tenant/date windows) — what the pipeline's sink worker does per batch.
//! - `freshness`: `verocta up`'s stack with ClickHouse (embedded broker, the Delta workers and
//!   the ClickHouse sink worker, batches of `--sink-batch-rows` or `--sink-linger-ms`) fed at a
//!   steady `--rate` for `--seconds`; each record carries its send time in `memo`, and a
//!   watcher polls ClickHouse every `--poll-ms` for rows it has not seen. Freshness = first
//!   poll that sees the row − its send time (so the poll interval is the resolution).
//! - `rollups`: loads `--rows` transactions of `--tenants` tenants over 12 months (insert
//!   only), builds both rollups for all tenants in one INSERT … SELECT per rollup (the data is
//!   fresh — one version per transaction — so the latest-version step of the per-window
//!   refresh is the row itself), then times the dashboard queries for random tenants over
//!   12 months: from the rollup, and the same answer computed from `transactions`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::{Parser, Subcommand};
use serde::Serialize;
use verocta_benchmarks::pipeline::{parse_sent_at, percentile, round, sent_at_memo};
use verocta_benchmarks::report::peak_rss_mb;
use verocta_lakehouse::clickhouse::{ClickHouse, ClickHouseConfig, ClickHouseSink, migrate};
use verocta_pipelines::kafka::producer::TransactionProducer;
use verocta_pipelines::kafka::topics::Topology;
use verocta_pipelines::stack::{Stack, StackConfig};
use verocta_schemas::arrow::transactions_to_batch;
use verocta_schemas::{
    Category, Currency, Money, SourceKind, SourceRef, TRANSACTION_SCHEMA_VERSION, TenantId,
    Transaction, TransactionClass, TransactionId,
};

/// Benchmark the ClickHouse serving layer.
#[derive(Parser)]
struct Args {
    /// ClickHouse HTTP interface.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8123")]
    url: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Sink throughput: insert only, and insert + rollup refresh.
    Sink {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 100)]
        tenants: u64,
        #[arg(long, default_value_t = 50_000)]
        batch_rows: u64,
    },
    /// Produce → queryable in ClickHouse, at a steady rate through the whole stack.
    Freshness {
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 24)]
        tenants: u64,
        #[arg(long, default_value_t = 50_000)]
        sink_batch_rows: usize,
        #[arg(long, default_value_t = 200)]
        sink_linger_ms: u64,
        #[arg(long, default_value_t = 20)]
        poll_ms: u64,
    },
    /// Dashboard rollup query latency with many tenants loaded.
    Rollups {
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 5_000)]
        tenants: u64,
        #[arg(long, default_value_t = 50)]
        queries: usize,
    },
}

fn tenant(i: u64) -> TenantId {
    TenantId::new(format!("bench-{i:05}")).expect("valid tenant id")
}

/// Transaction `sequence` of `total` in a synthetic ledger: tenants round-robin, dates in
/// order across 2024 (as ledgers and live traffic arrive), 25 vendors, 6 categories, one in
/// twelve a credit.
fn transaction(sequence: u64, total: u64, tenants: u64, memo: Option<String>) -> Transaction {
    const CATEGORIES: [Category; 6] = [
        Category::SoftwareSaas,
        Category::Travel,
        Category::OfficeSupplies,
        Category::CloudHosting,
        Category::Telecom,
        Category::Utilities,
    ];
    let tenant_id = tenant(sequence % tenants);
    let day = (sequence * 366 / total.max(1)).min(365);
    Transaction {
        schema_version: TRANSACTION_SCHEMA_VERSION,
        transaction_id: TransactionId::derive(&tenant_id, "csv", &[&sequence.to_string()]),
        tenant_id,
        source: SourceRef {
            kind: SourceKind::Csv,
            format: "generic".into(),
            name: "clickhouse-bench".into(),
            line: Some(sequence + 2),
            external_id: None,
        },
        booked_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date")
            + chrono::Days::new(day),
        booked_time: None,
        amount: Money::from_minor(100 + (sequence * 7_919 % 250_000) as i64, Currency::USD),
        original_amount: None,
        class: if sequence % 12 == 0 {
            TransactionClass::Credit
        } else {
            TransactionClass::Spend
        },
        exclusion: None,
        vendor_raw: Some(format!("VENDOR {} INC", sequence % 25)),
        vendor: Some(format!("vendor {}", sequence % 25)),
        category_raw: None,
        category: CATEGORIES[(sequence % 6) as usize],
        account: Some("Corporate Card x1009".into()),
        memo,
        payment_method: Some("card".into()),
        card_last4: Some("1009".into()),
        employee: None,
        department: None,
        ingested_at: chrono::Utc::now(),
    }
}

async fn fresh_database(url: &str, label: &str) -> anyhow::Result<ClickHouseConfig> {
    let config = ClickHouseConfig {
        database: format!("bench_{label}_{}", std::process::id()),
        ..ClickHouseConfig::at(url)
    };
    let clickhouse = ClickHouse::connect(&config).await?;
    clickhouse
        .execute(&format!("DROP DATABASE IF EXISTS {}", config.database))
        .await?;
    migrate(&clickhouse).await?;
    Ok(config)
}

async fn drop_database(config: &ClickHouseConfig) -> anyhow::Result<()> {
    let clickhouse = ClickHouse::connect(config).await?;
    clickhouse
        .execute(&format!("DROP DATABASE IF EXISTS {}", config.database))
        .await?;
    Ok(())
}

#[derive(Serialize)]
struct SinkRun {
    mode: &'static str,
    path: &'static str,
    server: String,
    rows: u64,
    tenants: u64,
    batch_rows: u64,
    seconds: f64,
    rows_per_s: f64,
    peak_rss_mb: Option<f64>,
}

async fn sink(url: &str, rows: u64, tenants: u64, batch_rows: u64) -> anyhow::Result<()> {
    for path in ["insert", "insert+rollups"] {
        let config = fresh_database(url, "sink").await?;
        let clickhouse = ClickHouse::connect(&config).await?;
        let sink = ClickHouseSink::new(clickhouse.clone())?;
        let mut seconds = 0.0;
        let mut written = 0;
        while written < rows {
            let count = batch_rows.min(rows - written);
            let records: Vec<Transaction> = (written..written + count)
                .map(|i| transaction(i, rows, tenants, None))
                .collect();
            let batch = transactions_to_batch(&records)?;
            let started = Instant::now();
            if path == "insert" {
                sink.insert_rows(&batch).await?;
            } else {
                sink.write_transactions(&batch).await?;
            }
            seconds += started.elapsed().as_secs_f64();
            written += count;
        }
        let stored = clickhouse
            .rows(&format!(
                "SELECT count() FROM {}.transactions FINAL",
                config.database
            ))
            .await?;
        ensure!(
            stored[0][0] == rows.to_string(),
            "ClickHouse holds {:?} rows, {rows} written",
            stored
        );
        let run = SinkRun {
            mode: "sink",
            path,
            server: clickhouse.version().to_string(),
            rows,
            tenants,
            batch_rows,
            seconds: round(seconds, 2),
            rows_per_s: round(rows as f64 / seconds, 0),
            peak_rss_mb: peak_rss_mb(),
        };
        eprintln!(
            "sink {path}: {rows} rows, {tenants} tenants, batches of {batch_rows}: {:.2} s = {:.0} rows/s",
            run.seconds, run.rows_per_s
        );
        println!("{}", serde_json::to_string(&run)?);
        drop_database(&config).await?;
    }
    Ok(())
}

#[derive(Serialize)]
struct FreshnessRun {
    mode: &'static str,
    server: String,
    rate: f64,
    seconds: u64,
    sent: u64,
    seen: u64,
    p50_ms: Option<u64>,
    p90_ms: Option<u64>,
    p99_ms: Option<u64>,
    max_ms: Option<u64>,
    poll_ms: u64,
    sink_batch_rows: usize,
    sink_linger_ms: u64,
    peak_rss_mb: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
async fn freshness(
    url: &str,
    rate: f64,
    seconds: u64,
    tenants: u64,
    sink_batch_rows: usize,
    sink_linger_ms: u64,
    poll_ms: u64,
) -> anyhow::Result<()> {
    let clickhouse_config = ClickHouseConfig {
        batch_rows: sink_batch_rows,
        linger_ms: sink_linger_ms,
        ..fresh_database(url, "freshness").await?
    };
    let data = tempfile::tempdir()?;
    let mut config = StackConfig::new(data.path());
    config.topology = Topology {
        prefix: format!("chbench{}.", std::process::id()),
        transaction_partitions: 6,
    };
    config.clickhouse = Some(clickhouse_config.clone());
    let mut stack = Stack::start(config).await?;
    let clickhouse = ClickHouse::connect(&clickhouse_config).await?;
    let epoch = Instant::now();

    // The watcher: rows it has not seen yet, by source line (= sequence + 2).
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let clickhouse = clickhouse.clone();
        let stop = Arc::clone(&stop);
        let database = clickhouse_config.database.clone();
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            let mut latencies_us = Vec::new();
            let mut lowest_unseen = 2u64;
            loop {
                let finishing = stop.load(Ordering::Relaxed);
                let rows = clickhouse
                    .rows(&format!(
                        "SELECT source_line, memo FROM {database}.transactions WHERE source_line >= {lowest_unseen}"
                    ))
                    .await?;
                let now_us = epoch.elapsed().as_micros() as u64;
                for row in rows {
                    let line: u64 = row[0].parse()?;
                    if seen.insert(line) {
                        let sent = parse_sent_at(&row[1]).context("memo without send time")?;
                        latencies_us.push(now_us.saturating_sub(sent));
                    }
                }
                while seen.contains(&lowest_unseen) {
                    lowest_unseen += 1;
                }
                if finishing {
                    return anyhow::Ok(latencies_us);
                }
                tokio::time::sleep(Duration::from_millis(poll_ms)).await;
            }
        })
    };

    // A plain producer paced with 1 ms sleeps, as pipeline-bench's latency mode.
    let kafka = stack.kafka();
    let topic = stack.topology().transactions();
    let sent = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut producer = TransactionProducer::new(&kafka, &topic)?;
        let total = (rate * seconds as f64) as u64;
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            let due = (started.elapsed().as_secs_f64() * rate) as u64;
            while sent < due {
                let memo = sent_at_memo(epoch.elapsed().as_micros() as u64);
                producer.send(&transaction(sent, total, tenants, Some(memo)))?;
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        producer.flush(Duration::from_secs(120))?;
        Ok(sent)
    })
    .await??;
    stack.wait_until_idle(Duration::from_millis(100)).await?;
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = watcher.await??;
    let peak_rss_mb = peak_rss_mb();
    stack.shutdown().await?;
    ensure!(
        latencies_us.len() as u64 == sent,
        "{} of {sent} rows seen in ClickHouse",
        latencies_us.len()
    );
    latencies_us.sort_unstable();
    let ms = |p: f64| percentile(&latencies_us, p).map(|us| us / 1_000);
    let run = FreshnessRun {
        mode: "freshness",
        server: clickhouse.version().to_string(),
        rate,
        seconds,
        sent,
        seen: latencies_us.len() as u64,
        p50_ms: ms(50.0),
        p90_ms: ms(90.0),
        p99_ms: ms(99.0),
        max_ms: latencies_us.last().map(|us| us / 1_000),
        poll_ms,
        sink_batch_rows,
        sink_linger_ms,
        peak_rss_mb,
    };
    eprintln!(
        "freshness at {rate} tx/s for {seconds} s: {sent} rows, p50 {:?} ms, p99 {:?} ms, max {:?} ms",
        run.p50_ms, run.p99_ms, run.max_ms
    );
    println!("{}", serde_json::to_string(&run)?);
    drop_database(&clickhouse_config).await
}

#[derive(Serialize)]
struct QueryRun {
    mode: &'static str,
    query: &'static str,
    server: String,
    rows_loaded: u64,
    tenants: u64,
    queries: usize,
    p50_ms: Option<u64>,
    p99_ms: Option<u64>,
    load_seconds: f64,
    rollup_build_seconds: f64,
}

async fn rollups(url: &str, rows: u64, tenants: u64, queries: usize) -> anyhow::Result<()> {
    let config = fresh_database(url, "rollups").await?;
    let clickhouse = ClickHouse::connect(&config).await?;
    let sink = ClickHouseSink::new(clickhouse.clone())?;
    let db = &config.database;
    let started = Instant::now();
    let mut written = 0;
    while written < rows {
        let count = 200_000.min(rows - written);
        let records: Vec<Transaction> = (written..written + count)
            .map(|i| transaction(i, rows, tenants, None))
            .collect();
        sink.insert_rows(&transactions_to_batch(&records)?).await?;
        written += count;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!("loaded {rows} rows of {tenants} tenants in {load_seconds:.1} s");

    let started = Instant::now();
    for (table, key) in [
        ("daily_category_spend", "category"),
        ("daily_vendor_spend", "vendor"),
    ] {
        let key_expr = if key == "vendor" {
            "ifNull(vendor, '')"
        } else {
            key
        };
        clickhouse
            .execute(&format!(
                "INSERT INTO {db}.{table} (tenant_id, day, currency, currency_digits, {key}, spend_minor, spend_count, credit_minor, credit_count, excluded_count, refresh_version) \
                 SELECT tenant_id, booked_date, currency, max(currency_digits), {key_expr}, \
                 sum(if(class = 'spend', amount_minor, toInt64(0))), countIf(class = 'spend'), \
                 sum(if(class = 'credit', amount_minor, toInt64(0))), countIf(class = 'credit'), countIf(class = 'excluded'), \
                 toUInt64(1) FROM {db}.transactions GROUP BY tenant_id, booked_date, currency, {key_expr}"
            ))
            .await?;
    }
    let rollup_build_seconds = started.elapsed().as_secs_f64();
    eprintln!("built both rollups in {rollup_build_seconds:.1} s");

    let dashboards: [(&'static str, &str); 4] = [
        (
            "monthly spend by category, rollup",
            "SELECT toStartOfMonth(day) AS month, currency, category, sum(spend_minor) - sum(credit_minor) AS net \
             FROM {db}.daily_category_spend FINAL WHERE tenant_id = '{t}' AND day >= '2024-01-01' AND day <= '2024-12-31' \
             GROUP BY month, currency, category ORDER BY month, net DESC",
        ),
        (
            "top 10 vendors, rollup",
            "SELECT vendor, sum(spend_minor) AS spend FROM {db}.daily_vendor_spend FINAL \
             WHERE tenant_id = '{t}' AND day >= '2024-01-01' AND day <= '2024-12-31' GROUP BY vendor ORDER BY spend DESC LIMIT 10",
        ),
        (
            "monthly spend by category, from transactions",
            "SELECT toStartOfMonth(booked_date) AS month, currency, category, \
             sum(if(class = 'spend', amount_minor, toInt64(0))) - sum(if(class = 'credit', amount_minor, toInt64(0))) AS net \
             FROM {db}.transactions FINAL WHERE tenant_id = '{t}' AND booked_date >= '2024-01-01' AND booked_date <= '2024-12-31' \
             GROUP BY month, currency, category ORDER BY month, net DESC",
        ),
        (
            "top 10 vendors, from transactions",
            "SELECT vendor, sum(if(class = 'spend', amount_minor, toInt64(0))) AS spend FROM {db}.transactions FINAL \
             WHERE tenant_id = '{t}' AND booked_date >= '2024-01-01' AND booked_date <= '2024-12-31' GROUP BY vendor ORDER BY spend DESC LIMIT 10",
        ),
    ];
    for (name, template) in dashboards {
        let mut timings_us = Vec::with_capacity(queries);
        for q in 0..queries as u64 {
            let tenant_id = tenant(q * 7_919 % tenants);
            let sql = template
                .replace("{db}", db)
                .replace("{t}", tenant_id.as_str());
            let started = Instant::now();
            let answer = clickhouse.rows(&sql).await?;
            timings_us.push(started.elapsed().as_micros() as u64);
            ensure!(!answer.is_empty(), "{name}: no rows for {tenant_id}");
        }
        timings_us.sort_unstable();
        let run = QueryRun {
            mode: "rollups",
            query: name,
            server: clickhouse.version().to_string(),
            rows_loaded: rows,
            tenants,
            queries,
            p50_ms: percentile(&timings_us, 50.0).map(|us| us / 1_000),
            p99_ms: percentile(&timings_us, 99.0).map(|us| us / 1_000),
            load_seconds: round(load_seconds, 1),
            rollup_build_seconds: round(rollup_build_seconds, 1),
        };
        eprintln!("{name}: p50 {:?} ms, p99 {:?} ms", run.p50_ms, run.p99_ms);
        println!("{}", serde_json::to_string(&run)?);
    }
    drop_database(&config).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("verocta_pipelines=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match args.mode {
        Mode::Sink {
            rows,
            tenants,
            batch_rows,
        } => sink(&args.url, rows, tenants, batch_rows).await,
        Mode::Freshness {
            rate,
            seconds,
            tenants,
            sink_batch_rows,
            sink_linger_ms,
            poll_ms,
        } => {
            freshness(
                &args.url,
                rate,
                seconds,
                tenants,
                sink_batch_rows,
                sink_linger_ms,
                poll_ms,
            )
            .await
        }
        Mode::Rollups {
            rows,
            tenants,
            queries,
        } => rollups(&args.url, rows, tenants, queries).await,
    }
}
