//! `emnist serve`: one exported ONNX file behind three protocols (GraphPipe, TensorFlow Serving
//! REST, KServe v2), with dynamic batching, Prometheus metrics, back-pressure, body limits,
//! request timeouts and graceful shutdown (on a [`Shutdown`] request: the executable turns
//! SIGINT/SIGTERM into one). Only this module knows axum and hyper.

pub mod access;
mod batch;
pub mod body;
pub mod conn;
pub mod defaults;
mod fds;
mod graphpipe;
pub mod grpc;
mod kserve;
pub mod metrics;
pub mod payload;
pub mod repo;
pub mod request_id;
mod tfserving;
pub mod tls;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

pub use batch::{BatchConfig, BatchError};
pub use conn::ConnConfig;
use metrics::Metrics;
use repo::{Catalog, Loader, ReloadReport, StatusTable, Version, VersionState};

use crate::protocol::tensor::{Images, InputError};
use crate::protocol::{Protocol, Traffic};
use emnist_data::setting::Setting;
use emnist_data::shutdown::Shutdown;
use emnist_model::contract::Outputs;
use emnist_runtime::{ModelOptions, ServedModel};
use payload::{PayloadConfig, PayloadLog};

/// Server settings (the flags of `emnist serve`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The one file to serve (as model `name`, version 1), unless `repository` is set.
    pub model: PathBuf,
    /// A model repository, `<dir>/<name>/<version>/model.onnx`, polled for changes.
    pub repository: Option<PathBuf>,
    /// How often the repository is re-read (`None`: only on request, e.g. SIGHUP).
    pub poll: Option<Duration>,
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
    /// Connection limits and timeouts, and the shutdown grace period.
    pub conn: ConnConfig,
    /// Async worker threads (the model calls have their own `batch.workers`).
    pub threads: usize,
    /// What runs each model: `Auto` (the faster of tract and onnxruntime by a trial at load; the
    /// default here as for `emnist serve`), tract, or onnxruntime.
    pub engine: emnist_runtime::EngineKind,
    /// KServe v2 / Open Inference Protocol over gRPC on this port too (0 picks a free one).
    pub grpc_port: Option<u16>,
    /// Origins whose pages may call the server from a browser (`*`: any); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// Bearer tokens every route but health requires; `None`: open.
    pub tokens: Option<access::Tokens>,
    /// HTTPS and gRPC over TLS with this certificate and key; `None`: plain.
    pub tls: Option<tls::TlsFiles>,
    /// How to read the file (input scale, transposition, output kind, labels).
    pub options: ModelOptions,
    /// Keep a payload log of what was served, and take feedback on it; `None`: no log.
    pub log: Option<PayloadConfig>,
}

impl ServeConfig {
    /// The defaults for a model file.
    pub fn new(model: PathBuf) -> ServeConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ServeConfig {
            model,
            repository: None,
            poll: Some(Duration::from_secs_f64(defaults::POLL_SECS)),
            host: defaults::HOST.into(),
            port: defaults::PORT,
            name: defaults::NAME.into(),
            batch: BatchConfig {
                max_batch: defaults::MAX_BATCH as usize,
                timeout: Duration::from_micros(defaults::BATCH_TIMEOUT_US),
                workers: cores,
            },
            max_body: defaults::MAX_BODY,
            max_inflight: defaults::MAX_INFLIGHT as usize,
            request_timeout: Duration::from_millis(defaults::REQUEST_TIMEOUT_MS),
            conn: ConnConfig::default(),
            threads: cores,
            engine: emnist_runtime::EngineKind::auto(),
            grpc_port: None,
            cors_origins: Vec::new(),
            tokens: None,
            tls: None,
            options: ModelOptions::default(),
            log: None,
        }
    }
}

/// What the handlers share.
pub struct AppState {
    /// The model requests get when they name none (`--name`, else the first by name).
    pub name: String,
    pub metrics: Arc<Metrics>,
    catalog: std::sync::RwLock<Arc<Catalog>>,
    status: std::sync::Mutex<StatusTable>,
    loader: Loader,
    repository: Option<PathBuf>,
    /// Repository folders skipped as not versions, logged when first seen.
    skipped: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
    reloading: tokio::sync::Mutex<()>,
    inflight: AtomicUsize,
    max_inflight: usize,
    max_body: usize,
    request_timeout: Duration,
    shutting_down: AtomicBool,
    started: Instant,
    tokens: Option<access::Tokens>,
    cors_origins: Vec<String>,
    payload: Option<PayloadLog>,
}

