//! The producer every connector publishes through.
//!
//! Idempotent (`enable.idempotence`, which implies `acks=all` and ordered retries),
//! compressed (lz4 in-process, zstd to a real broker: [`super::Compression`]), with
//! librdkafka's queue bounded (64 MiB, 100k records): when it is full,
//! [`TransactionProducer::send`] waits for deliveries instead of buffering more, so a fast
//! connector is slowed to the broker's pace rather than growing memory. Delivery failures are
//! counted by the delivery callback and surface as an error from [`TransactionProducer::flush`]
//! — never only as a log line.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use verocta_schemas::wire::encode_transaction_into;
use verocta_schemas::{Anomaly, SpendScore, TenantId, Transaction};

use super::{KafkaConfig, KafkaError};

/// Counts deliveries and keeps the first failure.
#[derive(Default)]
pub struct DeliveryTracker {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| error.to_string());
                }
            }
        }
    }
}

/// Holds a producer back while too many records wait in the broker uncommitted to Delta.
///
/// The embedded broker (librdkafka's mock cluster) keeps only the last 5 MB of each partition,
/// deleting older records whether or not anyone has read them, so an unthrottled producer can
/// outrun the workers and lose data. Real brokers keep days, but bounding the backlog is still
/// the right back-pressure: a connector should not get far ahead of the pipeline.
///
/// Checks are rare and cheap: a check measures each partition's backlog (high watermark
/// against the offset committed in Delta, through a consumer and a table handle kept open)
/// and its bound (see [`BacklogBound`]), counts the records still in the producer's queue as
/// backlog of every partition, and grants a budget of records that cannot overflow the
/// tightest partition even if all of them land there. The producer sends the budget without
/// asking again; it waits while the tightest partition has less than a quarter of its bound
/// free.
pub struct LagGate {
    config: super::worker::WorkerConfig,
    runtime: tokio::runtime::Handle,
    bound: BacklogBound,
    budget: u64,
    watermarks: Option<rdkafka::consumer::BaseConsumer>,
    table: Option<verocta_lakehouse::TransactionsTable>,
}

/// How many uncommitted records a partition may hold before producers wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BacklogBound {
    /// At most this many, on every partition: for brokers that keep records for days, where
    /// the bound is only back-pressure.
    Fixed(u64),
    /// Half of the records the partition retains right now (high minus low watermark), and at
    /// least `floor`, at most `ceiling`: for a broker that keeps a fixed number of bytes per
    /// partition and deletes the oldest records beyond it, read or not (the embedded broker
    /// keeps 5 MB). The retained count is a measurement of how many of these records fit, at
    /// their actual size after compression, so keeping the backlog to half of it leaves room
    /// for records twice as large as those seen so far; a fixed count would have to assume a
    /// size. Until the partition has filled once, it retains everything produced, so the
    /// bound grows from `floor` as the measurement does.
    HalfRetained {
        /// The bound before anything is measured; safe for records of up to ~340 bytes
        /// compressed (5 MB / 15,000).
        floor: u64,
        /// The bound however much the partition retains.
        ceiling: u64,
    },
}

impl BacklogBound {
    /// The bound for one partition whose log runs from offset `low` to `high`.
    pub fn for_partition(self, low: i64, high: i64) -> u64 {
        match self {
            BacklogBound::Fixed(bound) => bound,
            BacklogBound::HalfRetained { floor, ceiling } => {
                let retained = u64::try_from(high.saturating_sub(low.max(0))).unwrap_or(0);
                (retained / 2).clamp(floor, ceiling.max(floor))
            }
        }
    }

    /// The bound before any partition is measured.
    pub fn smallest(self) -> u64 {
        match self {
            BacklogBound::Fixed(bound) => bound,
            BacklogBound::HalfRetained { floor, .. } => floor,
        }
    }
}

/// One partition's state as a gate check sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartitionRoom {
    backlog: u64,
    bound: u64,
}

impl LagGate {
    /// A gate keeping every partition's uncommitted records within `bound`.
    pub fn new(
        config: super::worker::WorkerConfig,
        runtime: tokio::runtime::Handle,
        bound: BacklogBound,
    ) -> Self {
        LagGate {
            config,
            runtime,
            bound,
            budget: 0,
            watermarks: None,
            table: None,
        }
    }

    /// Takes one record from the budget, first waiting for room when it is spent.
    fn admit(&mut self, in_flight: impl Fn() -> u64) -> Result<(), KafkaError> {
        if self.budget == 0 {
            self.wait_for_room(in_flight)?;
        }
        self.budget = self.budget.saturating_sub(1);
        Ok(())
    }

