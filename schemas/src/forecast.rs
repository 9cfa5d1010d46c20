//! The canonical forecast record: one tenant's spend (total or one category) forecast for one
//! future period, with its prediction interval and how the model was chosen.
//!
//! Forecasts are written to the `forecasts` Delta table (Arrow schema [`forecast_schema`]);
//! the columns match the ClickHouse `forecasts` table (`deploy/clickhouse/migrations/
//! 0004_forecasts.sql`) plus the backtest evidence. A run replaces the table: the current
//! forecast of a (tenant, granularity, category, target_date) is the only row for it.

use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int16Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One forecast period of one series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Tenant.
    pub tenant_id: String,
    /// Method chosen for the series: `seasonal_naive`, `ets` or `mstl_ets`.
    pub model: String,
    /// Version of the forecasting code and parameters.
    pub model_version: String,
    /// `day` or `month`.
    pub granularity: String,
    /// Currency of the values (the tenant's main currency).
    pub currency: String,
    /// Category code, or "" for the tenant's total spend.
    pub category: String,
    /// First day of the forecast period.
    pub target_date: NaiveDate,
    /// Periods ahead of the last observed one (1 = the next period).
    pub step: u16,
    /// Point forecast of spend, major units.
    pub yhat: f64,
    /// Lower bound of the prediction interval (never below 0).
    pub yhat_lower: f64,
    /// Upper bound of the prediction interval.
    pub yhat_upper: f64,
    /// Nominal coverage of the interval, e.g. 0.95.
    pub interval_width: f64,
    /// Last day of the history the model saw (the end of the last complete period).
    pub trained_through: NaiveDate,
    /// Periods of history used.
    pub history_points: u32,
    /// Rolling-origin backtest MASE of the chosen method (None when the series was too short
    /// to backtest).
    pub backtest_mase: Option<f64>,
    /// The same backtest's MASE for seasonal naive, the baseline the choice had to beat.
    pub baseline_mase: Option<f64>,
    /// Version of the `transactions` table the history was read from.
    pub source_version: i64,
    /// When it was generated.
    pub generated_at: DateTime<Utc>,
}

/// The Arrow schema of the `forecasts` table.
pub fn forecast_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        utf8("tenant_id"),
        utf8("model"),
        utf8("model_version"),
        utf8("granularity"),
        utf8("currency"),
        utf8("category"),
        Field::new("target_date", DataType::Date32, false),
        Field::new("step", DataType::Int16, false),
        Field::new("yhat", DataType::Float64, false),
        Field::new("yhat_lower", DataType::Float64, false),
        Field::new("yhat_upper", DataType::Float64, false),
        Field::new("interval_width", DataType::Float64, false),
        Field::new("trained_through", DataType::Date32, false),
        Field::new("history_points", DataType::Int64, false),
        Field::new("backtest_mase", DataType::Float64, true),
        Field::new("baseline_mase", DataType::Float64, true),
        Field::new("source_version", DataType::Int64, false),
        Field::new(
            "generated_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn date32(day: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&day) - UNIX_EPOCH_DAYS_FROM_CE
}

/// Forecasts as one batch in [`forecast_schema`].
pub fn forecasts_to_batch(forecasts: &[Forecast]) -> Result<RecordBatch, ArrowError> {
    let n = forecasts.len();
    let mut text: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
    let mut target = Date32Builder::with_capacity(n);
    let mut step = Int16Builder::with_capacity(n);
    let mut yhat = Float64Builder::with_capacity(n);
    let mut lower = Float64Builder::with_capacity(n);
    let mut upper = Float64Builder::with_capacity(n);
    let mut width = Float64Builder::with_capacity(n);
    let mut through = Date32Builder::with_capacity(n);
    let mut points = Int64Builder::with_capacity(n);
    let mut mase = Float64Builder::with_capacity(n);
    let mut baseline = Float64Builder::with_capacity(n);
    let mut source = Int64Builder::with_capacity(n);
    let mut generated = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for f in forecasts {
        for (builder, value) in text.iter_mut().zip([
            &f.tenant_id,
            &f.model,
            &f.model_version,
            &f.granularity,
            &f.currency,
            &f.category,
        ]) {
            builder.append_value(value);
        }
        target.append_value(date32(f.target_date));
        step.append_value(i16::try_from(f.step).unwrap_or(i16::MAX));
        yhat.append_value(f.yhat);
        lower.append_value(f.yhat_lower);
        upper.append_value(f.yhat_upper);
        width.append_value(f.interval_width);
        through.append_value(date32(f.trained_through));
        points.append_value(i64::from(f.history_points));
        mase.append_option(f.backtest_mase);
        baseline.append_option(f.baseline_mase);
        source.append_value(f.source_version);
        generated.append_value(f.generated_at.timestamp_micros());
    }
    let mut columns: Vec<ArrayRef> = text
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.extend([
        Arc::new(target.finish()) as ArrayRef,
        Arc::new(step.finish()),
        Arc::new(yhat.finish()),
        Arc::new(lower.finish()),
        Arc::new(upper.finish()),
        Arc::new(width.finish()),
        Arc::new(through.finish()),
        Arc::new(points.finish()),
        Arc::new(mase.finish()),
        Arc::new(baseline.finish()),
        Arc::new(source.finish()),
        Arc::new(generated.finish()),
    ]);
    RecordBatch::try_new(forecast_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_schema_and_json_round_trips() {
        let forecast = Forecast {
            tenant_id: "acme".into(),
            model: "ets".into(),
            model_version: "forecast-1".into(),
            granularity: "month".into(),
            currency: "GBP".into(),
            category: String::new(),
            target_date: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            step: 1,
            yhat: 1200.5,
            yhat_lower: 900.0,
            yhat_upper: 1500.0,
            interval_width: 0.95,
            trained_through: NaiveDate::from_ymd_opt(2024, 4, 30).unwrap(),
            history_points: 36,
            backtest_mase: Some(0.8),
            baseline_mase: None,
            source_version: 3,
            generated_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let batch = forecasts_to_batch(&[forecast.clone()]).unwrap();
        assert_eq!(batch.schema(), forecast_schema());
        assert_eq!(
            batch.column_by_name("baseline_mase").unwrap().null_count(),
            1
        );
        let json = serde_json::to_string(&forecast).unwrap();
        assert_eq!(serde_json::from_str::<Forecast>(&json).unwrap(), forecast);
    }
}
