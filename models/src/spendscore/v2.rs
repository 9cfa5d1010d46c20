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
//! Everything here is pure and deterministic: the same rows give the same score. The
//! arithmetic is [`super::v2_metrics`] (std only, generic over vendor and category keys, so
//! the Arroyo UDF and the DataFusion aggregate compute it from the same file); this module
//! reads the rows and writes the sentences.

use std::collections::BTreeMap;

use arrow_array::types::{Date32Type, Int8Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use verocta_schemas::{Category, SCORE_METRICS, ScoreMetric, SpendScore};

use super::classic::{Band, final_score};
use super::v2_metrics::{self as metrics, Budget, CategoryClass, KeyedRow};
use crate::anomaly::features::{FeatureError, text, typed};

/// The model name stored with every score.
pub const MODEL: &str = "v2";
/// Version of this definition; bumped whenever a number it produces can change.
pub const MODEL_VERSION: &str = "2.0";
/// The rolling windows, in days.
pub const WINDOWS: [u16; 3] = metrics::WINDOWS;

/// Weights in percent, in [`SCORE_METRICS`] order.
pub const WEIGHTS: [f64; 6] = metrics::WEIGHTS;

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
    let rows = keyed_rows(tenant);
    let Some(end) = metrics::latest_spend_day(&rows) else {
        return Vec::new();
    };
    WINDOWS
        .iter()
        .filter_map(|&days| keyed_window(tenant, &rows, end, days))
        .collect()
}

/// Scores the window of `days` days ending on `end` (inclusive); `None` without net spend.
pub fn score_window(tenant: &TenantRows, end: NaiveDate, days: u16) -> Option<WindowScore> {
    keyed_window(tenant, &keyed_rows(tenant), day_number(end), days)
}

/// The tenant's rows as the shared arithmetic takes them: "" vendors unknown, categories by
/// code.
fn keyed_rows(tenant: &TenantRows) -> Vec<KeyedRow<&str, &str>> {
    tenant
        .rows
        .iter()
        .map(|r| {
            KeyedRow::named(
                day_number(r.day),
                r.time_s,
                r.amount_minor,
                r.credit,
                &r.vendor,
                &r.category,
            )
        })
        .collect()
}

