//! The ClickHouse sink worker: consumes the transactions topic in its own consumer group and
//! writes to ClickHouse through [`verocta_lakehouse::clickhouse::ClickHouseSink`].
//!
//! Delivery is at-least-once: Kafka offsets are committed only after ClickHouse accepted the
//! rows and the rollups they change were refreshed, so a crash or a rebalance replays the
//! uncommitted records. The tables are idempotent (see the sink), so replays never change a total. The
//! sink's group is separate from the Delta workers', so ClickHouse being slow or down never
//! holds back the system of record; its lag is its own metric.
//!
//! Records that fail to decode are skipped and counted here: the Delta workers send the same
//! records to the dead-letter topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::runtime::Handle;
use verocta_lakehouse::clickhouse::{
    ClickHouse, ClickHouseConfig, ClickHouseError, ClickHouseSink, PendingWindows, windows_of,
};
use verocta_schemas::arrow::TransactionBatchBuilder;
use verocta_schemas::view::TransactionView;

use super::topics::Topology;
use super::worker::{fetched_end_offsets, listed_end_offsets};
use super::{KafkaConfig, KafkaError};
use crate::metrics::ComponentMetrics;

/// Settings of a ClickHouse sink worker.
#[derive(Clone, Debug)]
pub struct ClickHouseSinkConfig {
    /// Broker connection.
    pub kafka: KafkaConfig,
    /// Topic names.
    pub topology: Topology,
    /// Consumer group (distinct from the Delta workers').
    pub group_id: String,
    /// Server, database, batch bounds and retries.
    pub clickhouse: ClickHouseConfig,
}

/// Why the sink stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseSinkError {
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// ClickHouse failed permanently, or past its retries.
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
    /// Building a batch failed (an internal bug).
    #[error("building an Arrow batch failed: {0}")]
    Batch(#[from] arrow_schema::ArrowError),
}

impl From<rdkafka::error::KafkaError> for ClickHouseSinkError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        ClickHouseSinkError::Kafka(error.into())
    }
}

/// Bumps a generation on every rebalance so the loop drops records of lost partitions.
struct GenerationContext {
    generation: Arc<AtomicU64>,
}

impl ClientContext for GenerationContext {}

impl ConsumerContext for GenerationContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Revoke(_)) {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What has reached ClickHouse's `transactions` but is not yet in the rollups, nor committed.
#[derive(Default)]
struct Uncommitted {
    /// Next offset to commit per partition (last inserted + 1).
    offsets: HashMap<i32, i64>,
    /// Tenant windows whose rollups the inserted rows changed.
    windows: PendingWindows,
}

/// The batch being gathered from Kafka.
struct Gathering {
    builder: TransactionBatchBuilder,
    last_offsets: HashMap<i32, i64>,
    opened_at: Option<Instant>,
}

impl Gathering {
    fn clear(&mut self) -> Result<(), arrow_schema::ArrowError> {
        self.builder.finish()?;
        self.last_offsets.clear();
        self.opened_at = None;
        Ok(())
    }
}

/// Runs the sink until `stop` is set (then writes what it holds and returns).
///
/// Each batch is inserted as soon as it closes, so rows are queryable within the batch
/// linger; the rollups of everything inserted since the last refresh are recomputed every
/// `rollup_interval_ms` in one refresh, and only then are those offsets committed — a crash in
/// between replays the rows (harmless) and so redoes the refresh.
pub fn run_clickhouse_sink(
    config: ClickHouseSinkConfig,
    runtime: Handle,
    stop: Arc<AtomicBool>,
    metrics: Arc<ComponentMetrics>,
) -> Result<(), ClickHouseSinkError> {
    let clickhouse = runtime.block_on(ClickHouse::connect(&config.clickhouse))?;
    let sink = ClickHouseSink::new(clickhouse)?;
    let generation = Arc::new(AtomicU64::new(0));
    let mut client = config.kafka.client_config();
    client
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A new sink starts from the oldest record the broker still has; `backfill` covers
        // anything older from Delta.
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (key, value) in &config.kafka.extra {
        client.set(key, value);
    }
    let consumer: BaseConsumer<GenerationContext> =
        client.create_with_context(GenerationContext {
            generation: Arc::clone(&generation),
        })?;
    consumer.subscribe(&[&config.topology.transactions()])?;
    let linger = Duration::from_millis(config.clickhouse.linger_ms);
    let rollup_interval = Duration::from_millis(config.clickhouse.rollup_interval_ms);
    let max_rows = config.clickhouse.batch_rows;
    let mut gathering = Gathering {
        builder: TransactionBatchBuilder::with_capacity(max_rows.min(65_536)),
        last_offsets: HashMap::new(),
        opened_at: None,
    };
    let mut uncommitted = Uncommitted::default();
    let mut last_refresh = Instant::now();
    let mut generation_seen = generation.load(Ordering::SeqCst);

    while !stop.load(Ordering::Relaxed) {
        let message = consumer.poll(Duration::from_millis(100));
        let current = generation.load(Ordering::SeqCst);
        if current != generation_seen {
            // Partitions were revoked: the new owner re-reads everything not committed, and
            // refreshes its rollups (two refreshes of one tenant must not run at once).
            generation_seen = current;
            gathering.clear()?;
            uncommitted = Uncommitted::default();
        }
        match message {
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                metrics.rows_in.fetch_add(1, Ordering::Relaxed);
                metrics
                    .bytes_in
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                match TransactionView::decode(payload) {
                    Ok(view) => gathering.builder.append_view(&view),
                    Err(_) => {
                        metrics.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                gathering
                    .last_offsets
                    .insert(message.partition(), message.offset());
                gathering.opened_at.get_or_insert_with(Instant::now);
            }
            Some(Err(error)) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "ClickHouse sink: consumer error");
            }
            None => {}
        }
        let batch_ready = gathering.builder.len() >= max_rows
            || gathering
                .opened_at
                .is_some_and(|opened| opened.elapsed() >= linger);
        if batch_ready && !gathering.last_offsets.is_empty() {
            insert(&runtime, &sink, &mut gathering, &mut uncommitted, &metrics)?;
        }
        if last_refresh.elapsed() >= rollup_interval {
            refresh_and_commit(&runtime, &sink, &consumer, &config, &mut uncommitted)?;
            last_refresh = Instant::now();
        }
    }
    if !gathering.last_offsets.is_empty() {
        insert(&runtime, &sink, &mut gathering, &mut uncommitted, &metrics)?;
    }
    refresh_and_commit(&runtime, &sink, &consumer, &config, &mut uncommitted)
}

