//! The `verocta` command line: parses arguments, sets up logging, and calls the crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use verocta_ingest::ImportSummary;
use verocta_ingest::csv::amount::DecimalSeparator;
use verocta_ingest::csv::date::DateOrder;
use verocta_ingest::csv::layout::AmountSign;
use verocta_ingest::csv::{ColumnMapping, RawImportOptions};
use verocta_lakehouse::{Lake, TransactionFileSink};
use verocta_pipelines::anomalies::AnomalyJob;
use verocta_pipelines::batch::BatchPolicy;
use verocta_pipelines::forecasts::{FORECASTS_TABLE, ForecastJob};
use verocta_pipelines::import::{Destination, FileOutcome, import_files};
use verocta_pipelines::kafka::KafkaConfig;
use verocta_pipelines::kafka::producer::TransactionProducer;
use verocta_pipelines::kafka::topics::Topology;
use verocta_pipelines::kafka::worker::{WorkerConfig, run_worker};
use verocta_pipelines::metrics::ComponentMetrics;
use verocta_pipelines::scores::ScoreJob;
use verocta_pipelines::stack::{Broker, Stack, StackConfig};

/// jemalloc instead of glibc malloc: with glibc, each thread's arena kept the memory of the
/// micro-batches it freed, and a long import's peak RSS grew with the input (mimalloc held
/// even more; see README, Figures, Pipeline).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "verocta",
    version,
    about = "Spend analytics: import, score, detect, forecast."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import accounting, bank or card exports as canonical transactions.
    Import(ImportArgs),
    /// Run everything in one process: broker (embedded unless --brokers), workers, Delta tables.
    Up(UpArgs),
    /// Run one pipeline worker against a broker (for multi-process deployments).
    Worker(WorkerArgs),
    /// Query the Delta tables with SQL (DataFusion).
    Sql(SqlArgs),
    /// Delta Lake maintenance.
    Lake(LakeArgs),
    /// Score a file with the SpendScore.
    Score(ScoreArgs),
    /// Detect anomalies in the Delta transactions (forests + rules) → the `anomalies` table.
    Anomalies(AnomaliesArgs),
    /// SpendScore v2 per tenant over 30/90/365 days → the `spend_scores` table (incremental).
    Scores(ScoresArgs),
    /// Monthly and daily spend forecasts per tenant × category → the `forecasts` table.
    Forecast(ForecastArgs),
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Print the JSON Schema of the canonical transaction.
    Schema,
    /// ClickHouse: migrate, backfill from Delta, verify against Delta, tenant users.
    Clickhouse(ClickHouseCommand),
}

#[derive(Args, Clone)]
struct ClickHouseArgs {
    /// ClickHouse HTTP interface.
    #[arg(long = "clickhouse-url", env = "VEROCTA_CLICKHOUSE_URL")]
    url: Option<String>,
    /// Database holding Verocta's tables.
    #[arg(long = "clickhouse-database", default_value = "verocta")]
    database: String,
    /// User to connect as.
    #[arg(long = "clickhouse-user", default_value = "default")]
    user: String,
    /// Its password.
    #[arg(long = "clickhouse-password", env = "VEROCTA_CLICKHOUSE_PASSWORD")]
    password: Option<String>,
    /// The server's users.d directory (tenant users on servers before 20.5).
    #[arg(
        long = "clickhouse-users-dir",
        env = "VEROCTA_CLICKHOUSE_USERS_DIR",
        default_value = "/var/tmp/verocta-clickhouse/etc/users.d"
    )]
    users_dir: PathBuf,
}

impl ClickHouseArgs {
    /// The config, when a URL was given (`up` serves from ClickHouse only then).
    fn config(&self) -> Option<verocta_lakehouse::clickhouse::ClickHouseConfig> {
        Some(self.config_at(self.url.clone()?))
    }

    fn config_at(&self, url: String) -> verocta_lakehouse::clickhouse::ClickHouseConfig {
        verocta_lakehouse::clickhouse::ClickHouseConfig {
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            users_dir: Some(self.users_dir.clone()),
            ..verocta_lakehouse::clickhouse::ClickHouseConfig::at(url)
        }
    }

    /// Connects to the given URL, or the default one (`verocta clickhouse …` commands).
    async fn connect(&self) -> anyhow::Result<verocta_lakehouse::clickhouse::ClickHouse> {
        let config = match self.config() {
            Some(config) => config,
            None => self.config_at(verocta_lakehouse::clickhouse::ClickHouseConfig::default().url),
        };
        Ok(verocta_lakehouse::clickhouse::ClickHouse::connect(&config).await?)
    }
}

