//! SpendScore v2: the classic score's intent on canonical transactions, with robust statistics
//! and a sentence per metric that says what drove it.
//!
//! Definition (also in `docs/spendscore-v2.md`): a tenant is scored in its main currency over
//! rolling windows of 30, 90 and 365 days ending on its latest spend day. Six metrics, each
//! 0–100, are weighted like the classic ones:
//!
//! | metric | weight | 100 means | 0 means |
//! |---|---|---|---|
//! | categorisation | 15 | every spend row has a category | ≥ 40% of spend uncategorised |
//! | concentration | 10 | spend spread like ≥ 5 equal vendors | all spend with one vendor |
//! | budget | 20 | window spend ≤ 110% of the median of the previous equal periods in the year before | ≥ 200% |
//! | redundancy | 15 | no repeat charge (same vendor and amount) within 24 h | repeats ≥ 5% of spend |
//! | spike | 20 | no charge above its category's robust baseline | many outliers |
//! | waste | 20 | nothing on meals & entertainment or bank fees | ≥ 25% of spend on them |
//!
//! Against the classic score's known flaws: only `spend` counts (credits are income unless they
//! refund a charge from the same vendor, then they cancel it); vendors are the normalised ones;
//! repeat charges are paired by vendor on true dates and times, not by position; outliers are
//! judged per category with the median and MAD of log amounts, and one outlier among ten or
//! more charges costs at most three quarters of the spike metric instead of all of it; the
//! taxonomy replaces substring rules. A metric that cannot be computed (no history before the
//! window, no vendor names) is left out and its weight spread over the others; its sentence
//! says so. The final score is rounded half to even and banded as the classic one.
//!
//! Everything here is pure and deterministic: the same rows give the same score.

use std::collections::{BTreeMap, HashMap};

use arrow_array::types::{Date32Type, Int8Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use verocta_schemas::{Category, SCORE_METRICS, ScoreMetric, SpendScore};

use super::classic::{Band, final_score};
use crate::anomaly::features::{FeatureError, text, typed};

/// The model name stored with every score.
pub const MODEL: &str = "v2";
/// Version of this definition; bumped whenever a number it produces can change.
pub const MODEL_VERSION: &str = "2.0";
/// The rolling windows, in days.
pub const WINDOWS: [u16; 3] = [30, 90, 365];

/// Weights in percent, in [`SCORE_METRICS`] order.
pub const WEIGHTS: [f64; 6] = [15.0, 10.0, 20.0, 15.0, 20.0, 20.0];

/// Categories whose spend counts as avoidable.
pub const WASTE_CATEGORIES: [Category; 2] = [Category::MealsEntertainment, Category::BankFees];

/// One spend or credit row of a tenant, in one currency.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    /// Booked date.
    pub day: NaiveDate,
    /// Seconds after midnight, when the source had a time.
    pub time_s: Option<i32>,
    /// Magnitude in minor units (never negative).
    pub amount_minor: i64,
    /// A credit (money in) rather than spend.
    pub credit: bool,
    /// Normalised vendor, "" when unknown.
    pub vendor: String,
    /// Category code.
    pub category: String,
}

impl ScoreRow {
    /// A spend row, for tests and examples.
    pub fn spend(day: NaiveDate, vendor: &str, category: Category, amount_minor: i64) -> Self {
        ScoreRow {
            day,
            time_s: None,
            amount_minor,
            credit: false,
            vendor: vendor.into(),
            category: category.code().into(),
        }
    }
}

/// One tenant's rows in its main currency, sorted by day then time.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantRows {
    /// Tenant.
    pub tenant_id: String,
    /// The currency scored.
    pub currency: String,
    /// Its minor digits.
    pub digits: u8,
    /// Spend and credit rows in that currency.
    pub rows: Vec<ScoreRow>,
    /// Rows left out because they are in another currency.
    pub other_currency_rows: usize,
}