/// Inserts the gathered batch; its offsets and windows wait for the next refresh.
fn insert(
    runtime: &Handle,
    sink: &ClickHouseSink,
    gathering: &mut Gathering,
    uncommitted: &mut Uncommitted,
    metrics: &ComponentMetrics,
) -> Result<(), ClickHouseSinkError> {
    let started = Instant::now();
    let batch = gathering.builder.finish()?;
    runtime.block_on(sink.insert_rows(&batch))?;
    uncommitted.windows.add(windows_of(&batch)?);
    for (partition, offset) in gathering.last_offsets.drain() {
        uncommitted.offsets.insert(partition, offset + 1);
    }
    gathering.opened_at = None;
    metrics
        .rows_out
        .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    metrics.batches.fetch_add(1, Ordering::Relaxed);
    metrics.record_batch_latency(started.elapsed());
    tracing::debug!(
        rows = batch.num_rows(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ClickHouse batch inserted"
    );
    Ok(())
}

/// Refreshes the rollups of everything inserted since the last refresh, then commits its
/// offsets (at least once: a failed commit only means those rows are written again).
fn refresh_and_commit(
    runtime: &Handle,
    sink: &ClickHouseSink,
    consumer: &BaseConsumer<GenerationContext>,
    config: &ClickHouseSinkConfig,
    uncommitted: &mut Uncommitted,
) -> Result<(), ClickHouseSinkError> {
    if uncommitted.offsets.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let windows = uncommitted.windows.take();
    runtime.block_on(sink.refresh_rollups(&windows))?;
    let topic = config.topology.transactions();
    let mut tpl = TopicPartitionList::new();
    for (partition, next) in uncommitted.offsets.drain() {
        tpl.add_partition_offset(&topic, partition, Offset::Offset(next))?;
    }
    if let Err(error) = consumer.commit(&tpl, CommitMode::Sync) {
        tracing::warn!(%error, "ClickHouse sink: offset commit failed; records will be re-sent");
    }
    tracing::info!(
        tenants = windows.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ClickHouse rollups refreshed; offsets committed"
    );
    Ok(())
}

/// Per partition: the end of the topic and the sink group's committed offset (the next
/// record it will read), so lag = end − committed.
pub fn sink_progress(
    config: &ClickHouseSinkConfig,
) -> Result<Vec<(i32, i64, i64)>, ClickHouseSinkError> {
    let topic = config.topology.transactions();
    let mut client = config.kafka.client_config();
    client
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = client.create()?;
    let listed = listed_end_offsets(&consumer, &topic)?;
    let mut tpl = TopicPartitionList::new();
    for (partition, _) in &listed {
        tpl.add_partition(&topic, *partition);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
    let next = |partition: i32| {
        committed
            .find_partition(&topic, partition)
            .and_then(|e| e.offset().to_raw())
            .filter(|o| *o >= 0)
            .unwrap_or(0)
    };
    // Only partitions that look caught up need their true end confirmed.
    let looks_caught_up: Vec<(i32, i64)> = listed
        .iter()
        .copied()
        .filter(|(partition, high)| next(*partition) >= *high)
        .collect();
    let ends = fetched_end_offsets(&config.kafka, &config.group_id, &topic, &looks_caught_up)
        .map_err(|error| KafkaError::Topic {
            topic: topic.clone(),
            problem: error.to_string(),
        })?;
    Ok(listed
        .into_iter()
        .map(|(partition, high)| {
            let end = ends.get(&partition).copied().unwrap_or(high).max(high);
            (partition, end, next(partition))
        })
        .collect())
}

/// Records not yet in ClickHouse.
pub fn sink_lag(progress: &[(i32, i64, i64)]) -> u64 {
    progress
        .iter()
        .map(|(_, end, next)| (end - next).max(0) as u64)
        .sum()
}
