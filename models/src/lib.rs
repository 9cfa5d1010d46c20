//! Verocta's models: the computations that turn canonical spend into judgements.
//!
//! - the SpendScore ([`spendscore`]): the **classic** score ([`spendscore::classic`]) that
//!   customers of the original VeroctaAI product know, and **v2** ([`spendscore::v2`]) with
//!   robust metrics and a sentence per metric, per tenant over rolling windows;
//! - anomaly detection ([`anomaly`]): window-function features in SQL, isolation forests and
//!   rule detectors, merged into explained [`verocta_schemas::Anomaly`] flags;
//! - forecasting ([`forecast`]): `augurs` MSTL/ETS against seasonal naive, chosen per series
//!   by a rolling-origin backtest;
//! - DataFusion UDFs/UDAFs ([`anomaly::udf`]) so jobs are SQL over Delta tables.
//!
//! Guarantees:
//! - **Pure and deterministic.** A model is a function of its input only: no clock, no
//!   randomness, no network, no global state, and no dependence on hash-map iteration order,
//!   so the same input gives the same bits on every run and every machine. The one piece of
//!   I/O, [`spendscore::classic::classic_rows_from_csv`], exists only to reproduce how the
//!   original read raw files, and is kept apart from the scoring itself. The exception is
//!   isolation-forest *training*, which samples with the forest crate's own RNG; forests are
//!   therefore saved and loaded ([`anomaly::ModelSet`]), and scoring with a saved set is
//!   deterministic.
//! - **No panics on bad input.** Malformed files are errors ([`spendscore::classic::ClassicError`]);
//!   degenerate inputs (empty, one row, zero median, missing dates) have defined results.
//! - **Reference-checked.** The classic score reproduces every reference case of
//!   `shared/specs/spendscore-classic.md` (score exactly, weighted value to 1e-4, per-metric
//!   values to 1e-6 where the original's output is available); the tests in
//!   `models/tests/` pin this.
//!
//! Why a separate crate: the same model must give the same answer whether it is run by the
//! CLI, behind the API or inside a SQL query, so it lives below all of them and depends on
//! nothing but plain data crates (and the canonical schemas once it reads Arrow batches).
//! The classic score is kept as is, flaws included, because customers moving over expect the
//! same number for the same file; v2 sits beside it rather than replacing it.

pub mod anomaly;
pub mod forecast;
pub mod spendscore;

pub use spendscore::classic::{
    Band, ClassicError, ClassicMetrics, ClassicRow, ClassicScore, classic_rows_from_csv,
    score_classic,
};
