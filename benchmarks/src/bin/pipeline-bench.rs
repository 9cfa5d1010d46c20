//! End-to-end pipeline benchmark: CSV file → Kafka → worker → Delta commit, in one process.
//!
//! - `throughput`: generates the bank export of `--size-mb` (the ingest benchmark's generator
//!   and seed) into `benchmarks/data/`, starts a [`Stack`] (embedded broker, or `--brokers`;
//!   two workers; a fresh topic prefix, consumer group and data directory per run), imports
//!   the file through the stack's lag-gated producer with `import_files`, and times from the
//!   import's start until `wait_until_idle` returns — after a warm-up record has gone through,
//!   so the consumer group's formation is reported apart. It checks that the Delta table holds
//!   exactly the transactions produced, and reports rows/s, CSV MB/s and the process's peak
//!   RSS — the whole process: importer, producer, worker threads and, in embedded mode, the
//!   broker with the records it holds.
//! - `latency`: produces synthetic canonical transactions at a steady `--rate` for
//!   `--seconds`, each stamped with its send time in `memo`, and measures per row how long
//!   until the Delta commit holding it became visible (see `verocta_benchmarks::pipeline`).
//!   Workers linger `--linger-ms` (200 by default, against 500 in production) so a batch
//!   closes sooner when traffic is thin.
//! - `commit`: the Delta commit alone, no Kafka: `--batches` appends of `--rows` synthetic
//!   transactions to a fresh `transactions` table through `TransactionsTable::append`, as a
//!   worker's commit thread makes them; p50/p90 append time, the p50 of the first and of the
//!   last tenth of the appends (does an append cost more as the table ages?), and the CPU the
//!   committing thread and the whole process spent; `--compact-every N` compacts the table
//!   after every N appends, as `verocta lake compact` does, timed apart.
//!
//! Each run prints one JSON line on stdout (`run-pipeline.sh` collects them into a Markdown
//! table) and a readable summary on stderr. Run one process per measurement, so that peak
//! RSS belongs to that run alone.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use arrow_array::{Array, Int64Array};
use clap::{Parser, Subcommand};
use verocta_benchmarks::generate::{DEFAULT_SEED, ExportSpec, write_export};
use verocta_benchmarks::pipeline::{
    CommitWatcher, LatencyMeasurement, ThroughputMeasurement, commit_file, megabytes, percentile,
    round, row_latencies, sent_at_memo,
};
use verocta_benchmarks::report::{MB, peak_rss_mb};
use verocta_ingest::csv::RawImportOptions;
use verocta_lakehouse::Lake;
use verocta_lakehouse::delta::TRANSACTIONS_TABLE;
use verocta_pipelines::batch::BatchPolicy;
use verocta_pipelines::import::{Destination, FileOutcome, import_files};
use verocta_pipelines::kafka::producer::TransactionProducer;
use verocta_pipelines::kafka::topics::Topology;
use verocta_pipelines::metrics::ComponentMetrics;
use verocta_pipelines::stack::{Stack, StackConfig};
use verocta_schemas::{
    Category, Currency, Money, SourceKind, SourceRef, TRANSACTION_SCHEMA_VERSION, TenantId,
    Transaction, TransactionClass, TransactionId,
};

