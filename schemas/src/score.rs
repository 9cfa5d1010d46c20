//! The canonical SpendScore record: one tenant's score over one rolling window, with every
//! metric's value and the sentence that explains it.
//!
//! Scores are appended to the `spend_scores` Delta table (Arrow schema [`score_schema`]) and,
//! as JSON, to the scores topic. Each recomputation appends new rows; the current score of a
//! (`tenant_id`, `model`, `window_days`) is the row with the greatest `source_version` (the
//! `transactions` table version it was computed from), then the latest `scored_at`.
//!
//! The metric columns are flat (`<metric>` value and `<metric>_why` sentence, for each name in
//! [`SCORE_METRICS`]) so that SQL over the table reads like the dashboard:
//! `SELECT tenant_id, score, redundancy, redundancy_why FROM spend_scores`.

use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int16Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder, UInt8Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Version of the score record layout.
pub const SCORE_SCHEMA_VERSION: i16 = 1;

/// The metrics of the v2 SpendScore, in display order (their columns follow this order).
pub const SCORE_METRICS: [&str; 6] = [
    "categorisation",
    "concentration",
    "budget",
    "redundancy",
    "spike",
    "waste",
];

/// One metric of a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreMetric {
    /// One of [`SCORE_METRICS`].
    pub name: String,
    /// 0–100, or `None` when the window lacks what the metric needs (its weight is then
    /// spread over the others, and `explanation` says why).
    pub value: Option<f64>,
    /// Weight in percent of the full score.
    pub weight: f64,
    /// A sentence a finance lead can read: the value, what drove it, and the money involved.
    pub explanation: String,
}

/// One tenant's SpendScore over one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpendScore {
    /// Tenant.
    pub tenant_id: String,
    /// `v2` (the classic score is computed on files, not stored per window).
    pub model: String,
    /// Version of the model's definition.
    pub model_version: String,
    /// Window length in days (30, 90 or 365).
    pub window_days: u16,
    /// First day of the window.
    pub period_start: NaiveDate,
    /// Last day of the window (inclusive): the tenant's latest booked spend day.
    pub period_end: NaiveDate,
    /// Currency of the scored spend (the tenant's main currency).
    pub currency: String,
    /// Final score 0–100.
    pub score: u8,
    /// Green ≥ 90, Amber 70–89, Red < 70 (as the classic score).
    pub band: String,
    /// "Excellent", "Good" or "Needs Improvement".
    pub label: String,
    /// Unrounded weighted score.
    pub weighted: f64,
    /// The metrics, in [`SCORE_METRICS`] order.
    pub metrics: Vec<ScoreMetric>,
    /// Spend transactions in the window.
    pub transactions: u64,
    /// Net spend in the window (spend less matched refunds), minor units.
    pub spend_minor: i64,
    /// Refunds netted against spend, minor units.
    pub refunds_minor: i64,
    /// Version of the `transactions` table the score was computed from.
    pub source_version: i64,
    /// When it was computed.
    pub scored_at: DateTime<Utc>,
}

