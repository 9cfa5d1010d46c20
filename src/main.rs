//! The `verocta` command line: parses arguments, sets up logging, and calls the crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use verocta_ingest::ImportSummary;
use verocta_ingest::csv::amount::DecimalSeparator;
use verocta_ingest::csv::date::DateOrder;
use verocta_ingest::csv::layout::AmountSign;
use verocta_ingest::csv::{ColumnMapping, RawImportOptions};
use verocta_lakehouse::TransactionFileSink;
use verocta_pipelines::batch::BatchPolicy;
use verocta_pipelines::import::{FileOutcome, import_files};

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
    /// Print the JSON Schema of the canonical transaction.
    Schema,
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
    /// Write the transactions to this .parquet or .ndjson file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The export files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
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
        Command::Schema => {
            print!("{}", verocta_schemas::wire::transaction_json_schema());
            Ok(ExitCode::SUCCESS)
        }
    }
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
    let config = RawImportOptions {
        tenant: args.tenant,
        format: Some(args.format),
        date_order,
        currency: args.currency,
        mapping,
        amount_sign: args.amount_sign.map(|s| match s {
            SignArg::SpendPositive => AmountSign::SpendPositive,
            SignArg::SpendNegative => AmountSign::SpendNegative,
        }),
        decimal: args.decimal_comma.then_some(DecimalSeparator::Comma),
    }
    .validate()?;
    let mut sink = match (&args.out, args.dry_run) {
        (_, true) => None,
        (Some(out), false) => Some(TransactionFileSink::create(out)?),
        (None, false) => anyhow::bail!(
            "nowhere to send the transactions: pass --out FILE.parquet (or .ndjson), or --dry-run to only check the files"
        ),
    };
    let outcomes = import_files(&args.files, &config, sink.as_mut(), BatchPolicy::default())?;
    if let Some(sink) = sink {
        let rows = sink.finish()?;
        if let Some(out) = &args.out {
            eprintln!("wrote {rows} transactions to {}", out.display());
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for outcome in &outcomes {
        match outcome {
            FileOutcome::Imported(summary) if args.json => {
                writeln!(stdout, "{}", serde_json::to_string(summary)?)?;
            }
            FileOutcome::Imported(summary) => write_readable(&mut stdout, summary)?,
            FileOutcome::Failed { file, error } => {
                failed = true;
                eprintln!("error: {error}");
                if args.json {
                    let line = serde_json::json!({ "file": file, "error": error.to_string() });
                    writeln!(stdout, "{line}")?;
                }
            }
        }
    }
    stdout.flush().context("writing the summary")?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
