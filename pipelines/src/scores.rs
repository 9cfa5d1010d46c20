//! The SpendScore job: keeps the `spend_scores` Delta table (and the scores topic) in step
//! with the `transactions` table, recomputing only the tenants each new commit touched.
//!
//! How it follows: `spend_scores` records, in a Delta `txn` action committed with the scores,
//! the `transactions` table version it has consumed (app id [`SCORES_APP_ID`]). A step reads
//! the commits after that version, finds the tenants whose rows they added, reads those
//! tenants' history from the `transactions` snapshot at the newest version, scores them
//! ([`verocta_models::spendscore::v2`]) and appends the scores with the new version, in one
//! commit.
//!
//! Guarantees:
//! - Exactly once into the table: a crash before the commit redoes the step; a crash after it
//!   starts from the recorded version. Two followers racing cannot both commit a step.
//! - Scores are published to the scores topic after the commit (at least once: a crash in
//!   between re-publishes the next time the tenant changes; consumers keep the row with the
//!   greatest `source_version`).
//! - When the log cannot say what changed (a compaction removed commit files, or a delete),
//!   every tenant is recomputed: slower, never wrong.

use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use verocta_lakehouse::{Lake, LakeError, TRANSACTIONS_TABLE};
use verocta_models::anomaly::features::FeatureError;
use verocta_models::spendscore::v2;
use verocta_schemas::SpendScore;
use verocta_schemas::score::scores_to_batch;

use crate::follow::{self, Pending, tenant_filter};

use crate::kafka::KafkaError;
use crate::kafka::producer::TransactionProducer;

/// Name of the scores table.
pub const SPEND_SCORES_TABLE: &str = "spend_scores";

/// The `txn` app id under which `spend_scores` records the consumed `transactions` version.
pub const SCORES_APP_ID: &str = "verocta-spend-scores:transactions";

/// Errors of the job.
#[derive(Debug, thiserror::Error)]
pub enum ScoreJobError {
    /// Reading or writing Delta failed (including losing a race to another follower).
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The rows query returned an unexpected shape (an internal bug).
    #[error(transparent)]
    Rows(#[from] FeatureError),
    /// Building the scores batch failed (an internal bug).
    #[error("building the scores batch failed: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Publishing scores failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The scoring task panicked (an internal bug).
    #[error("scoring task failed: {0}")]
    Task(String),
}

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ScoreStep {
    /// `transactions` version consumed before the step.
    pub from_version: Option<i64>,
    /// `transactions` version consumed after it.
    pub to_version: Option<i64>,
    /// Tenants recomputed.
    pub tenants: usize,
    /// Whether every tenant was recomputed (first run, or the log could not tell).
    pub full: bool,
    /// Score rows written (one per tenant and window with spend).
    pub scores: usize,
    /// Version of `spend_scores` committed.
    pub table_version: Option<u64>,
    /// Scores published.
    pub published: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// The follower.
#[derive(Clone, Debug)]
pub struct ScoreJob {
    /// The lake holding both tables.
    pub lake: Lake,
}

impl ScoreJob {
    /// A job over `data_dir`'s lake.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        ScoreJob {
            lake: Lake::in_data_dir(data_dir),
        }
    }

    /// Consumes every `transactions` commit not yet scored (one step); returns the scores
    /// written. Does nothing (and writes nothing) when there is nothing new.
    pub async fn step(
        &self,
        publish: Option<&mut TransactionProducer>,
    ) -> Result<(ScoreStep, Vec<SpendScore>), ScoreJobError> {
        let started = Instant::now();
        let mut step = ScoreStep::default();
        let pending = follow::pending(&self.lake, SPEND_SCORES_TABLE, SCORES_APP_ID).await?;
        step.from_version = pending.consumed();
        step.to_version = pending.consumed();
        let (Some(latest_i64), Some(latest)) = (
            pending.target(),
            pending.target().and_then(|v| u64::try_from(v).ok()),
        ) else {
            return Ok((step, Vec::new()));
        };
        if matches!(pending, Pending::UpToDate { .. }) {
            return Ok((step, Vec::new()));
        }
        let touched = pending.tenants();
        step.full = touched.is_none();
        let ctx = self.lake.session_at(TRANSACTIONS_TABLE, latest).await?;
        let filter = tenant_filter(touched.as_ref());
        let rows = ctx
            .sql(&v2::rows_sql(TRANSACTIONS_TABLE, &filter))
            .await
            .map_err(LakeError::from)?
            .execute_stream()
            .await
            .map_err(LakeError::from)?;
        let (tenants, scores) = score_stream(rows, latest_i64, chrono::Utc::now()).await?;
        step.tenants = tenants;
        step.scores = scores.len();
        // Commit even an empty step: it records the consumed version, so it is not redone.
        let batch = scores_to_batch(&scores)?;
        step.table_version = self
            .lake
            .append_with_txn(
                SPEND_SCORES_TABLE,
                batch,
                SCORES_APP_ID,
                latest_i64,
                pending.consumed(),
            )
            .await?;
        step.to_version = Some(latest_i64);
        if let Some(producer) = publish {
            for score in &scores {
                producer.send_score(score)?;
            }
            step.published = producer.flush(Duration::from_secs(60))?;
        }
        step.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            from_version = ?step.from_version,
            to_version = ?step.to_version,
            tenants = step.tenants,
            full = step.full,
            scores = step.scores,
            "spend scores updated"
        );
        Ok((step, scores))
    }
}

