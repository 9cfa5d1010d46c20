//! End-to-end streaming guarantees, against a real Kafka-protocol broker: librdkafka's mock
//! cluster hosted by this test process by default, or the broker named by
//! `VEROCTA_TEST_BROKERS` (CI runs these tests again against Tansu). Workers run as separate
//! `verocta worker` processes so they can be killed with SIGKILL. Every test uses its own topic
//! prefix and data directory.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use verocta_lakehouse::Lake;
use verocta_pipelines::batch::BatchPolicy;
use verocta_pipelines::kafka::KafkaConfig;
use verocta_pipelines::kafka::producer::{LagGate, TransactionProducer};
use verocta_pipelines::kafka::topics::{Topology, ensure_topics};
use verocta_pipelines::kafka::worker::{WorkerConfig, committed_versus_watermarks, is_caught_up};
use verocta_pipelines::stack::EMBEDDED_BACKLOG;
use verocta_schemas::*;

/// Group sessions expire after this long once a worker is killed (Kafka's usual minimum).
const SESSION_TIMEOUT_MS: &str = "6000";

struct Broker {
    brokers: String,
    _embedded: Option<MockCluster<'static, DefaultProducerContext>>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn broker(runtime: &tokio::runtime::Runtime, topology: &Topology) -> Broker {
    if let Ok(brokers) = std::env::var("VEROCTA_TEST_BROKERS") {
        runtime
            .block_on(ensure_topics(&KafkaConfig::new(&brokers), topology))
            .unwrap();
        return Broker {
            brokers,
            _embedded: None,
        };
    }
    let cluster = MockCluster::new(1).unwrap();
    for spec in topology.specs() {
        cluster
            .create_topic(&spec.name, spec.partitions, 1)
            .unwrap();
    }
    Broker {
        brokers: cluster.bootstrap_servers(),
        _embedded: Some(cluster),
    }
}

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{}-{test}-{}.", std::process::id(), nanos % 1_000_000_000)
}

/// Deterministic synthetic transactions over 40 tenants and 12 months.
fn transactions(count: usize) -> Vec<Transaction> {
    let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    (0..count)
        .map(|i| {
            let tenant = TenantId::new(format!("tenant-{}", i % 40)).unwrap();
            Transaction {
                schema_version: TRANSACTION_SCHEMA_VERSION,
                transaction_id: TransactionId::derive(&tenant, "csv", &[&i.to_string()]),
                tenant_id: tenant,
                source: SourceRef {
                    kind: SourceKind::Csv,
                    format: "generic".into(),
                    name: "synthetic.csv".into(),
                    line: Some(i as u64 + 2),
                    external_id: None,
                },
                booked_date: start + chrono::Days::new((i % 365) as u64),
                booked_time: None,
                amount: Money::from_minor(100 + (i as i64 * 7919) % 100_000, Currency::GBP),
                original_amount: None,
                class: TransactionClass::Spend,
                exclusion: None,
                vendor_raw: Some(format!("Vendor {} Ltd", i % 300)),
                vendor: Some(format!("vendor {}", i % 300)),
                category_raw: None,
                category: Category::OfficeSupplies,
                account: None,
                memo: None,
                payment_method: None,
                card_last4: None,
                employee: None,
                department: None,
                ingested_at: Utc::now(),
            }
        })
        .collect()
}

/// Produces in a background thread, throttled against the workers' progress as `verocta up`
/// does: the embedded broker keeps only 5 MB per partition, so a producer running far ahead
/// of the workers would have its oldest records deleted before they are consumed.
fn produce_in_background(
    runtime: &tokio::runtime::Runtime,
    brokers: &str,
    data_dir: &Path,
    topology: &Topology,
    transactions: Vec<Transaction>,
) -> std::thread::JoinHandle<()> {
    let config = worker_config(brokers, data_dir, topology);
    let gate = LagGate::new(config, runtime.handle().clone(), EMBEDDED_BACKLOG);
    let mut producer =
        TransactionProducer::new(&KafkaConfig::new(brokers), &topology.transactions())
            .unwrap()
            .with_lag_gate(gate);
    std::thread::spawn(move || {
        for transaction in &transactions {
            producer.send(transaction).unwrap();
        }
        assert_eq!(
            producer.flush(Duration::from_secs(120)).unwrap(),
            transactions.len() as u64
        );
    })
}

