//! Command-line types (their doc comments are the `--help`) and their conversion to plain configs.
// The doc comments are help text first: `<model>` there is a placeholder for the terminal, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use emnist_core::data::source::LoadConfig;
use emnist_core::data::synthetic::{Ingredients, SyntheticConfig};
use emnist_core::data::Split;
use emnist_core::download::{ArchiveFormat, DownloadConfig, DEFAULT_BASE_URL};
use emnist_core::train::{Augment, ClassWeights, DeviceChoice, Practice, Recipe, Schedule};

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
    /// Dataset statistics and figures: sizes, class distribution, imbalance, train vs test.
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

/// Which dataset to read: shared by every command that reads one.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// A .mat file (EMNIST's Matlab release) or a folder of idx files (EMNIST's gzip release,
    /// MNIST, Fashion-MNIST). Default: the first EMNIST file under `--data-dir`, else a generated
    /// synthetic EMNIST-like set (clearly labelled: it is not EMNIST).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Which EMNIST split to use where a folder holds several.
    #[arg(long, value_parser = split_parser())]
    pub split: Option<Split>,
    /// Where to look for EMNIST files when `--data` is not given.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Decode from the source instead of the cache, and write no cache entry.
    #[arg(long)]
    pub no_cache: bool,
    /// Leave ingredients out of the synthetic default's generator, comma-separated (hand-shapes,
    /// script-faces, writers, jitter, elastic, pen, framing): the ablation study of
    /// `bench/real_handwriting.sh`.
    #[arg(long, value_name = "LIST", value_parser = Ingredients::without)]
    pub synthetic_without: Option<Ingredients>,
}

impl DataArgs {
    pub fn to_config(&self) -> LoadConfig {
        LoadConfig {
            data: self.data.clone(),
            data_dir: self.data_dir.clone(),
            split: self.split,
            cache: !self.no_cache,
            synthetic: SyntheticConfig {
                ingredients: self.synthetic_without.unwrap_or_default(),
                ..SyntheticConfig::default()
            },
            ..LoadConfig::default()
        }
    }
}

/// `--class-weights`: one of [`ClassWeights::ALL`], each with its line of help.
fn class_weights_parser() -> impl clap::builder::TypedValueParser<Value = ClassWeights> {
    use clap::builder::{PossibleValue, TypedValueParser};
    let values = ClassWeights::ALL.map(|c| PossibleValue::new(c.name()).help(c.description()));
    clap::builder::PossibleValuesParser::new(values).try_map(|s| s.parse::<ClassWeights>())
}

