/*
[dependencies]
*/
//! `v2_category_key(category TEXT) -> BIGINT` for Arroyo SQL: the key SpendScore v2 groups a
//! normalised category code (the topic's `category`) by, with its class (uncategorised,
//! meals & entertainment, bank fees, other) in the low two bits, as `spendscore_v2`'s category
//! argument. NULL for NULL.
//!
//! The function is `verocta_models::spendscore::v2_metrics::category_key`, compiled from the
//! same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;
#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/v2_metrics.rs"]
mod v2_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn v2_category_key(category: &str) -> i64 {
    v2_metrics::category_key(category) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use v2_metrics::CategoryClass;

    #[test]
    fn keys_carry_the_class_the_score_needs() {
        let class = |code| CategoryClass::of_key(v2_category_key(code) as u64);
        assert_eq!(class("uncategorized"), CategoryClass::Uncategorized);
        assert_eq!(class("meals_entertainment"), CategoryClass::Meals);
        assert_eq!(class("bank_fees"), CategoryClass::BankFees);
        assert_eq!(class("travel"), CategoryClass::Other);
        assert_ne!(v2_category_key("travel"), v2_category_key("telecom"));
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("bank_fees"), None]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 2);
        assert_eq!(output.value(0), v2_category_key("bank_fees"));
        assert!(output.is_null(1));
    }
}
