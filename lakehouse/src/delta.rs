//! Delta Lake tables under `DATA_DIR/lake/<table>`, the system of record.
//!
//! The `transactions` table holds canonical transactions plus a `booked_month` (`YYYY-MM`)
//! partition column. Partitioning is by month only: a per-tenant partition would explode into
//! tens of thousands of small files at 5,000 tenants, while month partitions keep files large
//! and rows are written sorted by tenant, so Parquet statistics skip other tenants' row groups.
//!
//! Exactly-once: [`TransactionsTable::append`] commits a batch together with one Delta `txn`
//! action per source partition (`app_id` = the stream's id, `version` = the last offset in the
//! batch), in the same atomic commit. A writer re-reads those versions on start and seeks its
//! source there (kafka-delta-ingest's design). Before committing it checks the versions are the
//! ones it started from, and Delta's conflict checker rejects a concurrent commit for the same
//! `app_id`, so a writer that lost its partitions in a rebalance can never commit them twice.
//! Rows whose `transaction_id` is already in the table (a re-imported file) are dropped before
//! the write, so source duplicates never become table duplicates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Date32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::prelude::{ParquetReadOptions, SessionContext};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::{StructType, Transaction as DeltaTxn};
use deltalake::operations::optimize::OptimizeType;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use verocta_schemas::arrow::transaction_schema;

use crate::id_index::{IdIndex, IdSet, PartKey, id_bits};

/// Name of the transactions table.
pub const TRANSACTIONS_TABLE: &str = "transactions";

/// Errors from the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// Delta Lake failed.
    #[error("delta table {table}: {source}")]
    Delta {
        /// Table path.
        table: String,
        /// Cause.
        source: DeltaTableError,
    },
    /// A query failed (often the user's SQL).
    #[error("query failed: {0}")]
    Query(#[from] deltalake::datafusion::error::DataFusionError),
    /// Arrow failed (an internal bug).
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A path is not usable as a table location.
    #[error("cannot use {0} as a table location")]
    Location(String),
    /// The table's recorded offsets moved under us: another writer owns the partition now.
    #[error("another writer committed {app_id} (expected version {expected:?}, found {found:?})")]
    Fenced {
        /// The stream partition.
        app_id: String,
        /// Version this writer started from.
        expected: Option<i64>,
        /// Version in the table.
        found: Option<i64>,
    },
}

impl LakeError {
    /// Whether the error means "someone else owns this now" rather than a failure.
    pub fn is_fenced(&self) -> bool {
        match self {
            LakeError::Fenced { .. } => true,
            LakeError::Delta {
                source: DeltaTableError::Transaction { .. },
                ..
            } => true,
            _ => false,
        }
    }
}

/// The lake: a directory of Delta tables.
#[derive(Clone, Debug)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// The lake under `data_dir/lake`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Lake {
            root: data_dir.join("lake"),
        }
    }

    /// Directory of one table.
    pub fn table_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Opens (creating if needed) the transactions table.
    pub async fn transactions(&self) -> Result<TransactionsTable, LakeError> {
        TransactionsTable::open_or_create(&self.table_dir(TRANSACTIONS_TABLE)).await
    }

    /// Names of the Delta tables present.
    pub fn table_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("_delta_log").is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// A DataFusion session with every table in the lake registered under its directory name.
    pub async fn session(&self) -> Result<SessionContext, LakeError> {
        let ctx = SessionContext::new();
        for name in self.table_names() {
            let table = open(&self.table_dir(&name)).await?;
            register(&ctx, &name, &table).await?;
        }
        Ok(ctx)
    }

    /// Replaces a whole table's contents with `batch` in one commit (creating the table when
    /// absent). Readers see the old rows or the new, never a mix.
    ///
    /// With `txn` (app id, version), the commit also records how far the table has consumed
    /// its source, as [`Lake::append_with_txn`] does.
    pub async fn replace_table(
        &self,
        name: &str,
        batch: RecordBatch,
        partition_columns: &[&str],
        txn: Option<(&str, i64)>,
    ) -> Result<Option<u64>, LakeError> {
        let path = self.table_dir(name);
        let table = open(&path).await?;
        let txns: Vec<DeltaTxn> = txn
            .map(|(app_id, version)| DeltaTxn::new(app_id, version))
            .into_iter()
            .collect();
        let properties = deltalake::kernel::transaction::CommitProperties::default()
            .with_application_transactions(txns);
        let table = table
            .write(vec![batch])
            .with_save_mode(SaveMode::Overwrite)
            .with_partition_columns(partition_columns.iter().map(|c| c.to_string()))
            .with_table_name(name)
            .with_commit_properties(properties)
            .await
            .map_err(delta_error(&path))?;
        Ok(table.version())
    }

    /// The latest version of a table, `None` when it does not exist yet.
    pub async fn table_version(&self, name: &str) -> Result<Option<u64>, LakeError> {
        if !self.table_dir(name).join("_delta_log").is_dir() {
            return Ok(None);
        }
        let table = open(&self.table_dir(name)).await?;
        Ok(table.version())
    }

    /// The `txn` version a table records for `app_id` (`None` when the table or the app id
    /// is absent): how far a derived table has consumed its source.
    pub async fn txn_version(&self, name: &str, app_id: &str) -> Result<Option<i64>, LakeError> {
        let path = self.table_dir(name);
        if !path.join("_delta_log").is_dir() {
            return Ok(None);
        }
        let table = open(&path).await?;
        if table.version().is_none() {
            return Ok(None);
        }
        let state = table.snapshot().map_err(delta_error(&path))?;
        state
            .transaction_version(table.log_store().as_ref(), app_id)
            .await
            .map_err(delta_error(&path))
    }

    /// Appends `batch` to a table (creating it when absent) and records `app_id` at `version`
    /// in the same commit, provided the table still records `expected` for it. A derived
    /// table written this way never applies the same source version twice, even when two
    /// writers race (the loser gets [`LakeError::Fenced`] or a Delta conflict).
    pub async fn append_with_txn(
        &self,
        name: &str,
        batch: RecordBatch,
        app_id: &str,
        version: i64,
        expected: Option<i64>,
    ) -> Result<Option<u64>, LakeError> {
        let found = self.txn_version(name, app_id).await?;
        if found != expected {
            return Err(LakeError::Fenced {
                app_id: app_id.into(),
                expected,
                found,
            });
        }
        let path = self.table_dir(name);
        let table = open(&path).await?;
        let properties = deltalake::kernel::transaction::CommitProperties::default()
            .with_application_transactions(vec![DeltaTxn::new(app_id, version)]);
        let table = table
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .with_table_name(name)
            .with_commit_properties(properties)
            .await
            .map_err(delta_error(&path))?;
        Ok(table.version())
    }

    /// A session with one table registered at a fixed version, so a job reads exactly the
    /// snapshot it records as consumed.
    pub async fn session_at(&self, name: &str, version: u64) -> Result<SessionContext, LakeError> {
        let path = self.table_dir(name);
        let mut table = open(&path).await?;
        table
            .load_version(version)
            .await
            .map_err(delta_error(&path))?;
        let ctx = SessionContext::new();
        register(&ctx, name, &table).await?;
        Ok(ctx)
    }

    /// The (`tenant_id`, `transaction_id`) of every row a table's commits `after + 1 ..= upto`
    /// added (data changes only; compaction rewrites are skipped). `None` when the log cannot
    /// tell: a commit file is gone (log cleanup) or a commit removed data, so the caller must
    /// treat every row as new.
    pub async fn rows_added(
        &self,
        name: &str,
        after: u64,
        upto: u64,
    ) -> Result<Option<BTreeSet<(String, String)>>, LakeError> {
        let root = self.table_dir(name);
        let Some(files) = files_added(&root, after, upto) else {
            return Ok(None);
        };
        Ok(Some(
            tenant_ids_in(&root, &files).await?.into_iter().collect(),
        ))
    }

    /// Runs SQL over every table in the lake (each registered under its directory name).
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.session().await?.sql(query).await?.collect().await?)
    }

    /// Like [`Lake::sql`], but yields batches as they are read: memory stays flat however
    /// large the answer.
    pub async fn sql_stream(
        &self,
        query: &str,
    ) -> Result<deltalake::datafusion::physical_plan::SendableRecordBatchStream, LakeError> {
        Ok(self
            .session()
            .await?
            .sql(query)
            .await?
            .execute_stream()
            .await?)
    }
}

