//! Anomaly detection over canonical spend: an isolation forest beside rule detectors.
//!
//! The pipeline is SQL first:
//! 1. [`features::features_sql`] computes per-transaction features with DataFusion window
//!    functions over each tenant's history (registered UDFs in [`udf`] score round amounts and
//!    amounts just under approval limits, and — given trained models — the forest score).
//! 2. [`forest`] trains an isolation forest (`extended-isolation-forest`) per tenant with
//!    enough history and one cohort forest over all tenants for the rest; models are saved
//!    under a version and loaded for scoring, so scores are reproducible even though training
//!    draws random samples. Its flag rule, the defaults and the feature layout live in
//!    [`history`], with the same features computed in plain Rust over one tenant's history
//!    (std only, so the Arroyo aggregate `forest_flags` compiles the same file).
//! 3. [`rules`] checks the patterns finance teams name (duplicate payments, a large first
//!    payment to a new vendor, a category spike, a recurring charge that changed price, a
//!    purchase split under an approval limit).
//! 4. [`flag_tenant`] merges the forest's and the rules' hits per subject into [`Anomaly`]
//!    records: one per flagged transaction (or category-month), with every detector that fired,
//!    the highest score, and one readable sentence per detector.
//!
//! Guarantees: given the same rows and the same saved models, the same anomalies come out (no
//! clock, no randomness at scoring time; `detected_at` is passed in). A row is judged only
//! against rows booked before it, so streaming micro-batches and a batch re-run agree.

pub mod amounts;
pub mod axis;
pub mod features;
pub mod flat;
pub mod forest;
pub mod history;
pub mod rules;
pub mod udf;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use verocta_schemas::{Anomaly, Severity, SubjectKind};

pub use features::{FEATURE_NAMES, features_sql};
pub use forest::{ForestConfig, ForestError, ModelSet, SpendForest};
pub use rules::{Hit, HitSubject, RuleConfig};

/// Version of the detectors; part of every anomaly row and of the model directory name.
pub const DETECTOR_VERSION: &str = "anomaly-1";

pub use history::{FEATURE_COUNT, Features};

/// One spend transaction with what the detectors need.
#[derive(Clone, Debug, PartialEq)]
pub struct SpendRow {
    /// Tenant.
    pub tenant_id: String,
    /// Canonical transaction id.
    pub transaction_id: String,
    /// Booked date.
    pub day: NaiveDate,
    /// Seconds after midnight, when known.
    pub time_s: Option<i32>,
    /// Exact amount (minor units, non-negative).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Minor digits of the currency.
    pub currency_digits: u8,
    /// Normalised vendor ("" when unknown).
    pub vendor: String,
    /// Normalised category code.
    pub category: String,
    /// Card last 4 or employee ("" when unknown).
    pub payer: String,
    /// Feature vector.
    pub features: Features,
    /// The vendor's typical amount before this row (minor units), with ≥ 5 earlier charges.
    pub vendor_typical_minor: Option<i64>,
    /// The category's typical amount before this row, with ≥ 5 earlier charges.
    pub category_typical_minor: Option<i64>,
    /// Forest score, when the feature query computed one.
    pub forest_score: Option<f64>,
}

impl SpendRow {
    /// The amount in major units (for thresholds and display only; money stays exact).
    pub fn amount_major(&self) -> f64 {
        self.amount_minor as f64 / 10f64.powi(i32::from(self.currency_digits))
    }

    /// A USD row with zero features, for tests.
    #[doc(hidden)]
    pub fn for_test(day: &str, vendor: &str, category: &str, amount_minor: i64) -> SpendRow {
        SpendRow {
            tenant_id: "t".into(),
            transaction_id: format!("{day}-{vendor}-{amount_minor}"),
            day: day.parse().unwrap_or_default(),
            time_s: None,
            amount_minor,
            currency: "USD".into(),
            currency_digits: 2,
            vendor: vendor.into(),
            category: category.into(),
            payer: String::new(),
            features: [0.0; FEATURE_COUNT],
            vendor_typical_minor: None,
            category_typical_minor: None,
            forest_score: None,
        }
    }
}

/// Detection settings: the rules' thresholds and the forest's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Rule detectors.
    pub rules: RuleConfig,
    /// Isolation forest.
    pub forest: ForestConfig,
}

impl AnomalyConfig {
    /// Checks every threshold; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.rules.validate()?;
        self.forest.validate()
    }
}

/// Groups feature rows (sorted by tenant, as the feature query returns them) per tenant.
pub fn group_by_tenant(rows: Vec<SpendRow>) -> BTreeMap<String, Vec<SpendRow>> {
    let mut groups: BTreeMap<String, Vec<SpendRow>> = BTreeMap::new();
    for row in rows {
        match groups.get_mut(&row.tenant_id) {
            Some(group) => group.push(row),
            None => {
                groups.insert(row.tenant_id.clone(), vec![row]);
            }
        }
    }
    groups
}

/// Trains a model set on every tenant's feature vectors.
pub fn train(
    by_tenant: &BTreeMap<String, Vec<SpendRow>>,
    config: &ForestConfig,
    version: String,
) -> Result<ModelSet, ForestError> {
    let vectors: BTreeMap<String, Vec<Features>> = by_tenant
        .iter()
        .map(|(tenant, rows)| (tenant.clone(), rows.iter().map(|r| r.features).collect()))
        .collect();
    ModelSet::train(&vectors, config, version)
}

