/*
[dependencies]
*/
//! `spendscore_classic(amount DOUBLE, vendor BIGINT, day BIGINT, category BIGINT) -> BIGINT`
//! for Arroyo SQL: an aggregate, the classic SpendScore (0–100) of the rows in a group, e.g.
//! one tenant's spend over a window. Arguments per row: the amount as the original scored it
//! (absolute, at least 0.01), `classic_text_key(vendor)`, `classic_day(booked_date)` (NULL
//! when unknown) and `classic_category_key(category)`.
//!
//! Arroyo's aggregates (arroyo-udf-plugin 0.2) take vectors of numbers only, which is why
//! the text arrives as keys. Rows with a NULL amount, vendor or category must be filtered
//! out in SQL (the plugin drops NULLs from such vectors, which would misalign them); a group
//! whose vectors still differ in length scores NULL. Row order is arrival order, which the
//! redundancy metric's by-position date hand-out depends on, as it did in the original.
//!
//! The arithmetic is `verocta_models::spendscore::classic_metrics`, compiled from the same
//! file as `verocta score --classic`; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's
//! UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn spendscore_classic(
    amount: Vec<f64>,
    vendor: Vec<i64>,
    day: Vec<Option<i64>>,
    category: Vec<i64>,
) -> Option<i64> {
    let n = amount.len();
    if vendor.len() != n || day.len() != n || category.len() != n {
        return None;
    }
    let rows: Vec<classic_metrics::KeyedRow> = (0..n)
        .map(|i| classic_metrics::KeyedRow {
            amount: amount[i],
            vendor: vendor[i] as u64,
            day: day[i],
            category: category[i] as u64,
        })
        .collect();
    Some(i64::from(classic_metrics::score(&rows)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use classic_metrics::{category_key, day_from_iso, text_key};

    const DATA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../../shared/data/veroctaai"
    );

    /// A `Date,Description,Amount,Category` file (no quoting) as the four vectors, the way
    /// the original read it: vendor from Description, the absolute amount.
    fn vectors(file: &str) -> (Vec<f64>, Vec<i64>, Vec<Option<i64>>, Vec<i64>) {
        let text = std::fs::read_to_string(format!("{DATA}/{file}")).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Date,Description,Amount,Category"));
        let (mut amount, mut vendor, mut day, mut category) = (vec![], vec![], vec![], vec![]);
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 4, "{line}");
            amount.push(fields[2].parse::<f64>().unwrap().abs());
            vendor.push(text_key(fields[1]) as i64);
            day.push(day_from_iso(fields[0]));
            category.push(category_key(fields[3]) as i64);
        }
        (amount, vendor, day, category)
    }

    /// The spec's reference scores for the two files in this simple layout.
    #[test]
    fn reference_files_score_as_the_spec_says() {
        for (file, rows, expected) in [("test_data.csv", 16, 90), ("sample_expenses.csv", 51, 65)] {
            let (amount, vendor, day, category) = vectors(file);
            assert_eq!(amount.len(), rows, "{file}");
            assert_eq!(
                spendscore_classic(amount, vendor, day, category),
                Some(expected),
                "{file}"
            );
        }
    }

    #[test]
    fn empty_input_scores_25_and_misaligned_input_null() {
        assert_eq!(spendscore_classic(vec![], vec![], vec![], vec![]), Some(25));
        assert_eq!(
            spendscore_classic(vec![1.0], vec![], vec![None], vec![0]),
            None
        );
    }

    /// Arroyo's worker calls the generated `__run` with each argument's values for the group
    /// as one flat array, and reads one value back.
    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Float64Array, Int64Array};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let (amount, vendor, day, category) = vectors("test_data.csv");
        let arrays = vec![
            Float64Array::from(amount).to_data(),
            Int64Array::from(vendor).to_data(),
            Int64Array::from(day).to_data(),
            Int64Array::from(category).to_data(),
        ];
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(arrays))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 1);
        assert_eq!(output.value(0), 90);
    }
}
