//! One measurement, printed as a JSON line that `run-ingest.sh` turns into a table.
//!
//! The Python DuckDB harness prints the same fields, so both tools land in one file.

use serde::Serialize;

/// Bytes in a megabyte, for file sizes and throughput (decimal, as disk and network rates are).
pub const MB: f64 = 1_000_000.0;

/// The best of several runs of one tool on one file.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Tool and variant, e.g. `verocta` or `duckdb threads=1`.
    pub tool: String,
    /// File size in MB (10^6 bytes).
    pub file_mb: f64,
    /// Rows delivered as Arrow.
    pub rows: u64,
    /// Wall-clock seconds of the fastest run.
    pub seconds: f64,
    /// File MB per second of the fastest run.
    pub mb_per_s: f64,
    /// Rows per second of the fastest run.
    pub rows_per_s: f64,
    /// Peak resident memory of the whole process in MB (10^6 bytes), or `None` when the
    /// platform does not say.
    pub peak_rss_mb: Option<f64>,
}

impl Measurement {
    /// Derives the rates from a run's size, rows and time.
    pub fn new(
        tool: &str,
        file_bytes: u64,
        rows: u64,
        seconds: f64,
        peak_rss_mb: Option<f64>,
    ) -> Self {
        let file_mb = file_bytes as f64 / MB;
        Measurement {
            tool: tool.to_string(),
            file_mb: round(file_mb, 3),
            rows,
            seconds: round(seconds, 4),
            mb_per_s: round(file_mb / seconds, 2),
            rows_per_s: round(rows as f64 / seconds, 0),
            peak_rss_mb: peak_rss_mb.map(|mb| round(mb, 1)),
        }
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024.0 / MB)
}
