//! Times the CSV connector alone on one file, no Kafka: `import_file` (every transaction built
//! and dropped), `import_file_arrow` (`arrow`) or `import_file_encoded` (`json`: each
//! transaction as its Kafka payload; `transactions-json` is the way there before it: each
//! transaction built, then encoded on the calling thread). Prints rows/s on stderr; best of
//! three runs.
//!
//! Why it exists beside `benchmarks/`'s `ingest-bench`: that one needs a release build of
//! the whole workspace (DataFusion included, ~47 min cold on 2 cores), this one a release
//! build of `ingest` and `schemas` only (~1 min), so a profile of the connector is one
//! command away:
//!
//! ```sh
//! cargo build --release -p verocta-ingest --example parse_only
//! target/release/examples/parse_only FILE
//! perf record target/release/examples/parse_only FILE
//! ```

// The allocator the `verocta` binary and the benchmarks use.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::Path;
use std::time::Instant;

use verocta_ingest::csv::{Parallelism, RawImportOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: parse_only FILE [WORKERS] [arrow|json|transactions-json]")?;
    let parallelism = match args.next() {
        Some(workers) => Parallelism {
            workers: workers.parse()?,
            ..Parallelism::available()
        },
        None => Parallelism::available(),
    };
    let output = args.next().unwrap_or_default();
    let mut config = RawImportOptions {
        tenant: "bench".into(),
        ..Default::default()
    }
    .validate()?;
    config.parallelism = parallelism;
    let planned = Instant::now();
    verocta_ingest::csv::CsvSource::open(Path::new(&path), &config)?;
    eprintln!(
        "pass 1 (planning) alone: {:.3} s",
        planned.elapsed().as_secs_f64()
    );
    let mut best = f64::INFINITY;
    let mut rows = 0u64;
    for _ in 0..3 {
        let started = Instant::now();
        rows = 0;
        if output == "arrow" {
            verocta_ingest::import_file_arrow(Path::new(&path), &config, |batch| {
                rows += batch.num_rows() as u64;
                std::hint::black_box(batch);
            })?;
        } else if output == "json" {
            verocta_ingest::import_file_encoded(Path::new(&path), &config, |record| {
                rows += 1;
                std::hint::black_box(record);
            })?;
        } else if output == "transactions-json" {
            let mut buffer = Vec::with_capacity(1024);
            verocta_ingest::import_file(Path::new(&path), &config, |transaction| {
                rows += 1;
                buffer.clear();
                verocta_schemas::wire::encode_transaction_into(&transaction, &mut buffer);
                std::hint::black_box(&buffer);
            })?;
        } else {
            verocta_ingest::import_file(Path::new(&path), &config, |transaction| {
                rows += 1;
                std::hint::black_box(transaction);
            })?;
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    eprintln!(
        "{rows} transactions in {best:.3} s (best of 3): {:.0} rows/s",
        rows as f64 / best
    );
    Ok(())
}
