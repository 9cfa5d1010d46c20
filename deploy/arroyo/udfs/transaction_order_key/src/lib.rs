/*
[dependencies]
*/
//! `transaction_order_key(transaction_id TEXT) -> BIGINT` for Arroyo SQL: an integer that
//! orders transaction ids as their text does (their first 15 hex digits), as
//! `spendscore_v2`'s order argument: rows of the same day and time are then read in the
//! order the batch job reads them. NULL for NULL or an id not of the form `tx_` + 32 hex.
//!
//! The function is `verocta_models::spendscore::v2_metrics::id_order_key`, compiled from the
//! same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;
#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/v2_metrics.rs"]
mod v2_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn transaction_order_key(transaction_id: &str) -> Option<i64> {
    v2_metrics::id_order_key(transaction_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_ids() {
        let a = transaction_order_key("tx_0123456789abcdef0123456789abcdef").unwrap();
        let b = transaction_order_key("tx_0123456789abcdf00000000000000000").unwrap();
        assert!(a < b);
        assert_eq!(transaction_order_key("not-an-id"), None);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("tx_000000000000001fffffffffffffffff"), None]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 2);
        assert_eq!(output.value(0), 1);
        assert!(output.is_null(1));
    }
}