#[derive(Args)]
struct ClickHouseCommand {
    #[command(subcommand)]
    action: ClickHouseAction,
}

#[derive(Subcommand)]
enum ClickHouseAction {
    /// Create or upgrade the tables (DDL rendered for the server's version).
    Migrate {
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    },
    /// Rebuild ClickHouse from the Delta tables, then report counts side by side.
    Backfill {
        /// Read from the Delta tables (the only source today; required for clarity).
        #[arg(long, required = true)]
        from_delta: bool,
        /// Data directory holding DIR/lake.
        #[arg(long, default_value = "verocta-data")]
        data_dir: PathBuf,
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    },
    /// Compare counts and sums per tenant and month; exit 1 on any drift.
    Verify {
        /// Data directory holding DIR/lake.
        #[arg(long, default_value = "verocta-data")]
        data_dir: PathBuf,
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    },
    /// Create a read-only user who sees only one tenant's rows; prints its password.
    Grant {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The ClickHouse user name.
        #[arg(long)]
        user: String,
        /// Its password (generated when absent).
        #[arg(long, env = "VEROCTA_GRANT_PASSWORD")]
        password: Option<String>,
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    },
    /// Remove a tenant user (and the tenant's copy once no user reads it).
    Revoke {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The ClickHouse user name.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    },
}

#[derive(Args, Clone)]
struct TopicArgs {
    /// Prefix of every topic name (isolates deployments and tests).
    #[arg(long, default_value = "verocta.")]
    topic_prefix: String,
    /// Partitions of the transactions topic when it is created.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Extra librdkafka properties, `key=value` (repeatable), e.g. session.timeout.ms=6000.
    #[arg(long = "kafka-property", value_parser = parse_property)]
    kafka_properties: Vec<(String, String)>,
}

