//! The classic SpendScore's arithmetic over keyed rows: the six metrics, their weighting and
//! the final rounding, with vendors, categories and dates already turned into integers.
//!
//! Why keys: the same file is compiled by the Arroyo UDF workspace (`deploy/arroyo/udfs`,
//! `#[path]` module), whose aggregate UDFs (arroyo-udf-plugin 0.2) can only take vectors of
//! numbers. Scalar UDFs turn each row's text into keys ([`text_key`], [`category_key`],
//! [`day_from_iso`]) and the aggregate scores the keys, so a stream scored by Arroyo and a
//! file scored by `verocta score --classic` go through this one implementation. It depends
//! on `std` only for the same reason.
//!
//! Keys are 64-bit FNV-1a hashes (62 bits for categories, whose low two bits carry the
//! waste class): two distinct vendors or categories of one tenant collide with probability
//! ~n²/2⁶³, far below anything a score could show.
//!
//! The metrics follow `shared/specs/spendscore-classic.md`; `classic.rs` documents each
//! (and the original engine's behaviour where the spec is silent) on its public wrapper.

use std::collections::HashMap;

/// One transaction as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyedRow {
    /// Spend amount, used as given.
    pub amount: f64,
    /// [`text_key`] of the raw vendor string (never normalised).
    pub vendor: u64,
    /// Day number (any fixed epoch; only differences are used), `None` when missing.
    pub day: Option<i64>,
    /// [`category_key`] of the raw category.
    pub category: u64,
}

/// Weights in percent, in the original's order: frequency, diversity, budget, redundancy,
/// spike, waste.
pub const WEIGHTS: [f64; 6] = [15.0, 10.0, 20.0, 15.0, 20.0, 20.0];

/// The six metrics, in [`WEIGHTS`]' order.
pub fn metrics(rows: &[KeyedRow]) -> [f64; 6] {
    [
        frequency(rows),
        diversity(rows),
        budget(rows),
        redundancy(rows),
        spike(rows),
        waste(rows),
    ]
}

/// Σ metric·weight/100, accumulated in the original's order.
pub fn weighted(metrics: &[f64; 6]) -> f64 {
    let mut sum = 0.0;
    for (value, weight) in metrics.iter().zip(WEIGHTS) {
        sum += value * weight / 100.0;
    }
    sum
}

/// Final score from the weighted sum: rounded half to even, clamped to 0–100 (NaN → 0).
/// The original normalised by the total weight first, `round(w / 100 * 100)`, which can move
/// a value one ulp off a tie, so that is reproduced.
pub fn final_score(weighted: f64) -> u32 {
    let normalised = weighted / 100.0 * 100.0;
    // `as` saturates and maps NaN to 0, so this cannot panic.
    normalised.round_ties_even().clamp(0.0, 100.0) as u32
}

