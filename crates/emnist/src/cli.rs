//! Command-line types (their doc comments are the `--help`) and their conversion to plain configs.
// The doc comments are help text first: `<model>` there is a placeholder for the terminal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use emnist_cli::args::{split_parser, DataArgs, TrainArgs};
use emnist_data::Split;
use emnist_download::{ArchiveFormat, DownloadConfig, DEFAULT_BASE_URL};
use emnist_serve::server::defaults;

/// From handwritten-character data to a production model server: explore EMNIST, train
/// classifiers, export them to ONNX, serve them and check the deployment.
#[derive(Debug, Parser)]
#[command(name = "emnist", version, propagate_version = true)]
pub struct Cli {
    /// No progress bars or notes on stderr (errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dataset statistics and figures: sizes, class distribution, imbalance, train vs test; on a
    /// payload log folder, what the deployment saw against the training data, and drift.
    Explore(ExploreArgs),
    /// Train a linear, DNN or CNN classifier (libtorch), with curves, confusion matrix and checkpoints.
    Train(TrainArgs),
    /// Compare training runs: their test-accuracy curves in one plot and their final metrics.
    Compare(CompareArgs),
    /// Fetch NIST's EMNIST archive, resuming a partial download, and extract one split.
    Download(DownloadArgs),
    /// Translate a trained model to ONNX, checked against the trained weights on real test images.
    Export(ExportArgs),
    /// Serve an exported ONNX model over GraphPipe, TensorFlow Serving REST and KServe v2 (no libtorch, no Python).
    Serve(ServeArgs),
    /// Check a running server: send test images over each protocol, compare with the labels and
    /// with local inference of the same ONNX file, and measure throughput and latency.
    Query(QueryArgs),
    /// Write one self-contained HTML page from what the other commands left in the models folder:
    /// dataset statistics and figures, every run, the export checks and the latest query.
    Report(ReportArgs),
    /// Whether a server is ready (exit 0) or not (exit 1, with its reason): a container's health
    /// check without curl in the image.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write PNG figures (class distribution, samples, mean images; for a payload log: predicted
    /// classes, confidence, mean ink) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// For a payload log (`--data LOGDIR`): the training data to compare it with, a .mat file or
    /// an idx folder [default: the dataset `--data` would pick without a path].
    #[arg(long, value_name = "PATH")]
    pub reference: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// `matlab.zip`: one .mat file per split.
    Matlab,
    /// `gzip.zip`: idx files per split plus a mapping file.
    Gzip,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The split to extract.
    #[arg(long, default_value = "byclass", value_parser = split_parser())]
    pub split: Split,
    /// Which of NIST's two archives to fetch.
    #[arg(long, value_enum, default_value = "matlab")]
    pub format: FormatArg,
    /// Where the archive and the extracted files go.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub dir: PathBuf,
    /// Where the archives are served (NIST's site by default).
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL, env = "EMNIST_BASE_URL")]
    pub base_url: String,
    /// Skip the archive's checksum check.
    #[arg(long)]
    pub no_verify: bool,
    /// Keep the .zip after extracting (to extract other splits later without downloading again).
    #[arg(long)]
    pub keep_archive: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl DownloadArgs {
    pub fn to_config(&self) -> DownloadConfig {
        DownloadConfig {
            split: self.split,
            format: match self.format {
                FormatArg::Matlab => ArchiveFormat::Matlab,
                FormatArg::Gzip => ArchiveFormat::Gzip,
            },
            dir: self.dir.clone(),
            base_url: self.base_url.clone(),
            verify: !self.no_verify,
            keep_archive: self.keep_archive,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run directories (each with model.json and metrics.csv).
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// Where to write the plot of test-accuracy curves.
    #[arg(long, value_name = "PNG", default_value = "models/compare.png")]
    pub out: PathBuf,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write an ONNX model (the only format so far).
    #[arg(long, required = true)]
    pub onnx: bool,
    /// The run directory: model.json and model.safetensors from `emnist train`.
    #[arg(long, value_name = "DIR", default_value = "models/dnn")]
    pub model: PathBuf,
    /// The .onnx file [default: <model dir>.onnx]; `<name>.value_inputs.json` is written beside it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write into this model repository instead, as the next version of `--as`:
    /// `DIR/<name>/<newest + 1>/model.onnx`, which a server on `--models DIR` picks up.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub repository: Option<PathBuf>,
    /// The model's name in the repository (and in the server's URLs).
    #[arg(long = "as", value_name = "NAME", default_value = "emnist", requires = "repository")]
    pub name: String,
    /// ONNX opset version, 13 to 21.
    #[arg(long, default_value_t = emnist_model::export::DEFAULT_OPSET)]
    pub opset: i64,
    /// The test images of this dataset check the export (use the one the model was trained on).
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ExportArgs {
    pub fn to_config(&self) -> anyhow::Result<emnist_model::export::ExportConfig> {
        let mut cfg = emnist_model::export::ExportConfig::new(&self.model);
        if let Some(out) = &self.out {
            cfg.out = out.clone();
        }
        if let Some(dir) = &self.repository {
            cfg.out = emnist_serve::server::repo::next_version_file(dir, &self.name)?;
        }
        cfg.opset = self.opset;
        Ok(cfg)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The ONNX file to serve: from `emnist export --onnx`, or any 28×28 image classifier (one
    /// float input [N, 784], [N, 28, 28] or [N, 1, 28, 28]; one or two outputs [N, K]).
    #[arg(long, value_name = "FILE", default_value = defaults::MODEL)]
    pub model: PathBuf,
    /// Serve a model repository instead: `DIR/<name>/<version>/model.onnx` (TensorFlow Serving's
    /// layout; an optional `labels.txt` beside each file), several models and versions at once,
    /// re-read every `--poll-secs` and on SIGHUP.
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    pub models: Option<PathBuf>,
    /// How often the repository is re-read for new, changed and removed versions (0: only on SIGHUP).
    #[arg(long, default_value_t = defaults::POLL_SECS, value_parser = poll_seconds)]
    pub poll_secs: f64,
    #[command(flatten)]
    pub interpret: InterpretArgs,
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = defaults::HOST)]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = defaults::PORT)]
    pub port: u16,
    /// Also serve KServe v2 / Open Inference Protocol over gRPC (Triton's service, what
    /// `tritonclient.grpc` and `perf_analyzer -i grpc` speak) on this port; Triton's is 8001
    /// (0 picks a free one; the address is printed) [default: no gRPC].
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// Once the server is ready (ports bound, models loaded), write its addresses, pid and
    /// models to this file as JSON, atomically; removed when the server stops. How scripts learn
    /// the ports of `--port 0` (the folder must be writable: checked before anything loads).
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Let pages on this origin call the server from a browser (CORS; repeatable; `*`: any
    /// origin), e.g. `--cors-origin http://localhost:8080`.
    #[arg(long, value_name = "ORIGIN", value_parser = cors_origin)]
    pub cors_origin: Vec<String>,
    /// Require a bearer token (`Authorization: Bearer <token>`; gRPC: the `authorization`
    /// metadata) on every route but `/v2/health/*`: one token per line of FILE, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Serve HTTPS (and gRPC over TLS) with this PEM certificate chain; needs `--tls-key`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The model's name in URLs: /v1/models/<name>, /v2/models/<name>.
    #[arg(long, default_value = defaults::NAME)]
    pub name: String,
    /// Most images in one model call; concurrent requests are coalesced up to this.
    #[arg(long, default_value_t = defaults::MAX_BATCH, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_batch: u32,
    /// How long a request waits for others to share its model call, microseconds (0: only
    /// requests that queued while the model was busy are batched).
    #[arg(long, default_value_t = defaults::BATCH_TIMEOUT_US, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub batch_timeout_us: u64,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = defaults::MAX_BODY)]
    pub max_body: usize,
    /// Largest model file, MiB: a larger file is refused from its size, before it is read.
    #[arg(long, value_name = "MB", default_value_t = emnist_runtime::budget::DEFAULT_MAX_FILE_MB,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max_model_mb: u64,
    /// Requests handled at once; beyond it the server answers 503 with Retry-After.
    #[arg(long, default_value_t = defaults::MAX_INFLIGHT, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_inflight: u32,
    /// Longest a request may take, body included, milliseconds (longer: 408).
    #[arg(long, default_value_t = defaults::REQUEST_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Connections open at once; beyond it a new connection gets 503 and is closed.
    #[arg(long, default_value_t = defaults::MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Longest a request head (request line and headers) may take from its first byte,
    /// milliseconds; a slower connection is closed.
    #[arg(long, default_value_t = defaults::HEADER_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Longest a connection may stay open with nothing to do, milliseconds (keep-alive idle).
    #[arg(long, default_value_t = defaults::IDLE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// After SIGINT/SIGTERM, seconds the requests in flight may take before every connection is
    /// closed (below Kubernetes' default 30 s termination grace period).
    #[arg(long, default_value_t = defaults::SHUTDOWN_GRACE_S, value_parser = grace_seconds)]
    pub shutdown_grace_s: f64,
    /// Threads for requests and for model calls [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Keep a payload log in DIR: each logged request's images as the model saw them (28×28
    /// uint8), the model and version, the predicted class and top 3, the protocol, the time and
    /// the request id the answer carried; `POST /feedback` adds corrections to it. Written off
    /// the hot path (a full queue drops entries and counts them in /metrics) [default: no log]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Share of requests logged, in (0, 1]; every image of a sampled request is logged.
    #[arg(long, value_name = "FRACTION", default_value_t = defaults::LOG_SAMPLE, value_parser = log_fraction, requires = "log_dir")]
    pub log_sample: f64,
    /// Most the log folder may hold, MiB; the oldest segments are removed beyond it.
    #[arg(long, value_name = "MB", default_value_t = defaults::LOG_MAX_MB, requires = "log_dir",
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    pub log_max_mb: u64,
    /// Clamp float inputs outside the pixel range (and NaN, ±∞) into it instead of answering 400,
    /// counting them in /metrics (`emnist_clamped_requests_total`): for load tools that send
    /// random floats, such as `perf_analyzer` without `--input-data` [default: refuse them]
    #[arg(long)]
    pub clamp_inputs: bool,
    /// What runs the model: `auto` times tract and onnxruntime on each model at load and keeps
    /// the faster (tract when no onnxruntime library is found); `tract` (pure Rust); or
    /// `onnxruntime` loaded from `--onnxruntime-lib`.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub engine: EngineArg,
    /// The `libonnxruntime.so` for `--engine onnxruntime` or `auto` (the PyPI wheel has one in
    /// `onnxruntime/capi/`) [default: the one beside the executable, else in the `.venv` of the
    /// project it was built in, else on the system's library path].
    #[arg(long, value_name = "FILE", env = "ORT_DYLIB_PATH")]
    pub onnxruntime_lib: Option<PathBuf>,
}

/// `--poll-secs`: 0 (never) to a day, fractions allowed.
fn poll_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

/// `--log-sample`: a fraction in (0, 1].
fn log_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("`{s}` is not a fraction in (0, 1], such as `0.1` (one request in ten) or `1` (all)")),
    }
}

