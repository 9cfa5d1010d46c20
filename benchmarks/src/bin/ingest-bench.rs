//! Times the CSV connector on one file: `import_file` with every transaction pushed through
//! the `TransactionBatcher` into Arrow record batches, which are counted and dropped. Single
//! thread; best of `--repeat` runs; prints one JSON line (see `verocta_benchmarks::report`).
//!
//! Run one process per file so that the peak RSS it reports belongs to that file alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use verocta_benchmarks::report::{Measurement, peak_rss_mb};
use verocta_ingest::csv::{CsvImportConfig, RawImportOptions};
use verocta_pipelines::batch::{BatchPolicy, TransactionBatcher};

/// Benchmark the CSV connector on one file.
#[derive(Parser)]
struct Args {
    /// The CSV file.
    #[arg(long)]
    file: PathBuf,
    /// Runs; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

/// One complete import: returns the rows that came out as Arrow.
fn import_to_arrow(path: &Path, config: &CsvImportConfig) -> anyhow::Result<u64> {
    let mut batcher = TransactionBatcher::new(BatchPolicy::default());
    let mut arrow_rows = 0u64;
    let mut failure = None;
    let summary = verocta_ingest::import_file(path, config, |transaction| {
        match batcher.push(&transaction) {
            Ok(Some(batch)) => arrow_rows += batch.num_rows() as u64,
            Ok(None) => {}
            Err(error) => {
                failure.get_or_insert(error);
            }
        }
    })
    .with_context(|| format!("cannot import {}", path.display()))?;
    if let Some(error) = failure {
        bail!("arrow batch failed: {error}");
    }
    if let Some(batch) = batcher.flush()? {
        arrow_rows += batch.num_rows() as u64;
    }
    if summary.rejected_count > 0 {
        bail!(
            "{} rows rejected, first: {:?}",
            summary.rejected_count,
            summary.rejected.first()
        );
    }
    eprintln!(
        "layout {}: {} rows read, {} transactions, {} excluded, {} as arrow",
        summary.format, summary.rows_read, summary.transactions, summary.excluded, arrow_rows
    );
    Ok(arrow_rows)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file_bytes = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let config = RawImportOptions {
        tenant: "bench".into(),
        ..Default::default()
    }
    .validate()?;
    let mut best: Option<(f64, u64)> = None;
    for _ in 0..args.repeat.max(1) {
        let started = Instant::now();
        let rows = import_to_arrow(&args.file, &config)?;
        let seconds = started.elapsed().as_secs_f64();
        if best.is_none_or(|(fastest, _)| seconds < fastest) {
            best = Some((seconds, rows));
        }
    }
    let (seconds, rows) = best.expect("at least one run");
    let measurement = Measurement::new("verocta", file_bytes, rows, seconds, peak_rss_mb());
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}
