//! The canonical anomaly record: one flagged subject (a transaction, or a tenant's category in
//! a month), the detectors that fired on it, a score and a reason a finance lead can read.
//!
//! Anomalies are written to the `anomalies` Delta table (Arrow schema [`anomaly_schema`]) and,
//! as JSON, to the alerts topic. The natural key is (`tenant_id`, `subject_kind`, `subject`):
//! re-running detection over the same history yields the same rows, so writers can replace a
//! tenant's rows idempotently.

use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Version of the anomaly record layout.
pub const ANOMALY_SCHEMA_VERSION: i16 = 1;

/// What an anomaly is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// One transaction (`subject` is its transaction id).
    Transaction,
    /// A category's spend in one month (`subject` is `category/YYYY-MM`).
    CategoryMonth,
}

impl SubjectKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Transaction => "transaction",
            SubjectKind::CategoryMonth => "category_month",
        }
    }
}

/// How urgent a flag is, from its score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Likely a problem.
    Medium,
    /// Act now (e.g. a probable duplicate payment).
    High,
}

impl Severity {
    /// Severity of a score in `[0, 1]`: high ≥ 0.8, medium ≥ 0.6, low below.
    pub fn from_score(score: f64) -> Severity {
        if score >= 0.8 {
            Severity::High
        } else if score >= 0.6 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One flagged subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Tenant.
    pub tenant_id: String,
    /// What is flagged.
    pub subject_kind: SubjectKind,
    /// Transaction id, or `category/YYYY-MM`.
    pub subject: String,
    /// The flagged transaction, when the subject is one.
    pub transaction_id: Option<String>,
    /// The transaction's booked date, or the first day of the flagged month.
    pub day: NaiveDate,
    /// Detectors that fired (e.g. `duplicate_payment`, `isolation_forest`), sorted.
    pub detectors: Vec<String>,
    /// Combined score in `[0, 1]`: the highest of the detectors' scores.
    pub score: f64,
    /// From the score.
    pub severity: Severity,
    /// One sentence per detector, joined with "; ".
    pub reason: String,
    /// Observed amount, in minor units of `currency`.
    pub amount_minor: i64,
    /// What the detector expected, when it has a baseline (minor units).
    pub expected_minor: Option<i64>,
    /// ISO 4217 code.
    pub currency: String,
    /// Version of the detectors and model that produced the flag.
    pub detector_version: String,
    /// When detection ran.
    pub detected_at: DateTime<Utc>,
}

/// Arrow schema of the `anomalies` table.
pub fn anomaly_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("schema_version", DataType::Int16, false),
        utf8("tenant_id", false),
        utf8("subject_kind", false),
        utf8("subject", false),
        utf8("transaction_id", true),
        Field::new("day", DataType::Date32, false),
        Field::new(
            "detectors",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("score", DataType::Float64, false),
        utf8("severity", false),
        utf8("reason", false),
        Field::new("amount_minor", DataType::Int64, false),
        Field::new("expected_minor", DataType::Int64, true),
        utf8("currency", false),
        utf8("detector_version", false),
        Field::new(
            "detected_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Encodes anomalies as one Arrow batch of [`anomaly_schema`].
pub fn anomalies_to_batch(anomalies: &[Anomaly]) -> Result<RecordBatch, ArrowError> {
    let n = anomalies.len();
    let mut version = arrow_array::builder::Int16Builder::with_capacity(n);
    let mut tenant = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut subject = StringBuilder::new();
    let mut transaction = StringBuilder::new();
    let mut day = Date32Builder::with_capacity(n);
    let mut detectors = ListBuilder::new(StringBuilder::new());
    let mut score = Float64Builder::with_capacity(n);
    let mut severity = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut amount = Int64Builder::with_capacity(n);
    let mut expected = Int64Builder::with_capacity(n);
    let mut currency = StringBuilder::new();
    let mut detector_version = StringBuilder::new();
    let mut detected_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for a in anomalies {
        version.append_value(ANOMALY_SCHEMA_VERSION);
        tenant.append_value(&a.tenant_id);
        kind.append_value(a.subject_kind.as_str());
        subject.append_value(&a.subject);
        transaction.append_option(a.transaction_id.as_deref());
        day.append_value(chrono::Datelike::num_days_from_ce(&a.day) - UNIX_EPOCH_DAYS_FROM_CE);
        for detector in &a.detectors {
            detectors.values().append_value(detector);
        }
        detectors.append(true);
        score.append_value(a.score);
        severity.append_value(a.severity.as_str());
        reason.append_value(&a.reason);
        amount.append_value(a.amount_minor);
        expected.append_option(a.expected_minor);
        currency.append_value(&a.currency);
        detector_version.append_value(&a.detector_version);
        detected_at.append_value(a.detected_at.timestamp_micros());
    }
    let schema = anomaly_schema();
    // The list field must match the schema's (nullable "item") exactly.
    let detectors = detectors.finish();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(version.finish()),
        Arc::new(tenant.finish()),
        Arc::new(kind.finish()),
        Arc::new(subject.finish()),
        Arc::new(transaction.finish()),
        Arc::new(day.finish()),
        Arc::new(detectors),
        Arc::new(score.finish()),
        Arc::new(severity.finish()),
        Arc::new(reason.finish()),
        Arc::new(amount.finish()),
        Arc::new(expected.finish()),
        Arc::new(currency.finish()),
        Arc::new(detector_version.finish()),
        Arc::new(detected_at.finish()),
    ];
    RecordBatch::try_new(schema, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn sample() -> Anomaly {
        Anomaly {
            tenant_id: "acme".into(),
            subject_kind: SubjectKind::Transaction,
            subject: "tx-1".into(),
            transaction_id: Some("tx-1".into()),
            day: NaiveDate::from_ymd_opt(2024, 3, 5).unwrap(),
            detectors: vec!["duplicate_payment".into(), "isolation_forest".into()],
            score: 0.93,
            severity: Severity::from_score(0.93),
            reason: "same amount paid twice".into(),
            amount_minor: 120_000,
            expected_minor: None,
            currency: "USD".into(),
            detector_version: "anomaly-1".into(),
            detected_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn batch_matches_schema_and_values() {
        let batch = anomalies_to_batch(&[sample()]).unwrap();
        assert_eq!(batch.schema(), anomaly_schema());
        assert_eq!(batch.num_rows(), 1);
        let detectors = batch
            .column_by_name("detectors")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::ListArray>()
            .unwrap();
        assert_eq!(detectors.value(0).len(), 2);
    }

    #[test]
    fn json_round_trip() {
        let anomaly = sample();
        let json = serde_json::to_string(&anomaly).unwrap();
        assert!(json.contains("\"subject_kind\":\"transaction\""));
        assert!(json.contains("\"severity\":\"high\""));
        let back: Anomaly = serde_json::from_str(&json).unwrap();
        assert_eq!(back, anomaly);
    }

    #[test]
    fn severity_thresholds() {
        assert_eq!(Severity::from_score(0.59), Severity::Low);
        assert_eq!(Severity::from_score(0.6), Severity::Medium);
        assert_eq!(Severity::from_score(0.8), Severity::High);
    }
}
