//! Times the CSV connector alone: `import_file` on one file, every transaction built and
//! dropped, no Arrow and no Kafka. Prints rows/s on stderr; best of three runs.
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

use std::path::Path;
use std::time::Instant;

use verocta_ingest::csv::RawImportOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: parse_only FILE")?;
    let config = RawImportOptions {
        tenant: "bench".into(),
        ..Default::default()
    }
    .validate()?;
    let mut best = f64::INFINITY;
    let mut rows = 0u64;
    for _ in 0..3 {
        let started = Instant::now();
        rows = 0;
        verocta_ingest::import_file(Path::new(&path), &config, |transaction| {
            rows += 1;
            std::hint::black_box(transaction);
        })?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    eprintln!(
        "{rows} transactions in {best:.3} s (best of 3): {:.0} rows/s",
        rows as f64 / best
    );
    Ok(())
}
