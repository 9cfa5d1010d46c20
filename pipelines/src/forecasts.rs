//! The forecasting job: daily spend per tenant × category from the `transactions` table
//! (DataFusion), monthly and daily histories, a method per series chosen by backtest
//! ([`verocta_models::forecast`]), and the `forecasts` Delta table.
//!
//! It runs on demand (`verocta forecast`) and on a schedule inside `verocta up` (when the
//! transactions table has changed and the last run is older than the interval, and once more
//! before `--exit-when-idle` exits).
//!
//! Guarantees: a run replaces the table in one commit that also records the `transactions`
//! version it read (Delta `txn`, app id [`FORECASTS_APP_ID`]), so readers see one run's
//! forecasts, a crashed run leaves the previous ones, and [`ForecastJob::is_stale`] can tell
//! whether new data arrived since.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use verocta_lakehouse::{Lake, LakeError, TRANSACTIONS_TABLE};
use verocta_models::anomaly::features::FeatureError;
use verocta_models::forecast::{self, FORECAST_VERSION, Granularity, History, INTERVAL_LEVEL};
use verocta_schemas::Forecast;
use verocta_schemas::forecast::forecasts_to_batch;

use crate::follow::{self, Pending};

/// Name of the forecasts table.
pub const FORECASTS_TABLE: &str = "forecasts";
/// The `txn` app id under which `forecasts` records the `transactions` version it read.
pub const FORECASTS_APP_ID: &str = "verocta-forecasts:transactions";

/// Horizons and minimum histories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastConfig {
    /// Months ahead.
    pub horizon_months: usize,
    /// Days ahead.
    pub horizon_days: usize,
    /// Months of history a monthly series needs.
    pub min_months: usize,
    /// Days of history a daily series needs.
    pub min_days: usize,
    /// Days of history daily models see (older days are dropped).
    pub daily_history_days: usize,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig {
            horizon_months: 6,
            horizon_days: 30,
            min_months: 6,
            min_days: 28,
            daily_history_days: 365,
        }
    }
}

impl ForecastConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("horizon_months", self.horizon_months),
            ("horizon_days", self.horizon_days),
            ("min_months", self.min_months),
            ("min_days", self.min_days),
            ("daily_history_days", self.daily_history_days),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("`{name}` must be at least 1"));
            }
        }
        if self.daily_history_days < self.min_days {
            return Err("`daily_history_days` must be at least `min_days`".into());
        }
        Ok(())
    }
}

/// Errors of the job.
#[derive(Debug, thiserror::Error)]
pub enum ForecastJobError {
    /// The user's configuration is invalid.
    #[error("invalid forecast configuration: {0}")]
    Config(String),
    /// Reading or writing Delta failed.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The spend query returned an unexpected shape (an internal bug).
    #[error(transparent)]
    Rows(#[from] FeatureError),
    /// Building the batch failed (an internal bug).
    #[error("building the forecasts batch failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The forecasting task panicked (an internal bug).
    #[error("forecasting task failed: {0}")]
    Task(String),
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ForecastRun {
    /// `transactions` version read.
    pub source_version: Option<i64>,
    /// Series seen (tenant × category × granularity, totals included).
    pub series: usize,
    /// Series forecast (the rest had too little history).
    pub forecast_series: usize,
    /// Series per chosen method.
    pub by_method: std::collections::BTreeMap<String, usize>,
    /// Forecast series whose chosen method beat seasonal naive in the backtest.
    pub beat_baseline: usize,
    /// Forecast series that could be backtested.
    pub backtested: usize,
    /// Rows written.
    pub rows: usize,
    /// Version of the `forecasts` table committed.
    pub table_version: Option<u64>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// The job.
#[derive(Clone, Debug)]
pub struct ForecastJob {
    /// The lake.
    pub lake: Lake,
    /// Horizons.
    pub config: ForecastConfig,
}

impl ForecastJob {
    /// A job over `data_dir` with default horizons.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        ForecastJob {
            lake: Lake::in_data_dir(data_dir),
            config: ForecastConfig::default(),
        }
    }

    /// Whether `transactions` changed since the forecasts were made (or none exist).
    pub async fn is_stale(&self) -> Result<bool, ForecastJobError> {
        let pending = follow::pending(&self.lake, FORECASTS_TABLE, FORECASTS_APP_ID).await?;
        Ok(!matches!(
            pending,
            Pending::NoSource | Pending::UpToDate { .. }
        ))
    }

    /// Forecasts every tenant and replaces the `forecasts` table.
    pub async fn run(&self) -> Result<(ForecastRun, Vec<Forecast>), ForecastJobError> {
        self.config.validate().map_err(ForecastJobError::Config)?;
        let started = Instant::now();
        let mut run = ForecastRun::default();
        let Some(latest) = self.lake.table_version(TRANSACTIONS_TABLE).await? else {
            return Ok((run, Vec::new()));
        };
        let source_version = i64::try_from(latest).unwrap_or(i64::MAX);
        run.source_version = Some(source_version);
        let ctx = self.lake.session_at(TRANSACTIONS_TABLE, latest).await?;
        let batches = ctx
            .sql(&forecast::daily_spend_sql(TRANSACTIONS_TABLE, "TRUE"))
            .await
            .map_err(LakeError::from)?
            .collect()
            .await
            .map_err(LakeError::from)?;
        let rows = forecast::daily_spend_from_batches(&batches)?;
        let config = self.config.clone();
        let generated_at = chrono::Utc::now();
        let (forecasts, counted) = tokio::task::spawn_blocking(move || {
            let histories = forecast::histories(&rows, config.daily_history_days);
            forecast_all(&histories, &config, source_version, generated_at)
        })
        .await
        .map_err(|e| ForecastJobError::Task(e.to_string()))?;
        run = ForecastRun {
            source_version: Some(source_version),
            ..counted
        };
        run.rows = forecasts.len();
        let batch = forecasts_to_batch(&forecasts)?;
        run.table_version = self
            .lake
            .replace_table(
                FORECASTS_TABLE,
                batch,
                &[],
                Some((FORECASTS_APP_ID, source_version)),
            )
            .await?;
        run.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            source_version,
            series = run.series,
            forecast_series = run.forecast_series,
            beat_baseline = run.beat_baseline,
            rows = run.rows,
            "forecasts written"
        );
        Ok((run, forecasts))
    }
}

