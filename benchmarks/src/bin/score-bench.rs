//! SpendScore v2 at scale: the `spend_scores` follower over a real `transactions` Delta table
//! of ~1M canonical transactions for 5,000 tenants, wall time and peak memory.
//!
//! ```text
//! score-bench prepare --data-dir D [--tenants 5000] [--months 5] [--commits 10]
//! score-bench run --data-dir D
//! score-bench incremental --data-dir D [--touch 50]
//! score-bench classic --data-dir D
//! score-bench v2-sql --data-dir D
//! ```
//!
//! `prepare` (not timed) generates the seeded multi-tenant ledger of `anomaly-bench`
//! (`verocta_benchmarks::anomaly_ledger`: recurring, utility, frequent and occasional vendors
//! per tenant, with injected duplicates, spikes and splits), turns each row into a canonical
//! [`Transaction`] and appends them to `D/lake/transactions` in `--commits` commits, as the
//! streaming workers would.
//!
//! Each timed subcommand is its own process, so each peak RSS (`VmHWM`) is that step's own
//! (plus the opened table); nothing else should be running:
//! - `run` (**full**) drops any earlier `spend_scores` table and times [`ScoreJob::step`]:
//!   nothing is scored yet, so every tenant is read (DataFusion over the Delta snapshot),
//!   scored over the 30/90/365-day windows and written to `spend_scores` with its `txn`
//!   record;
//! - `incremental` appends one more `transactions` commit touching `--touch` tenants (20 new
//!   transactions each, ids new on every run; untimed), then times the step, which reads and
//!   rescores only those tenants;
//! - `classic` times the classic score over the same table as SQL (`spendscore_classic`
//!   UDAF, `GROUP BY tenant_id`): the old product's score on the same rows, for scale;
//! - `v2-sql` times the v2 score as SQL (the `spendscore_v2` UDAF for the three windows,
//!   `GROUP BY tenant_id, currency`) and, when `run` has written `spend_scores`, counts how
//!   many of the follower's latest scores the query reproduces (it should be all).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use clap::{Parser, Subcommand};
use verocta_benchmarks::anomaly_ledger::{self, LedgerSpec};
use verocta_benchmarks::report::peak_rss_mb;
use verocta_lakehouse::{Lake, TRANSACTIONS_TABLE};
use verocta_pipelines::scores::{SPEND_SCORES_TABLE, ScoreJob};
use verocta_schemas::arrow::transactions_to_batch;
use verocta_schemas::{
    Category, Currency, Money, SourceKind, SourceRef, TRANSACTION_SCHEMA_VERSION, TenantId,
    Transaction, TransactionClass, TransactionId,
};

