/*
[dependencies]
*/
//! `classic_category_key(category TEXT) -> BIGINT` for Arroyo SQL: the classic SpendScore's
//! key of a raw category — equal for equal normalised categories (lower-cased, trimmed, the
//! spec's substitution rules; empty or NULL is `Uncategorized`), with the waste metric's class
//! in the low two bits — as `spendscore_classic`'s category argument.
//!
//! The function is `verocta_models::spendscore::classic_metrics::category_key`, compiled from
//! the same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn classic_category_key(category: Option<&str>) -> i64 {
    classic_metrics::category_key(category.unwrap_or("")) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_categories_share_a_key() {
        assert_eq!(
            classic_category_key(Some(" Restaurant ")),
            classic_category_key(Some("dining"))
        );
        assert_eq!(classic_category_key(None), classic_category_key(Some("  ")));
        assert_ne!(
            classic_category_key(Some("Travel")),
            classic_category_key(Some("Office"))
        );
        // Low bits: 1 low-value (dining), 2 essential (utilities), 0 neither.
        assert_eq!(classic_category_key(Some("dining")) & 3, 1);
        assert_eq!(classic_category_key(Some("Electricity")) & 3, 2);
        assert_eq!(classic_category_key(Some("Travel")) & 3, 0);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("Cafe"), None]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.value(0), classic_category_key(Some("coffee")));
        assert_eq!(output.value(1), classic_category_key(Some("")));
    }
}