/// Scores every tenant's rows with its model and flags them.
pub fn detect(
    by_tenant: &mut BTreeMap<String, Vec<SpendRow>>,
    models: &ModelSet,
    config: &AnomalyConfig,
    from: Option<NaiveDate>,
    detected_at: DateTime<Utc>,
) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (tenant, rows) in by_tenant.iter_mut() {
        if let Some(model) = models.for_tenant(tenant) {
            forest::score_rows(rows, model);
        }
        anomalies.extend(flag_tenant(rows, config, from, detected_at));
    }
    anomalies
}

/// Flags one tenant's rows (booking order, forest scores filled in where a model exists).
///
/// `from` limits the output to subjects on or after a day (incremental runs re-read history
/// for baselines but only report what is new); `None` reports everything.
pub fn flag_tenant(
    rows: &[SpendRow],
    config: &AnomalyConfig,
    from: Option<NaiveDate>,
    detected_at: DateTime<Utc>,
) -> Vec<Anomaly> {
    let mut hits = rules::detect(rows, &config.rules);
    hits.extend(forest::forest_hits(rows, &config.forest));
    merge_hits(rows, hits, from, detected_at)
}

/// Merges hits per subject into anomalies, sorted by day then subject.
pub fn merge_hits(
    rows: &[SpendRow],
    hits: Vec<Hit>,
    from: Option<NaiveDate>,
    detected_at: DateTime<Utc>,
) -> Vec<Anomaly> {
    let mut by_subject: BTreeMap<HitSubject, Vec<Hit>> = BTreeMap::new();
    for hit in hits {
        by_subject.entry(hit.subject.clone()).or_default().push(hit);
    }
    let mut anomalies: Vec<Anomaly> = by_subject
        .into_iter()
        .filter_map(|(subject, mut hits)| {
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.detector.cmp(b.detector)));
            let anomaly = to_anomaly(rows, &subject, &hits, detected_at)?;
            from.is_none_or(|from| anomaly.day >= from)
                .then_some(anomaly)
        })
        .collect();
    anomalies.sort_by(|a, b| (a.day, &a.subject).cmp(&(b.day, &b.subject)));
    anomalies
}

fn to_anomaly(
    rows: &[SpendRow],
    subject: &HitSubject,
    hits: &[Hit],
    detected_at: DateTime<Utc>,
) -> Option<Anomaly> {
    let strongest = hits.first()?;
    let mut detectors: Vec<String> = hits.iter().map(|h| h.detector.to_string()).collect();
    detectors.sort();
    detectors.dedup();
    let reason = hits
        .iter()
        .map(|h| h.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let score = strongest.score.clamp(0.0, 1.0);
    let (tenant_id, kind, subject_text, transaction_id, day, currency) = match subject {
        HitSubject::Row(index) => {
            let row = rows.get(*index)?;
            (
                row.tenant_id.clone(),
                SubjectKind::Transaction,
                row.transaction_id.clone(),
                Some(row.transaction_id.clone()),
                row.day,
                row.currency.clone(),
            )
        }
        HitSubject::CategoryMonth {
            category,
            month,
            currency,
        } => (
            rows.first()?.tenant_id.clone(),
            SubjectKind::CategoryMonth,
            format!("{category}/{}/{currency}", month.format("%Y-%m")),
            None,
            *month,
            currency.clone(),
        ),
    };
    Some(Anomaly {
        tenant_id,
        subject_kind: kind,
        subject: subject_text,
        transaction_id,
        day,
        detectors,
        score,
        severity: Severity::from_score(score),
        reason,
        amount_minor: strongest.amount_minor,
        expected_minor: hits.iter().find_map(|h| h.expected_minor),
        currency,
        detector_version: DETECTOR_VERSION.to_string(),
        detected_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_on_one_transaction_merge_into_one_anomaly() {
        let rows = vec![
            SpendRow::for_test("2024-01-02", "Acme", "supplies", 480_000),
            SpendRow::for_test("2024-01-02", "Acme", "supplies", 480_000),
        ];
        let hits = vec![
            Hit {
                detector: "split_purchase",
                subject: HitSubject::Row(1),
                score: 0.85,
                reason: "split".into(),
                amount_minor: 480_000,
                expected_minor: Some(500_000),
            },
            Hit {
                detector: "duplicate_payment",
                subject: HitSubject::Row(1),
                score: 0.95,
                reason: "duplicate".into(),
                amount_minor: 480_000,
                expected_minor: None,
            },
        ];
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let anomalies = merge_hits(&rows, hits, None, at);
        assert_eq!(anomalies.len(), 1);
        let a = &anomalies[0];
        assert_eq!(a.detectors, vec!["duplicate_payment", "split_purchase"]);
        assert_eq!(a.score, 0.95);
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.reason, "duplicate; split");
        assert_eq!(a.expected_minor, Some(500_000));
        assert_eq!(
            a.transaction_id.as_deref(),
            Some(rows[1].transaction_id.as_str())
        );
        let later = "2024-02-01".parse().ok();
        assert!(merge_hits(&rows, vec![], later, at).is_empty());
    }
}