/// Benchmark the streaming pipeline end to end.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Import a generated CSV export through Kafka into Delta; rows/s, MB/s, peak RSS.
    Throughput {
        /// Size of the generated export in MB (10^6 bytes).
        #[arg(long)]
        size_mb: f64,
        /// Seed of the generator; the default is the ingest benchmark's.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Worker batch linger in milliseconds (the production default is 500).
        #[arg(long, default_value_t = 500)]
        linger_ms: u64,
        /// Diagnostic: import through a plain producer instead of the stack's lag-gated one,
        /// to show the pipeline's speed without the gate. With the embedded broker (5 MB kept
        /// per partition) the producer can then outrun the workers and lose records.
        #[arg(long)]
        plain_producer: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Steady synthetic traffic; produce→Delta-visible latency per row.
    Latency {
        /// Transactions per second.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        /// Seconds of producing.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Worker batch linger in milliseconds.
        #[arg(long, default_value_t = 200)]
        linger_ms: u64,
        /// Tenants the traffic is spread over (the record key, hence the partition).
        #[arg(long, default_value_t = 24)]
        tenants: usize,
        /// How often to look for a new Delta commit, in milliseconds.
        #[arg(long, default_value_t = 5)]
        poll_ms: u64,
        /// Publish through the stack's lag-gated producer (as imports do) instead of a plain
        /// one; the gate flushes and reads Delta every 2,000 records.
        #[arg(long)]
        gated: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Delta appends alone, no Kafka: `--batches` appends of `--rows` synthetic transactions
    /// (ascending dates, as an export has) to a fresh transactions table, each with its
    /// offset commit, timed one by one, with the CPU the committing thread and the whole
    /// process spent.
    Commit {
        /// Rows per append (the worker's batches are up to 10,000 by default).
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        /// Appends to time.
        #[arg(long, default_value_t = 100)]
        batches: usize,
        /// Compact the table (`verocta lake compact`) after every this many appends, timed
        /// apart from them; 0 never does.
        #[arg(long, default_value_t = 0)]
        compact_every: usize,
        /// Directory for the run's table (removed after).
        #[arg(long, default_value = "benchmarks/data")]
        data: PathBuf,
    },
}

/// Settings shared by both modes.
#[derive(clap::Args)]
struct RunArgs {
    /// External brokers (`host:port`); without it the embedded broker runs in this process.
    #[arg(long)]
    brokers: Option<String>,
    /// Name of the external broker in the output, e.g. `tansu`.
    #[arg(long)]
    broker_label: Option<String>,
    /// An extra librdkafka property for every client, `key=value`; repeatable.
    #[arg(long = "kafka-property", value_parser = parse_property)]
    kafka_properties: Vec<(String, String)>,
    /// Worker threads in the consumer group.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Threads reading the CSV's rows (1: the producing thread alone); one per core, up to
    /// four, by default.
    #[arg(long)]
    import_workers: Option<usize>,
    /// Directory for the generated CSV and the per-run data directories (removed after).
    #[arg(long, default_value = "benchmarks/data")]
    data: PathBuf,
}

impl RunArgs {
    fn broker_label(&self) -> String {
        match (&self.brokers, &self.broker_label) {
            (_, Some(label)) => label.clone(),
            (Some(_), None) => "external".into(),
            (None, None) => "embedded".into(),
        }
    }

    /// A stack isolated from every other run: its own topics, group and data directory.
    fn stack_config(&self, data_dir: &Path, batch: BatchPolicy) -> StackConfig {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let run_id = format!("bench-{}-{started}", std::process::id());
        let mut config = StackConfig::new(data_dir);
        config.brokers = self.brokers.clone();
        config.topology = Topology {
            prefix: format!("{run_id}."),
            ..Topology::default()
        };
        config.workers = self.workers.max(1);
        config.group_id = run_id;
        config.batch = batch;
        config.kafka_extra = self.kafka_properties.clone();
        config
    }

    fn run_dir(&self) -> anyhow::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("cannot create {}", self.data.display()))?;
        tempfile::Builder::new()
            .prefix("pipeline-run-")
            .tempdir_in(&self.data)
            .with_context(|| format!("cannot create a run directory in {}", self.data.display()))
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not key=value")),
    }
}

fn batch_policy(linger_ms: u64) -> BatchPolicy {
    BatchPolicy {
        linger: Duration::from_millis(linger_ms),
        ..BatchPolicy::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The pipeline's warnings (consumer errors, offset gaps); RUST_LOG=verocta_pipelines=info
    // adds assignments and commits.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("verocta_pipelines=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Args::parse().mode {
        Mode::Throughput {
            size_mb,
            seed,
            linger_ms,
            plain_producer,
            run,
        } => throughput(size_mb, seed, linger_ms, plain_producer, run).await,
        Mode::Latency {
            rate,
            seconds,
            linger_ms,
            tenants,
            poll_ms,
            gated,
            run,
        } => {
            ensure!(
                rate > 0.0 && seconds > 0.0,
                "--rate and --seconds must be positive"
            );
            ensure!((1..=1000).contains(&tenants), "--tenants must be 1 to 1000");
            let options = LatencyOptions {
                rate,
                duration: Duration::from_secs_f64(seconds),
                linger_ms,
                tenants,
                poll: Duration::from_millis(poll_ms.max(1)),
                gated,
            };
            latency(options, run).await
        }
        Mode::Commit {
            rows,
            batches,
            compact_every,
            data,
        } => commit(rows, batches, compact_every, &data).await,
    }
}