type Shared = Arc<AppState>;

impl AppState {
    fn empty(cfg: &ServeConfig, payload: Option<PayloadLog>) -> AppState {
        let metrics = Arc::new(Metrics::default());
        AppState {
            name: cfg.name.clone(),
            loader: Loader {
                engine: cfg.engine.clone(),
                batch: cfg.batch.clone(),
                options: cfg.options.clone(),
                metrics: metrics.clone(),
            },
            metrics,
            catalog: Default::default(),
            status: Default::default(),
            repository: cfg.repository.clone(),
            skipped: Default::default(),
            reloading: tokio::sync::Mutex::new(()),
            inflight: AtomicUsize::new(0),
            max_inflight: cfg.max_inflight.max(1),
            max_body: cfg.max_body,
            request_timeout: cfg.request_timeout,
            shutting_down: AtomicBool::new(false),
            started: Instant::now(),
            tokens: cfg.tokens.clone(),
            cors_origins: cfg.cors_origins.clone(),
            payload,
        }
    }

    /// One loaded model served as `cfg.name`, version 1: loads the engine that will run it, warms
    /// it up with one inference, and starts its batcher (on the current runtime); opens the
    /// payload log of `cfg.log`.
    pub fn new(model: ServedModel, cfg: &ServeConfig) -> Result<Shared> {
        AppState::serving(model, cfg, open_log(cfg)?)
    }

    /// [`AppState::new`] with the payload log already open.
    fn serving(model: ServedModel, cfg: &ServeConfig, payload: Option<PayloadLog>) -> Result<Shared> {
        let state = AppState::empty(cfg, payload);
        let version = state.loader.serve(&cfg.name, 1, model)?;
        let mut catalog = Catalog::default();
        catalog.models.entry(cfg.name.clone()).or_default().insert(1, Arc::new(version));
        let catalog = Arc::new(catalog);
        if let Some(log) = &state.payload {
            log.note_models(&catalog)?;
        }
        *state.catalog.write().unwrap_or_else(|e| e.into_inner()) = catalog;
        state.status_table().insert((cfg.name.clone(), 1), (VersionState::Available, None));
        Ok(Arc::new(state))
    }

    /// Every version of the repository at `cfg.repository` loaded and warmed up (on the current
    /// runtime); files that cannot be served are logged and left out, but at least one must load.
    pub async fn with_repository(cfg: &ServeConfig) -> Result<Shared> {
        let dir = cfg.repository.clone().context("no model repository given")?;
        repo::check_repository(&dir)?;
        let state = Arc::new(AppState::empty(cfg, open_log(cfg)?));
        let report = state.reload().await;
        if state.catalog().models.is_empty() {
            let why: Vec<String> = report.failed.iter().map(|(n, v, e)| format!("{n}/{v}: {e}")).collect();
            anyhow::bail!("no model in `{}` can be served: {}", dir.display(), why.join("; "));
        }
        // At start, a model list that cannot be written stops the server (a reload only warns).
        if let Some(log) = &state.payload {
            log.note_models(&state.catalog())?;
        }
        Ok(state)
    }

