//! Named float32 weights in safetensors format: written by training, read by export — no libtorch.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::ModelSpec;

/// One named tensor: shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A model's named weights, in the spec's parameter order.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub tensors: Vec<Tensor>,
}

impl Weights {
    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Checks that the weights are exactly the spec's parameters, with the spec's shapes.
    pub fn check(&self, spec: &ModelSpec) -> Result<()> {
        let wanted = spec.parameters();
        for (name, shape) in &wanted {
            match self.get(name) {
                None => bail!("the weights have no `{name}`, which the {} model needs", spec.architecture.name()),
                Some(t) if &t.shape != shape => {
                    bail!("`{name}` has shape {:?}, the model spec says {:?}", t.shape, shape)
                }
                Some(t) if t.values.len() != shape.iter().product::<usize>() => {
                    bail!("`{name}` holds {} values for shape {:?}", t.values.len(), shape)
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = self.tensors.iter().find(|t| !wanted.iter().any(|(n, _)| *n == t.name)) {
            bail!("the weights have `{}`, which the {} model does not use", extra.name, spec.architecture.name());
        }
        Ok(())
    }

    /// Serialises to safetensors bytes (little-endian f32), in a deterministic order.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_with_metadata(None)
    }

    /// Serialises with a string→string metadata map in the header (checkpoints keep their state there).
    pub fn to_bytes_with_metadata(&self, metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>> {
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone(), t.values.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views: Vec<(String, TensorView<'_>)> = raw
            .iter()
            .map(|(n, s, b)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
            .collect::<Result<_, safetensors::SafeTensorError>>()?;
        Ok(safetensors::serialize(views, metadata)?)
    }

    /// Parses safetensors bytes holding float32 tensors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Weights> {
        Ok(Weights::from_bytes_with_metadata(bytes)?.0)
    }

    /// Parses safetensors bytes and returns the header's metadata map too.
    pub fn from_bytes_with_metadata(bytes: &[u8]) -> Result<(Weights, HashMap<String, String>)> {
        let (_, meta) = SafeTensors::read_metadata(bytes).context("not a valid safetensors file")?;
        let metadata = meta.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(bytes).context("not a valid safetensors file")?;
        let mut tensors = Vec::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                bail!("`{name}` is {:?}; only float32 weights are supported", view.dtype());
            }
            let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            tensors.push(Tensor { name, shape: view.shape().to_vec(), values });
        }
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((Weights { tensors }, metadata))
    }

    /// Reads a `.safetensors` file.
    pub fn read(path: &Path) -> Result<Weights> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        Weights::from_bytes(&bytes).with_context(|| format!("reading `{}`", path.display()))
    }

    /// Writes a `.safetensors` file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, &self.to_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ClassTable;
    use crate::model::Architecture;

    #[test]
    fn round_trip_and_check_against_the_spec() {
        let spec = ModelSpec::new(Architecture::Linear, ClassTable::numbered(3));
        let tensors = spec
            .parameters()
            .into_iter()
            .map(|(name, shape)| {
                let n = shape.iter().product::<usize>();
                Tensor { name, shape, values: (0..n).map(|i| i as f32 * 0.5 - 1.0).collect() }
            })
            .collect();
        let w = Weights { tensors };
        w.check(&spec).unwrap();
        let back = Weights::from_bytes(&w.to_bytes().unwrap()).unwrap();
        assert_eq!(back.get("fc.weight"), w.get("fc.weight"));
        back.check(&spec).unwrap();
        let other = ModelSpec::new(Architecture::Linear, ClassTable::numbered(4));
        assert!(format!("{:#}", back.check(&other).unwrap_err()).contains("shape"));
        assert!(Weights::from_bytes(b"garbage").is_err());
    }
}
