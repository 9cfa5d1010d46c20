//! File-level errors: the file as a whole cannot be read. Row-level problems are not errors
//! but [`crate::csv::Rejection`]s, so one bad row never costs the good ones.

/// Why a whole file cannot be imported. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The CSV reader failed mid-file (I/O underneath).
    #[error("cannot read {path} as CSV: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The reader error.
        source: csv::Error,
    },
    /// Nothing but whitespace.
    #[error("{path} is empty")]
    Empty {
        /// The file.
        path: String,
    },
    /// No row in the first 50 looks like a header with a date and an amount.
    #[error("{path}: no header row with a date column and an amount column (or debit/credit columns) in the first 50 rows; {}",
        if *mapped { "check that the mapping file names the headers exactly as the file writes them" }
        else { "name the columns with --mapping FILE (see docs/import-formats.md) or pick a layout with --format" })]
    NoHeader {
        /// The file.
        path: String,
        /// Whether a mapping was given.
        mapped: bool,
    },
    /// Dates fit both day-first and month-first, and no row decides.
    #[error(
        "{path}: dates such as `{example}` (line {line}) read both day-first and month-first, and no date in the file decides; rerun with --day-first or --month-first"
    )]
    AmbiguousDates {
        /// The file.
        path: String,
        /// Line of the example.
        line: u64,
        /// An ambiguous value.
        example: String,
    },
    /// Some rows are day-first, others month-first.
    #[error(
        "{path}: dates mix day-first (`{day_first}`, line {day_first_line}) and month-first (`{month_first}`, line {month_first_line}); fix the export so one order is used"
    )]
    ConflictingDates {
        /// The file.
        path: String,
        /// Line proving day-first.
        day_first_line: u64,
        /// The value.
        day_first: String,
        /// Line proving month-first.
        month_first_line: u64,
        /// The value.
        month_first: String,
    },
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] crate::csv::ConfigError),
    /// A record batch could not be built from valid transactions: a bug, not the file's fault.
    #[error("internal error: building an Arrow batch of {path} failed: {source}")]
    Arrow {
        /// The file.
        path: String,
        /// Arrow's error.
        source: arrow_schema::ArrowError,
    },
}
