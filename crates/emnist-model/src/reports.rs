//! What the steps after training report, as written beside an exported model and read back by
//! `emnist report`: export's parity check ([`ExportReport`]) and the deployment check
//! ([`QueryReport`], with the [`Protocol`]s it speaks). Plain data: the engines and clients that
//! fill them live in `emnist-runtime` and `emnist-serve`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What an export did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportReport {
    pub model_dir: PathBuf,
    pub onnx: PathBuf,
    pub value_inputs: PathBuf,
    /// False when the parity check failed: then neither file was written.
    pub written: bool,
    pub bytes: usize,
    pub sha256: String,
    pub opset: i64,
    pub ir_version: i64,
    pub architecture: String,
    pub classes: usize,
    pub parameters: usize,
    /// Operator of each node, in graph order.
    pub ops: Vec<String>,
    /// The dataset whose test images the check used.
    pub dataset: String,
    /// Whether that dataset is the one the model was trained on (same fingerprint).
    pub same_dataset: bool,
    /// Test accuracy recorded in `model.json`.
    pub recorded_test_accuracy: f64,
    pub parity: ParityReport,
    pub build_ms: f64,
}

/// How the parity check runs.
#[derive(Debug, Clone)]
pub struct ParityConfig {
    /// How many test images (all of them when the test part has fewer).
    pub images: usize,
    /// Images per tract run (the symbolic batch dimension at work).
    pub batch_size: usize,
    /// The largest absolute difference of probabilities that passes.
    pub tolerance: f32,
}

impl Default for ParityConfig {
    fn default() -> Self {
        ParityConfig { images: 1000, batch_size: 100, tolerance: 1e-5 }
    }
}

/// The outcome of the parity check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParityReport {
    /// Test images compared.
    pub images: usize,
    pub batch_size: usize,
    /// Largest |tract − reference| over all probabilities.
    pub max_abs_diff_probabilities: f64,
    /// Largest |tract − reference| over all logits.
    pub max_abs_diff_logits: f64,
    pub tolerance: f64,
    /// Images whose most probable class differs between tract and the reference.
    pub argmax_disagreements: usize,
    /// Share of images whose argmax agrees (1.0 = all).
    pub argmax_agreement: f64,
    /// The exported model's accuracy on these images (their labels from the dataset).
    pub accuracy: f64,
    pub tract_ms: f64,
    pub reference_ms: f64,
    /// Differences within tolerance and every argmax agrees.
    pub passed: bool,
}

/// The protocols `query` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Graphpipe,
    Tfserving,
    Kserve,
}

impl Protocol {
    /// Every protocol, in the order `--protocol all` runs them.
    pub const ALL: [Protocol; 3] = [Protocol::Graphpipe, Protocol::Tfserving, Protocol::Kserve];

    /// The protocol's name: `--protocol`'s value, reports' JSON, `emnist serve`'s metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Graphpipe => "graphpipe",
            Protocol::Tfserving => "tfserving",
            Protocol::Kserve => "kserve",
        }
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// One protocol's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProtocolReport {
    pub protocol: Protocol,
    pub requests: usize,
    pub images: usize,
    /// Requests that got no usable answer.
    pub failed_requests: usize,
    pub first_error: Option<String>,
    /// Share of answered images whose predicted class is the label.
    pub accuracy: f64,
    /// Share of images whose predicted class equals local tract inference (1.0 required).
    pub agreement: f64,
    pub disagreements: usize,
    /// Largest |server − local| probability.
    pub max_abs_diff: f64,
    pub seconds: f64,
    pub images_per_s: f64,
    pub requests_per_s: f64,
    pub latency: Latency,
}

/// The whole check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryReport {
    pub url: String,
    pub model: PathBuf,
    pub model_sha256: String,
    /// Whether the server announced a digest and it matched (None: it announced none).
    pub server_sha256_matches: Option<bool>,
    pub images: usize,
    pub batch: usize,
    pub concurrency: usize,
    /// Accuracy of local tract inference on the same images.
    pub local_accuracy: f64,
    pub protocols: Vec<ProtocolReport>,
    /// Every protocol answered every request and agreed with local inference on every image.
    pub passed: bool,
    /// Where this report was saved (`<model>.query.json`), if it could be.
    pub saved: Option<PathBuf>,
}
