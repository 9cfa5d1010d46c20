//! Verocta's jobs: they move canonical records from sources to sinks in Arrow batches.
//!
//! - [`batch`]: the one batching policy (rows, bytes, linger) every job and sink shares.
//! - [`import`]: the batch import job behind `verocta import`: files → CSV connector →
//!   batches → a sink.
//!
//! Kafka consumers, micro-batches and DataFusion jobs arrive with the streaming backbone and
//! reuse [`batch`]. Jobs depend on `ingest` and `lakehouse` only through their public APIs.

pub mod batch;
pub mod import;
