//! The pipeline worker: consumes the transactions topic in a consumer group and commits
//! micro-batches to the `transactions` Delta table exactly once.
//!
//! Delivery guarantee: exactly once into Delta, whatever is killed when.
//! - Offsets live in Delta, not Kafka: each batch's last offset per partition is committed as a
//!   Delta `txn` action in the same commit as its rows (see `verocta_lakehouse::delta`).
//! - On every assignment (start, rebalance) the worker reads those versions and assigns its
//!   partitions at `version + 1`. Anything consumed but not committed is simply read again.
//! - A batch is committed only if Delta still holds the versions it started from; a worker
//!   that lost a partition in a rebalance is fenced and drops its batch.
//! - Commits run on a commit thread while the loop reads the next batch, one at a time and in
//!   order; the next batch's fencing versions are taken only after the previous commit ended.
//! - Kafka group offsets are committed after Delta, asynchronously, for lag monitoring only.
//! - Records that fail validation go to the dead-letter topic (delivered before the batch that
//!   skips them commits: at least once there) and never stop the stream.
//!
//! Decoding is zero-copy: each message's JSON is decoded into a borrowed
//! [`TransactionView`] and appended straight into Arrow builders; no owned per-row structs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::runtime::Handle;
use verocta_lakehouse::{Lake, LakeError, TransactionsTable};
use verocta_schemas::arrow::TransactionBatchBuilder;
use verocta_schemas::view::TransactionView;

use super::producer::{DeadLetter, TransactionProducer};
use super::topics::Topology;
use super::{KafkaConfig, KafkaError};
use crate::batch::BatchPolicy;
use crate::metrics::ComponentMetrics;

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Broker connection.
    pub kafka: KafkaConfig,
    /// Topic names.
    pub topology: Topology,
    /// Consumer group.
    pub group_id: String,
    /// Where the Delta tables live.
    pub lake: Lake,
    /// Micro-batch bounds.
    pub batch: BatchPolicy,
    /// Identifies the broker's log when it does not outlive the process ("" for a real
    /// Kafka). The embedded broker starts every `verocta up` with empty partitions, so offsets
    /// recorded by an earlier run must not be applied to it: each incarnation records its
    /// offsets under its own app ids.
    pub broker_epoch: String,
}

impl WorkerConfig {
    /// The Delta `txn` app id recording a partition's offsets.
    pub fn app_id(&self, partition: i32) -> String {
        if self.broker_epoch.is_empty() {
            format!("{}-{}", self.topology.transactions(), partition)
        } else {
            format!(
                "{}@{}-{}",
                self.topology.transactions(),
                self.broker_epoch,
                partition
            )
        }
    }
}

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Delta failed after retries.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// Building a batch failed (an internal bug).
    #[error("building an Arrow batch failed: {0}")]
    Batch(#[from] arrow_schema::ArrowError),
    /// The broker no longer has records Delta has not committed (retention expired first).
    #[error(
        "records were deleted by the broker before reaching Delta ({0}); increase the topic's retention"
    )]
    RecordsLost(String),
}

fn is_lost_offset(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode;
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::OffsetOutOfRange | RDKafkaErrorCode::AutoOffsetReset)
    )
}

impl From<rdkafka::error::KafkaError> for WorkerError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        WorkerError::Kafka(error.into())
    }
}

/// Assignment shared between the rebalance callback and the loop.
#[derive(Default)]
struct Assignment {
    /// Bumped on every rebalance; the loop drops uncommitted work when it changes.
    generation: u64,
    /// Committed Delta version per owned partition (`None`: nothing committed yet).
    committed: HashMap<i32, Option<i64>>,
    /// Last error while reading offsets in the callback.
    error: Option<String>,
}

/// Consumer context: assigns partitions at the offsets recorded in Delta.
struct DeltaSeekingContext {
    config: WorkerConfig,
    runtime: Handle,
    table: Arc<tokio::sync::Mutex<TransactionsTable>>,
    assignment: Arc<Mutex<Assignment>>,
}

