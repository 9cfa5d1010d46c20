//! Rule detectors: the anomalies a finance team names, checked exactly.
//!
//! Each detector reads one tenant's spend in booking order and reports [`Hit`]s with a score
//! in `[0, 1]` and a sentence saying why. Detectors only look backwards (a row is judged by
//! what came before it), so a flag never changes when later rows arrive — the streaming path
//! and a batch re-run agree. The exceptions: [`category_spikes`] judges a month by its total
//! so far against the months before it, and a vendor's batch run (many payments on one day,
//! [`RuleConfig::batch_run_min_payments`]) is recognised from the whole day, because rows of
//! one day carry no order.
//!
//! Amount thresholds are in major units of each row's own currency; rows of different
//! currencies are never compared with each other.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::SpendRow;

/// Which fields make two payments "the same" for [`duplicate_payments`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKey {
    /// Same vendor, amount and currency.
    VendorAmount,
    /// Same vendor, amount, currency and payer (card or employee).
    VendorAmountPayer,
}

/// Thresholds of the rule detectors. Every field has a default a finance team would start
/// from; unknown fields are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleConfig {
    /// Duplicate payments: how close in days the second payment must be.
    pub duplicate_window_days: i64,
    /// Duplicate payments: the key.
    pub duplicate_key: DuplicateKey,
    /// Duplicate payments: smaller amounts are not flagged (two coffees are not a problem).
    pub duplicate_min_major: f64,
    /// Duplicate payments: a key seen this often in the previous 30 days is a habit, not a
    /// duplicate (daily parking, per-seat charges).
    pub duplicate_habit_count: usize,
    /// A vendor paid at least this many times (one currency) on one day is on a batch run —
    /// timesheets, per-seat or per-delivery invoices paid together. Identical amounts within
    /// a run are its rates, not duplicates, and the run is not a purchase split under a limit.
    pub batch_run_min_payments: usize,
    /// New vendor: the first payment must be at least this much...
    pub new_vendor_min_major: f64,
    /// ...and above this quantile of the tenant's spend in that currency.
    pub new_vendor_quantile: f64,
    /// New vendor: days of tenant history before any vendor counts as new.
    pub new_vendor_warmup_days: i64,
    /// Category spike: month total above this multiple of the median of previous months.
    pub spike_factor: f64,
    /// Category spike: and at least this much above it.
    pub spike_min_excess_major: f64,
    /// Category spike: months of history the baseline is the median of (at least 3 needed).
    pub spike_baseline_months: usize,
    /// Price change: earlier charges that must agree to call a vendor's charge recurring.
    pub recurring_min_charges: usize,
    /// Price change: how much those charges may vary and still count as one price.
    pub recurring_tolerance: f64,
    /// Price change: the relative change that is flagged.
    pub price_change_min: f64,
    /// Split purchases: approval limits (major units) that splits try to stay under.
    pub approval_limits_major: Vec<f64>,
    /// Split purchases: how many days the parts may spread over.
    pub split_window_days: i64,
    /// Split purchases: each part is at least this fraction of the limit.
    pub split_min_fraction: f64,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            duplicate_window_days: 3,
            duplicate_key: DuplicateKey::VendorAmount,
            duplicate_min_major: 50.0,
            duplicate_habit_count: 3,
            batch_run_min_payments: 4,
            new_vendor_min_major: 2_000.0,
            new_vendor_quantile: 0.95,
            new_vendor_warmup_days: 60,
            spike_factor: 3.0,
            spike_min_excess_major: 1_000.0,
            spike_baseline_months: 6,
            recurring_min_charges: 3,
            recurring_tolerance: 0.01,
            price_change_min: 0.05,
            approval_limits_major: vec![1_000.0, 2_500.0, 5_000.0, 10_000.0],
            split_window_days: 2,
            split_min_fraction: 0.5,
        }
    }
}

