//! The feature vector of the feature query (`features.rs`) and the forest's flag rule, in plain Rust over one
//! tenant's keyed history.
//!
//! This file depends on nothing but `std` and its sibling `amounts.rs`, on purpose: the Arroyo
//! aggregate `forest_flags` (`deploy/arroyo/udfs/forest_flags`, its own workspace on arrow 51)
//! compiles this very file, so a cluster computes the features the DataFusion query computes
//! and flags a score as `forest_hits` (`forest.rs`) does. A test in `features.rs` checks
//! that [`features_in_booking_order`] gives the query's numbers on a generated ledger.
//!
//! Vendors, categories and currencies arrive as keys of any type (`&str` here, 64-bit hashes
//! in Arroyo, whose aggregates take numbers only); only equality matters.

use std::collections::HashMap;
use std::hash::Hash;

use super::amounts::DEFAULT_APPROVAL_LIMITS;
use super::amounts::{round_amount_score, under_limit_score};

/// Number of features per transaction.
pub const FEATURE_COUNT: usize = 9;

/// One transaction's feature vector, in `FEATURE_NAMES` order (`features.rs`).
pub type Features = [f64; FEATURE_COUNT];

/// Smallest standard deviation (of log amounts) a z-score divides by: a vendor that always
/// charged the same price would otherwise make a one-cent change infinitely surprising.
pub const MIN_SD: f64 = 0.1;

/// Earlier charges a vendor or category needs before its baseline (z-score, typical amount)
/// counts.
pub const MIN_PRIOR: u64 = 5;

/// Trees per forest (the default of `ForestConfig`).
pub const DEFAULT_N_TREES: usize = 100;

/// Rows each tree is built from, 256 as in the original paper (the default of `ForestConfig`).
pub const DEFAULT_SAMPLE_SIZE: usize = 256;

/// Spend rows a tenant needs for a forest of its own (the default of `ForestConfig`).
pub const DEFAULT_MIN_TENANT_ROWS: usize = 1_000;

/// Forest score at and above which a row is a candidate (the default of `ForestConfig`).
pub const DEFAULT_THRESHOLD: f64 = 0.52;

/// Standard deviations above the vendor's or category's history a candidate needs to be
/// flagged (the default of `ForestConfig`).
pub const DEFAULT_MIN_Z: f64 = 4.0;

/// Features are snapped to a grid of 2^-8 before training and scoring.
///
/// Why: `extended-isolation-forest` draws each cut uniformly between a node's minimum and
/// maximum with `rand` 0.8's `Uniform::new`, which shrinks its scale one ulp at a time until
/// `low + scale < high`. When the two bounds are a few ulps apart (float noise from window
/// averages) that loop runs for ~2^50 steps and training never ends. On a dyadic grid distinct
/// values are at least 2^-8 apart, so the loop ends within (|value| × 2^8) steps, and 1/256 is
/// far below any difference the features are meant to show.
const GRID: f64 = 256.0;

/// Snaps a feature vector to the grid of `GRID` (why: see there).
pub fn quantize(features: &Features) -> Features {
    features.map(|x| (x * GRID).round() / GRID)
}

/// One spend transaction of a tenant, keyed.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow<K> {
    /// Booked date, days since 1970-01-01.
    pub day: i32,
    /// Exact amount in minor units (spend: non-negative).
    pub amount_minor: i64,
    /// Minor digits of the currency.
    pub currency_digits: u8,
    /// Currency key: baselines are per currency.
    pub currency: K,
    /// Normalised vendor's key (the unknown vendor is a key like any other, as in the query).
    pub vendor: K,
    /// Normalised category's key.
    pub category: K,
}

/// A row's features and the typical amounts its z-scores are measured against.
#[derive(Clone, Debug, PartialEq)]
pub struct RowFeatures {
    /// The feature vector (every value finite).
    pub features: Features,
    /// The vendor's typical amount before this row (minor units), with ≥ [`MIN_PRIOR`]
    /// earlier charges.
    pub vendor_typical_minor: Option<i64>,
    /// The category's typical amount before this row, likewise.
    pub category_typical_minor: Option<i64>,
}

/// Running count, mean and variance of log amounts, updated as DataFusion's `avg` and
/// `stddev_pop` accumulators update (a sum for the mean; Welford's recurrence for the
/// variance), so the two agree to the last bits.
#[derive(Clone, Copy, Default)]
struct Baseline {
    count: u64,
    sum: f64,
    welford_mean: f64,
    m2: f64,
    last_day: Option<i32>,
}

