//! Isolation forests over transaction features (`extended-isolation-forest`).
//!
//! One forest per tenant with at least [`ForestConfig::min_tenant_rows`] spend transactions,
//! and one cohort forest trained on a sample of every tenant's rows for the others: the
//! features are relative to each tenant's own vendors and categories (z-scores, novelty,
//! shares), so a cohort model transfers between tenants where raw amounts would not.
//!
//! Extension level 0 is the standard isolation forest (axis-parallel cuts), which the
//! literature finds at least as strong as extended cuts on few dimensions; both are measured
//! by `anomaly-bench odds`.
//!
//! Training samples with the crate's thread-local RNG, so two trainings differ slightly.
//! Determinism therefore comes from persistence: a [`ModelSet`] is saved under its version
//! (zstd-compressed JSON per model) and scoring always uses a saved set.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use extended_isolation_forest::{Forest, ForestOptions};
use serde::{Deserialize, Serialize};

use super::flat::FlatForest;
use super::history::{self, RowFeatures, quantize};
use super::rules::{Hit, HitSubject, money, vendor_label};
use super::{DETECTOR_VERSION, FEATURE_COUNT, Features, SpendRow};

/// Forest settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestConfig {
    /// Trees per forest.
    pub n_trees: usize,
    /// Rows each tree is built from (256 in the original paper).
    pub sample_size: usize,
    /// 0 = standard isolation forest; up to 8 = fully extended (oblique cuts).
    pub extension_level: usize,
    /// Tenants with at least this many spend rows get their own forest.
    pub min_tenant_rows: usize,
    /// Rows sampled per tenant into the cohort forest's training set.
    pub cohort_rows_per_tenant: usize,
    /// Forest score at and above which a row is a candidate.
    pub threshold: f64,
    /// A candidate is flagged only when its amount is at least this many standard deviations
    /// above its vendor's or its category's history: every flag needs a reason a person can
    /// check, and the forest alone cannot give one.
    pub min_z: f64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            n_trees: history::DEFAULT_N_TREES,
            sample_size: history::DEFAULT_SAMPLE_SIZE,
            extension_level: 0,
            min_tenant_rows: history::DEFAULT_MIN_TENANT_ROWS,
            cohort_rows_per_tenant: 200,
            threshold: history::DEFAULT_THRESHOLD,
            min_z: history::DEFAULT_MIN_Z,
        }
    }
}

impl ForestConfig {
    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_trees == 0 || self.sample_size < 2 {
            return Err("n_trees must be ≥ 1 and sample_size ≥ 2".into());
        }
        if self.extension_level >= FEATURE_COUNT {
            return Err(format!(
                "extension_level must be below the feature count ({FEATURE_COUNT}); 0 is the standard forest"
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err("threshold must be in [0, 1], e.g. 0.6".into());
        }
        if self.min_tenant_rows < self.sample_size {
            return Err("min_tenant_rows must be at least sample_size".into());
        }
        Ok(())
    }
}

/// Errors training, saving or loading forests.
#[derive(Debug, thiserror::Error)]
pub enum ForestError {
    /// Too few rows, or an extension level above the dimensions.
    #[error("training a forest on {rows} rows failed: {message}")]
    Training {
        /// Rows offered.
        rows: usize,
        /// The crate's error.
        message: String,
    },
    /// Reading or writing a model file failed.
    #[error("model file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A model file is not a model of this version.
    #[error("model file {path} is not a valid {DETECTOR_VERSION} model: {message}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A trained forest and what it was trained on.
#[derive(Serialize, Deserialize)]
pub struct SpendForest {
    forest: Forest<f64, FEATURE_COUNT>,
    /// The same forest compiled for scoring; built when the forest is trained or loaded.
    #[serde(skip)]
    flat: Option<FlatForest>,
    /// Rows it was trained on.
    pub trained_rows: usize,
    /// Its extension level.
    pub extension_level: usize,
}

impl std::fmt::Debug for SpendForest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendForest")
            .field("trained_rows", &self.trained_rows)
            .field("extension_level", &self.extension_level)
            .finish_non_exhaustive()
    }
}