#[derive(Parser)]
#[command(about = "SpendScore v2 over ~1M transactions for 5,000 tenants")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the ledger and append it to DATA_DIR/lake/transactions (not timed).
    Prepare {
        /// Data directory (created).
        #[arg(long)]
        data_dir: PathBuf,
        /// Tenants.
        #[arg(long, default_value_t = 5000)]
        tenants: usize,
        /// Months of history per tenant (~46 transactions per tenant-month).
        #[arg(long, default_value_t = 5)]
        months: u32,
        /// Commits to split the rows into.
        #[arg(long, default_value_t = 10)]
        commits: usize,
    },
    /// Time the full `spend_scores` step (every tenant).
    Run {
        /// Data directory written by `prepare`.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Append a commit touching some tenants, then time the incremental step.
    Incremental {
        /// Data directory written by `prepare` and scored by `run`.
        #[arg(long)]
        data_dir: PathBuf,
        /// Tenants the new commit touches.
        #[arg(long, default_value_t = 50)]
        touch: usize,
    },
    /// Time the classic score over the same table (SQL, one group per tenant).
    Classic {
        /// Data directory written by `prepare`.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Time the v2 score as SQL (one group per tenant and currency) and compare it with
    /// the follower's `spend_scores`.
    V2Sql {
        /// Data directory written by `prepare` (and scored by `run`, for the comparison).
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match Cli::parse().command {
        Command::Prepare {
            data_dir,
            tenants,
            months,
            commits,
        } => runtime.block_on(prepare(&data_dir, tenants, months, commits)),
        Command::Run { data_dir } => runtime.block_on(run(&data_dir)),
        Command::Incremental { data_dir, touch } => runtime.block_on(incremental(&data_dir, touch)),
        Command::Classic { data_dir } => runtime.block_on(classic(&data_dir)),
        Command::V2Sql { data_dir } => runtime.block_on(v2_sql(&data_dir)),
    }
}

async fn prepare(data_dir: &Path, tenants: usize, months: u32, commits: usize) -> Result<()> {
    let started = Instant::now();
    let spec = LedgerSpec {
        tenants,
        months,
        ..LedgerSpec::default()
    };
    let ledger = anomaly_ledger::generate(&spec);
    let transactions = canonical(&ledger.batch)?;
    println!(
        "generated {} transactions for {tenants} tenants over {months} months in {:.1} s",
        transactions.len(),
        started.elapsed().as_secs_f64()
    );
    drop(ledger);
    let lake = Lake::in_data_dir(data_dir);
    let mut table = lake.transactions().await?;
    let per_commit = transactions.len().div_ceil(commits.max(1));
    for chunk in transactions.chunks(per_commit.max(1)) {
        let outcome = table
            .append(&transactions_to_batch(chunk)?, &[], &HashMap::new())
            .await?;
        println!(
            "commit {:?}: {} rows ({} duplicates)",
            outcome.version, outcome.written, outcome.duplicates
        );
    }
    println!(
        "prepared {} in {:.1} s",
        lake.table_dir(TRANSACTIONS_TABLE).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(data_dir: &Path) -> Result<()> {
    let job = ScoreJob::in_data_dir(data_dir);
    let Some(version) = job.lake.table_version(TRANSACTIONS_TABLE).await? else {
        bail!(
            "{} has no transactions table: run `score-bench prepare` first",
            data_dir.display()
        );
    };
    let scores_dir = job.lake.table_dir(SPEND_SCORES_TABLE);
    if scores_dir.exists() {
        std::fs::remove_dir_all(&scores_dir)
            .with_context(|| format!("removing {}", scores_dir.display()))?;
    }
    let rows = count(&job.lake, "TRUE").await?;
    println!("transactions table: version {version}, {rows} rows");
    println!();
    println!("| step | tenants read | scores written | rows read | wall s | peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|");

    let (full, _) = job.step(None).await?;
    if !full.full {
        bail!("the first step should have been a full one: {full:?}");
    }
    print_step(
        "full",
        full.tenants,
        full.scores,
        rows,
        full.seconds,
        peak_rss_mb(),
    );
    Ok(())
}

async fn incremental(data_dir: &Path, touch: usize) -> Result<()> {
    let job = ScoreJob::in_data_dir(data_dir);
    let Some(version) = job.lake.table_version(TRANSACTIONS_TABLE).await? else {
        bail!(
            "{} has no transactions table: run `score-bench prepare` first",
            data_dir.display()
        );
    };
    if job.lake.table_version(SPEND_SCORES_TABLE).await?.is_none() {
        bail!("nothing scored yet: run `score-bench run` first");
    }
    let touched = append_touching(&job.lake, touch, version).await?;
    let touched_rows = count(&job.lake, &touched).await?;
    let before = peak_rss_mb();
    let (incremental, _) = job.step(None).await?;
    let incremental_rss = peak_rss_mb();
    if incremental.full || incremental.tenants != touch {
        bail!("the incremental step should have read exactly {touch} tenants: {incremental:?}");
    }
    print_step(
        "incremental",
        incremental.tenants,
        incremental.scores,
        touched_rows,
        incremental.seconds,
        incremental_rss,
    );
    println!(
        "(peak RSS before the step, after appending the commit: {} MB)",
        before.map_or("n/a".into(), |mb| format!("{mb:.0}"))
    );
    Ok(())
}

fn print_step(
    name: &str,
    tenants: usize,
    scores: usize,
    rows: u64,
    seconds: f64,
    rss: Option<f64>,
) {
    println!(
        "| {name} | {tenants} | {scores} | {rows} | {seconds:.2} | {} |",
        rss.map_or("n/a".into(), |mb| format!("{mb:.0}"))
    );
}

async fn classic(data_dir: &Path) -> Result<()> {
    let lake = Lake::in_data_dir(data_dir);
    let ctx = lake.session().await?;
    verocta_models::anomaly::udf::register(&ctx, None);
    let started = Instant::now();
    let batches = ctx
        .sql(
            "SELECT tenant_id, spendscore_classic( \
                 CAST(amount_minor AS DOUBLE) / power(10.0, CAST(currency_digits AS DOUBLE)), \
                 vendor, booked_date, category) AS score \
             FROM transactions WHERE class = 'spend' GROUP BY tenant_id",
        )
        .await?
        .collect()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let tenants: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!(
        "classic (spendscore_classic UDAF, GROUP BY tenant_id): {tenants} tenants in {seconds:.2} s, peak RSS {} MB",
        peak_rss_mb().map_or("n/a".into(), |mb| format!("{mb:.0}"))
    );
    Ok(())
}

async fn v2_sql(data_dir: &Path) -> Result<()> {
    let lake = Lake::in_data_dir(data_dir);
    let ctx = lake.session().await?;
    verocta_models::anomaly::udf::register(&ctx, None);
    let score = |days: u16| {
        format!(
            "spendscore_v2({days}, booked_date, booked_time_s, amount_minor, class, vendor, \
             category, transaction_id) AS s{days}"
        )
    };
    let query = format!(
        "SELECT tenant_id, currency, {}, {}, {} FROM transactions \
         WHERE class IN ('spend', 'credit') GROUP BY tenant_id, currency",
        score(30),
        score(90),
        score(365)
    );
    let started = Instant::now();
    let batches = ctx.sql(&query).await?.collect().await?;
    let seconds = started.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    let mut by_query: HashMap<(String, String, i64), Option<i64>> = HashMap::new();
    for batch in &batches {
        let (tenants, currencies) = (utf8(batch, 0)?, utf8(batch, 1)?);
        for (column, days) in [(2, 30), (3, 90), (4, 365)] {
            let scores = batch.column(column).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let key = (
                    tenants.value(i).to_string(),
                    currencies.value(i).to_string(),
                    days,
                );
                by_query.insert(key, (!scores.is_null(i)).then(|| scores.value(i)));
            }
        }
    }
    println!(
        "v2 (spendscore_v2 UDAF × 3 windows, GROUP BY tenant_id, currency): {} groups in \
         {seconds:.2} s, peak RSS {} MB",
        by_query.len() / 3,
        rss.map_or("n/a".into(), |mb| format!("{mb:.0}"))
    );
    if lake.table_version(SPEND_SCORES_TABLE).await?.is_none() {
        println!("no spend_scores table: run `score-bench run` first to compare");
        return Ok(());
    }
    let latest = ctx
        .sql(
            "SELECT tenant_id, currency, CAST(window_days AS BIGINT) AS days, \
                    CAST(score AS BIGINT) AS score \
             FROM spend_scores s WHERE source_version = (SELECT max(source_version) \
                 FROM spend_scores t WHERE t.tenant_id = s.tenant_id \
                 AND t.window_days = s.window_days)",
        )
        .await?
        .collect()
        .await?;
    let (mut same, mut total) = (0usize, 0usize);
    for batch in &latest {
        let (tenants, currencies) = (utf8(batch, 0)?, utf8(batch, 1)?);
        let days = batch.column(2).as_primitive::<Int64Type>();
        let scores = batch.column(3).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let key = (
                tenants.value(i).to_string(),
                currencies.value(i).to_string(),
                days.value(i),
            );
            total += 1;
            same += usize::from(by_query.get(&key) == Some(&Some(scores.value(i))));
        }
    }
    println!("the query reproduces {same} of the follower's {total} latest scores");
    if same != total {
        bail!(
            "the SQL aggregate and the follower disagree on {} scores",
            total - same
        );
    }
    Ok(())
}

/// A text column as plain UTF-8 (the lake may hand out views or dictionaries).
fn utf8(batch: &RecordBatch, column: usize) -> Result<arrow_array::StringArray> {
    let cast =
        datafusion::arrow::compute::cast(batch.column(column), &arrow_schema::DataType::Utf8)?;
    Ok(cast.as_string::<i32>().clone())
}

async fn count(lake: &Lake, filter: &str) -> Result<u64> {
    let batches = lake
        .sql(&format!(
            "SELECT count(*) FROM {TRANSACTIONS_TABLE} WHERE class IN ('spend', 'credit') AND ({filter})"
        ))
        .await?;
    let column = batches
        .first()
        .context("count returned no batch")?
        .column(0)
        .as_primitive::<Int64Type>();
    Ok(u64::try_from(column.value(0))?)
}

/// Appends 20 new spend transactions for each of `touch` tenants spread over the ledger, dated
/// in the last week of history; returns the SQL filter naming those tenants.
async fn append_touching(lake: &Lake, touch: usize, version: u64) -> Result<String> {
    let batches = lake
        .sql(&format!(
            "SELECT tenant_id, max(booked_date) AS last FROM {TRANSACTIONS_TABLE} \
             GROUP BY tenant_id ORDER BY tenant_id"
        ))
        .await?;
    let mut tenants = Vec::new();
    for batch in &batches {
        let ids = arrow_array::cast::downcast_array::<arrow_array::StringArray>(
            &datafusion::arrow::compute::cast(batch.column(0), &arrow_schema::DataType::Utf8)?,
        );
        let last = batch.column(1).as_primitive::<Date32Type>();
        for i in 0..batch.num_rows() {
            tenants.push((ids.value(i).to_string(), last.value(i)));
        }
    }
    if tenants.len() < touch {
        bail!(
            "--touch {touch} but the table has {} tenants",
            tenants.len()
        );
    }
    let stride = tenants.len() / touch.max(1);
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).context("epoch")?;
    let mut fresh = Vec::new();
    for (tenant, last) in tenants.iter().step_by(stride.max(1)).take(touch) {
        let day = epoch + Duration::days(i64::from(*last));
        for i in 0..20_i64 {
            fresh.push(spend(
                tenant,
                &format!("bench-v{version}-{i}"),
                day - Duration::days(i % 7),
                None,
                "late office order",
                Category::OfficeSupplies,
                2_500 + 137 * i,
            )?);
        }
    }
    let mut table = lake.transactions().await?;
    let outcome = table
        .append(&transactions_to_batch(&fresh)?, &[], &HashMap::new())
        .await?;
    if outcome.written != fresh.len() {
        bail!("appended {} of {} rows", outcome.written, fresh.len());
    }
    let names: Vec<String> = tenants
        .iter()
        .step_by(stride.max(1))
        .take(touch)
        .map(|(t, _)| format!("'{t}'"))
        .collect();
    Ok(format!("tenant_id IN ({})", names.join(", ")))
}

fn spend(
    tenant: &str,
    external_id: &str,
    day: NaiveDate,
    time_s: Option<i32>,
    vendor: &str,
    category: Category,
    amount_minor: i64,
) -> Result<Transaction> {
    let tenant_id = TenantId::new(tenant)?;
    Ok(Transaction {
        schema_version: TRANSACTION_SCHEMA_VERSION,
        transaction_id: TransactionId::derive(&tenant_id, "bench", &[external_id]),
        tenant_id,
        source: SourceRef {
            kind: SourceKind::Csv,
            format: "bench-ledger".into(),
            name: "ledger.csv".into(),
            line: None,
            external_id: Some(external_id.into()),
        },
        booked_date: day,
        booked_time: time_s
            .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(s).ok()?, 0)),
        amount: Money::from_minor(amount_minor, Currency::USD),
        original_amount: None,
        class: TransactionClass::Spend,
        exclusion: None,
        vendor_raw: Some(vendor.to_uppercase()),
        vendor: Some(vendor.into()),
        category_raw: None,
        category,
        account: None,
        memo: None,
        payment_method: None,
        card_last4: None,
        employee: None,
        department: None,
        ingested_at: Utc::now(),
    })
}

