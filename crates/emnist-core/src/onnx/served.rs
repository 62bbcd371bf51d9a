//! An exported file loaded for serving: tract's plan, and what the file says about itself in its
//! `metadata_props` (class names, architecture, dataset, test accuracy), plus its digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use prost::Message;
use tract_onnx::pb::ModelProto;

use super::parity::TractModel;

/// A model ready to serve.
pub struct ServedModel {
    pub model: TractModel,
    pub path: PathBuf,
    /// Lowercase hex sha256 of the file: the identity `query` checks.
    pub sha256: String,
    pub bytes: usize,
    /// Class names, one per output column (metadata `class_names`, else the column numbers).
    pub class_names: Vec<String>,
    /// Every `metadata_props` entry.
    pub metadata: BTreeMap<String, String>,
}

impl ServedModel {
    /// Reads, checks and optimises the file.
    pub fn load(path: &Path) -> Result<ServedModel> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let proto =
            ModelProto::decode(&bytes[..]).with_context(|| format!("`{}` is not an ONNX file", path.display()))?;
        let metadata: BTreeMap<String, String> = proto.metadata_props.into_iter().map(|e| (e.key, e.value)).collect();
        let model = TractModel::from_bytes(&bytes, path)?;
        let class_names = match metadata.get("class_names").map(|s| serde_json::from_str::<Vec<String>>(s)) {
            Some(Ok(names)) if names.len() == model.classes() => names,
            _ => (0..model.classes()).map(|i| i.to_string()).collect(),
        };
        Ok(ServedModel {
            sha256: super::sha256_hex(&bytes),
            bytes: bytes.len(),
            path: path.to_path_buf(),
            model,
            class_names,
            metadata,
        })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.model.classes()
    }

    /// The architecture's kind (`linear`, `dnn`, `cnn`) when the file records it.
    pub fn architecture(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(self.metadata.get("architecture")?).ok()?;
        v.get("kind").and_then(|k| k.as_str()).map(str::to_string)
    }

    /// The test accuracy recorded at training time.
    pub fn test_accuracy(&self) -> Option<f64> {
        self.metadata.get("test_accuracy")?.parse().ok()
    }
}
