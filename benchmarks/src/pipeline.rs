//! Pieces of the end-to-end pipeline benchmark (`pipeline-bench`) that are worth testing on
//! their own: the measurements it prints, latency percentiles, and reading which rows a Delta
//! commit made visible.
//!
//! How produce→visible latency is measured: every synthetic transaction carries its send time
//! (microseconds since the run started, on the monotonic clock) in `memo`. While the run
//! lasts, a watcher stats `_delta_log/<version>.json` for the next version every few
//! milliseconds and records when each appears — a Delta commit is atomic and visible to any
//! reader exactly when that file exists, so this is the moment a query could first see the
//! rows. After the run, each commit's `add` actions name its Parquet files, whose `memo`
//! column gives the send times: latency = visible − sent, per row. Nothing is queried while
//! the pipeline runs, so the measurement takes no CPU from the workers it measures.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow_array::{Array, LargeStringArray, StringArray, StringViewArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::report::MB;

/// Prefix of the send-time stamp in a synthetic transaction's `memo`.
pub const SENT_AT_PREFIX: &str = "sent_us=";

/// One throughput run: a CSV file through Kafka and the workers into Delta.
#[derive(Clone, Debug, Serialize)]
pub struct ThroughputMeasurement {
    /// Always `throughput`.
    pub mode: &'static str,
    /// `embedded` or the external broker's label.
    pub broker: String,
    /// Worker threads in the consumer group.
    pub workers: usize,
    /// Seconds from starting the stack until a warm-up record was in Delta (group formation;
    /// not part of `seconds`).
    pub group_join_seconds: f64,
    /// Worker batch linger, milliseconds.
    pub linger_ms: u64,
    /// Whether the import went through the stack's lag-gated producer (the product's path).
    pub gated_producer: bool,
    /// CSV size in MB (10^6 bytes).
    pub file_mb: f64,
    /// Transactions produced to Kafka.
    pub produced: u64,
    /// Rows in the Delta table afterwards (must equal `produced`).
    pub delta_rows: u64,
    /// Seconds from import start until the import (and producer flush) returned.
    pub import_seconds: f64,
    /// Seconds from import start until every record was committed in Delta.
    pub seconds: f64,
    /// Delta rows per second, end to end.
    pub rows_per_s: f64,
    /// CSV MB per second, end to end.
    pub mb_per_s: f64,
    /// Delta commits the workers made.
    pub commits: u64,
    /// Mean time of one commit (dedupe read, Parquet write, log commit), milliseconds.
    pub mean_commit_ms: f64,
    /// Rows committed by each worker (a single tenant's rows share one partition).
    pub rows_by_worker: Vec<u64>,
    /// Worker errors (dead letters, offset gaps, consumer errors).
    pub errors: u64,
    /// Peak resident memory of the whole process (workers, producer, and the embedded broker
    /// when there is one) in MB, read before the verification query.
    pub peak_rss_mb: Option<f64>,
    /// Peak resident memory once the stack was up, before the import started, in MB.
    pub rss_before_import_mb: Option<f64>,
}

/// One latency run: synthetic transactions at a steady rate, produce→Delta-visible per row.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyMeasurement {
    /// Always `latency`.
    pub mode: &'static str,
    /// `embedded` or the external broker's label.
    pub broker: String,
    /// Worker threads in the consumer group.
    pub workers: usize,
    /// Seconds from starting the stack until a warm-up record was in Delta (group formation;
    /// before the measured traffic).
    pub group_join_seconds: f64,
    /// Worker batch linger, milliseconds.
    pub linger_ms: u64,
    /// Whether the producer was the stack's lag-gated one.
    pub gated_producer: bool,
    /// Target rate, transactions per second.
    pub target_rate: f64,
    /// Achieved rate over the producing period.
    pub achieved_rate: f64,
    /// Seconds of producing.
    pub seconds: f64,
    /// Transactions sent.
    pub sent: u64,
    /// Rows found in Delta commits (must equal `sent`).
    pub seen: u64,
    /// Delta commits during the run.
    pub commits: u64,
    /// Mean time of one commit (dedupe read, Parquet write, log commit), milliseconds.
    pub mean_commit_ms: f64,
    /// Rows committed by each worker.
    pub rows_by_worker: Vec<u64>,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Worst row, milliseconds.
    pub max_ms: f64,
    /// Median latency of the rows sent in each 5-second window, milliseconds: shows whether
    /// latency drifts as the table grows.
    pub p50_ms_by_5s: Vec<f64>,
    /// How often the watcher looked for a new commit, milliseconds (latency resolution).
    pub poll_ms: u64,
    /// Peak resident memory of the whole process in MB.
    pub peak_rss_mb: Option<f64>,
}

/// Rounds for printing.
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Megabytes from bytes (decimal).
pub fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / MB
}

/// The nearest-rank percentile `p` (0–100) of sorted values; `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The memo stamp for a send time.
pub fn sent_at_memo(sent_us: u64) -> String {
    format!("{SENT_AT_PREFIX}{sent_us}")
}

/// The send time in a memo written by [`sent_at_memo`].
pub fn parse_sent_at(memo: &str) -> Option<u64> {
    memo.strip_prefix(SENT_AT_PREFIX)?.parse().ok()
}

/// Path of a version's commit file in a Delta log.
pub fn commit_file(table_dir: &Path, version: u64) -> PathBuf {
    table_dir
        .join("_delta_log")
        .join(format!("{version:020}.json"))
}

