//! `models.json` in a log folder: every model and version the server logged for, with its class
//! names in output order, so that a reader maps the class names of the records back to indices.
//!
//! The server writes it (atomically) when it starts and whenever it loads a version; versions it
//! no longer serves stay listed, since older records still name them.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil;

/// The file's name inside a log folder.
pub const MODELS_FILE: &str = "models.json";
/// What every logged image is: 28×28 pixel bytes, row-major, upright, light ink on dark.
pub const INPUT_U8_28X28: &str = "uint8 28x28";

/// One model version a log's records may name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogModel {
    /// The model's name as the server serves it.
    pub name: String,
    /// Its version number.
    pub version: u64,
    /// Lowercase hex SHA-256 of the ONNX file, when the server has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Class names in output order: class `i` of the model is `classes[i]`.
    pub classes: Vec<String>,
    /// How the logged images are stored ([`INPUT_U8_28X28`]).
    pub input: String,
}

impl LogModel {
    /// The index of class `name`, if the model has it.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == name)
    }
}

/// The document of `models.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogModels {
    /// By name, then version.
    pub models: Vec<LogModel>,
}

impl LogModels {
    /// Version `version` of model `name`.
    pub fn find(&self, name: &str, version: u64) -> Option<&LogModel> {
        self.models.iter().find(|m| m.name == name && m.version == version)
    }

    /// Adds `model`, replacing what was listed under its name and version; returns whether the
    /// document changed.
    pub fn insert(&mut self, model: LogModel) -> bool {
        match self.models.iter_mut().find(|m| m.name == model.name && m.version == model.version) {
            Some(m) if *m == model => false,
            Some(m) => {
                *m = model;
                true
            }
            None => {
                self.models.push(model);
                self.models.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
                true
            }
        }
    }

    /// Writes `dir/models.json` atomically (a reader sees the old document or the new one).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("plain data");
        text.push('\n');
        fsutil::write_atomic(&dir.join(MODELS_FILE), text.as_bytes())
    }
}

/// Reads `dir/models.json`; `None` when the folder has none (a log written before the file
/// existed, or by another writer).
pub fn read_models(dir: &Path) -> Result<Option<LogModels>> {
    let path = dir.join(MODELS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let models = serde_json::from_slice(&bytes)
        .with_context(|| format!("`{}` is not a payload log's model list", path.display()))?;
    Ok(Some(models))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, version: u64, classes: &[&str]) -> LogModel {
        LogModel {
            name: name.into(),
            version,
            sha256: Some("ab".repeat(32)),
            classes: classes.iter().map(|c| c.to_string()).collect(),
            input: INPUT_U8_28X28.into(),
        }
    }

    #[test]
    fn written_and_read_back_sorted_with_replacements() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_models(dir.path()).unwrap(), None);
        let mut m = LogModels::default();
        assert!(m.insert(model("emnist", 2, &["a", "b"])));
        assert!(m.insert(model("digits", 7, &["0", "1"])));
        assert!(m.insert(model("emnist", 1, &["x", "y"])));
        assert!(!m.insert(model("emnist", 1, &["x", "y"])), "the same entry changes nothing");
        assert!(m.insert(model("emnist", 1, &["x", "z"])), "a reloaded version replaces its entry");
        m.write(dir.path()).unwrap();
        let back = read_models(dir.path()).unwrap().unwrap();
        assert_eq!(back, m);
        let order: Vec<(&str, u64)> = back.models.iter().map(|m| (m.name.as_str(), m.version)).collect();
        assert_eq!(order, [("digits", 7), ("emnist", 1), ("emnist", 2)]);
        assert_eq!(back.find("emnist", 1).unwrap().class_index("z"), Some(1));
        assert_eq!(back.find("emnist", 3), None);
        std::fs::write(dir.path().join(MODELS_FILE), "[1, 2").unwrap();
        assert!(read_models(dir.path()).unwrap_err().to_string().contains("model list"));
    }
}
