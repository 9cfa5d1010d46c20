//! SpendScore v2's arithmetic: refunds matched, the six metrics, their weighting and the
//! final rounding, over rows whose vendors and categories are any comparable keys.
//!
//! Why generic keys and `std` only: the same file is compiled by the Arroyo UDF workspace
//! (`deploy/arroyo/udfs`, `#[path]` module), whose aggregates (arroyo-udf-plugin 0.2) take
//! vectors of numbers only, so there vendors and categories arrive as 64-bit keys
//! ([`super::classic_metrics::text_key`], [`category_key`]) and dates as day numbers. The
//! main build scores `&str` vendors and category codes through the same functions
//! (`v2.rs`, which adds the sentences), so a stream scored by Arroyo, the DataFusion
//! aggregate and `verocta scores` give the same numbers for the same rows.
//!
//! Each metric returns what its sentence needs (amounts, counts, the vendor or row that drove
//! it) beside its value; [`WindowFacts::score`] weighs the values. Iteration is over ordered
//! maps wherever a sum of floats or a tie depends on order, so the same rows give the same
//! bits.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Weights in percent: categorisation, concentration, budget, redundancy, spike, waste.
pub const WEIGHTS: [f64; 6] = [15.0, 10.0, 20.0, 15.0, 20.0, 20.0];

/// The rolling windows, in days.
pub const WINDOWS: [u16; 3] = [30, 90, 365];

/// Category code of uncategorised spend (`verocta_schemas::Category::Uncategorized`).
pub const UNCATEGORIZED_CODE: &str = "uncategorized";
/// Category codes whose spend counts as avoidable, in the waste sentence's order
/// (`Category::MealsEntertainment`, `Category::BankFees`).
pub const WASTE_CODES: [&str; 2] = ["meals_entertainment", "bank_fees"];

/// What the categorisation and waste metrics need to know of a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CategoryClass {
    /// Any category that is neither of the others.
    Other = 0,
    /// No category.
    Uncategorized = 1,
    /// Avoidable spend: [`WASTE_CODES`]`[0]`.
    Meals = 2,
    /// Avoidable spend: [`WASTE_CODES`]`[1]`.
    BankFees = 3,
}

impl CategoryClass {
    /// The class of a category code.
    pub fn of_code(code: &str) -> CategoryClass {
        if code == UNCATEGORIZED_CODE {
            CategoryClass::Uncategorized
        } else if code == WASTE_CODES[0] {
            CategoryClass::Meals
        } else if code == WASTE_CODES[1] {
            CategoryClass::BankFees
        } else {
            CategoryClass::Other
        }
    }

    /// The class carried in the low two bits of a [`category_key`].
    pub fn of_key(key: u64) -> CategoryClass {
        match key & 0b11 {
            1 => CategoryClass::Uncategorized,
            2 => CategoryClass::Meals,
            3 => CategoryClass::BankFees,
            _ => CategoryClass::Other,
        }
    }
}

/// The waste classes, in the sentence's order.
pub const WASTE_CLASSES: [CategoryClass; 2] = [CategoryClass::Meals, CategoryClass::BankFees];

/// Key of a category code: equal codes, equal keys, with its [`CategoryClass`] in the low
/// two bits (the classic score's 64-bit FNV-1a text key of the code, shifted).
pub fn category_key(code: &str) -> u64 {
    (super::classic_metrics::text_key(code) << 2) | CategoryClass::of_code(code) as u64
}

