/*
[dependencies]
*/
//! `classic_text_key(text TEXT) -> BIGINT` for Arroyo SQL: the key the classic SpendScore
//! compares vendors by (64-bit FNV-1a of the raw string; equal strings, equal keys), as
//! `spendscore_classic`'s vendor argument. NULL for NULL.
//!
//! The function is `verocta_models::spendscore::classic_metrics::text_key`, compiled from the
//! same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn classic_text_key(text: &str) -> i64 {
    classic_metrics::text_key(text) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_vendors_share_a_key() {
        assert_eq!(classic_text_key("Staples"), classic_text_key("Staples"));
        assert_ne!(classic_text_key("Staples"), classic_text_key("staples"));
        // FNV-1a 64 of "a", as any FNV implementation computes it.
        assert_eq!(classic_text_key("a") as u64, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("Staples"), None, Some("Staples")]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 3);
        assert_eq!(output.value(0), classic_text_key("Staples"));
        assert!(output.is_null(1));
        assert_eq!(output.value(2), output.value(0));
    }
}