/// Scores the rows of [`v2::rows_sql`] (ordered by tenant) as they stream in: a tenant is
/// scored as soon as a row of the next tenant arrives, so only the tenants of the batch at
/// hand are held as rows, not the whole table (the query's sort still buffers its input, as
/// Arrow columns). Returns the number of tenants and their scores.
async fn score_stream<E>(
    mut rows: impl futures::Stream<Item = Result<RecordBatch, E>> + Unpin,
    source_version: i64,
    scored_at: chrono::DateTime<chrono::Utc>,
) -> Result<(usize, Vec<SpendScore>), ScoreJobError>
where
    LakeError: From<E>,
{
    use futures::StreamExt;
    let mut tenants = 0;
    let mut scores = Vec::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    while let Some(batch) = rows.next().await {
        let batch = batch.map_err(LakeError::from)?;
        if batch.num_rows() == 0 {
            continue;
        }
        let last = verocta_lakehouse::text_column(&batch.slice(batch.num_rows() - 1, 1), 0)?;
        pending.push(batch);
        // Rows are sorted by tenant, so every row before the last tenant's first row belongs
        // to a tenant that is complete.
        let mut complete = Vec::new();
        let mut rest = Vec::new();
        for batch in pending.drain(..) {
            let ids = verocta_lakehouse::text_column(&batch, 0)?;
            let split = ids
                .iter()
                .position(|id| *id == last[0])
                .unwrap_or(ids.len());
            if split > 0 {
                complete.push(batch.slice(0, split));
            }
            if split < batch.num_rows() {
                rest.push(batch.slice(split, batch.num_rows() - split));
            }
        }
        pending = rest;
        tenants += score_batches(complete, source_version, scored_at, &mut scores).await?;
    }
    tenants += score_batches(pending, source_version, scored_at, &mut scores).await?;
    Ok((tenants, scores))
}

/// Scores the complete tenants in `batches` off the async runtime; returns how many.
async fn score_batches(
    batches: Vec<RecordBatch>,
    source_version: i64,
    scored_at: chrono::DateTime<chrono::Utc>,
    scores: &mut Vec<SpendScore>,
) -> Result<usize, ScoreJobError> {
    if batches.is_empty() {
        return Ok(0);
    }
    let tenants = v2::tenants_from_batches(&batches)?;
    drop(batches);
    let count = tenants.len();
    let scored =
        tokio::task::spawn_blocking(move || score_all(&tenants, source_version, scored_at))
            .await
            .map_err(|e| ScoreJobError::Task(e.to_string()))?;
    scores.extend(scored);
    Ok(count)
}