/// Seconds after midnight of `HH:MM:SS` (as the topic carries `booked_time`); `None` for
/// anything else.
pub fn seconds_of_day(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let two = |at: usize| -> Option<i32> {
        let (tens, ones) = (bytes[at], bytes[at + 1]);
        if !tens.is_ascii_digit() || !ones.is_ascii_digit() {
            return None;
        }
        Some(i32::from(tens - b'0') * 10 + i32::from(ones - b'0'))
    };
    let (hours, minutes, seconds) = (two(0)?, two(3)?, two(6)?);
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

/// An integer that orders transaction ids (`tx_` and 32 lowercase hex digits) as their text
/// does: the first 15 hex digits. Where text cannot be passed (Arroyo's aggregates), it
/// puts rows of the same day and time in the order the batch job reads them, which decides
/// which charge a refund cancels. `None` for anything else.
pub fn id_order_key(id: &str) -> Option<i64> {
    i64::from_str_radix(&id_hex(id)?[..15], 16).ok()
}

/// The 32 lowercase hex digits of a Verocta transaction id (`tx_` + 32 hex digits, as
/// `verocta_schemas::TransactionId` validates it); `None` for any other text.
pub fn id_hex(id: &str) -> Option<&str> {
    id.strip_prefix("tx_").filter(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// One spend or credit row of a tenant, in one currency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyedRow<V, C> {
    /// Booked date, days since 1970-01-01.
    pub day: i32,
    /// Seconds after midnight, when the source had a time.
    pub time_s: Option<i32>,
    /// Magnitude in minor units (never negative).
    pub amount_minor: i64,
    /// A credit (money in) rather than spend.
    pub credit: bool,
    /// Vendor, `None` when unknown.
    pub vendor: Option<V>,
    /// Category.
    pub category: C,
    /// Its class.
    pub class: CategoryClass,
}

impl<'a> KeyedRow<&'a str, &'a str> {
    /// A row keyed by text: the normalised vendor ("" when unknown) and the category code.
    pub fn named(
        day: i32,
        time_s: Option<i32>,
        amount_minor: i64,
        credit: bool,
        vendor: &'a str,
        category: &'a str,
    ) -> Self {
        KeyedRow {
            day,
            time_s,
            amount_minor,
            credit,
            vendor: Some(vendor).filter(|v| !v.is_empty()),
            category,
            class: CategoryClass::of_code(category),
        }
    }
}

/// The latest day with spend, where every window ends.
pub fn latest_spend_day<V, C>(rows: &[KeyedRow<V, C>]) -> Option<i32> {
    rows.iter().filter(|r| !r.credit).map(|r| r.day).max()
}

/// The v2 score (0–100) of the `days`-day window ending on the latest spend day, `None`
/// without net spend in it. `rows` in booking order (day, then time).
pub fn score<V: Ord + Hash, C: Eq + Hash>(rows: &[KeyedRow<V, C>], days: u16) -> Option<u32> {
    let end = latest_spend_day(rows)?;
    window_facts(rows, end, days).map(|facts| facts.score())
}

/// Everything a window's score and sentences are made of.
#[derive(Debug)]
pub struct WindowFacts<'a, V, C> {
    /// First day (days since 1970-01-01).
    pub start: i32,
    /// Last day, inclusive.
    pub end: i32,
    /// Window length.
    pub days: u16,
    /// Spend rows in the window not cancelled by a refund.
    pub charges: usize,
    /// Net spend: charges less refunds netted against their vendor.
    pub net_minor: i64,
    /// Refunds matched to a charge or netted against a vendor.
    pub refunds_minor: i64,
    /// Categorisation metric.
    pub categorisation: Categorisation,
    /// Concentration metric; `None` when no charge names its vendor.
    pub concentration: Option<Concentration<'a, V>>,
    /// Budget metric.
    pub budget: Budget,
    /// Redundancy metric.
    pub redundancy: Redundancy<'a, V>,
    /// Spike metric.
    pub spike: Spike<'a, V, C>,
    /// Waste metric.
    pub waste: Waste,
}

impl<V, C> WindowFacts<'_, V, C> {
    /// Metric values in [`WEIGHTS`]' order; `None` for a metric that could not be computed.
    pub fn values(&self) -> [Option<f64>; 6] {
        [
            Some(self.categorisation.value),
            self.concentration.as_ref().map(|c| c.value),
            self.budget.value(),
            Some(self.redundancy.value),
            Some(self.spike.value),
            Some(self.waste.value),
        ]
    }

    /// Weighted mean of the values present (a missing metric's weight is spread over the
    /// others), 0 when none is.
    pub fn weighted(&self) -> f64 {
        let (sum, weights) = self
            .values()
            .iter()
            .zip(WEIGHTS)
            .filter_map(|(value, weight)| value.map(|v| (v * weight, weight)))
            .fold((0.0, 0.0), |(s, w), (vs, ws)| (s + vs, w + ws));
        if weights <= 0.0 {
            return 0.0;
        }
        sum / weights
    }

    /// The rounded score, half to even as the classic one.
    pub fn score(&self) -> u32 {
        super::classic_metrics::final_score(self.weighted())
    }
}