fn keyed_window(
    tenant: &TenantRows,
    rows: &[KeyedRow<&str, &str>],
    end: i32,
    days: u16,
) -> Option<WindowScore> {
    let facts = metrics::window_facts(rows, end, days)?;
    let fmt = Fmt {
        currency: &tenant.currency,
        digits: tenant.digits,
    };
    let values = facts.values();
    let sentences = [
        categorisation(&facts.categorisation, &fmt),
        concentration(facts.concentration.as_ref()),
        budget(&facts.budget, days, facts.end, &fmt),
        redundancy(&facts.redundancy, &fmt),
        spike(&facts.spike, &fmt),
        waste(&facts.waste, &fmt),
    ];
    let metrics = sentences
        .into_iter()
        .zip(values)
        .enumerate()
        .map(|(index, (explanation, value))| ScoreMetric {
            name: SCORE_METRICS[index].into(),
            value,
            weight: WEIGHTS[index],
            explanation,
        })
        .collect();
    let weighted = facts.weighted();
    Some(WindowScore {
        window_days: days,
        period_start: date_of(facts.start),
        period_end: date_of(facts.end),
        score: final_score(weighted),
        weighted,
        metrics,
        transactions: facts.charges as u64,
        spend_minor: facts.net_minor,
        refunds_minor: facts.refunds_minor,
    })
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Days since 1970-01-01 (booked dates are within ±5.8 million years of it).
fn day_number(day: NaiveDate) -> i32 {
    (day - epoch()).num_days() as i32
}

fn date_of(day_number: i32) -> NaiveDate {
    epoch() + Duration::days(i64::from(day_number))
}

fn categorisation(facts: &metrics::Categorisation, fmt: &Fmt) -> String {
    let value = facts.value;
    if facts.charges == 0 {
        return format!("Categorisation {value:.0}: every charge has a category.");
    }
    format!(
        "Categorisation {value:.0}: {} of spend ({}, {} charges) has no category; mapping \
         their accounts to categories would raise it.",
        pct(facts.share),
        fmt.money(facts.minor),
        facts.charges
    )
}

fn concentration(facts: Option<&metrics::Concentration<&str>>) -> String {
    let Some(facts) = facts else {
        return "Concentration not scored: no charge in the window names its vendor.".into();
    };
    format!(
        "Concentration {:.0}: spend is spread like {:.1} equal vendors; the largest, {}, took \
         {}.",
        facts.value,
        facts.effective,
        vendor_name(facts.top),
        pct(facts.top_share)
    )
}

fn budget(facts: &Budget, days: u16, end: i32, fmt: &Fmt) -> String {
    match facts {
        Budget::NoHistory { first } => format!(
            "Budget not scored: it compares the window with the previous {days} days, and the \
             history starts {}.",
            date_of(first.unwrap_or(end))
        ),
        Budget::NothingBefore { periods } => format!(
            "Budget not scored: nothing was spent in the previous {periods} period(s) of \
             {days} days."
        ),
        Budget::Scored {
            value,
            spent,
            baseline,
            periods,
            ratio,
        } => {
            let direction = if *ratio >= 1.0 {
                format!("{} above", pct(ratio - 1.0))
            } else {
                format!("{} below", pct(1.0 - ratio))
            };
            format!(
                "Budget {value:.0}: {} spent in these {days} days, {direction} the {} typical \
                 of the previous {periods} such period(s).",
                fmt.money(*spent),
                fmt.money(*baseline),
            )
        }
    }
}

fn redundancy(facts: &metrics::Redundancy<&str>, fmt: &Fmt) -> String {
    let value = facts.value;
    if facts.repeats == 0 {
        return format!(
            "Redundancy {value:.0}: no repeat charge (same vendor, same amount) within 24h."
        );
    }
    format!(
        "Redundancy {value:.0}: {} repeat charge(s) from {} vendor(s) within 24h, worth {} \
         ({} of spend); most from {}.",
        facts.repeats,
        facts.vendors,
        fmt.money(facts.repeat_minor),
        pct(facts.share),
        facts.top.map(|v| vendor_name(v)).unwrap_or_default()
    )
}

fn spike(facts: &metrics::Spike<&str, &str>, fmt: &Fmt) -> String {
    let value = facts.value;
    let Some((largest, ratio)) = facts.largest else {
        return format!(
            "Spike {value:.0}: no charge stands out from its category's typical amount."
        );
    };
    format!(
        "Spike {value:.0}: {} charge(s) far above their category's typical amount, {} of \
         spend; the largest, {} to {} ({}), is {ratio:.0}× typical.",
        facts.outliers,
        pct(facts.share),
        fmt.money(largest.amount_minor),
        vendor_name(largest.vendor.unwrap_or_default()),
        category_label(largest.category)
    )
}

fn waste(facts: &metrics::Waste, fmt: &Fmt) -> String {
    let value = facts.value;
    if facts.parts.is_empty() {
        return format!("Waste {value:.0}: nothing spent on meals & entertainment or bank fees.");
    }
    let detail: Vec<String> = facts
        .parts
        .iter()
        .map(|(class, minor)| format!("{} {}", waste_label(*class), fmt.money(*minor)))
        .collect();
    format!(
        "Waste {value:.0}: {} of spend ({}) went on avoidable costs: {}.",
        pct(facts.share),
        fmt.money(facts.total),
        detail.join(", ")
    )
}

fn waste_label(class: CategoryClass) -> &'static str {
    WASTE_CATEGORIES
        .iter()
        .zip(metrics::WASTE_CLASSES)
        .find(|(_, c)| *c == class)
        .map_or("Other", |(category, _)| category.label())
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
        let d = |s: &str| day_number(day(s));
        assert!(metrics::within_24h(
            d("2024-01-01"),
            Some(23 * 3600),
            d("2024-01-02"),
            Some(3600)
        ));
        assert!(!metrics::within_24h(
            d("2024-01-01"),
            Some(3600),
            d("2024-01-02"),
            Some(7200)
        ));
        assert!(!metrics::within_24h(
            d("2024-01-01"),
            None,
            d("2024-01-02"),
            None
        ));
        assert!(metrics::within_24h(
            d("2024-01-01"),
            None,
            d("2024-01-01"),
            None
        ));
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
    fn the_shared_arithmetic_names_the_taxonomy_codes() {
        assert_eq!(metrics::UNCATEGORIZED_CODE, Category::Uncategorized.code());
        for (code, category) in metrics::WASTE_CODES.iter().zip(WASTE_CATEGORIES) {
            assert_eq!(*code, category.code());
        }
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
