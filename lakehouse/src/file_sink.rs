//! Parquet and NDJSON files of canonical transactions.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use verocta_schemas::arrow::{transaction_schema, transactions_from_batch};
use verocta_schemas::wire::encode_transaction;

/// Errors from writing transaction files.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The output path's extension names no known format (a user mistake).
    #[error("cannot tell the output format of {0}: use a .parquet, .ndjson or .jsonl file name")]
    UnknownFormat(String),
    /// File-system failure.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Parquet encoding failure.
    #[error("cannot write parquet {path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The encoder error.
        source: parquet::errors::ParquetError,
    },
    /// A batch that is not canonical transactions (an internal bug).
    #[error("batch does not match the transaction schema: {0}")]
    Schema(String),
}

/// Output file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// One JSON transaction per line.
    Ndjson,
}

impl FileFormat {
    /// The format named by a path's extension.
    pub fn from_path(path: &Path) -> Result<Self, SinkError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet") => Ok(FileFormat::Parquet),
            Some("ndjson" | "jsonl") => Ok(FileFormat::Ndjson),
            _ => Err(SinkError::UnknownFormat(path.display().to_string())),
        }
    }
}

enum Writer {
    Parquet(ArrowWriter<File>),
    Ndjson(BufWriter<File>),
}

/// Writes batches of transactions to one file, atomically.
pub struct TransactionFileSink {
    target: PathBuf,
    temporary: PathBuf,
    writer: Writer,
    rows: u64,
}

impl TransactionFileSink {
    /// Creates the sink; the format comes from the extension.
    pub fn create(target: &Path) -> Result<Self, SinkError> {
        let format = FileFormat::from_path(target)?;
        let io = |source| SinkError::Io {
            path: target.display().to_string(),
            source,
        };
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut temporary = target.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(temporary);
        let file = File::create(&temporary).map_err(io)?;
        let writer = match format {
            FileFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .build();
                let writer = ArrowWriter::try_new(file, transaction_schema(), Some(properties))
                    .map_err(|source| SinkError::Parquet {
                        path: target.display().to_string(),
                        source,
                    })?;
                Writer::Parquet(writer)
            }
            FileFormat::Ndjson => Writer::Ndjson(BufWriter::with_capacity(1 << 20, file)),
        };
        Ok(TransactionFileSink {
            target: target.to_path_buf(),
            temporary,
            writer,
            rows: 0,
        })
    }

    /// Appends one batch (schema: [`transaction_schema`]).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let path = self.target.display().to_string();
        match &mut self.writer {
            Writer::Parquet(writer) => writer
                .write(batch)
                .map_err(|source| SinkError::Parquet { path, source })?,
            Writer::Ndjson(writer) => {
                let transactions =
                    transactions_from_batch(batch).map_err(|e| SinkError::Schema(e.to_string()))?;
                for transaction in &transactions {
                    writer
                        .write_all(&encode_transaction(transaction))
                        .and_then(|()| writer.write_all(b"\n"))
                        .map_err(|source| SinkError::Io {
                            path: path.clone(),
                            source,
                        })?;
                }
            }
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes, syncs and renames the file into place. Returns the rows written.
    pub fn finish(self) -> Result<u64, SinkError> {
        let path = self.target.display().to_string();
        let io = |source| SinkError::Io {
            path: path.clone(),
            source,
        };
        let file = match self.writer {
            Writer::Parquet(writer) => {
                writer.into_inner().map_err(|source| SinkError::Parquet {
                    path: path.clone(),
                    source,
                })?
            }
            Writer::Ndjson(writer) => writer.into_inner().map_err(|e| io(e.into_error()))?,
        };
        file.sync_all().map_err(io)?;
        std::fs::rename(&self.temporary, &self.target).map_err(io)?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use verocta_schemas::arrow::transactions_to_batch;
    use verocta_schemas::*;

    fn transaction(i: u32) -> Transaction {
        let tenant = TenantId::new("acme").unwrap();
        Transaction {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
            tenant_id: tenant,
            source: SourceRef {
                kind: SourceKind::Csv,
                format: "generic".into(),
                name: "a.csv".into(),
                line: Some(u64::from(i)),
                external_id: None,
            },
            booked_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            booked_time: None,
            amount: Money::from_minor(i64::from(i) * 100, Currency::USD),
            original_amount: None,
            class: TransactionClass::Spend,
            exclusion: None,
            vendor_raw: Some("Acme".into()),
            vendor: Some("acme".into()),
            category_raw: None,
            category: Category::OfficeSupplies,
            account: None,
            memo: None,
            payment_method: None,
            card_last4: None,
            employee: None,
            department: None,
            ingested_at: Utc::now(),
        }
    }

    #[test]
    fn writes_parquet_and_ndjson_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let batch = transactions_to_batch(&(1..=10).map(transaction).collect::<Vec<_>>()).unwrap();
        for name in ["out/t.parquet", "out/t.ndjson"] {
            let target = dir.path().join(name);
            let mut sink = TransactionFileSink::create(&target).unwrap();
            sink.write(&batch).unwrap();
            assert!(
                !target.exists(),
                "nothing appears under the target name before finish"
            );
            assert_eq!(sink.finish().unwrap(), 10);
            assert!(target.exists());
        }
        let lines = std::fs::read_to_string(dir.path().join("out/t.ndjson")).unwrap();
        assert_eq!(lines.lines().count(), 10);
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(dir.path().join("out/t.parquet")).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 10);
        assert!(TransactionFileSink::create(&dir.path().join("t.csv")).is_err());
    }
}