impl Baseline {
    fn add(&mut self, value: f64, day: i32) {
        let count = self.count + 1;
        let delta = value - self.welford_mean;
        let mean = delta / count as f64 + self.welford_mean;
        self.m2 += delta * (value - mean);
        self.welford_mean = mean;
        self.sum += value;
        self.count = count;
        self.last_day = Some(day);
    }

    fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// The z-score of `value` and the typical amount (minor units), once the baseline has
    /// enough history.
    fn judge(&self, value: f64, digits: u8) -> (f64, Option<i64>) {
        if self.count < MIN_PRIOR {
            return (0.0, None);
        }
        let (mean, sd) = (self.mean(), (self.m2 / self.count as f64).sqrt());
        let z = (value - mean) / sd.max(MIN_SD);
        let typical = ((mean.exp() - 1.0) * 10f64.powf(f64::from(digits))).round();
        (z, Some(typical as i64))
    }
}

/// ln(1 + amount in major units), as the query computes it.
fn log_amount(amount_minor: i64, digits: u8) -> f64 {
    (1.0 + amount_minor as f64 / 10f64.powf(f64::from(digits))).ln()
}

/// The features of every row, each against the rows before it only. `rows` must be one
/// tenant's spend in booking order: day, then time of day (rows without one after those with
/// one), then transaction id, which is the order the query's windows use.
pub fn features_in_booking_order<K: Eq + Hash + Clone>(rows: &[HistoryRow<K>]) -> Vec<RowFeatures> {
    let mut vendors: HashMap<(K, K), Baseline> = HashMap::new();
    let mut categories: HashMap<(K, K), Baseline> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (tenant_prior, row) in rows.iter().enumerate() {
        let digits = row.currency_digits;
        let value = log_amount(row.amount_minor, digits);
        let vendor = vendors
            .entry((row.currency.clone(), row.vendor.clone()))
            .or_default();
        let category = categories
            .entry((row.currency.clone(), row.category.clone()))
            .or_default();
        let (vendor_z, vendor_typical_minor) = vendor.judge(value, digits);
        let (category_z, category_typical_minor) = category.judge(value, digits);
        let days_since_vendor = vendor
            .last_day
            .map_or(0.0, |last| (1.0 + f64::from(row.day - last)).ln());
        let features = [
            value,
            vendor_z,
            category_z,
            1.0 / (1.0 + vendor.count as f64),
            days_since_vendor,
            vendor.count as f64 / tenant_prior.max(1) as f64,
            f64::from((row.day + 3).rem_euclid(7)),
            round_amount_score(row.amount_minor, digits),
            under_limit_score(row.amount_minor, digits, &DEFAULT_APPROVAL_LIMITS),
        ]
        .map(|x| if x.is_finite() { x } else { 0.0 });
        vendor.add(value, row.day);
        category.add(value, row.day);
        out.push(RowFeatures {
            features,
            vendor_typical_minor,
            category_typical_minor,
        });
    }
    out
}

/// Why a forest score became a flag: the amount's distance from the history it is furthest
/// above.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForestFlag {
    /// True when measured against the vendor's history, false for the category's.
    pub by_vendor: bool,
    /// Standard deviations above that history.
    pub z: f64,
    /// That history's typical amount (minor units).
    pub typical_minor: i64,
    /// The flag's score in `[0.6, 1]`: the threshold maps to 0.6, a certain outlier to 1.
    pub score: f64,
}

/// The forest's flag rule: a score at or above `threshold`, explained by an amount at least
/// `min_z` standard deviations above its vendor's or its category's history (whichever it is
/// further above) with a positive typical amount. Every flag needs a reason a person can
/// check, and the forest alone cannot give one.
pub fn forest_flag(
    forest_score: f64,
    row: &RowFeatures,
    threshold: f64,
    min_z: f64,
) -> Option<ForestFlag> {
    if forest_score < threshold {
        return None;
    }
    let (vendor_z, category_z) = (row.features[1], row.features[2]);
    let (by_vendor, z, typical) = if vendor_z >= category_z {
        (true, vendor_z, row.vendor_typical_minor)
    } else {
        (false, category_z, row.category_typical_minor)
    };
    if z < min_z {
        return None;
    }
    let typical_minor = typical.filter(|t| *t > 0)?;
    Some(ForestFlag {
        by_vendor,
        z,
        typical_minor,
        score: 0.6 + 0.4 * ((forest_score - threshold) / (1.0 - threshold).max(1e-9)),
    })
}
