//! Both passes on several threads, with the same plan and the same outcomes in the same order
//! as on one ([`Rows`]).
//!
//! One thread splits the file into records (CSV quoting makes that inherently sequential, and
//! it is the cheap part), workers map chunks of records — in pass 1 to evidence about the
//! file's conventions, in pass 2 to outcomes (dates, money, classification, vendor and
//! category normalisation, ids: nearly all of the work) — and the caller's thread takes the
//! chunks back in file order: it merges the evidence, and counts identical rows, the one step
//! of pass 2 that needs every row above ([`Occurrences`]). Chunks go to the workers in turn and
//! come back in the same turn, so order needs no reordering buffer; every queue is bounded,
//! so memory stays flat in file size and a slow caller slows the reader instead of buffering.
//!
//! A file with a row of exactly one non-empty cell (a possible report section heading, which
//! names the account of the rows below it) is read on the calling thread instead.
//!
//! [`Rows`]: super::Rows

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread;

use csv::StringRecord;

use super::source::{
    CsvReader, CsvSource, Occurrences, PendingOutcome, RowOutcome, RowReader, is_blank,
};
use crate::IngestError;

/// How pass 2 spreads over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads turning records into outcomes; 1 reads on the calling thread alone.
    pub workers: usize,
    /// Records per chunk handed to a worker.
    pub chunk_rows: usize,
}

/// Records per chunk by default: large enough that handing chunks between threads costs
/// nothing measurable, small enough that the chunks in flight stay a few megabytes.
const CHUNK_ROWS: usize = 2048;

/// Most workers used by [`Parallelism::available`]: beyond this the reader thread and the
/// caller's emit are the bottleneck.
const MAX_WORKERS: usize = 4;

impl Parallelism {
    /// One worker per core, up to four.
    pub fn available() -> Self {
        let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Parallelism {
            workers: cores.min(MAX_WORKERS),
            chunk_rows: CHUNK_ROWS,
        }
    }

    /// Everything on the calling thread.
    pub fn sequential() -> Self {
        Parallelism {
            workers: 1,
            chunk_rows: CHUNK_ROWS,
        }
    }
}

/// Records read by the splitting thread, for one worker.
#[derive(Default)]
pub(crate) struct Chunk {
    /// Reused across chunks: only the first `len` are this chunk's.
    records: Vec<StringRecord>,
    lines: Vec<u64>,
    len: usize,
    /// The read error that ended the file after this chunk's records.
    error: Option<IngestError>,
}

impl Chunk {
    /// The chunk's records, each with the line it starts on.
    pub(crate) fn records(&self) -> impl Iterator<Item = (&StringRecord, u64)> {
        self.records[..self.len]
            .iter()
            .zip(self.lines.iter().copied())
    }
}

impl CsvSource {
    /// Reads the rows (second pass), handing each outcome to `each` in file order: on the
    /// calling thread, or with `parallelism.workers` threads when the file is large enough to
    /// gain and holds no report sections. The outcomes are the same either way.
    pub fn for_each_outcome(
        &self,
        parallelism: Parallelism,
        mut each: impl FnMut(RowOutcome),
    ) -> Result<(), IngestError> {
        if !self.reads_in_parallel(parallelism) {
            for outcome in self.rows()? {
                each(outcome?);
            }
            return Ok(());
        }
        let mut occurrences = Occurrences::new(self);
        map_chunks(
            self.records()?,
            parallelism,
            self.path(),
            || RowReader::new(self),
            |rows, chunk| {
                chunk
                    .records()
                    .map(|(record, line)| rows.outcome(record, line))
                    .collect::<Vec<PendingOutcome>>()
            },
            |outcomes| {
                for pending in outcomes {
                    each(occurrences.settle(pending));
                }
            },
        )
    }