/// The window of `days` days ending on `end` (inclusive); `None` without net spend.
/// `rows` is the tenant's whole history in booking order: the budget metric reads the
/// periods before the window.
pub fn window_facts<V: Ord + Hash, C: Eq + Hash>(
    rows: &[KeyedRow<V, C>],
    end: i32,
    days: u16,
) -> Option<WindowFacts<'_, V, C>> {
    let start = end - (i32::from(days) - 1);
    let in_window: Vec<&KeyedRow<V, C>> = rows
        .iter()
        .filter(|r| r.day >= start && r.day <= end)
        .collect();
    let window = Window::build(&in_window);
    if window.net_minor <= 0 {
        return None;
    }
    Some(WindowFacts {
        start,
        end,
        days,
        charges: window.charges.len(),
        net_minor: window.net_minor,
        refunds_minor: window.refunds_minor,
        categorisation: categorisation(&window),
        concentration: concentration(&window),
        budget: budget(rows, &window, start, days),
        redundancy: redundancy(&window),
        spike: spike(&window),
        waste: waste(&window),
    })
}

/// A window's spend after refunds are matched.
struct Window<'a, V, C> {
    /// Spend rows not cancelled by a refund, in booking order.
    charges: Vec<&'a KeyedRow<V, C>>,
    /// Net spend: charges less refunds netted against their vendor.
    net_minor: i64,
    /// Refunds matched to a charge or netted against a vendor.
    refunds_minor: i64,
    /// Net spend per vendor (`None` = unknown).
    by_vendor: BTreeMap<Option<&'a V>, i64>,
}

impl<'a, V: Ord, C> Window<'a, V, C> {
    /// Matches each credit to the latest earlier charge of the same vendor and amount (the
    /// charge is cancelled), else nets it against the vendor's spend in the window (never
    /// below zero). Other credits are income and ignored.
    fn build(rows: &[&'a KeyedRow<V, C>]) -> Self {
        let mut cancelled = vec![false; rows.len()];
        let mut netted: BTreeMap<&V, i64> = BTreeMap::new();
        let mut refunds_minor = 0;
        for (i, credit) in rows.iter().enumerate() {
            let Some(vendor) = credit.vendor.as_ref().filter(|_| credit.credit) else {
                continue;
            };
            let matched = (0..i).rev().find(|&j| {
                let charge = rows[j];
                !charge.credit
                    && !cancelled[j]
                    && charge.vendor.as_ref() == Some(vendor)
                    && charge.amount_minor == credit.amount_minor
            });
            match matched {
                Some(j) => {
                    cancelled[j] = true;
                    refunds_minor += credit.amount_minor;
                }
                None => *netted.entry(vendor).or_default() += credit.amount_minor,
            }
        }
        let charges: Vec<&KeyedRow<V, C>> = rows
            .iter()
            .zip(&cancelled)
            .filter(|(r, cancelled)| !r.credit && !**cancelled)
            .map(|(r, _)| *r)
            .collect();
        let mut by_vendor: BTreeMap<Option<&V>, i64> = BTreeMap::new();
        for charge in &charges {
            *by_vendor.entry(charge.vendor.as_ref()).or_default() += charge.amount_minor;
        }
        for (vendor, credit) in netted {
            if let Some(spent) = by_vendor.get_mut(&Some(vendor)) {
                let applied = credit.min(*spent);
                *spent -= applied;
                refunds_minor += applied;
            }
        }
        let net_minor = by_vendor.values().sum();
        Window {
            charges,
            net_minor,
            refunds_minor,
            by_vendor,
        }
    }

    fn share(&self, minor: i64) -> f64 {
        minor as f64 / self.net_minor as f64
    }
}

/// Linear falloff: 100 at `x = 0`, 0 at `x ≥ zero_at`.
fn falloff(x: f64, zero_at: f64) -> f64 {
    100.0 * (1.0 - (x / zero_at).clamp(0.0, 1.0))
}

/// Categorisation (weight 15): 100 when every charge has a category, 0 when ≥ 40% of spend
/// has none.
#[derive(Debug, Clone, PartialEq)]
pub struct Categorisation {
    /// 0–100.
    pub value: f64,
    /// Uncategorised spend.
    pub minor: i64,
    /// Uncategorised charges.
    pub charges: usize,
    /// Its share of net spend (at most 1).
    pub share: f64,
}

fn categorisation<V: Ord, C>(window: &Window<V, C>) -> Categorisation {
    let (minor, charges) = window
        .charges
        .iter()
        .filter(|r| r.class == CategoryClass::Uncategorized)
        .fold((0i64, 0usize), |(m, n), r| (m + r.amount_minor, n + 1));
    let share = window.share(minor).min(1.0);
    Categorisation {
        value: falloff(share, 0.4),
        minor,
        charges,
        share,
    }
}

/// Concentration (weight 10): 100 when spend is spread like ≥ 5 equal vendors, 0 when it
/// all went to one.
#[derive(Debug, Clone, PartialEq)]
pub struct Concentration<'a, V> {
    /// 0–100.
    pub value: f64,
    /// 1 / Herfindahl index of the named vendors' net spend.
    pub effective: f64,
    /// The largest vendor (ties: the smallest key).
    pub top: &'a V,
    /// Its share of named spend.
    pub top_share: f64,
}