impl ClientContext for DeltaSeekingContext {
    /// End-of-partition is how the loop learns it has caught up, not a failure: librdkafka
    /// also reports it as a global error, which would otherwise be logged at ERROR.
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if !is_end_of_partition(&error) {
            tracing::error!(%error, reason, "kafka client error");
        }
    }
}

fn is_end_of_partition(error: &rdkafka::error::KafkaError) -> bool {
    matches!(error, rdkafka::error::KafkaError::PartitionEOF(_))
        || error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
}

impl ConsumerContext for DeltaSeekingContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if let Err(error) = consumer.unassign() {
                    tracing::warn!(%error, "unassign failed");
                }
                let mut state = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
                state.committed.clear();
                state.generation += 1;
                tracing::info!("partitions revoked");
            }
            other => tracing::warn!(error = ?other, "rebalance error"),
        }
    }
}

impl DeltaSeekingContext {
    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let partitions: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        let app_ids: Vec<String> = partitions
            .iter()
            .map(|(_, p)| self.config.app_id(*p))
            .collect();
        let table = Arc::clone(&self.table);
        let versions = self
            .runtime
            .block_on(async move { table.lock().await.committed_versions(&app_ids).await });
        let mut state = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
        state.generation += 1;
        state.committed.clear();
        let versions = match versions {
            Ok(versions) => versions,
            Err(error) => {
                // Without offsets we must not consume: leave the partitions unassigned and let
                // the loop fail, so the process restarts and tries again.
                state.error = Some(error.to_string());
                return;
            }
        };
        for (topic, partition) in &partitions {
            let committed = versions
                .get(&self.config.app_id(*partition))
                .copied()
                .flatten();
            let offset = committed.map_or(Offset::Beginning, |v| Offset::Offset(v + 1));
            if let Err(error) = tpl.set_partition_offset(topic, *partition, offset) {
                state.error = Some(error.to_string());
                return;
            }
            state.committed.insert(*partition, committed);
        }
        if let Err(error) = consumer.assign(tpl) {
            state.error = Some(error.to_string());
            return;
        }
        tracing::info!(partitions = ?state.committed, "partitions assigned at Delta offsets");
    }
}

/// The uncommitted micro-batch.
struct Pending {
    builder: TransactionBatchBuilder,
    bytes: usize,
    opened_at: Option<Instant>,
    last_offsets: HashMap<i32, i64>,
    dead_letters: Vec<DeadLetter>,
    records: usize,
    /// The consumer has read everything the broker had (end of partition, or a poll that
    /// found nothing) since the last record.
    caught_up: bool,
    /// When the latest record arrived.
    last_record_at: Option<Instant>,
}

impl Pending {
    fn new(policy: &BatchPolicy) -> Self {
        Pending {
            builder: TransactionBatchBuilder::with_capacity(policy.max_rows.min(65_536)),
            bytes: 0,
            opened_at: None,
            last_offsets: HashMap::new(),
            dead_letters: Vec::new(),
            records: 0,
            caught_up: false,
            last_record_at: None,
        }
    }

    /// Full, lingered long enough, caught up with a batch worth a commit, or caught up at the
    /// end of a burst. Committing as soon as the broker has nothing more keeps a throttled
    /// producer (which waits for these commits) from idling through the linger time; the
    /// minimum keeps a trickle of records from turning into a commit per record. A burst
    /// that has ended (nothing new for a tenth of the linger time) commits at once, so an
    /// import's last partial batch does not wait out the linger; the smaller minimum there
    /// still keeps stray records to the linger.
    fn is_ready(&self, policy: &BatchPolicy, now: Instant) -> bool {
        let quiet = self
            .last_record_at
            .is_some_and(|last| now.duration_since(last) >= policy.linger / 10);
        self.records >= policy.max_rows
            || (self.caught_up && self.records >= (policy.max_rows / 4).max(1))
            || (self.caught_up && quiet && self.records >= (policy.max_rows / 64).max(1))
            || self.bytes >= policy.max_bytes
            || self
                .opened_at
                .is_some_and(|opened| now.duration_since(opened) >= policy.linger)
    }

