//! The whole pipeline in one process: broker (embedded or external), topics, workers, and the
//! import of files — what `verocta up` runs.
//!
//! Embedded mode uses librdkafka's mock cluster: an in-process broker speaking the Kafka
//! protocol on a loopback port, so the same rdkafka producer and consumer code runs as against
//! a real cluster, with no external service. Its data lives in memory, so in embedded mode
//! Delta Lake (on disk under the data directory) is the only durable state — which is the
//! design anyway: Kafka carries, Delta records.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tokio::runtime::Handle;
use verocta_lakehouse::Lake;

use verocta_lakehouse::clickhouse::{ClickHouse, ClickHouseConfig, migrate};

use crate::batch::BatchPolicy;
use crate::kafka::clickhouse::{
    ClickHouseSinkConfig, ClickHouseSinkError, run_clickhouse_sink, sink_lag, sink_progress,
};
use crate::kafka::producer::{BacklogBound, LagGate, TransactionProducer};
use crate::kafka::topics::{Topology, ensure_topics};
use crate::kafka::worker::{
    WorkerConfig, WorkerError, committed_versus_watermarks, is_caught_up, run_worker, total_lag,
};
use crate::kafka::{Compression, KafkaConfig, KafkaError};
use crate::metrics::ComponentMetrics;

/// Uncommitted records allowed per partition before producers wait, on the embedded broker,
/// which keeps only the newest 5 MB of each partition: half of what the partition is measured
/// to retain (see [`BacklogBound::HalfRetained`]). The floor, 15,000 records, is what the
/// bound starts from; it stays inside 5 MB for records of up to ~340 bytes after compression
/// (ours are ~600 bytes of JSON before lz4). The ceiling is the external broker's bound.
pub const EMBEDDED_BACKLOG: BacklogBound = BacklogBound::HalfRetained {
    floor: 15_000,
    ceiling: EXTERNAL_MAX_BACKLOG_PER_PARTITION,
};

/// The same bound on an external broker, which keeps records for days: there it is only
/// back-pressure, a few full worker batches deep, so a worker always has a whole batch to read
/// instead of committing whatever the gate let through.
pub const EXTERNAL_MAX_BACKLOG_PER_PARTITION: u64 = 131_072;

/// Settings of a running stack.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Data directory (Delta tables under `lake/`).
    pub data_dir: PathBuf,
    /// External brokers; `None` starts the embedded broker.
    pub brokers: Option<String>,
    /// Topic names and partitions.
    pub topology: Topology,
    /// Worker threads in the consumer group.
    pub workers: usize,
    /// Consumer group id.
    pub group_id: String,
    /// Micro-batch bounds.
    pub batch: BatchPolicy,
    /// Extra librdkafka properties for every client.
    pub kafka_extra: Vec<(String, String)>,
    /// ClickHouse to serve from, if any: its tables are migrated on start and a sink worker
    /// (consumer group `<group_id>-clickhouse`) keeps them in step with the topic.
    pub clickhouse: Option<ClickHouseConfig>,
}

impl StackConfig {
    /// Defaults for a data directory: embedded broker, two workers.
    pub fn new(data_dir: &Path) -> Self {
        StackConfig {
            data_dir: data_dir.to_path_buf(),
            brokers: None,
            topology: Topology::default(),
            workers: 2,
            group_id: "verocta-transactions".into(),
            batch: BatchPolicy::default(),
            kafka_extra: Vec::new(),
            clickhouse: None,
        }
    }
}