/// A score over one window, before it is stamped with tenant and provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowScore {
    /// Window length.
    pub window_days: u16,
    /// First day.
    pub period_start: NaiveDate,
    /// Last day (inclusive).
    pub period_end: NaiveDate,
    /// Rounded score.
    pub score: u32,
    /// Unrounded weighted score.
    pub weighted: f64,
    /// Metrics in [`SCORE_METRICS`] order.
    pub metrics: Vec<ScoreMetric>,
    /// Spend rows in the window.
    pub transactions: u64,
    /// Net spend.
    pub spend_minor: i64,
    /// Refunds netted.
    pub refunds_minor: i64,
}

impl WindowScore {
    /// The canonical record.
    pub fn into_record(
        self,
        tenant: &TenantRows,
        source_version: i64,
        scored_at: DateTime<Utc>,
    ) -> SpendScore {
        let band = Band::from_score(self.score);
        SpendScore {
            tenant_id: tenant.tenant_id.clone(),
            model: MODEL.into(),
            model_version: MODEL_VERSION.into(),
            window_days: self.window_days,
            period_start: self.period_start,
            period_end: self.period_end,
            currency: tenant.currency.clone(),
            score: u8::try_from(self.score).unwrap_or(100),
            band: format!("{band:?}"),
            label: band.label().into(),
            weighted: self.weighted,
            metrics: self.metrics,
            transactions: self.transactions,
            spend_minor: self.spend_minor,
            refunds_minor: self.refunds_minor,
            source_version,
            scored_at,
        }
    }
}

/// Scores a tenant over every window in [`WINDOWS`] ending on its latest spend day. Windows
/// without net spend get no score.
pub fn score_tenant(tenant: &TenantRows) -> Vec<WindowScore> {
    let Some(end) = tenant
        .rows
        .iter()
        .filter(|r| !r.credit)
        .map(|r| r.day)
        .max()
    else {
        return Vec::new();
    };
    WINDOWS
        .iter()
        .filter_map(|&days| score_window(tenant, end, days))
        .collect()
}

/// Scores the window of `days` days ending on `end` (inclusive); `None` without net spend.
pub fn score_window(tenant: &TenantRows, end: NaiveDate, days: u16) -> Option<WindowScore> {
    let start = end - Duration::days(i64::from(days) - 1);
    let in_window: Vec<&ScoreRow> = tenant
        .rows
        .iter()
        .filter(|r| r.day >= start && r.day <= end)
        .collect();
    let window = Window::build(&in_window);
    if window.net_minor <= 0 {
        return None;
    }
    let fmt = Fmt {
        currency: &tenant.currency,
        digits: tenant.digits,
    };
    let metrics = vec![
        categorisation(&window, &fmt),
        concentration(&window),
        budget(tenant, &window, start, end, days, &fmt),
        redundancy(&window, &fmt),
        spike(&window, &fmt),
        waste(&window, &fmt),
    ];
    debug_assert!(
        metrics
            .iter()
            .map(|m| m.name.as_str())
            .eq(SCORE_METRICS.iter().copied())
    );
    let (sum, weights) = metrics
        .iter()
        .filter_map(|m| m.value.map(|v| (v * m.weight, m.weight)))
        .fold((0.0, 0.0), |(s, w), (vs, ws)| (s + vs, w + ws));
    let weighted = if weights > 0.0 { sum / weights } else { 0.0 };
    Some(WindowScore {
        window_days: days,
        period_start: start,
        period_end: end,
        score: final_score(weighted),
        weighted,
        metrics,
        transactions: window.charges.len() as u64,
        spend_minor: window.net_minor,
        refunds_minor: window.refunds_minor,
    })
}

/// A window's spend after refunds are matched.
struct Window<'a> {
    /// Spend rows not cancelled by a refund, in booking order.
    charges: Vec<&'a ScoreRow>,
    /// Net spend: charges less refunds netted against their vendor.
    net_minor: i64,
    /// Refunds matched to a charge or netted against a vendor.
    refunds_minor: i64,
    /// Net spend per vendor ("" = unknown).
    by_vendor: HashMap<&'a str, i64>,
}