/// Forecasts every history long enough for its granularity.
pub fn forecast_all(
    histories: &[History],
    config: &ForecastConfig,
    source_version: i64,
    generated_at: chrono::DateTime<chrono::Utc>,
) -> (Vec<Forecast>, ForecastRun) {
    let mut run = ForecastRun {
        series: histories.len(),
        ..ForecastRun::default()
    };
    let mut out = Vec::new();
    for history in histories {
        let (h, min) = match history.granularity {
            Granularity::Month => (config.horizon_months, config.min_months),
            Granularity::Day => (config.horizon_days, config.min_days),
        };
        if history.values.len() < min || history.values.iter().all(|v| *v == 0.0) {
            continue;
        }
        let season = history.granularity.season();
        let Some(chosen) = forecast::choose_and_forecast(&history.values, season, h) else {
            continue;
        };
        run.forecast_series += 1;
        *run.by_method
            .entry(chosen.method.as_str().to_string())
            .or_default() += 1;
        if let (Some(model), Some(baseline)) = (chosen.backtest_mase, chosen.baseline_mase) {
            run.backtested += 1;
            if model < baseline {
                run.beat_baseline += 1;
            }
        }
        let last = history.last_period();
        let trained_through = history.granularity.last_day(last);
        for step in 0..h {
            out.push(Forecast {
                tenant_id: history.tenant_id.clone(),
                model: chosen.method.as_str().into(),
                model_version: FORECAST_VERSION.into(),
                granularity: history.granularity.as_str().into(),
                currency: history.currency.clone(),
                category: history.category.clone(),
                target_date: history.granularity.add(last, step + 1),
                step: u16::try_from(step + 1).unwrap_or(u16::MAX),
                yhat: chosen.prediction.point[step],
                yhat_lower: chosen.prediction.lower[step],
                yhat_upper: chosen.prediction.upper[step],
                interval_width: INTERVAL_LEVEL,
                trained_through,
                history_points: u32::try_from(history.values.len()).unwrap_or(u32::MAX),
                backtest_mase: chosen.backtest_mase,
                baseline_mase: chosen.baseline_mase,
                source_version,
                generated_at,
            });
        }
    }
    (out, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_zero_and_unknown_fields() {
        assert!(ForecastConfig::default().validate().is_ok());
        let zero = ForecastConfig {
            horizon_days: 0,
            ..ForecastConfig::default()
        };
        assert!(zero.validate().unwrap_err().contains("horizon_days"));
        let unknown = serde_json::from_str::<ForecastConfig>(r#"{"horizon": 3}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn short_and_empty_histories_are_skipped() {
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let history = |values: Vec<f64>| History {
            tenant_id: "t".into(),
            category: String::new(),
            currency: "USD".into(),
            granularity: Granularity::Month,
            start,
            values,
        };
        let histories = vec![
            history(vec![1.0; 3]),
            history(vec![0.0; 24]),
            history((0..24).map(|i| 100.0 + f64::from(i)).collect()),
        ];
        let (rows, run) = forecast_all(
            &histories,
            &ForecastConfig::default(),
            7,
            chrono::Utc::now(),
        );
        assert_eq!(run.series, 3);
        assert_eq!(run.forecast_series, 1);
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[0].target_date,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
        assert_eq!(
            rows[0].trained_through,
            chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        assert!(rows.iter().all(|r| r.source_version == 7 && r.yhat >= 0.0));
    }
}