fn table_url(path: &Path) -> Result<url::Url, LakeError> {
    std::fs::create_dir_all(path).map_err(|_| LakeError::Location(path.display().to_string()))?;
    let absolute = path
        .canonicalize()
        .map_err(|_| LakeError::Location(path.display().to_string()))?;
    url::Url::from_directory_path(&absolute)
        .map_err(|()| LakeError::Location(path.display().to_string()))
}

fn delta_error(path: &Path) -> impl Fn(DeltaTableError) -> LakeError + '_ {
    move |source| LakeError::Delta {
        table: path.display().to_string(),
        source,
    }
}

async fn open(path: &Path) -> Result<DeltaTable, LakeError> {
    load_or_empty(path, None).await
}

/// Opens the table for the transactions writer: like [`open`], on an [`InlineLocalStore`],
/// so the commit's file operations run on the committing thread, not tokio's blocking pool.
///
/// [`InlineLocalStore`]: crate::local_store::InlineLocalStore
async fn open_for_writing(path: &Path) -> Result<DeltaTable, LakeError> {
    let store = Arc::new(crate::local_store::InlineLocalStore::new());
    load_or_empty(path, Some(store)).await
}

/// The table at `path` on `store` (the location's default store when `None`), loaded, or
/// unloaded when there is no table yet (so it can be created).
async fn load_or_empty(
    path: &Path,
    store: Option<Arc<deltalake::logstore::object_store::DynObjectStore>>,
) -> Result<DeltaTable, LakeError> {
    let url = table_url(path)?;
    let mut builder =
        deltalake::DeltaTableBuilder::from_url(url.clone()).map_err(delta_error(path))?;
    if let Some(store) = store {
        builder = builder.with_storage_backend(store, url);
    }
    let mut table = builder.build().map_err(delta_error(path))?;
    match table.load().await {
        Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(table),
        Err(error) => Err(delta_error(path)(error)),
    }
}

async fn register(ctx: &SessionContext, name: &str, table: &DeltaTable) -> Result<(), LakeError> {
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|source| LakeError::Delta {
            table: name.into(),
            source,
        })?;
    let provider = table.table_provider().await?;
    ctx.register_table(name, provider)?;
    Ok(())
}

/// Ids the dedupe index may hold before it evicts (tenant, month) entries: 16 bytes each plus
/// hash-table overhead, so about 40 MB at most whatever the table's size, while a batch
/// touching thousands of tenants' current months still finds them all loaded.
pub const ID_INDEX_CAPACITY: usize = 1_000_000;

/// Refreshes after which a writer loads the table afresh instead of updating its snapshot.
///
/// Why: delta-rs' incremental snapshot update keeps memory it no longer needs; over a long
/// import (300 commits, 3.8M rows) a worker's RSS kept growing by ~4 MB/s. Loading from the
/// latest checkpoint every 64 refreshes costs one small read and keeps memory flat.
const RELOAD_EVERY_REFRESHES: u64 = 64;

/// The columns whose statistics (min, max, nulls) each data file records in the log: the ones
/// reads filter on (a tenant, a date range, an amount range; the month is the partition).
///
/// Why not all (Delta's default is the first 32): every commit's snapshot update re-reads the
/// statistics of every file in the table, and with all 26 columns' that was a sixth of the
/// pipeline's CPU at 120k rows/s, growing with the table. Ids, vendors and memos have no
/// useful ranges anyway.
pub const TRANSACTIONS_STATS_COLUMNS: &str = "tenant_id,booked_date,amount_minor";

/// The columns of `transactions` written without a Parquet dictionary: their values are
/// (nearly) unique per row.
///
/// Why: a dictionary of unique values is larger than the values and gains nothing, and
/// building it hashes every id, line number and timestamp on the commit path, which is the
/// pipeline's critical path (Parquet's dictionary interning: 1.6% → 1.1% of the 200 MB
/// pipeline benchmark's CPU). Columns that repeat (tenants, vendors, categories, amounts)
/// keep theirs.
pub const TRANSACTIONS_PLAIN_COLUMNS: [&str; 4] = [
    "transaction_id",
    "source_line",
    "external_id",
    "ingested_at",
];

/// Parquet settings of `transactions` files: delta-rs's defaults (snappy), minus the
/// dictionaries of [`TRANSACTIONS_PLAIN_COLUMNS`].
fn transactions_writer_properties() -> WriterProperties {
    TRANSACTIONS_PLAIN_COLUMNS
        .iter()
        .fold(
            WriterProperties::builder().set_compression(Compression::SNAPPY),
            |builder, column| {
                builder.set_column_dictionary_enabled(ColumnPath::from(*column), false)
            },
        )
        .build()
}