/// The data files a commit adds, relative to the table directory (percent-decoded).
pub fn added_files(commit_json: &str) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for line in commit_json.lines().filter(|l| !l.trim().is_empty()) {
        let action: serde_json::Value =
            serde_json::from_str(line).context("a Delta log line is not JSON")?;
        if let Some(path) = action
            .get("add")
            .and_then(|add| add.get("path"))
            .and_then(|path| path.as_str())
        {
            files.push(percent_decode(path));
        }
    }
    Ok(files)
}

/// Decodes `%XX` escapes (Delta percent-encodes partition values in paths).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The values of one string column of a Parquet file.
pub fn read_string_column(path: &Path, column: &str) -> anyhow::Result<Vec<Option<String>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not Parquet", path.display()))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), [column]);
    let reader = builder.with_projection(mask).build()?;
    let mut values = Vec::new();
    for batch in reader {
        let batch = batch?;
        let array = batch
            .column_by_name(column)
            .with_context(|| format!("{} has no column {column}", path.display()))?;
        let any = array.as_any();
        if let Some(strings) = any.downcast_ref::<StringArray>() {
            values.extend(strings.iter().map(|v| v.map(str::to_string)));
        } else if let Some(strings) = any.downcast_ref::<LargeStringArray>() {
            values.extend(strings.iter().map(|v| v.map(str::to_string)));
        } else if let Some(strings) = any.downcast_ref::<StringViewArray>() {
            values.extend(strings.iter().map(|v| v.map(str::to_string)));
        } else {
            anyhow::bail!("column {column} is {}, not text", array.data_type());
        }
    }
    Ok(values)
}

/// Watches a Delta table's log and records when each new version became visible.
pub struct CommitWatcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<BTreeMap<u64, Duration>>,
}

impl CommitWatcher {
    /// Starts watching for versions after `last_seen`; times are measured from `epoch`.
    pub fn start(table_dir: &Path, last_seen: u64, epoch: Instant, poll: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (table_dir, thread_stop) = (table_dir.to_path_buf(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut visible = BTreeMap::new();
            let mut next = last_seen + 1;
            loop {
                // Read the flag first so the final sweep below sees every commit made before it.
                let stopping = thread_stop.load(Ordering::Acquire);
                while commit_file(&table_dir, next).exists() {
                    visible.insert(next, epoch.elapsed());
                    next += 1;
                }
                if stopping {
                    return visible;
                }
                std::thread::sleep(poll);
            }
        });
        CommitWatcher { stop, thread }
    }

    /// Stops watching; returns version → time since the epoch when it was first seen.
    pub fn finish(self) -> BTreeMap<u64, Duration> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_default()
    }
}

/// Per-row latencies (microseconds) from the commits a watcher saw, with each row's send time.
pub fn row_latencies(
    table_dir: &Path,
    visible: &BTreeMap<u64, Duration>,
) -> anyhow::Result<Vec<(u64, u64)>> {
    let mut rows = Vec::new();
    for (version, seen_at) in visible {
        let path = commit_file(table_dir, *version);
        let json = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let seen_us = seen_at.as_micros() as u64;
        for file in added_files(&json)? {
            for memo in read_string_column(&table_dir.join(&file), "memo")? {
                let sent_us = memo
                    .as_deref()
                    .and_then(parse_sent_at)
                    .with_context(|| format!("a row of {file} has no send stamp: {memo:?}"))?;
                rows.push((sent_us, seen_us.saturating_sub(sent_us)));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&values, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn memo_stamp_round_trips() {
        assert_eq!(parse_sent_at(&sent_at_memo(1_234_567)), Some(1_234_567));
        assert_eq!(parse_sent_at("coffee"), None);
    }

    #[test]
    fn reads_add_actions_of_a_commit() {
        let commit = concat!(
            r#"{"commitInfo":{"timestamp":1,"operation":"WRITE"}}"#,
            "\n",
            r#"{"txn":{"appId":"t.transactions.v1-0","version":41}}"#,
            "\n",
            r#"{"add":{"path":"booked_month=2025-11/part-00001-a.zstd.parquet","size":10,"dataChange":true}}"#,
            "\n",
            r#"{"add":{"path":"booked_month=2025%2D12/part-00002-b.parquet","size":10,"dataChange":true}}"#,
            "\n"
        );
        assert_eq!(
            added_files(commit).unwrap(),
            vec![
                "booked_month=2025-11/part-00001-a.zstd.parquet".to_string(),
                "booked_month=2025-12/part-00002-b.parquet".to_string()
            ]
        );
        assert!(added_files("not json").is_err());
    }

    #[test]
    fn percent_decoding_leaves_plain_text_and_bad_escapes() {
        assert_eq!(percent_decode("a%3Db"), "a=b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn watcher_sees_commits_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_delta_log")).unwrap();
        std::fs::write(commit_file(dir.path(), 0), "{}").unwrap();
        let watcher = CommitWatcher::start(dir.path(), 0, Instant::now(), Duration::from_millis(1));
        std::fs::write(commit_file(dir.path(), 1), "{}").unwrap();
        std::fs::write(commit_file(dir.path(), 2), "{}").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let visible = watcher.finish();
        assert_eq!(visible.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert!(visible[&1] <= visible[&2]);
    }
}
