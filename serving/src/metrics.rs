//! Request metrics in the Prometheus text format, served at `/metrics`.
//!
//! Two series families, both labelled only by the route *template* (`/v1/tenants/{tenant_id}`,
//! never the concrete path), the method and the status, so cardinality is bounded by the
//! route table — no tenant, user or id labels:
//! - `verocta_http_requests_total{route, method, status}`: a counter;
//! - `verocta_http_request_duration_seconds{route, method}`: a histogram.
//!
//! A hand-written registry keeps the dependency set small; the format is the stable
//! text exposition format 0.0.4.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    bucket_counts: Vec<u64>,
    count: u64,
    sum_seconds: f64,
}

#[derive(Debug, Default)]
struct Series {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
}

/// Renders more exposition text on each scrape.
pub type MetricsSource = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

/// The process's request metrics, plus whatever the embedding process adds.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    extra: Option<MetricsSource>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("extra", &self.extra.is_some())
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Request metrics followed by `extra`'s text on every render.
    pub fn with_extra(extra: Option<MetricsSource>) -> Self {
        Metrics {
            series: Mutex::default(),
            extra,
        }
    }

    /// Records one finished request.
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *series
            .requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let histogram = series
            .durations
            .entry((route.to_string(), method.to_string()))
            .or_insert_with(|| Histogram {
                bucket_counts: vec![0; BUCKETS.len()],
                ..Histogram::default()
            });
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(histogram.bucket_counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_seconds += seconds;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut text = String::new();
        text.push_str("# HELP verocta_http_requests_total HTTP requests by route template, method and status.\n");
        text.push_str("# TYPE verocta_http_requests_total counter\n");
        for ((route, method, status), count) in &series.requests {
            let _ = writeln!(
                text,
                "verocta_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        text.push_str("# HELP verocta_http_request_duration_seconds HTTP request latency by route template and method.\n");
        text.push_str("# TYPE verocta_http_request_duration_seconds histogram\n");
        for ((route, method), histogram) in &series.durations {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            for (bound, count) in BUCKETS.iter().zip(&histogram.bucket_counts) {
                let _ = writeln!(
                    text,
                    "verocta_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                text,
                "verocta_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                text,
                "verocta_http_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum_seconds
            );
            let _ = writeln!(
                text,
                "verocta_http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        if let Some(extra) = &self.extra {
            text.push_str(&extra());
        }
        text
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe("/v1/me", "GET", 200, Duration::from_millis(3));
        metrics.observe("/v1/me", "GET", 401, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains(
            "verocta_http_requests_total{route=\"/v1/me\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.05\"} 2"));
        assert!(text.contains(
            "verocta_http_request_duration_seconds_count{route=\"/v1/me\",method=\"GET\"} 2"
        ));
    }
}