    fn clear(&mut self) -> Result<(), arrow_schema::ArrowError> {
        self.builder.finish()?;
        self.bytes = 0;
        self.opened_at = None;
        self.last_offsets.clear();
        self.dead_letters.clear();
        self.records = 0;
        self.caught_up = false;
        self.last_record_at = None;
        Ok(())
    }
}

/// Runs one worker until `stop` is set (then commits what it holds and returns).
pub fn run_worker(
    config: WorkerConfig,
    runtime: Handle,
    stop: Arc<AtomicBool>,
    metrics: Arc<ComponentMetrics>,
) -> Result<(), WorkerError> {
    let table = runtime.block_on(config.lake.transactions())?;
    let table = Arc::new(tokio::sync::Mutex::new(table));
    let assignment = Arc::new(Mutex::new(Assignment::default()));
    let context = DeltaSeekingContext {
        config: config.clone(),
        runtime: runtime.clone(),
        table: Arc::clone(&table),
        assignment: Arc::clone(&assignment),
    };
    let mut client = config.kafka.client_config();
    client
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Explicit offsets come from Delta. A committed offset the broker no longer has means
        // records were lost upstream: fail loudly instead of silently skipping ahead.
        .set("auto.offset.reset", "error")
        // End-of-partition events tell the loop it has caught up (see `Pending::is_ready`).
        .set("enable.partition.eof", "true");
    // The embedded broker (librdkafka's mock cluster) and Tansu 0.6 hold an empty fetch for
    // the whole fetch.wait.max.ms (500 ms by default) even when records arrive meanwhile,
    // which capped a lag-gated import at one backlog per half second. Apache Kafka answers as
    // soon as data arrives either way; the cost of a short wait is a few idle fetches a second.
    client.set("fetch.wait.max.ms", "20");
    // librdkafka prefetches up to 64 MiB per consumer by default; a few batches' worth keeps
    // the worker fed without that much memory per worker.
    client.set("queued.max.messages.kbytes", "16384");
    for (key, value) in &config.kafka.extra {
        client.set(key, value);
    }
    let consumer: BaseConsumer<DeltaSeekingContext> = client.create_with_context(context)?;
    consumer.subscribe(&[&config.topology.transactions()])?;
    // Created at the first dead letter: an idle producer still costs a polling thread.
    let mut dead_letters: Option<TransactionProducer> = None;
    let mut pending = Pending::new(&config.batch);
    let mut in_flight: Option<InFlight> = None;
    let mut generation_seen = 0;
    let topic = config.topology.transactions();
    let worker = Worker {
        config: &config,
        runtime: &runtime,
        table: &table,
        assignment: &assignment,
        consumer: &consumer,
        metrics: &metrics,
    };

    while !stop.load(Ordering::Relaxed) {
        // While a commit or a batch is open, come back soon even if nothing arrives: to record
        // the commit, or to close the batch at the end of a burst.
        let wait = if in_flight.is_some() || pending.records > 0 {
            10
        } else {
            100
        };
        let message = consumer.poll(Duration::from_millis(wait));
        {
            let mut state = assignment.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(error) = state.error.take() {
                return Err(
                    LakeError::Location(format!("reading committed offsets: {error}")).into(),
                );
            }
            if state.generation != generation_seen {
                // Uncommitted records of a previous assignment will be re-read from the Delta
                // offsets by whoever owns their partitions now.
                generation_seen = state.generation;
                pending.clear()?;
            }
        }
        match message {
            Some(Ok(message)) => accept(&message, &topic, &mut pending, &metrics),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) | None => {
                pending.caught_up = true;
            }
            Some(Err(error)) if is_lost_offset(&error) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                return Err(WorkerError::RecordsLost(error.to_string()));
            }
            Some(Err(error)) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "consumer error");
            }
        }
        if in_flight.as_ref().is_some_and(InFlight::is_done) {
            worker.finish(in_flight.take(), &mut pending)?;
        }
        if pending.records > 0 && pending.is_ready(&config.batch, Instant::now()) {
            // One commit in flight at a time, in order: the next batch's fencing versions are
            // the offsets the previous one committed.
            worker.finish(in_flight.take(), &mut pending)?;
            if pending.records > 0 {
                in_flight = Some(worker.submit(&mut dead_letters, &mut pending)?);
            }
        }
    }
    worker.finish(in_flight.take(), &mut pending)?;
    if pending.records > 0 {
        let job = worker.submit(&mut dead_letters, &mut pending)?;
        worker.finish(Some(job), &mut pending)?;
    }
    Ok(())
}

