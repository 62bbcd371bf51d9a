//! Where every step's files go, and reading them back typed: a training run's folder
//! ([`RunDir`]), an exported model and the reports beside it ([`OnnxFile`]), and a models folder
//! holding both ([`scan`], what `emnist report` reads). No other module spells these file names.
//!
//! ```text
//! models/dnn/                      RunDir (emnist train --out models/dnn)
//!   model.json  model.safetensors  metrics.csv  confusion.csv
//!   curves.png  confusion.png  per_class.png  checkpoint.safetensors  .lock
//! models/dnn.onnx                  OnnxFile (emnist export --model models/dnn)
//! models/dnn.value_inputs.json     GraphPipe's input description
//! models/dnn.export.json           ExportReport (export's parity check)
//! models/dnn.query.json            QueryReport (the latest emnist query of that file)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use emnist_data::setting::Command;
use serde::de::DeserializeOwned;

use crate::record::{read_metrics, MetricsRow, ModelRecord};
use crate::reports::{ExportReport, QueryReport};

/// A training run's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run's record: spec, settings, dataset, final metrics.
    pub const RECORD: &'static str = "model.json";
    /// The trained weights.
    pub const WEIGHTS: &'static str = "model.safetensors";
    /// One row per evaluation during training.
    pub const METRICS: &'static str = "metrics.csv";
    /// The test set's confusion matrix.
    pub const CONFUSION: &'static str = "confusion.csv";
    /// Where an interrupted run resumes from.
    pub const CHECKPOINT: &'static str = "checkpoint.safetensors";
    /// Held by the `emnist train` writing the folder.
    pub const LOCK: &'static str = ".lock";
    /// The figures, each with its caption.
    pub const FIGURES: [(&'static str, &'static str); 3] = [
        ("curves.png", "test accuracy and loss during training"),
        ("confusion.png", "confusion matrix"),
        ("per_class.png", "accuracy per class"),
    ];

    /// Whether `name` is one of the files a run writes in its folder (their temporaries are
    /// ours to clean up).
    pub fn writes(name: &str) -> bool {
        [Self::RECORD, Self::WEIGHTS, Self::METRICS, Self::CONFUSION, Self::CHECKPOINT].contains(&name)
            || Self::FIGURES.iter().any(|(f, _)| *f == name)
    }

    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder's own name (`models/dnn` → `dnn`).
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned())
    }

    pub fn record(&self) -> PathBuf {
        self.path.join(Self::RECORD)
    }

    pub fn weights(&self) -> PathBuf {
        self.path.join(Self::WEIGHTS)
    }

    pub fn metrics(&self) -> PathBuf {
        self.path.join(Self::METRICS)
    }

    pub fn confusion(&self) -> PathBuf {
        self.path.join(Self::CONFUSION)
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.path.join(Self::CHECKPOINT)
    }

    pub fn lock(&self) -> PathBuf {
        self.path.join(Self::LOCK)
    }

    /// The figure files that exist, with their captions.
    pub fn figures(&self) -> Vec<(PathBuf, &'static str)> {
        Self::FIGURES.iter().map(|(f, c)| (self.path.join(f), *c)).filter(|(p, _)| p.is_file()).collect()
    }

    /// Whether a finished run is here (its record exists).
    pub fn is_finished(&self) -> bool {
        self.record().is_file()
    }

    /// The record; an error says the folder is not a finished run.
    pub fn read_record(&self) -> Result<ModelRecord> {
        if !self.is_finished() {
            anyhow::bail!(
                "`{}` has no {}: pass a run directory written by {}",
                self.path.display(),
                Self::RECORD,
                Command::Train
            );
        }
        ModelRecord::read(&self.record())
    }

    /// The metrics rows.
    pub fn read_metrics(&self) -> Result<Vec<MetricsRow>> {
        read_metrics(&self.metrics())
    }

    /// Where `emnist export` writes the run by default: `models/dnn` → `models/dnn.onnx`.
    pub fn default_onnx(&self) -> OnnxFile {
        OnnxFile::new(match self.path.file_name() {
            Some(name) => self.path.with_file_name(format!("{}.onnx", name.to_string_lossy())),
            None => self.path.join("model.onnx"),
        })
    }
}

/// An exported `.onnx` file and the files named after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxFile {
    path: PathBuf,
}

