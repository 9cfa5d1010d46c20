//! Forecast accuracy and speed on real monthly series, side by side with the Python reference
//! (`benchmarks/forecast/reference.py`: Prophet, statsforecast AutoETS, seasonal naive).
//!
//! ```text
//! forecast-bench gla --data-dir DIR --tenant T --out SERIES_DIR [--top 6]
//!     # writes the tenant's top categories' monthly spend (from the lake) as SERIES_DIR/gla_<category>.csv
//! forecast-bench run --series SERIES_DIR [--reference forecast-ref.json] [--json]
//! ```
//!
//! `run` follows the reference's protocol exactly: the last h points are held out (h = 12 when
//! the series has ≥ 36 points, else max(1, n/4)); the models see the rest; MASE is scaled by
//! the training part's seasonal-naive MAE (lag = season, or 1 when the training part is not
//! longer than a season); sMAPE in percent. Verocta's own choice (`verocta`: a backtest on
//! the training part picks seasonal naive, ETS or MSTL+ETS) is reported beside each augurs
//! method on its own, with fit+predict wall time (selection included), one thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use verocta_lakehouse::{Lake, TRANSACTIONS_TABLE};
use verocta_models::forecast::{self, Granularity, INTERVAL_LEVEL, Method};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Export a tenant's top categories' monthly spend from the lake as series CSVs.
    Gla {
        /// Data directory holding lake/ (e.g. after `verocta up` on the GLA ledger).
        #[arg(long)]
        data_dir: PathBuf,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Output directory (the reference's series directory).
        #[arg(long)]
        out: PathBuf,
        /// Categories to export, by total spend.
        #[arg(long, default_value_t = 6)]
        top: usize,
    },
    /// Hold out, fit, forecast and score every series in a directory.
    Run {
        /// Directory of `<name>.csv` files (`period,value`) and optional `series.json`.
        #[arg(long)]
        series: PathBuf,
        /// The reference's results, to print side by side.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Print one JSON object per (series, model) instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(serde::Deserialize)]
struct SeriesMeta {
    name: String,
    season_length: usize,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Outcome {
    series: String,
    model: String,
    mase: Option<f64>,
    smape: Option<f64>,
    fit_predict_seconds: Option<f64>,
    h: usize,
    train_len: usize,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Gla {
            data_dir,
            tenant,
            out,
            top,
        } => export_gla(&data_dir, &tenant, &out, top),
        Command::Run {
            series,
            reference,
            json,
        } => run(&series, reference.as_deref(), json),
    }
}

fn export_gla(data_dir: &Path, tenant: &str, out: &Path, top: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let lake = Lake::in_data_dir(data_dir);
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("tenant ids are [A-Za-z0-9._-]");
    }
    let batches = runtime.block_on(lake.sql(&forecast::daily_spend_sql(
        TRANSACTIONS_TABLE,
        &format!("tenant_id = '{tenant}'"),
    )))?;
    let rows = forecast::daily_spend_from_batches(&batches)?;
    let mut monthly: Vec<forecast::History> = forecast::histories(&rows, 1)
        .into_iter()
        .filter(|h| h.granularity == Granularity::Month && !h.category.is_empty())
        .collect();
    monthly.sort_by(|a, b| {
        let total = |h: &forecast::History| h.values.iter().sum::<f64>();
        total(b).total_cmp(&total(a))
    });
    std::fs::create_dir_all(out)?;
    for history in monthly.iter().take(top) {
        let path = out.join(format!("gla_{}.csv", history.category));
        let mut text = String::from("period,value\n");
        for (i, value) in history.values.iter().enumerate() {
            let period = history.granularity.add(history.start, i);
            text.push_str(&format!("{},{value}\n", period.format("%Y-%m")));
        }
        std::fs::write(&path, text)?;
        eprintln!("{} ({} months)", path.display(), history.values.len());
    }
    Ok(())
}

fn read_series(path: &Path) -> anyhow::Result<Vec<f64>> {
    let mut reader = csv::Reader::from_path(path)?;
    let mut values = Vec::new();
    for record in reader.records() {
        let record = record?;
        let value: f64 = record
            .get(1)
            .context("missing value column")?
            .parse()
            .with_context(|| format!("{}: bad value", path.display()))?;
        values.push(value);
    }
    Ok(values)
}

fn run(dir: &Path, reference: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let seasons: BTreeMap<String, usize> = match std::fs::read(dir.join("series.json")) {
        Ok(bytes) => serde_json::from_slice::<Vec<SeriesMeta>>(&bytes)?
            .into_iter()
            .map(|m| (m.name, m.season_length))
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    // Warm-up, untimed (as the reference does).
    let warm: Vec<f64> = (0..48).map(|t| 10.0 + (t % 12) as f64).collect();
    let _ = forecast::choose_and_forecast(&warm[..36], 12, 12);
    let mut outcomes = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let y = read_series(file)?;
        let m = seasons.get(&name).copied().unwrap_or(12);
        let n = y.len();
        let h = if n >= 36 { 12 } else { (n / 4).max(1) };
        if n <= h {
            continue;
        }
        let (train, test) = (&y[..n - h], &y[n - h..]);
        let mut record = |model: &str, point: Option<Vec<f64>>, seconds: f64| {
            let (mase, smape) = match &point {
                Some(p) => (
                    forecast::mase(test, p, train, m),
                    Some(forecast::smape(test, p)),
                ),
                None => (None, None),
            };
            outcomes.push(Outcome {
                series: name.clone(),
                model: model.into(),
                mase,
                smape,
                fit_predict_seconds: point.as_ref().map(|_| seconds),
                h,
                train_len: train.len(),
            });
        };
        let started = Instant::now();
        let chosen = forecast::choose_and_forecast(train, m, h);
        let seconds = started.elapsed().as_secs_f64();
        record("verocta", chosen.map(|c| c.prediction.point), seconds);
        for method in [Method::Ets, Method::MstlEts] {
            let started = Instant::now();
            let point = forecast::fit_predict(method, train, m, h, INTERVAL_LEVEL)
                .ok()
                .map(|p| p.point);
            record(method.as_str(), point, started.elapsed().as_secs_f64());
        }
    }
    if let Some(path) = reference {
        let reference: Vec<Outcome> = serde_json::from_slice(&std::fs::read(path)?)?;
        outcomes.extend(reference);
    }
    if json {
        for outcome in &outcomes {
            println!("{}", serde_json::to_string(outcome)?);
        }
        return Ok(());
    }
    print_table(&outcomes);
    Ok(())
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn print_table(outcomes: &[Outcome]) {
    let models = ["verocta", "ets", "mstl_ets", "prophet", "autoets", "snaive"];
    let mut by_series: BTreeMap<&str, BTreeMap<&str, &Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_series
            .entry(o.series.as_str())
            .or_default()
            .insert(o.model.as_str(), o);
    }
    print!("{:<28} {:>4}", "series (MASE)", "h");
    for m in models {
        print!(" {m:>9}");
    }
    println!();
    let cell = |o: Option<&&Outcome>| {
        o.and_then(|o| o.mase)
            .map_or("-".to_string(), |v| format!("{v:.3}"))
    };
    for (series, row) in &by_series {
        let h = row.values().next().map_or(0, |o| o.h);
        print!("{series:<28} {h:>4}");
        for m in models {
            print!(" {:>9}", cell(row.get(m)));
        }
        println!();
    }
    println!();
    println!(
        "{:<10} {:>8} {:>8} {:>10} {:>12} {:>8}",
        "model", "med MASE", "med sMAPE", "beats snaive", "fit+predict s", "series"
    );
    for m in models {
        let rows: Vec<&Outcome> = outcomes.iter().filter(|o| o.model == m).collect();
        if rows.is_empty() {
            continue;
        }
        let beats = rows
            .iter()
            .filter(|o| {
                let baseline = by_series
                    .get(o.series.as_str())
                    .and_then(|r| r.get("snaive"))
                    .and_then(|b| b.mase);
                matches!((o.mase, baseline), (Some(a), Some(b)) if a < b)
            })
            .count();
        let seconds: f64 = rows.iter().filter_map(|o| o.fit_predict_seconds).sum();
        println!(
            "{:<10} {:>8} {:>8} {:>10} {:>12.3} {:>8}",
            m,
            median(rows.iter().filter_map(|o| o.mase).collect())
                .map_or("-".into(), |v| format!("{v:.3}")),
            median(rows.iter().filter_map(|o| o.smape).collect())
                .map_or("-".into(), |v| format!("{v:.2}")),
            format!("{beats}/{}", rows.len()),
            seconds,
            rows.len()
        );
    }
    print_speedups(&by_series, &models);
}

/// How many times faster than Prophet each of our models is, on the series both fitted: in
/// total, in total without the series Prophet took longest on (one slow optimisation can
/// dominate its total), and per series (median and worst).
fn print_speedups(by_series: &BTreeMap<&str, BTreeMap<&str, &Outcome>>, models: &[&str]) {
    let seconds = |row: &BTreeMap<&str, &Outcome>, model: &str| {
        row.get(model).and_then(|o| o.fit_predict_seconds)
    };
    let Some(slowest) = by_series
        .iter()
        .filter_map(|(series, row)| Some((*series, seconds(row, "prophet")?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(series, _)| series)
    else {
        return;
    };
    println!();
    println!(
        "speed vs Prophet (× faster, series both fitted; without {slowest}: Prophet's slowest)"
    );
    for &model in models
        .iter()
        .filter(|m| !["prophet", "autoets", "snaive"].contains(m))
    {
        let pairs: Vec<(&str, f64, f64)> = by_series
            .iter()
            .filter_map(|(series, row)| {
                Some((*series, seconds(row, model)?, seconds(row, "prophet")?))
            })
            .filter(|(_, ours, _)| *ours > 0.0)
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let ratio_of_sums = |keep: &dyn Fn(&str) -> bool| {
            let (ours, prophet) = pairs
                .iter()
                .filter(|(series, ..)| keep(series))
                .fold((0.0, 0.0), |(a, b), (_, o, p)| (a + o, b + p));
            prophet / ours
        };
        let per_series: Vec<f64> = pairs
            .iter()
            .map(|(_, ours, prophet)| prophet / ours)
            .collect();
        let worst = per_series.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{model:<10} total {:>6.1}  without {slowest} {:>6.1}  per series: median {:>6.1}, worst {:>5.1}  ({} series)",
            ratio_of_sums(&|_| true),
            ratio_of_sums(&|series| series != slowest),
            median(per_series).unwrap_or(f64::NAN),
            worst,
            pairs.len()
        );
    }
}