fn accept(
    message: &BorrowedMessage<'_>,
    topic: &str,
    pending: &mut Pending,
    metrics: &ComponentMetrics,
) {
    let payload = message.payload().unwrap_or_default();
    metrics.rows_in.fetch_add(1, Ordering::Relaxed);
    metrics
        .bytes_in
        .fetch_add(payload.len() as u64, Ordering::Relaxed);
    match TransactionView::decode(payload) {
        Ok(view) => {
            pending.builder.append_view(&view);
            pending.bytes += payload.len();
        }
        Err(error) => pending.dead_letters.push(DeadLetter {
            key: message.key().map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            reason: error.to_string(),
            origin: (topic.to_string(), message.partition(), message.offset()),
        }),
    }
    let now = Instant::now();
    pending.opened_at.get_or_insert(now);
    pending.last_record_at = Some(now);
    if let Some(last) = pending.last_offsets.get(&message.partition()) {
        // Our topics are neither compacted nor transactional, so offsets are contiguous; a gap
        // means the broker deleted records before they were committed (retention too short).
        if message.offset() != last + 1 {
            metrics.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                partition = message.partition(),
                last,
                offset = message.offset(),
                "offset gap: records were deleted by the broker before they reached Delta"
            );
        }
    }
    pending
        .last_offsets
        .insert(message.partition(), message.offset());
    pending.records += 1;
    pending.caught_up = false;
}

/// A batch being committed on its own thread while the worker reads the next one.
///
/// Why: a Delta commit (dedupe, Parquet write, log commit) takes tens of milliseconds, during
/// which a worker committing inline reads nothing; with the commit on another thread the
/// next batch is decoded meanwhile. Ordering and fencing are unchanged: at most one commit is
/// in flight, and the next is prepared only after it finished.
struct InFlight {
    thread: std::thread::JoinHandle<Result<verocta_lakehouse::AppendOutcome, LakeError>>,
    last_offsets: HashMap<i32, i64>,
    records: usize,
    generation: u64,
    started: Instant,
}

impl InFlight {
    fn is_done(&self) -> bool {
        self.thread.is_finished()
    }
}

/// What a worker's commit steps share.
struct Worker<'a> {
    config: &'a WorkerConfig,
    runtime: &'a Handle,
    table: &'a Arc<tokio::sync::Mutex<TransactionsTable>>,
    assignment: &'a Arc<Mutex<Assignment>>,
    consumer: &'a BaseConsumer<DeltaSeekingContext>,
    metrics: &'a ComponentMetrics,
}