    /// Re-reads the repository: new and changed versions are loaded and warmed up beside what is
    /// serving, then swapped in at once; removed versions are dropped (unloaded when their last
    /// request is answered); a file that cannot be served is logged, counted, and what was
    /// serving keeps serving. One reload at a time; without a repository, nothing happens.
    pub async fn reload(self: &Arc<Self>) -> ReloadReport {
        let Some(dir) = self.repository.clone() else { return ReloadReport::default() };
        let _one = self.reloading.lock().await;
        let state = self.clone();
        let handle = tokio::runtime::Handle::current();
        let work = tokio::task::spawn_blocking(move || -> Result<ReloadReport> {
            let _rt = handle.enter();
            let scan = repo::scan(&dir)?;
            {
                let mut logged = state.skipped.lock().unwrap_or_else(|e| e.into_inner());
                for (path, why) in scan.skipped.iter().filter(|(p, _)| !logged.contains(*p)) {
                    tracing::warn!(path = %path.display(), "{why}; skipped");
                }
                *logged = scan.skipped.into_keys().collect();
            }
            let found = scan.found;
            let current = state.catalog();
            for key in found.keys() {
                if !current.models.get(&key.0).is_some_and(|v| v.contains_key(&key.1)) {
                    state.status_table().entry(key.clone()).or_insert((VersionState::Loading, None));
                }
            }
            let mut status = state.status_table().clone();
            let (next, report) = repo::next_catalog(&current, &found, &mut status, |n, v, path, labels| {
                state.loader.load(n, v, path, labels)
            });
            let next = Arc::new(next);
            if let Some(log) = &state.payload {
                if let Err(e) = log.note_models(&next) {
                    tracing::warn!(error = %format!("{e:#}"), "the payload log's model list is behind; retried at the next reload");
                }
            }
            *state.catalog.write().unwrap_or_else(|e| e.into_inner()) = next;
            *state.status_table() = status;
            Ok(report)
        });
        let report = match work.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "cannot re-read the model repository; what was serving keeps serving");
                self.metrics.load_failed();
                return ReloadReport::default();
            }
            Err(e) => {
                tracing::error!(error = %e, "re-reading the model repository stopped abnormally; what was serving keeps serving");
                self.metrics.load_failed();
                return ReloadReport::default();
            }
        };
        for (name, version) in &report.loaded {
            tracing::info!(model = %name, version, "loaded and warmed up; now serving");
        }
        for (name, version) in &report.unloaded {
            tracing::info!(model = %name, version, "removed from the repository; unloaded once its requests are answered");
        }
        for (name, version, error) in &report.failed {
            self.metrics.load_failed();
            tracing::error!(model = %name, version, %error, "cannot serve this file; what was serving keeps serving");
        }
        report
    }

    fn status_table(&self) -> std::sync::MutexGuard<'_, StatusTable> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The versions servable now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The version of model `name` a request means (`version` named, else the newest).
    pub fn resolve(&self, name: &str, version: Option<&str>) -> Result<Arc<Version>, ApiError> {
        self.catalog().resolve(name, version)
    }

    /// The version requests get when they name no model.
    pub fn default_version(&self) -> Result<Arc<Version>, ApiError> {
        self.catalog().default_version(&self.name)
    }

    /// Every version seen, with its state, by model name.
    pub fn all_version_states(&self) -> Vec<(String, u64, VersionState)> {
        self.status_table().iter().map(|((n, v), (s, _))| (n.clone(), *v, s.clone())).collect()
    }

    /// Every version of model `name` seen, with its state (loading, available, failed).
    pub fn version_states(&self, name: &str) -> Vec<(u64, VersionState)> {
        self.status_table().iter().filter(|((n, _), _)| n == name).map(|((_, v), (s, _))| (*v, s.clone())).collect()
    }

    /// The most images one model call takes (`--max-batch`).
    pub fn max_batch(&self) -> usize {
        self.loader.batch.max_batch
    }

    /// Requests being handled now (health and metrics routes are not counted).
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }

    /// The 503 for a request (already counted in flight) beyond `--max-inflight`, counted as
    /// rejected; `None` while under the limit. HTTP and gRPC alike.
    fn turn_away(&self) -> Option<ApiError> {
        if self.inflight() <= self.max_inflight {
            return None;
        }
        self.metrics.rejected();
        Some(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the server is at its limit of {} requests in flight; retry shortly", self.max_inflight),
        })
    }

    /// Why the server cannot take a predict request now, if it cannot: shutting down, no model,
    /// a model worker gone, or `--max-inflight` reached. `/v2/health/ready` answers from this.
    pub fn not_ready(&self) -> Option<String> {
        let catalog = self.catalog();
        if self.shutting_down.load(Ordering::Acquire) {
            Some("the server is shutting down".into())
        } else if catalog.models.is_empty() {
            Some("no model is loaded".into())
        } else if let Some((name, _)) = self.status_table().keys().find(|(n, _)| !catalog.models.contains_key(n)) {
            Some(format!("model `{name}` has no servable version yet (loading, or its files failed: see its metadata)"))
        } else if let Some(v) = catalog.versions().find(|v| !v.is_running()) {
            Some(format!("the model worker of `{}` version {} stopped", v.name, v.number))
        } else if self.inflight() >= self.max_inflight {
            Some(format!("the server is at its limit of {} requests in flight", self.max_inflight))
        } else {
            None
        }
    }

    /// Whether the server can still run its models at all (`/v2/health/live`).
    pub fn is_live(&self) -> bool {
        self.catalog().versions().all(|v| v.is_running())
    }

    /// From now on readiness is false (SIGINT/SIGTERM received).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// The payload log, with `--log-dir`.
    pub fn payload(&self) -> Option<&PayloadLog> {
        self.payload.as_ref()
    }

    /// Runs `images` through `version`; when the payload log samples the request, logs each
    /// image (as the model saw it) with the answer under `id`. Without a log this is
    /// [`Version::run`] and nothing more.
    async fn infer(
        &self,
        version: &Version,
        images: Images,
        id: &str,
        protocol: &'static str,
    ) -> Result<Outputs, ApiError> {
        if images.clamped > 0 {
            self.metrics.clamped(images.clamped);
        }
        // The only request in flight may run on this thread (see `batch`).
        let lone = self.inflight() <= 1;
        let Some(log) = self.payload.as_ref().filter(|l| l.sampled()) else { return version.run(images, lone).await };
        let pixels = version.model.signature.to_pixels(&images.pixels);
        let out = version.run(images, lone).await?;
        log.record(id, protocol, &version.info, &pixels, &out);
        Ok(out)
    }
}

