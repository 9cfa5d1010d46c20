//! Anomaly detection accuracy and speed.
//!
//! - `anomaly-bench ledger [--tenants N] [--months M] [--seed S]`: generates the labelled
//!   multi-tenant ledger (`verocta_benchmarks::anomaly_ledger`), runs the full detection job
//!   (DataFusion feature query, per-tenant and cohort forests, rules) and prints precision and
//!   recall overall and per kind, false positives per detector, and the time of each stage.
//! - `anomaly-bench odds --dir DIR`: reads the ODDS-style sets `benchmarks/anomaly/odds_sets.py`
//!   exported (same rows, same train/test split), trains `extended-isolation-forest` on the
//!   train rows at extension level 0 and fully extended, and prints AUROC (mean ± sd over 5
//!   trainings) and single-thread scoring throughput next to scikit-learn's from
//!   `DIR/sklearn.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use extended_isolation_forest::{Forest, ForestOptions};
use verocta_benchmarks::anomaly_ledger::{self, Kind, LedgerSpec, Scorecard};
use verocta_models::anomaly::axis::Kernel;
use verocta_models::anomaly::flat::FlatForest;
use verocta_models::anomaly::{self, AnomalyConfig, DETECTOR_VERSION, features, udf};

#[derive(Parser)]
#[command(about = "Anomaly detection accuracy and speed")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Precision and recall on the generated, labelled ledger.
    Ledger {
        /// Tenants.
        #[arg(long, default_value_t = 200)]
        tenants: usize,
        /// Months per tenant.
        #[arg(long, default_value_t = 24)]
        months: u32,
        /// Generator seed.
        #[arg(long, default_value_t = LedgerSpec::default().seed)]
        seed: u64,
        /// Detection settings as JSON (`AnomalyConfig`; unknown fields are errors).
        #[arg(long)]
        config: Option<String>,
    },
    /// AUROC and scoring throughput on ODDS-style sets, next to scikit-learn.
    Odds {
        /// Directory written by `benchmarks/anomaly/odds_sets.py`.
        #[arg(long)]
        dir: PathBuf,
        /// Trainings per set.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Scoring kernel for the one-thread figure: the fastest this CPU runs (as the
        /// detection job does), the AVX2 kernel (what most x86-64 CPUs without AVX-512
        /// get), the portable branch-free loop (other CPUs), or the node walk (extended
        /// forests' path). Two threads always use the fastest.
        #[arg(long, value_enum, default_value_t = KernelArg::Best)]
        kernel: KernelArg,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum KernelArg {
    Best,
    Avx2,
    Portable,
    Walk,
}

impl KernelArg {
    fn kernel(self) -> Option<Kernel> {
        match self {
            KernelArg::Best => Some(Kernel::best()),
            KernelArg::Avx2 => Some(Kernel::Avx2),
            KernelArg::Portable => Some(Kernel::Portable),
            KernelArg::Walk => None,
        }
    }
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Ledger {
            tenants,
            months,
            seed,
            config,
        } => {
            let config: AnomalyConfig = match config {
                Some(json) => serde_json::from_str(&json).context("--config")?,
                None => AnomalyConfig::default(),
            };
            config.validate().map_err(anyhow::Error::msg)?;
            let spec = LedgerSpec {
                tenants,
                months,
                seed,
                ..LedgerSpec::default()
            };
            tokio::runtime::Runtime::new()?.block_on(ledger(spec, config))
        }
        Command::Odds { dir, runs, kernel } => odds(&dir, runs, kernel.kernel()),
    }
}