/// Errors starting or running the stack.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// A worker failed.
    #[error("worker failed: {0}")]
    Worker(#[from] WorkerError),
    /// The lake failed.
    #[error(transparent)]
    Lake(#[from] verocta_lakehouse::LakeError),
    /// The ClickHouse sink failed.
    #[error("ClickHouse sink failed: {0}")]
    ClickHouse(#[from] ClickHouseSinkError),
    /// A worker thread panicked (an internal bug).
    #[error("a worker thread panicked")]
    Panicked,
}

/// Where the broker is.
pub enum Broker {
    /// librdkafka's in-process mock cluster (kept alive as long as the stack).
    Embedded(MockCluster<'static, DefaultProducerContext>),
    /// An external cluster.
    External(String),
}

impl Broker {
    /// Bootstrap servers to connect to.
    pub fn bootstrap_servers(&self) -> String {
        match self {
            Broker::Embedded(cluster) => cluster.bootstrap_servers(),
            Broker::External(brokers) => brokers.clone(),
        }
    }

    /// The codec producers use with this broker.
    pub fn compression(&self) -> Compression {
        match self {
            Broker::Embedded(_) => Compression::Lz4,
            Broker::External(_) => Compression::Zstd,
        }
    }

    /// Uncommitted records a producer may put in one partition before it waits.
    pub fn backlog_bound(&self) -> BacklogBound {
        match self {
            Broker::Embedded(_) => EMBEDDED_BACKLOG,
            Broker::External(_) => BacklogBound::Fixed(EXTERNAL_MAX_BACKLOG_PER_PARTITION),
        }
    }
}

/// A running pipeline.
pub struct Stack {
    config: StackConfig,
    broker: Broker,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Result<(), WorkerError>>>,
    sinks: Vec<JoinHandle<Result<(), ClickHouseSinkError>>>,
    metrics: Vec<Arc<ComponentMetrics>>,
    sink_metrics: Vec<Arc<ComponentMetrics>>,
    runtime: Handle,
    broker_epoch: String,
}

impl Stack {
    /// Starts the broker (if embedded), creates topics and the Delta table, and starts workers.
    pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
        let broker = match &config.brokers {
            Some(brokers) => Broker::External(brokers.clone()),
            None => Broker::Embedded(MockCluster::new(1).map_err(KafkaError::from)?),
        };
        let kafka = KafkaConfig {
            brokers: broker.bootstrap_servers(),
            extra: config.kafka_extra.clone(),
            compression: broker.compression(),
        };
        match &broker {
            // The mock cluster does not implement the CreateTopics admin API; it has its own.
            Broker::Embedded(cluster) => {
                for spec in config.topology.specs() {
                    cluster
                        .create_topic(&spec.name, spec.partitions, 1)
                        .map_err(KafkaError::from)?;
                }
            }
            Broker::External(_) => ensure_topics(&kafka, &config.topology).await?,
        }
        // The embedded broker's partitions start empty every run: record its offsets under app
        // ids of their own, so an earlier run's offsets in the same data directory are not
        // applied to it (they would skip the new records).
        let broker_epoch = match &broker {
            Broker::Embedded(_) => format!(
                "embedded-{}-{}",
                chrono::Utc::now().timestamp_micros(),
                std::process::id()
            ),
            Broker::External(_) => String::new(),
        };
        let lake = Lake::in_data_dir(&config.data_dir);
        lake.transactions().await?;
        let runtime = Handle::current();
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(config.workers);
        let mut metrics = Vec::with_capacity(config.workers);
        for index in 0..config.workers {
            let worker_metrics = Arc::new(ComponentMetrics::new(format!("worker-{index}")));
            let worker_config = WorkerConfig {
                kafka: kafka.clone(),
                topology: config.topology.clone(),
                group_id: config.group_id.clone(),
                lake: lake.clone(),
                batch: config.batch,
                broker_epoch: broker_epoch.clone(),
            };
            let (runtime, stop, thread_metrics) = (
                runtime.clone(),
                Arc::clone(&stop),
                Arc::clone(&worker_metrics),
            );
            let handle = std::thread::Builder::new()
                .name(format!("verocta-worker-{index}"))
                .spawn(move || run_worker(worker_config, runtime, stop, thread_metrics))
                .map_err(|_| StackError::Panicked)?;
            workers.push(handle);
            metrics.push(worker_metrics);
        }
        let mut sinks = Vec::new();
        let mut sink_metrics = Vec::new();
        if let Some(sink_config) = Stack::clickhouse_sink_config(&config, &kafka) {
            let clickhouse = ClickHouse::connect(&sink_config.clickhouse)
                .await
                .map_err(ClickHouseSinkError::from)?;
            let report = migrate(&clickhouse)
                .await
                .map_err(ClickHouseSinkError::from)?;
            tracing::info!(server = %clickhouse.version(), applied = report.applied.len(), "ClickHouse ready");
            let component = Arc::new(ComponentMetrics::new("clickhouse-sink"));
            let (runtime, stop, thread_metrics) =
                (runtime.clone(), Arc::clone(&stop), Arc::clone(&component));
            let handle = std::thread::Builder::new()
                .name("verocta-clickhouse-sink".into())
                .spawn(move || run_clickhouse_sink(sink_config, runtime, stop, thread_metrics))
                .map_err(|_| StackError::Panicked)?;
            sinks.push(handle);
            sink_metrics.push(component);
        }
        Ok(Stack {
            config,
            broker,
            stop,
            workers,
            sinks,
            metrics,
            sink_metrics,
            runtime,
            broker_epoch,
        })
    }

    /// Connection settings for clients of this stack (producers, extra workers).
    pub fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: self.broker.bootstrap_servers(),
            extra: self.config.kafka_extra.clone(),
            compression: self.broker.compression(),
        }
    }

    /// The broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The lake the workers write.
    pub fn lake(&self) -> Lake {
        Lake::in_data_dir(&self.config.data_dir)
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.config.topology
    }

    /// Per-worker metrics.
    pub fn metrics(&self) -> &[Arc<ComponentMetrics>] {
        &self.metrics
    }

    /// Metrics of the ClickHouse sink (empty without ClickHouse).
    pub fn sink_metrics(&self) -> &[Arc<ComponentMetrics>] {
        &self.sink_metrics
    }

    fn clickhouse_sink_config(
        config: &StackConfig,
        kafka: &KafkaConfig,
    ) -> Option<ClickHouseSinkConfig> {
        Some(ClickHouseSinkConfig {
            kafka: kafka.clone(),
            topology: config.topology.clone(),
            group_id: format!("{}-clickhouse", config.group_id),
            clickhouse: config.clickhouse.clone()?,
        })
    }

    fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            kafka: self.kafka(),
            topology: self.config.topology.clone(),
            group_id: self.config.group_id.clone(),
            lake: self.lake(),
            batch: self.config.batch,
            broker_epoch: self.broker_epoch.clone(),
        }
    }

    /// A producer for the transactions topic, throttled so it never gets more than
    /// [`Broker::backlog_bound`] records ahead of the workers (see
    /// [`crate::kafka::producer::LagGate`]). Call it from a blocking thread.
    pub fn producer(&self) -> Result<TransactionProducer, KafkaError> {
        let gate = LagGate::new(
            self.worker_config(),
            self.runtime.clone(),
            self.broker.backlog_bound(),
        );
        Ok(
            TransactionProducer::new(&self.kafka(), &self.config.topology.transactions())?
                .with_lag_gate(gate),
        )
    }

    /// Waits until every record in the topic is committed in Delta, and in ClickHouse when it
    /// is configured (or a worker fails).
    pub async fn wait_until_idle(&mut self, poll: Duration) -> Result<(), StackError> {
        while !self.update_lag().await? {
            tokio::time::sleep(poll).await;
        }
        Ok(())
    }

    /// Measures every component's lag into its metrics, surfaces a worker that stopped, and
    /// says whether everything on the topic is in Delta (and ClickHouse).
    pub async fn update_lag(&mut self) -> Result<bool, StackError> {
        if let Some(index) = self.workers.iter().position(JoinHandle::is_finished) {
            let handle = self.workers.remove(index);
            handle.join().map_err(|_| StackError::Panicked)??;
        }
        let config = self.worker_config();
        let runtime = self.runtime.clone();
        let progress =
            tokio::task::spawn_blocking(move || committed_versus_watermarks(&config, &runtime))
                .await
                .map_err(|_| StackError::Panicked)??;
        let lag = total_lag(&progress);
        for metrics in &self.metrics {
            metrics.lag.store(lag, Ordering::Relaxed);
        }
        Ok(is_caught_up(&progress) && self.clickhouse_caught_up().await?)
    }

    /// Renders Prometheus text for every component of the stack (workers and sinks); it holds
    /// the counters, not the stack, so an HTTP server can own it.
    pub fn metrics_renderer(&self) -> impl Fn() -> String + Send + Sync + 'static {
        let components: Vec<Arc<ComponentMetrics>> = self
            .metrics
            .iter()
            .chain(&self.sink_metrics)
            .cloned()
            .collect();
        move || {
            let borrowed: Vec<&ComponentMetrics> = components.iter().map(AsRef::as_ref).collect();
            crate::metrics::render_prometheus_all(&borrowed)
        }
    }

    /// Whether ClickHouse (when configured) holds every record of the topic; fails if the
    /// sink stopped.
    async fn clickhouse_caught_up(&mut self) -> Result<bool, StackError> {
        if let Some(index) = self.sinks.iter().position(JoinHandle::is_finished) {
            let handle = self.sinks.remove(index);
            handle.join().map_err(|_| StackError::Panicked)??;
        }
        let Some(config) = Stack::clickhouse_sink_config(&self.config, &self.kafka()) else {
            return Ok(true);
        };
        let progress = tokio::task::spawn_blocking(move || sink_progress(&config))
            .await
            .map_err(|_| StackError::Panicked)??;
        let lag = sink_lag(&progress);
        for metrics in &self.sink_metrics {
            metrics.lag.store(lag, Ordering::Relaxed);
        }
        Ok(lag == 0)
    }

    /// Stops the workers (each commits what it holds) and waits for them.
    pub async fn shutdown(self) -> Result<(), StackError> {
        self.stop.store(true, Ordering::Relaxed);
        let workers = self.workers;
        let sinks = self.sinks;
        tokio::task::spawn_blocking(move || {
            for worker in workers {
                worker.join().map_err(|_| StackError::Panicked)??;
            }
            for sink in sinks {
                sink.join().map_err(|_| StackError::Panicked)??;
            }
            Ok::<(), StackError>(())
        })
        .await
        .map_err(|_| StackError::Panicked)??;
        drop(self.broker);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In-process, CPU is the limit (lz4); a real broker gets the smaller zstd, which Tansu
    /// also ingests twice as fast. Real-broker configs built outside a stack agree.
    #[test]
    fn producers_compress_for_the_broker_they_talk_to() {
        let embedded = Broker::Embedded(MockCluster::new(1).unwrap());
        assert_eq!(embedded.compression(), Compression::Lz4);
        let external = Broker::External("127.0.0.1:9092".into());
        assert_eq!(external.compression(), Compression::Zstd);
        assert_eq!(
            KafkaConfig::new("127.0.0.1:9092").compression,
            external.compression()
        );
        assert_eq!(Compression::Zstd.as_str(), "zstd");
    }
}
