//! Builds the libtorch network for a [`ModelSpec`]'s layers, and moves weights in and out of it.

use anyhow::{bail, Result};
use tch::{nn, nn::ModuleT, Kind, Tensor};

use emnist_model::weights::{Tensor as NamedTensor, Weights};
use emnist_model::{Layer, ModelSpec};

/// The network: a sequence of layers whose parameters live in a `VarStore` under the spec's names.
pub struct Net {
    seq: nn::SequentialT,
}

impl Net {
    pub fn new(root: &nn::Path, spec: &ModelSpec) -> Result<Net> {
        let mut seq = nn::seq_t();
        for layer in spec.layers() {
            seq = match layer {
                Layer::Flatten => seq.add_fn(|x| x.flatten(1, -1)),
                Layer::Linear { name, inputs, outputs } => {
                    seq.add(nn::linear(root / name.as_str(), inputs as i64, outputs as i64, Default::default()))
                }
                Layer::Elu { alpha } => {
                    if alpha != 1.0 {
                        bail!("ELU with alpha {alpha} is not supported (only 1.0)");
                    }
                    seq.add_fn(|x| x.elu())
                }
                Layer::Relu => seq.add_fn(|x| x.relu()),
                Layer::Conv2d { name, in_channels, out_channels, kernel, padding } => {
                    let cfg = nn::ConvConfig { padding: padding as i64, ..Default::default() };
                    seq.add(nn::conv2d(
                        root / name.as_str(),
                        in_channels as i64,
                        out_channels as i64,
                        kernel as i64,
                        cfg,
                    ))
                }
                Layer::MaxPool2d { kernel, stride } => {
                    let (k, s) = (kernel as i64, stride as i64);
                    seq.add_fn(move |x| x.max_pool2d([k, k], [s, s], [0, 0], [1, 1], false))
                }
                Layer::Dropout { p } => seq.add_fn_t(move |x, train| x.dropout(p as f64, train)),
            };
        }
        Ok(Net { seq })
    }

    /// Logits for a float batch [N, 1, 28, 28].
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.seq.forward_t(x, train)
    }
}

/// The spec's parameters, in spec order, from a `VarStore`.
pub fn parameters(vs: &nn::VarStore, spec: &ModelSpec) -> Result<Vec<(String, Tensor)>> {
    let vars = vs.variables();
    spec.parameters()
        .into_iter()
        .map(|(name, shape)| {
            let t = vars.get(&name).ok_or_else(|| anyhow::anyhow!("the network has no parameter `{name}`"))?;
            let got: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            if got != shape {
                bail!("parameter `{name}` has shape {got:?}, the spec says {shape:?}");
            }
            Ok((name, t.shallow_clone()))
        })
        .collect()
}

/// Copies tensors to host float32 values.
pub fn to_named(name: &str, t: &Tensor) -> Result<NamedTensor> {
    let t = t.detach().to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous();
    let shape = t.size().iter().map(|&d| d as usize).collect();
    let values = Vec::<f32>::try_from(t.flatten(0, -1))?;
    Ok(NamedTensor { name: name.to_string(), shape, values })
}

/// The model's weights, for `model.safetensors`.
pub fn weights(vs: &nn::VarStore, spec: &ModelSpec) -> Result<Weights> {
    let tensors = parameters(vs, spec)?.iter().map(|(n, t)| to_named(n, t)).collect::<Result<_>>()?;
    Ok(Weights { tensors })
}

/// Overwrites a tensor's values (under no_grad) from host values of the same shape.
pub fn assign(dst: &Tensor, src: &NamedTensor) -> Result<()> {
    let shape: Vec<usize> = dst.size().iter().map(|&d| d as usize).collect();
    if shape != src.shape {
        bail!("`{}` has shape {:?} in the checkpoint, {:?} in the network", src.name, src.shape, shape);
    }
    let host = Tensor::from_slice(&src.values).reshape(dst.size()).to_device(dst.device());
    tch::no_grad(|| {
        let mut d = dst.shallow_clone();
        d.copy_(&host);
    });
    Ok(())
}
