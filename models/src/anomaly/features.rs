//! Per-transaction features, computed by DataFusion with window functions over each tenant's
//! history, and read back into [`SpendRow`]s.
//!
//! Every feature of a row looks only at rows booked before it (frames end at `1 PRECEDING`),
//! so a transaction's features do not change when later ones arrive. Baselines are per
//! (tenant, currency, vendor) and per (tenant, currency, category), on the log of the amount
//! so one huge payment cannot dominate a mean.
//!
//! | # | feature | meaning |
//! |---|---------|---------|
//! | 0 | `log_amount` | ln(1 + amount in major units) |
//! | 1 | `vendor_z` | (log_amount − vendor mean) / vendor sd, 0 with < 5 earlier charges |
//! | 2 | `category_z` | the same against the category, 0 with < 5 earlier |
//! | 3 | `vendor_novelty` | 1 / (1 + earlier charges from the vendor) |
//! | 4 | `log_days_since_vendor` | ln(1 + days since the vendor's previous charge), 0 for a first |
//! | 5 | `vendor_share` | the vendor's share of the tenant's earlier charges |
//! | 6 | `weekday` | ISO day of week, 0 = Monday |
//! | 7 | `round_amount` | [`round_amount_score`] |
//! | 8 | `under_limit` | [`under_limit_score`] |

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int8Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use chrono::NaiveDate;

pub use super::amounts::{DEFAULT_APPROVAL_LIMITS, round_amount_score, under_limit_score};
use super::{FEATURE_COUNT, Features, SpendRow};

/// Names of the features, in vector order.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "log_amount",
    "vendor_z",
    "category_z",
    "vendor_novelty",
    "log_days_since_vendor",
    "vendor_share",
    "weekday",
    "round_amount",
    "under_limit",
];

/// Smallest standard deviation (of log amounts) a z-score divides by: a vendor that always
/// charged the same price would otherwise make a one-cent change infinitely surprising.
const MIN_SD: f64 = 0.1;

