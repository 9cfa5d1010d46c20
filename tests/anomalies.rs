//! `verocta anomalies` end to end on the real GLA ledger: the embedded stack loads it into
//! Delta, the job flags it, and a re-run with the saved models flags exactly the same.

use std::path::Path;
use std::process::{Command, Stdio};

fn verocta(args: &[&str], data_dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_verocta"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn,buoyant_kernel::snapshot=off")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "verocta {args:?} failed");
    String::from_utf8(output.stdout).unwrap()
}

fn lines(output: &str) -> Vec<serde_json::Value> {
    output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn anomalies_on_the_gla_ledger_are_explained_and_reproducible() {
    let ledger =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/gla-spend-2008-2013.csv");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let ledger = ledger.to_str().unwrap();
    verocta(
        &["up", "--exit-when-idle", "--currency", "GBP", ledger],
        data_dir,
    );
    // `up` already ran the streaming path once (a full run, which trained and saved models).
    let streamed = lines(&verocta(
        &["sql", "--json", "SELECT count(*) AS n FROM anomalies"],
        data_dir,
    ));
    let streamed = streamed[0]["n"].as_u64().unwrap() as usize;
    assert!(streamed > 0);

    let first = lines(&verocta(&["anomalies", "--json", "--retrain"], data_dir));
    let summary = &first[0];
    assert!(
        summary["transactions"].as_u64().unwrap() > 20_000,
        "{summary}"
    );
    assert_eq!(summary["trained"], true);
    // Nothing new since `up`: the same transactions version was consumed.
    assert_eq!(summary["from_version"], summary["to_version"], "{summary}");
    // One public body with years of history gets its own forest.
    assert_eq!(summary["tenant_models"], 1);
    let anomalies = &first[1..];
    assert_eq!(
        summary["anomalies"].as_u64().unwrap() as usize,
        anomalies.len()
    );
    assert!(!anomalies.is_empty());
    // Flags are a small share of the ledger, not a flood (2,223 of ~28k rows today: public
    // bodies pay many large, round, first-time invoices; thresholds are configurable).
    let transactions = summary["transactions"].as_u64().unwrap() as usize;
    assert!(
        anomalies.len() * 10 < transactions,
        "{} flags",
        anomalies.len()
    );
    for anomaly in anomalies {
        assert!(
            !anomaly["detectors"].as_array().unwrap().is_empty(),
            "{anomaly}"
        );
        assert!(anomaly["reason"].as_str().unwrap().len() > 20, "{anomaly}");
        let score = anomaly["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{anomaly}");
        assert_eq!(anomaly["currency"], "GBP");
    }

    // The table holds the same rows, readable with SQL.
    let counted = lines(&verocta(
        &["sql", "--json", "SELECT count(*) AS n FROM anomalies"],
        data_dir,
    ));
    assert_eq!(counted[0]["n"].as_u64().unwrap() as usize, anomalies.len());

    // The saved models are reused: same version, same flags.
    let second = lines(&verocta(&["anomalies", "--json"], data_dir));
    assert_eq!(second[0]["trained"], false);
    assert_eq!(second[0]["model_version"], summary["model_version"]);
    let strip = |rows: &[serde_json::Value]| -> Vec<serde_json::Value> {
        rows.iter()
            .map(|row| {
                let mut row = row.clone();
                row.as_object_mut().unwrap().remove("detected_at");
                row
            })
            .collect()
    };
    assert_eq!(strip(&second[1..]), strip(anomalies));
}