/// `--split`: one of [`Split::ALL`], listed in `--help` and in the error for any other value.
fn split_parser() -> impl clap::builder::TypedValueParser<Value = Split> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Split::ALL.map(Split::name)).try_map(|s| s.parse::<Split>())
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write PNG figures (class distribution, samples, mean images) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// One fully connected layer 784 → classes.
    Linear,
    /// Two ELU hidden layers (`--hidden`, default 512,256), the seed's DNN.
    Dnn,
    /// Conv + ReLU + max-pool blocks (`--channels`, default 32,64), dropout, one hidden layer
    /// (`--hidden`, default 128).
    Cnn,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The architecture.
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// Hidden layer sizes: the DNN's ELU layers [default: 512,256], or the CNN's one dense layer
    /// [default: 128].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// The CNN's conv + ReLU + max-pool blocks, channels per block [default: 32,64]; at most
    /// four blocks (28 → 14 → 7 → 3 → 1).
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    /// Adam's learning rate [default: 0.01 linear, 3e-4 dnn, 1e-3 cnn: the seed's].
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Seeds the weights, the data order, dropout and the evaluation sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "none", value_parser = class_weights_parser())]
    pub class_weights: ClassWeights,
    /// Evaluate every N steps [default: 20 times per epoch].
    #[arg(long, value_name = "N")]
    pub eval_every: Option<usize>,
    /// Share of the test set in the fixed evaluation sample.
    #[arg(long, default_value_t = 0.05)]
    pub eval_fraction: f64,
    /// `auto` (CUDA when libtorch sees a GPU), `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// libtorch CPU threads [default: libtorch's choice].
    #[arg(long)]
    pub threads: Option<usize>,
    /// The run directory [default: models/<model>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing run directory.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Continue the run in `--out` from its checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Print the final record as JSON.
    #[arg(long)]
    pub json: bool,
    /// Defaults for the options below: `seed` (the seed's protocol: none of them) or `best`
    /// (augmentation, one-cycle schedule, label smoothing 0.1, 10 % validation, patience 3).
    #[arg(long, default_value = "seed", value_parser = named_parser::<Recipe>(Recipe::ALL))]
    pub recipe: Recipe,
    /// Augment every training image, reproducibly by (seed, step): `handwriting` (random affine,
    /// elastic bending, stroke width; `--augment` alone), `garments` (horizontal flips, shifts of
    /// ±2 px: for Fashion-MNIST) or `off` [default: the recipe's].
    #[arg(long, num_args = 0..=1, default_missing_value = "handwriting", value_name = "KIND",
          value_parser = named_parser::<Augment>(Augment::ALL))]
    pub augment: Option<Augment>,
    /// Learning-rate schedule [default: the recipe's]: constant, cosine (to 1 % of the rate), or
    /// onecycle (rise from rate/25 over 30 % of the run, then fall).
    #[arg(long, value_parser = named_parser::<Schedule>(Schedule::ALL))]
    pub schedule: Option<Schedule>,
    /// Linear warm-up of the learning rate, in epochs [default: the recipe's].
    #[arg(long, value_name = "EPOCHS")]
    pub warmup_epochs: Option<f64>,
    /// Label smoothing of the cross-entropy target, in [0, 1) [default: the recipe's].
    #[arg(long, value_name = "EPS")]
    pub label_smoothing: Option<f64>,
    /// Share of the training part held out for validation; the best epoch's weights are kept
    /// [default: the recipe's; 0: none]. The test part is never used.
    #[arg(long, value_name = "SHARE")]
    pub validation: Option<f64>,
    /// Stop after this many epochs without a better validation accuracy [default: the recipe's].
    #[arg(long, value_name = "EPOCHS")]
    pub patience: Option<usize>,
}

impl TrainArgs {
    pub fn to_config(&self) -> anyhow::Result<emnist_core::train::TrainConfig> {
        use emnist_core::model::Architecture;
        use emnist_core::train::TrainConfig;
        let architecture = match self.model {
            ModelArg::Linear => Architecture::Linear,
            ModelArg::Dnn => {
                let hidden = self.hidden.clone().unwrap_or_else(|| vec![512, 256]);
                if hidden.is_empty() || hidden.contains(&0) {
                    anyhow::bail!("`--hidden` needs positive layer sizes, e.g. `--hidden 512,256`");
                }
                Architecture::Dnn { hidden }
            }
            ModelArg::Cnn => {
                let Architecture::Cnn { channels, hidden, dropout } = Architecture::cnn() else { unreachable!() };
                let channels = self.channels.clone().unwrap_or(channels);
                if channels.is_empty() || channels.len() > 4 || channels.contains(&0) {
                    anyhow::bail!("`--channels` needs 1 to 4 positive channel counts, e.g. `--channels 32,64`");
                }
                let hidden = match self.hidden.as_deref() {
                    None => hidden,
                    Some(&[h]) if h > 0 => h,
                    Some(_) => anyhow::bail!("the CNN has one hidden dense layer: `--hidden 128`"),
                };
                Architecture::Cnn { channels, hidden, dropout }
            }
        };
        if self.model != ModelArg::Cnn && self.channels.is_some() {
            anyhow::bail!("`--channels` is for `--model cnn`");
        }
        if self.model == ModelArg::Linear && self.hidden.is_some() {
            anyhow::bail!("the linear model has no hidden layers: drop `--hidden`");
        }
        let out = self.out.clone().unwrap_or_else(|| PathBuf::from("models").join(architecture.name()));
        Ok(TrainConfig {
            architecture,
            learning_rate: self.lr,
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed: self.seed,
            class_weights: self.class_weights,
            eval_every: self.eval_every,
            eval_fraction: self.eval_fraction,
            device: self.device,
            threads: self.threads,
            out,
            force: self.force,
            resume: self.resume,
            practice: self.practice(),
        })
    }