impl SpendForest {
    /// Trains on feature vectors.
    pub fn train(rows: &[Features], config: &ForestConfig) -> Result<SpendForest, ForestError> {
        let rows: Vec<Features> = rows.iter().map(quantize).collect();
        let rows = rows.as_slice();
        let options = ForestOptions {
            n_trees: config.n_trees,
            sample_size: config.sample_size.min(rows.len()),
            max_tree_depth: None,
            extension_level: config.extension_level,
        };
        let forest = Forest::from_slice(rows, &options).map_err(|e| ForestError::Training {
            rows: rows.len(),
            message: e.to_string(),
        })?;
        let flat = FlatForest::compile(&forest).map_err(|e| ForestError::Training {
            rows: rows.len(),
            message: e.to_string(),
        })?;
        Ok(SpendForest {
            forest,
            flat: Some(flat),
            trained_rows: rows.len(),
            extension_level: config.extension_level,
        })
    }

    /// Anomaly score in `(0, 1)`: about 0.5 for ordinary rows, towards 1 for easily isolated.
    pub fn score(&self, features: &Features) -> f64 {
        let features = quantize(features);
        match &self.flat {
            Some(flat) => flat.score(&features),
            None => self.forest.score(&features),
        }
    }
}

/// The forests of one training run: per-tenant models and the cohort model.
#[derive(Debug, Default)]
pub struct ModelSet {
    /// Identifies the run (`anomaly-1-<unix seconds>`); the directory name when saved.
    pub version: String,
    /// Fallback for tenants without their own model.
    pub cohort: Option<SpendForest>,
    /// Per-tenant models.
    pub tenants: HashMap<String, SpendForest>,
}

/// An evenly spread sample of at most `n` items, deterministic (every k-th).
fn spread_sample<T: Copy>(items: &[T], n: usize) -> impl Iterator<Item = T> + '_ {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step).copied()
}

impl ModelSet {
    /// Trains per-tenant forests and the cohort forest from every tenant's rows.
    pub fn train(
        rows_by_tenant: &BTreeMap<String, Vec<Features>>,
        config: &ForestConfig,
        version: String,
    ) -> Result<ModelSet, ForestError> {
        let mut tenants = HashMap::new();
        let mut cohort_rows = Vec::new();
        for (tenant, rows) in rows_by_tenant {
            cohort_rows.extend(spread_sample(rows, config.cohort_rows_per_tenant));
            if rows.len() >= config.min_tenant_rows {
                tenants.insert(tenant.clone(), SpendForest::train(rows, config)?);
            }
        }
        let cohort = if cohort_rows.len() >= config.sample_size.min(64) {
            Some(SpendForest::train(&cohort_rows, config)?)
        } else {
            None
        };
        Ok(ModelSet {
            version,
            cohort,
            tenants,
        })
    }

    /// The model that scores a tenant: its own, else the cohort's.
    pub fn for_tenant(&self, tenant: &str) -> Option<&SpendForest> {
        self.tenants.get(tenant).or(self.cohort.as_ref())
    }