/// Scores every tenant over every window.
pub fn score_all(
    tenants: &[v2::TenantRows],
    source_version: i64,
    scored_at: chrono::DateTime<chrono::Utc>,
) -> Vec<SpendScore> {
    tenants
        .iter()
        .flat_map(|tenant| {
            v2::score_tenant(tenant)
                .into_iter()
                .map(move |window| window.into_record(tenant, source_version, scored_at))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use verocta_schemas::arrow::transactions_to_batch;
    use verocta_schemas::*;

    fn spend(tenant: &str, i: u32, vendor: &str, minor: i64) -> Transaction {
        let tenant_id = TenantId::new(tenant).unwrap();
        Transaction {
            schema_version: TRANSACTION_SCHEMA_VERSION,
            transaction_id: TransactionId::derive(&tenant_id, "csv", &[&i.to_string()]),
            tenant_id,
            source: SourceRef {
                kind: SourceKind::Csv,
                format: "generic".into(),
                name: "a.csv".into(),
                line: Some(u64::from(i)),
                external_id: None,
            },
            booked_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
                + chrono::Duration::days(i64::from(i)),
            booked_time: None,
            amount: Money::from_minor(minor, Currency::USD),
            original_amount: None,
            class: TransactionClass::Spend,
            exclusion: None,
            vendor_raw: Some(vendor.into()),
            vendor: Some(vendor.into()),
            category_raw: None,
            category: Category::SoftwareSaas,
            account: None,
            memo: None,
            payment_method: None,
            card_last4: None,
            employee: None,
            department: None,
            ingested_at: chrono::Utc::now(),
        }
    }

    async fn append(lake: &Lake, transactions: &[Transaction]) {
        let mut table = lake.transactions().await.unwrap();
        let batch = transactions_to_batch(transactions).unwrap();
        table.append(&batch, &[], &HashMap::new()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_scoring_equals_scoring_everything_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let job = ScoreJob::in_data_dir(dir.path());
        let transactions: Vec<Transaction> = (0..30)
            .flat_map(|i| {
                [
                    spend("alpha", i, "aws", 10_000 + i64::from(i)),
                    spend("beta", i, "gcp", 5_000),
                    spend("gamma", i, "zoom", 700 + 13 * i64::from(i)),
                ]
            })
            .collect();
        append(&job.lake, &transactions).await;
        let version = job
            .lake
            .table_version(TRANSACTIONS_TABLE)
            .await
            .unwrap()
            .unwrap();
        let ctx = job
            .lake
            .session_at(TRANSACTIONS_TABLE, version)
            .await
            .unwrap();
        let batches = ctx
            .sql(&v2::rows_sql(TRANSACTIONS_TABLE, "TRUE"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let at = chrono::Utc::now();
        let expected = score_all(&v2::tenants_from_batches(&batches).unwrap(), 7, at);
        assert_eq!(expected.len(), 9);

        // Cut into 7-row pieces (and an empty one) so every tenant spans several batches.
        let mut pieces = vec![batches[0].slice(0, 0)];
        for batch in &batches {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let length = 7.min(batch.num_rows() - offset);
                pieces.push(batch.slice(offset, length));
                offset += length;
            }
        }
        let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, LakeError>));
        let (tenants, scores) = score_stream(stream, 7, at).await.unwrap();
        assert_eq!(tenants, 3);
        assert_eq!(
            serde_json::to_value(&scores).unwrap(),
            serde_json::to_value(&expected).unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follower_rescores_only_touched_tenants_and_never_twice() {
        let dir = tempfile::tempdir().unwrap();
        let job = ScoreJob::in_data_dir(dir.path());
        let first: Vec<Transaction> = (0..40)
            .flat_map(|i| {
                [
                    spend("alpha", i, "aws", 10_000 + i64::from(i)),
                    spend("beta", i, "gcp", 5_000),
                ]
            })
            .collect();
        append(&job.lake, &first).await;

        let (step, scores) = job.step(None).await.unwrap();
        assert!(step.full, "{step:?}");
        assert_eq!(step.tenants, 2);
        assert_eq!(step.from_version, None);
        // 40 days of history: the 30- and 90-day windows have spend (the 365-day one too).
        assert_eq!(scores.len(), 6);
        assert!(
            scores
                .iter()
                .all(|s| s.source_version == step.to_version.unwrap())
        );

        // Nothing new: nothing written.
        let (again, none) = job.step(None).await.unwrap();
        assert!(none.is_empty());
        assert_eq!(again.to_version, step.to_version);
        assert_eq!(again.table_version, None);

        // New rows for beta only: only beta is rescored.
        append(
            &job.lake,
            &[
                spend("beta", 41, "gcp", 5_000),
                spend("beta", 42, "gcp", 5_000),
            ],
        )
        .await;
        let (third, rescored) = job.step(None).await.unwrap();
        assert!(!third.full);
        assert_eq!(third.tenants, 1);
        assert!(
            rescored.iter().all(|s| s.tenant_id == "beta"),
            "{rescored:?}"
        );
        assert_eq!(third.from_version, step.to_version);

        // A step that lost a race (stale expected version) is rejected, not applied twice.
        let stale = job
            .lake
            .append_with_txn(
                SPEND_SCORES_TABLE,
                scores_to_batch(&rescored).unwrap(),
                SCORES_APP_ID,
                third.to_version.unwrap(),
                step.to_version,
            )
            .await
            .unwrap_err();
        assert!(stale.is_fenced(), "{stale}");
        let rows = job
            .lake
            .sql("SELECT count(*) AS n FROM spend_scores")
            .await
            .unwrap();
        let n = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(n as usize, scores.len() + rescored.len());
    }
}