    /// The recipe's practice with the single flags applied.
    pub fn practice(&self) -> Practice {
        let mut p = Practice::of(self.recipe);
        p.augment = self.augment.unwrap_or(p.augment);
        p.schedule = self.schedule.unwrap_or(p.schedule);
        p.warmup_epochs = self.warmup_epochs.unwrap_or(p.warmup_epochs);
        p.label_smoothing = self.label_smoothing.unwrap_or(p.label_smoothing);
        if let Some(v) = self.validation {
            p.validation = v;
            if v == 0.0 && self.patience.is_none() {
                p.patience = None;
            }
        }
        p.patience = self.patience.or(p.patience);
        p
    }
}

/// A choice among named values, listed in `--help` and in the error for any other value.
fn named_parser<T>(all: &'static [T]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: Copy + std::fmt::Display + std::str::FromStr<Err = String> + Send + Sync + 'static,
{
    let names: Vec<String> = all.iter().map(|v| v.to_string()).collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
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
    #[arg(long, default_value_t = emnist_core::onnx::DEFAULT_OPSET)]
    pub opset: i64,
    /// The test images of this dataset check the export (use the one the model was trained on).
    #[command(flatten)]
    pub data: DataArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ExportArgs {
    pub fn to_config(&self) -> anyhow::Result<emnist_core::onnx::ExportConfig> {
        let mut cfg = emnist_core::onnx::ExportConfig::new(&self.model);
        if let Some(out) = &self.out {
            cfg.out = out.clone();
        }
        if let Some(dir) = &self.repository {
            cfg.out = emnist_core::serve::repo::next_version_file(dir, &self.name)?;
        }
        cfg.opset = self.opset;
        Ok(cfg)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The ONNX file to serve: from `emnist export --onnx`, or any 28×28 image classifier (one
    /// float input [N, 784], [N, 28, 28] or [N, 1, 28, 28]; one or two outputs [N, K]).
    #[arg(long, value_name = "FILE", default_value = "models/dnn.onnx")]
    pub model: PathBuf,
    /// Serve a model repository instead: `DIR/<name>/<version>/model.onnx` (TensorFlow Serving's
    /// layout; an optional `labels.txt` beside each file), several models and versions at once,
    /// re-read every `--poll-secs` and on SIGHUP.
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    pub models: Option<PathBuf>,
    /// How often the repository is re-read for new, changed and removed versions (0: only on SIGHUP).
    #[arg(long, default_value_t = 5.0, value_parser = poll_seconds)]
    pub poll_secs: f64,
    #[command(flatten)]
    pub interpret: InterpretArgs,
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 9000)]
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
    #[arg(long, default_value = "emnist")]
    pub name: String,
    /// Most images in one model call; concurrent requests are coalesced up to this.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_batch: u32,
    /// How long a request waits for others to share its model call, microseconds (0: only
    /// requests that queued while the model was busy are batched).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub batch_timeout_us: u64,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Largest model file, MiB: a larger file is refused from its size, before it is read.
    #[arg(long, value_name = "MB", default_value_t = emnist_core::onnx::budget::DEFAULT_MAX_FILE_MB,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max_model_mb: u64,
    /// Requests handled at once; beyond it the server answers 503 with Retry-After.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_inflight: u32,
    /// Longest a request may take, body included, milliseconds (longer: 408).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Connections open at once; beyond it a new connection gets 503 and is closed.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Longest a request head (request line and headers) may take from its first byte,
    /// milliseconds; a slower connection is closed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Longest a connection may stay open with nothing to do, milliseconds (keep-alive idle).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// After SIGINT/SIGTERM, seconds the requests in flight may take before every connection is
    /// closed (below Kubernetes' default 30 s termination grace period).
    #[arg(long, default_value_t = 20.0, value_parser = grace_seconds)]
    pub shutdown_grace_s: f64,
    /// Threads for requests and for model calls [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
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
    pub outputs: Option<emnist_core::contract::OutputKind>,
    /// Class names, one per line, or an EMNIST mapping file (`label code` rows) [default: the
    /// file's metadata, else guessed from the class count: 62 byclass, 47 balanced, 26 letters, 10 digits]
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

impl InterpretArgs {
    pub fn to_options(&self) -> emnist_core::onnx::ModelOptions {
        let mut o = emnist_core::onnx::ModelOptions::default();
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
fn output_kind_parser() -> impl clap::builder::TypedValueParser<Value = emnist_core::contract::OutputKind> {
    use emnist_core::contract::{LOGITS, PROBABILITIES};
    clap::builder::PossibleValuesParser::new([LOGITS, PROBABILITIES])
        .try_map(|s| s.parse::<emnist_core::contract::OutputKind>())
}

/// `--input-scale`: a positive finite number, or a fraction such as `1/255`.
fn cors_origin(s: &str) -> Result<String, String> {
    emnist_core::serve::access::check_origins(&[s.to_string()]).map_err(|e| e.to_string())?;
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
/// [`find_onnxruntime`]: emnist_core::onnx::engine::find_onnxruntime
pub fn onnxruntime_library(named: Option<&std::path::Path>) -> Option<(std::path::PathBuf, &'static str)> {
    match named {
        Some(p) => Some((p.to_path_buf(), "named by `--onnxruntime-lib` or ORT_DYLIB_PATH")),
        None => emnist_core::onnx::engine::find_onnxruntime().map(|(p, place)| (p, place.describe())),
    }
}

impl ServeArgs {
    /// See [`onnxruntime_library`].
    pub fn onnxruntime_library(&self) -> Option<(std::path::PathBuf, &'static str)> {
        onnxruntime_library(self.onnxruntime_lib.as_deref())
    }

    pub fn to_config(&self) -> anyhow::Result<emnist_core::serve::ServeConfig> {
        let mut cfg = emnist_core::serve::ServeConfig::new(self.model.clone());
        cfg.options = self.interpret.to_options();
        cfg.options.limits.max_file_bytes = self.max_model_mb << 20;
        cfg.options.limits.max_batch = self.max_batch as usize;
        cfg.repository = self.models.clone();
        cfg.poll = Some(std::time::Duration::from_secs_f64(self.poll_secs)).filter(|d| !d.is_zero());
        cfg.host = self.host.clone();
        cfg.port = self.port;
        cfg.grpc_port = self.grpc_port;
        cfg.cors_origins = self.cors_origin.clone();
        cfg.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(emnist_core::serve::tls::TlsFiles { cert: cert.clone(), key: key.clone() }),
            _ => None,
        };
        cfg.tokens = match &self.auth_token_file {
            Some(path) => Some(emnist_core::serve::access::Tokens::read(path)?),
            None => None,
        };
        cfg.name = self.name.clone();
        cfg.batch.max_batch = self.max_batch as usize;
        cfg.batch.timeout = std::time::Duration::from_micros(self.batch_timeout_us);
        cfg.max_body = self.max_body;
        cfg.max_inflight = self.max_inflight as usize;
        cfg.request_timeout = std::time::Duration::from_millis(self.request_timeout_ms);
        cfg.conn = emnist_core::serve::ConnConfig {
            max_connections: self.max_connections as usize,
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(self.idle_timeout_ms),
            shutdown_grace: std::time::Duration::from_secs_f64(self.shutdown_grace_s),
        };
        if let Some(t) = self.threads {
            cfg.threads = t as usize;
            cfg.batch.workers = t as usize;
        }
        let library = self.onnxruntime_library().map(|(p, _)| p);
        cfg.engine = match self.engine {
            EngineArg::Tract => emnist_core::onnx::EngineKind::Tract,
            EngineArg::Auto => emnist_core::onnx::EngineKind::Auto { library },
            EngineArg::Onnxruntime => {
                let library = library.ok_or_else(|| {
                    anyhow::anyhow!("`--engine onnxruntime` found no libonnxruntime.so beside the executable, in the project's `.venv` or on the system's library path: pass `--onnxruntime-lib PATH` (`make build` puts one beside the executable)")
                })?;
                emnist_core::onnx::EngineKind::Onnxruntime { library }
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
    pub fn to_config(&self) -> emnist_core::query::QueryConfig {
        use emnist_core::query::Protocol;
        let protocols = match self.protocol {
            ProtocolArg::Graphpipe => vec![Protocol::Graphpipe],
            ProtocolArg::Tfserving => vec![Protocol::Tfserving],
            ProtocolArg::Kserve => vec![Protocol::Kserve],
            ProtocolArg::All => Protocol::ALL.to_vec(),
        };
        emnist_core::query::QueryConfig {
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
    pub fn to_config(&self) -> emnist_core::health::HealthConfig {
        emnist_core::health::HealthConfig {
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