fn concentration<'a, V: Ord, C>(window: &Window<'a, V, C>) -> Option<Concentration<'a, V>> {
    let named: Vec<(&V, i64)> = window
        .by_vendor
        .iter()
        .filter_map(|(v, m)| (*v).filter(|_| *m > 0).map(|v| (v, *m)))
        .collect();
    let total: i64 = named.iter().map(|(_, m)| m).sum();
    if total <= 0 {
        return None;
    }
    let hhi: f64 = named
        .iter()
        .map(|(_, m)| (*m as f64 / total as f64).powi(2))
        .sum();
    let effective = 1.0 / hhi;
    let value = if effective >= 5.0 {
        100.0
    } else {
        (effective - 1.0) / 4.0 * 100.0
    };
    let (top, top_minor) = named
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .copied()?;
    Some(Concentration {
        value,
        effective,
        top,
        top_share: top_minor as f64 / total as f64,
    })
}

/// Budget (weight 20): window spend against the median of the previous equal periods in the
/// year before; 100 up to 110% of it, 0 from 200%.
#[derive(Debug, Clone, PartialEq)]
pub enum Budget {
    /// No full period of history before the window; `first` is the first spend day.
    NoHistory {
        /// First spend day of the tenant, if any.
        first: Option<i32>,
    },
    /// The previous periods hold no spend.
    NothingBefore {
        /// How many periods were compared.
        periods: usize,
    },
    /// Scored.
    Scored {
        /// 0–100.
        value: f64,
        /// Window spend (charges not cancelled by a refund).
        spent: i64,
        /// Median spend of the previous periods.
        baseline: i64,
        /// How many periods.
        periods: usize,
        /// `spent / baseline`.
        ratio: f64,
    },
}

impl Budget {
    /// The value when scored.
    pub fn value(&self) -> Option<f64> {
        match self {
            Budget::Scored { value, .. } => Some(*value),
            _ => None,
        }
    }
}

fn budget<V: Ord, C>(
    rows: &[KeyedRow<V, C>],
    window: &Window<V, C>,
    start: i32,
    days: u16,
) -> Budget {
    let first = rows.iter().filter(|r| !r.credit).map(|r| r.day).min();
    let length = i32::from(days);
    let periods = (365 / length).clamp(1, 12);
    let mut sums = Vec::new();
    for k in 1..=periods {
        let p_start = start - k * length;
        let p_end = start - ((k - 1) * length + 1);
        if first.is_none_or(|f| f > p_start) {
            break;
        }
        let sum: i64 = rows
            .iter()
            .filter(|r| !r.credit && r.day >= p_start && r.day <= p_end)
            .map(|r| r.amount_minor)
            .sum();
        sums.push(sum);
    }
    if sums.is_empty() {
        return Budget::NoHistory { first };
    }
    let baseline = median_i64(&mut sums);
    if baseline <= 0 {
        return Budget::NothingBefore {
            periods: sums.len(),
        };
    }
    let spent: i64 = window.charges.iter().map(|r| r.amount_minor).sum();
    let ratio = spent as f64 / baseline as f64;
    let value = if ratio <= 1.1 {
        100.0
    } else {
        falloff(ratio - 1.1, 0.9)
    };
    Budget::Scored {
        value,
        spent,
        baseline,
        periods: sums.len(),
        ratio,
    }
}

