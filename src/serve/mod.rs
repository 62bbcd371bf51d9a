//! `emnist serve`: one exported ONNX file behind three protocols (GraphPipe, TensorFlow Serving
//! REST, KServe v2), with dynamic batching, Prometheus metrics, back-pressure, body limits,
//! request timeouts and graceful shutdown. Only this module knows axum.

mod batch;
mod graphpipe;
mod kserve;
pub mod metrics;
mod tfserving;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub use batch::BatchConfig;
use batch::Batcher;
use metrics::Metrics;

use crate::onnx::ServedModel;
use crate::protocol::tensor::{to_images, InputError, InputTensor};
use crate::protocol::Outputs;

/// Server settings (the flags of `emnist serve`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub model: PathBuf,
    pub host: String,
    pub port: u16,
    /// The model's name in URLs (`/v1/models/{name}`, `/v2/models/{name}`).
    pub name: String,
    pub batch: BatchConfig,
    /// Largest request body, bytes (larger: 413).
    pub max_body: usize,
    /// Requests handled at once; more are answered 503 with Retry-After.
    pub max_inflight: usize,
    /// Longest a request may take, body included (longer: 408).
    pub request_timeout: Duration,
    /// Async worker threads (the model calls have their own `batch.workers`).
    pub threads: usize,
    /// tract (default) or onnxruntime.
    pub engine: crate::onnx::EngineKind,
}

impl ServeConfig {
    /// The defaults for a model file.
    pub fn new(model: PathBuf) -> ServeConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServeConfig {
            model,
            host: "127.0.0.1".into(),
            port: 9000,
            name: "emnist".into(),
            batch: BatchConfig { max_batch: 128, timeout: Duration::ZERO, workers: cores },
            max_body: 16 << 20,
            max_inflight: 1024,
            request_timeout: Duration::from_secs(30),
            threads: cores,
            engine: crate::onnx::EngineKind::Tract,
        }
    }
}

/// What the handlers share.
pub struct AppState {
    pub model: Arc<ServedModel>,
    /// Which engine runs the model (`tract` or `onnxruntime`).
    pub engine: &'static str,
    pub name: String,
    pub metrics: Arc<Metrics>,
    batcher: Batcher,
    inflight: AtomicUsize,
    max_inflight: usize,
    started: Instant,
}

type Shared = Arc<AppState>;

impl AppState {
    /// Wraps a loaded model, loads the engine that will run it, and starts the batcher (on the
    /// current runtime).
    pub fn new(model: ServedModel, cfg: &ServeConfig) -> Result<Shared> {
        let engine = crate::onnx::Engine::load(&cfg.engine, &model.path, &model.model, cfg.batch.workers)?;
        let model = Arc::new(model);
        let metrics = Arc::new(Metrics::default());
        let name = engine.name();
        let batcher = Batcher::start(Arc::new(engine), cfg.batch.clone(), metrics.clone());
        Ok(Arc::new(AppState {
            model,
            engine: name,
            name: cfg.name.clone(),
            metrics,
            batcher,
            inflight: AtomicUsize::new(0),
            max_inflight: cfg.max_inflight.max(1),
            started: Instant::now(),
        }))
    }

    /// Validates an input tensor and runs it through the batcher.
    pub async fn infer(&self, input: &InputTensor) -> Result<Outputs, ApiError> {
        let images = to_images(input).map_err(ApiError::bad_request)?;
        self.batcher.infer(images).await.map_err(|m| ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: m })
    }

    /// Requests being handled now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }

    /// The model's version string: the first 12 hex digits of its sha256.
    pub fn version(&self) -> String {
        self.model.sha256[..12].to_string()
    }

    fn check_name(&self, name: &str) -> Result<(), ApiError> {
        if name == self.name {
            Ok(())
        } else {
            Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!("model `{name}` is not served here; this server serves `{}`", self.name),
            })
        }
    }
}

/// An error answer: status and message (JSON `{"error": message}` unless a protocol says otherwise).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn bad_request(e: InputError) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: e.to_string() }
    }

    fn not_found(message: String) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// Every route; `/` takes GraphPipe's POSTs.