impl Worker<'_> {
    /// Delivers the batch's dead letters, then starts committing its rows and offsets on a
    /// commit thread. The pending batch is empty afterwards.
    fn submit(
        &self,
        dead_letters: &mut Option<TransactionProducer>,
        pending: &mut Pending,
    ) -> Result<InFlight, WorkerError> {
        let started = Instant::now();
        // Dead letters are delivered before the batch that skips them commits: at least once.
        if !pending.dead_letters.is_empty() {
            let producer = match dead_letters {
                Some(producer) => producer,
                None => dead_letters.insert(TransactionProducer::new(
                    &self.config.kafka,
                    &self.config.topology.dead_letter(),
                )?),
            };
            for letter in &pending.dead_letters {
                producer.send_dead_letter(letter)?;
            }
            producer.flush(Duration::from_secs(30))?;
            self.metrics
                .errors
                .fetch_add(pending.dead_letters.len() as u64, Ordering::Relaxed);
        }
        let batch = pending.builder.finish()?;
        let offsets: Vec<(String, i64)> = pending
            .last_offsets
            .iter()
            .map(|(partition, offset)| (self.config.app_id(*partition), *offset))
            .collect();
        let (expected, generation) = {
            let state = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
            let expected: HashMap<String, Option<i64>> = state
                .committed
                .iter()
                .map(|(partition, version)| (self.config.app_id(*partition), *version))
                .collect();
            (expected, state.generation)
        };
        let records = pending.records;
        let last_offsets = std::mem::take(&mut pending.last_offsets);
        pending.clear()?;
        let (runtime, table) = (self.runtime.clone(), Arc::clone(self.table));
        let span = tracing::Span::current();
        let thread = std::thread::Builder::new()
            .name("delta-commit".into())
            .spawn(move || {
                let _entered = span.enter();
                append_with_retry(&runtime, &table, &batch, &offsets, &expected)
            })
            .map_err(|e| LakeError::Location(format!("cannot start a commit thread: {e}")))?;
        Ok(InFlight {
            thread,
            last_offsets,
            records,
            generation,
            started,
        })
    }

    /// Waits for the commit in flight, if any, and applies its outcome.
    fn finish(
        &self,
        in_flight: Option<InFlight>,
        pending: &mut Pending,
    ) -> Result<(), WorkerError> {
        let Some(job) = in_flight else {
            return Ok(());
        };
        let outcome = job.thread.join().map_err(|_| {
            LakeError::Location("the Delta commit thread panicked (an internal bug)".into())
        })?;
        match outcome {
            Ok(outcome) => {
                let mut state = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
                // After a rebalance the new assignment read its versions from Delta; they
                // already include this commit or will fence the next one.
                if state.generation == job.generation {
                    for (partition, offset) in &job.last_offsets {
                        state.committed.insert(*partition, Some(*offset));
                    }
                }
                drop(state);
                self.metrics
                    .rows_out
                    .fetch_add(outcome.written as u64, Ordering::Relaxed);
                self.metrics.batches.fetch_add(1, Ordering::Relaxed);
                self.metrics.record_batch_latency(job.started.elapsed());
                tracing::info!(records = job.records, written = outcome.written, duplicates = outcome.duplicates, version = ?outcome.version, "batch committed");
                commit_group_offsets(
                    self.consumer,
                    &self.config.topology.transactions(),
                    &job.last_offsets,
                );
                Ok(())
            }
            Err(error) if error.is_fenced() => {
                // Someone else committed these partitions: forget what was read after the
                // fenced batch too, and re-seek from Delta.
                tracing::warn!(%error, "batch fenced; re-reading from Delta offsets");
                pending.clear()?;
                self.reseek()
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Seeks every owned partition to the offset after the one Delta holds.
    fn reseek(&self) -> Result<(), WorkerError> {
        let partitions: Vec<i32> = self
            .assignment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .committed
            .keys()
            .copied()
            .collect();
        let app_ids: Vec<String> = partitions.iter().map(|p| self.config.app_id(*p)).collect();
        let versions = self
            .runtime
            .block_on(async { self.table.lock().await.committed_versions(&app_ids).await })?;
        let topic = self.config.topology.transactions();
        let mut tpl = TopicPartitionList::new();
        let mut state = self.assignment.lock().unwrap_or_else(|p| p.into_inner());
        for partition in partitions {
            let committed = versions
                .get(&self.config.app_id(partition))
                .copied()
                .flatten();
            tpl.add_partition_offset(
                &topic,
                partition,
                committed.map_or(Offset::Beginning, |v| Offset::Offset(v + 1)),
            )?;
            state.committed.insert(partition, committed);
        }
        drop(state);
        if tpl.count() > 0 {
            self.consumer
                .seek_partitions(tpl, Duration::from_secs(10))?;
        }
        Ok(())
    }
}

fn append_with_retry(
    runtime: &Handle,
    table: &Arc<tokio::sync::Mutex<TransactionsTable>>,
    batch: &arrow_array::RecordBatch,
    offsets: &[(String, i64)],
    expected: &HashMap<String, Option<i64>>,
) -> Result<verocta_lakehouse::AppendOutcome, LakeError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        let result =
            runtime.block_on(async { table.lock().await.append(batch, offsets, expected).await });
        match result {
            Ok(outcome) => return Ok(outcome),
            Err(error) if error.is_fenced() || attempt >= 5 => return Err(error),
            Err(error) => {
                attempt += 1;
                tracing::warn!(%error, attempt, "delta append failed; retrying");
                std::thread::sleep(delay + Duration::from_millis(u64::from(jitter_ms())));
                delay *= 2;
            }
        }
    }
}

