/*
[dependencies]
extended-isolation-forest = "0.2"
*/
//! `forest_flags(day, time_s, amount_minor, digits, currency, vendor, category, order BIGINT)
//! -> TEXT` for Arroyo SQL: an aggregate, the isolation forest's anomaly flags among a
//! tenant's spend booked on the group's latest day, judged against the tenant's history in
//! the group. A JSON array (`[]` when nothing is flagged); NULL when the group has fewer
//! spend rows than a tenant needs for a forest of its own (1,000) or its vectors are
//! misaligned.
//!
//! Arguments per spend row: `classic_day(booked_date)`, `seconds_of_day(booked_time)` or -1
//! without a time, `amount_minor(amount.amount)`, the amount's decimal digits,
//! `classic_text_key` of the currency, of the normalised vendor (`coalesce(vendor,
//! vendor_raw, '')`, as the batch query) and of the category, and
//! `transaction_order_key(transaction_id)`. Arroyo's aggregates (arroyo-udf-plugin 0.2) take
//! vectors of numbers only, which is why text arrives as keys. Every argument must be
//! non-NULL: the plugin drops NULLs from a vector, which would misalign them.
//!
//! What it does, in the batch job's terms:
//! 1. puts the rows in booking order (day, time with timeless rows last, then the order key:
//!    the transaction-id order the batch query's windows use);
//! 2. computes each row's nine features against the rows before it —
//!    `verocta_models::anomaly::history`, compiled from the same file, which a test in
//!    `models` checks against the DataFusion feature query;
//! 3. trains a standard isolation forest (`extended-isolation-forest`, extension level 0,
//!    100 trees of 256 rows: `ForestConfig`'s defaults) on the group's features, as
//!    `verocta anomalies` trains a tenant's own forest on its history;
//! 4. flags the latest day's rows whose forest score reaches 0.52 and whose amount is at least
//!    4 standard deviations above its vendor's or category's history: the batch job's rule,
//!    the same function (`history::forest_flag`).
//!
//! Each flag: `{"order": key, "day": day, "amount_minor": n, "basis": "vendor" | "category",
//! "z": sd above, "typical_minor": n, "forest_score": raw score, "score": flag score}`. The
//! order key identifies the transaction (`transaction_order_key` of its id); names cannot come
//! back from keys, so the sentence the batch job writes is left to the reader of the topic.
//!
//! Unlike the batch job: the history is what the group holds (the job's window), tenants
//! under 1,000 rows get no cohort forest, the approval limits are the defaults, and a forest
//! is trained afresh for each evaluation with the crate's random sampling, so a score close to
//! the threshold can fall either side on two evaluations (the batch job saves its models so
//! that scoring repeats exactly).

#[allow(dead_code)]
#[path = "../../../../../models/src/anomaly/amounts.rs"]
mod amounts;
#[allow(dead_code)]
#[path = "../../../../../models/src/anomaly/history.rs"]
mod history;

use std::fmt::Write as _;

use arroyo_udf_plugin::udf;
use extended_isolation_forest::{Forest, ForestOptions};
use history::{quantize, HistoryRow, FEATURE_COUNT};