/// Writes version 0 of the transactions table at `path`, where `empty` found no table.
async fn create_transactions_table(
    empty: DeltaTable,
    path: &Path,
) -> Result<DeltaTable, LakeError> {
    let schema: StructType = transactions_table_schema()
        .as_ref()
        .try_into_kernel()
        .map_err(|e| LakeError::Delta {
            table: path.display().to_string(),
            source: DeltaTableError::Generic(e.to_string()),
        })?;
    let created = empty
        .create()
        .with_columns(schema.fields().cloned())
        .with_partition_columns(["booked_month"])
        .with_configuration_property(
            deltalake::TableProperty::DataSkippingStatsColumns,
            Some(TRANSACTIONS_STATS_COLUMNS),
        )
        .with_table_name(TRANSACTIONS_TABLE)
        .with_save_mode(SaveMode::Ignore)
        .await;
    let error = match created {
        Ok(table) => return Ok(table),
        Err(error) => error,
    };
    // Two workers starting together both find no table; the one that loses the race to write
    // version 0 sees a commit conflict, not "already exists". The winner's table is the one
    // we want.
    let reopened = open_for_writing(path).await?;
    if reopened.version().is_none() {
        return Err(delta_error(path)(error));
    }
    Ok(reopened)
}

/// The `transactions` Delta table.
pub struct TransactionsTable {
    path: PathBuf,
    table: DeltaTable,
    index: IdIndex,
    txns: TxnVersions,
    refreshes: u64,
}

/// Application-transaction (`txn`) versions exact as of one table version, advanced by reading
/// only the commits since.
///
/// Why: the kernel answers each `transaction_version` question by replaying the log since the
/// last checkpoint. Fencing asks on every commit and the producers' backlog gate asks for
/// every partition on every check, so that cost grew with the commits since the checkpoint;
/// reading a few new commit files instead keeps it flat.
#[derive(Debug, Default)]
struct TxnVersions {
    /// The table version `known` is exact for.
    version: Option<u64>,
    /// App id → its latest `txn` version (`None`: the table has none for it).
    known: HashMap<String, Option<i64>>,
}

impl TxnVersions {
    /// Brings `known` to `current` by reading the commits in between; forgets everything when
    /// they cannot be read (the kernel answers again).
    fn advance(&mut self, root: &Path, current: Option<u64>) {
        if self.version == current {
            return;
        }
        let newer = match (self.version, current) {
            (Some(from), Some(to)) if from < to => txns_committed(root, from, to),
            _ => None,
        };
        match newer {
            Some(txns) => self
                .known
                .extend(txns.into_iter().map(|(id, v)| (id, Some(v)))),
            None => self.known.clear(),
        }
        self.version = current;
    }

    /// Records the offsets this writer committed as version `committed`, when that commit came
    /// straight after the version `known` is exact for (otherwise the commit files are read).
    fn committed(&mut self, offsets: &[(String, i64)], from: Option<u64>, committed: Option<u64>) {
        if self.version != from || committed != from.map(|v| v + 1) {
            return;
        }
        for (app_id, version) in offsets {
            self.known.insert(app_id.clone(), Some(*version));
        }
        self.version = committed;
    }
}

/// Whether the next commit to `table` should clean up expired log entries.
///
/// delta-rs does it after every commit by default, and each time lists and `stat`s the whole
/// `_delta_log`: every commit of the log-retention window (30 days by default), so a streaming
/// writer's commits would cost more the longer it runs. Cleanup can only remove entries older
/// than a checkpoint, so doing it with the commit that writes the checkpoint (once a
/// checkpoint interval, as the Delta protocol describes) removes the same entries.
fn log_cleanup_due(table: &DeltaTable) -> bool {
    use deltalake::table::config::TablePropertiesExt;
    let Ok(state) = table.snapshot() else {
        return false;
    };
    let config = state.table_config();
    let next_version = table.version().map_or(0, |version| version + 1);
    config.enable_expired_log_cleanup()
        && writes_checkpoint(next_version, config.checkpoint_interval().get())
}

/// Whether delta-rs's post-commit hook writes a checkpoint after committing `version`.
fn writes_checkpoint(version: u64, checkpoint_interval: u64) -> bool {
    (version + 1).is_multiple_of(checkpoint_interval)
}

/// What [`TransactionsTable::checkpoint`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The version the checkpoint was written at.
    pub version: u64,
    /// Expired log files removed (commits and older checkpoints).
    pub log_entries_removed: usize,
}

/// What an append did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Rows written.
    pub written: usize,
    /// Rows dropped because their id was already in the table or earlier in the batch.
    pub duplicates: usize,
    /// Table version committed, if anything was committed.
    pub version: Option<u64>,
}

/// Writes `rows` (if any) as Parquet files of the table's partitions and commits them, with
/// `properties` (the offsets' `txn` actions), as one new version; returns the table at it.
///
/// Through deltalake's `RecordBatchWriter` (the writer kafka-delta-ingest commits with), not
/// `DeltaTable::write`, which plans and runs a DataFusion query for every commit: a 10,000-row
/// append takes ~10% less time and CPU this way (`pipeline-bench commit`, see the README).
async fn write_and_commit(
    table: &DeltaTable,
    rows: Option<RecordBatch>,
    properties: deltalake::kernel::transaction::CommitProperties,
) -> Result<DeltaTable, DeltaTableError> {
    use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
    let started = std::time::Instant::now();
    let mut writer = RecordBatchWriter::for_table(table)?
        .with_writer_properties(transactions_writer_properties())
        .with_commit_properties(properties);
    if let Some(rows) = rows {
        // Rows are sorted by month: each month's rows go to its partition as a zero-copy
        // slice. `write` would split them again with a `take` of every column, a copy of the
        // whole batch: a fifth of the committing thread's CPU (`pipeline-bench commit`).
        let months = string_column(&rows, "booked_month")
            .map_err(|e| DeltaTableError::Generic(e.to_string()))?;
        for (month, range) in month_runs(months) {
            let partition = indexmap::IndexMap::from([(
                "booked_month".to_string(),
                delta_kernel::expressions::Scalar::String(month.to_string()),
            )]);
            let slice = rows.slice(range.start, range.len());
            writer
                .write_partition(slice, &partition, WriteMode::Default)
                .await?;
        }
    }
    let written = started.elapsed();
    let mut committed = table.clone();
    writer.flush_and_commit(&mut committed).await?;
    tracing::debug!(
        encode_ms = written.as_millis() as u64,
        commit_ms = (started.elapsed() - written).as_millis() as u64,
        "transactions write timings"
    );
    Ok(committed)
}