/// The classic score of keyed rows.
pub fn score(rows: &[KeyedRow]) -> u32 {
    final_score(weighted(&metrics(rows)))
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// 64-bit FNV-1a of the UTF-8 bytes: equal strings, equal keys.
pub fn text_key(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Normalises a category: lower-case and trim; then the first rule whose key is a substring
/// replaces the whole category; empty → `Uncategorized`.
pub fn normalize_category(raw: &str) -> String {
    const RULES: [(&str, &str); 11] = [
        ("food", "groceries"),
        ("gas", "fuel"),
        ("petrol", "fuel"),
        ("restaurant", "dining"),
        ("cafe", "coffee"),
        ("subscription", "subscriptions"),
        ("streaming", "subscriptions"),
        ("electric", "utilities"),
        ("water", "utilities"),
        ("internet", "utilities"),
        ("phone", "utilities"),
    ];
    let category = raw.trim().to_lowercase();
    if category.is_empty() {
        return "Uncategorized".to_owned();
    }
    for (key, value) in RULES {
        if category.contains(key) {
            return value.to_owned();
        }
    }
    category
}

/// How the waste metric counts a normalised category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasteClass {
    /// Contains a low-value keyword (entertainment, dining, coffee, …).
    LowValue = 1,
    /// Otherwise contains an essential keyword (utilities, rent, groceries, …).
    Essential = 2,
    /// Neither.
    Other = 0,
}

/// The waste class of a normalised category.
pub fn waste_class(normalized: &str) -> WasteClass {
    const LOW_VALUE: [&str; 10] = [
        "entertainment",
        "gaming",
        "subscriptions",
        "luxury",
        "dining",
        "fast food",
        "coffee",
        "alcohol",
        "tobacco",
        "impulse purchases",
    ];
    const ESSENTIAL: [&str; 11] = [
        "utilities",
        "rent",
        "mortgage",
        "insurance",
        "groceries",
        "fuel",
        "medical",
        "healthcare",
        "transportation",
        "education",
        "childcare",
    ];
    // Normalised categories are lower case already, except the literal "Uncategorized",
    // which matches no keyword either way.
    let category = normalized.to_lowercase();
    if LOW_VALUE.iter().any(|key| category.contains(key)) {
        WasteClass::LowValue
    } else if ESSENTIAL.iter().any(|key| category.contains(key)) {
        WasteClass::Essential
    } else {
        WasteClass::Other
    }
}

/// Key of a raw category: equal for equal normalised categories, with the waste class in the
/// low two bits.
pub fn category_key(raw: &str) -> u64 {
    let normalized = normalize_category(raw);
    (text_key(&normalized) << 2) | waste_class(&normalized) as u64
}

fn waste_class_of_key(key: u64) -> WasteClass {
    match key & 0b11 {
        1 => WasteClass::LowValue,
        2 => WasteClass::Essential,
        _ => WasteClass::Other,
    }
}

/// Days since 1970-01-01 of an ISO date (`YYYY-MM-DD`, as the transactions topic carries
/// `booked_date`); `None` for anything else or an impossible date.
pub fn day_from_iso(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = &text[range];
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// Frequency (weight 15): per category share r of the count, 100 inside 5–25%, scaled below
/// and above; mean over categories, 0 if none.
pub fn frequency(rows: &[KeyedRow]) -> f64 {
    let counts = category_totals(rows, |_| 1.0);
    if counts.is_empty() {
        return 0.0;
    }
    let n = rows.len() as f64;
    mean(counts.iter().map(|&(_, count)| {
        let r = count / n;
        if (0.05..=0.25).contains(&r) {
            100.0
        } else if r < 0.05 {
            r / 0.05 * 100.0
        } else {
            (100.0 * (1.0 - (r - 0.25) / 0.75)).max(0.0)
        }
    }))
    .unwrap_or(0.0)
}

/// Diversity (weight 10): u distinct categories, 100 for 5–15.
pub fn diversity(rows: &[KeyedRow]) -> f64 {
    let u = category_totals(rows, |_| 1.0).len();
    if (5..=15).contains(&u) {
        100.0
    } else if u < 5 {
        u as f64 / 5.0 * 100.0
    } else {
        (100.0 - (u - 15) as f64 * 5.0).max(0.0)
    }
}

/// Budget adherence (weight 20): closeness of each amount to the median; no rows → 0,
/// median ≤ 0 → 50.
pub fn budget(rows: &[KeyedRow]) -> f64 {
    let amounts = sorted_amounts(rows);
    let Some(m) = median(&amounts) else {
        return 0.0;
    };
    if m <= 0.0 {
        return 50.0;
    }
    mean(rows.iter().map(|row| {
        let deviation = (row.amount - m).abs() / m;
        (100.0 * (1.0 - deviation.min(2.0) / 2.0)).max(0.0)
    }))
    .unwrap_or(50.0)
}

/// Redundancy (weight 15): the sorted dates handed out by position, then per vendor the
/// consecutive dates ≤ 24 h apart are penalised; < 2 dates → 100.
pub fn redundancy(rows: &[KeyedRow]) -> f64 {
    let mut days: Vec<i64> = rows.iter().filter_map(|row| row.day).collect();
    if days.len() < 2 {
        return 100.0;
    }
    days.sort_unstable();

    let mut vendor_index: HashMap<u64, usize> = HashMap::new();
    let mut vendor_days: Vec<Vec<i64>> = Vec::new();
    for (row, &day) in rows.iter().zip(&days) {
        let slot = *vendor_index.entry(row.vendor).or_insert_with(|| {
            vendor_days.push(Vec::new());
            vendor_days.len() - 1
        });
        vendor_days[slot].push(day);
    }

    let mut penalties = Vec::new();
    for mut list in vendor_days {
        list.sort_unstable();
        for pair in list.windows(2) {
            let hours = (pair[1] - pair[0]) as f64 * 24.0;
            if hours <= 24.0 {
                penalties.push((100.0 - hours * 2.0).max(0.0));
            }
        }
    }
    match mean(penalties) {
        Some(avg) => (100.0 - avg).max(0.0),
        None => 100.0,
    }
}

/// Spike (weight 20): amounts above Q3 + 1.5·IQR, by count and by size against the median;
/// no rows → 0, fewer than 4 → 100.
pub fn spike(rows: &[KeyedRow]) -> f64 {
    let sorted = sorted_amounts(rows);
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n < 4 {
        return 100.0;
    }
    let q1 = sorted[n / 4];
    let q3 = sorted[3 * n / 4];
    let threshold = q3 + 1.5 * (q3 - q1);
    let outliers: Vec<f64> = rows
        .iter()
        .map(|row| row.amount)
        .filter(|&amount| amount > threshold)
        .collect();
    let m = median(&sorted).unwrap_or(0.0);
    let Some(max_outlier) = outliers.iter().copied().reduce(f64::max) else {
        return 100.0;
    };
    if m <= 0.0 {
        return 100.0;
    }
    let ratio = outliers.len() as f64 / n as f64;
    let severity = max_outlier / m;
    (100.0 * (1.0 - ratio) * (1.0 - (severity / 10.0).min(1.0))).max(0.0)
}

/// Waste (weight 20): low-value and essential shares of total spend; 50 if the total is not
/// positive or there are no categories.
pub fn waste(rows: &[KeyedRow]) -> f64 {
    let spending = category_totals(rows, |row| row.amount);
    if spending.is_empty() {
        return 50.0;
    }
    let total = compensated_sum(spending.iter().map(|(_, amount)| *amount));
    let mut low_value = 0.0;
    let mut essential = 0.0;
    for &(category, amount) in &spending {
        match waste_class_of_key(category) {
            WasteClass::LowValue => low_value += amount,
            WasteClass::Essential => essential += amount,
            WasteClass::Other => {}
        }
    }
    if total > 0.0 {
        let w = low_value / total;
        let e = essential / total;
        let waste_score = (100.0 * (1.0 - w)).max(0.0);
        let essential_bonus = (e * 40.0).min(20.0);
        (waste_score + essential_bonus).min(100.0)
    } else {
        50.0
    }
}

/// Per category, `value` summed with plain `+=` (as the original), in order of first
/// appearance.
fn category_totals(rows: &[KeyedRow], value: impl Fn(&KeyedRow) -> f64) -> Vec<(u64, f64)> {
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut totals: Vec<(u64, f64)> = Vec::new();
    for row in rows {
        match index.get(&row.category) {
            Some(&i) => totals[i].1 += value(row),
            None => {
                index.insert(row.category, totals.len());
                totals.push((row.category, value(row)));
            }
        }
    }
    totals
}

fn sorted_amounts(rows: &[KeyedRow]) -> Vec<f64> {
    let mut amounts: Vec<f64> = rows.iter().map(|row| row.amount).collect();
    amounts.sort_unstable_by(f64::total_cmp);
    amounts
}

/// Median of sorted values (`statistics.median`: mean of the two middle values for even n).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        None
    } else if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)
    }
}