/// The ledger's rows as canonical transactions (USD spend, ids from the ledger's own ids).
fn canonical(batch: &RecordBatch) -> Result<Vec<Transaction>> {
    let text = |name: &str| -> Result<arrow_array::StringArray> {
        let column = batch
            .column_by_name(name)
            .with_context(|| format!("ledger column {name}"))?;
        Ok(arrow_array::cast::downcast_array(
            &datafusion::arrow::compute::cast(column, &arrow_schema::DataType::Utf8)?,
        ))
    };
    let tenants = text("tenant_id")?;
    let ids = text("transaction_id")?;
    let vendors = text("vendor")?;
    let categories = text("category")?;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .with_context(|| format!("ledger column {name}"))
    };
    let days = column("booked_date")?.as_primitive::<Date32Type>().clone();
    let times = column("booked_time_s")?.as_primitive::<Int32Type>().clone();
    let amounts = column("amount_minor")?.as_primitive::<Int64Type>().clone();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).context("epoch")?;
    (0..batch.num_rows())
        .map(|i| {
            let category = taxonomy(categories.value(i))
                .with_context(|| format!("ledger category {}", categories.value(i)))?;
            spend(
                tenants.value(i),
                ids.value(i),
                epoch + Duration::days(i64::from(days.value(i))),
                (!times.is_null(i)).then(|| times.value(i)),
                vendors.value(i),
                category,
                amounts.value(i),
            )
        })
        .collect()
}

/// The ledger's short category names in the taxonomy (`docs/categories.md`).
fn taxonomy(name: &str) -> Option<Category> {
    Some(match name {
        "equipment" => Category::ItHardware,
        "fuel" => Category::VehiclesFuel,
        "marketing" => Category::MarketingAdvertising,
        "meals" => Category::MealsEntertainment,
        "other" => Category::Uncategorized,
        "rent" => Category::RentFacilities,
        "shipping" => Category::ShippingLogistics,
        "software" => Category::SoftwareSaas,
        other => return Category::from_code(other),
    })
}
