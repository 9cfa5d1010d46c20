//! The producer every connector publishes through.
//!
//! Idempotent (`enable.idempotence`, which implies `acks=all` and ordered retries), lz4
//! compressed, with librdkafka's queue bounded (64 MiB, 100k records): when it is full,
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
use verocta_schemas::wire::encode_transaction;
use verocta_schemas::{Anomaly, SpendScore, Transaction};

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
/// Checks are rare and cheap: a check measures the worst partition's backlog (high watermark
/// against the offset committed in Delta, through a consumer and a table handle kept open)
/// plus the records still in the producer's queue, and grants a budget of records that cannot
/// overflow the bound even if all of them land in that partition. The producer sends the
/// budget without asking again; it waits only when less than a quarter of the bound is free.
pub struct LagGate {
    config: super::worker::WorkerConfig,
    runtime: tokio::runtime::Handle,
    max_lag_per_partition: u64,
    budget: u64,
    watermarks: Option<rdkafka::consumer::BaseConsumer>,
    table: Option<verocta_lakehouse::TransactionsTable>,
}

impl LagGate {
    /// A gate allowing at most `max_lag_per_partition` uncommitted records per partition.
    pub fn new(
        config: super::worker::WorkerConfig,
        runtime: tokio::runtime::Handle,
        max_lag_per_partition: u64,
    ) -> Self {
        LagGate {
            config,
            runtime,
            max_lag_per_partition,
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

    /// Waits until a quarter of the bound is free in every partition, counting undelivered
    /// records as backlog (or fails after 10 minutes without progress).
    fn wait_for_room(&mut self, in_flight: impl Fn() -> u64) -> Result<(), KafkaError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        let headroom = (self.max_lag_per_partition / 4).max(1);
        loop {
            let used = self.worst_lag()? + in_flight();
            if used + headroom <= self.max_lag_per_partition {
                self.budget = self.max_lag_per_partition - used;
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(self.problem(format!(
                    "workers are not committing: {used} records behind after 10 minutes"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The largest backlog of any partition: listed end offset minus Delta's committed one.
    fn worst_lag(&mut self) -> Result<u64, KafkaError> {
        if self.watermarks.is_none() {
            self.watermarks = Some(self.config.kafka.client_config().create()?);
        }
        if self.table.is_none() {
            let opened = self.runtime.block_on(self.config.lake.transactions());
            self.table = Some(opened.map_err(|e| self.problem(e.to_string()))?);
        }
        let (Some(consumer), Some(table)) = (&self.watermarks, &mut self.table) else {
            return Ok(0);
        };
        let topic = self.config.topology.transactions();
        let ends = super::worker::listed_end_offsets(consumer, &topic)?;
        let app_ids: Vec<String> = ends.iter().map(|(p, _)| self.config.app_id(*p)).collect();
        let committed = self
            .runtime
            .block_on(table.committed_versions(&app_ids))
            .map_err(|e| KafkaError::Topic {
                topic: topic.clone(),
                problem: e.to_string(),
            })?;
        Ok(ends
            .iter()
            .zip(&app_ids)
            .map(|((_, high), app_id)| {
                super::worker::partition_lag(*high, committed.get(app_id).copied().flatten())
            })
            .max()
            .unwrap_or(0))
    }

    fn problem(&self, problem: String) -> KafkaError {
        KafkaError::Topic {
            topic: self.config.topology.transactions(),
            problem,
        }
    }
}

/// Properties that only consumers take; librdkafka warns when a producer is given them.
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
}

impl TransactionProducer {
    /// A producer for `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<Self, KafkaError> {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &kafka.brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
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
        if let Some(gate) = &mut self.gate {
            let producer = &self.producer;
            gate.admit(|| producer.in_flight_count().max(0) as u64)?;
        }
        let payload = encode_transaction(transaction);
        let key = transaction.tenant_id.as_str().as_bytes();
        let headers = OwnedHeaders::new().insert(Header {
            key: "verocta.schema",
            value: Some("transaction.v1"),
        });
        self.send_raw(key, &payload, headers)
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