/// The table schema: canonical transactions plus the partition column.
pub fn transactions_table_schema() -> SchemaRef {
    let mut fields: Vec<Field> = transaction_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("booked_month", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

impl TransactionsTable {
    /// Opens the table, creating it (empty, partitioned by `booked_month`) when absent.
    pub async fn open_or_create(path: &Path) -> Result<Self, LakeError> {
        let existing = open_for_writing(path).await?;
        let table = if existing.version().is_some() {
            existing
        } else {
            create_transactions_table(existing, path).await?
        };
        Ok(TransactionsTable {
            path: path.to_path_buf(),
            table,
            index: IdIndex::new(ID_INDEX_CAPACITY),
            txns: TxnVersions::default(),
            refreshes: 0,
        })
    }

    /// Reloads the latest table state (from scratch every [`RELOAD_EVERY_REFRESHES`] calls),
    /// when there is one: a sole writer's table is already at the latest version after its
    /// own commit, and asking the kernel anyway replays the log since the last checkpoint
    /// (parsing every file's statistics) — a sixth of the pipeline's CPU at 120k rows/s.
    pub async fn refresh(&mut self) -> Result<(), LakeError> {
        self.refreshes += 1;
        if self.refreshes % RELOAD_EVERY_REFRESHES == 0 {
            self.table = open_for_writing(&self.path).await?;
            return Ok(());
        }
        let loaded = self.table.version();
        if loaded.is_some() && latest_commit(&self.path, loaded) == loaded {
            return Ok(());
        }
        self.table
            .update_state()
            .await
            .map_err(delta_error(&self.path))
    }

    /// The committed `txn` version of each app id as of the latest commit. When every app id
    /// was seen before, only the commit files since are read (the producers' backlog gate asks
    /// every few milliseconds); otherwise after a refresh, from the kernel.
    pub async fn committed_versions(
        &mut self,
        app_ids: &[String],
    ) -> Result<HashMap<String, Option<i64>>, LakeError> {
        if let Some(versions) = self.versions_from_new_commits(app_ids) {
            return Ok(versions);
        }
        self.refresh().await?;
        let mut versions = HashMap::with_capacity(app_ids.len());
        for app_id in app_ids {
            versions.insert(app_id.clone(), self.version_of(app_id).await?);
        }
        Ok(versions)
    }

    /// The app ids' `txn` versions as of the latest commit on disk, when all are known and
    /// the commit files since the known version can be read.
    fn versions_from_new_commits(
        &mut self,
        app_ids: &[String],
    ) -> Option<HashMap<String, Option<i64>>> {
        let known_at = self.txns.version?;
        if !app_ids.iter().all(|id| self.txns.known.contains_key(id)) {
            return None;
        }
        self.txns
            .advance(&self.path, latest_commit(&self.path, Some(known_at)));
        app_ids
            .iter()
            .map(|id| Some((id.clone(), *self.txns.known.get(id)?)))
            .collect()
    }

    /// The app id's `txn` version as of the loaded table version: from the versions already
    /// known, advanced over the commits since, and from the kernel for an app id not yet seen.
    async fn version_of(&mut self, app_id: &str) -> Result<Option<i64>, LakeError> {
        let current = self.table.version();
        self.txns.advance(&self.path, current);
        if let Some(found) = self.txns.known.get(app_id) {
            return Ok(*found);
        }
        let state = self.table.snapshot().map_err(delta_error(&self.path))?;
        let found = state
            .transaction_version(self.table.log_store().as_ref(), app_id)
            .await
            .map_err(delta_error(&self.path))?;
        self.txns.known.insert(app_id.to_string(), found);
        Ok(found)
    }

    /// Appends canonical transactions and records `offsets` (app id → last version) in the
    /// same commit, provided each app id is still at `expected` (fencing).
    pub async fn append(
        &mut self,
        batch: &RecordBatch,
        offsets: &[(String, i64)],
        expected: &HashMap<String, Option<i64>>,
    ) -> Result<AppendOutcome, LakeError> {
        let started = std::time::Instant::now();
        self.refresh().await?;
        let refreshed = started.elapsed();
        for (app_id, _) in offsets {
            let found = self.version_of(app_id).await?;
            let wanted = expected.get(app_id).copied().flatten();
            if found != wanted {
                return Err(LakeError::Fenced {
                    app_id: app_id.clone(),
                    expected: wanted,
                    found,
                });
            }
        }
        let fenced = started.elapsed();
        let with_month = add_booked_month(batch)?;
        let (fresh, duplicates, fresh_ids) = match self.drop_known_ids(&with_month).await {
            Ok(split) => split,
            Err(error) => {
                self.index.reset(None);
                return Err(error);
            }
        };
        let txns: Vec<DeltaTxn> = offsets
            .iter()
            .map(|(app_id, version)| DeltaTxn::new(app_id, *version))
            .collect();
        if txns.is_empty() && fresh.num_rows() == 0 {
            return Ok(AppendOutcome {
                written: 0,
                duplicates,
                version: None,
            });
        }
        let written = fresh.num_rows();
        let deduped = started.elapsed();
        let sorted = sort_for_pruning(&fresh)?;
        let properties = deltalake::kernel::transaction::CommitProperties::default()
            .with_application_transactions(txns)
            .with_cleanup_expired_logs(Some(log_cleanup_due(&self.table)));
        let started_from = self.table.version();
        let rows = (written > 0).then_some(sorted);
        let result = write_and_commit(&self.table, rows, properties)
            .await
            .map_err(delta_error(&self.path));
        let table = match result {
            Ok(table) => table,
            Err(error) => {
                // Whether the commit happened is unknown: rebuild the index from the table.
                self.index.reset(None);
                return Err(error);
            }
        };
        self.table = table;
        self.txns
            .committed(offsets, started_from, self.table.version());
        self.index_written(&fresh, &fresh_ids, started_from)?;
        tracing::debug!(
            rows = written,
            refresh_ms = refreshed.as_millis() as u64,
            fence_ms = (fenced - refreshed).as_millis() as u64,
            dedupe_ms = (deduped - fenced).as_millis() as u64,
            write_ms = (started.elapsed() - deduped).as_millis() as u64,
            "transactions append timings"
        );
        Ok(AppendOutcome {
            written,
            duplicates,
            version: self.table.version(),
        })
    }

    /// Drops rows whose id appears earlier in the batch or already in the table; returns the
    /// rows kept, how many were dropped, and the kept rows' ids in order.
    async fn drop_known_ids(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, usize, Vec<u128>), LakeError> {
        let ids = string_column(batch, "transaction_id")?;
        let tenants = string_column(batch, "tenant_id")?;
        let months = string_column(batch, "booked_month")?;
        let keys: HashSet<PartKey> = part_runs(tenants, months)
            .map(|(tenant, month, _)| (tenant.to_string(), month.to_string()))
            .collect();
        self.catch_up_index().await?;
        self.index.evict_except(&keys);
        self.load_index(&keys).await?;
        let mut seen = IdSet::with_capacity_and_hasher(batch.num_rows(), Default::default());
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut kept_ids = Vec::with_capacity(batch.num_rows());
        // Rows come in runs of one (tenant, month): look its ids up once per run.
        for (tenant, month, rows) in part_runs(tenants, months) {
            let known = self.index.ids_of(tenant, month);
            for row in rows {
                let id = ids.value(row);
                let bits = id_bits(id).ok_or_else(|| invalid_id(id))?;
                let fresh = !known.is_some_and(|known| known.contains(&bits)) && seen.insert(bits);
                keep.push(fresh);
                if fresh {
                    kept_ids.push(bits);
                }
            }
        }
        let dropped = batch.num_rows() - kept_ids.len();
        if dropped == 0 {
            return Ok((batch.clone(), 0, kept_ids));
        }
        let kept = arrow_select_filter(batch, &BooleanArray::from(keep))?;
        Ok((kept, dropped, kept_ids))
    }

    /// Brings the index to the table's current version by reading only the files other
    /// writers' commits added to months it holds; resets it when the log cannot tell.
    async fn catch_up_index(&mut self) -> Result<(), LakeError> {
        let current = self.table.version();
        let (Some(from), Some(to)) = (self.index.version(), current) else {
            self.index.reset(current);
            return Ok(());
        };
        if from == to {
            return Ok(());
        }
        if from > to || self.index.is_empty() {
            self.index.reset(current);
            return Ok(());
        }
        let Some(files) = files_added(&self.path, from, to) else {
            tracing::debug!(from, to, "dedupe index reset: commits not attributable");
            self.index.reset(current);
            return Ok(());
        };
        // Only files in months the index holds matter; the month is in each file's path.
        let mut by_month: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in files {
            if let Some(month) = month_of_file(&file).filter(|m| self.index.has_month(m)) {
                by_month.entry(month).or_default().push(file);
            }
        }
        for (month, files) in by_month {
            for (tenant, id) in tenant_ids_in(&self.path, &files).await? {
                let bits = id_bits(&id).ok_or_else(|| invalid_id(&id))?;
                self.index.extend(&tenant, &month, [bits]);
            }
        }
        self.index.set_version(current);
        Ok(())
    }

    /// Loads the (tenant, month) keys the index lacks from the table (one query).
    async fn load_index(&mut self, keys: &HashSet<PartKey>) -> Result<(), LakeError> {
        let missing: Vec<&PartKey> = keys.iter().filter(|k| !self.index.has(k)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut loaded: HashMap<PartKey, IdSet> = missing
            .iter()
            .map(|key| ((*key).clone(), IdSet::default()))
            .collect();
        let months: BTreeSet<&str> = missing.iter().map(|(_, m)| m.as_str()).collect();
        if self.may_hold_months(&months) {
            let ctx = SessionContext::new();
            register(&ctx, "t", &self.table).await?;
            // Tenant ids and months are validated ([A-Za-z0-9._-] and YYYY-MM), so quoting is
            // safe.
            let list = |values: BTreeSet<&str>| {
                values
                    .iter()
                    .map(|v| format!("'{v}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let query = format!(
                "SELECT tenant_id, booked_month, transaction_id FROM t \
                 WHERE booked_month IN ({}) AND tenant_id IN ({})",
                list(months.clone()),
                list(missing.iter().map(|(t, _)| t.as_str()).collect())
            );
            let batches = ctx.sql(&query).await?.collect().await?;
            for batch in &batches {
                let tenants = crate::text_column(batch, 0)?;
                let months = crate::text_column(batch, 1)?;
                let ids = crate::text_column(batch, 2)?;
                for ((tenant, month), id) in tenants.into_iter().zip(months).zip(ids) {
                    let bits = id_bits(&id).ok_or_else(|| invalid_id(&id))?;
                    // The query's tenant x month product may return keys not asked for.
                    if let Some(set) = loaded.get_mut(&(tenant, month)) {
                        set.insert(bits);
                    }
                }
            }
        }
        for (key, ids) in loaded {
            self.index.load(key, ids);
        }
        Ok(())
    }

    /// Adds a committed batch's ids to the index. When another commit slipped in between
    /// (Delta resolved a concurrent append), the index stays at the version it was exact for
    /// and the next catch-up reads both commits.
    fn index_written(
        &mut self,
        written: &RecordBatch,
        ids: &[u128],
        started_from: Option<u64>,
    ) -> Result<(), LakeError> {
        let tenants = string_column(written, "tenant_id")?;
        let months = string_column(written, "booked_month")?;
        for (tenant, month, rows) in part_runs(tenants, months) {
            self.index.extend(tenant, month, ids[rows].iter().copied());
        }
        let committed = self.table.version();
        let consecutive =
            matches!((started_from, committed), (Some(from), Some(to)) if to == from + 1);
        if consecutive {
            self.index.set_version(committed);
        }
        Ok(())
    }

    /// Rows in the table.
    pub async fn count_rows(&self) -> Result<u64, LakeError> {
        let ctx = SessionContext::new();
        register(&ctx, "t", &self.table).await?;
        Ok(ctx.table("t").await?.count().await? as u64)
    }

    /// Rewrites small files into large ones (safe any time; readers keep working).
    pub async fn compact(&mut self) -> Result<String, LakeError> {
        let (table, metrics) = self
            .table
            .clone()
            .optimize()
            .with_type(OptimizeType::Compact)
            .await
            .map_err(delta_error(&self.path))?;
        self.table = table;
        Ok(format!(
            "compacted {} files into {} ({} partitions)",
            metrics.num_files_removed, metrics.num_files_added, metrics.partitions_optimized
        ))
    }

    /// Deletes files no longer referenced and older than `retention` (default 7 days; Delta's
    /// safety check refuses shorter unless `force`).
    pub async fn vacuum(
        &mut self,
        retention_hours: u64,
        dry_run: bool,
        force: bool,
    ) -> Result<Vec<String>, LakeError> {
        let (table, metrics) = self
            .table
            .clone()
            .vacuum()
            .with_retention_period(chrono::Duration::hours(retention_hours as i64))
            .with_enforce_retention_duration(!force)
            .with_dry_run(dry_run)
            .await
            .map_err(delta_error(&self.path))?;
        self.table = table;
        Ok(metrics.files_deleted)
    }

    /// Writes a checkpoint so readers need not replay the whole log, then removes the log
    /// entries it makes unnecessary that are past the table's log retention (30 days by
    /// default), unless the table turns expired-log cleanup off: what the commit that writes a
    /// checkpoint does (see [`log_cleanup_due`]).
    pub async fn checkpoint(&mut self) -> Result<Checkpoint, LakeError> {
        use deltalake::table::config::TablePropertiesExt;
        self.refresh().await?;
        deltalake::checkpoints::create_checkpoint(&self.table, None)
            .await
            .map_err(delta_error(&self.path))?;
        let state = self.table.snapshot().map_err(delta_error(&self.path))?;
        let log_entries_removed = if state.table_config().enable_expired_log_cleanup() {
            deltalake::checkpoints::cleanup_metadata(&self.table, None)
                .await
                .map_err(delta_error(&self.path))?
        } else {
            0
        };
        Ok(Checkpoint {
            version: self.table.version().unwrap_or_default(),
            log_entries_removed,
        })
    }

    /// Whether a data file of the loaded version may lie in one of `months`, judged by the
    /// `booked_month=` in its path (a path without one counts as a yes).
    ///
    /// Why: an import reaches a new month every few commits, and asking the table for that
    /// month's ids planned and ran a DataFusion query (~11 ms) to find none: half of the
    /// dedupe time in `pipeline-bench throughput`. The file list is already in memory.
    fn may_hold_months(&self, months: &BTreeSet<&str>) -> bool {
        let Ok(snapshot) = self.table.snapshot() else {
            return true;
        };
        snapshot.log_data().iter().any(|file| {
            month_of_file(&file.path()).is_none_or(|month| months.contains(month.as_str()))
        })
    }

    /// Number of data files in the current version.
    pub fn file_count(&self) -> usize {
        self.table
            .snapshot()
            .map(|s| s.log_data().num_files())
            .unwrap_or(0)
    }
}

fn date_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Date32Array, LakeError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
        .ok_or_else(|| LakeError::Location(format!("column {name}")))
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, LakeError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| LakeError::Location(format!("column {name}")))
}

/// Consecutive rows of one month, in order: `(month, rows)`.
fn month_runs(months: &StringArray) -> impl Iterator<Item = (&str, std::ops::Range<usize>)> {
    runs(months.len(), move |row| months.value(row))
}

/// Consecutive rows of one (tenant, month), in order: `(tenant, month, rows)`.
fn part_runs<'a>(
    tenants: &'a StringArray,
    months: &'a StringArray,
) -> impl Iterator<Item = (&'a str, &'a str, std::ops::Range<usize>)> + 'a {
    let rows = tenants.len().min(months.len());
    runs(rows, move |row| (tenants.value(row), months.value(row)))
        .map(|((tenant, month), range)| (tenant, month, range))
}

/// Consecutive rows `0..rows` with an equal `key(row)`, in order: `(key, rows)`.
fn runs<K: PartialEq>(
    rows: usize,
    key: impl Fn(usize) -> K,
) -> impl Iterator<Item = (K, std::ops::Range<usize>)> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= rows {
            return None;
        }
        let run_key = key(start);
        let end = (start + 1..rows)
            .find(|&row| key(row) != run_key)
            .unwrap_or(rows);
        let run = (run_key, start..end);
        start = end;
        Some(run)
    })
}