/// Writes the export; regenerated on every run (the same spec always yields the same bytes).
fn generate_export(data: &Path, size_mb: f64, seed: u64) -> anyhow::Result<PathBuf> {
    ensure!(size_mb > 0.0, "--size-mb must be positive");
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let name = if seed == DEFAULT_SEED {
        format!("export-{size_mb}mb.csv")
    } else {
        format!("export-{size_mb}mb-{seed:x}.csv")
    };
    let path = data.join(name);
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let spec = ExportSpec {
        seed,
        target_bytes: (size_mb * MB) as u64,
    };
    let stats = write_export(BufWriter::with_capacity(1 << 20, file), spec)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "generated {} rows, {} bytes: {}",
        stats.rows,
        stats.bytes,
        path.display()
    );
    Ok(path)
}

/// What the workers counted (the warm-up record included).
struct WorkerTotals {
    commits: u64,
    commit_us: u64,
    rows_by_worker: Vec<u64>,
    errors: u64,
}

impl WorkerTotals {
    /// Read after the stack has shut down: a worker bumps its counters only after its commit
    /// is visible, so reading them as soon as `wait_until_idle` returns can miss the last one.
    fn of(metrics: &[Arc<ComponentMetrics>]) -> Self {
        let sum = |counter: fn(&ComponentMetrics) -> &AtomicU64| {
            metrics
                .iter()
                .map(|m| counter(m).load(Ordering::Relaxed))
                .sum()
        };
        WorkerTotals {
            commits: sum(|m| &m.batches),
            commit_us: sum(|m| &m.batch_latency_us_sum),
            rows_by_worker: metrics
                .iter()
                .map(|m| m.rows_out.load(Ordering::Relaxed))
                .collect(),
            errors: sum(|m| &m.errors),
        }
    }

    fn mean_commit_ms(&self) -> f64 {
        round(
            self.commit_us as f64 / 1000.0 / self.commits.max(1) as f64,
            1,
        )
    }
}

/// Tenant of the imported file.
const IMPORT_TENANT: &str = "bench";

async fn delta_row_count(lake: &Lake, tenant: &str) -> anyhow::Result<u64> {
    let batches = lake
        .sql(&format!(
            "SELECT count(*) FROM {TRANSACTIONS_TABLE} WHERE tenant_id = '{tenant}'"
        ))
        .await?;
    let column = batches
        .first()
        .context("count(*) returned no batch")?
        .column(0);
    let counts = column
        .as_any()
        .downcast_ref::<Int64Array>()
        .with_context(|| format!("count(*) is {}, not Int64", column.data_type()))?;
    Ok(counts.value(0) as u64)
}

/// Sends one record of tenant `warmup` and waits until Delta holds it: the consumer group has
/// formed and a worker owns the partitions. The embedded broker delays a new group's first
/// assignment by ~3 s, which would otherwise be timed as pipeline throughput or latency.
/// Returns the seconds since `stack_started`.
async fn warm_up(stack: &mut Stack, stack_started: Instant) -> anyhow::Result<f64> {
    let mut producer = TransactionProducer::new(&stack.kafka(), &stack.topology().transactions())?;
    let record = synthetic_transaction(
        0,
        &TenantId::new(WARM_UP_TENANT)?,
        chrono::Utc::now().date_naive(),
        0,
    );
    tokio::task::spawn_blocking(move || {
        producer.send(&record)?;
        producer.flush(Duration::from_secs(60))
    })
    .await??;
    stack.wait_until_idle(Duration::from_millis(20)).await?;
    Ok(stack_started.elapsed().as_secs_f64())
}