fn spawn_worker(brokers: &str, data_dir: &Path, topology: &Topology) -> Child {
    Command::new(env!("CARGO_BIN_EXE_verocta"))
        .args(["worker", "--brokers", brokers, "--data-dir"])
        .arg(data_dir)
        .args([
            "--topic-prefix",
            &topology.prefix,
            "--partitions",
            &topology.transaction_partitions.to_string(),
        ])
        .args(["--batch-rows", "5000", "--linger-ms", "200"])
        .args([
            "--kafka-property",
            &format!("session.timeout.ms={SESSION_TIMEOUT_MS}"),
        ])
        .args(["--kafka-property", "heartbeat.interval.ms=500"])
        .env("RUST_LOG", "warn,buoyant_kernel::snapshot=off")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn delta_commits(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("lake/transactions/_delta_log"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until a new Delta commit appears (the worker is mid-stream), then a little more.
fn wait_for_progress(data_dir: &Path, child: &mut Child, extra: Duration) {
    let before = delta_commits(data_dir);
    let deadline = Instant::now() + Duration::from_secs(90);
    while delta_commits(data_dir) <= before {
        assert!(child.try_wait().unwrap().is_none(), "worker exited early");
        assert!(Instant::now() < deadline, "worker made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(extra);
}

fn worker_config(brokers: &str, data_dir: &Path, topology: &Topology) -> WorkerConfig {
    WorkerConfig {
        kafka: KafkaConfig::new(brokers),
        topology: topology.clone(),
        group_id: "verocta-transactions".into(),
        lake: Lake::in_data_dir(data_dir),
        batch: BatchPolicy::default(),
        broker_epoch: String::new(),
    }
}

fn wait_until_caught_up(
    runtime: &tokio::runtime::Runtime,
    config: &WorkerConfig,
    children: &mut [Child],
) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        for child in children.iter_mut() {
            assert!(child.try_wait().unwrap().is_none(), "a worker exited");
        }
        let progress = committed_versus_watermarks(config, runtime.handle()).unwrap();
        if is_caught_up(&progress) {
            return;
        }
        assert!(Instant::now() < deadline, "not caught up: {progress:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn table_ids(runtime: &tokio::runtime::Runtime, data_dir: &Path) -> (u64, HashSet<String>) {
    let lake = Lake::in_data_dir(data_dir);
    let batches = runtime
        .block_on(lake.sql("SELECT transaction_id FROM transactions"))
        .unwrap();
    let mut ids = HashSet::new();
    let mut rows = 0;
    for batch in batches {
        let column = deltalake::arrow::compute::cast(
            batch.column(0),
            &deltalake::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let strings = column
            .as_any()
            .downcast_ref::<deltalake::arrow::array::StringArray>()
            .unwrap();
        for i in 0..deltalake::arrow::array::Array::len(strings) {
            ids.insert(strings.value(i).to_string());
            rows += 1;
        }
    }
    (rows, ids)
}

fn expected_ids(transactions: &[Transaction]) -> HashSet<String> {
    transactions
        .iter()
        .map(|t| t.transaction_id.to_string())
        .collect()
}

fn kill(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL on Unix: no chance to flush or commit anything.
    child.wait().unwrap();
}

/// A cheap deterministic pause between 0 and 400 ms.
fn pause(seed: u64) -> Duration {
    Duration::from_millis(
        (seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 33)
            % 400,
    )
}

#[test]
fn exactly_once_when_the_worker_is_killed_repeatedly() {
    let runtime = runtime();
    let topology = Topology {
        prefix: unique_prefix("crash"),
        transaction_partitions: 4,
    };
    let broker = broker(&runtime, &topology);
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_path_buf();
    if std::env::var_os("VEROCTA_TEST_KEEP").is_some() {
        eprintln!("keeping {}", data_dir.display());
        std::mem::forget(data);
    }
    let produced = transactions(200_000);
    let mut worker = spawn_worker(&broker.brokers, &data_dir, &topology);
    let producer = produce_in_background(
        &runtime,
        &broker.brokers,
        &data_dir,
        &topology,
        produced.clone(),
    );
    for kill_number in 0..5u64 {
        wait_for_progress(&data_dir, &mut worker, pause(kill_number));
        kill(&mut worker);
        worker = spawn_worker(&broker.brokers, &data_dir, &topology);
    }
    producer.join().unwrap();
    let config = worker_config(&broker.brokers, &data_dir, &topology);
    wait_until_caught_up(&runtime, &config, std::slice::from_mut(&mut worker));
    kill(&mut worker);

    let (rows, ids) = table_ids(&runtime, &data_dir);
    assert_eq!(rows, 200_000, "rows in the table");
    assert_eq!(ids, expected_ids(&produced), "exactly the produced ids");
}

#[test]
fn a_second_worker_takes_over_when_one_is_killed() {
    let runtime = runtime();
    let topology = Topology {
        prefix: unique_prefix("takeover"),
        transaction_partitions: 4,
    };
    let broker = broker(&runtime, &topology);
    let data = tempfile::tempdir().unwrap();
    let produced = transactions(60_000);
    let mut first = spawn_worker(&broker.brokers, data.path(), &topology);
    let mut second = spawn_worker(&broker.brokers, data.path(), &topology);
    let producer = produce_in_background(
        &runtime,
        &broker.brokers,
        data.path(),
        &topology,
        produced.clone(),
    );
    wait_for_progress(data.path(), &mut first, Duration::from_millis(150));
    kill(&mut first);
    producer.join().unwrap();
    let config = worker_config(&broker.brokers, data.path(), &topology);
    wait_until_caught_up(&runtime, &config, std::slice::from_mut(&mut second));
    kill(&mut second);

    let (rows, ids) = table_ids(&runtime, data.path());
    assert_eq!(rows, 60_000);
    assert_eq!(ids, expected_ids(&produced));
}

#[test]
fn poison_records_go_to_the_dead_letter_topic_and_the_stream_continues() {
    let runtime = runtime();
    let topology = Topology {
        prefix: unique_prefix("dlq"),
        transaction_partitions: 2,
    };
    let broker = broker(&runtime, &topology);
    let data = tempfile::tempdir().unwrap();
    let good = transactions(1_000);
    let kafka = KafkaConfig::new(&broker.brokers);
    let producer: rdkafka::producer::BaseProducer = kafka_client(&kafka).create().unwrap();
    let mut negative = serde_json::to_value(&good[0]).unwrap();
    negative["amount"]["amount"] = "-5.00".into();
    negative["transaction_id"] = "tx_00000000000000000000000000000001".into();
    let poison: Vec<Vec<u8>> = vec![
        b"not json at all".to_vec(),
        negative.to_string().into_bytes(),
        b"{\"schema_version\":1}".to_vec(),
    ];
    let topic = topology.transactions();
    for (i, transaction) in good.iter().enumerate() {
        let payload = verocta_schemas::wire::encode_transaction(transaction);
        send(&producer, &topic, transaction.tenant_id.as_str(), &payload);
        if i % 400 == 0 {
            send(
                &producer,
                &topic,
                transaction.tenant_id.as_str(),
                &poison[i / 400],
            );
        }
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30)).unwrap();

    let mut worker = spawn_worker(&broker.brokers, data.path(), &topology);
    let config = worker_config(&broker.brokers, data.path(), &topology);
    wait_until_caught_up(&runtime, &config, std::slice::from_mut(&mut worker));
    kill(&mut worker);
    let (rows, ids) = table_ids(&runtime, data.path());
    assert_eq!(rows, 1_000);
    assert_eq!(ids, expected_ids(&good));

    let consumer: BaseConsumer = {
        let mut client = kafka_client(&kafka);
        client
            .set("group.id", "dlq-reader")
            .set("auto.offset.reset", "earliest");
        client.create().unwrap()
    };
    consumer.subscribe(&[&topology.dead_letter()]).unwrap();
    let mut reasons = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while reasons.len() < 3 && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let headers = message.headers().unwrap();
            let reason = headers
                .iter()
                .find(|h| h.key == "verocta.error")
                .and_then(|h| h.value)
                .unwrap();
            assert!(headers.iter().any(|h| h.key == "verocta.source.offset"));
            reasons.push(String::from_utf8_lossy(reason).into_owned());
        }
    }
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("negative")),
        "{reasons:?}"
    );
}

fn kafka_client(kafka: &KafkaConfig) -> rdkafka::ClientConfig {
    let mut client = rdkafka::ClientConfig::new();
    client.set("bootstrap.servers", &kafka.brokers);
    client
}

fn send(producer: &rdkafka::producer::BaseProducer, topic: &str, key: &str, payload: &[u8]) {
    let record = rdkafka::producer::BaseRecord::to(topic)
        .key(key)
        .payload(payload);
    producer.send(record).map_err(|(error, _)| error).unwrap();
    producer.poll(Duration::ZERO);
}
