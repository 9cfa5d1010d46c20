//! Verocta's jobs: they move canonical records from sources to sinks in Arrow batches.
//!
//! - [`batch`]: the one batching policy (rows, bytes, linger) every job and sink shares.
//! - [`import`]: the batch import job behind `verocta import`: files → CSV connector →
//!   batches → a sink.
//!
//! - [`kafka`]: topics, the producer connectors publish through, and the worker that commits
//!   micro-batches to Delta Lake exactly once.
//! - [`anomalies`]: the anomaly detection job (`verocta anomalies`): features, forests and
//!   rules over the `transactions` table → the `anomalies` table and the alerts topic.
//! - [`scores`]: the SpendScore follower: recomputes v2 scores for the tenants each new
//!   `transactions` commit touched → the `spend_scores` table and the scores topic.
//! - [`follow`]: what a derived table has not consumed of `transactions` yet (the
//!   exactly-once protocol the followers share).
//! - [`forecasts`]: monthly and daily spend forecasts per tenant × category → the
//!   `forecasts` table (on demand and on a schedule in `verocta up`).
//! - [`metrics`]: the counters every component reports.
//! - [`stack`]: broker, topics and workers in one process (`verocta up`).
//!
//! Jobs depend on `ingest` and `lakehouse` only through their public APIs.

pub mod anomalies;
pub mod batch;
pub mod follow;
pub mod forecasts;
pub mod import;
pub mod kafka;
pub mod metrics;
pub mod scores;
pub mod stack;
