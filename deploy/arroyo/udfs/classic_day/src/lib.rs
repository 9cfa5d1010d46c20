/*
[dependencies]
*/
//! `classic_day(date TEXT) -> BIGINT` for Arroyo SQL: days since 1970-01-01 of an ISO date
//! (`YYYY-MM-DD`, as the transactions topic carries `booked_date`), as `spendscore_classic`'s
//! date argument. NULL for NULL, other forms or impossible dates.
//!
//! The function is `verocta_models::spendscore::classic_metrics::day_from_iso`, compiled from
//! the same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn classic_day(date: &str) -> Option<i64> {
    classic_metrics::day_from_iso(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_become_day_numbers() {
        assert_eq!(classic_day("1970-01-01"), Some(0));
        assert_eq!(classic_day("2024-03-01"), Some(19_783));
        assert_eq!(classic_day("01/03/2024"), None);
        assert_eq!(classic_day("2024-02-30"), None);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("2024-03-01"), None, Some("x")]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.value(0), 19_783);
        assert!(output.is_null(1));
        assert!(output.is_null(2));
    }
}