/// `--shutdown-grace-s`: 0 to 3600 seconds, fractions allowed.
fn grace_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 3600")),
    }
}

/// How to read a classifier file whose graph does not say everything.
#[derive(Debug, Args)]
pub struct InterpretArgs {
    /// Pixel bytes (uint8 requests, drawn images) times this are the model's input floats; float
    /// requests are taken as they are, within [0, 255 × scale] [default: 1/255]
    #[arg(long, value_name = "SCALE", value_parser = input_scale)]
    pub input_scale: Option<f32>,
    /// Transpose each image before the model sees it: for models trained on EMNIST's stored,
    /// transposed layout (the .mat and idx files as they are).
    #[arg(long)]
    pub transpose: bool,
    /// What the file's single output holds, when no final Softmax in the graph says it
    #[arg(long, value_name = "KIND", value_parser = output_kind_parser())]
    pub outputs: Option<emnist_model::contract::OutputKind>,
    /// Class names, one per line, or an EMNIST mapping file (`label code` rows) [default: the
    /// file's metadata, else guessed from the class count: 62 byclass, 47 balanced, 26 letters, 10 digits]
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

impl InterpretArgs {
    pub fn to_options(&self) -> emnist_runtime::ModelOptions {
        let mut o = emnist_runtime::ModelOptions::default();
        if let Some(s) = self.input_scale {
            o.input_scale = s;
        }
        o.transpose = self.transpose;
        o.outputs = self.outputs;
        o.labels = self.labels.clone();
        o
    }
}

/// `--outputs`: the contract's output kinds.
fn output_kind_parser() -> impl clap::builder::TypedValueParser<Value = emnist_model::contract::OutputKind> {
    use emnist_model::contract::{LOGITS, PROBABILITIES};
    clap::builder::PossibleValuesParser::new([LOGITS, PROBABILITIES])
        .try_map(|s| s.parse::<emnist_model::contract::OutputKind>())
}

/// `--input-scale`: a positive finite number, or a fraction such as `1/255`.
fn cors_origin(s: &str) -> Result<String, String> {
    emnist_serve::server::access::check_origins(&[s.to_string()]).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

fn input_scale(s: &str) -> Result<f32, String> {
    let v = match s.split_once('/') {
        Some((a, b)) => a.trim().parse::<f32>().ok().zip(b.trim().parse::<f32>().ok()).map(|(a, b)| a / b),
        None => s.trim().parse::<f32>().ok(),
    };
    match v {
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive scale such as `1/255` or `1`")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Auto,
    Tract,
    Onnxruntime,
}

/// The onnxruntime library a server would use and where it came from: the one named by
/// `--onnxruntime-lib` (or ORT_DYLIB_PATH), else the one [`find_onnxruntime`] finds.
///
/// [`find_onnxruntime`]: emnist_runtime::engine::find_onnxruntime
pub fn onnxruntime_library(named: Option<&std::path::Path>) -> Option<(std::path::PathBuf, &'static str)> {
    match named {
        Some(p) => Some((p.to_path_buf(), "named by `--onnxruntime-lib` or ORT_DYLIB_PATH")),
        None => emnist_runtime::engine::find_onnxruntime().map(|(p, place)| (p, place.describe())),
    }
}

impl ServeArgs {
    /// See [`onnxruntime_library`].
    pub fn onnxruntime_library(&self) -> Option<(std::path::PathBuf, &'static str)> {
        onnxruntime_library(self.onnxruntime_lib.as_deref())
    }

    pub fn to_config(&self) -> anyhow::Result<emnist_serve::server::ServeConfig> {
        let mut cfg = emnist_serve::server::ServeConfig::new(self.model.clone());
        cfg.options = self.interpret.to_options();
        cfg.options.clamp_inputs = self.clamp_inputs;
        cfg.options.limits.max_file_bytes = self.max_model_mb << 20;
        cfg.options.limits.max_batch = self.max_batch as usize;
        cfg.repository = self.models.clone();
        cfg.poll = Some(std::time::Duration::from_secs_f64(self.poll_secs)).filter(|d| !d.is_zero());
        cfg.host = self.host.clone();
        cfg.port = self.port;
        cfg.grpc_port = self.grpc_port;
        cfg.cors_origins = self.cors_origin.clone();
        cfg.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                Some(emnist_serve::server::tls::TlsFiles { cert: cert.clone(), key: key.clone() })
            }
            _ => None,
        };
        cfg.tokens = match &self.auth_token_file {
            Some(path) => Some(emnist_serve::server::access::Tokens::read(path)?),
            None => None,
        };
        cfg.name = self.name.clone();
        cfg.batch.max_batch = self.max_batch as usize;
        cfg.batch.timeout = std::time::Duration::from_micros(self.batch_timeout_us);
        cfg.max_body = self.max_body;
        cfg.max_inflight = self.max_inflight as usize;
        cfg.request_timeout = std::time::Duration::from_millis(self.request_timeout_ms);
        cfg.conn = emnist_serve::server::ConnConfig {
            max_connections: self.max_connections as usize,
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(self.idle_timeout_ms),
            shutdown_grace: std::time::Duration::from_secs_f64(self.shutdown_grace_s),
        };
        cfg.log = self.log_dir.as_ref().map(|dir| emnist_serve::server::payload::PayloadConfig {
            sample: self.log_sample,
            max_bytes: self.log_max_mb << 20,
            ..emnist_serve::server::payload::PayloadConfig::new(dir.clone())
        });
        if let Some(t) = self.threads {
            cfg.threads = t as usize;
            cfg.batch.workers = t as usize;
        }
        let library = self.onnxruntime_library().map(|(p, _)| p);
        cfg.engine = match self.engine {
            EngineArg::Tract => emnist_runtime::EngineKind::Tract,
            EngineArg::Auto => emnist_runtime::EngineKind::Auto { library },
            EngineArg::Onnxruntime => {
                let library = library.ok_or_else(|| {
                    anyhow::anyhow!("`--engine onnxruntime` found no libonnxruntime.so beside the executable, in the project's `.venv` or on the system's library path: pass `--onnxruntime-lib PATH` (`make build` puts one beside the executable)")
                })?;
                emnist_runtime::EngineKind::Onnxruntime { library }
            }
        };
        Ok(cfg)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Graphpipe,
    Tfserving,
    Kserve,
    All,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub url: String,
    /// Which protocol to query over.
    #[arg(long, value_enum, default_value_t = ProtocolArg::All)]
    pub protocol: ProtocolArg,
    /// The ONNX file the server serves: run locally for the agreement check (its sha256 is
    /// compared with the one the server announces).
    #[arg(long, value_name = "FILE", default_value = "models/dnn.onnx")]
    pub model: PathBuf,
    /// The model's name in URLs.
    #[arg(long, default_value = "emnist")]
    pub name: String,
    /// How many test images to send, spread evenly over the test set, or `all`.
    #[arg(long, default_value = "1000", value_parser = parse_count)]
    pub n: Count,
    /// Images per request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Longest wait for one answer, milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// The test images come from this dataset (use the one the model was trained on).
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A number of items, or all of them.
#[derive(Debug, Clone, Copy)]
pub struct Count(pub Option<usize>);

fn parse_count(s: &str) -> Result<Count, String> {
    if s == "all" {
        return Ok(Count(None));
    }
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(Count(Some(n))),
        _ => Err(format!("`{s}` is neither a positive number nor `all`")),
    }
}

impl QueryArgs {
    pub fn to_config(&self) -> emnist_serve::query::QueryConfig {
        use emnist_serve::query::Protocol;
        let protocols = match self.protocol {
            ProtocolArg::Graphpipe => vec![Protocol::Graphpipe],
            ProtocolArg::Tfserving => vec![Protocol::Tfserving],
            ProtocolArg::Kserve => vec![Protocol::Kserve],
            ProtocolArg::All => Protocol::ALL.to_vec(),
        };
        emnist_serve::query::QueryConfig {
            url: self.url.clone(),
            protocols,
            name: self.name.clone(),
            model: self.model.clone(),
            images: self.n.0,
            batch: self.batch as usize,
            concurrency: self.concurrency as usize,
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's base URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9000")]
    pub url: String,
    /// Check liveness (`/v2/health/live`: the models can still run) instead of readiness.
    #[arg(long)]
    pub live: bool,
    /// The check's time limit, connecting included.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub timeout_ms: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl HealthArgs {
    pub fn to_config(&self) -> emnist_serve::health::HealthConfig {
        emnist_serve::health::HealthConfig {
            url: self.url.clone(),
            live: self.live,
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The folder of run directories, `.onnx` files and their `.export.json` / `.query.json`.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub models: PathBuf,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE", default_value = "reports/index.html")]
    pub out: PathBuf,
    /// The dataset the statistics and figures describe.
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The command line's defaults are the library's: both read `emnist_serve::server::defaults`.
    #[test]
    fn serve_defaults_are_the_librarys() {
        let Command::Serve(args) = Cli::try_parse_from(["emnist", "serve"]).unwrap().command else { unreachable!() };
        let cli = args.to_config().unwrap();
        let lib = emnist_serve::server::ServeConfig::new(defaults::MODEL.into());
        assert_eq!(cli.model, lib.model);
        assert_eq!((cli.host.as_str(), cli.port, cli.name.as_str()), (lib.host.as_str(), lib.port, lib.name.as_str()));
        assert_eq!(cli.poll, lib.poll);
        assert_eq!(
            (cli.batch.max_batch, cli.batch.timeout, cli.batch.workers),
            (lib.batch.max_batch, lib.batch.timeout, lib.batch.workers)
        );
        assert_eq!(
            (cli.max_body, cli.max_inflight, cli.request_timeout),
            (lib.max_body, lib.max_inflight, lib.request_timeout)
        );
        assert_eq!(format!("{:?}", cli.conn), format!("{:?}", lib.conn));
        assert_eq!(cli.threads, lib.threads);
        assert_eq!(cli.engine, lib.engine);
        assert!(cli.log.is_none() && lib.log.is_none());
        let Command::Serve(args) = Cli::try_parse_from(["emnist", "serve", "--log-dir", "log"]).unwrap().command else {
            unreachable!()
        };
        let log = args.to_config().unwrap().log.unwrap();
        let lib = emnist_serve::server::payload::PayloadConfig::new("log".into());
        assert_eq!((log.dir, log.sample, log.max_bytes), (lib.dir, lib.sample, lib.max_bytes));
    }

    #[test]
    fn log_flags_are_checked() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["emnist", "serve"], args].concat());
        for bad in [
            &["--log-dir", "d", "--log-sample", "0"][..],
            &["--log-dir", "d", "--log-sample", "1.5"],
            &["--log-dir", "d", "--log-sample", "nan"],
            &["--log-dir", "d", "--log-max-mb", "0"],
            &["--log-sample", "0.5"],
            &["--log-max-mb", "10"],
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
        let e = parse(&["--log-dir", "d", "--log-sample", "0"]).unwrap_err().to_string();
        assert!(e.contains("fraction in (0, 1]"), "{e}");
        let e = parse(&["--log-sample", "0.5"]).unwrap_err().to_string();
        assert!(e.contains("--log-dir"), "{e}");
        let Command::Serve(args) =
            parse(&["--log-dir", "d", "--log-sample", "0.25", "--log-max-mb", "3"]).unwrap().command
        else {
            unreachable!()
        };
        let log = args.to_config().unwrap().log.unwrap();
        assert_eq!((log.sample, log.max_bytes), (0.25, 3 << 20));
    }
}

/// The flags the library's messages name are this command line's: a hint never names a flag
/// that does not exist.
#[cfg(test)]
mod flag_tests {
    use clap::{CommandFactory, Parser};

    use emnist_cli::flags::{command_line, flag, install};
    use emnist_data::setting::{Command as Run, Setting};

    use super::Cli;

    /// `--long` → the subcommands (space-separated paths) that take it.
    fn long_flags(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                out.push((format!("--{long}"), path.to_string()));
            }
        }
        for sub in cmd.get_subcommands() {
            long_flags(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_setting_is_a_flag_of_some_subcommand() {
        let mut flags = Vec::new();
        long_flags(&Cli::command(), "emnist", &mut flags);
        for &s in Setting::ALL {
            let f = flag(s);
            assert!(
                flags.iter().any(|(long, path)| long == f && path != "emnist"),
                "{s:?} renders as `{f}`, which no subcommand of `emnist` takes"
            );
        }
    }

    /// Every command line a message names parses, but for the required flags of one named as
    /// the program at work ("written by `emnist train`").
    #[test]
    fn every_command_a_message_names_parses() {
        for &c in Run::ALL {
            let line = command_line(c);
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[0], "emnist", "{line}");
            match Cli::try_parse_from(&words) {
                Ok(_) => {}
                Err(e) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {}
                Err(e) => panic!("{c:?} renders as `{line}`, which does not parse: {e}"),
            }
        }
    }

    #[test]
    fn messages_name_settings_and_commands_as_flags() {
        install();
        assert_eq!(format!("raise {}", Setting::MaxBody), "raise `--max-body`");
        assert_eq!(format!("{:#}", Setting::Engine.given("auto")), "--engine auto");
        assert_eq!(format!("add {}", Setting::Validation.given(0.1)), "add `--validation 0.1`");
        let run = Run::Download(emnist_data::Split::Letters);
        assert_eq!(format!("run {run}"), "run `emnist download --split letters`");
    }
}