impl SpendScore {
    /// The metric called `name`, if present.
    pub fn metric(&self, name: &str) -> Option<&ScoreMetric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// The Arrow schema of the `spend_scores` table.
pub fn score_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("schema_version", DataType::Int16, false),
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("model_version", DataType::Utf8, false),
        Field::new("window_days", DataType::Int16, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("score", DataType::UInt8, false),
        Field::new("band", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("weighted", DataType::Float64, false),
    ];
    for name in SCORE_METRICS {
        fields.push(Field::new(name, DataType::Float64, true));
        fields.push(Field::new(format!("{name}_why"), DataType::Utf8, false));
    }
    fields.extend([
        Field::new("transactions", DataType::Int64, false),
        Field::new("spend_minor", DataType::Int64, false),
        Field::new("refunds_minor", DataType::Int64, false),
        Field::new("source_version", DataType::Int64, false),
        Field::new(
            "scored_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]);
    Arc::new(Schema::new(fields))
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn date32(day: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&day) - UNIX_EPOCH_DAYS_FROM_CE
}

/// Scores as one batch in [`score_schema`]. A score whose metrics are not exactly
/// [`SCORE_METRICS`] is an error (the columns would not line up).
pub fn scores_to_batch(scores: &[SpendScore]) -> Result<RecordBatch, ArrowError> {
    let n = scores.len();
    let mut version = Int16Builder::with_capacity(n);
    let mut tenant = StringBuilder::new();
    let mut model = StringBuilder::new();
    let mut model_version = StringBuilder::new();
    let mut window = Int16Builder::with_capacity(n);
    let mut start = Date32Builder::with_capacity(n);
    let mut end = Date32Builder::with_capacity(n);
    let mut currency = StringBuilder::new();
    let mut score = UInt8Builder::with_capacity(n);
    let mut band = StringBuilder::new();
    let mut label = StringBuilder::new();
    let mut weighted = Float64Builder::with_capacity(n);
    let mut values: Vec<Float64Builder> = SCORE_METRICS
        .iter()
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    let mut whys: Vec<StringBuilder> = SCORE_METRICS.iter().map(|_| StringBuilder::new()).collect();
    let mut transactions = Int64Builder::with_capacity(n);
    let mut spend = Int64Builder::with_capacity(n);
    let mut refunds = Int64Builder::with_capacity(n);
    let mut source_version = Int64Builder::with_capacity(n);
    let mut scored_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for s in scores {
        let names: Vec<&str> = s.metrics.iter().map(|m| m.name.as_str()).collect();
        if names != SCORE_METRICS {
            return Err(ArrowError::InvalidArgumentError(format!(
                "score for {} has metrics {names:?}, expected {SCORE_METRICS:?}",
                s.tenant_id
            )));
        }
        version.append_value(SCORE_SCHEMA_VERSION);
        tenant.append_value(&s.tenant_id);
        model.append_value(&s.model);
        model_version.append_value(&s.model_version);
        window.append_value(i16::try_from(s.window_days).unwrap_or(i16::MAX));
        start.append_value(date32(s.period_start));
        end.append_value(date32(s.period_end));
        currency.append_value(&s.currency);
        score.append_value(s.score);
        band.append_value(&s.band);
        label.append_value(&s.label);
        weighted.append_value(s.weighted);
        for (i, metric) in s.metrics.iter().enumerate() {
            values[i].append_option(metric.value);
            whys[i].append_value(&metric.explanation);
        }
        transactions.append_value(i64::try_from(s.transactions).unwrap_or(i64::MAX));
        spend.append_value(s.spend_minor);
        refunds.append_value(s.refunds_minor);
        source_version.append_value(s.source_version);
        scored_at.append_value(s.scored_at.timestamp_micros());
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(version.finish()),
        Arc::new(tenant.finish()),
        Arc::new(model.finish()),
        Arc::new(model_version.finish()),
        Arc::new(window.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(currency.finish()),
        Arc::new(score.finish()),
        Arc::new(band.finish()),
        Arc::new(label.finish()),
        Arc::new(weighted.finish()),
    ];
    for (value, why) in values.iter_mut().zip(whys.iter_mut()) {
        columns.push(Arc::new(value.finish()));
        columns.push(Arc::new(why.finish()));
    }
    columns.extend([
        Arc::new(transactions.finish()) as ArrayRef,
        Arc::new(spend.finish()),
        Arc::new(refunds.finish()),
        Arc::new(source_version.finish()),
        Arc::new(scored_at.finish()),
    ]);
    RecordBatch::try_new(score_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SpendScore {
        SpendScore {
            tenant_id: "acme".into(),
            model: "v2".into(),
            model_version: "2.0".into(),
            window_days: 90,
            period_start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            period_end: NaiveDate::from_ymd_opt(2024, 3, 30).unwrap(),
            currency: "GBP".into(),
            score: 81,
            band: "Amber".into(),
            label: "Good".into(),
            weighted: 81.2,
            metrics: SCORE_METRICS
                .iter()
                .map(|name| ScoreMetric {
                    name: (*name).into(),
                    value: (*name != "budget").then_some(80.0),
                    weight: 10.0,
                    explanation: format!("{name} explained"),
                })
                .collect(),
            transactions: 12,
            spend_minor: 123_456,
            refunds_minor: 0,
            source_version: 7,
            scored_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn batch_matches_schema_and_keeps_missing_metrics_null() {
        let batch = scores_to_batch(&[sample(), sample()]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), score_schema());
        let budget = batch.column_by_name("budget").unwrap();
        assert_eq!(budget.null_count(), 2);
        assert_eq!(batch.column_by_name("waste").unwrap().null_count(), 0);
    }

    #[test]
    fn wrong_metric_set_is_rejected() {
        let mut score = sample();
        score.metrics.pop();
        let err = scores_to_batch(&[score]).unwrap_err();
        assert!(err.to_string().contains("expected"), "{err}");
    }

    #[test]
    fn json_round_trip() {
        let score = sample();
        let json = serde_json::to_string(&score).unwrap();
        let back: SpendScore = serde_json::from_str(&json).unwrap();
        assert_eq!(back, score);
    }
}
