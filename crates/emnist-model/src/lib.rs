//! `emnist-model`: the model as every step sees it, with no libtorch, no engine and no server.
//! The spec (this module: architecture, input, class table — the single description that training
//! builds and export translates), the one input/output contract ([`contract`]), weights
//! ([`weights`]) and the reference forward pass ([`forward`]); a run's recipe ([`recipe`]), record
//! ([`record`]), files ([`artifacts`]) and training settings ([`train`]); ONNX export
//! ([`export`]); and what export and the deployment check report ([`reports`]).

pub mod artifacts;
pub mod contract;
pub mod export;
pub mod forward;
pub mod recipe;
pub mod record;
pub mod reports;
pub mod train;
pub mod weights;

use serde::{Deserialize, Serialize};

use emnist_data::{ClassTable, SIDE};

/// The architectures `emnist train --model` offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Architecture {
    /// One fully connected layer 784 → K (softmax at prediction time).
    Linear,
    /// Fully connected hidden layers with ELU activations, then K outputs (the seed's 512, 256).
    Dnn { hidden: Vec<usize> },
    /// Convolution blocks (conv 3×3 + ReLU + 2×2 max-pool), dropout, one hidden fully connected layer.
    Cnn { channels: Vec<usize>, hidden: usize, dropout: f32 },
}

impl Architecture {
    /// The seed's DNN: two ELU hidden layers of 512 and 256 units.
    pub fn dnn() -> Self {
        Architecture::Dnn { hidden: vec![512, 256] }
    }

    /// A small CNN: 32 and 64 channels, 128 hidden units, dropout 0.25.
    pub fn cnn() -> Self {
        Architecture::Cnn { channels: vec![32, 64], hidden: 128, dropout: 0.25 }
    }

    /// `linear`, `dnn` or `cnn`.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Linear => "linear",
            Architecture::Dnn { .. } => "dnn",
            Architecture::Cnn { .. } => "cnn",
        }
    }

    /// The layers, in order, for `classes` outputs and a 1×28×28 input.
    pub fn layers(&self, classes: usize) -> Vec<Layer> {
        let fc = |name: &str, inputs, outputs| Layer::Linear { name: name.to_string(), inputs, outputs };
        let pixels = SIDE * SIDE;
        match self {
            Architecture::Linear => vec![Layer::Flatten, fc("fc", pixels, classes)],
            Architecture::Dnn { hidden } => {
                let mut layers = vec![Layer::Flatten];
                let mut width = pixels;
                for (i, &h) in hidden.iter().enumerate() {
                    layers.push(fc(&format!("fc{}", i + 1), width, h));
                    layers.push(Layer::Elu { alpha: 1.0 });
                    width = h;
                }
                layers.push(fc("out", width, classes));
                layers
            }
            Architecture::Cnn { channels, hidden, dropout } => {
                let mut layers = Vec::new();
                let (mut ch, mut side) = (1, SIDE);
                for (i, &c) in channels.iter().enumerate() {
                    layers.push(Layer::Conv2d {
                        name: format!("conv{}", i + 1),
                        in_channels: ch,
                        out_channels: c,
                        kernel: 3,
                        padding: 1,
                    });
                    layers.push(Layer::Relu);
                    layers.push(Layer::MaxPool2d { kernel: 2, stride: 2 });
                    ch = c;
                    side /= 2;
                }
                layers.push(Layer::Flatten);
                layers.push(Layer::Dropout { p: *dropout });
                layers.push(fc("fc1", ch * side * side, *hidden));
                layers.push(Layer::Relu);
                layers.push(Layer::Dropout { p: *dropout });
                layers.push(fc("out", *hidden, classes));
                layers
            }
        }
    }
}

/// One layer of a model, in the vocabulary that both libtorch and ONNX have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Layer {
    /// [N, C, H, W] → [N, C·H·W].
    Flatten,
    /// `y = x Wᵀ + b`, weights `<name>.weight` `[outputs, inputs]` and `<name>.bias` `[outputs]`.
    Linear {
        name: String,
        inputs: usize,
        outputs: usize,
    },
    Elu {
        alpha: f32,
    },
    Relu,
    /// Square kernel, stride 1; weights `<name>.weight` `[out, in, k, k]` and `<name>.bias` `[out]`.
    Conv2d {
        name: String,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        padding: usize,
    },
    MaxPool2d {
        kernel: usize,
        stride: usize,
    },
    /// Active in training only; the identity at inference.
    Dropout {
        p: f32,
    },
}

impl Layer {
    /// The named parameters of this layer and their shapes (PyTorch's layout).
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        match self {
            Layer::Linear { name, inputs, outputs } => {
                vec![(format!("{name}.weight"), vec![*outputs, *inputs]), (format!("{name}.bias"), vec![*outputs])]
            }
            Layer::Conv2d { name, in_channels, out_channels, kernel, .. } => vec![
                (format!("{name}.weight"), vec![*out_channels, *in_channels, *kernel, *kernel]),
                (format!("{name}.bias"), vec![*out_channels]),
            ],
            _ => Vec::new(),
        }
    }
}

/// What a model expects as input: the contract every consumer (tch, ONNX, the server) shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Pixel bytes are multiplied by this (1/255): values in [0, 1], light ink on dark, upright.
    pub scale: f32,
}

impl Default for InputSpec {
    fn default() -> Self {
        InputSpec { channels: 1, height: SIDE, width: SIDE, scale: crate::contract::PIXEL_SCALE }
    }
}

/// Architecture + input contract + classes: everything needed to rebuild the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub architecture: Architecture,
    pub input: InputSpec,
    pub classes: ClassTable,
}

impl ModelSpec {
    pub fn new(architecture: Architecture, classes: ClassTable) -> Self {
        ModelSpec { architecture, input: InputSpec::default(), classes }
    }

    pub fn layers(&self) -> Vec<Layer> {
        self.architecture.layers(self.classes.len())
    }

    /// Every named parameter and its shape, in layer order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        self.layers().iter().flat_map(Layer::parameters).collect()
    }

    /// Number of trainable values.
    pub fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_seed() {
        let k = ClassTable::byclass();
        assert_eq!(ModelSpec::new(Architecture::Linear, k.clone()).parameter_count(), 48_670);
        assert_eq!(ModelSpec::new(Architecture::dnn(), k.clone()).parameter_count(), 549_182);
        let cnn = ModelSpec::new(Architecture::cnn(), k);
        let names: Vec<String> = cnn.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "fc1.weight",
                "fc1.bias",
                "out.weight",
                "out.bias"
            ]
        );
        assert_eq!(cnn.parameters()[4].1, vec![128, 64 * 7 * 7]);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ModelSpec::new(Architecture::Dnn { hidden: vec![64] }, ClassTable::numbered(10));
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains(r#""kind":"dnn""#));
        assert_eq!(serde_json::from_str::<ModelSpec>(&text).unwrap(), spec);
    }
}