pub fn router(state: Shared, max_body: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route("/", post(graphpipe::handle).get(web::page))
        .route("/predict", post(web::predict))
        .route("/endpoints", get(index))
        .route("/v1/models/{*rest}", get(tfserving::get).post(tfserving::post))
        .route("/v2", get(kserve::server_metadata))
        .route("/v2/health/live", get(kserve::live))
        .route("/v2/health/ready", get(kserve::ready))
        .route("/v2/models/{*rest}", get(kserve::get).post(kserve::post))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .with_state(state)
}

/// Which protocol a request speaks, for metrics and logs.
fn protocol(method: &Method, path: &str) -> &'static str {
    match path {
        "/" if method == Method::POST => "graphpipe",
        "/metrics" => "metrics",
        p if p.starts_with("/v1/") => "tfserving",
        p if p == "/v2" || p.starts_with("/v2/") => "kserve",
        _ => "other",
    }
}

/// Counts, times and logs every request; turns requests away beyond `--max-inflight`.
async fn track(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let proto = protocol(req.method(), req.uri().path());
    let exempt = proto == "metrics" || req.uri().path().starts_with("/v2/health");
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let n = state.inflight.fetch_add(1, Ordering::AcqRel);
    state.metrics.inflight(1);
    let resp = if n >= state.max_inflight && !exempt {
        state.metrics.rejected();
        let mut r = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the server is at its limit of {} requests in flight; retry shortly", state.max_inflight),
        }
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else {
        next.run(req).await
    };
    state.inflight.fetch_sub(1, Ordering::AcqRel);
    state.metrics.inflight(-1);
    let secs = t0.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state.metrics.request(proto, status, secs);
    if status >= 500 {
        tracing::warn!(%method, %path, status, latency_ms = secs * 1e3, "request failed");
    } else {
        tracing::debug!(%method, %path, status, latency_ms = secs * 1e3, "request");
    }
    resp
}

async fn metrics_text(State(state): State<Shared>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

async fn index(State(state): State<Shared>) -> impl IntoResponse {
    Json(json!({
        "server": "emnist",
        "version": env!("CARGO_PKG_VERSION"),
        "model": state.name,
        "engine": state.engine,
        "uptime_s": state.started.elapsed().as_secs_f64(),
        "endpoints": {
            "graphpipe": "POST / (flatbuffers InferRequest or MetadataRequest)",
            "tfserving": [format!("GET /v1/models/{}", state.name), format!("GET /v1/models/{}/metadata", state.name), format!("POST /v1/models/{}:predict", state.name)],
            "kserve": ["GET /v2", "GET /v2/health/live", "GET /v2/health/ready", format!("GET /v2/models/{}", state.name), format!("GET /v2/models/{}/ready", state.name), format!("POST /v2/models/{}/infer", state.name)],
            "web": ["GET / (draw a character, see the top 5)", "POST /predict?k=5 (a PNG or JPEG: raw body or multipart field `image`)"],
            "metrics": "GET /metrics",
        }
    }))
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}: see GET /endpoints", uri.path()))
}

/// Binds, serves until SIGINT/SIGTERM, then finishes the requests in flight and returns.
/// `on_listen` hears the bound address (the port when `port` is 0).
pub fn serve(cfg: ServeConfig, on_listen: impl FnOnce(SocketAddr, &ServedModel)) -> Result<()> {
    let model = ServedModel::load(&cfg.model)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .thread_name("emnist-serve")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let state = AppState::new(model, &cfg)?;
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on `{addr}`: is another server using the port? pick another with `--port`"))?;
        let local = listener.local_addr()?;
        on_listen(local, &state.model);
        tracing::info!(addr = %local, model = %cfg.model.display(), classes = state.model.classes(), engine = state.engine, "serving");
        let app = router(state, cfg.max_body, cfg.request_timeout);
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("the server failed")?;
        tracing::info!("stopped: every request in flight was answered");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let int = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = int => {},
        _ = term => {},
    }
    tracing::info!("shutting down: no new connections, finishing the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_route() {
        assert_eq!(protocol(&Method::POST, "/"), "graphpipe");
        assert_eq!(protocol(&Method::GET, "/"), "other");
        assert_eq!(protocol(&Method::POST, "/v1/models/emnist:predict"), "tfserving");
        assert_eq!(protocol(&Method::GET, "/v2"), "kserve");
        assert_eq!(protocol(&Method::GET, "/v2/health/ready"), "kserve");
        assert_eq!(protocol(&Method::GET, "/metrics"), "metrics");
    }
}
