//! Connectors that turn customers' books into canonical [`verocta_schemas::Transaction`]s.
//!
//! Today: the CSV connector ([`csv`]), which reads exports from QuickBooks, Xero, Wave,
//! Revolut, Expensify, Brex, Ramp and generic bank or ledger files, detecting the layout,
//! encoding, delimiter, date order, decimal separator and sign convention itself.
//!
//! Guarantees:
//! - Streaming: a file is read in two passes with memory independent of its size; the second
//!   spreads over the cores and gives the same outcomes, in file order, as on one thread.
//! - Every row ends as exactly one outcome — a transaction (spend, credit, or excluded with a
//!   reason), a skipped report row with its reason, or a rejection with line, column and the
//!   fix — so nothing is dropped silently ([`summary::ImportSummary`] accounts for each).
//! - Money is exact; ids are deterministic, so re-importing a file yields the same ids.
//!
//! This crate does no network I/O: publishing to Kafka belongs to the pipelines.

pub mod csv;
pub mod error;
pub mod normalize;
pub mod summary;

pub use error::IngestError;
pub use summary::ImportSummary;

use std::path::Path;

/// Reads one file completely, handing each transaction to `emit` and returning the summary.
///
/// `emit` sees transactions of every class (spend, credit, excluded) in file order, on the
/// calling thread; skipped report rows and rejections are only counted in the summary. The
/// rows are read with `config.parallelism` threads, which changes nothing in the result.
pub fn import_file(
    path: &Path,
    config: &csv::CsvImportConfig,
    mut emit: impl FnMut(verocta_schemas::Transaction),
) -> Result<ImportSummary, IngestError> {
    summarise(path, config, |source, summary| {
        source.for_each_outcome(config.parallelism, |outcome| {
            summary.record(&outcome);
            if let csv::RowOutcome::Transaction(transaction) = outcome {
                emit(*transaction);
            }
        })
    })
}

/// Reads one file completely into Arrow record batches of the canonical transaction schema
/// ([`verocta_schemas::arrow::transaction_schema`]), handed to `emit` in file order, and
/// returns the summary. The batches hold exactly the transactions [`import_file`] gives; they
/// are built on the worker threads, so this is the faster way to Arrow.
pub fn import_file_arrow(
    path: &Path,
    config: &csv::CsvImportConfig,
    emit: impl FnMut(arrow_array::RecordBatch),
) -> Result<ImportSummary, IngestError> {
    summarise(path, config, |source, summary| {
        source.for_each_batch(config.parallelism, summary, emit)
    })
}

/// Reads one file completely, handing each transaction (spend, credit or excluded) to `emit`
/// as its wire record — byte for byte [`verocta_schemas::wire::encode_transaction`] of what
/// [`import_file`] gives, in the same order — and returns the summary. The records are encoded
/// on the worker threads, so this is the faster way to Kafka.
pub fn import_file_encoded(
    path: &Path,
    config: &csv::CsvImportConfig,
    emit: impl FnMut(&[u8]),
) -> Result<ImportSummary, IngestError> {
    summarise(path, config, |source, summary| {
        source.for_each_record(config.parallelism, summary, emit)
    })
}

/// Opens `path`, lets `read` read it completely into a fresh summary, and returns the summary
/// finished: the steps every `import_file*` shares.
fn summarise(
    path: &Path,
    config: &csv::CsvImportConfig,
    read: impl FnOnce(&csv::CsvSource, &mut ImportSummary) -> Result<(), IngestError>,
) -> Result<ImportSummary, IngestError> {
    let source = csv::CsvSource::open(path, config)?;
    let mut summary = ImportSummary::new(path.display().to_string(), source.plan().clone());
    read(&source, &mut summary)?;
    summary.finish();
    Ok(summary)
}