fn jitter_ms() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 100)
}

fn commit_group_offsets(
    consumer: &BaseConsumer<DeltaSeekingContext>,
    topic: &str,
    offsets: &HashMap<i32, i64>,
) {
    let mut tpl = TopicPartitionList::new();
    for (partition, offset) in offsets {
        if tpl
            .add_partition_offset(topic, *partition, Offset::Offset(offset + 1))
            .is_err()
        {
            return;
        }
    }
    let result: KafkaResult<()> = consumer.commit(&tpl, CommitMode::Async);
    if let Err(error) = result {
        tracing::debug!(%error, "group offset commit (lag only) failed");
    }
}

/// Progress of a consumer group against the topic: per partition, the high watermark and the
/// last offset committed in Delta.
pub fn committed_versus_watermarks(
    config: &WorkerConfig,
    runtime: &Handle,
) -> Result<Vec<(i32, i64, Option<i64>)>, WorkerError> {
    let consumer: BaseConsumer = config.kafka.client_config().create()?;
    let topic = config.topology.transactions();
    let listed = listed_end_offsets(&consumer, &topic)?;
    let app_ids: Vec<String> = listed.iter().map(|(p, _)| config.app_id(*p)).collect();
    let versions = runtime.block_on(async {
        let mut table = config.lake.transactions().await?;
        table.committed_versions(&app_ids).await
    })?;
    let mut progress: Vec<(i32, i64, Option<i64>)> = listed
        .into_iter()
        .map(|(partition, high)| {
            let committed = versions.get(&config.app_id(partition)).copied().flatten();
            (partition, high, committed)
        })
        .collect();
    let looks_caught_up: Vec<(i32, i64)> = progress
        .iter()
        .filter(|(_, high, committed)| committed.map_or(0, |c| c + 1) >= *high)
        .map(|(partition, high, _)| (*partition, *high))
        .collect();
    let ends = fetched_end_offsets(&config.kafka, &config.group_id, &topic, &looks_caught_up)?;
    for (partition, high, _) in &mut progress {
        if let Some(end) = ends.get(partition) {
            *high = (*high).max(*end);
        }
    }
    Ok(progress)
}

/// Every partition of `topic` with its end offset as the broker lists it (ListOffsets latest;
/// see [`fetched_end_offsets`] for why that may fall short).
pub(crate) fn listed_end_offsets<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<(i32, i64)>, rdkafka::error::KafkaError> {
    Ok(listed_watermarks(consumer, topic)?
        .into_iter()
        .map(|(partition, _, high)| (partition, high))
        .collect())
}

/// Every partition of `topic` with its first retained offset and its end offset, as the
/// broker lists them.
pub(crate) fn listed_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<(i32, i64, i64)>, rdkafka::error::KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .first()
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    partitions
        .into_iter()
        .map(|partition| {
            let (low, high) =
                consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
            Ok((partition, low, high))
        })
        .collect()
}

/// Reaching the end is what the probe is for: not worth librdkafka's global error log.
struct EndProbeContext;

impl ClientContext for EndProbeContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if !is_end_of_partition(&error) {
            tracing::warn!(%error, reason, "end-offset probe: client error");
        }
    }
}

impl ConsumerContext for EndProbeContext {}

