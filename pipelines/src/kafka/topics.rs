//! Topic names, their specifications, and creation/validation at start-up.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::{KafkaConfig, KafkaError};

/// One topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Topic-level configuration (retention, cleanup policy).
    pub config: Vec<(&'static str, String)>,
}

/// The set of topics one deployment (or one test) uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Name prefix, `verocta.` by default.
    pub prefix: String,
    /// Partitions of the transactions topic.
    pub transaction_partitions: i32,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            prefix: "verocta.".into(),
            transaction_partitions: 6,
        }
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Topology {
    /// The transactions topic.
    pub fn transactions(&self) -> String {
        format!("{}transactions.v1", self.prefix)
    }

    /// The dead-letter topic for transactions that fail validation.
    pub fn dead_letter(&self) -> String {
        format!("{}transactions.dlq.v1", self.prefix)
    }

    /// The alerts topic.
    pub fn alerts(&self) -> String {
        format!("{}alerts.v1", self.prefix)
    }

    /// The scores topic.
    pub fn scores(&self) -> String {
        format!("{}scores.v1", self.prefix)
    }

    /// Every topic with its specification.
    pub fn specs(&self) -> Vec<TopicSpec> {
        let retention = |days: i64| vec![("retention.ms", (days * DAY_MS).to_string())];
        vec![
            TopicSpec {
                name: self.transactions(),
                partitions: self.transaction_partitions,
                config: retention(7),
            },
            TopicSpec {
                name: self.dead_letter(),
                partitions: 1,
                config: retention(30),
            },
            TopicSpec {
                name: self.alerts(),
                partitions: 3,
                config: retention(7),
            },
            TopicSpec {
                name: self.scores(),
                partitions: 3,
                config: vec![("cleanup.policy", "compact".into())],
            },
        ]
    }
}

/// Creates missing topics and checks existing ones have the partitions we need.
pub async fn ensure_topics(kafka: &KafkaConfig, topology: &Topology) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create()?;
    let specs = topology.specs();
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|spec| {
            spec.config.iter().fold(
                NewTopic::new(&spec.name, spec.partitions, TopicReplication::Fixed(1)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::Topic {
                    topic,
                    problem: format!("cannot create: {code}"),
                });
            }
        }
    }
    verify_partitions(kafka, &specs)
}

fn verify_partitions(kafka: &KafkaConfig, specs: &[TopicSpec]) -> Result<(), KafkaError> {
    let consumer: BaseConsumer = kafka.client_config().create()?;
    for spec in specs {
        // Topic creation propagates asynchronously; poll metadata briefly until it shows.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let metadata = consumer.fetch_metadata(Some(&spec.name), Duration::from_secs(5))?;
            let found = metadata.topics().first().map_or(0, |t| {
                if t.error().is_some() {
                    0
                } else {
                    t.partitions().len() as i32
                }
            });
            if found >= spec.partitions {
                break;
            }
            if found > 0 || std::time::Instant::now() > deadline {
                return Err(KafkaError::Topic {
                    topic: spec.name.clone(),
                    problem: format!(
                        "has {found} partitions, needs {}; recreate it or change the partition setting",
                        spec.partitions
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_versioned() {
        let topology = Topology {
            prefix: "t1.".into(),
            transaction_partitions: 4,
        };
        assert_eq!(topology.transactions(), "t1.transactions.v1");
        assert_eq!(topology.dead_letter(), "t1.transactions.dlq.v1");
        let specs = topology.specs();
        assert_eq!(specs[0].partitions, 4);
        assert!(specs.iter().all(|s| s.name.starts_with("t1.")));
        assert_eq!(
            specs[3].config,
            vec![("cleanup.policy", "compact".to_string())]
        );
    }
}
