//! Writes a deterministic bank export of about the requested size (see
//! `verocta_benchmarks::generate` for its layout).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use verocta_benchmarks::generate::{DEFAULT_SEED, ExportSpec, write_export};
use verocta_benchmarks::report::MB;

/// Generate a realistic bank export CSV for the ingest benchmark.
#[derive(Parser)]
struct Args {
    /// Target size in MB (10^6 bytes); the file ends with the first row past it.
    #[arg(long)]
    size_mb: f64,
    /// Where to write the CSV.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the random stream; the default makes every run produce the same file.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.size_mb > 0.0, "--size-mb must be positive");
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file =
        File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let spec = ExportSpec {
        seed: args.seed,
        target_bytes: (args.size_mb * MB) as u64,
    };
    let stats = write_export(BufWriter::with_capacity(1 << 20, file), spec)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} rows, {} bytes to {}",
        stats.rows,
        stats.bytes,
        args.out.display()
    );
    Ok(())
}
