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
use verocta_schemas::Transaction;
use verocta_schemas::wire::encode_transaction;

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
}

impl TransactionProducer {
    /// A producer for `topic`.
    pub fn new(kafka: &KafkaConfig, topic: &str) -> Result<Self, KafkaError> {
        let mut config = kafka.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            .set("batch.size", "1000000")
            .set("queue.buffering.max.kbytes", "65536")
            .set("queue.buffering.max.messages", "100000")
            .set("message.timeout.ms", "60000");
        for (key, value) in &kafka.extra {
            config.set(key, value);
        }
        let producer = config.create_with_context(DeliveryTracker::default())?;
        Ok(TransactionProducer {
            producer,
            topic: topic.to_string(),
            sent: 0,
        })
    }

    /// Publishes one transaction, keyed by tenant, waiting while the queue is full.
    pub fn send(&mut self, transaction: &Transaction) -> Result<(), KafkaError> {
        let payload = encode_transaction(transaction);
        let key = transaction.tenant_id.as_str().as_bytes();
        let headers = OwnedHeaders::new().insert(Header {
            key: "verocta.schema",
            value: Some("transaction.v1"),
        });
        self.send_raw(key, &payload, headers)
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
