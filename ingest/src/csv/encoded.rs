//! Pass 2 straight to the wire: each transaction as its JSON record (the Kafka payload),
//! encoded on the worker threads.
//!
//! Why: on the way to Kafka every row used to become an owned transaction on a worker (a
//! dozen heap strings), travel to the caller's thread, and be encoded there, one at a time, by
//! the thread that also hands records to the producer. Here each worker encodes its chunk's
//! rows straight from their borrowed views into one buffer and counts its chunk's outcomes;
//! the caller's thread merges the counts and numbers identical rows in file order, overwriting
//! the id in place (ids have a fixed length) only for the rare row that is a repeat. The
//! records are byte for byte [`verocta_schemas::wire::encode_transaction`] of the transactions
//! [`CsvSource::for_each_outcome`] gives, in the same order.

use std::ops::Range;
use std::sync::Mutex;

use verocta_schemas::view::TransactionView;
use verocta_schemas::wire::encode_view_into;

use super::parallel::{Parallelism, map_chunks};
use super::source::{CsvSource, Occurrences, RowIdentity, RowRead, RowReader};
use crate::{ImportSummary, IngestError};

/// The length of a transaction id's text (`tx_` and 32 hex digits).
const ID_LEN: usize = 35;

/// One chunk's transactions as wire records, from a worker.
struct EncodedChunk {
    /// The records, one after another.
    bytes: Vec<u8>,
    records: Vec<EncodedRecord>,
    /// The rows' own ids, for the records whose identity is not the row's content.
    own_ids: String,
    /// The chunk's outcomes, counted.
    summary: ImportSummary,
}

/// One transaction of an [`EncodedChunk`].
struct EncodedRecord {
    /// Its wire record's range in the chunk's bytes.
    bytes: Range<usize>,
    /// Where its id's text starts in the chunk's bytes.
    id_at: usize,
    /// What [`Occurrences`] needs of it.
    identity: RowIdentity,
    /// Its own id's range in the chunk's `own_ids` (empty when its identity is its content).
    own_id: Range<usize>,
}

impl EncodedChunk {
    /// An empty chunk for `source`, reusing a spent chunk's buffers when there is one.
    fn new(source: &CsvSource, spent: &Mutex<Vec<Buffers>>) -> Self {
        let buffers = spent
            .lock()
            .ok()
            .and_then(|mut spent| spent.pop())
            .unwrap_or_default();
        EncodedChunk {
            bytes: buffers.bytes,
            records: buffers.records,
            own_ids: buffers.own_ids,
            summary: ImportSummary::new(String::new(), source.plan().clone()),
        }
    }

    /// The chunk's counts, and its buffers emptied for the next chunk.
    fn into_parts(self) -> (ImportSummary, Buffers) {
        let EncodedChunk {
            mut bytes,
            mut records,
            mut own_ids,
            summary,
        } = self;
        bytes.clear();
        records.clear();
        own_ids.clear();
        let buffers = Buffers {
            bytes,
            records,
            own_ids,
        };
        (summary, buffers)
    }

    /// Encodes a transaction row and keeps what [`Occurrences`] needs of it.
    fn push(&mut self, view: &TransactionView<'_>, identity: RowIdentity) {
        let start = self.bytes.len();
        let id_at = encode(view, &mut self.bytes);
        let own_id = match (&identity.content, &view.source.external_id) {
            (None, Some(own)) => {
                let at = self.own_ids.len();
                self.own_ids.push_str(own);
                at..self.own_ids.len()
            }
            _ => 0..0,
        };
        self.records.push(EncodedRecord {
            bytes: start..self.bytes.len(),
            id_at,
            identity,
            own_id,
        });
    }

    /// Gives the second and later of identical rows their own ids, counting every transaction
    /// row in file order.
    fn renumber(&mut self, occurrences: &mut Occurrences<'_>) {
        for record in &self.records {
            let own_id = &self.own_ids[record.own_id.clone()];
            if let Some(id) = occurrences.repeat_id(&record.identity, Some(own_id)) {
                self.bytes[record.id_at..record.id_at + ID_LEN]
                    .copy_from_slice(id.as_str().as_bytes());
            }
        }
    }

    fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.records
            .iter()
            .map(|record| &self.bytes[record.bytes.clone()])
    }
}

/// A spent chunk's buffers. Why: a chunk's records are over a megabyte, and growing fresh
/// buffers to that size for every chunk (each doubling a copy) was 4% of the import's
/// instructions.
#[derive(Default)]
struct Buffers {
    bytes: Vec<u8>,
    records: Vec<EncodedRecord>,
    own_ids: String,
}

/// A view's record appended to `out`; returns where its id's text starts.
fn encode(view: &TransactionView<'_>, out: &mut Vec<u8>) -> usize {
    encode_view_into(view, out).expect("a row's tenant is validated and its id derived")
}

impl CsvSource {
    /// Reads the rows (second pass), handing each transaction (spend, credit or excluded) to
    /// `each` as its wire record, in file order, and counts every outcome into `summary`.
    pub fn for_each_record(
        &self,
        parallelism: Parallelism,
        summary: &mut ImportSummary,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), IngestError> {
        if !self.reads_in_parallel(parallelism) {
            return self.records_on_this_thread(summary, each);
        }
        let mut occurrences = Occurrences::new(self);
        // At most as many as chunks in flight: each comes back before another is taken.
        let spent = Mutex::new(Vec::new());
        map_chunks(
            self.records()?,
            parallelism,
            self.path(),
            || RowReader::new(self),
            |rows, chunk| {
                let mut encoded = EncodedChunk::new(self, &spent);
                for (record, line) in chunk.records() {
                    match rows.read(record, line) {
                        RowRead::Transaction(view, identity) => {
                            encoded.summary.count_transaction(&view);
                            encoded.push(&view, identity);
                        }
                        RowRead::Other(outcome) => encoded.summary.record(&outcome),
                    }
                }
                encoded
            },
            |mut chunk| {
                chunk.renumber(&mut occurrences);
                chunk.records().for_each(&mut each);
                let (counted, buffers) = chunk.into_parts();
                summary.merge(counted);
                if let Ok(mut spent) = spent.lock() {
                    spent.push(buffers);
                }
            },
        )
    }

    /// [`Self::for_each_record`] on the calling thread, from [`Self::rows`] (which numbers
    /// identical rows as it reads them).
    fn records_on_this_thread(
        &self,
        summary: &mut ImportSummary,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), IngestError> {
        let mut buffer = Vec::with_capacity(1024);
        let mut rows = self.rows()?;
        while let Some(read) = rows.next_read() {
            match read? {
                RowRead::Transaction(view, _) => {
                    summary.count_transaction(&view);
                    buffer.clear();
                    encode(&view, &mut buffer);
                    each(&buffer);
                }
                RowRead::Other(outcome) => summary.record(&outcome),
            }
        }
        Ok(())
    }
}
