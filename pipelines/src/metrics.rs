//! The metrics every component reports, the same names for all: rows in and out, bytes in,
//! errors, batches, batch latency and lag. Labels are the component name only — never the
//! tenant — so series stay few however many tenants there are.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters of one component (a connector, a worker, a sink).
#[derive(Debug, Default)]
pub struct ComponentMetrics {
    /// Component name, the one label of every series.
    pub component: String,
    /// Records read.
    pub rows_in: AtomicU64,
    /// Records written onward.
    pub rows_out: AtomicU64,
    /// Bytes read.
    pub bytes_in: AtomicU64,
    /// Records or operations that failed (dead letters included).
    pub errors: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Sum of batch commit latencies, microseconds.
    pub batch_latency_us_sum: AtomicU64,
    /// Records not yet committed downstream (set by whoever measures it).
    pub lag: AtomicU64,
}

impl ComponentMetrics {
    /// Fresh counters for a component.
    pub fn new(component: impl Into<String>) -> Self {
        ComponentMetrics {
            component: component.into(),
            ..Default::default()
        }
    }

    /// Adds one batch latency.
    pub fn record_batch_latency(&self, latency: Duration) {
        self.batch_latency_us_sum
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Prometheus text exposition of these counters.
    pub fn render_prometheus(&self) -> String {
        render_prometheus_all(&[self])
    }

    fn series(&self) -> [(&'static str, &'static str, &AtomicU64); 7] {
        [
            ("verocta_rows_in_total", "counter", &self.rows_in),
            ("verocta_rows_out_total", "counter", &self.rows_out),
            ("verocta_bytes_in_total", "counter", &self.bytes_in),
            ("verocta_errors_total", "counter", &self.errors),
            ("verocta_batches_total", "counter", &self.batches),
            (
                "verocta_batch_latency_microseconds_sum",
                "counter",
                &self.batch_latency_us_sum,
            ),
            ("verocta_lag_records", "gauge", &self.lag),
        ]
    }
}

/// Several components in one exposition: each family's TYPE line once, then one sample per
/// component (a repeated TYPE line would make the scrape invalid).
pub fn render_prometheus_all(components: &[&ComponentMetrics]) -> String {
    let mut out = String::new();
    let Some(first) = components.first() else {
        return out;
    };
    for (index, (name, kind, _)) in first.series().into_iter().enumerate() {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for component in components {
            let value = component.series()[index].2.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}{{component=\"{}\"}} {value}",
                component.component
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_label_per_series() {
        let metrics = ComponentMetrics::new("worker");
        metrics.rows_in.fetch_add(3, Ordering::Relaxed);
        let text = metrics.render_prometheus();
        assert!(text.contains("verocta_rows_in_total{component=\"worker\"} 3"));
        assert!(text.contains("# TYPE verocta_lag_records gauge"));
    }

    #[test]
    fn several_components_share_one_type_line_per_family() {
        let (a, b) = (
            ComponentMetrics::new("worker-0"),
            ComponentMetrics::new("clickhouse-sink"),
        );
        b.lag.store(7, Ordering::Relaxed);
        let text = render_prometheus_all(&[&a, &b]);
        assert_eq!(text.matches("# TYPE verocta_lag_records gauge").count(), 1);
        assert!(text.contains("verocta_lag_records{component=\"clickhouse-sink\"} 7"));
        assert!(text.contains("verocta_lag_records{component=\"worker-0\"} 0"));
    }
}
