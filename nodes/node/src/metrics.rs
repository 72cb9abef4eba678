//! Node metrics on the Prometheus project's client: each node registers its counters,
//! gauges and histograms in a [`Registry`] once, and `/metrics` renders it.

pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry's metrics in OpenMetrics text (which Prometheus scrapes).
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// A histogram of durations in seconds: 100 µs to about 100 s, doubling.
pub fn seconds() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        1e-4, 2.0, 20,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let mut registry = Registry::default();
        let counter = Counter::<u64>::default();
        let gauge = Gauge::<i64>::default();
        let histogram = seconds();
        registry.register("zg_test_bytes", "Bytes.", counter.clone());
        registry.register("zg_test_files", "Files.", gauge.clone());
        registry.register("zg_test_write_seconds", "Writes.", histogram.clone());
        counter.inc_by(5);
        gauge.set(3);
        histogram.observe(0.25);
        let text = render(&registry);
        assert!(text.contains("zg_test_bytes_total 5\n"), "{text}");
        assert!(text.contains("zg_test_files 3\n"), "{text}");
        assert!(text.contains("zg_test_write_seconds_count 1\n"), "{text}");
        assert!(text.contains("zg_test_write_seconds_sum 0.25\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