/// The payload log of `cfg.log`, opened (its folder locked, its writer started), if any.
fn open_log(cfg: &ServeConfig) -> Result<Option<PayloadLog>> {
    cfg.log.as_ref().map(PayloadLog::open).transpose()
}

/// Bodies up to this size are decoded on the async worker that read them (a batch of 128 images
/// as JSON, 1.25 MB, parses in about 5 ms); larger ones (up to `--max-body`, 16 MiB by default:
/// up to 60 ms of JSON parsing and validation) on the blocking pool, so that one large request
/// cannot stall the other connections of its worker for long. Not lower: the hop to the pool
/// cost batch-128 JSON requests 4–6 % of their throughput when every body over 64 KiB took it
/// (`bench/serve_protocols.sh`, bench/RESULTS.md).
pub const INLINE_DECODE_BYTES: usize = 2 << 20;

/// Runs `decode` over a request body: inline when the body is small, on the blocking pool when
/// it is large.
async fn decode<T: Send + 'static>(
    body: axum::body::Bytes,
    decode: impl FnOnce(&[u8]) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if body.len() <= INLINE_DECODE_BYTES {
        return decode(&body);
    }
    tokio::task::spawn_blocking(move || decode(&body)).await.unwrap_or_else(|_| {
        Err(ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: "decoding the request failed".into() })
    })
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
pub fn router(state: Shared) -> Router {
    let cors = access::cors(&state.cors_origins);
    let app = Router::new()
        .route("/", post(graphpipe::handle).get(web::page))
        .route("/predict", post(web::predict))
        .route("/feedback", post(payload::feedback))
        .route("/endpoints", get(index))
        .route("/openapi.json", get(openapi))
        .route("/v1/models/{*rest}", get(tfserving::get).post(tfserving::post))
        .route("/v2", get(kserve::server_metadata))
        .route("/v2/health/live", get(kserve::live))
        .route("/v2/health/ready", get(kserve::ready))
        .route("/v2/models/{*rest}", get(kserve::get).post(kserve::post))
        .route("/v2/repository/index", post(kserve::repository_index))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body))
        // Inside the accounting: a 401 is counted and logged like any answer.
        .layer(middleware::from_fn_with_state(state.clone(), access::authorize))
        .layer(middleware::from_fn_with_state(
            (state.clone(), Arc::new(body::Budget::for_max_body(state.max_body))),
            track,
        ))
        .with_state(state);
    // Outside the accounting: preflights are answered before the token check, and every answer
    // (errors included) carries the headers a page on an allowed origin needs to read it.
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    // Outermost: every answer carries its request id, preflights included.
    app.layer(request_id::AssignLayer)
}