fn arrow_select_filter(batch: &RecordBatch, keep: &BooleanArray) -> Result<RecordBatch, LakeError> {
    Ok(deltalake::arrow::compute::filter_record_batch(batch, keep)?)
}

/// Paths of the files a commit (one JSON action per line) added with `dataChange: true`;
/// `None` when it removed data (a delete or overwrite), which the caller cannot attribute.
fn added_data_files(commit: &str) -> Option<Vec<String>> {
    let mut paths = Vec::new();
    for line in commit.lines().filter(|l| !l.trim().is_empty()) {
        let action: serde_json::Value = serde_json::from_str(line).ok()?;
        let changes_data = |a: &serde_json::Value| a["dataChange"].as_bool().unwrap_or(true);
        if let Some(remove) = action.get("remove")
            && changes_data(remove)
        {
            return None;
        }
        if let Some(add) = action.get("add")
            && changes_data(add)
        {
            paths.push(add["path"].as_str()?.to_string());
        }
    }
    Some(paths)
}

/// The `booked_month` partition value in a data file's path (`booked_month=2024-01/...`).
fn month_of_file(path: &str) -> Option<String> {
    let decoded = percent_decode(path);
    let start = decoded.find("booked_month=")? + "booked_month=".len();
    let rest = &decoded[start..];
    Some(rest.split('/').next()?.to_string())
}

