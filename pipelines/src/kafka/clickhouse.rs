//! The ClickHouse sink worker: consumes the transactions topic in its own consumer group and
//! writes to ClickHouse through [`verocta_lakehouse::clickhouse::ClickHouseSink`].
//!
//! Delivery is at-least-once: Kafka offsets are committed only after ClickHouse accepted the
//! batch (and its rollups were refreshed), so a crash or a rebalance replays the uncommitted
//! records. The tables are idempotent (see the sink), so replays never change a total. The
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
    ClickHouse, ClickHouseConfig, ClickHouseError, ClickHouseSink,
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

/// Runs the sink until `stop` is set (then writes what it holds and returns).
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
    let max_rows = config.clickhouse.batch_rows;
    let mut builder = TransactionBatchBuilder::with_capacity(max_rows.min(65_536));
    let mut last_offsets: HashMap<i32, i64> = HashMap::new();
    let mut opened_at: Option<Instant> = None;
    let mut generation_seen = generation.load(Ordering::SeqCst);

    while !stop.load(Ordering::Relaxed) {
        let message = consumer.poll(Duration::from_millis(100));
        let current = generation.load(Ordering::SeqCst);
        if current != generation_seen {
            // Partitions were revoked: their uncommitted records are the new owner's to read.
            generation_seen = current;
            builder.finish()?;
            last_offsets.clear();
            opened_at = None;
        }
        match message {
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                metrics.rows_in.fetch_add(1, Ordering::Relaxed);
                metrics
                    .bytes_in
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                match TransactionView::decode(payload) {
                    Ok(view) => builder.append_view(&view),
                    Err(_) => {
                        metrics.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                last_offsets.insert(message.partition(), message.offset());
                opened_at.get_or_insert_with(Instant::now);
            }
            Some(Err(error)) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "ClickHouse sink: consumer error");
            }
            None => {}
        }
        let ready =
            builder.len() >= max_rows || opened_at.is_some_and(|opened| opened.elapsed() >= linger);
        if ready && !last_offsets.is_empty() {
            write(
                &runtime,
                &sink,
                &consumer,
                &config,
                &mut builder,
                &mut last_offsets,
                &metrics,
            )?;
            opened_at = None;
        }
    }
    if !last_offsets.is_empty() {
        write(
            &runtime,
            &sink,
            &consumer,
            &config,
            &mut builder,
            &mut last_offsets,
            &metrics,
        )?;
    }
    Ok(())
}

fn write(
    runtime: &Handle,
    sink: &ClickHouseSink,
    consumer: &BaseConsumer<GenerationContext>,
    config: &ClickHouseSinkConfig,
    builder: &mut TransactionBatchBuilder,
    last_offsets: &mut HashMap<i32, i64>,
    metrics: &ComponentMetrics,
) -> Result<(), ClickHouseSinkError> {
    let started = Instant::now();
    let batch = builder.finish()?;
    let outcome = runtime.block_on(sink.write_transactions(&batch))?;
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in last_offsets.drain() {
        tpl.add_partition_offset(
            &config.topology.transactions(),
            partition,
            Offset::Offset(offset + 1),
        )?;
    }
    // Committed after ClickHouse has the rows: at least once. A failed commit (a rebalance
    // raced us) only means the next owner writes these rows again, which changes nothing.
    if let Err(error) = consumer.commit(&tpl, CommitMode::Sync) {
        tracing::warn!(%error, "ClickHouse sink: offset commit failed; records will be re-sent");
    }
    metrics
        .rows_out
        .fetch_add(outcome.rows as u64, Ordering::Relaxed);
    metrics.batches.fetch_add(1, Ordering::Relaxed);
    metrics.record_batch_latency(started.elapsed());
    tracing::info!(
        rows = outcome.rows,
        windows = outcome.windows,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ClickHouse batch written"
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
