//! Both passes on several threads, with the same plan and the same outcomes in the same order
//! as on one ([`Rows`]).
//!
//! One thread splits the file into records (CSV quoting makes that inherently sequential, and
//! it is the cheap part), workers map chunks of records — in pass 1 to evidence about the
//! file's conventions, in pass 2 to outcomes (dates, money, classification, vendor and
//! category normalisation, ids: nearly all of the work) — and the caller's thread takes the
//! chunks back in file order: it merges the evidence, and counts identical rows, the one step
//! of pass 2 that needs every row above ([`Occurrences`]). Workers take chunks from one queue as
//! they become free, and the caller puts the results back in file order; the number of chunks
//! in existence is bounded, so memory stays flat in file size and a slow caller slows the
//! reader instead of buffering.
//!
//! A file with a row of exactly one non-empty cell (a possible report section heading, which
//! names the account of the rows below it) is read on the calling thread instead.
//!
//! [`Rows`]: super::Rows

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

use super::records::{Record, RecordReader};
use super::source::{CsvSource, Occurrences, PendingOutcome, RowOutcome, RowReader, is_blank};
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
    records: Vec<Record>,
    lines: Vec<u64>,
    len: usize,
    /// The read error that ended the file after this chunk's records.
    error: Option<IngestError>,
}

impl Chunk {
    /// The chunk's records, each with the line it starts on.
    pub(crate) fn records(&self) -> impl Iterator<Item = (&Record, u64)> {
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
///
/// Workers take the next chunk from one shared queue, whichever is free first, and the caller
/// puts the results back in order. (Dealing chunks to the workers in turn, as this did before,
/// left a core idle whenever one worker fell behind: ~170% CPU on two cores.) At most
/// [`chunks_in_flight`] chunks exist at once, so memory stays flat however far the results
/// come back out of order.
pub(crate) fn map_chunks<S, T: Send>(
    reader: RecordReader,
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
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<(u64, Chunk)>(workers);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let (done_tx, done_rx) = mpsc::channel();
        for index in 0..workers {
            let (jobs, done) = (Arc::clone(&jobs_rx), done_tx.clone());
            spawn_named(scope, format!("csv-read-{index}"), move || {
                work(&jobs, &done, state(), map)
            });
        }
        // The workers hold the only queue ends now: when they are gone, the splitter stops.
        drop((jobs_rx, done_tx));
        let limit = chunks_in_flight(workers);
        spawn_named(scope, "csv-split".into(), move || {
            split(reader, chunk_rows, path, &jobs_tx, &recycled_rx, limit)
        });
        collect(&done_rx, &recycled_tx, &mut each)
    })
}

/// Spawns a scoped thread with a name, so profilers and `top -H` tell the reader's threads
/// from the runtime's (unnamed, they inherit the name of the thread that started the import,
/// e.g. `tokio-rt-worker`). Panics when the OS cannot start a thread, as `Scope::spawn` does.
fn spawn_named<'scope, 'env, T: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, 'env>,
    name: String,
    f: impl FnOnce() -> T + Send + 'scope,
) -> thread::ScopedJoinHandle<'scope, T> {
    thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, f)
        .expect("failed to spawn thread")
}

/// Chunks that may exist at once: one being read, one queued and one being mapped per
/// worker, and as many again waiting for an earlier one to come back.
fn chunks_in_flight(workers: usize) -> usize {
    2 * workers + 2
}