/// The data files commits `after + 1 ..= upto` of the table at `root` added (data changes
/// only); `None` when the log cannot tell (a commit file is gone, or a commit removed data).
fn files_added(root: &Path, after: u64, upto: u64) -> Option<Vec<String>> {
    from_commits(root, after, upto, added_data_files)
}

/// The `txn` actions (app id, version) of commits `after + 1 ..= upto`, in commit order;
/// `None` when a commit file cannot be read or parsed.
fn txns_committed(root: &Path, after: u64, upto: u64) -> Option<Vec<(String, i64)>> {
    from_commits(root, after, upto, txn_actions)
}

/// The commit file of `version` in the table at `root`.
fn commit_file(root: &Path, version: u64) -> PathBuf {
    root.join("_delta_log").join(format!("{version:020}.json"))
}

/// The latest version whose commit file exists, probing forward from `from` (commit files
/// are written whole, by rename, and numbered without gaps).
fn latest_commit(root: &Path, from: Option<u64>) -> Option<u64> {
    let mut latest = from;
    loop {
        let next = latest.map_or(0, |v| v + 1);
        if !commit_file(root, next).exists() {
            return latest;
        }
        latest = Some(next);
    }
}

/// What `read` finds in each commit file `after + 1 ..= upto` of the table at `root`, in
/// commit order; `None` when a file is missing or `read` cannot tell.
fn from_commits<T>(
    root: &Path,
    after: u64,
    upto: u64,
    read: impl Fn(&str) -> Option<Vec<T>>,
) -> Option<Vec<T>> {
    let mut found = Vec::new();
    for version in after + 1..=upto {
        found.extend(read(
            &std::fs::read_to_string(commit_file(root, version)).ok()?,
        )?);
    }
    Some(found)
}

/// The `txn` actions of one commit file (one JSON action per line).
fn txn_actions(commit: &str) -> Option<Vec<(String, i64)>> {
    let mut txns = Vec::new();
    // Only lines that can hold a txn action are parsed: `add` lines carry long statistics.
    for line in commit.lines().filter(|l| l.contains("\"txn\"")) {
        let action: serde_json::Value = serde_json::from_str(line).ok()?;
        if let Some(txn) = action.get("txn") {
            txns.push((txn["appId"].as_str()?.to_string(), txn["version"].as_i64()?));
        }
    }
    Some(txns)
}

/// (`tenant_id`, `transaction_id`) of every row in the given data files of the table at `root`.
async fn tenant_ids_in(root: &Path, files: &[String]) -> Result<Vec<(String, String)>, LakeError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<String> = files
        .iter()
        .map(|f| root.join(percent_decode(f)).display().to_string())
        .collect();
    let frame = SessionContext::new()
        .read_parquet(paths, ParquetReadOptions::default())
        .await?
        .select_columns(&["tenant_id", "transaction_id"])?;
    let mut rows = Vec::new();
    for batch in frame.collect().await? {
        let tenants = crate::text_column(&batch, 0)?;
        let ids = crate::text_column(&batch, 1)?;
        rows.extend(tenants.into_iter().zip(ids));
    }
    Ok(rows)
}