    /// Writes the set under `root/<version>/`: `cohort.json.zst`, `tenants/<n>.json.zst` and an
    /// `index.json` mapping tenant ids to files (tenant ids are not safe file names).
    pub fn save(&self, root: &Path) -> Result<PathBuf, ForestError> {
        let dir = root.join(&self.version);
        let tenants_dir = dir.join("tenants");
        std::fs::create_dir_all(&tenants_dir).map_err(|source| ForestError::Io {
            path: tenants_dir.clone(),
            source,
        })?;
        if let Some(cohort) = &self.cohort {
            write_model(&dir.join("cohort.json.zst"), cohort)?;
        }
        let mut index = BTreeMap::new();
        let mut tenants: Vec<(&String, &SpendForest)> = self.tenants.iter().collect();
        tenants.sort_by(|a, b| a.0.cmp(b.0));
        for (n, (tenant, model)) in tenants.into_iter().enumerate() {
            let file = format!("tenants/{n}.json.zst");
            write_model(&dir.join(&file), model)?;
            index.insert(tenant.clone(), file);
        }
        let index_path = dir.join("index.json");
        let json = serde_json::to_vec_pretty(&index).map_err(|e| ForestError::Corrupt {
            path: index_path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&index_path, json).map_err(|source| ForestError::Io {
            path: index_path.clone(),
            source,
        })?;
        // Written last: a set without `LATEST` pointing at it was never completed.
        let latest = root.join("LATEST");
        std::fs::write(&latest, &self.version).map_err(|source| ForestError::Io {
            path: latest,
            source,
        })?;
        Ok(dir)
    }

    /// Loads the set `LATEST` names under `root`, or `None` when nothing was saved yet.
    pub fn load_latest(root: &Path) -> Result<Option<ModelSet>, ForestError> {
        let latest = root.join("LATEST");
        let version = match std::fs::read_to_string(&latest) {
            Ok(version) => version.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ForestError::Io {
                    path: latest,
                    source,
                });
            }
        };
        Self::load(root, &version).map(Some)
    }

    /// Loads one saved version.
    pub fn load(root: &Path, version: &str) -> Result<ModelSet, ForestError> {
        let dir = root.join(version);
        let cohort_path = dir.join("cohort.json.zst");
        let cohort = if cohort_path.exists() {
            Some(read_model(&cohort_path)?)
        } else {
            None
        };
        let index_path = dir.join("index.json");
        let index_text = std::fs::read(&index_path).map_err(|source| ForestError::Io {
            path: index_path.clone(),
            source,
        })?;
        let index: BTreeMap<String, String> =
            serde_json::from_slice(&index_text).map_err(|e| ForestError::Corrupt {
                path: index_path.clone(),
                message: e.to_string(),
            })?;
        let mut tenants = HashMap::new();
        for (tenant, file) in index {
            tenants.insert(tenant, read_model(&dir.join(file))?);
        }
        Ok(ModelSet {
            version: version.to_string(),
            cohort,
            tenants,
        })
    }
}

fn write_model(path: &Path, model: &SpendForest) -> Result<(), ForestError> {
    let io = |source| ForestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut encoder = zstd::Encoder::new(file, 3).map_err(io)?;
    serde_json::to_writer(&mut encoder, model).map_err(|e| ForestError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    encoder.finish().map_err(io)?.flush().map_err(io)
}

fn read_model(path: &Path) -> Result<SpendForest, ForestError> {
    let io = |source| ForestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut json = Vec::new();
    zstd::Decoder::new(file)
        .map_err(io)?
        .read_to_end(&mut json)
        .map_err(io)?;
    let corrupt = |message: String| ForestError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let mut model: SpendForest =
        serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))?;
    model.flat = Some(FlatForest::compile(&model.forest).map_err(|e| corrupt(e.to_string()))?);
    Ok(model)
}

/// Threads a large batch is scored on: the CPUs this process may use. Asked once, since on
/// Linux the answer reads cgroup files and `score_rows` runs per tenant and batch.
static SCORING_THREADS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

/// Scores rows with a model (fills `forest_score`).
pub fn score_rows(rows: &mut [SpendRow], model: &SpendForest) {
    let Some(flat) = &model.flat else {
        for row in rows {
            row.forest_score = Some(model.score(&row.features));
        }
        return;
    };
    let features: Vec<Features> = rows.iter().map(|row| quantize(&row.features)).collect();
    let refs: Vec<&[f64]> = features.iter().map(|f| f.as_slice()).collect();
    for (row, score) in rows
        .iter_mut()
        .zip(flat.score_many_parallel(&refs, *SCORING_THREADS))
    {
        row.forest_score = Some(score);
    }
}