/// Neumaier-compensated sum: close to Python's exact `statistics.mean` and compensated `sum`.
fn compensated_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = 0.0_f64;
    let mut compensation = 0.0_f64;
    for value in values {
        let t = sum + value;
        if sum.abs() >= value.abs() {
            compensation += (sum - t) + value;
        } else {
            compensation += (value - t) + sum;
        }
        sum = t;
    }
    sum + compensation
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        None
    } else {
        Some(compensated_sum(values.iter().copied()) / values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_days_count_from_1970() {
        assert_eq!(day_from_iso("1970-01-01"), Some(0));
        assert_eq!(day_from_iso("1970-01-02"), Some(1));
        assert_eq!(day_from_iso("1969-12-31"), Some(-1));
        assert_eq!(day_from_iso("2000-03-01"), Some(11_017));
        assert_eq!(day_from_iso("2024-02-29"), Some(19_782));
        assert_eq!(day_from_iso("2023-02-29"), None);
        assert_eq!(day_from_iso("2024-13-01"), None);
        assert_eq!(day_from_iso("2024-1-01"), None);
        assert_eq!(day_from_iso("2024-01-01T00:00"), None);
        assert_eq!(day_from_iso("+024-01-01"), None);
    }

    #[test]
    fn category_keys_carry_identity_and_waste_class() {
        assert_eq!(category_key(" Cafe Nero "), category_key("coffee"));
        assert_ne!(category_key("Travel"), category_key("Office"));
        assert_eq!(
            waste_class_of_key(category_key("Netflix streaming")),
            WasteClass::LowValue
        );
        assert_eq!(
            waste_class_of_key(category_key("Rent")),
            WasteClass::Essential
        );
        assert_eq!(waste_class_of_key(category_key("")), WasteClass::Other);
        assert_eq!(text_key(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(text_key("Acme"), text_key("acme"));
    }
}