impl RuleConfig {
    /// Checks the thresholds make sense; the message names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("duplicate_min_major", self.duplicate_min_major),
            ("new_vendor_min_major", self.new_vendor_min_major),
            ("spike_factor", self.spike_factor),
            ("spike_min_excess_major", self.spike_min_excess_major),
            ("price_change_min", self.price_change_min),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("{name} must be a positive number (got {value})"));
            }
        }
        if !(0.0..1.0).contains(&self.new_vendor_quantile) {
            return Err("new_vendor_quantile must be in [0, 1), e.g. 0.95".into());
        }
        if self.duplicate_window_days < 0 || self.split_window_days < 0 {
            return Err("window days must not be negative".into());
        }
        if self.batch_run_min_payments < 3 {
            return Err(
                "batch_run_min_payments must be ≥ 3 (two payments on one day are what a duplicate looks like), e.g. 4"
                    .into(),
            );
        }
        if self.spike_baseline_months < 3 || self.recurring_min_charges < 2 {
            return Err("spike_baseline_months must be ≥ 3 and recurring_min_charges ≥ 2".into());
        }
        if self
            .approval_limits_major
            .iter()
            .any(|l| !(l.is_finite() && *l > 0.0))
        {
            return Err("approval_limits_major must hold positive amounts".into());
        }
        if !(0.0..1.0).contains(&self.split_min_fraction) {
            return Err("split_min_fraction must be in [0, 1), e.g. 0.5".into());
        }
        Ok(())
    }
}

/// What a hit points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HitSubject {
    /// Index of a row in the tenant's slice.
    Row(usize),
    /// A category's spend in the month starting on `month`.
    CategoryMonth {
        /// Category code.
        category: String,
        /// First day of the month.
        month: NaiveDate,
        /// Currency of the totals.
        currency: String,
    },
}

/// One detector firing on one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// What fired.
    pub detector: &'static str,
    /// What it fired on.
    pub subject: HitSubject,
    /// Score in `[0, 1]`.
    pub score: f64,
    /// Why, in one sentence.
    pub reason: String,
    /// Observed amount (minor units): the row's, or the month total.
    pub amount_minor: i64,
    /// The baseline the detector compared with (minor units), when it has one.
    pub expected_minor: Option<i64>,
}

/// Runs every rule detector over one tenant's rows (booking order).
pub fn detect(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let mut hits = duplicate_payments(rows, config);
    hits.extend(new_vendor_large_first(rows, config));
    hits.extend(category_spikes(rows, config));
    hits.extend(recurring_price_changes(rows, config));
    hits.extend(split_purchases(rows, config));
    hits
}

/// Formats minor units as a major amount with the currency code ("USD 1,204.00").
pub fn money(minor: i64, digits: u8, currency: &str) -> String {
    let text = verocta_schemas::format_minor(i128::from(minor), digits);
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(i, f)| (i, f));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |rest| ("-", rest));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if frac.is_empty() {
        format!("{currency} {sign}{grouped}")
    } else {
        format!("{currency} {sign}{grouped}.{frac}")
    }
}

/// The vendor as a sentence shows it.
pub(crate) fn vendor_label(row: &SpendRow) -> &str {
    if row.vendor.is_empty() {
        "an unnamed vendor"
    } else {
        &row.vendor
    }
}

/// The same payment made twice within a few days.
pub fn duplicate_payments(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let runs = BatchRuns::of(rows, config);
    let mut seen: HashMap<(&str, i64, &str, &str), VecDeque<usize>> = HashMap::new();
    let mut hits = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let payer = match config.duplicate_key {
            DuplicateKey::VendorAmount => "",
            DuplicateKey::VendorAmountPayer => row.payer.as_str(),
        };
        let key = (
            row.vendor.as_str(),
            row.amount_minor,
            row.currency.as_str(),
            payer,
        );
        let earlier = seen.entry(key).or_default();
        while earlier
            .front()
            .is_some_and(|&i| (row.day - rows[i].day).num_days() > 30)
        {
            earlier.pop_front();
        }
        let big_enough = row.amount_major() >= config.duplicate_min_major;
        let habitual = earlier.len() >= config.duplicate_habit_count;
        if let Some(&previous) = earlier.back()
            && big_enough
            && !habitual
            && !row.vendor.is_empty()
        {
            let gap = (row.day - rows[previous].day).num_days();
            let within_run = runs.contains(row) && runs.contains(&rows[previous]);
            if gap <= config.duplicate_window_days && !within_run {
                let when = if gap == 0 {
                    "the same day".to_string()
                } else {
                    format!("{gap} day{} earlier", if gap == 1 { "" } else { "s" })
                };
                hits.push(Hit {
                    detector: "duplicate_payment",
                    subject: HitSubject::Row(index),
                    // Closer in time is more likely a double payment than a repeat order.
                    score: 0.95 - 0.05 * gap as f64 / (config.duplicate_window_days.max(1) as f64),
                    reason: format!(
                        "possible duplicate payment: {} to {} matches a payment {} ({})",
                        money(row.amount_minor, row.currency_digits, &row.currency),
                        vendor_label(row),
                        when,
                        rows[previous].transaction_id
                    ),
                    amount_minor: row.amount_minor,
                    expected_minor: None,
                });
            }
        }
        earlier.push_back(index);
    }
    hits
}