/// Tenant of the warm-up record, kept apart from the measured rows.
const WARM_UP_TENANT: &str = "warmup";

async fn throughput(
    size_mb: f64,
    seed: u64,
    linger_ms: u64,
    plain_producer: bool,
    run: RunArgs,
) -> anyhow::Result<()> {
    let csv = generate_export(&run.data, size_mb, seed)?;
    let file_bytes = std::fs::metadata(&csv)?.len();
    let run_dir = run.run_dir()?;
    let stack_started = Instant::now();
    let mut stack = Stack::start(run.stack_config(run_dir.path(), batch_policy(linger_ms))).await?;
    let group_join_seconds = warm_up(&mut stack, stack_started).await?;
    let rss_before_import_mb = peak_rss_mb();
    let mut import = RawImportOptions {
        tenant: IMPORT_TENANT.into(),
        ..Default::default()
    }
    .validate()?;
    if let Some(workers) = run.import_workers {
        import.parallelism.workers = workers.max(1);
    }
    let mut producer = if plain_producer {
        TransactionProducer::new(&stack.kafka(), &stack.topology().transactions())?
    } else {
        stack.producer()?
    };

    let started = Instant::now();
    let files = vec![csv.clone()];
    let (outcomes, produced) = tokio::task::spawn_blocking(move || {
        let outcomes = import_files(&files, &import, Destination::Kafka(&mut producer))?;
        anyhow::Ok((outcomes, producer.sent()))
    })
    .await??;
    let import_seconds = started.elapsed().as_secs_f64();
    for outcome in &outcomes {
        match outcome {
            FileOutcome::Imported(summary) if summary.rejected_count > 0 => bail!(
                "{} rows rejected, first: {:?}",
                summary.rejected_count,
                summary.rejected.first()
            ),
            FileOutcome::Imported(_) => {}
            FileOutcome::Failed { file, error } => bail!("cannot import {file}: {error}"),
        }
    }
    stack.wait_until_idle(Duration::from_millis(100)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_mb();

    let metrics = stack.metrics().to_vec();
    let delta_rows = delta_row_count(&stack.lake(), IMPORT_TENANT).await?;
    stack.shutdown().await?;
    let worker = WorkerTotals::of(&metrics);
    ensure!(
        delta_rows == produced,
        "Delta holds {delta_rows} rows but {produced} transactions were produced"
    );

    let measurement = ThroughputMeasurement {
        mode: "throughput",
        broker: run.broker_label(),
        workers: run.workers.max(1),
        group_join_seconds: round(group_join_seconds, 2),
        linger_ms,
        gated_producer: !plain_producer,
        file_mb: round(megabytes(file_bytes), 1),
        produced,
        delta_rows,
        import_seconds: round(import_seconds, 3),
        seconds: round(seconds, 3),
        rows_per_s: round(delta_rows as f64 / seconds, 0),
        mb_per_s: round(megabytes(file_bytes) / seconds, 2),
        commits: worker.commits,
        mean_commit_ms: worker.mean_commit_ms(),
        rows_by_worker: worker.rows_by_worker,
        errors: worker.errors,
        peak_rss_mb: peak_rss_mb.map(|mb| round(mb, 1)),
        rss_before_import_mb: rss_before_import_mb.map(|mb| round(mb, 1)),
    };
    eprintln!(
        "{} broker, {:.0} MB: {} rows in {:.2} s ({:.0} rows/s, {:.1} MB/s; import returned at \
         {:.2} s), {} commits of {:.0} ms mean, peak RSS {:?} MB",
        measurement.broker,
        measurement.file_mb,
        delta_rows,
        seconds,
        measurement.rows_per_s,
        measurement.mb_per_s,
        import_seconds,
        measurement.commits,
        measurement.mean_commit_ms,
        measurement.peak_rss_mb
    );
    println!("{}", serde_json::to_string(&measurement)?);
    drop(run_dir);
    Ok(())
}

struct LatencyOptions {
    rate: f64,
    duration: Duration,
    linger_ms: u64,
    tenants: usize,
    poll: Duration,
    gated: bool,
}

/// A valid canonical transaction stamped with its send time.
fn synthetic_transaction(
    sequence: u64,
    tenant: &TenantId,
    booked_date: chrono::NaiveDate,
    sent_us: u64,
) -> Transaction {
    Transaction {
        schema_version: TRANSACTION_SCHEMA_VERSION,
        transaction_id: TransactionId::derive(tenant, "csv", &[&sequence.to_string()]),
        tenant_id: tenant.clone(),
        source: SourceRef {
            kind: SourceKind::Csv,
            format: "generic".into(),
            name: "pipeline-bench".into(),
            line: Some(sequence + 2),
            external_id: Some(sequence.to_string()),
        },
        booked_date,
        booked_time: None,
        amount: Money::from_minor(100 + (sequence * 7_919 % 250_000) as i64, Currency::USD),
        original_amount: None,
        class: TransactionClass::Spend,
        exclusion: None,
        vendor_raw: Some("SQ *BLUE BOTTLE COFFEE #0412 OAKLAND CA".into()),
        vendor: Some("blue bottle coffee".into()),
        category_raw: Some("Meals & Entertainment".into()),
        category: Category::Uncategorized,
        account: Some("Corporate Card x1009".into()),
        memo: Some(sent_at_memo(sent_us)),
        payment_method: Some("card".into()),
        card_last4: Some("1009".into()),
        employee: None,
        department: None,
        ingested_at: chrono::Utc::now(),
    }
}

/// Sends at `rate` per second for `duration`, pacing with 1 ms sleeps; returns the records
/// sent and the seconds spent sending (before the final flush).
fn produce_steadily(
    producer: &mut TransactionProducer,
    options: &LatencyOptions,
    epoch: Instant,
) -> anyhow::Result<(u64, f64)> {
    let tenants: Vec<TenantId> = (0..options.tenants)
        .map(|i| TenantId::new(format!("bench-{i:03}")))
        .collect::<Result<_, _>>()?;
    // Today's date, as live traffic has: every batch lands in the current month's partition.
    let today = chrono::Utc::now().date_naive();
    let started = Instant::now();
    let mut sent = 0u64;
    loop {
        let elapsed = started.elapsed();
        if elapsed >= options.duration {
            break;
        }
        let due = (elapsed.as_secs_f64() * options.rate) as u64;
        while sent < due {
            let tenant = &tenants[(sent % tenants.len() as u64) as usize];
            let sent_us = epoch.elapsed().as_micros() as u64;
            producer.send(&synthetic_transaction(sent, tenant, today, sent_us))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let producing = started.elapsed().as_secs_f64();
    producer.flush(Duration::from_secs(120))?;
    Ok((sent, producing))
}

/// The newest version in a Delta log (0 when only the creating commit is there).
fn latest_version(table_dir: &Path) -> u64 {
    let mut version = 0;
    while commit_file(table_dir, version + 1).exists() {
        version += 1;
    }
    version
}

async fn latency(options: LatencyOptions, run: RunArgs) -> anyhow::Result<()> {
    let run_dir = run.run_dir()?;
    let stack_started = Instant::now();
    let mut stack =
        Stack::start(run.stack_config(run_dir.path(), batch_policy(options.linger_ms))).await?;
    let group_join_seconds = warm_up(&mut stack, stack_started).await?;
    let table_dir = stack.lake().table_dir(TRANSACTIONS_TABLE);
    let epoch = Instant::now();
    let watcher = CommitWatcher::start(&table_dir, latest_version(&table_dir), epoch, options.poll);
    let mut producer = if options.gated {
        stack.producer()?
    } else {
        TransactionProducer::new(&stack.kafka(), &stack.topology().transactions())?
    };
    let (options, (sent, producing_seconds)) = tokio::task::spawn_blocking(move || {
        let result = produce_steadily(&mut producer, &options, epoch);
        result.map(|outcome| (options, outcome))
    })
    .await??;
    stack.wait_until_idle(Duration::from_millis(100)).await?;
    let visible = watcher.finish();
    let peak_rss_mb = peak_rss_mb();
    let metrics = stack.metrics().to_vec();
    stack.shutdown().await?;
    let worker = WorkerTotals::of(&metrics);

    let rows = row_latencies(&table_dir, &visible)?;
    ensure!(
        rows.len() as u64 == sent,
        "Delta commits hold {} rows but {sent} were sent",
        rows.len()
    );
    let mut latencies: Vec<u64> = rows.iter().map(|(_, latency)| *latency).collect();
    latencies.sort_unstable();
    let ms = |p: f64| round(percentile(&latencies, p).unwrap_or(0) as f64 / 1000.0, 1);
    let window_us = 5_000_000;
    let windows = rows
        .iter()
        .map(|(sent, _)| sent / window_us)
        .max()
        .unwrap_or(0)
        + 1;
    let mut by_window = vec![Vec::new(); windows as usize];
    for (sent_us, latency) in &rows {
        by_window[(sent_us / window_us) as usize].push(*latency);
    }
    let p50_ms_by_5s = by_window
        .iter_mut()
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.sort_unstable();
            round(percentile(w, 50.0).unwrap_or(0) as f64 / 1000.0, 1)
        })
        .collect();
    let measurement = LatencyMeasurement {
        mode: "latency",
        broker: run.broker_label(),
        workers: run.workers.max(1),
        group_join_seconds: round(group_join_seconds, 2),
        linger_ms: options.linger_ms,
        gated_producer: options.gated,
        target_rate: options.rate,
        achieved_rate: round(sent as f64 / producing_seconds, 0),
        seconds: round(producing_seconds, 2),
        sent,
        seen: rows.len() as u64,
        commits: visible.len() as u64,
        mean_commit_ms: worker.mean_commit_ms(),
        rows_by_worker: worker.rows_by_worker,
        p50_ms: ms(50.0),
        p90_ms: ms(90.0),
        p99_ms: ms(99.0),
        max_ms: ms(100.0),
        p50_ms_by_5s,
        poll_ms: options.poll.as_millis() as u64,
        peak_rss_mb: peak_rss_mb.map(|mb| round(mb, 1)),
    };
    eprintln!(
        "{} broker, {:.0} tx/s for {:.0} s, linger {} ms: p50 {} ms, p99 {} ms, max {} ms over \
         {} rows in {} commits",
        measurement.broker,
        measurement.achieved_rate,
        measurement.seconds,
        measurement.linger_ms,
        measurement.p50_ms,
        measurement.p99_ms,
        measurement.max_ms,
        measurement.seen,
        measurement.commits
    );
    println!("{}", serde_json::to_string(&measurement)?);
    drop(run_dir);
    Ok(())
}

/// CPU seconds (user + system) from a `/proc/.../stat` file: fields 14 and 15, in ticks.
fn cpu_seconds(stat_path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return f64::NAN;
    };
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    // Field 3 (state) is the first after the name: fields 14 and 15 are at 11 and 12, in
    // USER_HZ ticks (100 a second on Linux).
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// The median of `us` (microseconds) in milliseconds.
fn median_ms(us: &[u64]) -> f64 {
    let mut sorted = us.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50.0).map_or(f64::NAN, |us| us as f64 / 1e3)
}