    /// Waits until a quarter of its bound is free in every partition, counting undelivered
    /// records as backlog (or fails after 10 minutes without progress).
    fn wait_for_room(&mut self, in_flight: impl Fn() -> u64) -> Result<(), KafkaError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        loop {
            let partitions = self.partitions()?;
            let in_flight = in_flight();
            if let Some(budget) = budget(&partitions, in_flight, self.bound.smallest()) {
                tracing::debug!(
                    budget,
                    in_flight,
                    backlogs = ?partitions.iter().map(|p| p.backlog).collect::<Vec<_>>(),
                    bounds = ?partitions.iter().map(|p| p.bound).collect::<Vec<_>>(),
                    "producer may send"
                );
                self.budget = budget;
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                let behind = partitions.iter().map(|p| p.backlog).max().unwrap_or(0) + in_flight;
                return Err(self.problem(format!(
                    "workers are not committing: {behind} records behind after 10 minutes"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every partition's backlog (listed end offset minus Delta's committed one) and bound.
    fn partitions(&mut self) -> Result<Vec<PartitionRoom>, KafkaError> {
        if self.watermarks.is_none() {
            self.watermarks = Some(self.config.kafka.client_config().create()?);
        }
        if self.table.is_none() {
            let opened = self.runtime.block_on(self.config.lake.transactions());
            self.table = Some(opened.map_err(|e| self.problem(e.to_string()))?);
        }
        let (Some(consumer), Some(table)) = (&self.watermarks, &mut self.table) else {
            return Ok(Vec::new());
        };
        let topic = self.config.topology.transactions();
        let ends = super::worker::listed_watermarks(consumer, &topic)?;
        let app_ids: Vec<String> = ends.iter().map(|(p, ..)| self.config.app_id(*p)).collect();
        let committed = self
            .runtime
            .block_on(table.committed_versions(&app_ids))
            .map_err(|e| KafkaError::Topic {
                topic: topic.clone(),
                problem: e.to_string(),
            })?;
        let bound = self.bound;
        Ok(ends
            .iter()
            .zip(&app_ids)
            .map(|((_, low, high), app_id)| PartitionRoom {
                backlog: super::worker::partition_lag(
                    *high,
                    committed.get(app_id).copied().flatten(),
                ),
                bound: bound.for_partition(*low, *high),
            })
            .collect())
    }

    fn problem(&self, problem: String) -> KafkaError {
        KafkaError::Topic {
            topic: self.config.topology.transactions(),
            problem,
        }
    }
}

/// Properties that only consumers take; librdkafka warns when a producer is given them.
/// Records a producer may send before checking again: what the tightest partition has free,
/// with `in_flight` undelivered records counted against every partition; `None` while that
/// partition has less than a quarter of its bound free. `smallest` stands in for the bound
/// when the topic has no partitions yet.
fn budget(partitions: &[PartitionRoom], in_flight: u64, smallest: u64) -> Option<u64> {
    let (free, bound) = partitions
        .iter()
        .map(|p| (p.bound.saturating_sub(p.backlog + in_flight), p.bound))
        .min_by_key(|&(free, _)| free)
        .unwrap_or((smallest.saturating_sub(in_flight), smallest));
    (free >= (bound / 4).max(1)).then_some(free)
}

fn is_consumer_property(key: &str) -> bool {
    [
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "group.",
        "auto.offset.reset",
        "enable.auto.",
        "partition.assignment.strategy",
        "max.poll.interval.ms",
        "fetch.",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

/// A record for the dead-letter topic.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// Key as received.
    pub key: Option<Vec<u8>>,
    /// Payload as received.
    pub payload: Vec<u8>,
    /// Why it was rejected.
    pub reason: String,
    /// Where it came from: topic, partition, offset.
    pub origin: (String, i32, i64),
}

/// Publishes records to one topic with back-pressure and delivery accounting.
pub struct TransactionProducer {
    producer: ThreadedProducer<DeliveryTracker>,
    topic: String,
    sent: u64,
    gate: Option<LagGate>,
    /// One encoding buffer for every record (librdkafka copies the payload).
    payload: Vec<u8>,
}

impl TransactionProducer {
    /// A producer for `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<Self, KafkaError> {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &kafka.brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", kafka.compression.as_str())
            .set("linger.ms", "5")
            .set("batch.size", "1000000")
            .set("queue.buffering.max.kbytes", "65536")
            .set("queue.buffering.max.messages", "100000")
            .set("message.timeout.ms", "60000");
        for (key, value) in kafka
            .extra
            .iter()
            .filter(|(key, _)| !is_consumer_property(key))
        {
            config.set(key, value);
        }
        let producer = config.create_with_context(DeliveryTracker::default())?;
        Ok(TransactionProducer {
            producer,
            topic: topic.to_string(),
            sent: 0,
            gate: None,
            payload: Vec::with_capacity(1024),
        })
    }

    /// Throttles this producer against the pipeline's backlog (see [`LagGate`]).
    pub fn with_lag_gate(mut self, gate: LagGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Publishes one transaction, keyed by tenant, waiting while the queue is full (and,
    /// with a [`LagGate`], while the pipeline is too far behind).
    pub fn send(&mut self, transaction: &Transaction) -> Result<(), KafkaError> {
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        encode_transaction_into(transaction, &mut payload);
        let sent = self.send_encoded(&transaction.tenant_id, &payload);
        self.payload = payload;
        sent
    }

    /// [`Self::send`] for a transaction already encoded (`payload` is its wire record, as the
    /// CSV connector's workers encode them), keyed by its tenant.
    pub fn send_encoded(&mut self, tenant: &TenantId, payload: &[u8]) -> Result<(), KafkaError> {
        if let Some(gate) = &mut self.gate {
            let producer = &self.producer;
            gate.admit(|| producer.in_flight_count().max(0) as u64)?;
        }
        let headers = OwnedHeaders::new().insert(Header {
            key: "verocta.schema",
            value: Some("transaction.v1"),
        });
        self.send_raw(tenant.as_str().as_bytes(), payload, headers)
    }

    /// Publishes an anomaly as JSON (the alerts topic's record), keyed by tenant so one
    /// tenant's alerts stay ordered.
    pub fn send_alert(&mut self, anomaly: &Anomaly) -> Result<(), KafkaError> {
        self.send_json(&anomaly.tenant_id, anomaly, "anomaly.v1")
    }

    /// Publishes a SpendScore as JSON (the scores topic's record), keyed by tenant.
    pub fn send_score(&mut self, score: &SpendScore) -> Result<(), KafkaError> {
        self.send_json(&score.tenant_id, score, "spend_score.v1")
    }

    fn send_json<T: serde::Serialize>(
        &mut self,
        key: &str,
        record: &T,
        schema: &'static str,
    ) -> Result<(), KafkaError> {
        let payload = serde_json::to_vec(record).map_err(|e| KafkaError::Topic {
            topic: self.topic.clone(),
            problem: format!("encoding a {schema} record failed: {e}"),
        })?;
        let headers = OwnedHeaders::new().insert(Header {
            key: "verocta.schema",
            value: Some(schema),
        });
        self.send_raw(key.as_bytes(), &payload, headers)
    }

    /// Publishes a dead letter with its reason and origin in headers.
    pub fn send_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), KafkaError> {
        let (topic, partition, offset) = &letter.origin;
        let (partition, offset) = (partition.to_string(), offset.to_string());
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "verocta.error",
                value: Some(letter.reason.as_str()),
            })
            .insert(Header {
                key: "verocta.source.topic",
                value: Some(topic.as_str()),
            })
            .insert(Header {
                key: "verocta.source.partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "verocta.source.offset",
                value: Some(offset.as_str()),
            });
        let key = letter.key.as_deref().unwrap_or_default();
        self.send_raw(key, &letter.payload, headers)
    }

    fn send_raw(
        &mut self,
        key: &[u8],
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<(), KafkaError> {
        let mut record = BaseRecord::to(&self.topic)
            .key(key)
            .payload(payload)
            .headers(headers);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // Back-pressure: let deliveries drain before queueing more.
                    record = returned;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
        self.sent += 1;
        Ok(())
    }

    /// Records handed to the producer so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Waits until every record is delivered; fails if any delivery failed.
    pub fn flush(&mut self, timeout: Duration) -> Result<u64, KafkaError> {
        self.producer.flush(timeout)?;
        let tracker: &Arc<DeliveryTracker> = self.producer.context();
        let failed = tracker.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first_error = tracker
                .first_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_default();
            return Err(KafkaError::Delivery {
                topic: self.topic.clone(),
                failed,
                first_error,
            });
        }
        Ok(tracker.delivered.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: BacklogBound = BacklogBound::HalfRetained {
        floor: 15_000,
        ceiling: 131_072,
    };

    #[test]
    fn the_embedded_bound_is_half_the_retained_records_within_its_limits() {
        assert_eq!(EMBEDDED.for_partition(0, 0), 15_000);
        assert_eq!(EMBEDDED.for_partition(0, 20_000), 15_000);
        // Still filling: everything produced is retained.
        assert_eq!(EMBEDDED.for_partition(0, 50_000), 25_000);
        // Full and deleting: 44,000 records fit.
        assert_eq!(EMBEDDED.for_partition(356_000, 400_000), 22_000);
        assert_eq!(EMBEDDED.for_partition(0, 10_000_000), 131_072);
        // Unknown low watermark (-1): counted from 0.
        assert_eq!(EMBEDDED.for_partition(-1, 40_000), 20_000);
        assert_eq!(BacklogBound::Fixed(7).for_partition(0, 1_000_000), 7);
    }

    #[test]
    fn the_budget_is_what_the_tightest_partition_has_free() {
        let room = |backlog, bound| PartitionRoom { backlog, bound };
        assert_eq!(budget(&[], 0, 15_000), Some(15_000));
        assert_eq!(budget(&[room(0, 15_000)], 0, 15_000), Some(15_000));
        assert_eq!(
            budget(&[room(1_000, 40_000), room(5_000, 15_000)], 500, 15_000),
            Some(9_500)
        );
        // Less than a quarter free in the tightest partition: wait.
        assert_eq!(
            budget(&[room(31_000, 40_000), room(0, 15_000)], 0, 15_000),
            None
        );
        assert_eq!(budget(&[room(0, 15_000)], 12_000, 15_000), None);
        assert_eq!(budget(&[room(20_000, 15_000)], 0, 15_000), None);
    }
}
