/*
[dependencies]
*/
//! `seconds_of_day(booked_time TEXT) -> BIGINT` for Arroyo SQL: seconds after midnight of
//! the topic's `booked_time` (`HH:MM:SS`), as `spendscore_v2`'s time argument (coalesce NULL
//! to -1, "no time": the plugin drops NULLs from an aggregate's vectors). NULL for NULL or
//! anything that is not such a time.
//!
//! The function is `verocta_models::spendscore::v2_metrics::seconds_of_day`, compiled from
//! the same file; `deploy/arroyo/render-udf.sh` inlines it for Arroyo's UDF editor.

#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/classic_metrics.rs"]
mod classic_metrics;
#[allow(dead_code)]
#[path = "../../../../../models/src/spendscore/v2_metrics.rs"]
mod v2_metrics;

use arroyo_udf_plugin::udf;

#[udf]
pub fn seconds_of_day(booked_time: &str) -> Option<i64> {
    v2_metrics::seconds_of_day(booked_time).map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_times_become_seconds() {
        assert_eq!(seconds_of_day("00:00:01"), Some(1));
        assert_eq!(seconds_of_day("18:30:00"), Some(66_600));
        assert_eq!(seconds_of_day("18:30"), None);
    }

    #[test]
    fn arroyo_calls_it_through_the_ffi_entry_point() {
        use arroyo_udf_plugin::arrow::array::{Array, Int64Array, StringArray};
        use arroyo_udf_plugin::arrow::ffi::from_ffi;
        use arroyo_udf_plugin::{FfiArraySchema, FfiArrays, RunResult};

        let input = StringArray::from(vec![Some("01:00:00"), None, Some("25:00:00")]);
        let RunResult::Ok(FfiArraySchema(array, schema)) =
            super::__run(FfiArrays::from_vec(vec![input.to_data()]))
        else {
            panic!("__run failed");
        };
        let output = Int64Array::from(unsafe { from_ffi(array, &schema) }.unwrap());
        assert_eq!(output.len(), 3);
        assert_eq!(output.value(0), 3_600);
        assert!(output.is_null(1));
        assert!(output.is_null(2));
    }
}