/// The end of each partition as a fetch sees it, starting from the listed end.
///
/// Some brokers answer ListOffsets(latest) with the base offset of the last record batch
/// rather than the offset after it (Tansu 0.6 does), which would declare a partition caught up
/// while the tail of that batch is not yet consumed. Reading from the listed end until the
/// partition's end-of-file finds the true end on any broker; on a correct broker it reads
/// nothing. Callers probe only partitions that look caught up, so a lagging pipeline pays
/// nothing.
pub(crate) fn fetched_end_offsets(
    kafka: &KafkaConfig,
    group_id: &str,
    topic: &str,
    listed: &[(i32, i64)],
) -> Result<HashMap<i32, i64>, WorkerError> {
    if listed.is_empty() {
        return Ok(HashMap::new());
    }
    let mut client = kafka.client_config();
    client
        .set("group.id", format!("{group_id}-end-probe"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "10");
    let consumer: BaseConsumer<EndProbeContext> = client.create_with_context(EndProbeContext)?;
    let mut tpl = TopicPartitionList::new();
    for (partition, high) in listed {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*high))?;
    }
    consumer.assign(&tpl)?;
    let mut ends: HashMap<i32, i64> = listed.iter().copied().collect();
    let mut at_end = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while at_end.len() < listed.len() {
        if Instant::now() > deadline {
            return Err(KafkaError::Topic {
                topic: topic.to_string(),
                problem: format!(
                    "no end of partition reached within 30 s while probing {} partitions",
                    listed.len()
                ),
            }
            .into());
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let end = ends.entry(message.partition()).or_insert(0);
                *end = (*end).max(message.offset() + 1);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }
    Ok(ends)
}

/// Whether every record in the topic is committed in Delta.
pub fn is_caught_up(progress: &[(i32, i64, Option<i64>)]) -> bool {
    progress
        .iter()
        .all(|(_, high, committed)| *high == 0 || committed.is_some_and(|c| c + 1 >= *high))
}

/// Total lag (records not yet in Delta) across partitions.
pub fn total_lag(progress: &[(i32, i64, Option<i64>)]) -> u64 {
    progress
        .iter()
        .map(|(_, high, committed)| partition_lag(*high, *committed))
        .sum()
}

/// Records of one partition not yet in Delta: its end offset against the last committed one.
pub(crate) fn partition_lag(high: i64, committed: Option<i64>) -> u64 {
    (high - committed.map_or(0, |c| c + 1)).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_up_batch_commits_once_it_holds_a_quarter_of_the_row_bound() {
        let policy = BatchPolicy {
            max_rows: 800,
            max_bytes: usize::MAX,
            linger: Duration::from_secs(3600),
        };
        let now = Instant::now();
        let mut pending = Pending::new(&policy);
        pending.opened_at = Some(now);
        pending.records = 199;
        pending.caught_up = true;
        assert!(
            !pending.is_ready(&policy, now),
            "a trickle waits for linger"
        );
        pending.records = 200;
        assert!(pending.is_ready(&policy, now));
        pending.caught_up = false;
        assert!(
            !pending.is_ready(&policy, now),
            "more records may be on the way"
        );
        pending.records = 800;
        assert!(pending.is_ready(&policy, now), "full");
        pending.records = 1;
        assert!(
            pending.is_ready(&policy, now + Duration::from_secs(3600)),
            "lingered"
        );
        pending.clear().unwrap();
        assert!(!pending.caught_up && pending.records == 0);
    }

    #[test]
    fn a_caught_up_batch_commits_when_its_burst_has_ended() {
        let policy = BatchPolicy {
            max_rows: 6400,
            max_bytes: usize::MAX,
            linger: Duration::from_millis(500),
        };
        let now = Instant::now();
        let mut pending = Pending::new(&policy);
        pending.opened_at = Some(now);
        pending.last_record_at = Some(now);
        pending.records = 100;
        pending.caught_up = true;
        let later = now + Duration::from_millis(50);
        assert!(
            !pending.is_ready(&policy, now),
            "records may still be arriving"
        );
        assert!(pending.is_ready(&policy, later), "quiet for linger / 10");
        pending.caught_up = false;
        assert!(
            !pending.is_ready(&policy, later),
            "the broker had more: not the end of a burst"
        );
        pending.caught_up = true;
        pending.records = 99;
        assert!(
            !pending.is_ready(&policy, later),
            "a few stray records wait for the linger"
        );
        pending.clear().unwrap();
        assert!(pending.last_record_at.is_none());
    }
}
