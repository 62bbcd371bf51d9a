//! `emnist health`: whether a server answers ready (or live), for container health checks and
//! scripts that should not need curl in their image: one bounded GET of the KServe v2 health route.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use emnist_data::setting::Command;

/// What to check.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// The server's base URL (`http://host:port`).
    pub url: String,
    /// Ask `/v2/health/live` (the models can still run) instead of `/v2/health/ready` (requests
    /// are taken now).
    pub live: bool,
    /// The whole check's time limit, connecting included.
    pub timeout: Duration,
}

/// A passed check.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub url: String,
    pub route: String,
    pub latency_ms: f64,
}

/// Asks the server once; an error says why it is not healthy (unreachable, a status other than
/// 200 and the server's own reason).
pub fn check(cfg: &HealthConfig) -> Result<HealthReport> {
    let route = if cfg.live { "/v2/health/live" } else { "/v2/health/ready" };
    let base = cfg.url.trim_end_matches('/');
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(cfg.timeout)).build(),
    );
    let t0 = Instant::now();
    let mut resp = agent.get(format!("{base}{route}")).call().with_context(|| {
        format!("cannot reach `{base}` within {} ms: is {} running there?", cfg.timeout.as_millis(), Command::Serve)
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        let body = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
        let reason = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.trim().chars().take(200).collect());
        bail!("`{base}{route}` answered {status}: {}", if reason.is_empty() { "no reason given" } else { &reason });
    }
    Ok(HealthReport { url: base.to_string(), route: route.to_string(), latency_ms: t0.elapsed().as_secs_f64() * 1e3 })
}
