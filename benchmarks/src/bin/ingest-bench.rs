//! Times the CSV connector on one file: `import_file_arrow`, its rows read and turned into
//! Arrow record batches (of up to 2,048 transactions) on one worker thread per core, up to four
//! (`--import-workers 1`: the calling thread alone); the batches are counted and dropped. Best
//! of `--repeat` runs; prints one JSON line (see `verocta_benchmarks::report`).
//!
//! Run one process per file so that the peak RSS it reports belongs to that file alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use verocta_benchmarks::report::{Measurement, peak_rss_mb};
use verocta_ingest::csv::{CsvImportConfig, RawImportOptions};

/// Benchmark the CSV connector on one file.
#[derive(Parser)]
struct Args {
    /// The CSV file.
    #[arg(long)]
    file: PathBuf,
    /// Runs; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Threads reading rows (1: the calling thread alone); one per core, up to four, by default.
    #[arg(long)]
    import_workers: Option<usize>,
}

/// One complete import: returns the rows that came out as Arrow.
fn import_to_arrow(path: &Path, config: &CsvImportConfig) -> anyhow::Result<u64> {
    let mut arrow_rows = 0u64;
    let summary = verocta_ingest::import_file_arrow(path, config, |batch| {
        arrow_rows += batch.num_rows() as u64;
    })
    .with_context(|| format!("cannot import {}", path.display()))?;
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
    let mut config = RawImportOptions {
        tenant: "bench".into(),
        ..Default::default()
    }
    .validate()?;
    if let Some(workers) = args.import_workers {
        config.parallelism.workers = workers.max(1);
    }
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
    let tool = format!("verocta workers={}", config.parallelism.workers);
    let measurement = Measurement::new(&tool, file_bytes, rows, seconds, peak_rss_mb());
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}
