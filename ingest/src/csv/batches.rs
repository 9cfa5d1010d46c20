//! Pass 2 straight to Arrow: record batches of the canonical transaction schema, built on the
//! worker threads.
//!
//! Why: turning transactions into Arrow column by column is a third of the work of a CSV → Arrow
//! import; done on the caller's thread after the workers (as [`CsvSource::for_each_outcome`]
//! hands transactions over one by one), it is the bottleneck. Here each worker appends its
//! chunk's rows to its own builder, straight from each row's borrowed view (no owned
//! transaction, whose dozen strings would only be copied again), and counts its chunk's
//! outcomes; the caller's
//! thread merges the counts and numbers identical rows in file order, rewriting the id column
//! of a batch only for the rare row that is a repeat. The batches hold exactly the
//! transactions [`CsvSource::for_each_outcome`] gives, in the same order.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, builder::StringBuilder};
use arrow_schema::ArrowError;
use verocta_schemas::arrow::TransactionBatchBuilder;

use super::parallel::{Parallelism, map_chunks};
use super::source::{CsvSource, Occurrences, RowIdentity, RowRead, RowReader};
use crate::{ImportSummary, IngestError};

/// One chunk's work, from a worker.
struct ChunkBatch {
    batch: Result<RecordBatch, ArrowError>,
    summary: ImportSummary,
    /// Each transaction row's identity, by its row in `batch`.
    identities: Vec<(usize, RowIdentity)>,
}

impl CsvSource {
    /// Reads the rows (second pass) into Arrow record batches of at most
    /// `parallelism.chunk_rows` transactions, handed to `each` in file order, and counts every
    /// outcome into `summary`.
    pub fn for_each_batch(
        &self,
        parallelism: Parallelism,
        summary: &mut ImportSummary,
        mut each: impl FnMut(RecordBatch),
    ) -> Result<(), IngestError> {
        if !self.reads_in_parallel(parallelism) {
            return self.batches_on_this_thread(parallelism, summary, each);
        }
        let mut occurrences = Occurrences::new(self);
        let mut failure = None;
        map_chunks(
            self.records()?,
            parallelism,
            self.path(),
            || {
                let rows = RowReader::new(self);
                let builder = TransactionBatchBuilder::with_capacity(parallelism.chunk_rows);
                (rows, builder)
            },
            |(rows, builder), chunk| {
                let mut summary = ImportSummary::new(String::new(), self.plan().clone());
                let mut identities = Vec::new();
                for (record, line) in chunk.records() {
                    if let Some(identity) = add_row(rows.read(record, line), &mut summary, builder)
                    {
                        identities.push((builder.len() - 1, identity));
                    }
                }
                ChunkBatch {
                    batch: builder.finish(),
                    summary,
                    identities,
                }
            },
            |chunk| {
                if failure.is_some() {
                    return;
                }
                summary.merge(chunk.summary);
                let repeats: Vec<(usize, u32, Option<String>)> = chunk
                    .identities
                    .into_iter()
                    .filter_map(|(row, identity)| {
                        let occurrence = occurrences.count(&identity);
                        (occurrence > 0).then_some((row, occurrence, identity.content))
                    })
                    .collect();
                match chunk
                    .batch
                    .and_then(|batch| renumber(batch, &repeats, &occurrences))
                {
                    Ok(batch) if batch.num_rows() > 0 => each(batch),
                    Ok(_) => {}
                    Err(error) => failure = Some(self.arrow_error(error)),
                }
            },
        )?;
        failure.map_or(Ok(()), Err)
    }

    /// [`Self::for_each_batch`] on the calling thread, from [`Self::rows`].
    fn batches_on_this_thread(
        &self,
        parallelism: Parallelism,
        summary: &mut ImportSummary,
        mut each: impl FnMut(RecordBatch),
    ) -> Result<(), IngestError> {
        let batch_rows = parallelism.chunk_rows.max(1);
        let mut builder = TransactionBatchBuilder::with_capacity(batch_rows);
        let mut rows = self.rows()?;
        let mut read_error = None;
        while let Some(read) = rows.next_read() {
            match read {
                Ok(read) => {
                    add_row(read, summary, &mut builder);
                }
                Err(error) => {
                    read_error = Some(error);
                    break;
                }
            }
            if builder.len() == batch_rows {
                each(builder.finish().map_err(|e| self.arrow_error(e))?);
            }
        }
        // The rows before a read error are handed on, as the workers' path does.
        if !builder.is_empty() {
            each(builder.finish().map_err(|e| self.arrow_error(e))?);
        }
        read_error.map_or(Ok(()), Err)
    }

    fn arrow_error(&self, source: ArrowError) -> IngestError {
        IngestError::Arrow {
            path: self.path().display().to_string(),
            source,
        }
    }
}

/// Counts `read` into `summary` and, when it is a transaction, appends it to `builder` and
/// returns what [`Occurrences`] needs of it.
// Inlined so that the row's view (~500 bytes) is not moved into a call frame for every row.
#[inline(always)]
fn add_row(
    read: RowRead<'_>,
    summary: &mut ImportSummary,
    builder: &mut TransactionBatchBuilder,
) -> Option<RowIdentity> {
    match read {
        RowRead::Transaction(view, identity) => {
            summary.count_transaction(&view);
            builder.append_view(&view);
            Some(identity)
        }
        RowRead::Other(outcome) => {
            summary.record(&outcome);
            None
        }
    }
}

/// `batch` with the ids of repeated rows (`row`, occurrence, content identity) renumbered;
/// a row without a content identity is identified by its own id, the `external_id` column.
fn renumber(
    batch: RecordBatch,
    repeats: &[(usize, u32, Option<String>)],
    occurrences: &Occurrences<'_>,
) -> Result<RecordBatch, ArrowError> {
    if repeats.is_empty() {
        return Ok(batch);
    }
    let schema = batch.schema();
    let id_column = schema.index_of("transaction_id")?;
    let ids = batch.column(id_column).as_string::<i32>();
    let external = batch
        .column(schema.index_of("external_id")?)
        .as_string::<i32>();
    let mut renumbered = StringBuilder::with_capacity(ids.len(), ids.value_data().len());
    let mut repeats = repeats.iter().peekable();
    for row in 0..ids.len() {
        match repeats.next_if(|(repeat, _, _)| *repeat == row) {
            Some((_, occurrence, content)) => {
                let own_id = external.is_valid(row).then(|| external.value(row));
                let text = content.as_deref().or(own_id).unwrap_or_default();
                renumbered.append_value(occurrences.renumbered(text, *occurrence).as_str());
            }
            None => renumbered.append_value(ids.value(row)),
        }
    }
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[id_column] = Arc::new(renumbered.finish());
    RecordBatch::try_new(schema, columns)
}