/// Turns forest scores into hits: a score at or above the threshold, explained by an amount
/// far above the vendor's or the category's history.
pub fn forest_hits(rows: &[SpendRow], config: &ForestConfig) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let Some(score) = row.forest_score else {
            continue;
        };
        let judged = RowFeatures {
            features: row.features,
            vendor_typical_minor: row.vendor_typical_minor,
            category_typical_minor: row.category_typical_minor,
        };
        let Some(flag) = history::forest_flag(score, &judged, config.threshold, config.min_z)
        else {
            continue;
        };
        let basis = if flag.by_vendor {
            "its vendor's"
        } else {
            "its category's"
        };
        let typical = flag.typical_minor;
        let ratio = row.amount_minor as f64 / typical as f64;
        hits.push(Hit {
            detector: "isolation_forest",
            subject: HitSubject::Row(index),
            score: flag.score,
            reason: format!(
                "unusual amount: {} to {} is {:.1}× {} typical {} ({:.1} sd above; forest score {:.2})",
                money(row.amount_minor, row.currency_digits, &row.currency),
                vendor_label(row),
                ratio,
                basis,
                money(typical, row.currency_digits, &row.currency),
                flag.z,
                score
            ),
            amount_minor: row.amount_minor,
            expected_minor: Some(typical),
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordinary rows on a grid, and a few far away.
    fn training_rows() -> Vec<Features> {
        (0..600)
            .map(|i| {
                let x = (i % 20) as f64 / 20.0;
                let y = (i / 20) as f64 / 30.0;
                [x, y, 0.1, 0.5, 1.0, 0.2, (i % 7) as f64, 0.0, 0.0]
            })
            .collect()
    }

    #[test]
    fn outliers_score_above_ordinary_rows() {
        let config = ForestConfig::default();
        let forest = SpendForest::train(&training_rows(), &config).unwrap();
        let ordinary = forest.score(&[0.5, 0.5, 0.1, 0.5, 1.0, 0.2, 3.0, 0.0, 0.0]);
        let outlier = forest.score(&[6.0, 8.0, 5.0, 1.0, 0.0, 0.0, 3.0, 1.0, 1.0]);
        assert!(outlier > 0.6, "outlier {outlier}");
        assert!(ordinary < 0.5, "ordinary {ordinary}");
    }

    #[test]
    fn model_sets_round_trip_through_files_and_score_identically() {
        let config = ForestConfig {
            min_tenant_rows: 500,
            ..ForestConfig::default()
        };
        let mut by_tenant = BTreeMap::new();
        by_tenant.insert("big/tenant".to_string(), training_rows());
        by_tenant.insert("small".to_string(), training_rows()[..50].to_vec());
        let set = ModelSet::train(&by_tenant, &config, "anomaly-1-test".into()).unwrap();
        assert_eq!(set.tenants.len(), 1);
        assert!(set.cohort.is_some());
        let dir = tempfile::tempdir().unwrap();
        set.save(dir.path()).unwrap();
        let loaded = ModelSet::load_latest(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.version, "anomaly-1-test");
        let probe = [3.0, 2.0, 1.0, 1.0, 0.0, 0.0, 3.0, 1.0, 0.0];
        for tenant in ["big/tenant", "small", "unknown"] {
            let before = set.for_tenant(tenant).unwrap().score(&probe);
            let after = loaded.for_tenant(tenant).unwrap().score(&probe);
            assert_eq!(before, after, "{tenant}");
        }
        assert!(
            ModelSet::load_latest(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_flag_needs_a_score_and_an_amount_reason() {
        let mut row = SpendRow::for_test("2024-05-01", "AWS", "software", 4_500_000);
        row.features[1] = 6.0;
        row.vendor_typical_minor = Some(300_000);
        row.forest_score = Some(0.72);
        let mut quiet = row.clone();
        quiet.features[1] = 1.0;
        let mut low = row.clone();
        low.forest_score = Some(0.5);
        let hits = forest_hits(&[row, quiet, low], &ForestConfig::default());
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0]
                .reason
                .contains("15.0× its vendor's typical USD 3,000.00"),
            "{}",
            hits[0].reason
        );
        assert!((hits[0].score - (0.6 + 0.4 * 0.2 / 0.48)).abs() < 1e-9);
    }

    #[test]
    fn config_is_validated() {
        let bad = ForestConfig {
            extension_level: FEATURE_COUNT,
            ..ForestConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("extension_level"));
    }
}