/// Which protocol a request speaks, for metrics and logs.
fn protocol(method: &Method, path: &str) -> Traffic {
    match path {
        "/" if method == Method::POST => Traffic::Http(Protocol::Graphpipe),
        "/metrics" => Traffic::Metrics,
        p if p.starts_with("/v1/") => Traffic::Http(Protocol::Tfserving),
        p if p == "/v2" || p.starts_with("/v2/") => Traffic::Http(Protocol::Kserve),
        _ => Traffic::Other,
    }
}

/// Status recorded for a request whose client went away (or whose connection the shutdown cut)
/// before it was answered, as nginx logs it.
pub const CLIENT_GONE: u16 = 499;

/// One request's accounting: counted in flight from creation to drop, recorded in the metrics
/// and the log exactly once, whichever way it ends (answered, timed out, dropped half-way).
struct Tracked {
    state: Shared,
    counted: bool,
    proto: Traffic,
    method: Method,
    path: String,
    t0: Instant,
    status: Option<u16>,
}

impl Tracked {
    fn new(state: &Shared, req: &Request) -> Tracked {
        let path = req.uri().path();
        let proto = protocol(req.method(), path);
        // Health checks and scrapes are cheap and must get through: not counted, never turned away.
        let counted = !(proto == Traffic::Metrics || path.starts_with("/v2/health"));
        Tracked::start(state, proto, req.method().clone(), path.to_string(), counted)
    }

    /// A request of `proto` (a gRPC call: `POST /{service}/{rpc}`); `counted` ones count towards
    /// `--max-inflight`.
    fn start(state: &Shared, proto: Traffic, method: Method, path: String, counted: bool) -> Tracked {
        if counted {
            state.inflight.fetch_add(1, Ordering::AcqRel);
            state.metrics.inflight(1);
        }
        Tracked { state: state.clone(), counted, proto, method, path, t0: Instant::now(), status: None }
    }

    /// The request was answered with `status` (for gRPC: the HTTP status its outcome stands for).
    fn done(&mut self, status: u16) {
        self.status = Some(status);
    }

    fn finish(mut self, resp: Response) -> Response {
        self.done(resp.status().as_u16());
        resp
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.counted {
            self.state.inflight.fetch_sub(1, Ordering::AcqRel);
            self.state.metrics.inflight(-1);
        }
        let secs = self.t0.elapsed().as_secs_f64();
        let status = self.status.unwrap_or(CLIENT_GONE);
        self.state.metrics.request(self.proto, status, secs);
        let (protocol, method, path, latency_ms) = (self.proto.as_str(), &self.method, &self.path, secs * 1e3);
        if self.status.is_none() {
            tracing::debug!(protocol, %method, %path, status, latency_ms, "the client went away before the answer");
        } else if status >= 500 {
            tracing::warn!(protocol, %method, %path, status, latency_ms, "request failed");
        } else {
            tracing::debug!(protocol, %method, %path, status, latency_ms, "request");
        }
    }
}

/// Counts, times and logs every request; refuses over-limit bodies from their `Content-Length`,
/// turns requests away beyond `--max-inflight`, reads the body within `--max-body` and the
/// server's budget of body bytes ([`body::read`]), and answers 408 past `--request-timeout-ms`.
async fn track(State((state, budget)): State<(Shared, Arc<body::Budget>)>, req: Request, next: Next) -> Response {
    let tracked = Tracked::new(&state, &req);
    if let Some(refused) = req.extensions().get::<request_id::Refused>() {
        return tracked.finish(request_id::refusal(refused).into_response());
    }
    let declared = declared_length(&req);
    if let Some(len) = declared.filter(|&n| n > state.max_body as u64) {
        return tracked.finish(too_large(req, len, &state));
    }
    if let Some(e) = tracked.counted.then(|| state.turn_away()).flatten() {
        let mut r = e.into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return tracked.finish(r);
    }
    let work = async {
        let (parts, incoming) = req.into_parts();
        let body = match body::read(incoming, declared, state.max_body, &budget).await {
            Ok(b) => b,
            Err(refused) => return refuse_body(refused, &state, &budget),
        };
        let req = Request::from_parts(parts, axum::body::Body::from(body.bytes.clone()));
        // `body` (its share of the budget) is held until the answer is made.
        let resp = next.run(req).await;
        drop(body);
        as_json_error(resp, state.max_body).await
    };
    let resp = match tokio::time::timeout(state.request_timeout, work).await {
        Ok(r) => r,
        Err(_) => ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the request took longer than {} ms (body included); send it faster or raise {}",
                state.request_timeout.as_millis(),
                Setting::RequestTimeoutMs
            ),
        }
        .into_response(),
    };
    tracked.finish(resp)
}