/// Redundancy (weight 15): 100 without repeat charges (same vendor and amount within 24 h),
/// 0 when repeats are ≥ 5% of spend.
#[derive(Debug, Clone, PartialEq)]
pub struct Redundancy<'a, V> {
    /// 0–100.
    pub value: f64,
    /// Repeat charges.
    pub repeats: usize,
    /// Their money.
    pub repeat_minor: i64,
    /// Its share of net spend.
    pub share: f64,
    /// Vendors with a repeat.
    pub vendors: usize,
    /// The vendor with most repeats (ties: the smallest key).
    pub top: Option<&'a V>,
}

fn redundancy<'a, V: Ord + Hash, C>(window: &Window<'a, V, C>) -> Redundancy<'a, V> {
    let mut last_seen: HashMap<(&V, i64), (i32, Option<i32>)> = HashMap::new();
    let mut repeats = 0usize;
    let mut repeat_minor = 0i64;
    let mut vendors: BTreeMap<&V, usize> = BTreeMap::new();
    for charge in &window.charges {
        let Some(vendor) = charge.vendor.as_ref() else {
            continue;
        };
        let key = (vendor, charge.amount_minor);
        if let Some(&(day, time)) = last_seen.get(&key) {
            if within_24h(day, time, charge.day, charge.time_s) {
                repeats += 1;
                repeat_minor += charge.amount_minor;
                *vendors.entry(vendor).or_default() += 1;
            }
        }
        last_seen.insert(key, (charge.day, charge.time_s));
    }
    let share = window.share(repeat_minor);
    let top = vendors
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(v, _)| *v);
    Redundancy {
        value: falloff(share, 0.05),
        repeats,
        repeat_minor,
        share,
        vendors: vendors.len(),
        top,
    }
}

/// Two charges are within 24 hours: by their times when both have one, else on the same day.
pub fn within_24h(a_day: i32, a_time: Option<i32>, b_day: i32, b_time: Option<i32>) -> bool {
    match (a_time, b_time) {
        (Some(a), Some(b)) => {
            let seconds =
                (i64::from(b_day) - i64::from(a_day)) * 86_400 + i64::from(b) - i64::from(a);
            seconds.abs() <= 86_400
        }
        _ => a_day == b_day,
    }
}

/// Robust z-score above which a charge is an outlier in its category.
const SPIKE_Z: f64 = 3.5;
/// Charges a category needs for its own baseline (else the window's).
const SPIKE_MIN_CATEGORY_ROWS: usize = 8;

struct Baseline {
    median: f64,
    mad: f64,
}

impl Baseline {
    fn of(amounts: impl Iterator<Item = i64>) -> Option<Baseline> {
        let mut logs: Vec<f64> = amounts
            .filter(|a| *a > 0)
            .map(|a| (a as f64).ln())
            .collect();
        if logs.is_empty() {
            return None;
        }
        let median = median_f64(&mut logs);
        let mut deviations: Vec<f64> = logs.iter().map(|x| (x - median).abs()).collect();
        let mad = median_f64(&mut deviations);
        Some(Baseline { median, mad })
    }

    /// How many times its typical amount a charge is, when it is an outlier.
    fn outlier_ratio(&self, amount_minor: i64) -> Option<f64> {
        if amount_minor <= 0 {
            return None;
        }
        let x = (amount_minor as f64).ln();
        let ratio = (x - self.median).exp();
        let outlier = if self.mad > 0.0 {
            0.6745 * (x - self.median) / self.mad > SPIKE_Z && ratio >= 3.0
        } else {
            ratio >= 10.0
        };
        outlier.then_some(ratio)
    }
}

