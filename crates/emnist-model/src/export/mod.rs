//! ONNX export: the graph built from a run directory's `model.json` + `model.safetensors` (no
//! libtorch), written only after an engine has loaded it and matched the reference forward pass on
//! real test images (the check is passed in: `emnist_runtime::parity::check_parity`); plus the
//! `value_inputs.json` GraphPipe's ONNX server wants beside it.
//!
//! Only this module knows the ONNX protobuf types ([`onnx_pb`], prost-generated, committed).

pub mod graph;
#[rustfmt::skip]
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod onnx_pb;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::artifacts::{OnnxFile, RunDir};
use crate::record::{self, ModelRecord};
pub use crate::reports::{ExportReport, ParityConfig, ParityReport};
use crate::weights::Weights;
use emnist_data::progress::Progress;
use emnist_data::Dataset;
pub use graph::{GraphError, DEFAULT_OPSET, OPSETS};

/// The check an export must pass before it is written: the file at the path (under its temporary
/// name) against the reference forward pass of the record's spec and weights on test images.
pub type ParityCheck<'a> = &'a dyn Fn(&Path, &ModelRecord, &Weights, &Dataset, &ParityConfig) -> Result<ParityReport>;

/// What to export, where, and how to check it.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// A run directory holding `model.json` and `model.safetensors`.
    pub model_dir: PathBuf,
    /// The `.onnx` file to write; `<stem>.value_inputs.json` goes beside it.
    pub out: PathBuf,
    pub opset: i64,
    pub parity: ParityConfig,
}

impl ExportConfig {
    /// Settings with the defaults: `<model dir>.onnx`, opset 17, 1,000 images in batches of 100.
    pub fn new(model_dir: &Path) -> ExportConfig {
        ExportConfig {
            model_dir: model_dir.to_path_buf(),
            out: crate::artifacts::RunDir::new(model_dir).default_onnx().path().to_path_buf(),
            opset: DEFAULT_OPSET,
            parity: ParityConfig::default(),
        }
    }
}

/// GraphPipe's `value_inputs.json`: input name → [ONNX element type (1 = float32), shape with a
/// batch of 1], the format its ONNX server reads (`{"name": [dtype, [dims]]}`).
pub fn value_inputs(record: &ModelRecord) -> String {
    let i = &record.spec.input;
    format!("{{\"{}\": [1, [1, {}, {}, {}]]}}", crate::contract::INPUT, i.channels, i.height, i.width)
}

/// A model read, checked and encoded, not yet written.
pub struct PreparedExport {
    cfg: ExportConfig,
    record: ModelRecord,
    weights: Weights,
    bytes: Vec<u8>,
    ops: Vec<String>,
    build_ms: f64,
}

impl PreparedExport {
    /// The run's record (`model.json`).
    pub fn record(&self) -> &ModelRecord {
        &self.record
    }

    /// The encoded ONNX model.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads the run directory and builds the ONNX bytes; nothing is written yet.
pub fn prepare_export(cfg: &ExportConfig) -> Result<PreparedExport> {
    let t0 = Instant::now();
    graph::ir_version(cfg.opset)?;
    let run = RunDir::new(&cfg.model_dir);
    let record = run.read_record()?;
    let (json, st) = (run.record(), run.weights());
    let weights = Weights::read(&st)?;
    weights.check(&record.spec).with_context(|| format!("`{}` does not fit `{}`", st.display(), json.display()))?;
    // NaN or infinity would fail the parity check as a graph mismatch: name them instead.
    weights.check_finite().with_context(|| format!("`{}` holds non-finite values", st.display()))?;
    let model = graph::build_model(&record, &weights, cfg.opset)?;
    let ops = model.graph.iter().flat_map(|g| g.node.iter().map(|n| n.op_type.clone())).collect();
    let bytes = graph::encode(&model);
    Ok(PreparedExport { cfg: cfg.clone(), record, weights, bytes, ops, build_ms: t0.elapsed().as_secs_f64() * 1e3 })
}

/// Writes the model to a temporary file beside `out`, checks it (`check`, e.g. tract) against the reference
/// forward pass on `dataset`'s test images, and only then writes `value_inputs.json` and the
/// export report under temporary names too and moves all three into place, the `.onnx` last. A
/// failed check leaves nothing behind and returns a report with `written: false`; any other
/// failure removes every temporary and every file it had moved into place, and returns the error.
pub fn export_onnx(
    prepared: PreparedExport,
    dataset: &Dataset,
    check: ParityCheck,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let PreparedExport { cfg, record, weights, bytes, ops, build_ms } = prepared;
    let same_dataset = record::fingerprint(dataset) == record.dataset.fingerprint;
    if !same_dataset {
        progress.note(&format!(
            "warning: the model was trained on {} (fingerprint {}), the check uses {}: parity still holds or not, but accuracy figures are not comparable",
            record.dataset.name,
            record.dataset.fingerprint,
            dataset.info.name
        ));
    }
    let ir_version = graph::ir_version(cfg.opset)?;
    let folder = emnist_data::fsutil::parent_dir(&cfg.out);
    std::fs::create_dir_all(folder).with_context(|| format!("cannot create `{}`", folder.display()))?;
    // Only the leftovers of the three files written here (the model and its two sidecars).
    let onnx_file = OnnxFile::new(&cfg.out);
    let ours: Vec<String> = [cfg.out.clone(), onnx_file.value_inputs(), onnx_file.export_report()]
        .iter()
        .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .collect();
    emnist_data::fsutil::remove_stale_temps(folder, |n| ours.iter().any(|o| o == n));
    // The model first: it is checked under its temporary name, and moved into place last.
    let mut staged = emnist_data::fsutil::Staged::default();
    staged.write(&cfg.out, &bytes)?;
    progress.start("checking the export with tract", None);
    let parity = check(&emnist_data::fsutil::temp_path(&cfg.out), &record, &weights, dataset, &cfg.parity);
    progress.finish();
    let parity = parity?;
    let report = ExportReport {
        model_dir: cfg.model_dir,
        value_inputs: OnnxFile::new(&cfg.out).value_inputs(),
        onnx: cfg.out,
        written: parity.passed,
        bytes: bytes.len(),
        sha256: sha256_hex(&bytes),
        opset: cfg.opset,
        ir_version,
        architecture: record.spec.architecture.name().into(),
        classes: record.spec.classes.len(),
        parameters: record.spec.parameter_count(),
        ops,
        dataset: dataset.info.name.clone(),
        same_dataset,
        recorded_test_accuracy: record.metrics.test_accuracy,
        parity,
        build_ms,
    };
    if !report.written {
        return Ok(report);
    }
    // value_inputs.json and the report beside the file (`emnist report` shows it), then the model.
    staged.write(&report.value_inputs, value_inputs(&record).as_bytes())?;
    staged.write(&OnnxFile::new(&report.onnx).export_report(), &serde_json::to_vec_pretty(&report)?)?;
    staged
        .commit()
        .map_err(|(path, e)| anyhow::Error::from(e).context(format!("cannot write `{}`", path.display())))?;
    Ok(report)
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