impl OnnxFile {
    /// What an export report's file name ends with.
    pub const EXPORT_SUFFIX: &'static str = ".export.json";
    /// What a query report's file name ends with.
    pub const QUERY_SUFFIX: &'static str = ".query.json";
    /// What GraphPipe's input description's file name ends with.
    pub const VALUE_INPUTS_SUFFIX: &'static str = ".value_inputs.json";

    pub fn new(path: impl Into<PathBuf>) -> OnnxFile {
        OnnxFile { path: path.into() }
    }

    /// The `.onnx` file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name without `.onnx` (`models/dnn.onnx` → `dnn`).
    pub fn stem(&self) -> String {
        self.path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
    }

    fn beside(&self, suffix: &str) -> PathBuf {
        self.path.with_file_name(format!("{}{suffix}", self.stem()))
    }

    /// `models/dnn.onnx` → `models/dnn.value_inputs.json`.
    pub fn value_inputs(&self) -> PathBuf {
        self.beside(Self::VALUE_INPUTS_SUFFIX)
    }

    /// `models/dnn.onnx` → `models/dnn.export.json`.
    pub fn export_report(&self) -> PathBuf {
        self.beside(Self::EXPORT_SUFFIX)
    }

    /// `models/dnn.onnx` → `models/dnn.query.json`.
    pub fn query_report(&self) -> PathBuf {
        self.beside(Self::QUERY_SUFFIX)
    }

    pub fn read_export_report(&self) -> Result<ExportReport> {
        read_json(&self.export_report())
    }

    pub fn read_query_report(&self) -> Result<QueryReport> {
        read_json(&self.query_report())
    }
}

/// A JSON file read into its type: a missing or renamed field is an error that names the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("`{}` is not a report this emnist can read", path.display()))
}

/// What a models folder holds, each list sorted by name.
#[derive(Debug, Default)]
pub struct ModelsFolder {
    /// Finished runs: folders directly inside holding a readable record.
    pub runs: Vec<(RunDir, ModelRecord)>,
    /// Export reports, by the `.onnx` file's stem.
    pub exports: Vec<(String, ExportReport)>,
    /// Query reports, by the `.onnx` file's stem.
    pub queries: Vec<(String, QueryReport)>,
    /// Files that look like ours but cannot be read, and why (written by another version, damaged).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Reads what the steps wrote into `models` (nothing when the folder does not exist).
pub fn scan(models: &Path) -> ModelsFolder {
    let mut found = ModelsFolder::default();
    let Ok(entries) = std::fs::read_dir(models) else { return found };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let run = RunDir::new(&path);
        let result = if run.is_finished() {
            run.read_record().map(|r| found.runs.push((run, r)))
        } else if let Some(stem) = name.strip_suffix(OnnxFile::EXPORT_SUFFIX) {
            read_json(&path).map(|r| found.exports.push((stem.to_string(), r)))
        } else if let Some(stem) = name.strip_suffix(OnnxFile::QUERY_SUFFIX) {
            read_json(&path).map(|r| found.queries.push((stem.to_string(), r)))
        } else {
            Ok(())
        };
        if let Err(e) = result {
            found.unreadable.push((path, format!("{e:#}")));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_run_directory() {
        let run = RunDir::new("models/dnn");
        assert_eq!(run.record(), PathBuf::from("models/dnn/model.json"));
        assert_eq!(run.default_onnx().path(), Path::new("models/dnn.onnx"));
        assert_eq!(RunDir::new("models/cnn.v2/").default_onnx().path(), Path::new("models/cnn.v2.onnx"));
        let onnx = OnnxFile::new("out/dnn.onnx");
        assert_eq!(onnx.value_inputs(), PathBuf::from("out/dnn.value_inputs.json"));
        assert_eq!(onnx.export_report(), PathBuf::from("out/dnn.export.json"));
        assert_eq!(onnx.query_report(), PathBuf::from("out/dnn.query.json"));
    }

    #[test]
    fn a_report_missing_a_field_is_unreadable_not_blank() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dnn.query.json"), br#"{"url": "http://x", "images": 3}"#).unwrap();
        std::fs::write(dir.path().join("notes.json"), b"{}").unwrap();
        let found = scan(dir.path());
        assert!(found.queries.is_empty() && found.runs.is_empty());
        assert_eq!(found.unreadable.len(), 1);
        assert!(found.unreadable[0].1.contains("missing field"), "{}", found.unreadable[0].1);
    }
}