/// Spike (weight 20): charges far above their category's robust baseline (median and MAD of
/// log amounts); one outlier among ten or more charges costs at most three quarters of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike<'a, V, C> {
    /// 0–100.
    pub value: f64,
    /// Outlying charges.
    pub outliers: usize,
    /// Their share of net spend (at most 1).
    pub share: f64,
    /// The largest outlier and how many times its typical amount it is.
    pub largest: Option<(&'a KeyedRow<V, C>, f64)>,
}

fn spike<'a, V: Ord, C: Eq + Hash>(window: &Window<'a, V, C>) -> Spike<'a, V, C> {
    let overall = Baseline::of(window.charges.iter().map(|r| r.amount_minor));
    let mut by_category: HashMap<&C, Vec<i64>> = HashMap::new();
    for charge in &window.charges {
        by_category
            .entry(&charge.category)
            .or_default()
            .push(charge.amount_minor);
    }
    let baselines: HashMap<&C, Baseline> = by_category
        .into_iter()
        .filter(|(_, amounts)| amounts.len() >= SPIKE_MIN_CATEGORY_ROWS)
        .filter_map(|(c, amounts)| Baseline::of(amounts.into_iter()).map(|b| (c, b)))
        .collect();
    let mut outliers: Vec<(&KeyedRow<V, C>, f64)> = Vec::new();
    for charge in &window.charges {
        let baseline = baselines.get(&charge.category).or(overall.as_ref());
        if let Some(ratio) = baseline.and_then(|b| b.outlier_ratio(charge.amount_minor)) {
            outliers.push((charge, ratio));
        }
    }
    let n = window.charges.len().max(1) as f64;
    let outlier_minor: i64 = outliers.iter().map(|(r, _)| r.amount_minor).sum();
    let share = window.share(outlier_minor).min(1.0);
    let largest = outliers
        .iter()
        .max_by(|a, b| a.0.amount_minor.cmp(&b.0.amount_minor))
        .copied();
    Spike {
        value: falloff(outliers.len() as f64 / n, 0.2) * (1.0 - share.min(0.5)),
        outliers: outliers.len(),
        share,
        largest,
    }
}

/// Waste (weight 20): 100 with nothing on meals & entertainment or bank fees, 0 when they are
/// ≥ 25% of spend.
#[derive(Debug, Clone, PartialEq)]
pub struct Waste {
    /// 0–100.
    pub value: f64,
    /// Spend per waste class with any, in [`WASTE_CLASSES`]' order.
    pub parts: Vec<(CategoryClass, i64)>,
    /// Their sum.
    pub total: i64,
    /// Its share of net spend (at most 1).
    pub share: f64,
}

fn waste<V: Ord, C>(window: &Window<V, C>) -> Waste {
    let parts: Vec<(CategoryClass, i64)> = WASTE_CLASSES
        .iter()
        .map(|&class| {
            let minor: i64 = window
                .charges
                .iter()
                .filter(|r| r.class == class)
                .map(|r| r.amount_minor)
                .sum();
            (class, minor)
        })
        .filter(|(_, minor)| *minor > 0)
        .collect();
    let total: i64 = parts.iter().map(|(_, m)| m).sum();
    let share = window.share(total).min(1.0);
    Waste {
        value: falloff(share, 0.25),
        parts,
        total,
        share,
    }
}

