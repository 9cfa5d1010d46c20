//! SpendScore: a 0–100 rating of a batch of spend transactions.
//!
//! - [`classic`]: the original VeroctaAI definition, reproduced bit for bit where the
//!   references allow, including its known flaws (see the spec's "Known flaws"), for
//!   customers who expect the same number for the same file.
//!
//! An improved score, defined on canonical transactions with exact money, will live next to
//! it as a sibling module.

pub mod classic;

pub use classic::{
    Band, ClassicError, ClassicMetrics, ClassicRow, ClassicScore, classic_rows_from_csv,
    score_classic,
};