/// The feature query over a table (or view) with the canonical transaction columns. Needs the
/// UDFs of [`super::udf::register`] (`round_amount_score`, `under_limit_score`).
///
/// `filter` is an extra SQL predicate on the source rows (`TRUE` for everything), e.g. a
/// tenant list for incremental runs.
pub fn features_sql(source: &str, filter: &str) -> String {
    format!(
        r#"
WITH spend AS (
    SELECT tenant_id, transaction_id, booked_date, booked_time_s, amount_minor, currency,
           currency_digits,
           COALESCE(vendor, vendor_raw, '') AS vendor,
           category,
           COALESCE(card_last4, employee, '') AS payer,
           ln(1.0 + CAST(amount_minor AS DOUBLE) / power(10.0, CAST(currency_digits AS DOUBLE))) AS log_amount
    FROM {source}
    WHERE class = 'spend' AND ({filter})
),
windowed AS (
    SELECT *,
        count(*) OVER (PARTITION BY tenant_id, currency, vendor
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS vendor_prior,
        avg(log_amount) OVER (PARTITION BY tenant_id, currency, vendor
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS vendor_mean,
        stddev_pop(log_amount) OVER (PARTITION BY tenant_id, currency, vendor
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS vendor_sd,
        lag(booked_date) OVER (PARTITION BY tenant_id, currency, vendor
            ORDER BY booked_date, booked_time_s, transaction_id) AS vendor_previous_date,
        count(*) OVER (PARTITION BY tenant_id, currency, category
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS category_prior,
        avg(log_amount) OVER (PARTITION BY tenant_id, currency, category
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS category_mean,
        stddev_pop(log_amount) OVER (PARTITION BY tenant_id, currency, category
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS category_sd,
        count(*) OVER (PARTITION BY tenant_id
            ORDER BY booked_date, booked_time_s, transaction_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS tenant_prior
    FROM spend
)
SELECT tenant_id, transaction_id, booked_date, booked_time_s, amount_minor, currency,
       currency_digits, vendor, category, payer,
       log_amount,
       CASE WHEN vendor_prior >= 5
            THEN (log_amount - vendor_mean) / greatest(vendor_sd, {MIN_SD}) ELSE 0.0 END AS vendor_z,
       CASE WHEN category_prior >= 5
            THEN (log_amount - category_mean) / greatest(category_sd, {MIN_SD}) ELSE 0.0 END AS category_z,
       1.0 / (1.0 + CAST(vendor_prior AS DOUBLE)) AS vendor_novelty,
       CASE WHEN vendor_previous_date IS NULL THEN 0.0
            ELSE ln(1.0 + CAST(CAST(booked_date AS INT) - CAST(vendor_previous_date AS INT) AS DOUBLE)) END
            AS log_days_since_vendor,
       CAST(vendor_prior AS DOUBLE) / CAST(greatest(tenant_prior, 1) AS DOUBLE) AS vendor_share,
       CAST((CAST(date_part('dow', booked_date) AS INT) + 6) % 7 AS DOUBLE) AS weekday,
       round_amount_score(amount_minor, currency_digits) AS round_amount,
       under_limit_score(amount_minor, currency_digits) AS under_limit,
       CASE WHEN vendor_prior >= 5
            THEN CAST(round((exp(vendor_mean) - 1.0) * power(10.0, CAST(currency_digits AS DOUBLE))) AS BIGINT)
       END AS vendor_typical_minor,
       CASE WHEN category_prior >= 5
            THEN CAST(round((exp(category_mean) - 1.0) * power(10.0, CAST(currency_digits AS DOUBLE))) AS BIGINT)
       END AS category_typical_minor
FROM windowed
ORDER BY tenant_id, booked_date, booked_time_s, transaction_id
"#
    )
}

/// Runs the feature query over `source` in `ctx` (UDFs registered there) and reads the rows.
pub async fn compute_features(
    ctx: &datafusion::prelude::SessionContext,
    source: &str,
    filter: &str,
) -> Result<Vec<SpendRow>, FeatureError> {
    let batches = ctx
        .sql(&features_sql(source, filter))
        .await?
        .collect()
        .await?;
    rows_from_batches(&batches)
}

/// Errors reading feature batches.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A column the feature query produces is missing or has another type (an internal bug).
    #[error("feature batch column {column}: {problem}")]
    Column {
        /// Column name.
        column: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The feature query failed (the source lacks canonical columns, or an internal bug).
    #[error("feature query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
}

fn column<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a dyn Array, FeatureError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or(FeatureError::Column {
            column: name,
            problem: "missing".into(),
        })
}

pub(crate) fn typed<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a T, FeatureError> {
    column(batch, name)?
        .as_any()
        .downcast_ref::<T>()
        .ok_or(FeatureError::Column {
            column: name,
            problem: format!(
                "unexpected type {}",
                column(batch, name)
                    .map(|c| c.data_type().to_string())
                    .unwrap_or_default()
            ),
        })
}

pub(crate) fn text(batch: &RecordBatch, name: &'static str) -> Result<Vec<String>, FeatureError> {
    // One path for Utf8, LargeUtf8 and Utf8View (Delta reads may give any of them).
    let array =
        datafusion::arrow::compute::cast(column(batch, name)?, &DataType::Utf8).map_err(|e| {
            FeatureError::Column {
                column: name,
                problem: format!("expected text: {e}"),
            }
        })?;
    let strings = array.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| {
            if strings.is_null(i) {
                String::new()
            } else {
                strings.value(i).to_string()
            }
        })
        .collect())
}

/// Reads the rows of the feature query's output batches, in order.
pub fn rows_from_batches(batches: &[RecordBatch]) -> Result<Vec<SpendRow>, FeatureError> {
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        read_batch(batch, &mut rows)?;
    }
    Ok(rows)
}

fn read_batch(batch: &RecordBatch, rows: &mut Vec<SpendRow>) -> Result<(), FeatureError> {
    let tenant = text(batch, "tenant_id")?;
    let transaction = text(batch, "transaction_id")?;
    let vendor = text(batch, "vendor")?;
    let category = text(batch, "category")?;
    let payer = text(batch, "payer")?;
    let currency = text(batch, "currency")?;
    let day = typed::<arrow_array::PrimitiveArray<Date32Type>>(batch, "booked_date")?;
    let time = typed::<arrow_array::PrimitiveArray<Int32Type>>(batch, "booked_time_s")?;
    let amount = typed::<arrow_array::PrimitiveArray<Int64Type>>(batch, "amount_minor")?;
    let digits = typed::<arrow_array::PrimitiveArray<Int8Type>>(batch, "currency_digits")?;
    let vendor_typical =
        typed::<arrow_array::PrimitiveArray<Int64Type>>(batch, "vendor_typical_minor")?;
    let category_typical =
        typed::<arrow_array::PrimitiveArray<Int64Type>>(batch, "category_typical_minor")?;
    // Present when the query was wrapped with the `isolation_score` UDF.
    let forest_score = match batch.column_by_name("forest_score") {
        Some(_) => Some(typed::<arrow_array::PrimitiveArray<Float64Type>>(
            batch,
            "forest_score",
        )?),
        None => None,
    };
    let optional = |values: &arrow_array::PrimitiveArray<Int64Type>, i: usize| {
        (!values.is_null(i)).then(|| values.value(i))
    };
    let mut feature_columns = Vec::with_capacity(FEATURE_COUNT);
    for name in FEATURE_NAMES {
        feature_columns.push(typed::<arrow_array::PrimitiveArray<Float64Type>>(
            batch, name,
        )?);
    }
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut tenant = tenant.into_iter();
    let mut transaction = transaction.into_iter();
    let mut vendor = vendor.into_iter();
    let mut category = category.into_iter();
    let mut payer = payer.into_iter();
    let mut currency = currency.into_iter();
    for i in 0..batch.num_rows() {
        let mut features: Features = [0.0; FEATURE_COUNT];
        for (slot, values) in features.iter_mut().zip(&feature_columns) {
            let value = if values.is_null(i) {
                0.0
            } else {
                values.value(i)
            };
            *slot = if value.is_finite() { value } else { 0.0 };
        }
        rows.push(SpendRow {
            tenant_id: tenant.next().unwrap_or_default(),
            transaction_id: transaction.next().unwrap_or_default(),
            day: epoch + chrono::Days::new(u64::try_from(day.value(i)).unwrap_or(0)),
            time_s: (!time.is_null(i)).then(|| time.value(i)),
            amount_minor: amount.value(i),
            currency: currency.next().unwrap_or_default(),
            currency_digits: u8::try_from(digits.value(i)).unwrap_or(2),
            vendor: vendor.next().unwrap_or_default(),
            category: category.next().unwrap_or_default(),
            payer: payer.next().unwrap_or_default(),
            features,
            vendor_typical_minor: optional(vendor_typical, i),
            category_typical_minor: optional(category_typical, i),
            forest_score: forest_score
                .filter(|scores| !scores.is_null(i))
                .map(|scores| scores.value(i)),
        });
    }
    Ok(())
}