impl TopicArgs {
    fn topology(&self) -> Topology {
        Topology {
            prefix: self.topic_prefix.clone(),
            transaction_partitions: self.partitions,
        }
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

#[derive(Args)]
struct UpArgs {
    /// Data directory: Delta tables live under DIR/lake/<table>.
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Use this Kafka instead of the embedded broker.
    #[arg(long, env = "VEROCTA_BROKERS")]
    brokers: Option<String>,
    /// Tenant the given files belong to.
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// Currency of files that state none.
    #[arg(long)]
    currency: Option<String>,
    /// Worker threads in the consumer group.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Exit 0 once everything produced is committed to Delta.
    #[arg(long)]
    exit_when_idle: bool,
    /// Address of the API (development mode: email verification skipped, keys generated).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Do not start the API.
    #[arg(long)]
    no_api: bool,
    /// Seconds between forecast runs while new transactions arrive (scores and anomalies
    /// follow every commit).
    #[arg(long, default_value_t = 600)]
    forecast_every_s: u64,
    #[command(flatten)]
    topics: TopicArgs,
    /// Serve from ClickHouse too (with --clickhouse-url): tables are migrated and a sink keeps
    /// them in step; --exit-when-idle then also waits for ClickHouse.
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
    /// Files to import at start.
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Data directory (SQLite database and generated keys live here).
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// PostgreSQL URL; SQLite in the data directory when absent.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Development mode: email verification skipped, keys generated into the data directory.
    #[arg(long)]
    dev: bool,
}

#[derive(Args)]
struct WorkerArgs {
    /// Data directory: Delta tables live under DIR/lake/<table>.
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Kafka bootstrap servers.
    #[arg(long, env = "VEROCTA_BROKERS")]
    brokers: String,
    /// Consumer group.
    #[arg(long, default_value = "verocta-transactions")]
    group: String,
    /// Largest micro-batch, in records.
    #[arg(long, default_value_t = 32_768)]
    batch_rows: usize,
    /// Longest a micro-batch waits, in milliseconds.
    #[arg(long, default_value_t = 500)]
    linger_ms: u64,
    #[command(flatten)]
    topics: TopicArgs,
}

#[derive(Args)]
struct AnomaliesArgs {
    /// Data directory holding lake/ (models are saved under models/anomaly/).
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Train new models even when saved ones exist.
    #[arg(long)]
    retrain: bool,
    /// Thresholds as JSON (e.g. '{"rules": {"duplicate_window_days": 5}}'); unknown fields
    /// are errors.
    #[arg(long)]
    config: Option<String>,
    /// Also publish every flag to the alerts topic of this broker.
    #[arg(long)]
    brokers: Option<String>,
    /// Topic name prefix (with --brokers).
    #[arg(long, default_value = "verocta.")]
    topic_prefix: String,
    /// Print the summary and every anomaly as JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ForecastArgs {
    /// Data directory holding lake/.
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Horizons and minimum histories as JSON (e.g. '{"horizon_months": 12}'); unknown
    /// fields are errors.
    #[arg(long)]
    config: Option<String>,
    /// Print the run summary and every forecast row as JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ScoresArgs {
    /// Data directory holding lake/.
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Keep following the transactions table (Ctrl-C stops) instead of one catch-up step.
    #[arg(long)]
    follow: bool,
    /// Seconds between steps with --follow.
    #[arg(long, default_value_t = 2)]
    interval_s: u64,
    /// Also publish every score to the scores topic of this broker.
    #[arg(long)]
    brokers: Option<String>,
    /// Topic name prefix (with --brokers).
    #[arg(long, default_value = "verocta.")]
    topic_prefix: String,
    /// Print each step's summary and every score written as JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SqlArgs {
    /// Data directory holding lake/.
    #[arg(long, default_value = "verocta-data")]
    data_dir: PathBuf,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// The query, e.g. "SELECT class, count(*) FROM transactions GROUP BY class".
    query: String,
}

#[derive(Args)]
struct LakeArgs {
    #[command(subcommand)]
    action: LakeAction,
    /// Data directory holding lake/.
    #[arg(long, global = true, default_value = "verocta-data")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum LakeAction {
    /// Rewrite small files into large ones.
    Compact,
    /// Delete unreferenced files older than the retention (default 168 h, Delta's safe minimum).
    Vacuum {
        /// Retention in hours.
        #[arg(long, default_value_t = 168)]
        retention_hours: u64,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow a retention under 168 hours (unsafe with concurrent readers).
        #[arg(long)]
        force: bool,
    },
    /// Write a checkpoint of the Delta log.
    Checkpoint,
}

#[derive(Args)]
struct ScoreArgs {
    /// Score exactly as the original VeroctaAI product did (compatibility mode on a raw file).
    #[arg(long, required = true)]
    classic: bool,
    /// Print one line of JSON.
    #[arg(long)]
    json: bool,
    /// The export to score.
    file: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum SignArg {
    /// Positive amounts are spend (expense reports, ledgers, card exports).
    SpendPositive,
    /// Negative amounts are spend (bank statements).
    SpendNegative,
}

#[derive(Args)]
struct ImportArgs {
    /// Tenant (company) the transactions belong to.
    #[arg(long)]
    tenant: String,
    /// Layout: auto, or one of quickbooks-report, quickbooks-bank, xero-import,
    /// xero-statement, wave, revolut-business, revolut, expensify, brex, ramp, bank-split, generic.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Numeric dates are day first (31/01/2024).
    #[arg(long, conflicts_with = "month_first")]
    day_first: bool,
    /// Numeric dates are month first (01/31/2024).
    #[arg(long)]
    month_first: bool,
    /// Currency of files that state none (ISO 4217). USD when not given.
    #[arg(long)]
    currency: Option<String>,
    /// JSON file naming the columns (overrides detection); see docs/import-formats.md.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// How the sign of a single amount column relates to spend (inferred when not given).
    #[arg(long, value_enum)]
    amount_sign: Option<SignArg>,
    /// Amounts use a decimal comma (1.234,56) even where the file cannot tell.
    #[arg(long)]
    decimal_comma: bool,
    /// Read and report only; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON summary per file, one per line, on stdout.
    #[arg(long)]
    json: bool,
    /// Write the transactions to this .parquet or .ndjson file instead of Kafka.
    #[arg(long, conflicts_with = "brokers")]
    out: Option<PathBuf>,
    /// Publish to this Kafka (host:port).
    #[arg(long, env = "VEROCTA_BROKERS")]
    brokers: Option<String>,
    #[command(flatten)]
    topics: TopicArgs,
    /// The export files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,buoyant_kernel::snapshot=off")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Import(args) => import(args),
        Command::Up(args) => runtime()?.block_on(up(args)),
        Command::Worker(args) => worker(args),
        Command::Sql(args) => runtime()?.block_on(sql(args)),
        Command::Lake(args) => runtime()?.block_on(lake(args)),
        Command::Score(args) => score(args),
        Command::Anomalies(args) => runtime()?.block_on(anomalies(args)),
        Command::Scores(args) => runtime()?.block_on(scores(args)),
        Command::Forecast(args) => runtime()?.block_on(forecast(args)),
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Clickhouse(command) => runtime()?.block_on(clickhouse(command.action)),
        Command::Schema => {
            print!("{}", verocta_schemas::wire::transaction_json_schema());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn import_config(
    tenant: String,
    format: String,
    date_order: Option<DateOrder>,
    currency: Option<String>,
    mapping: Option<ColumnMapping>,
    amount_sign: Option<AmountSign>,
    decimal: Option<DecimalSeparator>,
) -> anyhow::Result<verocta_ingest::csv::CsvImportConfig> {
    Ok(RawImportOptions {
        tenant,
        format: Some(format),
        date_order,
        currency,
        mapping,
        amount_sign,
        decimal,
    }
    .validate()?)
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mapping = args
        .mapping
        .as_deref()
        .map(ColumnMapping::from_file)
        .transpose()?;
    let date_order = match (args.day_first, args.month_first) {
        (true, _) => Some(DateOrder::DayFirst),
        (_, true) => Some(DateOrder::MonthFirst),
        _ => None,
    };
    let config = import_config(
        args.tenant,
        args.format,
        date_order,
        args.currency,
        mapping,
        args.amount_sign.map(|s| match s {
            SignArg::SpendPositive => AmountSign::SpendPositive,
            SignArg::SpendNegative => AmountSign::SpendNegative,
        }),
        args.decimal_comma.then_some(DecimalSeparator::Comma),
    )?;
    let outcomes = match (&args.out, &args.brokers, args.dry_run) {
        (_, _, true) => import_files(&args.files, &config, Destination::DryRun)?,
        (Some(out), _, false) => {
            let mut sink = TransactionFileSink::create(out)?;
            let outcomes = import_files(&args.files, &config, Destination::File(&mut sink))?;
            let rows = sink.finish()?;
            eprintln!("wrote {rows} transactions to {}", out.display());
            outcomes
        }
        (None, Some(brokers), false) => {
            let kafka = KafkaConfig {
                extra: args.topics.kafka_properties.clone(),
                ..KafkaConfig::new(brokers.clone())
            };
            let topic = args.topics.topology().transactions();
            let mut producer = TransactionProducer::new(&kafka, &topic)?;
            let outcomes = import_files(&args.files, &config, Destination::Kafka(&mut producer))?;
            eprintln!(
                "published {} transactions to {topic} on {brokers}",
                producer.sent()
            );
            outcomes
        }
        (None, None, false) => anyhow::bail!(
            "nowhere to send the transactions: pass --brokers host:port (or set VEROCTA_BROKERS) to publish to Kafka, \
             --out FILE.parquet to write a file, or --dry-run to only check the files; `verocta up FILE` runs the whole pipeline locally"
        ),
    };
    let failed = print_outcomes(&outcomes, args.json).context("writing the summary")?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_outcomes(outcomes: &[FileOutcome], json: bool) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for outcome in outcomes {
        match outcome {
            FileOutcome::Imported(summary) if json => {
                writeln!(stdout, "{}", serde_json::to_string(summary)?)?
            }
            FileOutcome::Imported(summary) => write_readable(&mut stdout, summary)?,
            FileOutcome::Failed { file, error } => {
                failed = true;
                eprintln!("error: {error}");
                if json {
                    writeln!(
                        stdout,
                        "{}",
                        serde_json::json!({ "file": file, "error": error.to_string() })
                    )?;
                }
            }
        }
    }
    stdout.flush()?;
    Ok(failed)
}

async fn clickhouse(action: ClickHouseAction) -> anyhow::Result<ExitCode> {
    use verocta_lakehouse::clickhouse::{self as ch, tenant};
    match action {
        ClickHouseAction::Migrate { clickhouse } => {
            let server = clickhouse.connect().await?;
            let report = ch::migrate(&server).await?;
            println!(
                "ClickHouse {} database {}: {} applied, {} already applied, {} skipped for this version",
                server.version(),
                server.database(),
                report.applied.len(),
                report.already_applied.len(),
                report.skipped.len()
            );
            for name in &report.applied {
                println!("  applied {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        ClickHouseAction::Backfill {
            data_dir,
            clickhouse,
            ..
        } => {
            let server = clickhouse.connect().await?;
            ch::migrate(&server).await?;
            let lake = Lake::in_data_dir(&data_dir);
            let sink = ch::ClickHouseSink::new(server.clone())?;
            let backfill = ch::backfill_from_delta(&lake, &sink, 50_000).await?;
            println!(
                "backfill: read {} rows from Delta, inserted {} into ClickHouse, rebuilt rollups of {} tenants",
                backfill.delta_rows, backfill.inserted, backfill.tenants
            );
            let report = ch::verify_against_delta(&lake, &server).await?;
            print_verify(&report);
            Ok(if report.agrees() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ClickHouseAction::Verify {
            data_dir,
            clickhouse,
        } => {
            let server = clickhouse.connect().await?;
            let report = ch::verify_against_delta(&Lake::in_data_dir(&data_dir), &server).await?;
            print_verify(&report);
            Ok(if report.agrees() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ClickHouseAction::Grant {
            tenant: tenant_id,
            user,
            password,
            clickhouse,
        } => {
            let server = clickhouse.connect().await?;
            let grant = tenant::grant(&server, &tenant_id, &user, password.as_deref()).await?;
            println!("user:     {}", grant.user);
            println!("password: {}", grant.password);
            println!("database: {}", grant.database);
            println!("defined:  {}", grant.defined_in);
            Ok(ExitCode::SUCCESS)
        }
        ClickHouseAction::Revoke {
            tenant: tenant_id,
            user,
            clickhouse,
        } => {
            let server = clickhouse.connect().await?;
            tenant::revoke(&server, &tenant_id, &user).await?;
            println!("revoked {user}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_verify(report: &verocta_lakehouse::clickhouse::VerifyReport) {
    println!(
        "{:<24} {:<8} {:<4} {:>10} {:>10} {:>10} {:>16} {:>16} {:>16}",
        "tenant",
        "month",
        "cur",
        "delta",
        "clickhouse",
        "rollup",
        "delta spend",
        "ch spend",
        "rollup spend"
    );
    for ((tenant, month, currency), delta, clickhouse, rollup) in &report.rows {
        let mark = if delta == clickhouse && delta == rollup {
            ""
        } else {
            "  <- drift"
        };
        println!(
            "{tenant:<24} {month:<8} {currency:<4} {:>10} {:>10} {:>10} {:>16} {:>16} {:>16}{mark}",
            delta.transactions,
            clickhouse.transactions,
            rollup.transactions,
            delta.spend_minor,
            clickhouse.spend_minor,
            rollup.spend_minor
        );
    }
    let (delta, clickhouse) = report.transaction_counts();
    if report.agrees() {
        println!("agree: {delta} transactions in Delta and in ClickHouse");
    } else {
        println!(
            "DRIFT in {} tenant-months: Delta {delta} transactions, ClickHouse {clickhouse}; run `verocta clickhouse backfill --from-delta` to rebuild",
            report.drifts.len()
        );
    }
}

async fn up(args: UpArgs) -> anyhow::Result<ExitCode> {
    let mut config = StackConfig::new(&args.data_dir);
    config.brokers = args.brokers.clone();
    config.topology = args.topics.topology();
    config.workers = args.workers.max(1);
    config.kafka_extra = args.topics.kafka_properties.clone();
    config.clickhouse = args.clickhouse.config();
    let mut stack = Stack::start(config).await?;
    let api = if args.no_api || args.exit_when_idle {
        None
    } else {
        let mut api_config = verocta_serving::ServeConfig::from_env(&args.data_dir, args.listen);
        api_config.dev_mode = true;
        api_config.extra_metrics = Some(std::sync::Arc::new(stack.metrics_renderer()));
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(verocta_serving::run(api_config, async move {
            let _ = api_stopped.await;
        }));
        eprintln!(
            "verocta up: API on http://{} (development mode; docs at /docs)",
            args.listen
        );
        Some((stop_api, handle))
    };
    let broker = match stack.broker() {
        Broker::Embedded(_) => format!("embedded broker at {}", stack.kafka().brokers),
        Broker::External(brokers) => format!("Kafka at {brokers}"),
    };
    eprintln!(
        "verocta up: {broker}; {} workers; Delta tables under {}",
        args.workers.max(1),
        args.data_dir.join("lake").display()
    );
    let mut failed = false;
    if !args.files.is_empty() {
        let import = import_config(
            args.tenant,
            "auto".into(),
            None,
            args.currency,
            None,
            None,
            None,
        )?;
        let mut producer = stack.producer()?;
        let files = args.files.clone();
        let outcomes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<FileOutcome>> {
            Ok(import_files(
                &files,
                &import,
                Destination::Kafka(&mut producer),
            )?)
        })
        .await??;
        failed = print_outcomes(&outcomes, false)?;
    }
    // The analytics follow the transactions table: after each micro-batch commit a step
    // rescores the tenants it touched (scores topic) and judges its new rows (alerts topic).
    let mut analytics = Analytics::new(
        &args.data_dir,
        &stack,
        std::time::Duration::from_secs(args.forecast_every_s),
    )?;
    if args.exit_when_idle {
        stack
            .wait_until_idle(std::time::Duration::from_millis(200))
            .await?;
        let (scores, anomalies, forecasts) = analytics.step(true).await?;
        eprintln!(
            "verocta up: {} spend scores for {} tenants, {} anomalies and {} forecast rows written under {}",
            scores.scores,
            scores.tenants,
            anomalies.anomalies,
            forecasts.map_or(0, |f| f.rows),
            args.data_dir.join("lake").display()
        );
        drop(analytics);
        stack.shutdown().await?;
        eprintln!(
            "verocta up: everything produced is committed{}; exiting",
            if args.clickhouse.url.is_some() {
                " to Delta and ClickHouse"
            } else {
                ""
            }
        );
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    eprintln!(
        "verocta up: running; query with `verocta sql --data-dir {} \"SELECT …\"`; Ctrl-C stops",
        args.data_dir.display()
    );
    // Lag gauges (Delta and ClickHouse) are measured, not pushed: refresh them every 10 s,
    // which also surfaces a worker or sink that stopped.
    let mut lag_tick = tokio::time::interval(std::time::Duration::from_secs(10));
    let mut analytics_tick = tokio::time::interval(std::time::Duration::from_secs(2));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            _ = lag_tick.tick() => {
                stack.update_lag().await?;
            }
            _ = analytics_tick.tick() => {
                // A failed step (e.g. a concurrent follower won the commit) is redone from
                // the recorded version on the next tick.
                if let Err(error) = analytics.step(false).await {
                    tracing::warn!(%error, "analytics step failed; retrying");
                }
            }
        }
    }
    drop(analytics);
    eprintln!("verocta up: stopping (committing in-flight batches)");
    if let Some((stop_api, handle)) = api {
        let _ = stop_api.send(());
        handle.await??;
    }
    stack.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

/// The followers `up` runs after the workers: SpendScore v2 and streaming anomaly detection
/// after every commit, forecasts on a schedule.
struct Analytics {
    scores: ScoreJob,
    anomalies: AnomalyJob,
    forecasts: ForecastJob,
    forecast_every: std::time::Duration,
    last_forecast: Option<std::time::Instant>,
    scores_topic: TransactionProducer,
    alerts_topic: TransactionProducer,
}

impl Analytics {
    fn new(
        data_dir: &std::path::Path,
        stack: &Stack,
        forecast_every: std::time::Duration,
    ) -> anyhow::Result<Self> {
        Ok(Analytics {
            scores: ScoreJob::in_data_dir(data_dir),
            anomalies: AnomalyJob::in_data_dir(data_dir),
            forecasts: ForecastJob::in_data_dir(data_dir),
            forecast_every,
            last_forecast: None,
            scores_topic: TransactionProducer::new(&stack.kafka(), &stack.topology().scores())?,
            alerts_topic: TransactionProducer::new(&stack.kafka(), &stack.topology().alerts())?,
        })
    }

    /// Scores and anomalies for what is new; forecasts too when they are stale and due (or
    /// `final_step`).
    async fn step(
        &mut self,
        final_step: bool,
    ) -> anyhow::Result<(
        verocta_pipelines::scores::ScoreStep,
        verocta_pipelines::anomalies::AnomalyRunSummary,
        Option<verocta_pipelines::forecasts::ForecastRun>,
    )> {
        let (scores, _) = self.scores.step(Some(&mut self.scores_topic)).await?;
        let (anomalies, _) = self.anomalies.step(Some(&mut self.alerts_topic)).await?;
        let due = final_step
            || self
                .last_forecast
                .is_none_or(|at| at.elapsed() >= self.forecast_every);
        let mut forecasts = None;
        if due && self.forecasts.is_stale().await? {
            forecasts = Some(self.forecasts.run().await?.0);
            self.last_forecast = Some(std::time::Instant::now());
        }
        Ok((scores, anomalies, forecasts))
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = verocta_serving::ServeConfig::from_env(&args.data_dir, args.listen);
    config.dev_mode = args.dev;
    if args.database_url.is_some() {
        config.database_url = args.database_url;
    }
    eprintln!(
        "verocta serve: API on http://{} (docs at /docs)",
        args.listen
    );
    verocta_serving::run(config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = interrupt.await;
        return;
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let config = WorkerConfig {
        kafka: KafkaConfig {
            extra: args.topics.kafka_properties.clone(),
            ..KafkaConfig::new(args.brokers)
        },
        topology: args.topics.topology(),
        group_id: args.group,
        lake: Lake::in_data_dir(&args.data_dir),
        batch: BatchPolicy {
            max_rows: args.batch_rows,
            linger: std::time::Duration::from_millis(args.linger_ms),
            ..BatchPolicy::default()
        },
        broker_epoch: String::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let signal_stop = Arc::clone(&stop);
    runtime.spawn(async move {
        shutdown_signal().await;
        signal_stop.store(true, Ordering::Relaxed);
    });
    let metrics = Arc::new(ComponentMetrics::new("worker"));
    run_worker(config, runtime.handle().clone(), stop, metrics)?;
    Ok(ExitCode::SUCCESS)
}

async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let ctx = Lake::in_data_dir(&args.data_dir).session().await?;
    // The models' functions (amount patterns, the classic and v2 scores) are SQL too.
    verocta_models::anomaly::udf::register(&ctx, None);
    let batches = ctx.sql(&args.query).await?.collect().await?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut writer = verocta_lakehouse::json_lines_writer(&mut stdout);
        for batch in &batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    } else {
        writeln!(stdout, "{}", verocta_lakehouse::pretty_table(&batches)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn anomalies(args: AnomaliesArgs) -> anyhow::Result<ExitCode> {
    let mut job = verocta_pipelines::anomalies::AnomalyJob::in_data_dir(&args.data_dir);
    job.retrain = args.retrain;
    if let Some(json) = &args.config {
        job.config =
            serde_json::from_str(json).context("--config is not a valid anomaly configuration")?;
    }
    let mut producer = match &args.brokers {
        Some(brokers) => {
            let topology = Topology {
                prefix: args.topic_prefix.clone(),
                ..Topology::default()
            };
            Some(TransactionProducer::new(
                &KafkaConfig::new(brokers),
                &topology.alerts(),
            )?)
        }
        None => None,
    };
    let (summary, anomalies) = job.run(producer.as_mut()).await?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string(&summary)?)?;
        for anomaly in &anomalies {
            writeln!(stdout, "{}", serde_json::to_string(anomaly)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "{} anomalies in {} spend transactions of {} tenants ({:.1} s); models {}{}",
        summary.anomalies,
        summary.transactions,
        summary.tenants,
        summary.seconds,
        summary.model_version,
        if summary.trained {
            " (trained now)"
        } else {
            ""
        }
    )?;
    for (detector, count) in &summary.by_detector {
        writeln!(stdout, "  {detector}: {count}")?;
    }
    writeln!(
        stdout,
        "written to {}; query with: verocta sql \"SELECT * FROM anomalies ORDER BY score DESC LIMIT 20\"",
        job.lake
            .table_dir(verocta_pipelines::anomalies::ANOMALIES_TABLE)
            .display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn forecast(args: ForecastArgs) -> anyhow::Result<ExitCode> {
    let mut job = ForecastJob::in_data_dir(&args.data_dir);
    if let Some(json) = &args.config {
        job.config =
            serde_json::from_str(json).context("--config is not a valid forecast configuration")?;
    }
    let (run, forecasts) = job.run().await?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string(&run)?)?;
        for row in &forecasts {
            writeln!(stdout, "{}", serde_json::to_string(row)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "{} of {} series forecast ({} rows, {:.1} s); methods {:?}; {} of {} backtested series beat seasonal naive",
        run.forecast_series,
        run.series,
        run.rows,
        run.seconds,
        run.by_method,
        run.beat_baseline,
        run.backtested
    )?;
    writeln!(
        stdout,
        "written to {}; query with: verocta sql \"SELECT * FROM forecasts WHERE category = '' ORDER BY tenant_id, granularity, target_date\"",
        job.lake.table_dir(FORECASTS_TABLE).display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn scores(args: ScoresArgs) -> anyhow::Result<ExitCode> {
    let job = ScoreJob::in_data_dir(&args.data_dir);
    let mut producer = match &args.brokers {
        Some(brokers) => {
            let topology = Topology {
                prefix: args.topic_prefix.clone(),
                ..Topology::default()
            };
            Some(TransactionProducer::new(
                &KafkaConfig::new(brokers),
                &topology.scores(),
            )?)
        }
        None => None,
    };
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let (step, scores) = job.step(producer.as_mut()).await?;
        print_score_step(&step, &scores, args.json)?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            () = &mut signal => return Ok(ExitCode::SUCCESS),
            () = tokio::time::sleep(std::time::Duration::from_secs(args.interval_s)) => {}
        }
    }
}

fn print_score_step(
    step: &verocta_pipelines::scores::ScoreStep,
    scores: &[verocta_schemas::SpendScore],
    json: bool,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string(step)?)?;
        for score in scores {
            writeln!(stdout, "{}", serde_json::to_string(score)?)?;
        }
        return Ok(());
    }
    if step.from_version == step.to_version {
        writeln!(
            stdout,
            "spend scores are up to date (transactions version {:?})",
            step.to_version
        )?;
        return Ok(());
    }
    writeln!(
        stdout,
        "{} scores for {} tenants{} (transactions version {:?} → {:?}, {:.1} s)",
        step.scores,
        step.tenants,
        if step.full { ", all recomputed" } else { "" },
        step.from_version,
        step.to_version,
        step.seconds
    )?;
    for score in scores.iter().take(30) {
        writeln!(
            stdout,
            "  {} {:>3}d {} {:>3} {:<5} net spend {} {}",
            score.tenant_id,
            score.window_days,
            score.period_end,
            score.score,
            score.band,
            verocta_schemas::format_minor(
                i128::from(score.spend_minor),
                verocta_schemas::Currency::new(&score.currency).map_or(2, |c| c.minor_digits())
            ),
            score.currency
        )?;
        for metric in &score.metrics {
            writeln!(stdout, "      {}", metric.explanation)?;
        }
    }
    if scores.len() > 30 {
        writeln!(
            stdout,
            "  … and {} more: verocta sql \"SELECT * FROM spend_scores\"",
            scores.len() - 30
        )?;
    }
    Ok(())
}

async fn lake(args: LakeArgs) -> anyhow::Result<ExitCode> {
    let mut table = Lake::in_data_dir(&args.data_dir).transactions().await?;
    match args.action {
        LakeAction::Compact => println!("{}", table.compact().await?),
        LakeAction::Vacuum {
            retention_hours,
            dry_run,
            force,
        } => {
            let files = table.vacuum(retention_hours, dry_run, force).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!("{verb} {} files", files.len());
            for file in files {
                println!("  {file}");
            }
        }
        LakeAction::Checkpoint => {
            let checkpoint = table.checkpoint().await?;
            println!(
                "checkpoint written at version {}; {} expired log entries removed",
                checkpoint.version, checkpoint.log_entries_removed
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let rows = verocta_models::classic_rows_from_csv(&args.file)?;
    let score = verocta_models::score_classic(&rows);
    if args.json {
        println!("{}", serde_json::to_string(&score)?);
        return Ok(ExitCode::SUCCESS);
    }
    // `--classic` is required: files get the classic score; v2 is per tenant over the lake
    // (`verocta scores`).
    println!(
        "SpendScore (classic) {} — {} ({:?})",
        score.score, score.label, score.band
    );
    let m = &score.metrics;
    println!(
        "  frequency {:.2}, diversity {:.2}, budget {:.2}, redundancy {:.2}, spike {:.2}, waste {:.2}",
        m.frequency, m.diversity, m.budget, m.redundancy, m.spike, m.waste
    );
    Ok(ExitCode::SUCCESS)
}

fn write_readable(out: &mut impl Write, summary: &ImportSummary) -> std::io::Result<()> {
    let detected = &summary.detected;
    let order = match detected.date_order {
        Some(DateOrder::DayFirst) => "day-first dates",
        Some(DateOrder::MonthFirst) => "month-first dates",
        None => "unambiguous dates",
    };
    writeln!(
        out,
        "{} — {} ({:?}, '{}'-delimited, {order})",
        summary.file, summary.format, detected.encoding, detected.delimiter
    )?;
    writeln!(
        out,
        "  {} rows: {} transactions, {} excluded, {} rejected",
        summary.rows_read, summary.transactions, summary.excluded, summary.rejected_count
    )?;
    if let (Some(first), Some(last)) = (summary.first_date, summary.last_date) {
        writeln!(out, "  dates {first} to {last}")?;
    }
    for total in &summary.totals {
        writeln!(
            out,
            "  {}: spend {} × {}, credit {} × {}",
            total.currency, total.spend_count, total.spend, total.credit_count, total.credit
        )?;
    }
    for (reason, count) in &summary.excluded_by_reason {
        writeln!(out, "  excluded {reason}: {count}")?;
    }
    for rejection in &summary.rejected {
        let column = rejection
            .column
            .as_deref()
            .map(|c| format!(", column \"{c}\""))
            .unwrap_or_default();
        writeln!(
            out,
            "  rejected line {}{column}: {}",
            rejection.line, rejection.reason
        )?;
    }
    Ok(())
}
