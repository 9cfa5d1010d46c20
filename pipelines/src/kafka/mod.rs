//! Kafka: topics, the one producer every connector publishes through, and the pipeline worker
//! that consumes transactions into Delta Lake exactly once.
//!
//! The same rdkafka client talks to librdkafka's in-process mock cluster (the embedded
//! default of `verocta up`) or to any real Kafka-protocol broker (`--brokers`); nothing else
//! in the code path differs.
//!
//! Topics (`<prefix>` is `verocta.` unless a test or deployment isolates itself):
//!
//! | topic | key | partitions | retention | holds |
//! |---|---|---|---|---|
//! | `<prefix>transactions.v1` | tenant id | 6 (configurable) | 7 days | canonical transactions, JSON wire encoding |
//! | `<prefix>transactions.dlq.v1` | as received | 1 | 30 days | records that failed validation; reason and origin in headers |
//! | `<prefix>alerts.v1` | tenant id | 3 | 7 days | anomaly alerts |
//! | `<prefix>scores.v1` | tenant id | 3 | compacted | latest SpendScore per tenant |
//!
//! Keying by tenant keeps each tenant's events ordered and gives every tenant exactly one
//! writer at a time, which is what makes per-partition offsets in Delta sufficient for
//! exactly-once. Retention can be short because Delta Lake, not Kafka, is the system of record.

pub mod clickhouse;
pub mod producer;
pub mod topics;
pub mod worker;

use rdkafka::ClientConfig;

/// How to reach the broker.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// Extra librdkafka properties (e.g. `session.timeout.ms`), applied last.
    pub extra: Vec<(String, String)>,
    /// The producers' codec (`compression.type`; an `extra` entry overrides it).
    pub compression: Compression,
}

/// How producers compress record batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// For the in-process broker, where our CPU is the limit and nothing crosses a network:
    /// the cheapest codec to compress and decompress.
    Lz4,
    /// For a real broker: a third smaller than lz4 on the benchmark export, so less on the
    /// wire and on the broker's disk; Tansu 0.6 also ingests it at twice lz4's rate
    /// (pipeline-bench on 200 MB: 44k → 88k rows/s), while in-process it costs ~4%.
    Zstd,
}

impl Compression {
    /// The librdkafka name.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl KafkaConfig {
    /// A config for a real broker at `brokers` with no extras.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            extra: Vec::new(),
            compression: Compression::Zstd,
        }
    }

    /// Adds a librdkafka property.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }
}

/// Errors talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The client failed.
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// A topic exists with a shape we cannot use.
    #[error("topic {topic}: {problem}")]
    Topic {
        /// The topic.
        topic: String,
        /// What is wrong.
        problem: String,
    },
    /// Records could not be delivered.
    #[error("{failed} records were not delivered to {topic}: {first_error}")]
    Delivery {
        /// The topic.
        topic: String,
        /// How many failed.
        failed: u64,
        /// The first failure.
        first_error: String,
    },
}