/// The request's `Content-Length`, when it declares one.
fn declared_length(req: &Request) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn body_limit_message(max_body: usize) -> String {
    format!(
        "the request body is larger than the server's limit of {max_body} bytes; send fewer images per request or raise {}",
        Setting::MaxBody
    )
}

/// 413 before reading a byte of the body. The connection closes after the answer; the body the
/// client is still sending is read and dropped (up to a bound, within the request timeout) so that
/// the client gets to read the 413 instead of a reset. A client that waits for `100 Continue` is
/// answered at once and sends nothing.
fn too_large(req: Request, declared: u64, state: &Shared) -> Response {
    let expects_continue = req
        .headers()
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if !expects_continue {
        let body = req.into_body();
        let budget = declared.min(DRAIN_LIMIT_BYTES);
        let deadline = tokio::time::Instant::now() + state.request_timeout;
        tokio::spawn(drain(body, budget, deadline));
    }
    let mut r =
        ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, message: body_limit_message(state.max_body) }.into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The answer to a body [`body::read`] refused: over `--max-body` (413) or over the server's
/// budget of body bytes (503, retry); either way the connection closes and what the client
/// still sends is read and dropped, as for [`too_large`].
fn refuse_body(refused: body::Refused, state: &Shared, budget: &body::Budget) -> Response {
    let (rest, status, message) = match refused {
        body::Refused::Broken(message) => return ApiError { status: StatusCode::BAD_REQUEST, message }.into_response(),
        body::Refused::TooLarge(rest) => (rest, StatusCode::PAYLOAD_TOO_LARGE, body_limit_message(state.max_body)),
        body::Refused::Busy(rest) => (
            rest,
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the server is holding its limit of {} bytes of request bodies at once; retry shortly",
                budget.bytes()
            ),
        ),
    };
    let deadline = tokio::time::Instant::now() + state.request_timeout;
    tokio::spawn(drain(rest, DRAIN_LIMIT_BYTES, deadline));
    let mut r = ApiError { status, message }.into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The most an over-limit body is read (and dropped) for, so that its client sees the 413.
const DRAIN_LIMIT_BYTES: u64 = 1 << 30;

async fn drain(body: axum::body::Body, budget: u64, deadline: tokio::time::Instant) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0u64;
    while seen < budget {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// axum's extractors answer their rejections in plain text (a chunked body past the limit: 413; a
/// body that broke off: 400): answer in the same JSON as every other error. (GraphPipe's errors
/// are flatbuffers and stay as they are.)
async fn as_json_error(resp: Response, max_body: usize) -> Response {
    let status = resp.status();
    let plain_text = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain_text || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut r = ApiError { status, message: body_limit_message(max_body) }.into_response();
        r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 << 10).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_string(),
        t => t.to_string(),
    };
    ApiError { status, message }.into_response()
}

