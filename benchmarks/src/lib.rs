//! Whole-pipeline benchmarks for Verocta, each printing its comparison against a reference
//! tool measured in the same run.
//!
//! CSV ingest: [`generate`] writes a deterministic (fixed-seed) bank export in a
//! realistic layout — ~300 vendors, quoted descriptions with commas, grouped thousands,
//! three years of ISO dates, ~2% credits — and `ingest-bench` times the connector on it:
//! [`verocta_ingest::import_file`] (two streaming passes, full normalisation: layout, dates,
//! exact money, sign convention, classification, vendor, deterministic ids) with every
//! transaction pushed through [`verocta_pipelines::batch::TransactionBatcher`] into Arrow
//! record batches. `duckdb_read_csv.py` times DuckDB's `read_csv` of the same file into Arrow
//! record batches. Both report MB/s (10^6 bytes of file), rows/s and peak RSS, best of 3.
//!
//! Why single-thread: the connector reads a file on one thread (files are imported
//! concurrently, not split), so the fair yardstick is DuckDB with `SET threads=1`; DuckDB's
//! default thread count is printed next to it for reference. Peak RSS is measured per
//! process, one process per file size, to show that memory stays flat as files grow.
//!
//! End to end: `pipeline-bench` (helpers in [`pipeline`]) times the whole streaming path — the
//! same generated file imported through the lag-gated Kafka producer, consumed by the worker
//! threads of a [`verocta_pipelines::stack::Stack`] and committed to Delta Lake — with the
//! embedded broker or an external one, and measures produce→Delta-visible latency at a steady
//! rate. Run it with `bash benchmarks/run-pipeline.sh`.
//!
//! Run the ingest benchmark with `bash benchmarks/run-ingest.sh` from the workspace root: it
//! builds release, generates 10 MB and 100 MB files into `benchmarks/data/` (gitignored),
//! installs DuckDB from PyPI if missing, runs both tools and prints a Markdown table. These
//! benchmarks are not part of `cargo test`; only the generator's and helpers' unit tests are.

/// The allocator the `verocta` binary uses, so that peak RSS is measured as it runs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod anomaly_ledger;
pub mod generate;
pub mod pipeline;
pub mod report;
