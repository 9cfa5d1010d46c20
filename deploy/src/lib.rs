//! Deployment assets, embedded in the binary so `verocta` can print or apply them without a
//! checkout: the compose file for real external services, and the ClickHouse DDL (numbered
//! migrations, the rollup refresh, tenant provisioning) that `verocta clickhouse` renders for
//! the server it finds. Kubernetes manifests and streaming-engine job definitions as those
//! features land.

/// An embedded deployment file.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// Path relative to `deploy/`.
    pub path: &'static str,
    /// File contents.
    pub contents: &'static str,
}

/// Every embedded asset.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "compose.yaml",
        contents: include_str!("../compose.yaml"),
    },
    Asset {
        path: "clickhouse/rollup-refresh.sql",
        contents: include_str!("../clickhouse/rollup-refresh.sql"),
    },
    Asset {
        path: "clickhouse/tenant/provision.sql",
        contents: include_str!("../clickhouse/tenant/provision.sql"),
    },
    Asset {
        path: "clickhouse/tenant/deprovision.sql",
        contents: include_str!("../clickhouse/tenant/deprovision.sql"),
    },
    Asset {
        path: "clickhouse/tenant/provision-rbac.sql",
        contents: include_str!("../clickhouse/tenant/provision-rbac.sql"),
    },
    Asset {
        path: "clickhouse/tenant/user.xml",
        contents: include_str!("../clickhouse/tenant/user.xml"),
    },
    Asset {
        path: "clickhouse/example-queries.sql",
        contents: include_str!("../clickhouse/example-queries.sql"),
    },
];

/// ClickHouse migrations in the order they apply: (file name, contents). The number before
/// the first `_` is the migration's version.
pub const CLICKHOUSE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0000_schema_migrations.sql",
        include_str!("../clickhouse/migrations/0000_schema_migrations.sql"),
    ),
    (
        "0001_transactions.sql",
        include_str!("../clickhouse/migrations/0001_transactions.sql"),
    ),
    (
        "0002_scores.sql",
        include_str!("../clickhouse/migrations/0002_scores.sql"),
    ),
    (
        "0003_anomalies.sql",
        include_str!("../clickhouse/migrations/0003_anomalies.sql"),
    ),
    (
        "0004_forecasts.sql",
        include_str!("../clickhouse/migrations/0004_forecasts.sql"),
    ),
    (
        "0005_rollups.sql",
        include_str!("../clickhouse/migrations/0005_rollups.sql"),
    ),
];

/// Looks an asset up by its path under `deploy/`.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Service names declared in the compose file, in order (a line-based read: the file is ours
/// and keeps services as two-space-indented keys under `services:`).
pub fn compose_services() -> Vec<&'static str> {
    let compose = asset("compose.yaml").map_or("", |a| a.contents);
    let mut in_services = false;
    let mut services = Vec::new();
    for line in compose.lines() {
        if line.starts_with("services:") {
            in_services = true;
        } else if in_services
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
        {
            services.push(line.trim().trim_end_matches(':'));
        } else if !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty() {
            in_services = false;
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_declares_every_external_service_bound_to_loopback() {
        assert_eq!(
            compose_services(),
            ["postgres", "clickhouse", "kafka", "minio"]
        );
        let compose = asset("compose.yaml").unwrap().contents;
        for line in compose
            .lines()
            .filter(|l| l.trim_start().starts_with("ports:"))
        {
            assert!(
                line.contains("\"127.0.0.1:"),
                "port not bound to loopback: {line}"
            );
        }
    }

    #[test]
    fn every_clickhouse_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/clickhouse/migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = CLICKHOUSE_MIGRATIONS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            embedded, on_disk,
            "add new migrations to CLICKHOUSE_MIGRATIONS"
        );
        for (name, contents) in CLICKHOUSE_MIGRATIONS {
            let on_disk = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            assert_eq!(*contents, on_disk);
        }
    }
}
