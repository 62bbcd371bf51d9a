//! Counters and histograms behind `GET /metrics`, in Prometheus' text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::protocol::Traffic;
use emnist_data::setting::Setting;

/// Request latency buckets, seconds.
const LATENCY_BOUNDS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
/// Rows per model call.
const BATCH_BOUNDS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Everything `/metrics` reports.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    batch: Mutex<Histogram>,
    inflight: AtomicI64,
    images: AtomicU64,
    rejected: AtomicU64,
    abandoned: AtomicU64,
    load_failures: AtomicU64,
    connections: AtomicI64,
    closed: Mutex<BTreeMap<&'static str, u64>>,
    clamped_requests: AtomicU64,
    clamped_values: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            latency: Mutex::default(),
            batch: Mutex::new(Histogram::new(&BATCH_BOUNDS)),
            inflight: AtomicI64::new(0),
            images: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            load_failures: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            closed: Mutex::default(),
            clamped_requests: AtomicU64::new(0),
            clamped_values: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// A finished request: its protocol, HTTP status and latency.
    pub fn request(&self, protocol: Traffic, status: u16, seconds: f64) {
        let protocol = protocol.as_str();
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry((protocol, status)).or_default() += 1;
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(protocol)
            .or_insert_with(|| Histogram::new(&LATENCY_BOUNDS))
            .observe(seconds);
    }

    /// One model call on `rows` images.
    pub fn batch(&self, rows: usize) {
        self.batch.lock().unwrap_or_else(|e| e.into_inner()).observe(rows as f64);
        self.images.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// The in-flight gauge moves by `delta`.
    pub fn inflight(&self, delta: i64) {
        self.inflight.fetch_add(delta, Ordering::Relaxed);
    }

    /// A request turned away by back-pressure.
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Images left out of a model call because their request was gone (timed out, disconnected).
    pub fn abandoned(&self, images: usize) {
        self.abandoned.fetch_add(images as u64, Ordering::Relaxed);
    }

    /// A connection opened; the gauge goes down when the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self)
    }

    /// A connection the server closed (or refused) on its own, and why: `refused` (beyond
    /// `--max-connections`), `header_timeout`, `idle`, `shutdown_grace`.
    pub fn connection_closed(&self, reason: &'static str) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()).entry(reason).or_default() += 1;
    }

    /// Connections open now.
    pub fn open_connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Requests answered so far with `status` under `protocol`.
    pub fn count(&self, protocol: Traffic, status: u16) -> u64 {
        let protocol = protocol.as_str();
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().filter(|((p, s), _)| *p == protocol && *s == status).map(|(_, c)| c).sum()
    }

    /// A request answered after `values` of its inputs were clamped into range (`--clamp-inputs`).
    pub fn clamped(&self, values: usize) {
        self.clamped_requests.fetch_add(1, Ordering::Relaxed);
        self.clamped_values.fetch_add(values as u64, Ordering::Relaxed);
    }

    /// A model file (or the repository) that could not be loaded.
    pub fn load_failed(&self) {
        self.load_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Model files refused so far.
    pub fn load_failures(&self) -> u64 {
        self.load_failures.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP emnist_requests_total HTTP requests answered, by protocol and status.\n");
        out.push_str("# TYPE emnist_requests_total counter\n");
        for ((p, s), c) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "emnist_requests_total{{protocol=\"{p}\",status=\"{s}\"}} {c}");
        }
        out.push_str("# HELP emnist_request_duration_seconds Time from request to response, by protocol.\n");
        out.push_str("# TYPE emnist_request_duration_seconds histogram\n");
        for (p, h) in self.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            h.render(&mut out, "emnist_request_duration_seconds", &format!("protocol=\"{p}\""));
        }
        out.push_str("# HELP emnist_batch_size Images per model call (dynamic batching coalesces requests).\n");
        out.push_str("# TYPE emnist_batch_size histogram\n");
        self.batch.lock().unwrap_or_else(|e| e.into_inner()).render(&mut out, "emnist_batch_size", "");
        out.push_str("# HELP emnist_inflight_requests Requests being handled now.\n");
        out.push_str("# TYPE emnist_inflight_requests gauge\n");
        let _ = writeln!(out, "emnist_inflight_requests {}", self.inflight.load(Ordering::Relaxed));
        out.push_str("# HELP emnist_images_total Images run through the model.\n");
        out.push_str("# TYPE emnist_images_total counter\n");
        let _ = writeln!(out, "emnist_images_total {}", self.images.load(Ordering::Relaxed));
        out.push_str("# HELP emnist_model_load_failures_total Model files (or repository reads) that could not be served; what was serving kept serving.\n");
        out.push_str("# TYPE emnist_model_load_failures_total counter\n");
        let _ = writeln!(out, "emnist_model_load_failures_total {}", self.load_failures.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP emnist_rejected_total Requests answered 503 because {:#} was reached.",
            Setting::MaxInflight
        );
        out.push_str("# TYPE emnist_rejected_total counter\n");
        let _ = writeln!(out, "emnist_rejected_total {}", self.rejected.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP emnist_clamped_requests_total Requests answered with float inputs outside the pixel range clamped into it ({:#}).",
            Setting::ClampInputs
        );
        out.push_str("# TYPE emnist_clamped_requests_total counter\n");
        let _ = writeln!(out, "emnist_clamped_requests_total {}", self.clamped_requests.load(Ordering::Relaxed));
        out.push_str("# HELP emnist_clamped_values_total Input values clamped into the pixel range.\n");
        out.push_str("# TYPE emnist_clamped_values_total counter\n");
        let _ = writeln!(out, "emnist_clamped_values_total {}", self.clamped_values.load(Ordering::Relaxed));
        out.push_str("# HELP emnist_abandoned_images_total Images not run because their request was gone before its model call.\n");
        out.push_str("# TYPE emnist_abandoned_images_total counter\n");
        let _ = writeln!(out, "emnist_abandoned_images_total {}", self.abandoned.load(Ordering::Relaxed));
        out.push_str("# HELP emnist_open_connections Client connections open now.\n");
        out.push_str("# TYPE emnist_open_connections gauge\n");
        let _ = writeln!(out, "emnist_open_connections {}", self.open_connections());
        out.push_str(
            "# HELP emnist_connections_closed_total Connections the server closed or refused on its own, by reason.\n",
        );
        out.push_str("# TYPE emnist_connections_closed_total counter\n");
        for (reason, c) in self.closed.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "emnist_connections_closed_total{{reason=\"{reason}\"}} {c}");
        }
        out
    }
}

/// Holds the open-connections gauge up while a connection lives.
pub struct OpenConnection<'a>(&'a Metrics);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Protocol;

    const KSERVE: Traffic = Traffic::Http(Protocol::Kserve);

    #[test]
    fn renders_cumulative_buckets() {
        let m = Metrics::default();
        m.request(KSERVE, 200, 0.0003);
        m.request(KSERVE, 200, 0.002);
        m.request(KSERVE, 400, 0.002);
        m.batch(3);
        let text = m.render();
        assert!(text.contains("emnist_requests_total{protocol=\"kserve\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("emnist_request_duration_seconds_bucket{protocol=\"kserve\",le=\"0.0005\"} 1"), "{text}");
        assert!(text.contains("emnist_request_duration_seconds_bucket{protocol=\"kserve\",le=\"+Inf\"} 3"), "{text}");
        assert!(text.contains("emnist_batch_size_bucket{le=\"4\"} 1"), "{text}");
        assert!(text.contains("emnist_images_total 3"));
        assert_eq!(m.count(KSERVE, 400), 1);
    }
}