/// Times `batches` appends of `rows` synthetic transactions to a fresh transactions table.
async fn commit(
    rows: usize,
    batches: usize,
    compact_every: usize,
    data: &Path,
) -> anyhow::Result<()> {
    ensure!(
        rows > 0 && batches > 0,
        "--rows and --batches must be positive"
    );
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let run_dir = tempfile::Builder::new()
        .prefix("commit-run-")
        .tempdir_in(data)
        .with_context(|| format!("cannot create a run directory in {}", data.display()))?;
    let lake = Lake::in_data_dir(run_dir.path());
    let mut table = lake.transactions().await?;
    let tenant = TenantId::new("bench-commit")?;
    let first_day = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).context("date")?;
    let app_id = "commit-bench-0".to_string();
    let runtime = tokio::runtime::Handle::current();
    let process_started = cpu_seconds("/proc/self/stat");
    let wall_started = Instant::now();
    let mut append_us = Vec::with_capacity(batches);
    let mut compactions_ms = Vec::new();
    let mut thread_cpu = 0.0;
    for b in 0..batches {
        let transactions: Vec<Transaction> = (0..rows)
            .map(|i| {
                let sequence = (b * rows + i) as u64;
                // 2,000 rows a day: a 10,000-row batch spans a week, one or two months.
                let day = first_day + chrono::Days::new(sequence / 2_000);
                synthetic_transaction(sequence, &tenant, day, 0)
            })
            .collect();
        let batch = verocta_schemas::arrow::transactions_to_batch(&transactions)?;
        let offsets = vec![(app_id.clone(), b as i64)];
        let expected =
            std::collections::HashMap::from([(app_id.clone(), b.checked_sub(1).map(|v| v as i64))]);
        let handle = runtime.clone();
        let (outcome, us, cpu, back) = tokio::task::spawn_blocking(move || {
            let cpu_before = cpu_seconds("/proc/thread-self/stat");
            let started = Instant::now();
            let outcome = handle.block_on(table.append(&batch, &offsets, &expected));
            let us = started.elapsed().as_micros() as u64;
            (
                outcome,
                us,
                cpu_seconds("/proc/thread-self/stat") - cpu_before,
                table,
            )
        })
        .await?;
        table = back;
        let outcome = outcome?;
        ensure!(
            outcome.written == rows,
            "append {b} wrote {} of {rows} rows",
            outcome.written
        );
        append_us.push(us);
        thread_cpu += cpu;
        if compact_every > 0 && (b + 1) % compact_every == 0 {
            let started = Instant::now();
            table.compact().await?;
            compactions_ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    let wall = wall_started.elapsed().as_secs_f64();
    let compaction_ms = compactions_ms.iter().fold(0.0, |sum, ms| sum + ms);
    let files_at_end = table.file_count();
    let process_cpu = cpu_seconds("/proc/self/stat") - process_started;
    // Whether an append costs more as the table's log grows: the first tenth against the last.
    let tenth = batches.div_ceil(10);
    let first_tenth_ms = median_ms(&append_us[..tenth]);
    let last_tenth_ms = median_ms(&append_us[batches - tenth..]);
    append_us.sort_unstable();
    let ms_at = |p: f64| percentile(&append_us, p).map_or(f64::NAN, |us| us as f64 / 1e3);
    let summary = serde_json::json!({
        "mode": "commit",
        "rows_per_append": rows,
        "appends": batches,
        "append_ms_p50": round(ms_at(50.0), 1),
        "append_ms_p90": round(ms_at(90.0), 1),
        "append_ms_p50_first_tenth": round(first_tenth_ms, 1),
        "append_ms_p50_last_tenth": round(last_tenth_ms, 1),
        "compactions": compactions_ms.len(),
        "compaction_ms_total": round(compaction_ms, 0),
        "files_at_end": files_at_end,
        "rows_per_s": round((rows * batches) as f64 / wall, 0),
        "commit_thread_cpu_s": round(thread_cpu, 2),
        "process_cpu_s": round(process_cpu, 2),
        "wall_s": round(wall, 2),
    });
    eprintln!(
        "{batches} appends of {rows} rows: p50 {:.1} ms, p90 {:.1} ms (p50 of the first tenth {:.1} ms, of the last {:.1} ms); {} compactions, {:.0} ms in all; {} files at the end; {:.0} rows/s; CPU: committing thread {:.2} s, process {:.2} s over {:.2} s",
        ms_at(50.0),
        ms_at(90.0),
        first_tenth_ms,
        last_tenth_ms,
        compactions_ms.len(),
        compaction_ms,
        files_at_end,
        (rows * batches) as f64 / wall,
        thread_cpu,
        process_cpu,
        wall
    );
    println!("{summary}");
    Ok(())
}
