//! The batch import job: files → CSV connector → a destination: the Kafka producer (the normal
//! path), a Parquet/NDJSON file, or nowhere (a dry run).
//!
//! Each file is independent: a file that cannot be read is reported and the others still
//! import, and whatever was written for earlier files stays written. Transaction ids are
//! deterministic, so re-running an import after a failure duplicates nothing downstream.

use std::path::PathBuf;

use verocta_ingest::csv::CsvImportConfig;
use verocta_ingest::{ImportSummary, IngestError};
use verocta_lakehouse::{SinkError, TransactionFileSink};

use crate::kafka::KafkaError;
use crate::kafka::producer::TransactionProducer;

/// Where imported transactions go.
pub enum Destination<'a> {
    /// Publish to Kafka (flushed and checked for delivery at the end).
    Kafka(&'a mut TransactionProducer),
    /// Write to a file.
    File(&'a mut TransactionFileSink),
    /// Nowhere: only the summaries.
    DryRun,
}

/// Failures that stop the whole job (the sink cannot take data).
#[derive(Debug, thiserror::Error)]
pub enum ImportJobError {
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Publishing failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// What happened to one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// Read to the end (possibly with rejected rows, listed in the summary).
    Imported(ImportSummary),
    /// Could not be read at all.
    Failed {
        /// The file.
        file: String,
        /// Why, with the fix.
        error: IngestError,
    },
}

/// Imports `files` in order into `destination`. Returns one outcome per file.
///
/// A file destination takes record batches built on the connector's worker threads
/// ([`verocta_ingest::import_file_arrow`]); Kafka takes wire records encoded there
/// ([`verocta_ingest::import_file_encoded`]), one by one, in file order.
pub fn import_files(
    files: &[PathBuf],
    config: &CsvImportConfig,
    mut destination: Destination<'_>,
) -> Result<Vec<FileOutcome>, ImportJobError> {
    let mut outcomes = Vec::with_capacity(files.len());
    for file in files {
        let span =
            tracing::info_span!("import_file", tenant_id = %config.tenant, file = %file.display());
        let _entered = span.enter();
        let mut job_error = None;
        let result = match &mut destination {
            Destination::File(sink) => verocta_ingest::import_file_arrow(file, config, |batch| {
                if job_error.is_none() {
                    job_error = sink.write(&batch).map_err(ImportJobError::from).err();
                }
            }),
            Destination::Kafka(producer) => {
                verocta_ingest::import_file_encoded(file, config, |record| {
                    if job_error.is_none() {
                        job_error = producer
                            .send_encoded(&config.tenant, record)
                            .map_err(ImportJobError::from)
                            .err();
                    }
                })
            }
            // The cheapest full read: the same summary, no transaction built one by one.
            Destination::DryRun => verocta_ingest::import_file_arrow(file, config, |_| {}),
        };
        if let Some(error) = job_error {
            return Err(error);
        }
        match result {
            Ok(summary) => {
                tracing::info!(
                    rows = summary.rows_read,
                    transactions = summary.transactions,
                    rejected = summary.rejected_count,
                    excluded = summary.excluded,
                    "file imported"
                );
                outcomes.push(FileOutcome::Imported(summary));
            }
            Err(error) => {
                tracing::warn!(%error, "file not imported");
                outcomes.push(FileOutcome::Failed {
                    file: file.display().to_string(),
                    error,
                });
            }
        }
        // Flush per file so a later file's failure never holds back an earlier file's rows.
        if let Destination::Kafka(producer) = &mut destination {
            producer.flush(std::time::Duration::from_secs(120))?;
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verocta_ingest::csv::{Parallelism, RawImportOptions};

    #[test]
    fn imports_good_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        std::fs::write(&good, "Date,Description,Amount\n2024-01-02,Coffee,-3.50\n2024-01-03,Refund,1.00\n2024-01-04,Tea,-2.00\n").unwrap();
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "\n").unwrap();
        let mut config = RawImportOptions {
            tenant: "acme".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        // Two-row batches from two workers, so that the sink takes several.
        config.parallelism = Parallelism {
            workers: 2,
            chunk_rows: 2,
        };
        let target = dir.path().join("out.ndjson");
        let mut sink = TransactionFileSink::create(&target).unwrap();
        let outcomes = import_files(&[good, empty], &config, Destination::File(&mut sink)).unwrap();
        assert_eq!(sink.finish().unwrap(), 3);
        assert!(matches!(&outcomes[0], FileOutcome::Imported(s) if s.transactions == 3));
        assert!(matches!(
            &outcomes[1],
            FileOutcome::Failed {
                error: IngestError::Empty { .. },
                ..
            }
        ));
        assert_eq!(std::fs::read_to_string(target).unwrap().lines().count(), 3);
    }
}