/// The OpenAPI 3.1 description of every HTTP route (`GET /openapi.json`).
pub const OPENAPI: &str = include_str!("../../assets/openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics_text(State(state): State<Shared>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    if let Some(log) = &state.payload {
        log.render_metrics(&mut text);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn index(State(state): State<Shared>) -> impl IntoResponse {
    let catalog = state.catalog();
    let name = catalog.default_model(&state.name).unwrap_or(&state.name).to_string();
    let models: serde_json::Map<String, serde_json::Value> = catalog
        .models
        .iter()
        .map(|(n, versions)| {
            let v: Vec<serde_json::Value> = versions
                .values()
                .map(|v| json!({ "version": v.number, "file": v.model.path, "sha256": v.model.sha256, "engine": v.engine.as_str() }))
                .collect();
            (n.clone(), json!(v))
        })
        .collect();
    Json(json!({
        "server": "emnist",
        "version": env!("CARGO_PKG_VERSION"),
        "model": name,
        "models": models,
        "repository": state.repository,
        "log_dir": state.payload.as_ref().map(|l| l.dir()),
        "uptime_s": state.started.elapsed().as_secs_f64(),
        "endpoints": {
            "graphpipe": "POST / (flatbuffers InferRequest or MetadataRequest; `config` = name[:version])",
            "tfserving": [format!("GET /v1/models/{name}[/versions/V]"), format!("GET /v1/models/{name}[/versions/V]/metadata"), format!("POST /v1/models/{name}[/versions/V]:predict")],
            "kserve": ["GET /v2", "GET /v2/health/live", "GET /v2/health/ready", format!("GET /v2/models/{name}[/versions/V]"), format!("GET /v2/models/{name}[/versions/V]/ready"), format!("GET /v2/models/{name}[/versions/V]/config"), format!("POST /v2/models/{name}[/versions/V]/infer"), "POST /v2/repository/index"],
            "web": ["GET / (draw a character, see the top 5)", "POST /predict?k=5[&model=NAME&version=V] (a PNG or JPEG: raw body or multipart field `image`)"],
            "feedback": format!("POST /feedback {{\"id\": \"<X-Request-Id of a logged answer>\", \"label\": \"<class>\", \"index\": 0}} (with {:#})", Setting::LogDir),
            "metrics": "GET /metrics",
            "openapi": "GET /openapi.json (OpenAPI 3.1: every HTTP route)",
            "grpc": format!("inference.GRPCInferenceService on {:#} (KServe v2 / Triton)", Setting::GrpcPort),
        }
    }))
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}: see GET /endpoints", uri.path()))
}

/// Reload requests for a server on a model repository (the executable turns SIGHUP into one);
/// cheap to clone.
#[derive(Clone, Default)]
pub struct Reload {
    notify: Arc<tokio::sync::Notify>,
}

impl Reload {
    pub fn new() -> Reload {
        Reload::default()
    }

    /// Asks the server to re-read its repository now (requests while one runs coalesce).
    pub fn request(&self) {
        self.notify.notify_one();
    }
}

/// The addresses a server listens on (the ports picked when 0 was asked for).
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    pub http: SocketAddr,
    /// Both ports speak TLS.
    pub tls: bool,
    /// KServe v2 over gRPC, when `--grpc-port` was given.
    pub grpc: Option<SocketAddr>,
}

