//! Prometheus metrics (`GET /metrics`), with the `prometheus-client` crate. Request figures
//! are recorded by the server loop for every request: a count by method, route template and
//! status, a latency histogram by method and route template (time until the response head is
//! ready; a long download's body is not in it), and bytes in and out. Route templates come from
//! the route table (`http::table`), which never puts a real clip or upload ID into a
//! label. Figures the
//! store and caches already keep (live clips and sessions, sweeps, cache hits, storage) are
//! read at scrape time by a collector rather than mirrored, so they cannot drift.

use crate::service::Qopy;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// The process's metrics registry and the request instruments.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    bytes_in: Counter,
    bytes_out: Counter,
    snapshots: SnapshotMetrics,
}

/// Figures of the database snapshots written to the bucket (`blob_store = "s3"`), recorded by
/// the snapshot task; registered only with that store. Cheap to clone (shared counters).
#[derive(Debug, Clone, Default)]
pub struct SnapshotMetrics {
    /// Snapshots written.
    pub written: Counter,
    /// Snapshots that failed (taken or uploaded).
    pub failed: Counter,
    /// Unix time in seconds of the last snapshot written.
    pub last_written: Gauge,
    /// Bytes of the last snapshot written.
    pub last_bytes: Gauge,
}

impl Metrics {
    /// A registry with the request instruments and a scrape-time collector over `qopy`.
    pub fn new(qopy: Arc<Qopy>) -> Metrics {
        let mut registry = Registry::with_prefix("qopy");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time until the response head is ready, by method and route template",
            latency.clone(),
        );
        registry.register(
            "http_request_bytes",
            "Request body bytes received",
            bytes_in.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes sent (as announced by each response)",
            bytes_out.clone(),
        );
        let snapshots = SnapshotMetrics::default();
        if qopy.config().blob_store == crate::config::BlobStore::S3 {
            registry.register(
                "database_snapshots",
                "Database snapshots written to the bucket",
                snapshots.written.clone(),
            );
            registry.register(
                "database_snapshot_failures",
                "Database snapshots that could not be taken or uploaded",
                snapshots.failed.clone(),
            );
            registry.register(
                "database_snapshot_last_written_seconds",
                "Unix time of the last database snapshot written to the bucket",
                snapshots.last_written.clone(),
            );
            registry.register(
                "database_snapshot_bytes",
                "Size of the last database snapshot written to the bucket",
                snapshots.last_bytes.clone(),
            );
        }
        registry.register_collector(Box::new(StoreCollector { qopy }));
        Metrics {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            snapshots,
        }
    }

    /// The instruments of the database snapshots.
    pub fn snapshots(&self) -> SnapshotMetrics {
        self.snapshots.clone()
    }

    /// Records one answered request (`method` as sent; see [`method_label`]).
    pub fn record(&self, method: &str, route: &'static str, status: u16, took: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// Counts request body bytes.
    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.inc_by(n);
    }

    /// Counts response body bytes.
    pub fn add_bytes_out(&self, n: u64) {
        self.bytes_out.inc_by(n);
    }

    /// The exposition text (Prometheus/OpenMetrics text format).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads the store's and caches' own figures at scrape time.
struct StoreCollector {
    qopy: Arc<Qopy>,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCollector")
    }
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    let m = enc.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

impl Collector for StoreCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let f = self.qopy.figures();
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        // An unreadable counter must not fail the whole scrape: it reads 0 (the core logs it).
        let read = |v: Option<u64>| v.unwrap_or(0);
        gauge(
            &mut enc,
            "clips",
            "Clips stored (live, or expired and not yet swept)",
            signed(f.clips as u64),
        )?;
        gauge(
            &mut enc,
            "upload_sessions",
            "Upload sessions in progress",
            signed(f.upload_sessions as u64),
        )?;
        counter(
            &mut enc,
            "clips_created",
            "Clips created",
            read(f.clips_created),
        )?;
        counter(
            &mut enc,
            "downloads",
            "Content downloads served",
            read(f.downloads),
        )?;
        counter(&mut enc, "sweeper_runs", "Sweeper runs", read(f.sweeps))?;
        counter(
            &mut enc,
            "cache_hits",
            "Clip metadata cache hits",
            f.cache_hits,
        )?;
        counter(
            &mut enc,
            "cache_misses",
            "Clip metadata cache misses",
            f.cache_misses,
        )?;
        gauge(
            &mut enc,
            "storage_used_bytes",
            "Bytes of stored content (clips and upload sessions)",
            signed(read(f.stored_bytes)),
        )?;
        gauge(
            &mut enc,
            "database_bytes",
            "Size of the database on disk",
            signed(f.database_bytes),
        )?;
        gauge(
            &mut enc,
            "dropbox_waiting_polls",
            "Long polls of drop boxes waiting for an arrival",
            signed(f.dropbox_waiting_polls as u64),
        )?;
        if let Some(free) = f.free_disk_bytes {
            gauge(
                &mut enc,
                "storage_free_bytes",
                "Free bytes on the data directory's filesystem",
                signed(free),
            )?;
        }
        Ok(())
    }
}

/// The method as a label: the standard ones by name, anything else `OTHER` (a label set
/// must stay small, and an extension method is client input).
fn method_label(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn odd_methods_are_other() {
        assert_eq!(super::method_label("BREW"), "OTHER");
    }
}
