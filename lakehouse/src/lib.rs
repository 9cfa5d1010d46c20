//! Storage for canonical records.
//!
//! - [`delta`]: the Delta Lake tables under `DATA_DIR/lake/<table>` (the system of record),
//!   appended with exactly-once offset tracking, queried with DataFusion, and maintained
//!   (compact, vacuum, checkpoint).
//! - [`local_store`]: the object store the transactions writer's table uses, which does its
//!   small file operations on the committing thread instead of tokio's blocking pool.
//! - [`file_sink`]: the files `verocta import --out` writes when no broker is involved:
//! Parquet (the Arrow schema of [`verocta_schemas::arrow::transaction_schema`], readable by
//! DuckDB, Spark, pandas and any Delta reader's Parquet layer) or newline-delimited JSON (the
//! wire encoding). Delta Lake tables and the ClickHouse sink are added here by the streaming
//! and serving work; they share the same batch-in, durable-on-`finish` contract.
//!
//! Guarantee: a file sink writes to a temporary file beside the target and renames it into
//! place on [`TransactionFileSink::finish`], so a crash never leaves a half-written file under
//! the target name.

pub mod clickhouse;
pub mod delta;
pub mod file_sink;
pub mod id_index;
pub mod local_store;

pub use delta::{
    AppendOutcome, Checkpoint, Lake, LakeError, TRANSACTIONS_TABLE, TransactionsTable,
};
pub use file_sink::{FileFormat, SinkError, TransactionFileSink};

/// A text column of a query result as strings (nulls as ""), whatever string type the reader
/// chose (Delta reads may give Utf8View).
pub fn text_column(
    batch: &arrow_array::RecordBatch,
    index: usize,
) -> Result<Vec<String>, arrow_schema::ArrowError> {
    use arrow_array::Array;
    let column =
        deltalake::arrow::compute::cast(batch.column(index), &arrow_schema::DataType::Utf8)?;
    let strings = column
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .ok_or_else(|| arrow_schema::ArrowError::CastError("not text".into()))?;
    Ok((0..strings.len())
        .map(|i| {
            if strings.is_null(i) {
                String::new()
            } else {
                strings.value(i).to_string()
            }
        })
        .collect())
}

/// Renders query results as a text table.
pub fn pretty_table(
    batches: &[arrow_array::RecordBatch],
) -> Result<String, arrow_schema::ArrowError> {
    Ok(deltalake::arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

/// A writer of query results as JSON lines (one object per row).
pub fn json_lines_writer<W: std::io::Write>(
    writer: W,
) -> deltalake::arrow::json::LineDelimitedWriter<W> {
    deltalake::arrow::json::LineDelimitedWriter::new(writer)
}