/// Serves on a runtime of its own (`cfg.threads` async workers) until `shutdown` is requested,
/// then finishes the requests in flight (within `cfg.conn.shutdown_grace`) and returns: what
/// `emnist serve` runs. `on_listen` hears the bound addresses and what is served.
pub fn serve(
    cfg: ServeConfig,
    shutdown: Shutdown,
    reload: Reload,
    on_listen: impl FnOnce(Listening, &Catalog),
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .thread_name("emnist-serve")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(run(cfg, shutdown, reload, on_listen));
    // A model call still running on a blocking thread is not waited for beyond a moment.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// [`serve`] on the caller's runtime.
pub async fn run(
    cfg: ServeConfig,
    shutdown: Shutdown,
    reload: Reload,
    on_listen: impl FnOnce(Listening, &Catalog),
) -> Result<()> {
    // Before any model loads: a bad certificate or key is a start-up error.
    let tls = cfg.tls.as_ref().map(tls::Tls::load).transpose()?;
    let state = match &cfg.repository {
        Some(_) => AppState::with_repository(&cfg).await?,
        None => {
            // Before the model loads: a log folder another server holds fails at once.
            let log = open_log(&cfg)?;
            let (path, options) = (cfg.model.clone(), cfg.options.clone());
            let model = tokio::task::spawn_blocking(move || ServedModel::load(&path, &options))
                .await
                .context("loading the model failed")??;
            AppState::serving(model, &cfg, log)?
        }
    };
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| {
        format!("cannot listen on `{addr}`: is another server using the port? pick another with {}", Setting::Port)
    })?;
    let local = listener.local_addr()?;
    let grpc_listener = match cfg.grpc_port {
        Some(port) => Some(grpc::bind(&cfg.host, port).await?),
        None => None,
    };
    let conn_cfg = fit_connections(&cfg.conn, if grpc_listener.is_some() { 2 } else { 1 });
    let catalog = state.catalog();
    on_listen(Listening { http: local, tls: tls.is_some(), grpc: grpc_listener.as_ref().map(|(_, a)| *a) }, &catalog);
    for v in catalog.versions() {
        tracing::info!(addr = %local, model = %v.name, version = v.number, file = %v.model.path.display(), classes = v.model.classes(), engine = v.engine.as_str(), "serving");
    }
    let stop_accepting = {
        let shutdown = shutdown.clone();
        move || {
            let shutdown = shutdown.clone();
            async move { shutdown.requested().await }
        }
    };
    let grpc_task = grpc_listener.map(|(listener, addr)| {
        tracing::info!(%addr, "serving KServe v2 over gRPC");
        let acceptor = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.grpc_config.clone()));
        let app = grpc::router(state.clone());
        tokio::spawn(conn::serve(
            listener,
            app,
            conn::Wire::Grpc,
            conn_cfg.clone(),
            state.metrics.clone(),
            acceptor,
            stop_accepting(),
        ))
    });
    let app = router(state.clone());
    if state.repository.is_some() {
        tokio::spawn(watch(state.clone(), cfg.poll, reload, shutdown.clone()));
    }
    let stopping = {
        let state = state.clone();
        let requested = stop_accepting();
        async move {
            requested.await;
            tracing::info!(
                "shutting down: no new connections, finishing the requests in flight, closing idle connections"
            );
            state.begin_shutdown();
        }
    };
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    let mut closed =
        conn::serve(listener, app, conn::Wire::Http1, conn_cfg.clone(), state.metrics.clone(), acceptor, stopping)
            .await;
    if let Some(task) = grpc_task {
        match task.await {
            Ok(grpc) => closed.cut_at_grace_end += grpc.cut_at_grace_end,
            Err(e) => tracing::error!(error = %e, "the gRPC server stopped abnormally"),
        }
    }
    // Every request is answered: what the log still queues is written, its segment closed.
    let closing = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(log) = closing.payload() {
            log.close();
        }
    })
    .await;
    if closed.cut_at_grace_end > 0 {
        tracing::warn!(
            connections = closed.cut_at_grace_end,
            grace_s = cfg.conn.shutdown_grace.as_secs_f64(),
            "stopped: closed the connections still open at the end of the grace period"
        );
    } else {
        tracing::info!("stopped: every request in flight was answered");
    }
    Ok(())
}

/// `conn` with `--max-connections` lowered, with a warning, where `ports` ports of it would not
/// fit in the process's limit on open files (raised to its hard limit first), so that neither
/// port can starve the other of descriptors.
fn fit_connections(conn: &ConnConfig, ports: usize) -> ConnConfig {
    let mut fitted = conn.clone();
    if let Some(limit) = fds::raise_limit() {
        fitted.max_connections = fds::connections_per_port(limit, ports, conn.max_connections);
        if fitted.max_connections < conn.max_connections {
            tracing::warn!(
                "{} per port does not fit in this process's limit of {limit} open files: \
                 serving at most {} connections per port; raise the limit (`ulimit -n`) to serve more",
                Setting::MaxConnections.given(conn.max_connections),
                fitted.max_connections
            );
        }
    }
    fitted
}

/// Re-reads the repository every `poll` and on every reload request, until shutdown.
async fn watch(state: Shared, poll: Option<Duration>, reload: Reload, shutdown: Shutdown) {
    loop {
        let tick = async {
            match poll {
                Some(p) => tokio::time::sleep(p).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.requested() => return,
            _ = reload.notify.notified() => tracing::info!("reload requested: re-reading the model repository"),
            _ = tick => {}
        }
        state.reload().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_route() {
        let label = |method: Method, path: &str| protocol(&method, path).as_str();
        assert_eq!(label(Method::POST, "/"), "graphpipe");
        assert_eq!(label(Method::GET, "/"), "other");
        assert_eq!(label(Method::POST, "/v1/models/emnist:predict"), "tfserving");
        assert_eq!(label(Method::GET, "/v2"), "kserve");
        assert_eq!(label(Method::GET, "/v2/health/ready"), "kserve");
        assert_eq!(label(Method::GET, "/metrics"), "metrics");
        assert_eq!(protocol(&Method::GET, "/v2/models/emnist"), Traffic::Http(Protocol::Kserve));
    }
}