impl<'a> Window<'a> {
    /// Matches each credit to the latest earlier charge of the same vendor and amount (the
    /// charge is cancelled), else nets it against the vendor's spend in the window (never
    /// below zero). Other credits are income and ignored.
    fn build(rows: &[&'a ScoreRow]) -> Window<'a> {
        let mut cancelled = vec![false; rows.len()];
        let mut netted: HashMap<&str, i64> = HashMap::new();
        let mut refunds_minor = 0;
        for (i, credit) in rows.iter().enumerate() {
            if !credit.credit || credit.vendor.is_empty() {
                continue;
            }
            let matched = (0..i).rev().find(|&j| {
                let charge = rows[j];
                !charge.credit
                    && !cancelled[j]
                    && charge.vendor == credit.vendor
                    && charge.amount_minor == credit.amount_minor
            });
            match matched {
                Some(j) => {
                    cancelled[j] = true;
                    refunds_minor += credit.amount_minor;
                }
                None => *netted.entry(credit.vendor.as_str()).or_default() += credit.amount_minor,
            }
        }
        let charges: Vec<&ScoreRow> = rows
            .iter()
            .zip(&cancelled)
            .filter(|(r, cancelled)| !r.credit && !**cancelled)
            .map(|(r, _)| *r)
            .collect();
        let mut by_vendor: HashMap<&str, i64> = HashMap::new();
        for charge in &charges {
            *by_vendor.entry(charge.vendor.as_str()).or_default() += charge.amount_minor;
        }
        for (vendor, credit) in netted {
            if let Some(spent) = by_vendor.get_mut(vendor) {
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

fn metric(index: usize, value: Option<f64>, explanation: String) -> ScoreMetric {
    ScoreMetric {
        name: SCORE_METRICS[index].into(),
        value,
        weight: WEIGHTS[index],
        explanation,
    }
}

fn categorisation(window: &Window, fmt: &Fmt) -> ScoreMetric {
    let uncategorised: Vec<&&ScoreRow> = window
        .charges
        .iter()
        .filter(|r| r.category == Category::Uncategorized.code())
        .collect();
    let minor: i64 = uncategorised.iter().map(|r| r.amount_minor).sum();
    let share = window.share(minor).min(1.0);
    let value = falloff(share, 0.4);
    let why = if uncategorised.is_empty() {
        format!("Categorisation {value:.0}: every charge has a category.")
    } else {
        format!(
            "Categorisation {value:.0}: {} of spend ({}, {} charges) has no category; mapping \
             their accounts to categories would raise it.",
            pct(share),
            fmt.money(minor),
            uncategorised.len()
        )
    };
    metric(0, Some(value), why)
}

fn concentration(window: &Window) -> ScoreMetric {
    let named: Vec<(&str, i64)> = window
        .by_vendor
        .iter()
        .filter(|(v, m)| !v.is_empty() && **m > 0)
        .map(|(v, m)| (*v, *m))
        .collect();
    let total: i64 = named.iter().map(|(_, m)| m).sum();
    if total <= 0 {
        return metric(
            1,
            None,
            "Concentration not scored: no charge in the window names its vendor.".into(),
        );
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
    // Largest vendor; ties broken by name so the sentence is deterministic.
    let (top, top_minor) = named
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .copied()
        .unwrap_or(("", 0));
    let why = format!(
        "Concentration {value:.0}: spend is spread like {effective:.1} equal vendors; the \
         largest, {}, took {}.",
        vendor_name(top),
        pct(top_minor as f64 / total as f64)
    );
    metric(1, Some(value), why)
}

fn budget(
    tenant: &TenantRows,
    window: &Window,
    start: NaiveDate,
    end: NaiveDate,
    days: u16,
    fmt: &Fmt,
) -> ScoreMetric {
    let first = tenant
        .rows
        .iter()
        .filter(|r| !r.credit)
        .map(|r| r.day)
        .min();
    let length = i64::from(days);
    let periods = (365 / length).clamp(1, 12);
    let mut sums = Vec::new();
    for k in 1..=periods {
        let p_start = start - Duration::days(k * length);
        let p_end = start - Duration::days((k - 1) * length + 1);
        if first.is_none_or(|f| f > p_start) {
            break;
        }
        let sum: i64 = tenant
            .rows
            .iter()
            .filter(|r| !r.credit && r.day >= p_start && r.day <= p_end)
            .map(|r| r.amount_minor)
            .sum();
        sums.push(sum);
    }
    if sums.is_empty() {
        let why = format!(
            "Budget not scored: it compares the window with the previous {days} days, and the \
             history starts {}.",
            first.unwrap_or(end)
        );
        return metric(2, None, why);
    }
    let baseline = median_i64(&mut sums);
    let spent: i64 = window.charges.iter().map(|r| r.amount_minor).sum();
    if baseline <= 0 {
        let why = format!(
            "Budget not scored: nothing was spent in the previous {} period(s) of {days} days.",
            sums.len()
        );
        return metric(2, None, why);
    }
    let ratio = spent as f64 / baseline as f64;
    let value = if ratio <= 1.1 {
        100.0
    } else {
        falloff(ratio - 1.1, 0.9)
    };
    let direction = if ratio >= 1.0 {
        format!("{} above", pct(ratio - 1.0))
    } else {
        format!("{} below", pct(1.0 - ratio))
    };
    let why = format!(
        "Budget {value:.0}: {} spent in these {days} days, {direction} the {} typical of the \
         previous {} such period(s).",
        fmt.money(spent),
        fmt.money(baseline),
        sums.len()
    );
    metric(2, Some(value), why)
}

fn redundancy(window: &Window, fmt: &Fmt) -> ScoreMetric {
    let mut last_seen: HashMap<(&str, i64), (NaiveDate, Option<i32>)> = HashMap::new();
    let mut repeats = 0usize;
    let mut repeat_minor = 0i64;
    let mut vendors: BTreeMap<&str, usize> = BTreeMap::new();
    for charge in &window.charges {
        if charge.vendor.is_empty() {
            continue;
        }
        let key = (charge.vendor.as_str(), charge.amount_minor);
        if let Some(&(day, time)) = last_seen.get(&key)
            && within_24h(day, time, charge.day, charge.time_s)
        {
            repeats += 1;
            repeat_minor += charge.amount_minor;
            *vendors.entry(charge.vendor.as_str()).or_default() += 1;
        }
        last_seen.insert(key, (charge.day, charge.time_s));
    }
    let share = window.share(repeat_minor);
    let value = falloff(share, 0.05);
    let why = if repeats == 0 {
        format!("Redundancy {value:.0}: no repeat charge (same vendor, same amount) within 24h.")
    } else {
        let top = vendors
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(v, _)| vendor_name(v))
            .unwrap_or_default();
        format!(
            "Redundancy {value:.0}: {repeats} repeat charge(s) from {} vendor(s) within 24h, \
             worth {} ({} of spend); most from {top}.",
            vendors.len(),
            fmt.money(repeat_minor),
            pct(share)
        )
    };
    metric(3, Some(value), why)
}

/// Two charges are within 24 hours: by their times when both have one, else on the same day.
fn within_24h(
    a_day: NaiveDate,
    a_time: Option<i32>,
    b_day: NaiveDate,
    b_time: Option<i32>,
) -> bool {
    match (a_time, b_time) {
        (Some(a), Some(b)) => {
            let seconds = (b_day - a_day).num_days() * 86_400 + i64::from(b) - i64::from(a);
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

fn spike(window: &Window, fmt: &Fmt) -> ScoreMetric {
    let overall = Baseline::of(window.charges.iter().map(|r| r.amount_minor));
    let mut by_category: HashMap<&str, Vec<i64>> = HashMap::new();
    for charge in &window.charges {
        by_category
            .entry(charge.category.as_str())
            .or_default()
            .push(charge.amount_minor);
    }
    let baselines: HashMap<&str, Baseline> = by_category
        .into_iter()
        .filter(|(_, amounts)| amounts.len() >= SPIKE_MIN_CATEGORY_ROWS)
        .filter_map(|(c, amounts)| Baseline::of(amounts.into_iter()).map(|b| (c, b)))
        .collect();
    let mut outliers: Vec<(&ScoreRow, f64)> = Vec::new();
    for charge in &window.charges {
        let baseline = baselines.get(charge.category.as_str()).or(overall.as_ref());
        if let Some(ratio) = baseline.and_then(|b| b.outlier_ratio(charge.amount_minor)) {
            outliers.push((charge, ratio));
        }
    }
    let n = window.charges.len().max(1) as f64;
    let outlier_minor: i64 = outliers.iter().map(|(r, _)| r.amount_minor).sum();
    let share = window.share(outlier_minor).min(1.0);
    let value = falloff(outliers.len() as f64 / n, 0.2) * (1.0 - share.min(0.5));
    let why = match outliers
        .iter()
        .max_by(|a, b| a.0.amount_minor.cmp(&b.0.amount_minor))
    {
        None => {
            format!("Spike {value:.0}: no charge stands out from its category's typical amount.")
        }
        Some((largest, ratio)) => format!(
            "Spike {value:.0}: {} charge(s) far above their category's typical amount, {} of \
             spend; the largest, {} to {} ({}), is {ratio:.0}× typical.",
            outliers.len(),
            pct(share),
            fmt.money(largest.amount_minor),
            vendor_name(&largest.vendor),
            category_label(&largest.category)
        ),
    };
    metric(4, Some(value), why)
}

fn waste(window: &Window, fmt: &Fmt) -> ScoreMetric {
    let mut parts: Vec<(Category, i64)> = Vec::new();
    for category in WASTE_CATEGORIES {
        let minor: i64 = window
            .charges
            .iter()
            .filter(|r| r.category == category.code())
            .map(|r| r.amount_minor)
            .sum();
        if minor > 0 {
            parts.push((category, minor));
        }
    }
    let total: i64 = parts.iter().map(|(_, m)| m).sum();
    let share = window.share(total).min(1.0);
    let value = falloff(share, 0.25);
    let why = if parts.is_empty() {
        format!("Waste {value:.0}: nothing spent on meals & entertainment or bank fees.")
    } else {
        let detail: Vec<String> = parts
            .iter()
            .map(|(c, m)| format!("{} {}", c.label(), fmt.money(*m)))
            .collect();
        format!(
            "Waste {value:.0}: {} of spend ({}) went on avoidable costs: {}.",
            pct(share),
            fmt.money(total),
            detail.join(", ")
        )
    };
    metric(5, Some(value), why)
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

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn vendor_name(vendor: &str) -> String {
    if vendor.is_empty() {
        "an unnamed vendor".into()
    } else {
        vendor.into()
    }
}

fn category_label(code: &str) -> &'static str {
    Category::from_code(code).map_or("Uncategorised", Category::label)
}

/// Money for sentences: whole units with thousands separators from 100 up, else two
/// decimals; a symbol for the common currencies, the code otherwise.
struct Fmt<'a> {
    currency: &'a str,
    digits: u8,
}

impl Fmt<'_> {
    fn money(&self, minor: i64) -> String {
        let major = minor as f64 / 10f64.powi(i32::from(self.digits));
        let number = if major.abs() >= 100.0 {
            group_thousands(major.round() as i64)
        } else {
            format!("{major:.2}")
        };
        match self.currency {
            "GBP" => format!("£{number}"),
            "USD" => format!("${number}"),
            "EUR" => format!("€{number}"),
            code => format!("{number} {code}"),
        }
    }
}

fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

// ---------------------------------------------------------------------------------------------
// Reading rows from the transactions table
// ---------------------------------------------------------------------------------------------

/// The query that reads what v2 needs from `source` (a table of canonical transactions),
/// restricted by the SQL predicate `filter`, ordered for [`tenants_from_batches`].
pub fn rows_sql(source: &str, filter: &str) -> String {
    format!(
        "SELECT tenant_id, booked_date, booked_time_s, amount_minor, currency, currency_digits, \
                class, COALESCE(vendor, '') AS vendor, category \
         FROM {source} \
         WHERE class IN ('spend', 'credit') AND ({filter}) \
         ORDER BY tenant_id, booked_date, booked_time_s NULLS FIRST, transaction_id"
    )
}

/// Groups rows from [`rows_sql`] per tenant, keeping each tenant's main currency (the one
/// with the most spend rows; ties go to the alphabetically first code).
pub fn tenants_from_batches(batches: &[RecordBatch]) -> Result<Vec<TenantRows>, FeatureError> {
    // tenant → currency → (digits, rows, spend rows)
    type ByCurrency = BTreeMap<String, (u8, Vec<ScoreRow>, usize)>;
    let mut grouped: BTreeMap<String, ByCurrency> = BTreeMap::new();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    for batch in batches {
        let tenant = text(batch, "tenant_id")?;
        let currency = text(batch, "currency")?;
        let class = text(batch, "class")?;
        let vendor = text(batch, "vendor")?;
        let category = text(batch, "category")?;
        let day = typed::<arrow_array::PrimitiveArray<Date32Type>>(batch, "booked_date")?;
        let time = typed::<arrow_array::PrimitiveArray<Int32Type>>(batch, "booked_time_s")?;
        let amount = typed::<arrow_array::PrimitiveArray<Int64Type>>(batch, "amount_minor")?;
        let digits = typed::<arrow_array::PrimitiveArray<Int8Type>>(batch, "currency_digits")?;
        for i in 0..batch.num_rows() {
            let credit = class[i] == "credit";
            let row = ScoreRow {
                day: epoch + Duration::days(i64::from(day.value(i))),
                time_s: (!time.is_null(i)).then(|| time.value(i)),
                amount_minor: amount.value(i).abs(),
                credit,
                vendor: vendor[i].clone(),
                category: category[i].clone(),
            };
            let entry = grouped
                .entry(tenant[i].clone())
                .or_default()
                .entry(currency[i].clone())
                .or_insert_with(|| (u8::try_from(digits.value(i)).unwrap_or(2), Vec::new(), 0));
            entry.1.push(row);
            entry.2 += usize::from(!credit);
        }
    }
    Ok(grouped
        .into_iter()
        .filter_map(|(tenant_id, currencies)| {
            let total: usize = currencies.values().map(|(_, rows, _)| rows.len()).sum();
            let (currency, (digits, rows, _)) = currencies
                .into_iter()
                .max_by(|a, b| (a.1).2.cmp(&(b.1).2).then(b.0.cmp(&a.0)))?;
            Some(TenantRows {
                tenant_id,
                currency,
                digits,
                other_currency_rows: total - rows.len(),
                rows,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tenant(rows: Vec<ScoreRow>) -> TenantRows {
        let mut rows = rows;
        rows.sort_by_key(|r| (r.day, r.time_s));
        TenantRows {
            tenant_id: "acme".into(),
            currency: "USD".into(),
            digits: 2,
            rows,
            other_currency_rows: 0,
        }
    }

    /// 60 days of ordinary spend across six vendors and five categories.
    fn ordinary(from: &str, days: i64) -> Vec<ScoreRow> {
        let vendors = [
            ("aws", Category::CloudHosting, 12_000),
            ("slack", Category::SoftwareSaas, 8_000),
            ("staples", Category::OfficeSupplies, 5_000),
            ("uber", Category::Travel, 3_000),
            ("dell", Category::ItHardware, 15_000),
            ("bt", Category::Telecom, 7_000),
        ];
        let start = day(from);
        (0..days)
            .map(|i| {
                let (vendor, category, amount) = vendors[(i % 6) as usize];
                ScoreRow::spend(start + Duration::days(i), vendor, category, amount + i * 7)
            })
            .collect()
    }

    fn metric_value(score: &WindowScore, name: &str) -> Option<f64> {
        score
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
    }

    fn why(score: &WindowScore, name: &str) -> String {
        score
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.explanation.clone())
            .unwrap()
    }

    #[test]
    fn clean_books_score_green_and_budget_needs_history() {
        let t = tenant(ordinary("2024-01-01", 60));
        let scores = score_tenant(&t);
        let s30 = scores.iter().find(|s| s.window_days == 30).unwrap();
        assert_eq!(s30.period_end, day("2024-02-29"));
        assert_eq!(s30.period_start, day("2024-01-31"));
        assert_eq!(metric_value(s30, "redundancy"), Some(100.0));
        assert_eq!(metric_value(s30, "waste"), Some(100.0));
        assert_eq!(metric_value(s30, "spike"), Some(100.0));
        assert_eq!(
            metric_value(s30, "budget"),
            Some(100.0),
            "{}",
            why(s30, "budget")
        );
        assert!(s30.score >= 90, "{s30:?}");
        // The 90-day window has no 90 days of history before it.
        let s90 = scores.iter().find(|s| s.window_days == 90).unwrap();
        assert_eq!(metric_value(s90, "budget"), None);
        assert!(why(s90, "budget").contains("not scored"));
    }

    #[test]
    fn redundancy_explains_repeat_charges_in_money() {
        let mut rows = ordinary("2024-01-01", 30);
        for _ in 0..2 {
            rows.push(ScoreRow::spend(
                day("2024-01-20"),
                "zoom",
                Category::SoftwareSaas,
                60_200,
            ));
        }
        let t = tenant(rows);
        let s = score_window(&t, day("2024-01-30"), 30).unwrap();
        let text = why(&s, "redundancy");
        assert!(
            text.contains("1 repeat charge(s) from 1 vendor(s) within 24h, worth $602"),
            "{text}"
        );
        assert!(metric_value(&s, "redundancy").unwrap() < 100.0);
    }

    #[test]
    fn refunded_duplicate_is_not_redundant_and_nets_spend() {
        let mut rows = ordinary("2024-01-01", 30);
        rows.push(ScoreRow::spend(
            day("2024-01-20"),
            "zoom",
            Category::SoftwareSaas,
            60_200,
        ));
        rows.push(ScoreRow::spend(
            day("2024-01-20"),
            "zoom",
            Category::SoftwareSaas,
            60_200,
        ));
        let mut refund = ScoreRow::spend(day("2024-01-22"), "zoom", Category::SoftwareSaas, 60_200);
        refund.credit = true;
        rows.push(refund);
        // Income from a customer is not a refund.
        let mut income = ScoreRow::spend(
            day("2024-01-23"),
            "customer",
            Category::Uncategorized,
            900_000,
        );
        income.credit = true;
        rows.push(income);
        let t = tenant(rows);
        let s = score_window(&t, day("2024-01-30"), 30).unwrap();
        assert_eq!(
            metric_value(&s, "redundancy"),
            Some(100.0),
            "{}",
            why(&s, "redundancy")
        );
        assert_eq!(s.refunds_minor, 60_200);
        assert_eq!(metric_value(&s, "categorisation"), Some(100.0));
    }

    #[test]
    fn true_times_pair_charges_across_midnight() {
        assert!(within_24h(
            day("2024-01-01"),
            Some(23 * 3600),
            day("2024-01-02"),
            Some(3600)
        ));
        assert!(!within_24h(
            day("2024-01-01"),
            Some(3600),
            day("2024-01-02"),
            Some(7200)
        ));
        assert!(!within_24h(
            day("2024-01-01"),
            None,
            day("2024-01-02"),
            None
        ));
        assert!(within_24h(day("2024-01-01"), None, day("2024-01-01"), None));
    }

    #[test]
    fn one_outlier_cannot_zero_the_spike_metric() {
        let mut rows = ordinary("2024-01-01", 60);
        // 100× a normal travel charge: classic would zero its spike metric.
        rows.push(ScoreRow::spend(
            day("2024-02-10"),
            "emirates",
            Category::Travel,
            300_000 * 100,
        ));
        let t = tenant(rows);
        let s = score_window(&t, day("2024-02-29"), 60).unwrap();
        let spike = metric_value(&s, "spike").unwrap();
        assert!(
            spike > 40.0 && spike < 100.0,
            "{spike}: {}",
            why(&s, "spike")
        );
        let text = why(&s, "spike");
        assert!(
            text.contains("1 charge(s)") && text.contains("emirates") && text.contains("Travel"),
            "{text}"
        );
    }

    #[test]
    fn budget_compares_with_previous_periods() {
        let mut rows = ordinary("2023-01-01", 400);
        // Double spend in the last 30 days.
        let extra: Vec<ScoreRow> = rows
            .iter()
            .filter(|r| r.day > day("2024-01-05"))
            .cloned()
            .collect();
        rows.extend(extra);
        let t = tenant(rows);
        let s = score_window(&t, day("2024-02-04"), 30).unwrap();
        let budget = metric_value(&s, "budget").unwrap();
        assert!(budget < 20.0, "{budget}: {}", why(&s, "budget"));
        assert!(
            why(&s, "budget").contains("above the"),
            "{}",
            why(&s, "budget")
        );
        assert!(why(&s, "budget").contains("previous 12 such period(s)"));
    }

    #[test]
    fn waste_and_uncategorised_name_their_money() {
        let mut rows = ordinary("2024-01-01", 30);
        rows.push(ScoreRow::spend(
            day("2024-01-10"),
            "nandos",
            Category::MealsEntertainment,
            50_000,
        ));
        rows.push(ScoreRow::spend(
            day("2024-01-11"),
            "barclays",
            Category::BankFees,
            2_500,
        ));
        rows.push(ScoreRow::spend(
            day("2024-01-12"),
            "",
            Category::Uncategorized,
            40_000,
        ));
        let t = tenant(rows);
        let s = score_window(&t, day("2024-01-30"), 30).unwrap();
        let text = why(&s, "waste");
        assert!(
            text.contains("Meals & entertainment $500")
                && text.contains("Bank & payment fees $25.00"),
            "{text}"
        );
        assert!(
            why(&s, "categorisation").contains("1 charges"),
            "{}",
            why(&s, "categorisation")
        );
        assert!(metric_value(&s, "waste").unwrap() < 100.0);
    }

    #[test]
    fn missing_metric_weight_is_spread_over_the_others() {
        let rows: Vec<ScoreRow> = (0..10)
            .map(|i| {
                ScoreRow::spend(
                    day("2024-01-01") + Duration::days(i),
                    "",
                    Category::Travel,
                    1_000,
                )
            })
            .collect();
        let t = tenant(rows);
        let s = score_window(&t, day("2024-01-10"), 30).unwrap();
        assert_eq!(metric_value(&s, "concentration"), None);
        assert_eq!(metric_value(&s, "budget"), None);
        // The four present metrics are all 100, so the score is 100, not 70.
        assert_eq!(s.score, 100);
    }

    #[test]
    fn main_currency_is_the_one_with_most_spend_rows() {
        use arrow_array::{Date32Array, Int8Array, Int32Array, Int64Array, StringArray};
        use std::sync::Arc;
        let batch = RecordBatch::try_from_iter(vec![
            (
                "tenant_id",
                Arc::new(StringArray::from(vec!["a", "a", "a"])) as _,
            ),
            (
                "booked_date",
                Arc::new(Date32Array::from(vec![19_000, 19_001, 19_002])) as _,
            ),
            (
                "booked_time_s",
                Arc::new(Int32Array::from(vec![None, Some(5), None])) as _,
            ),
            (
                "amount_minor",
                Arc::new(Int64Array::from(vec![100, 200, 300])) as _,
            ),
            (
                "currency",
                Arc::new(StringArray::from(vec!["EUR", "GBP", "GBP"])) as _,
            ),
            (
                "currency_digits",
                Arc::new(Int8Array::from(vec![2, 2, 2])) as _,
            ),
            (
                "class",
                Arc::new(StringArray::from(vec!["spend", "spend", "spend"])) as _,
            ),
            (
                "vendor",
                Arc::new(StringArray::from(vec!["x", "y", "z"])) as _,
            ),
            (
                "category",
                Arc::new(StringArray::from(vec!["travel", "travel", "travel"])) as _,
            ),
        ])
        .unwrap();
        let tenants = tenants_from_batches(&[batch]).unwrap();
        assert_eq!(tenants.len(), 1);
        assert_eq!(tenants[0].currency, "GBP");
        assert_eq!(tenants[0].rows.len(), 2);
        assert_eq!(tenants[0].other_currency_rows, 1);
        assert_eq!(tenants[0].rows[0].time_s, Some(5));
    }

    #[test]
    fn money_formatting() {
        let gbp = Fmt {
            currency: "GBP",
            digits: 2,
        };
        assert_eq!(gbp.money(120_440_000), "£1,204,400");
        assert_eq!(gbp.money(2_550), "£25.50");
        let jpy = Fmt {
            currency: "JPY",
            digits: 0,
        };
        assert_eq!(jpy.money(1_234_567), "1,234,567 JPY");
    }
}
