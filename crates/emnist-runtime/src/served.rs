//! A classifier file loaded for serving: what its graph declares ([`Interface`]), tract's plan,
//! how requests address it ([`Signature`]), its class names and where they came from, what the
//! file says about itself in its `metadata_props` (architecture, dataset, test accuracy), and its
//! digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use prost::Message;
use tract_onnx::pb::ModelProto;

use super::classifier::{self, Interface, LabelSource, ModelOptions};
use super::tract::TractModel;
use emnist_model::contract::Signature;

/// A model ready to serve.
pub struct ServedModel {
    pub model: TractModel,
    pub path: PathBuf,
    /// The file's bytes (what an engine other than tract loads).
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of the file: the identity `query` checks.
    pub sha256: String,
    /// How requests address the model.
    pub signature: Signature,
    /// How the file was read.
    pub options: ModelOptions,
    /// Class names, one per output column.
    pub class_names: Vec<String>,
    pub labels_from: LabelSource,
    /// Every `metadata_props` entry.
    pub metadata: BTreeMap<String, String>,
}

impl ServedModel {
    /// Reads the file (a regular file within `options.limits`, checked before it is read), checks
    /// that it is a 28×28 classifier, and optimises it.
    pub fn load(path: &Path, options: &ModelOptions) -> Result<ServedModel> {
        let bytes = super::budget::read_file(path, &options.limits)?;
        ServedModel::from_bytes(bytes, path, options)
    }

    /// [`ServedModel::load`] on bytes already read (`path` names the file). Tensors are held to
    /// `options.limits` before they are built, and a panic inside tract is an error.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path, options: &ModelOptions) -> Result<ServedModel> {
        let proto = ModelProto::decode(&bytes[..]).with_context(|| {
            format!("`{}` is not an ONNX file (it does not decode as a ModelProto)", path.display())
        })?;
        let iface = classifier::inspect(&proto, path, options)?;
        super::budget::check_proto(&proto, path, &options.limits)?;
        let metadata: BTreeMap<String, String> = proto.metadata_props.into_iter().map(|e| (e.key, e.value)).collect();
        let what = format!("loading `{}`", path.display());
        let model = super::budget::catching(&what, || {
            TractModel::load(&bytes, path, &iface, options.transpose, &options.limits)
        })?;
        let (class_names, labels_from) = classifier::class_names(
            metadata.get("class_names").map(String::as_str),
            options.labels.as_deref(),
            model.classes(),
        )?;
        Ok(ServedModel {
            sha256: super::sha256_hex(&bytes),
            signature: Signature {
                clamp: options.clamp_inputs,
                ..Signature::new(&iface.input, &iface.outputs, options.input_scale)
            },
            bytes,
            path: path.to_path_buf(),
            options: options.clone(),
            model,
            class_names,
            labels_from,
            metadata,
        })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.model.classes()
    }

    /// What the file's graph declares.
    pub fn interface(&self) -> &Interface {
        self.model.interface()
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

    /// How the server reads the file, as metadata announces it (and `query` reads it back).
    pub fn interpretation(&self) -> serde_json::Value {
        let i = self.interface();
        serde_json::json!({
            "input": i.input,
            "input_shape": i.layout.announced(),
            "file_batch": i.fixed_batch,
            "runs_batches_of": self.model.fixed_batch(),
            "outputs": i.outputs.iter().map(|(n, k)| serde_json::json!({ "name": n, "holds": k })).collect::<Vec<_>>(),
            "input_scale": self.options.input_scale,
            "transpose": self.options.transpose,
            "opset": i.opset,
            "labels": self.labels_from.describe(),
        })
    }
}
