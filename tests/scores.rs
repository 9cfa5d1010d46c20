//! SpendScore v2 and streaming anomalies end to end on the real ledgers: `verocta up` loads
//! the GLA ledger, the followers score it and flag it; a second `up` into the same data
//! directory with another tenant's file rescores and judges only that tenant. The classic score
//! of the same GLA file is computed beside it, to pin down how the two differ.

use std::path::{Path, PathBuf};
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

fn sql(data_dir: &Path, query: &str) -> Vec<serde_json::Value> {
    verocta(&["sql", "--json", query], data_dir)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn ledger(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real")
        .join(name)
}

const METRICS: [&str; 6] = [
    "categorisation",
    "concentration",
    "budget",
    "redundancy",
    "spike",
    "waste",
];

#[test]
fn v2_scores_follow_the_lake_per_touched_tenant_and_differ_from_classic_for_stated_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let gla = ledger("gla-spend-2008-2013.csv");
    let gla = gla.to_str().unwrap();
    verocta(
        &[
            "up",
            "--exit-when-idle",
            "--currency",
            "GBP",
            "--tenant",
            "gla",
            gla,
        ],
        data_dir,
    );

    let scores = sql(
        data_dir,
        "SELECT * FROM spend_scores WHERE tenant_id = 'gla' ORDER BY window_days",
    );
    let windows: Vec<u64> = scores
        .iter()
        .map(|s| s["window_days"].as_u64().unwrap())
        .collect();
    assert_eq!(windows, [30, 90, 365]);
    // The same numbers as a query over the transactions table: the DataFusion aggregate.
    let score_sql = |days: u16| {
        format!(
            "spendscore_v2({days}, booked_date, booked_time_s, amount_minor, class, vendor, \
             category, transaction_id) AS s{days}"
        )
    };
    let by_query = sql(
        data_dir,
        &format!(
            "SELECT {}, {}, {} FROM transactions WHERE tenant_id = 'gla'",
            score_sql(30),
            score_sql(90),
            score_sql(365)
        ),
    );
    for score in &scores {
        let column = format!("s{}", score["window_days"]);
        assert_eq!(
            by_query[0][&column], score["score"],
            "{column}: {by_query:?}"
        );
    }
    for score in &scores {
        assert_eq!(score["model"], "v2");
        assert_eq!(score["currency"], "GBP");
        assert_eq!(
            score["period_end"], "2013-04-25",
            "the ledger's last spend day"
        );
        let value = score["score"].as_u64().unwrap();
        assert!(value <= 100);
        for metric in METRICS {
            let why = score[format!("{metric}_why")].as_str().unwrap();
            // Every sentence names its metric and, when scored, its rounded value.
            let mut name = metric.to_string();
            name[..1].make_ascii_uppercase();
            assert!(why.starts_with(&name), "{why}");
            if let Some(v) = score[metric].as_f64() {
                assert!(why.starts_with(&format!("{name} {v:.0}")), "{why}");
            }
        }
    }

    // Classic on the same file: its spike metric is zeroed by one payment ≥ 10× the median,
    // and with no category column every row is one category (frequency 0). v2 judges each
    // charge against its category's robust baseline and scores category coverage instead.
    let output = Command::new(env!("CARGO_BIN_EXE_verocta"))
        .args(["score", "--classic", "--json", gla])
        .output()
        .unwrap();
    assert!(output.status.success());
    let classic: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(classic["metrics"]["spike"], 0.0);
    assert_eq!(classic["metrics"]["frequency"], 0.0);
    let year = &scores[2];
    assert!(year["spike"].as_f64().unwrap() > 50.0, "{year}");
    assert!(year["categorisation"].as_f64().unwrap() > 90.0, "{year}");
    assert!(
        year["score"].as_u64().unwrap() > classic["score"].as_u64().unwrap(),
        "v2 {year} vs classic {classic}"
    );

    // A second run with another tenant's file: only that tenant is rescored, and the
    // streaming anomaly step judges only its rows.
    let gla_flags = sql(data_dir, "SELECT count(*) AS n FROM anomalies")[0]["n"]
        .as_u64()
        .unwrap();
    assert!(gla_flags > 0);
    let home_office = ledger("home-office-pcard-2020.csv");
    verocta(
        &[
            "up",
            "--exit-when-idle",
            "--currency",
            "GBP",
            "--tenant",
            "homeoffice",
            home_office.to_str().unwrap(),
        ],
        data_dir,
    );
    let per_tenant = sql(
        data_dir,
        "SELECT tenant_id, count(*) AS n, count(DISTINCT source_version) AS versions \
         FROM spend_scores GROUP BY tenant_id ORDER BY tenant_id",
    );
    assert_eq!(per_tenant.len(), 2, "{per_tenant:?}");
    assert_eq!(per_tenant[0]["tenant_id"], "gla");
    assert_eq!(
        per_tenant[0]["n"], 3,
        "gla was not rescored: {per_tenant:?}"
    );
    assert_eq!(per_tenant[1]["tenant_id"], "homeoffice");
    assert_eq!(per_tenant[1]["n"], 3);

    let flags = sql(
        data_dir,
        "SELECT tenant_id, count(*) AS n, count(DISTINCT subject) AS subjects \
         FROM anomalies GROUP BY tenant_id ORDER BY tenant_id",
    );
    assert_eq!(flags[0]["tenant_id"], "gla");
    assert_eq!(
        flags[0]["n"].as_u64().unwrap(),
        gla_flags,
        "gla flags untouched"
    );
    assert_eq!(
        flags[0]["n"], flags[0]["subjects"],
        "no subject flagged twice"
    );
    assert_eq!(flags[1]["tenant_id"], "homeoffice");
    assert_eq!(flags[1]["n"], flags[1]["subjects"]);

    // Both followers are caught up: another step writes nothing.
    let step: serde_json::Value = serde_json::from_str(
        verocta(&["scores", "--json"], data_dir)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(step["scores"], 0);
    assert_eq!(step["from_version"], step["to_version"]);
}
