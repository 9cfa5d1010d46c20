//! SpendScore: a 0–100 rating of a batch of spend transactions.
//!
//! - [`classic`]: the original VeroctaAI definition, reproduced bit for bit where the
//!   references allow, including its known flaws (see the spec's "Known flaws"), for
//!   customers who expect the same number for the same file. Its arithmetic lives in
//!   [`classic_metrics`] (std only, over keyed rows), which the Arroyo UDFs compile too.
//!
//! - [`v2`]: the improved score on canonical transactions (spend only, refunds netted,
//!   normalised vendors, true timestamps, robust per-category statistics), per tenant over
//!   rolling 30/90/365-day windows, with a sentence per metric. Its arithmetic lives in
//!   [`v2_metrics`] (std only, generic over vendor and category keys), for the same reason.

pub mod classic;
pub mod classic_metrics;
pub mod v2;
pub mod v2_metrics;
pub mod v2_udaf;

pub use classic::{
    Band, ClassicError, ClassicMetrics, ClassicRow, ClassicScore, classic_rows_from_csv,
    score_classic,
};