/// The (vendor, currency, day)s on which a vendor was paid at least
/// [`RuleConfig::batch_run_min_payments`] times.
///
/// A day is counted whole, including rows booked after the one being judged: rows of one day
/// are in no meaningful order (exports carry dates, not times), so the first payment of a run
/// must be judged like the last. Only a day that arrives split over micro-batches can see its
/// count grow after an earlier part was judged.
struct BatchRuns<'a> {
    days: HashSet<(&'a str, &'a str, NaiveDate)>,
}

impl<'a> BatchRuns<'a> {
    fn of(rows: &'a [SpendRow], config: &RuleConfig) -> BatchRuns<'a> {
        let mut counts: HashMap<(&str, &str, NaiveDate), usize> = HashMap::new();
        for row in rows.iter().filter(|row| !row.vendor.is_empty()) {
            *counts
                .entry((row.vendor.as_str(), row.currency.as_str(), row.day))
                .or_default() += 1;
        }
        let days = counts
            .into_iter()
            .filter(|&(_, count)| count >= config.batch_run_min_payments)
            .map(|(key, _)| key)
            .collect();
        BatchRuns { days }
    }

    fn contains(&self, row: &SpendRow) -> bool {
        self.days
            .contains(&(row.vendor.as_str(), row.currency.as_str(), row.day))
    }
}

/// The value at quantile `q` of sorted values (nearest rank).
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A large first payment to a vendor the tenant never paid before.
pub fn new_vendor_large_first(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let mut by_currency: HashMap<&str, Vec<i64>> = HashMap::new();
    for row in rows {
        by_currency
            .entry(row.currency.as_str())
            .or_default()
            .push(row.amount_minor);
    }
    let thresholds: HashMap<&str, i64> = by_currency
        .into_iter()
        .map(|(currency, mut amounts)| {
            amounts.sort_unstable();
            // Too little history for a quantile to mean anything: the floor alone decides.
            let q = if amounts.len() >= 30 {
                quantile(&amounts, config.new_vendor_quantile).unwrap_or(0)
            } else {
                0
            };
            (currency, q)
        })
        .collect();
    let mut known: HashMap<(&str, &str), ()> = HashMap::new();
    let mut hits = Vec::new();
    let Some(start) = rows.first().map(|r| r.day) else {
        return hits;
    };
    for (index, row) in rows.iter().enumerate() {
        if row.vendor.is_empty() {
            continue;
        }
        let first = known
            .insert((row.vendor.as_str(), row.currency.as_str()), ())
            .is_none();
        // In the tenant's first months every vendor is new (rent, payroll providers, the
        // usual suppliers): judge only once there is a history to be new against.
        if !first || (row.day - start).num_days() < config.new_vendor_warmup_days {
            continue;
        }
        let quantile_minor = thresholds.get(row.currency.as_str()).copied().unwrap_or(0);
        if row.amount_major() < config.new_vendor_min_major || row.amount_minor < quantile_minor {
            continue;
        }
        let ratio = row.amount_minor as f64 / quantile_minor.max(1) as f64;
        hits.push(Hit {
            detector: "new_vendor_large_payment",
            subject: HitSubject::Row(index),
            score: (0.7 + 0.1 * ratio.log2().max(0.0)).min(0.95),
            reason: format!(
                "first payment to {}: {}, above the tenant's usual large payments ({} at the {:.0}th percentile)",
                vendor_label(row),
                money(row.amount_minor, row.currency_digits, &row.currency),
                money(quantile_minor, row.currency_digits, &row.currency),
                config.new_vendor_quantile * 100.0
            ),
            amount_minor: row.amount_minor,
            expected_minor: Some(quantile_minor),
        });
    }
    hits
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn months_between(from: NaiveDate, to: NaiveDate) -> i32 {
    (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32
}

fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        // Integer midpoint without overflow.
        values[n / 2 - 1] / 2 + values[n / 2] / 2 + (values[n / 2 - 1] % 2 + values[n / 2] % 2) / 2
    }
}

/// A category's month far above the median of the months before it, and above every one of
/// the twelve months before it (a category that is lumpy by nature has had big months).
///
/// Months the tenant was active but bought nothing in the category count as zero, so a
/// category bought once a quarter has a low median and is only flagged for a real jump; a
/// baseline median of zero (a category just starting) is never flagged.
pub fn category_spikes(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let first_month = month_start(first.day);
    // (category, currency) → month index → total.
    let mut totals: BTreeMap<(&str, &str), BTreeMap<i32, i64>> = BTreeMap::new();
    let mut digits: HashMap<&str, u8> = HashMap::new();
    let mut active: BTreeMap<i32, ()> = BTreeMap::new();
    for row in rows {
        let month = months_between(first_month, row.day);
        active.insert(month, ());
        digits.insert(row.currency.as_str(), row.currency_digits);
        *totals
            .entry((row.category.as_str(), row.currency.as_str()))
            .or_default()
            .entry(month)
            .or_default() += row.amount_minor;
    }
    let active: Vec<i32> = active.into_keys().collect();
    let mut hits = Vec::new();
    for ((category, currency), months) in &totals {
        let digits = digits.get(currency).copied().unwrap_or(2);
        let scale = 10f64.powi(i32::from(digits));
        for (&month, &total) in months {
            let position = active.partition_point(|&m| m < month);
            if position < 3 {
                continue;
            }
            let window = &active[position.saturating_sub(config.spike_baseline_months)..position];
            let mut baseline: Vec<i64> = window
                .iter()
                .map(|m| months.get(m).copied().unwrap_or(0))
                .collect();
            let median = median(&mut baseline);
            if median <= 0 {
                continue;
            }
            let excess = (total - median) as f64 / scale;
            let ratio = total as f64 / median as f64;
            if ratio < config.spike_factor || excess < config.spike_min_excess_major {
                continue;
            }
            let year = &active[position.saturating_sub(12)..position];
            let previous_max = year
                .iter()
                .map(|m| months.get(m).copied().unwrap_or(0))
                .max()
                .unwrap_or(0);
            if total <= previous_max {
                continue;
            }
            let month_day = first_month
                .checked_add_months(chrono::Months::new(month as u32))
                .unwrap_or(first_month);
            hits.push(Hit {
                detector: "category_spike",
                subject: HitSubject::CategoryMonth {
                    category: (*category).to_string(),
                    month: month_day,
                    currency: (*currency).to_string(),
                },
                score: (0.6 + 0.1 * (ratio / config.spike_factor).log2()).min(0.95),
                reason: format!(
                    "{} spend in {} is {} ({:.1}× the usual {} a month)",
                    category,
                    month_day.format("%Y-%m"),
                    money(total, digits, currency),
                    ratio,
                    money(median, digits, currency)
                ),
                amount_minor: total,
                expected_minor: Some(median),
            });
        }
    }
    hits
}

/// A recurring charge (same price, regular cadence) that suddenly costs something else.
pub fn recurring_price_changes(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let mut history: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut hits = Vec::new();
    let needed = config.recurring_min_charges;
    for (index, row) in rows.iter().enumerate() {
        if row.vendor.is_empty() {
            continue;
        }
        let earlier = history
            .entry((row.vendor.as_str(), row.currency.as_str()))
            .or_default();
        if earlier.len() >= needed
            && let Some(hit) = price_change(rows, &earlier[earlier.len() - needed..], index, config)
        {
            hits.push(hit);
        }
        earlier.push(index);
    }
    hits
}

fn price_change(
    rows: &[SpendRow],
    earlier: &[usize],
    index: usize,
    config: &RuleConfig,
) -> Option<Hit> {
    let row = &rows[index];
    let amounts: Vec<i64> = earlier.iter().map(|&i| rows[i].amount_minor).collect();
    let (low, high) = (*amounts.iter().min()?, *amounts.iter().max()?);
    if low <= 0 || (high - low) as f64 > config.recurring_tolerance * low as f64 {
        return None;
    }
    // A regular cadence: every gap within 20% (or 3 days) of the mean gap, and the new charge
    // arriving on that cadence too — an extra order from a subscription vendor is not a
    // price change.
    let days: Vec<i64> = earlier
        .iter()
        .map(|&i| rows[i].day.num_days_from_ce() as i64)
        .collect();
    let gaps: Vec<i64> = days.windows(2).map(|w| w[1] - w[0]).collect();
    let mean_gap = gaps.iter().sum::<i64>() as f64 / gaps.len() as f64;
    if mean_gap < 6.0 {
        return None;
    }
    let slack = (mean_gap * 0.2).max(3.0);
    let new_gap = (row.day.num_days_from_ce() as i64 - days[days.len() - 1]) as f64;
    let regular = gaps.iter().all(|&g| (g as f64 - mean_gap).abs() <= slack);
    if !regular || (new_gap - mean_gap).abs() > slack {
        return None;
    }
    let price = amounts[amounts.len() - 1];
    let change = (row.amount_minor - price) as f64 / price as f64;
    if change.abs() < config.price_change_min {
        return None;
    }
    Some(Hit {
        detector: "recurring_price_change",
        subject: HitSubject::Row(index),
        score: (0.65 + 0.5 * change.abs()).min(0.95),
        reason: format!(
            "recurring charge from {} changed price by {:+.0}%: {} after {} charges of {}",
            vendor_label(row),
            change * 100.0,
            money(row.amount_minor, row.currency_digits, &row.currency),
            earlier.len(),
            money(price, row.currency_digits, &row.currency)
        ),
        amount_minor: row.amount_minor,
        expected_minor: Some(price),
    })
}

/// Several payments to one vendor within days, each under an approval limit and together
/// over it: a purchase split to dodge approval.
pub fn split_purchases(rows: &[SpendRow], config: &RuleConfig) -> Vec<Hit> {
    let mut limits: Vec<f64> = config.approval_limits_major.clone();
    limits.sort_by(f64::total_cmp);
    let runs = BatchRuns::of(rows, config);
    let mut recent: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
    let mut flagged = vec![false; rows.len()];
    let mut hits = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if row.vendor.is_empty() {
            continue;
        }
        let key = (
            row.vendor.as_str(),
            row.currency.as_str(),
            row.payer.as_str(),
        );
        let group = recent.entry(key).or_default();
        group.retain(|&i| (row.day - rows[i].day).num_days() <= config.split_window_days);
        group.push(index);
        if group.len() < 2 {
            continue;
        }
        let Some(limit) = split_limit(rows, group, &limits, config) else {
            continue;
        };
        // Purchases of the size this vendor always charges (two airline tickets) are not a
        // split: at least one part must be well above the vendor's typical amount.
        let ordinary = group.iter().all(|&i| {
            rows[i]
                .vendor_typical_minor
                .is_some_and(|typical| rows[i].amount_minor <= 2 * typical)
        });
        // A split is a few parts of one purchase; a vendor's batch run is many invoices.
        if ordinary || group.iter().any(|&i| runs.contains(&rows[i])) {
            continue;
        }
        let scale = 10f64.powi(i32::from(row.currency_digits));
        let total: i64 = group.iter().map(|&i| rows[i].amount_minor).sum();
        let limit_minor = (limit * scale).round() as i64;
        for &i in group.iter() {
            if std::mem::replace(&mut flagged[i], true) {
                continue;
            }
            let part = &rows[i];
            hits.push(Hit {
                detector: "split_purchase",
                subject: HitSubject::Row(i),
                score: 0.85,
                reason: format!(
                    "possible split purchase: {} payments to {} within {} days total {}, each under the {} approval limit",
                    group.len(),
                    vendor_label(part),
                    config.split_window_days,
                    money(total, part.currency_digits, &part.currency),
                    money(limit_minor, part.currency_digits, &part.currency)
                ),
                amount_minor: part.amount_minor,
                expected_minor: Some(limit_minor),
            });
        }
    }
    hits
}