#[udf]
#[allow(clippy::too_many_arguments)]
pub fn forest_flags(
    day: Vec<i64>,
    time_s: Vec<i64>,
    amount_minor: Vec<i64>,
    digits: Vec<i64>,
    currency: Vec<i64>,
    vendor: Vec<i64>,
    category: Vec<i64>,
    order: Vec<i64>,
) -> Option<String> {
    let n = day.len();
    let columns = [
        &time_s,
        &amount_minor,
        &digits,
        &currency,
        &vendor,
        &category,
        &order,
    ];
    if n < history::DEFAULT_MIN_TENANT_ROWS || columns.iter().any(|c| c.len() != n) {
        return None;
    }
    let mut booking: Vec<usize> = (0..n).collect();
    // Timeless rows after timed ones on the same day, as the query's NULLs sort.
    booking.sort_by_key(|&i| (day[i], time_s[i] < 0, time_s[i], order[i]));
    let rows = booking
        .iter()
        .map(|&i| {
            Some(HistoryRow {
                day: i32::try_from(day[i]).ok()?,
                amount_minor: amount_minor[i].checked_abs()?,
                currency_digits: u8::try_from(digits[i]).ok().filter(|d| *d <= 4)?,
                currency: currency[i],
                vendor: vendor[i],
                category: category[i],
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let features = history::features_in_booking_order(&rows);
    let training: Vec<[f64; FEATURE_COUNT]> =
        features.iter().map(|f| quantize(&f.features)).collect();
    let options = ForestOptions {
        n_trees: history::DEFAULT_N_TREES,
        sample_size: history::DEFAULT_SAMPLE_SIZE.min(training.len()),
        max_tree_depth: None,
        extension_level: 0,
    };
    let forest = Forest::from_slice(&training, &options).ok()?;
    // Rows are in booking order, so the latest day's are the tail.
    let latest_day = rows.last()?.day;
    let first_latest = rows.partition_point(|r| r.day < latest_day);
    let mut out = String::from("[");
    for (k, row) in rows.iter().enumerate().skip(first_latest) {
        let forest_score = forest.score(&training[k]);
        let Some(flag) = history::forest_flag(
            forest_score,
            &features[k],
            history::DEFAULT_THRESHOLD,
            history::DEFAULT_MIN_Z,
        ) else {
            continue;
        };
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"order":{},"day":{},"amount_minor":{},"basis":"{}","z":{:.4},"typical_minor":{},"forest_score":{:.4},"score":{:.4}}}"#,
            order[booking[k]],
            row.day,
            row.amount_minor,
            if flag.by_vendor { "vendor" } else { "category" },
            flag.z,
            flag.typical_minor,
            forest_score,
            flag.score
        );
    }
    out.push(']');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Vectors = [Vec<i64>; 8];

    /// Two years of a tenant's steady spend — five vendors at their own prices, a little
    /// noise, two a day — and then a last day with an ordinary charge and one far above its
    /// vendor's history (order key 999_999).
    fn vectors(spike_minor: i64) -> Vectors {
        let mut out: Vectors = Default::default();
        let mut push = |values: [i64; 8]| {
            for (column, value) in out.iter_mut().zip(values) {
                column.push(value);
            }
        };
        let gbp = 71;
        for i in 0..1_400i64 {
            let vendor = i % 5;
            let price = 2_000 * (vendor + 1) + (i * 37) % 300;
            let time = if i % 4 == 0 { -1 } else { 30_000 + i % 5_000 };
            push([19_000 + i / 2, time, price, 2, gbp, 100 + vendor, 7, i]);
        }
        let last = 19_000 + 700;
        push([last, 40_000, 4_100, 2, gbp, 101, 7, 999_998]);
        push([last, 41_000, spike_minor, 2, gbp, 102, 7, 999_999]);
        out
    }

    fn flags(v: Vectors) -> Option<String> {
        let [d, t, a, g, c, ve, ca, o] = v;
        forest_flags(d, t, a, g, c, ve, ca, o)
    }

    #[test]
    fn flags_the_spike_on_the_latest_day_and_nothing_else() {
        let flagged = flags(vectors(600_000)).unwrap();
        assert!(
            flagged.starts_with(
                r#"[{"order":999999,"day":19700,"amount_minor":600000,"basis":"vendor","#
            ),
            "{flagged}"
        );
        assert_eq!(flagged.matches("\"order\"").count(), 1, "{flagged}");
        // Its vendor charged 6,000–6,300 minor units before: the typical amount says so.
        let typical: i64 = flagged
            .split("\"typical_minor\":")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!((6_000..6_300).contains(&typical), "{flagged}");
    }

    #[test]
    fn an_ordinary_last_day_flags_nothing() {
        assert_eq!(flags(vectors(6_150)).as_deref(), Some("[]"));
    }

    #[test]
    fn arrival_order_does_not_matter() {
        let mut v = vectors(600_000);
        for column in &mut v {
            column.reverse();
        }
        let flagged = flags(v).unwrap();
        assert!(flagged.starts_with(r#"[{"order":999999,"#), "{flagged}");
    }

    #[test]
    fn too_little_history_or_misaligned_input_is_null() {
        let mut short = vectors(600_000);
        for column in &mut short {
            column.drain(..500);
        }
        assert_eq!(flags(short), None);
        let mut misaligned = vectors(600_000);
        misaligned[4].pop();
        assert_eq!(flags(misaligned), None);
    }

    /// Arroyo's worker calls the generated `__run` with each argument's values for the group
    /// as one flat array, and reads one value back.
    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let arrays = vectors(600_000)
            .into_iter()
            .map(|v| Int64Array::from(v).to_data())
            .collect();
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(arrays))
        else {
            panic!("__run failed");
        };
        let output = StringArray::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 1);
        assert!(output.value(0).starts_with(r#"[{"order":999999,"#));
    }
}
