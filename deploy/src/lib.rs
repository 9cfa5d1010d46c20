//! Deployment assets, embedded in the binary so `verocta` can print or apply them without a
//! checkout: the compose file for real external services today; ClickHouse DDL, Kubernetes
//! manifests and streaming-engine job definitions as those features land.

/// An embedded deployment file.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// Path relative to `deploy/`.
    pub path: &'static str,
    /// File contents.
    pub contents: &'static str,
}

/// Every embedded asset.
pub const ASSETS: &[Asset] = &[Asset {
    path: "compose.yaml",
    contents: include_str!("../compose.yaml"),
}];

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
}