/// The approval limit a group of payments was split under, if any: every part under it and
/// at least `split_min_fraction` of it, the total over it.
fn split_limit(
    rows: &[SpendRow],
    group: &[usize],
    limits: &[f64],
    config: &RuleConfig,
) -> Option<f64> {
    let parts: Vec<f64> = group.iter().map(|&i| rows[i].amount_major()).collect();
    let total: f64 = parts.iter().sum();
    let largest = parts.iter().copied().fold(0.0, f64::max);
    let smallest = parts.iter().copied().fold(f64::INFINITY, f64::min);
    // The smallest limit above the largest part is the one being avoided.
    let limit = *limits.iter().find(|&&l| largest < l)?;
    (total > limit && smallest >= config.split_min_fraction * limit).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::SpendRow;

    fn row(day: &str, vendor: &str, category: &str, amount_minor: i64) -> SpendRow {
        SpendRow::for_test(day, vendor, category, amount_minor)
    }

    fn ids(hits: &[Hit]) -> Vec<(&'static str, HitSubject)> {
        hits.iter()
            .map(|h| (h.detector, h.subject.clone()))
            .collect()
    }

    #[test]
    fn duplicate_payment_within_window_is_flagged_once() {
        let rows = vec![
            row("2024-01-02", "Acme Supplies", "supplies", 123_456),
            row("2024-01-03", "Acme Supplies", "supplies", 123_456),
            row("2024-01-20", "Acme Supplies", "supplies", 123_456),
        ];
        let hits = duplicate_payments(&rows, &RuleConfig::default());
        assert_eq!(ids(&hits), vec![("duplicate_payment", HitSubject::Row(1))]);
        assert!(
            hits[0].reason.contains("USD 1,234.56"),
            "{}",
            hits[0].reason
        );
        assert!(hits[0].reason.contains("1 day earlier"));
    }

    #[test]
    fn small_and_habitual_repeats_are_not_duplicates() {
        let mut rows = vec![
            row("2024-01-02", "Blue Bottle", "meals", 675),
            row("2024-01-02", "Blue Bottle", "meals", 675),
        ];
        for day in 1..=5 {
            rows.push(row(
                &format!("2024-02-0{day}"),
                "City Parking",
                "travel",
                6_000,
            ));
        }
        assert!(duplicate_payments(&rows, &RuleConfig::default()).len() <= 2);
        let hits = duplicate_payments(&rows, &RuleConfig::default());
        // Parking day 2 and 3 look like duplicates; from day 4 on it is a habit.
        assert!(hits.iter().all(|h| h.subject != HitSubject::Row(5)));
        assert!(hits.iter().all(|h| h.subject != HitSubject::Row(6)));
    }

    #[test]
    fn payer_key_separates_cards() {
        let mut a = row("2024-01-02", "Hotel", "travel", 45_000);
        a.payer = "1234".into();
        let mut b = row("2024-01-02", "Hotel", "travel", 45_000);
        b.payer = "9876".into();
        let rows = vec![a, b];
        let by_vendor = RuleConfig::default();
        assert_eq!(duplicate_payments(&rows, &by_vendor).len(), 1);
        let by_payer = RuleConfig {
            duplicate_key: DuplicateKey::VendorAmountPayer,
            ..RuleConfig::default()
        };
        assert!(duplicate_payments(&rows, &by_payer).is_empty());
    }

    #[test]
    fn large_first_payment_to_new_vendor() {
        let mut rows: Vec<SpendRow> = (0..40)
            .map(|i| {
                row(
                    &format!("2024-01-{:02}", 1 + i % 28),
                    &format!("V{}", i % 5),
                    "supplies",
                    10_000 + i,
                )
            })
            .collect();
        // Large, but in the tenant's first two months: not judged.
        rows.push(row("2024-02-01", "Landlord", "rent", 900_000));
        rows.push(row(
            "2024-04-01",
            "Shell Co Ltd",
            "professional_services",
            900_000,
        ));
        rows.push(row("2024-04-02", "Small New", "supplies", 5_000));
        let hits = new_vendor_large_first(&rows, &RuleConfig::default());
        assert_eq!(
            ids(&hits),
            vec![("new_vendor_large_payment", HitSubject::Row(41))]
        );
        assert!(hits[0].reason.contains("first payment to Shell Co Ltd"));
    }

    #[test]
    fn category_spike_against_median_of_previous_months() {
        let mut rows = Vec::new();
        for month in 1..=6 {
            rows.push(row(
                &format!("2024-{month:02}-10"),
                "Office Depot",
                "supplies",
                50_000,
            ));
        }
        rows.push(row("2024-07-10", "Office Depot", "supplies", 50_000));
        rows.push(row("2024-07-11", "Office Depot", "supplies", 400_000));
        let hits = category_spikes(&rows, &RuleConfig::default());
        assert_eq!(hits.len(), 1, "{hits:?}");
        let HitSubject::CategoryMonth { month, .. } = &hits[0].subject else {
            panic!("not a category month")
        };
        assert_eq!(*month, NaiveDate::from_ymd_opt(2024, 7, 1).unwrap());
        assert_eq!(hits[0].expected_minor, Some(50_000));
        assert!(hits[0].reason.contains("9.0×"), "{}", hits[0].reason);
    }

    #[test]
    fn recurring_price_change_needs_a_stable_cadence() {
        let rows = vec![
            row("2024-01-05", "Slack", "software", 8_000),
            row("2024-02-05", "Slack", "software", 8_000),
            row("2024-03-05", "Slack", "software", 8_000),
            row("2024-04-05", "Slack", "software", 9_600),
            row("2024-04-06", "Slack", "software", 50_000),
        ];
        let hits = recurring_price_changes(&rows, &RuleConfig::default());
        assert_eq!(
            ids(&hits),
            vec![("recurring_price_change", HitSubject::Row(3))]
        );
        assert!(hits[0].reason.contains("+20%"), "{}", hits[0].reason);
    }

    #[test]
    fn split_purchase_under_an_approval_limit() {
        let rows = vec![
            row("2024-03-01", "Dell", "equipment", 480_000),
            row("2024-03-02", "Dell", "equipment", 470_000),
            row("2024-03-20", "Dell", "equipment", 90_000),
        ];
        let hits = split_purchases(&rows, &RuleConfig::default());
        assert_eq!(
            ids(&hits),
            vec![
                ("split_purchase", HitSubject::Row(0)),
                ("split_purchase", HitSubject::Row(1))
            ]
        );
        assert!(
            hits[0].reason.contains("USD 5,000.00"),
            "{}",
            hits[0].reason
        );
    }

    /// An agency's timesheets paid on one day: the rates repeat, none is a duplicate or a split.
    fn batch_run(day: &str) -> Vec<SpendRow> {
        [188_747, 188_747, 252_790, 252_790, 235_934]
            .into_iter()
            .map(|amount| row(day, "Anders Elite", "contractors", amount))
            .collect()
    }

    #[test]
    fn identical_amounts_in_a_batch_run_are_not_duplicates() {
        let mut rows = batch_run("2024-04-01");
        // The same vendor on an ordinary day: two identical payments still are.
        rows.push(row("2024-04-10", "Anders Elite", "contractors", 99_000));
        rows.push(row("2024-04-10", "Anders Elite", "contractors", 99_000));
        let hits = duplicate_payments(&rows, &RuleConfig::default());
        assert_eq!(ids(&hits), vec![("duplicate_payment", HitSubject::Row(6))]);
        // A run starts at the configured count: four payments here, so with five it is not one.
        let stricter = RuleConfig {
            batch_run_min_payments: 6,
            ..RuleConfig::default()
        };
        assert_eq!(duplicate_payments(&rows, &stricter).len(), 3);
        // A payment matching a run's rate on an ordinary day is compared as before.
        rows.push(row("2024-04-02", "Anders Elite", "contractors", 235_934));
        rows.sort_by_key(|r| r.day);
        let hits = duplicate_payments(&rows, &RuleConfig::default());
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(
            hits[0].reason.contains("1 day earlier"),
            "{}",
            hits[0].reason
        );
    }

    #[test]
    fn a_batch_run_is_not_a_split_purchase() {
        // Each part is between half of the USD 2,500 limit and the limit, the total above it.
        let rows = batch_run("2024-04-01");
        assert!(split_purchases(&rows, &RuleConfig::default()).is_empty());
        let hits = split_purchases(&rows[..2], &RuleConfig::default());
        assert_eq!(hits.len(), 2, "two parts alone are a split: {hits:?}");
    }

    #[test]
    fn config_validation_names_the_field() {
        let bad = RuleConfig {
            spike_factor: 0.0,
            ..RuleConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("spike_factor"));
        assert!(RuleConfig::default().validate().is_ok());
        let parsed: Result<RuleConfig, _> = serde_json::from_str(r#"{"spike_factr": 2}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(123_456_789, 2, "USD"), "USD 1,234,567.89");
        assert_eq!(money(5_000, 0, "JPY"), "JPY 5,000");
        assert_eq!(money(-1, 3, "BHD"), "BHD -0.001");
    }
}