fn median_i64(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: i32, vendor: u64, category: &str, amount_minor: i64) -> KeyedRow<u64, u64> {
        KeyedRow {
            day,
            time_s: None,
            amount_minor,
            credit: false,
            vendor: Some(vendor),
            category: category_key(category),
            class: CategoryClass::of_key(category_key(category)),
        }
    }

    #[test]
    fn category_keys_carry_their_class() {
        for (code, class) in [
            ("travel", CategoryClass::Other),
            (UNCATEGORIZED_CODE, CategoryClass::Uncategorized),
            (WASTE_CODES[0], CategoryClass::Meals),
            (WASTE_CODES[1], CategoryClass::BankFees),
        ] {
            assert_eq!(CategoryClass::of_code(code), class);
            assert_eq!(CategoryClass::of_key(category_key(code)), class);
        }
        assert_ne!(category_key("travel"), category_key("telecom"));
    }

    #[test]
    fn times_of_day_parse_strictly() {
        assert_eq!(seconds_of_day("00:00:00"), Some(0));
        assert_eq!(seconds_of_day("23:59:59"), Some(86_399));
        assert_eq!(seconds_of_day("13:05:09"), Some(13 * 3600 + 5 * 60 + 9));
        for bad in ["24:00:00", "12:60:00", "1:00:00", "12:00", "ab:cd:ef", ""] {
            assert_eq!(seconds_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn id_order_keys_order_as_the_ids_do() {
        let ids = [
            "tx_00000000000000000000000000000000",
            "tx_0000000000000010000000000000000f",
            "tx_0a000000000000000000000000000000",
            "tx_ffffffffffffffffffffffffffffffff",
        ];
        let keys: Vec<i64> = ids.iter().map(|id| id_order_key(id).unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert_eq!(keys[3], (1 << 60) - 1);
        for bad in [
            "tx_0",
            "tx_0000000000000000000000000000000G",
            "00000000000000000000000000000000",
        ] {
            assert_eq!(id_order_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_window_without_net_spend_has_no_score() {
        // The refund on the charge's day, after it: the window ending that day nets to 0.
        let mut refund = row(0, 7, "travel", 500);
        refund.credit = true;
        assert_eq!(score(&[row(0, 7, "travel", 500), refund], 30), None);
        assert_eq!(score::<u64, u64>(&[], 30), None);
    }

    /// Ten equal charges to five vendors: every metric that can be computed is 100; the
    /// budget cannot (no history), so its weight is spread.
    #[test]
    fn ordinary_spend_scores_100_without_budget() {
        let rows: Vec<_> = (0..10)
            .map(|i| row(i, (i % 5) as u64, "travel", 1_000))
            .collect();
        let facts = window_facts(&rows, 9, 30).unwrap();
        let values = facts.values();
        assert_eq!(values[2], None);
        // Five equal vendors: 1 / (5 · 0.2²) is 5 only up to rounding.
        assert!(
            values
                .iter()
                .enumerate()
                .all(|(i, v)| i == 2 || v.is_some_and(|v| v > 100.0 - 1e-9)),
            "{values:?}"
        );
        assert_eq!(facts.budget, Budget::NoHistory { first: Some(0) });
        assert_eq!(facts.score(), 100);
    }

    #[test]
    fn keys_and_strings_score_alike() {
        let names = ["aws", "slack", "zoom", "zoom", "aws", "bt"];
        let categories = [
            "cloud_hosting",
            "software_saas",
            "software_saas",
            "bank_fees",
        ];
        let by_name: Vec<KeyedRow<&str, &str>> = (0..120)
            .map(|i: i32| {
                let vendor = if i % 11 == 0 {
                    ""
                } else {
                    names[i as usize % names.len()]
                };
                KeyedRow::named(
                    i / 2,
                    Some(i * 97 % 86_400),
                    1_000 + i64::from(i % 7) * 250 + i64::from(i == 100) * 90_000,
                    i % 31 == 30,
                    vendor,
                    categories[i as usize % categories.len()],
                )
            })
            .collect();
        let by_key: Vec<KeyedRow<u64, u64>> = by_name
            .iter()
            .map(|r| KeyedRow {
                day: r.day,
                time_s: r.time_s,
                amount_minor: r.amount_minor,
                credit: r.credit,
                vendor: r.vendor.map(super::super::classic_metrics::text_key),
                category: category_key(r.category),
                class: CategoryClass::of_key(category_key(r.category)),
            })
            .collect();
        for days in WINDOWS {
            let named = window_facts(&by_name, 59, days).unwrap();
            let keyed = window_facts(&by_key, 59, days).unwrap();
            // Vendors are summed in key order, so the last bits may differ.
            for (a, b) in named.values().iter().zip(keyed.values()) {
                assert_eq!(a.is_some(), b.is_some(), "{days}");
                assert!((a.unwrap_or(0.0) - b.unwrap_or(0.0)).abs() < 1e-9, "{days}");
            }
            assert_eq!(named.score(), keyed.score(), "{days}");
            assert_eq!(score(&by_key, days), Some(keyed.score()));
        }
    }
}