fn invalid_id(id: &str) -> LakeError {
    LakeError::Location(format!(
        "transaction_id `{id}` in the transactions table is not `tx_` + 32 hex digits"
    ))
}

/// Decodes `%XX` escapes in a Delta log path.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .map_err(|_| ())
                .and_then(|hex| u8::from_str_radix(hex, 16).map_err(|_| ()))
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds `booked_month` (`YYYY-MM`) derived from `booked_date`.
pub fn add_booked_month(batch: &RecordBatch) -> Result<RecordBatch, LakeError> {
    let months = booked_months(date_column(batch, "booked_date")?);
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(months));
    Ok(RecordBatch::try_new(transactions_table_schema(), columns)?)
}

/// `YYYY-MM` of each date, formatted once per run of equal dates (rows mostly come in date
/// order): formatting every row was a tenth of a commit.
fn booked_months(dates: &Date32Array) -> StringArray {
    let mut months =
        arrow_array::builder::StringBuilder::with_capacity(dates.len(), dates.len() * 7);
    let mut last: Option<(i32, Option<String>)> = None;
    for row in 0..dates.len() {
        if dates.is_null(row) {
            months.append_null();
            continue;
        }
        let day = dates.value(row);
        if last.as_ref().is_none_or(|(seen, _)| *seen != day) {
            let month = dates
                .value_as_date(row)
                .map(|d| d.format("%Y-%m").to_string());
            last = Some((day, month));
        }
        months.append_option(last.as_ref().and_then(|(_, month)| month.as_deref()));
    }
    months.finish()
}

