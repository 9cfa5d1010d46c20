//! The anomaly detection job: SQL features over the `transactions` Delta table, isolation
//! forests and rule detectors (`verocta_models::anomaly`), written to the `anomalies` Delta
//! table and published to the alerts topic.
//!
//! Two ways to run:
//! - [`AnomalyJob::run`] (`verocta anomalies`): every tenant's whole history; replaces the
//!   `anomalies` table in one commit.
//! - [`AnomalyJob::step`] (the streaming path, run by `verocta up` after each micro-batch
//!   commit): only the tenants the new `transactions` commits touched; features over their
//!   history, flags for the new rows only, appended in one commit.
//!
//! Guarantees:
//! - Both record the `transactions` version they consumed in a Delta `txn` action committed
//!   with the flags ([`crate::follow`]), so a step is applied exactly once across crashes, and
//!   a full run followed by steps neither misses nor repeats a row.
//! - A full run replaces the table in one commit, so readers see one run's flags or the next
//!   run's, never a mix, and a crashed run leaves the previous flags intact.
//! - Models are trained when none are saved (or on request) and saved before scoring, so a
//!   re-run over the same table with the same models writes the same flags.
//! - Alerts are published after the table commit (at least once: a crash between the two
//!   re-publishes on the next run; consumers key alerts by tenant and subject).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use verocta_lakehouse::{Lake, LakeError};
use verocta_models::anomaly::{self, AnomalyConfig, DETECTOR_VERSION, ModelSet, features, udf};
use verocta_schemas::anomaly::anomalies_to_batch;
use verocta_schemas::{Anomaly, SubjectKind};

use crate::follow::{self, Pending, tenant_filter};
use crate::kafka::KafkaError;
use crate::kafka::producer::TransactionProducer;

/// Name of the anomalies table.
pub const ANOMALIES_TABLE: &str = "anomalies";