async fn ledger(spec: LedgerSpec, config: AnomalyConfig) -> Result<()> {
    let started = Instant::now();
    let ledger = anomaly_ledger::generate(&spec);
    let rows = ledger.batch.num_rows();
    println!(
        "ledger: {} tenants, {} months, {rows} transactions, {} injected anomalies (seed {:#x}), generated in {:.1} s",
        spec.tenants,
        spec.months,
        ledger.labels.len(),
        spec.seed,
        started.elapsed().as_secs_f64()
    );
    let ctx = SessionContext::new();
    udf::register(&ctx, None);
    let table = MemTable::try_new(ledger.batch.schema(), vec![vec![ledger.batch.clone()]])?;
    ctx.register_table("transactions", Arc::new(table))?;

    let t = Instant::now();
    let feature_rows = features::compute_features(&ctx, "transactions", "TRUE").await?;
    let features_s = t.elapsed().as_secs_f64();
    let mut by_tenant = anomaly::group_by_tenant(feature_rows);

    let t = Instant::now();
    let models = anomaly::train(
        &by_tenant,
        &config.forest,
        format!("{DETECTOR_VERSION}-bench"),
    )?;
    let train_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let at = chrono::Utc::now();
    let anomalies = anomaly::detect(&mut by_tenant, &models, &config, None, at);
    let detect_s = t.elapsed().as_secs_f64();

    let detections: Vec<(String, String, Vec<String>)> = anomalies
        .iter()
        .map(|a| (a.tenant_id.clone(), a.subject.clone(), a.detectors.clone()))
        .collect();
    let card = Scorecard::score(&ledger.labels, &detections);
    println!(
        "stages: features (DataFusion) {features_s:.2} s, training {train_s:.2} s ({} tenant forests + cohort), scoring and rules {detect_s:.2} s; {:.0} transactions/s end to end",
        models.tenants.len(),
        rows as f64 / (features_s + train_s + detect_s)
    );
    println!();
    println!("| kind | injected | detected | recall |");
    println!("|---|---:|---:|---:|");
    for kind in Kind::ALL {
        let (found, total) = card
            .recall_by_kind
            .get(kind.name())
            .copied()
            .unwrap_or((0, 0));
        println!(
            "| {} | {total} | {found} | {:.3} |",
            kind.name(),
            if total == 0 {
                1.0
            } else {
                found as f64 / total as f64
            }
        );
    }
    println!();
    println!(
        "flags: {} ({} true, {} false) — precision {:.3}, recall {:.3}",
        detections.len(),
        card.true_positives,
        card.false_positives,
        card.precision(),
        card.recall()
    );
    println!(
        "false positives by detector: {:?}",
        card.false_positives_by_detector
    );
    for a in anomalies
        .iter()
        .filter(|a| {
            !ledger
                .labels
                .iter()
                .any(|l| l.tenant_id == a.tenant_id && l.subjects.contains(&a.subject))
        })
        .take(8)
    {
        println!(
            "  e.g. false positive [{}] {}",
            a.detectors.join(","),
            a.reason
        );
    }
    Ok(())
}

/// One ODDS-style set: features, labels, split.
struct OddsSet {
    name: String,
    dims: usize,
    train: Vec<Vec<f64>>,
    test: Vec<Vec<f64>>,
    test_labels: Vec<bool>,
}

fn read_set(path: &Path) -> Result<OddsSet> {
    let mut reader = csv::Reader::from_path(path)?;
    let headers = reader.headers()?.clone();
    let dims = headers.iter().filter(|h| h.starts_with('f')).count();
    let label_at = headers
        .iter()
        .position(|h| h == "label")
        .context("no label column")?;
    let split_at = headers
        .iter()
        .position(|h| h == "split")
        .context("no split column")?;
    let mut set = OddsSet {
        name: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        dims,
        train: Vec::new(),
        test: Vec::new(),
        test_labels: Vec::new(),
    };
    for record in reader.records() {
        let record = record?;
        let values: Vec<f64> = (0..dims)
            .map(|i| record[i].parse::<f64>())
            .collect::<Result<_, _>>()?;
        if &record[split_at] == "train" {
            set.train.push(values);
        } else {
            set.test.push(values);
            set.test_labels.push(&record[label_at] == "1");
        }
    }
    Ok(set)
}

/// AUROC by the rank-sum (Mann–Whitney) formula, ties counted half.
fn auroc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = rank;
        }
        i = j + 1;
    }
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

struct OddsResult {
    auroc: Vec<f64>,
    rows_per_s: f64,
    rows_per_s_2_threads: f64,
    fit_s: f64,
}