/// Sorts by (booked_month, tenant_id, booked_date) so each file's tenant statistics are tight
/// (a batch already in that order, as one tenant's import in date order is, is kept as is).
fn sort_for_pruning(batch: &RecordBatch) -> Result<RecordBatch, LakeError> {
    if is_sorted_for_pruning(batch) {
        return Ok(batch.clone());
    }
    use deltalake::arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| LakeError::Location(name.into()))
    };
    let keys = vec![
        SortColumn {
            values: column("booked_month")?,
            options: None,
        },
        SortColumn {
            values: column("tenant_id")?,
            options: None,
        },
        SortColumn {
            values: column("booked_date")?,
            options: None,
        },
    ];
    let indices = lexsort_to_indices(&keys, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

/// Whether the rows are already in (booked_month, tenant_id, booked_date) order, without
/// nulls (the sort puts nulls first; such batches are left to it).
fn is_sorted_for_pruning(batch: &RecordBatch) -> bool {
    let (Ok(months), Ok(tenants), Ok(dates)) = (
        string_column(batch, "booked_month"),
        string_column(batch, "tenant_id"),
        date_column(batch, "booked_date"),
    ) else {
        return false;
    };
    if months.null_count() + tenants.null_count() + dates.null_count() > 0 {
        return false;
    }
    let key = |row: usize| (months.value(row), tenants.value(row), dates.value(row));
    (1..batch.num_rows()).all(|row| key(row - 1) <= key(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_actions_are_read_from_a_commit_in_order() {
        let commit = concat!(
            r#"{"commitInfo":{"timestamp":1,"operation":"WRITE","operationParameters":{"note":"\"txn\" in text"}}}"#,
            "\n",
            r#"{"txn":{"appId":"t-0","version":41,"lastUpdated":1}}"#,
            "\n",
            r#"{"add":{"path":"booked_month=2024-01/a.parquet","size":1,"dataChange":true,"stats":"{}"}}"#,
            "\n",
            r#"{"txn":{"appId":"t-1","version":7}}"#,
            "\n"
        );
        assert_eq!(
            txn_actions(commit),
            Some(vec![("t-0".to_string(), 41), ("t-1".to_string(), 7)])
        );
        assert_eq!(
            txn_actions(r#"{"txn":{"appId":"t-0"}}"#),
            None,
            "no version"
        );
        assert_eq!(txn_actions("{\"txn\": not json"), None);
    }

    #[test]
    fn the_latest_commit_is_the_last_of_the_consecutive_commit_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        assert_eq!(latest_commit(dir.path(), None), None);
        for version in [0u64, 1, 2, 4] {
            std::fs::write(log.join(format!("{version:020}.json")), "{}").unwrap();
        }
        assert_eq!(latest_commit(dir.path(), None), Some(2));
        assert_eq!(latest_commit(dir.path(), Some(1)), Some(2));
        assert_eq!(latest_commit(dir.path(), Some(4)), Some(4));
    }

    #[test]
    fn known_txn_versions_advance_over_new_commits_or_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        let write = |version: u64, text: &str| {
            std::fs::write(log.join(format!("{version:020}.json")), text).unwrap();
        };
        write(1, r#"{"txn":{"appId":"t-0","version":5}}"#);
        write(2, r#"{"txn":{"appId":"t-0","version":9}}"#);
        let mut txns = TxnVersions {
            version: Some(0),
            known: HashMap::from([("t-0".to_string(), None), ("t-1".to_string(), Some(3))]),
        };
        txns.advance(dir.path(), Some(2));
        assert_eq!(txns.version, Some(2));
        assert_eq!(txns.known["t-0"], Some(9), "the latest commit wins");
        assert_eq!(
            txns.known["t-1"],
            Some(3),
            "untouched ids keep their version"
        );
        txns.committed(&[("t-2".to_string(), 11)], Some(2), Some(3));
        assert_eq!(txns.version, Some(3));
        assert_eq!(
            txns.known["t-2"],
            Some(11),
            "this writer's own commit, not read back"
        );
        txns.committed(&[("t-2".to_string(), 12)], Some(2), Some(4));
        assert_eq!(
            txns.known["t-2"],
            Some(11),
            "not straight after the known version: left to the commit files"
        );
        txns.advance(dir.path(), Some(4));
        assert!(
            txns.known.is_empty(),
            "commit 4 is missing: ask the kernel again"
        );
        assert_eq!(txns.version, Some(4));
    }

    fn dates(days: &[Option<i32>]) -> Date32Array {
        Date32Array::from(days.to_vec())
    }

    #[test]
    fn booked_months_match_formatting_every_row() {
        // 19723 = 2024-01-01; runs, a month change, a date going back, a null, a repeat.
        let days = dates(&[
            Some(19723),
            Some(19723),
            Some(19753),
            Some(19754),
            None,
            Some(19754),
            Some(19000),
            Some(19723),
        ]);
        let months = booked_months(&days);
        let expected: Vec<Option<String>> = (0..days.len())
            .map(|row| {
                days.is_valid(row)
                    .then(|| days.value_as_date(row))
                    .flatten()
                    .map(|d| d.format("%Y-%m").to_string())
            })
            .collect();
        let got: Vec<Option<String>> = months.iter().map(|m| m.map(str::to_string)).collect();
        assert_eq!(got, expected);
        assert_eq!(got[2].as_deref(), Some("2024-01"));
        assert_eq!(got[3].as_deref(), Some("2024-02"));
        assert_eq!(got[4], None);
    }

    fn pruning_batch(rows: &[(&str, &str, i32)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("booked_month", DataType::Utf8, false),
            Field::new("tenant_id", DataType::Utf8, false),
            Field::new("booked_date", DataType::Date32, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .expect("valid batch")
    }

    fn keys(batch: &RecordBatch) -> Vec<(String, String, i32)> {
        let months = string_column(batch, "booked_month").expect("months");
        let tenants = string_column(batch, "tenant_id").expect("tenants");
        let days = date_column(batch, "booked_date").expect("dates");
        (0..batch.num_rows())
            .map(|row| {
                (
                    months.value(row).to_string(),
                    tenants.value(row).to_string(),
                    days.value(row),
                )
            })
            .collect()
    }

    #[test]
    fn batches_are_sorted_for_pruning_unless_already_in_order() {
        let sorted = pruning_batch(&[
            ("2024-01", "a", 1),
            ("2024-01", "a", 1),
            ("2024-01", "b", 0),
            ("2024-02", "a", 40),
        ]);
        assert!(is_sorted_for_pruning(&sorted));
        assert_eq!(
            keys(&sort_for_pruning(&sorted).expect("sorts")),
            keys(&sorted)
        );

        for unsorted in [
            pruning_batch(&[("2024-02", "a", 40), ("2024-01", "a", 1)]),
            pruning_batch(&[("2024-01", "b", 1), ("2024-01", "a", 2)]),
            pruning_batch(&[("2024-01", "a", 2), ("2024-01", "a", 1)]),
        ] {
            assert!(!is_sorted_for_pruning(&unsorted));
            let result = keys(&sort_for_pruning(&unsorted).expect("sorts"));
            let mut expected = keys(&unsorted);
            expected.sort();
            assert_eq!(result, expected);
        }
    }

    #[test]
    fn part_runs_group_consecutive_rows_of_one_tenant_and_month() {
        let tenants = StringArray::from(vec!["a", "a", "b", "b", "a"]);
        let months = StringArray::from(vec!["m1", "m1", "m1", "m2", "m2"]);
        let runs: Vec<_> = part_runs(&tenants, &months).collect();
        assert_eq!(
            runs,
            vec![
                ("a", "m1", 0..2),
                ("b", "m1", 2..3),
                ("b", "m2", 3..4),
                ("a", "m2", 4..5)
            ]
        );
        let empty = StringArray::from(Vec::<&str>::new());
        assert_eq!(part_runs(&empty, &empty).count(), 0);
    }

    #[test]
    fn month_runs_group_consecutive_rows_of_one_month() {
        let months = StringArray::from(vec!["m1", "m1", "m2", "m3", "m3", "m3"]);
        let runs: Vec<_> = month_runs(&months).collect();
        assert_eq!(runs, vec![("m1", 0..2), ("m2", 2..3), ("m3", 3..6)]);
        let empty = StringArray::from(Vec::<&str>::new());
        assert_eq!(month_runs(&empty).count(), 0);
    }

    #[test]
    fn checkpoints_follow_every_interval_th_version() {
        let checkpointed: Vec<u64> = (0..10).filter(|v| writes_checkpoint(*v, 3)).collect();
        assert_eq!(checkpointed, vec![2, 5, 8]);
    }

    /// Commits `offset` for one partition with no rows: a log entry and nothing else.
    async fn commit_offset(table: &mut TransactionsTable, offset: i64) {
        let expected = HashMap::from([("t-0".to_string(), (offset > 1).then_some(offset - 1))]);
        let empty = RecordBatch::new_empty(transaction_schema());
        let outcome = table
            .append(&empty, &[("t-0".to_string(), offset)], &expected)
            .await
            .unwrap();
        assert_eq!(outcome.version, Some(offset as u64));
    }

    fn log_entry(path: &Path, version: u64) -> PathBuf {
        path.join("_delta_log").join(format!("{version:020}.json"))
    }

    /// Dates the files back 40 days: past the default 30-day log retention.
    fn expire<'a>(files: impl IntoIterator<Item = &'a PathBuf>) {
        let expired = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
        for file in files {
            let file = std::fs::File::options().write(true).open(file).unwrap();
            file.set_modified(expired).unwrap();
        }
    }

    #[tokio::test]
    async fn expired_log_entries_go_with_the_commit_that_writes_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("transactions");
        let schema: StructType = transactions_table_schema()
            .as_ref()
            .try_into_kernel()
            .unwrap();
        open_for_writing(&path)
            .await
            .unwrap()
            .create()
            .with_columns(schema.fields().cloned())
            .with_partition_columns(["booked_month"])
            .with_configuration_property(deltalake::TableProperty::CheckpointInterval, Some("3"))
            .await
            .unwrap();
        let mut table = TransactionsTable::open_or_create(&path).await.unwrap();
        commit_offset(&mut table, 1).await;
        commit_offset(&mut table, 2).await; // writes the checkpoint at version 2
        expire(&[0, 1, 2].map(|v| log_entry(&path, v)));

        // Versions 0 and 1 are past retention and behind a checkpoint, but the commits that
        // write no checkpoint leave the log alone (delta-rs alone would remove them here).
        commit_offset(&mut table, 3).await;
        commit_offset(&mut table, 4).await;
        assert!(log_entry(&path, 0).exists());
        assert!(log_entry(&path, 1).exists());

        commit_offset(&mut table, 5).await; // writes the checkpoint at version 5
        assert!(!log_entry(&path, 0).exists());
        assert!(!log_entry(&path, 1).exists());
        // Version 2 is the checkpoint retained entries replay from.
        assert!(log_entry(&path, 2).exists());
        assert!(log_entry(&path, 3).exists());

        // `verocta lake checkpoint` cleans up behind the checkpoint it writes: the commits
        // before it and the older checkpoint, once past retention.
        let checkpoint_2 = path
            .join("_delta_log")
            .join(format!("{:020}.checkpoint.parquet", 2));
        assert!(checkpoint_2.exists());
        expire(&[2, 3, 4].map(|v| log_entry(&path, v)));
        expire([&checkpoint_2]);
        let checkpoint = table.checkpoint().await.unwrap();
        assert_eq!(checkpoint.version, 5);
        assert_eq!(checkpoint.log_entries_removed, 4);
        assert!((2..=4).all(|version| !log_entry(&path, version).exists()));
        assert!(!checkpoint_2.exists());
        assert!(log_entry(&path, 5).exists());
    }
}
