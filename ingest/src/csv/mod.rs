//! The CSV connector: any accounting, bank or card export in, canonical transactions out.
//!
//! - [`config`]: options, validated without I/O; explicit column mappings.
//! - [`sniff`]: encoding and delimiter.
//! - [`layout`]: which product wrote the file and which column is which.
//! - [`amount`], [`date`]: reading cells exactly, with file-wide conventions.
//! - [`classify`]: spend, credit or excluded, with the reason.
//! - [`source`]: the two-pass streaming reader tying them together.
//! - [`parallel`]: both passes on several threads, with the same results.
//! - [`batches`]: the second pass straight to Arrow record batches.
//! - [`encoded`]: the second pass straight to wire records (Kafka payloads).
//!
//! Formats and the rules for each are documented in `docs/import-formats.md`.

pub mod amount;
pub mod batches;
pub mod classify;
pub mod config;
pub mod date;
pub mod encoded;
pub mod layout;
pub mod parallel;
mod records;
pub mod sniff;
pub mod source;

pub use config::{ColumnMapping, ConfigError, CsvImportConfig, RawImportOptions};
pub use parallel::Parallelism;
pub use source::{CsvSource, FilePlan, Rejection, RowOutcome, Rows};
