//! The anomaly detection job: SQL features over the `transactions` Delta table, isolation
//! forests and rule detectors (`verocta_models::anomaly`), written to the `anomalies` Delta
//! table and published to the alerts topic.
//!
//! Guarantees:
//! - The `anomalies` table is replaced in one Delta commit per run, so readers see one run's
//!   flags or the next run's, never a mix, and a crashed run leaves the previous flags intact.
//! - Models are trained when none are saved (or on request) and saved before scoring, so a
//!   re-run over the same table with the same models writes the same flags.
//! - Alerts are published after the table commit (at least once: a crash between the two
//!   re-publishes on the next run; consumers key alerts by tenant and subject).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use verocta_lakehouse::{Lake, LakeError};
use verocta_models::anomaly::{self, AnomalyConfig, DETECTOR_VERSION, ModelSet, features, udf};
use verocta_schemas::Anomaly;
use verocta_schemas::anomaly::anomalies_to_batch;

use crate::kafka::KafkaError;
use crate::kafka::producer::TransactionProducer;

/// Name of the anomalies table.
pub const ANOMALIES_TABLE: &str = "anomalies";

/// Errors of the job.
#[derive(Debug, thiserror::Error)]
pub enum AnomalyJobError {
    /// The user's configuration is invalid.
    #[error("invalid anomaly configuration: {0}")]
    Config(String),
    /// Reading or writing Delta failed.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The feature query failed.
    #[error(transparent)]
    Features(#[from] features::FeatureError),
    /// Training, saving or loading models failed.
    #[error(transparent)]
    Models(#[from] anomaly::ForestError),
    /// Building the output batch failed (an internal bug).
    #[error("building the anomalies batch failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Publishing alerts failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct AnomalyJob {
    /// The lake holding `transactions`.
    pub lake: Lake,
    /// Where model sets are saved (`DATA_DIR/models/anomaly`).
    pub models_dir: PathBuf,
    /// Thresholds.
    pub config: AnomalyConfig,
    /// Train new models even when a saved set exists.
    pub retrain: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AnomalyRunSummary {
    /// Spend transactions read.
    pub transactions: usize,
    /// Tenants seen.
    pub tenants: usize,
    /// Anomalies written.
    pub anomalies: usize,
    /// Flags per detector (an anomaly with two detectors counts for both).
    pub by_detector: BTreeMap<String, usize>,
    /// Model set used.
    pub model_version: String,
    /// Whether this run trained it.
    pub trained: bool,
    /// Tenants with their own forest (the rest use the cohort forest).
    pub tenant_models: usize,
    /// Version of the `anomalies` table written.
    pub table_version: Option<u64>,
    /// Alerts published.
    pub alerts: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl AnomalyJob {
    /// A job over `data_dir` with default thresholds.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        AnomalyJob {
            lake: Lake::in_data_dir(data_dir),
            models_dir: data_dir.join("models").join("anomaly"),
            config: AnomalyConfig::default(),
            retrain: false,
        }
    }

    /// Runs detection over every tenant and replaces the `anomalies` table; publishes every
    /// flag to `alerts` when given.
    pub async fn run(
        &self,
        alerts: Option<&mut TransactionProducer>,
    ) -> Result<(AnomalyRunSummary, Vec<Anomaly>), AnomalyJobError> {
        self.config.validate().map_err(AnomalyJobError::Config)?;
        let started = Instant::now();
        let ctx = self.lake.session().await?;
        udf::register(&ctx, None);
        let mut summary = AnomalyRunSummary::default();
        let has_transactions = self
            .lake
            .table_names()
            .iter()
            .any(|t| t == verocta_lakehouse::TRANSACTIONS_TABLE);
        let rows = if has_transactions {
            features::compute_features(&ctx, verocta_lakehouse::TRANSACTIONS_TABLE, "TRUE").await?
        } else {
            Vec::new()
        };
        summary.transactions = rows.len();
        let mut by_tenant = anomaly::group_by_tenant(rows);
        summary.tenants = by_tenant.len();
        let models = self.models(&by_tenant, &mut summary)?;
        let detected_at = chrono::Utc::now();
        let config = self.config.clone();
        let anomalies = tokio::task::spawn_blocking(move || {
            anomaly::detect(&mut by_tenant, &models, &config, None, detected_at)
        })
        .await
        .map_err(|e| AnomalyJobError::Config(format!("detection task failed: {e}")))?;
        for a in &anomalies {
            for detector in &a.detectors {
                *summary.by_detector.entry(detector.clone()).or_default() += 1;
            }
        }
        summary.anomalies = anomalies.len();
        let batch = anomalies_to_batch(&anomalies)?;
        summary.table_version = self.lake.replace_table(ANOMALIES_TABLE, batch, &[]).await?;
        if let Some(producer) = alerts {
            for a in &anomalies {
                producer.send_alert(a)?;
            }
            summary.alerts = producer.flush(Duration::from_secs(60))?;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            transactions = summary.transactions,
            tenants = summary.tenants,
            anomalies = summary.anomalies,
            model_version = %summary.model_version,
            "anomaly detection finished"
        );
        Ok((summary, anomalies))
    }

    /// The saved model set, or a new one trained on `by_tenant` and saved.
    fn models(
        &self,
        by_tenant: &BTreeMap<String, Vec<anomaly::SpendRow>>,
        summary: &mut AnomalyRunSummary,
    ) -> Result<Arc<ModelSet>, AnomalyJobError> {
        if !self.retrain
            && let Some(saved) = ModelSet::load_latest(&self.models_dir)?
        {
            summary.model_version = saved.version.clone();
            summary.tenant_models = saved.tenants.len();
            return Ok(Arc::new(saved));
        }
        let version = format!(
            "{DETECTOR_VERSION}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        );
        let models = anomaly::train(by_tenant, &self.config.forest, version)?;
        if models.cohort.is_some() {
            models.save(&self.models_dir)?;
        }
        summary.model_version = models.version.clone();
        summary.trained = true;
        summary.tenant_models = models.tenants.len();
        Ok(Arc::new(models))
    }
}