/// The splitting thread: reads records into chunks, numbered in file order, and queues them
/// for the workers.
fn split(
    mut reader: RecordReader,
    chunk_rows: usize,
    path: &Path,
    jobs: &SyncSender<(u64, Chunk)>,
    recycled: &Receiver<Chunk>,
    limit: usize,
) {
    let mut created = 0;
    for sequence in 0u64.. {
        let mut chunk = match recycled.try_recv() {
            Ok(chunk) => chunk,
            Err(_) if created < limit => {
                created += 1;
                Chunk::default()
            }
            // Every chunk is out: wait for the caller to hand one back (it stops early only
            // by dropping its end, which ends this thread too).
            Err(_) => match recycled.recv() {
                Ok(chunk) => chunk,
                Err(_) => return,
            },
        };
        chunk.len = 0;
        chunk.error = None;
        let mut ended = false;
        while chunk.len < chunk_rows {
            if chunk.records.len() == chunk.len {
                // Room for a typical row, so that most records never grow as chunks are reused.
                chunk.records.push(Record::with_capacity(256, 16));
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
        // A send fails only when the workers stopped early; there is no one left to read for.
        if jobs.send((sequence, chunk)).is_err() || ended {
            return;
        }
    }
}

/// A worker: maps whichever chunk is next in the queue, with its own state.
fn work<S, T>(
    jobs: &Mutex<Receiver<(u64, Chunk)>>,
    done: &Sender<(u64, Chunk, T)>,
    mut state: S,
    map: &impl Fn(&mut S, &Chunk) -> T,
) {
    loop {
        // The lock is held only while waiting for a chunk, not while mapping it.
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return, // another worker panicked; the scope reports it
        };
        let Ok((sequence, chunk)) = job else {
            return;
        };
        let mapped = map(&mut state, &chunk);
        if done.send((sequence, chunk, mapped)).is_err() {
            return;
        }
    }
}

/// The caller's side: results in file order, whatever order the workers finish in. Returns
/// when the splitter has queued its last chunk and the workers are done with it, or at the
/// first read error, after the chunk that ends with it.
fn collect<T>(
    done: &Receiver<(u64, Chunk, T)>,
    recycled: &Sender<Chunk>,
    each: &mut impl FnMut(T),
) -> Result<(), IngestError> {
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    while let Ok((sequence, chunk, mapped)) = done.recv() {
        waiting.insert(sequence, (chunk, mapped));
        while let Some((mut chunk, mapped)) = waiting.remove(&next) {
            next += 1;
            each(mapped);
            if let Some(error) = chunk.error.take() {
                return Err(error);
            }
            // The splitter may have finished already; then the chunk is simply dropped.
            let _ = recycled.send(chunk);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn reader(rows: usize) -> RecordReader {
        let text: String = (0..rows).map(|i| format!("{i},x\n")).collect();
        RecordReader::new(Box::new(std::io::Cursor::new(text.into_bytes())), b',')
    }

    /// Chunks mapped out of order (every other one slowly) still reach the caller in file
    /// order, each once, with their lines.
    #[test]
    fn results_come_back_in_file_order_whatever_order_workers_finish_in() {
        let parallelism = Parallelism {
            workers: 3,
            chunk_rows: 4,
        };
        let mut seen = Vec::new();
        map_chunks(
            reader(203),
            parallelism,
            Path::new("test.csv"),
            || (),
            |(), chunk| {
                let first: u64 = chunk
                    .records()
                    .next()
                    .map_or(0, |(r, _)| r.get(0).unwrap().parse().unwrap());
                if first.is_multiple_of(8) {
                    thread::sleep(Duration::from_millis(3));
                }
                chunk
                    .records()
                    .map(|(record, line)| (record.get(0).unwrap().to_string(), line))
                    .collect::<Vec<_>>()
            },
            |rows| seen.extend(rows),
        )
        .unwrap();
        let expected: Vec<(String, u64)> = (0..203).map(|i| (i.to_string(), i + 1)).collect();
        assert_eq!(seen, expected);
    }

    /// A caller slower than the workers holds the reader back: no more chunks exist than
    /// the bound, however many records are left.
    #[test]
    fn chunks_in_flight_stay_bounded() {
        let live = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        let parallelism = Parallelism {
            workers: 2,
            chunk_rows: 2,
        };
        map_chunks(
            reader(200),
            parallelism,
            Path::new("test.csv"),
            || (),
            |(), _| {
                let now = live.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            },
            |()| {
                thread::sleep(Duration::from_micros(200));
                live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            },
        )
        .unwrap();
        let most = most.into_inner();
        assert!(
            most <= chunks_in_flight(2),
            "{most} chunks mapped and not yet handed on"
        );
    }
}