/// The `txn` app id under which `anomalies` records the consumed `transactions` version.
pub const ANOMALIES_APP_ID: &str = "verocta-anomalies:transactions";

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
    /// `transactions` version consumed before the run.
    pub from_version: Option<i64>,
    /// `transactions` version consumed after it.
    pub to_version: Option<i64>,
    /// Whether only new rows were judged (a streaming step) rather than every row.
    pub incremental: bool,
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
        let mut summary = AnomalyRunSummary {
            from_version: self
                .lake
                .txn_version(ANOMALIES_TABLE, ANOMALIES_APP_ID)
                .await?,
            ..AnomalyRunSummary::default()
        };
        let latest = self
            .lake
            .table_version(verocta_lakehouse::TRANSACTIONS_TABLE)
            .await?;
        let anomalies = match latest {
            Some(version) => {
                self.detect_at(version, None, self.retrain, &mut summary)
                    .await?
            }
            None => Vec::new(),
        };
        summary.to_version = latest.and_then(|v| i64::try_from(v).ok());
        let batch = anomalies_to_batch(&anomalies)?;
        let txn = summary.to_version.map(|v| (ANOMALIES_APP_ID, v));
        summary.table_version = self
            .lake
            .replace_table(ANOMALIES_TABLE, batch, &[], txn)
            .await?;
        self.finish(alerts, &anomalies, &mut summary, started)?;
        Ok((summary, anomalies))
    }

    /// The streaming path: judges only the rows added to `transactions` since the version the
    /// `anomalies` table records, against each touched tenant's full history, and appends the
    /// flags with the new version in one commit; then publishes them to `alerts`. Falls back to
    /// [`AnomalyJob::run`] when nothing was consumed yet or the log cannot say what is new.
    pub async fn step(
        &self,
        alerts: Option<&mut TransactionProducer>,
    ) -> Result<(AnomalyRunSummary, Vec<Anomaly>), AnomalyJobError> {
        self.config.validate().map_err(AnomalyJobError::Config)?;
        let started = Instant::now();
        let pending = follow::pending(&self.lake, ANOMALIES_TABLE, ANOMALIES_APP_ID).await?;
        let (from, to, new_rows) = match pending {
            Pending::NoSource | Pending::UpToDate { .. } => {
                let summary = AnomalyRunSummary {
                    from_version: pending.consumed(),
                    to_version: pending.consumed(),
                    incremental: true,
                    ..AnomalyRunSummary::default()
                };
                return Ok((summary, Vec::new()));
            }
            Pending::All { .. } => return self.run(alerts).await,
            Pending::Rows { from, to, rows } => (from, to, rows),
        };
        let mut summary = AnomalyRunSummary {
            from_version: Some(from),
            incremental: true,
            ..AnomalyRunSummary::default()
        };
        let tenants: BTreeSet<String> = new_rows.iter().map(|(t, _)| t.clone()).collect();
        let flagged = self
            .detect_at(to, Some(&tenants), false, &mut summary)
            .await?;
        let known = self.known_category_months(&tenants).await?;
        let anomalies: Vec<Anomaly> = flagged
            .into_iter()
            .filter(|a| match a.subject_kind {
                SubjectKind::Transaction => {
                    new_rows.contains(&(a.tenant_id.clone(), a.subject.clone()))
                }
                SubjectKind::CategoryMonth => {
                    !known.contains(&(a.tenant_id.clone(), a.subject.clone()))
                }
            })
            .collect();
        summary.to_version = i64::try_from(to).ok();
        summary.transactions = new_rows.len();
        let batch = anomalies_to_batch(&anomalies)?;
        summary.table_version = self
            .lake
            .append_with_txn(
                ANOMALIES_TABLE,
                batch,
                ANOMALIES_APP_ID,
                summary.to_version.unwrap_or(i64::MAX),
                Some(from),
            )
            .await?;
        self.finish(alerts, &anomalies, &mut summary, started)?;
        Ok((summary, anomalies))
    }

    /// Features, models and detectors over the `transactions` snapshot at `version`, for the
    /// given tenants (`None` = all).
    async fn detect_at(
        &self,
        version: u64,
        tenants: Option<&BTreeSet<String>>,
        retrain: bool,
        summary: &mut AnomalyRunSummary,
    ) -> Result<Vec<Anomaly>, AnomalyJobError> {
        let ctx = self
            .lake
            .session_at(verocta_lakehouse::TRANSACTIONS_TABLE, version)
            .await?;
        udf::register(&ctx, None);
        let rows = features::compute_features(
            &ctx,
            verocta_lakehouse::TRANSACTIONS_TABLE,
            &tenant_filter(tenants),
        )
        .await?;
        summary.transactions = rows.len();
        let mut by_tenant = anomaly::group_by_tenant(rows);
        summary.tenants = by_tenant.len();
        let models = self.models(&by_tenant, retrain, summary)?;
        let detected_at = chrono::Utc::now();
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || {
            anomaly::detect(&mut by_tenant, &models, &config, None, detected_at)
        })
        .await
        .map_err(|e| AnomalyJobError::Config(format!("detection task failed: {e}")))
    }

    /// Category-month subjects already flagged for these tenants (a month is flagged once).
    async fn known_category_months(
        &self,
        tenants: &BTreeSet<String>,
    ) -> Result<BTreeSet<(String, String)>, AnomalyJobError> {
        if !self.lake.table_names().iter().any(|t| t == ANOMALIES_TABLE) {
            return Ok(BTreeSet::new());
        }
        let query = format!(
            "SELECT tenant_id, subject FROM {ANOMALIES_TABLE} \
             WHERE subject_kind = 'category_month' AND {}",
            tenant_filter(Some(tenants))
        );
        let batches = self.lake.sql(&query).await?;
        let mut known = BTreeSet::new();
        for batch in &batches {
            let tenants = verocta_lakehouse::text_column(batch, 0)?;
            let subjects = verocta_lakehouse::text_column(batch, 1)?;
            known.extend(tenants.into_iter().zip(subjects));
        }
        Ok(known)
    }

    /// Counts, publishes and logs what a run or step flagged.
    fn finish(
        &self,
        alerts: Option<&mut TransactionProducer>,
        anomalies: &[Anomaly],
        summary: &mut AnomalyRunSummary,
        started: Instant,
    ) -> Result<(), AnomalyJobError> {
        for a in anomalies {
            for detector in &a.detectors {
                *summary.by_detector.entry(detector.clone()).or_default() += 1;
            }
        }
        summary.anomalies = anomalies.len();
        if let Some(producer) = alerts {
            for a in anomalies {
                producer.send_alert(a)?;
            }
            summary.alerts = producer.flush(Duration::from_secs(60))?;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            transactions = summary.transactions,
            tenants = summary.tenants,
            anomalies = summary.anomalies,
            incremental = summary.incremental,
            from_version = ?summary.from_version,
            to_version = ?summary.to_version,
            model_version = %summary.model_version,
            "anomaly detection finished"
        );
        Ok(())
    }

    /// The saved model set, or a new one trained on `by_tenant` and saved.
    fn models(
        &self,
        by_tenant: &BTreeMap<String, Vec<anomaly::SpendRow>>,
        retrain: bool,
        summary: &mut AnomalyRunSummary,
    ) -> Result<Arc<ModelSet>, AnomalyJobError> {
        if !retrain && let Some(saved) = ModelSet::load_latest(&self.models_dir)? {
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
