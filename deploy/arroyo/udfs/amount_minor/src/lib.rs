/*
[dependencies]
*/
//! `amount_minor(amount TEXT) -> BIGINT` for Arroyo SQL: the exact decimal string the
//! transactions topic carries (`amount.amount`, e.g. `"1234.50"`) in minor units (`123450`),
//! as `spendscore_v2`'s amount argument. The wire writes each currency's minor digits, so
//! the integer is the amount in that currency's minor units. NULL for NULL or anything that
//! is not such a decimal.
//!
//! The function is `verocta_models::anomaly::amounts::parse_decimal_minor`, compiled from the
//! same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/anomaly/amounts.rs"]
mod amounts;

use arroyo_udf_plugin::udf;

#[udf]
pub fn amount_minor(amount: &str) -> Option<i64> {
    amounts::parse_decimal_minor(amount).map(|(minor, _)| minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_amounts_become_minor_units() {
        assert_eq!(amount_minor("1234.50"), Some(123_450));
        assert_eq!(amount_minor("700"), Some(700));
        assert_eq!(amount_minor("1.234"), Some(1_234));
        assert_eq!(amount_minor("1,234.50"), None);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("12.34"), None]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 2);
        assert_eq!(output.value(0), 1_234);
        assert!(output.is_null(1));
    }
}