fn run_forest<const N: usize>(
    set: &OddsSet,
    extension_level: usize,
    runs: usize,
    kernel: Option<Kernel>,
) -> Result<OddsResult> {
    let to_array = |row: &Vec<f64>| -> [f64; N] {
        let mut array = [0.0; N];
        array.copy_from_slice(row);
        array
    };
    let train: Vec<[f64; N]> = set.train.iter().map(to_array).collect();
    let test: Vec<[f64; N]> = set.test.iter().map(to_array).collect();
    let options = ForestOptions {
        n_trees: 100,
        sample_size: 256.min(train.len()),
        max_tree_depth: None,
        extension_level: extension_level.min(N - 1),
    };
    let mut result = OddsResult {
        auroc: Vec::new(),
        rows_per_s: 0.0,
        rows_per_s_2_threads: 0.0,
        fit_s: 0.0,
    };
    for run in 0..runs {
        let t = Instant::now();
        let forest = Forest::from_slice(&train, &options)?;
        result.fit_s += t.elapsed().as_secs_f64() / runs as f64;
        // Scoring goes through the compiled forest, as in the detection job. It must give
        // the crate's scores of the rows as scored (rounded to f32 for axis-parallel forests,
        // as scikit-learn's trees do), to the last bits of the final 2^x, which LLVM may
        // compile as exp2 in an optimised crate and as powf in this unoptimised one.
        let flat = FlatForest::compile(&forest)?;
        let refs: Vec<&[f64]> = test.iter().map(|x| x.as_slice()).collect();
        let scores = flat.score_many(&refs);
        for (x, score) in test.iter().zip(&scores) {
            let as_scored = if flat.is_axis_parallel() {
                x.map(|v| f64::from(v as f32))
            } else {
                *x
            };
            let expected = forest.score(&as_scored);
            if (expected - score).abs() > 1e-12 * expected.abs() {
                bail!(
                    "{}: the compiled forest scored {x:?} {score}, the crate {expected}",
                    set.name
                );
            }
        }
        result.auroc.push(auroc(&scores, &set.test_labels));
        if run == 0 && extension_level == 0 {
            // Throughput as scikit-learn's is measured: the test rows tiled to at least
            // 200,000, scored repeatedly for at least a second, one thread.
            let tiled: Vec<&[f64]> = refs
                .iter()
                .copied()
                .cycle()
                .take(refs.len() * 200_000usize.div_ceil(refs.len()))
                .collect();
            let t = Instant::now();
            let mut scored = 0usize;
            let mut sink = 0.0;
            while t.elapsed().as_secs_f64() < 1.0 {
                sink += flat.score_many_with(&tiled, kernel).iter().sum::<f64>();
                scored += tiled.len();
            }
            std::hint::black_box(sink);
            result.rows_per_s = scored as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut scored = 0usize;
            while t.elapsed().as_secs_f64() < 1.0 {
                sink += flat.score_many_parallel(&tiled, 2).iter().sum::<f64>();
                scored += tiled.len();
            }
            std::hint::black_box(sink);
            result.rows_per_s_2_threads = scored as f64 / t.elapsed().as_secs_f64();
        }
    }
    Ok(result)
}

macro_rules! dispatch {
    ($set:expr, $level:expr, $runs:expr, $kernel:expr; $($n:literal)*) => {
        match $set.dims {
            $($n => run_forest::<$n>($set, $level, $runs, $kernel),)*
            other => bail!("{}: {other} dimensions are not compiled in; add them to dispatch!", $set.name),
        }
    };
}

fn forest_for(
    set: &OddsSet,
    level: usize,
    runs: usize,
    kernel: Option<Kernel>,
) -> Result<OddsResult> {
    // The sets' own widths (and ODDS http 3, cover 10); each width is a separate optimised
    // instantiation, so the list stays short.
    dispatch!(set, level, runs, kernel; 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 30 64 85)
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn odds(dir: &Path, runs: usize, kernel: Option<Kernel>) -> Result<()> {
    let sklearn: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(dir.join("sklearn.json"))
            .context("run benchmarks/anomaly/odds_sets.py first")?,
    )?;
    let reference: BTreeMap<String, &serde_json::Value> = sklearn
        .iter()
        .filter_map(|v| Some((v.get("name")?.as_str()?.to_string(), v)))
        .collect();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    println!(
        "| set | rows | dims | sklearn AUROC | EIF level 0 AUROC | Δ | EIF full AUROC | sklearn rows/s | EIF level 0 rows/s | speed-up | sklearn, 2 threads | EIF level 0, 2 threads | speed-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for path in paths {
        let set = read_set(&path)?;
        let standard = forest_for(&set, 0, runs, kernel)?;
        let extended = forest_for(&set, set.dims - 1, runs, kernel)?;
        let (auc0, sd0) = mean_sd(&standard.auroc);
        let (aucx, sdx) = mean_sd(&extended.auroc);
        let sk = reference.get(&set.name);
        let sk_auc = sk
            .and_then(|v| v.get("auroc_mean")?.as_f64())
            .unwrap_or(f64::NAN);
        let sk_rps = sk
            .and_then(|v| v.get("score_rows_per_s")?.as_f64())
            .unwrap_or(f64::NAN);
        let sk_rps_2 = sk
            .and_then(|v| v.get("score_rows_per_s_2_threads")?.as_f64())
            .unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} | {:.3} | {:.3} ± {:.3} | {:+.3} | {:.3} ± {:.3} | {:.0} | {:.0} | {:.1}× | {:.0} | {:.0} | {:.1}× |",
            set.name,
            set.train.len() + set.test.len(),
            set.dims,
            sk_auc,
            auc0,
            sd0,
            auc0 - sk_auc,
            aucx,
            sdx,
            sk_rps,
            standard.rows_per_s,
            standard.rows_per_s / sk_rps,
            sk_rps_2,
            standard.rows_per_s_2_threads,
            standard.rows_per_s_2_threads / sk_rps_2
        );
        let _ = standard.fit_s;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_of_perfect_random_and_inverted() {
        let labels = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        assert_eq!(auroc(&[0.5, 0.5, 0.5, 0.5], &labels), 0.5);
    }
}
