/*
[dependencies]
*/
//! `spendscore_v2(window_days BIGINT, day BIGINT, time_s BIGINT, amount_minor BIGINT,
//! credit BIGINT, vendor BIGINT, category BIGINT, order BIGINT) -> BIGINT` for Arroyo SQL: an
//! aggregate, SpendScore v2 (0–100) of the rows in a group — one tenant's spend and credits
//! in one currency, with the history before the window — over the `window_days` days ending
//! on its latest spend day. NULL without net spend in that window.
//!
//! Arguments per row: the window (the same on every row), `classic_day(booked_date)`,
//! `seconds_of_day(booked_time)` or -1 without a time, `amount_minor(amount.amount)`, 1 for
//! a credit and 0 for spend, `classic_text_key(vendor)` of the normalised vendor
//! (`classic_text_key('')` is an unknown vendor), `v2_category_key(category)` and
//! `transaction_order_key(transaction_id)`. Arroyo's aggregates (arroyo-udf-plugin 0.2) take
//! vectors of numbers only, which is why text arrives as keys; rows are put in booking order
//! (day, time, then the order key: the batch job's transaction-id order), because which
//! charge a refund cancels depends on it. Every argument must be non-NULL (the plugin drops
//! NULLs from a vector, which would misalign them): a group whose vectors differ in length,
//! or whose window varies, scores NULL.
//!
//! The arithmetic is `verocta_models::spendscore::v2_metrics`, compiled from the same file as
//! `verocta scores` and the DataFusion aggregate; `deploy/arroyo/render-udf.sh` inlines it
//! for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;
#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/v2_metrics.rs"]
mod v2_metrics;

use arroyo_udf_plugin::udf;
use v2_metrics::{CategoryClass, KeyedRow};

#[udf]
#[allow(clippy::too_many_arguments)]
pub fn spendscore_v2(
    window_days: Vec<i64>,
    day: Vec<i64>,
    time_s: Vec<i64>,
    amount_minor: Vec<i64>,
    credit: Vec<i64>,
    vendor: Vec<i64>,
    category: Vec<i64>,
    order: Vec<i64>,
) -> Option<i64> {
    let n = day.len();
    let columns = [
        &window_days,
        &time_s,
        &amount_minor,
        &credit,
        &vendor,
        &category,
        &order,
    ];
    if columns.iter().any(|c| c.len() != n) {
        return None;
    }
    let window = *window_days.first()?;
    if window_days.iter().any(|&w| w != window) {
        return None;
    }
    let days = u16::try_from(window)
        .ok()
        .filter(|d| (1..=3660).contains(d))?;
    let mut booking: Vec<usize> = (0..n).collect();
    booking.sort_by_key(|&i| (day[i], time_s[i], order[i]));
    let unknown_vendor = classic_metrics::text_key("") as i64;
    let rows = booking
        .into_iter()
        .map(|i| {
            Some(KeyedRow {
                day: i32::try_from(day[i]).ok()?,
                time_s: i32::try_from(time_s[i]).ok().filter(|t| *t >= 0),
                amount_minor: amount_minor[i].checked_abs()?,
                credit: credit[i] != 0,
                vendor: Some(vendor[i] as u64).filter(|_| vendor[i] != unknown_vendor),
                category: category[i] as u64,
                class: CategoryClass::of_key(category[i] as u64),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    v2_metrics::score(&rows, days).map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use classic_metrics::text_key;
    use v2_metrics::category_key;

    type Vectors = [Vec<i64>; 8];

    /// Rows as `(day, time_s, amount_minor, credit, vendor, category)`, keyed as the SQL does.
    fn vectors(window: i64, rows: &[(i64, i64, i64, i64, &str, &str)]) -> Vectors {
        let mut out: Vectors = Default::default();
        for (i, (day, time, amount, credit, vendor, category)) in rows.iter().enumerate() {
            let values = [
                window,
                *day,
                *time,
                *amount,
                *credit,
                text_key(vendor) as i64,
                category_key(category) as i64,
                i as i64,
            ];
            for (column, value) in out.iter_mut().zip(values) {
                column.push(value);
            }
        }
        out
    }

    fn score(v: Vectors) -> Option<i64> {
        let [w, d, t, a, c, ve, ca, o] = v;
        spendscore_v2(w, d, t, a, c, ve, ca, o)
    }

    /// Ten 1,000 charges to five vendors on ten days, and a 2,500 meal: waste is 20% of
    /// spend (waste 20), everything else computable is 100, the budget has no history, so
    /// (15·100 + 10·100 + 15·100 + 20·100 + 20·20) / 80 = 80.
    fn ledger() -> Vec<(i64, i64, i64, i64, &'static str, &'static str)> {
        let vendors = ["aws", "slack", "dell", "bt", "uber"];
        let mut rows: Vec<_> = (0..10)
            .map(|i| (19_000 + i, -1, 1_000, 0, vendors[i as usize % 5], "travel"))
            .collect();
        rows.push((19_009, 45_000, 2_500, 0, "nandos", "meals_entertainment"));
        rows
    }

    #[test]
    fn scores_a_ledger_as_worked_out_by_hand() {
        assert_eq!(score(vectors(30, &ledger())), Some(80));
    }

    #[test]
    fn arrival_order_does_not_matter_and_a_refund_cancels_its_charge() {
        let mut rows = ledger();
        // A repeat charge the same day, refunded the next: no redundancy, the same score.
        rows.push((19_003, -1, 1_000, 0, "bt", "travel"));
        rows.push((19_004, -1, 1_000, 1, "bt", "travel"));
        let in_order = score(vectors(30, &rows));
        assert_eq!(in_order, Some(80));
        rows.reverse();
        let mut reversed = vectors(30, &rows);
        // Order keys belong to the rows, not to their arrival.
        reversed[7].reverse();
        assert_eq!(score(reversed), in_order);
    }

    #[test]
    fn unknown_vendors_and_no_net_spend() {
        let mut rows = ledger();
        for row in &mut rows {
            row.4 = "";
        }
        // No named vendor: concentration is left out and its weight spread over the others,
        // (15·100 + 15·100 + 20·100 + 20·20) / 70 = 77.1.
        assert_eq!(score(vectors(30, &rows)), Some(77));
        // Refunded the same day: the window ending on the last spend day nets to nothing.
        let refunded = [
            (19_000, -1, 500, 0, "a", "travel"),
            (19_000, -1, 500, 1, "a", "travel"),
        ];
        assert_eq!(score(vectors(30, &refunded)), None);
    }

    #[test]
    fn misaligned_or_varying_input_scores_null() {
        let mut v = vectors(30, &ledger());
        v[3].pop();
        assert_eq!(score(v), None);
        let mut v = vectors(30, &ledger());
        v[0][4] = 90;
        assert_eq!(score(v), None);
        assert_eq!(score(vectors(30, &[])), None);
    }

    /// Arroyo's worker calls the generated `__run` with each argument's values for the group
    /// as one flat array, and reads one value back.
    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let arrays = vectors(30, &ledger())
            .into_iter()
            .map(|v| Int64Array::from(v).to_data())
            .collect();
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(arrays))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 1);
        assert_eq!(output.value(0), 80);
    }
}
