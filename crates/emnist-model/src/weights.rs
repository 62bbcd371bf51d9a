//! Named float32 weights in safetensors format: written by training, read by export — no libtorch.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use emnist_data::setting::Setting;
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

    /// Checks that every value is finite; the error names each tensor holding NaN or infinity
    /// (the first three, then a count) with how many of its values are.
    pub fn check_finite(&self) -> Result<()> {
        const SHOWN: usize = 3;
        let bad: Vec<String> = self
            .tensors
            .iter()
            .filter_map(|t| {
                let nan = t.values.iter().filter(|v| v.is_nan()).count();
                let inf = t.values.iter().filter(|v| v.is_infinite()).count();
                let of = emnist_data::text::thousands(t.values.len());
                match (nan, inf) {
                    (0, 0) => None,
                    (n, 0) => Some(format!("`{}` has {} NaN of {of}", t.name, emnist_data::text::thousands(n))),
                    (0, i) => Some(format!("`{}` has {} infinite of {of}", t.name, emnist_data::text::thousands(i))),
                    (n, i) => Some(format!(
                        "`{}` has {} NaN and {} infinite of {of}",
                        t.name,
                        emnist_data::text::thousands(n),
                        emnist_data::text::thousands(i)
                    )),
                }
            })
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        let mut list = bad[..bad.len().min(SHOWN)].join(", ");
        if bad.len() > SHOWN {
            let more = bad.len() - SHOWN;
            list.push_str(&format!(" and {more} more tensor{}", if more == 1 { "" } else { "s" }));
        }
        bail!("{list} (the training diverged; retrain with a lower {})", Setting::Lr)
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
        emnist_data::fsutil::write_atomic(path, &self.to_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Architecture;
    use emnist_data::ClassTable;

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

    #[test]
    fn non_finite_values_are_counted_per_tensor() {
        let t = |name: &str, values: Vec<f32>| Tensor { name: name.into(), shape: vec![values.len()], values };
        let ok = Weights { tensors: vec![t("a", vec![0.0, -1.0, f32::MAX])] };
        ok.check_finite().unwrap();
        let bad = Weights {
            tensors: vec![
                t("a", vec![f32::NAN, 1.0, f32::INFINITY, f32::NAN]),
                t("b", vec![1.0; 2000]),
                t("c", vec![f32::NEG_INFINITY]),
                t("d", vec![f32::NAN]),
                t("e", vec![f32::NAN]),
            ],
        };
        let e = bad.check_finite().unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "`a` has 2 NaN and 1 infinite of 4, `c` has 1 infinite of 1, `d` has 1 NaN of 1 and 1 more tensor \
                 (the training diverged; retrain with a lower {})",
                Setting::Lr
            )
        );
    }
}
