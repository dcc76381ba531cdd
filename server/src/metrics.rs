//! What the server counts for Prometheus: requests by route and status with their
//! latency, the ingest rate, exports and their bytes, and store errors (served as
//! OpenMetrics text by `GET /metrics`, in `http::metrics`). Kept in the application state
//! (not a process-wide registry), so each server counts its own.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExportLabels {
    format: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FormatLabels {
    format: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    ingested: Counter,
    exports: Family<ExportLabels, Counter>,
    export_bytes: Family<FormatLabels, Counter>,
    store_errors: Family<KindLabels, Counter>,
    commits: Gauge,
}

/// Latency buckets from 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("certifyclouds");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests, by route", latency.clone());
        let ingested = Counter::default();
        registry.register("ingested_events", "Events accepted through POST /audit/events", ingested.clone());
        let exports = Family::<ExportLabels, Counter>::default();
        registry.register("exports", "Exports of the log, by format and outcome", exports.clone());
        let export_bytes = Family::<FormatLabels, Counter>::default();
        registry.register("export_bytes", "Bytes of exports sent, by format", export_bytes.clone());
        let store_errors = Family::<KindLabels, Counter>::default();
        registry.register("store_errors", "Store failures seen by requests, by kind", store_errors.clone());
        let commits = Gauge::default();
        registry.register(
            "store_commits",
            "Transactions committed to the log since start (appends that arrive together share one)",
            commits.clone(),
        );
        Metrics { registry, requests, latency, ingested, exports, export_bytes, store_errors, commits }
    }
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let method = method_label(method);
        let labels = RequestLabels { method: method.to_owned(), route: route.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        let labels = RouteLabels { method: method.to_owned(), route: route.to_owned() };
        self.latency.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn ingested(&self, events: u64) {
        self.ingested.inc_by(events);
    }

    pub fn export(&self, format: &str, outcome: &str, bytes: u64) {
        let labels = ExportLabels { format: format.to_owned(), outcome: outcome.to_owned() };
        self.exports.get_or_create(&labels).inc();
        self.export_bytes.get_or_create(&FormatLabels { format: format.to_owned() }).inc_by(bytes);
    }

    pub fn store_error(&self, kind: &str) {
        self.store_errors.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    /// Everything counted so far, as OpenMetrics text, with the store's commit count.
    pub fn render(&self, commits: u64) -> Result<String, std::fmt::Error> {
        self.commits.set(i64::try_from(commits).unwrap_or(i64::MAX));
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The method as a label: the standard ones by name, any other as `other`, so that
/// requests with made-up methods cannot add series without end (every label set is kept
/// for the life of the process).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|known| *known == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text() {
        let metrics = Metrics::default();
        metrics.request("GET", "/audit/entries", 200, Duration::from_millis(3));
        metrics.ingested(5);
        metrics.export("csv", "completed", 1024);
        metrics.store_error("overloaded");
        let text = metrics.render(7).expect("renders");
        assert!(
            text.contains(r#"certifyclouds_http_requests_total{method="GET",route="/audit/entries",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("certifyclouds_http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains("certifyclouds_ingested_events_total 5"), "{text}");
        assert!(text.contains(r#"certifyclouds_exports_total{format="csv",outcome="completed"} 1"#), "{text}");
        assert!(text.contains(r#"certifyclouds_export_bytes_total{format="csv"} 1024"#), "{text}");
        assert!(text.contains(r#"certifyclouds_store_errors_total{kind="overloaded"} 1"#), "{text}");
        assert!(text.contains("certifyclouds_store_commits 7"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::default();
        for i in 0..50 {
            metrics.request(&format!("FOO{i}"), "unmatched", 404, Duration::from_millis(1));
        }
        let text = metrics.render(0).expect("renders");
        assert!(
            text.contains(r#"certifyclouds_http_requests_total{method="other",route="unmatched",status="404"} 50"#),
            "{text}"
        );
        assert!(!text.contains("FOO"), "{text}");
    }
}