    /// Whether pass 2 goes to worker threads: with more than one worker, a file larger than
    /// one chunk, and no report sections.
    pub(crate) fn reads_in_parallel(&self, parallelism: Parallelism) -> bool {
        let worth_it = self.plan().records > parallelism.chunk_rows as u64;
        parallelism.workers > 1 && worth_it && !self.plan().single_cell_rows
    }
}

/// Reads `reader`'s non-blank records in chunks on one thread, maps each chunk on
/// `parallelism.workers` threads (each with its own `state()`), and hands the results to
/// `each` on the calling thread in file order. A read error ends it after the records before
/// the error are handed on.
pub(crate) fn map_chunks<S, T: Send>(
    reader: CsvReader,
    parallelism: Parallelism,
    path: &Path,
    state: impl Fn() -> S + Sync,
    map: impl Fn(&mut S, &Chunk) -> T + Sync,
    mut each: impl FnMut(T),
) -> Result<(), IngestError> {
    let workers = parallelism.workers.max(1);
    let chunk_rows = parallelism.chunk_rows.max(1);
    let (state, map) = (&state, &map);
    thread::scope(|scope| {
        let (recycled_tx, recycled_rx) = mpsc::channel();
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        for _ in 0..workers {
            let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(1);
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            scope.spawn(move || work(chunk_rx, done_tx, state(), map));
            to_workers.push(chunk_tx);
            from_workers.push(done_rx);
        }
        scope.spawn(move || split(reader, chunk_rows, path, to_workers, recycled_rx));
        collect(&from_workers, &recycled_tx, &mut each)
    })
}

/// The splitting thread: reads records into chunks and deals them to the workers in turn.
fn split(
    mut reader: CsvReader,
    chunk_rows: usize,
    path: &Path,
    workers: Vec<SyncSender<Chunk>>,
    recycled: Receiver<Chunk>,
) {
    for worker in workers.iter().cycle() {
        let mut chunk = recycled.try_recv().unwrap_or_default();
        chunk.len = 0;
        chunk.error = None;
        let mut ended = false;
        while chunk.len < chunk_rows {
            if chunk.records.len() == chunk.len {
                chunk.records.push(StringRecord::new());
                chunk.lines.push(0);
            }
            let record = &mut chunk.records[chunk.len];
            match reader.read_record(record) {
                Ok(false) => {
                    ended = true;
                    break;
                }
                Ok(true) if is_blank(record) => {}
                Ok(true) => {
                    chunk.lines[chunk.len] = reader.record_line();
                    chunk.len += 1;
                }
                Err(source) => {
                    chunk.error = Some(IngestError::Csv {
                        path: path.display().to_string(),
                        source,
                    });
                    ended = true;
                    break;
                }
            }
        }
        // A send fails only when the caller stopped early; there is no one left to read for.
        if worker.send(chunk).is_err() || ended {
            return;
        }
    }
}

/// A worker: maps each chunk with its own state.
fn work<S, T>(
    chunks: Receiver<Chunk>,
    done: SyncSender<(Chunk, T)>,
    mut state: S,
    map: &impl Fn(&mut S, &Chunk) -> T,
) {
    for chunk in chunks {
        let mapped = map(&mut state, &chunk);
        if done.send((chunk, mapped)).is_err() {
            return;
        }
    }
}

/// The caller's side: results in the order the chunks were dealt. Returns when the splitter
/// has dealt its last chunk (every worker's queue then closes) or at the first read error,
/// after the chunk that ends with it.
fn collect<T>(
    workers: &[Receiver<(Chunk, T)>],
    recycled: &Sender<Chunk>,
    each: &mut impl FnMut(T),
) -> Result<(), IngestError> {
    for worker in workers.iter().cycle() {
        let Ok((mut chunk, mapped)) = worker.recv() else {
            return Ok(());
        };
        each(mapped);
        if let Some(error) = chunk.error.take() {
            return Err(error);
        }
        // The splitter may have finished already; then the chunk is simply dropped.
        let _ = recycled.send(chunk);
    }
    Ok(())
}
