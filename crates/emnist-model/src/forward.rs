//! A small pure-Rust forward pass over a [`ModelSpec`] and its [`Weights`] (float32, inference
//! only): the reference the ONNX export is checked against in a build without libtorch.
//!
//! It follows libtorch's definitions layer by layer: `y = x Wᵀ + b`, ELU `α(eˣ − 1)` below zero,
//! ReLU, convolution with stride 1 and zero padding, max-pooling without padding (floor), dropout
//! as the identity. Straightforward loops, written so that the inner ones vectorise.

use anyhow::{bail, Context, Result};

use super::weights::Weights;
use super::{Layer, ModelSpec};

/// A network ready to run: the spec's layers bound to their weights (shapes checked once).
pub struct Network<'w> {
    steps: Vec<Step<'w>>,
    input: [usize; 3],
    classes: usize,
}

enum Step<'w> {
    Flatten,
    Linear {
        weight: &'w [f32],
        bias: &'w [f32],
        inputs: usize,
        outputs: usize,
    },
    Elu {
        alpha: f32,
    },
    Relu,
    Conv2d {
        weight: &'w [f32],
        bias: &'w [f32],
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        padding: usize,
    },
    MaxPool2d {
        kernel: usize,
        stride: usize,
    },
}

/// One example's activation shape: `[features]` or `[channels, height, width]`.
type Shape = Vec<usize>;

impl<'w> Network<'w> {
    /// Binds the spec's layers to `weights`, which must hold exactly the spec's parameters.
    pub fn new(spec: &ModelSpec, weights: &'w Weights) -> Result<Network<'w>> {
        weights.check(spec)?;
        let values = |name: &str| -> Result<&'w [f32]> {
            Ok(&weights.get(name).with_context(|| format!("the weights have no `{name}`"))?.values)
        };
        let mut steps = Vec::new();
        for layer in spec.layers() {
            steps.push(match layer {
                Layer::Flatten => Step::Flatten,
                Layer::Linear { name, inputs, outputs } => Step::Linear {
                    weight: values(&format!("{name}.weight"))?,
                    bias: values(&format!("{name}.bias"))?,
                    inputs,
                    outputs,
                },
                Layer::Elu { alpha } => Step::Elu { alpha },
                Layer::Relu => Step::Relu,
                Layer::Conv2d { name, in_channels, out_channels, kernel, padding } => Step::Conv2d {
                    weight: values(&format!("{name}.weight"))?,
                    bias: values(&format!("{name}.bias"))?,
                    in_channels,
                    out_channels,
                    kernel,
                    padding,
                },
                Layer::MaxPool2d { kernel, stride } => Step::MaxPool2d { kernel, stride },
                Layer::Dropout { .. } => continue,
            });
        }
        let input = [spec.input.channels, spec.input.height, spec.input.width];
        let net = Network { steps, input, classes: spec.classes.len() };
        let out = net.output_shape()?;
        if out != [net.classes] {
            bail!(
                "the {} model's layers end in shape {out:?}, not [{}] classes",
                spec.architecture.name(),
                net.classes
            );
        }
        Ok(net)
    }

    /// Values per input example (C·H·W).
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }

    /// Number of outputs (classes).
    pub fn classes(&self) -> usize {
        self.classes
    }

    fn output_shape(&self) -> Result<Shape> {
        let mut shape = self.input.to_vec();
        for step in &self.steps {
            shape = step.output_shape(&shape)?;
        }
        Ok(shape)
    }

    /// Logits `[n, classes]` for `n = input.len() / input_len()` examples laid out `[n, C, H, W]`.
    pub fn logits(&self, input: &[f32]) -> Result<Vec<f32>> {
        let per = self.input_len();
        if !input.len().is_multiple_of(per) {
            bail!("the input holds {} values, not a multiple of {per} (one {:?} image)", input.len(), self.input);
        }
        let n = input.len() / per;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n.max(1));
        let chunk = n.div_ceil(threads.max(1)).max(1);
        let mut out = vec![0.0; n * self.classes];
        std::thread::scope(|s| {
            for (x, y) in input.chunks(chunk * per).zip(out.chunks_mut(chunk * self.classes)) {
                s.spawn(move || {
                    for (xi, yi) in x.chunks(per).zip(y.chunks_mut(self.classes)) {
                        yi.copy_from_slice(&self.one(xi));
                    }
                });
            }
        });
        Ok(out)
    }

    /// Class probabilities `[n, classes]` (softmax of the logits, row by row).
    pub fn probabilities(&self, input: &[f32]) -> Result<Vec<f32>> {
        let mut p = self.logits(input)?;
        for row in p.chunks_mut(self.classes) {
            softmax(row);
        }
        Ok(p)
    }

    /// The logits of one example.
    fn one(&self, x: &[f32]) -> Vec<f32> {
        let mut shape = self.input.to_vec();
        let mut act = x.to_vec();
        for step in &self.steps {
            act = step.run(&act, &shape);
            shape = step.output_shape(&shape).expect("shapes were checked in `Network::new`");
        }
        act
    }
}

impl Step<'_> {
    fn output_shape(&self, s: &[usize]) -> Result<Shape> {
        let chw = |what: &str| -> Result<(usize, usize, usize)> {
            match *s {
                [c, h, w] => Ok((c, h, w)),
                _ => bail!("{what} needs a [channels, height, width] input, got {s:?}"),
            }
        };
        Ok(match *self {
            Step::Flatten => vec![s.iter().product()],
            Step::Linear { inputs, outputs, .. } => {
                if s != [inputs] {
                    bail!("a linear layer of {inputs} inputs gets shape {s:?}");
                }
                vec![outputs]
            }
            Step::Elu { .. } | Step::Relu => s.to_vec(),
            Step::Conv2d { in_channels, out_channels, kernel, padding, .. } => {
                let (c, h, w) = chw("a convolution")?;
                if c != in_channels || h + 2 * padding < kernel || w + 2 * padding < kernel {
                    bail!("a {in_channels}-channel {kernel}×{kernel} convolution gets shape {s:?}");
                }
                vec![out_channels, h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1]
            }
            Step::MaxPool2d { kernel, stride } => {
                let (c, h, w) = chw("max-pooling")?;
                if h < kernel || w < kernel || stride == 0 {
                    bail!("{kernel}×{kernel} max-pooling with stride {stride} gets shape {s:?}");
                }
                vec![c, (h - kernel) / stride + 1, (w - kernel) / stride + 1]
            }
        })
    }

    fn run(&self, x: &[f32], s: &[usize]) -> Vec<f32> {
        match *self {
            Step::Flatten => x.to_vec(),
            Step::Linear { weight, bias, inputs, .. } => {
                weight.chunks_exact(inputs).zip(bias).map(|(row, b)| b + dot(row, x)).collect()
            }
            Step::Elu { alpha } => x.iter().map(|&v| if v > 0.0 { v } else { alpha * v.exp_m1() }).collect(),
            Step::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
            Step::Conv2d { weight, bias, in_channels, out_channels, kernel, padding } => {
                conv2d(x, (s[1], s[2]), weight, bias, (in_channels, out_channels), kernel, padding)
            }
            Step::MaxPool2d { kernel, stride } => max_pool2d(x, (s[0], s[1], s[2]), kernel, stride),
        }
    }
}

/// Dot product with eight partial sums (vectorises; the order differs from a plain loop by rounding only).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Stride-1 convolution with zero padding; `x` is `[cin, h, w]`, weights `[cout, cin, k, k]`.
fn conv2d(
    x: &[f32],
    (h, w): (usize, usize),
    weight: &[f32],
    bias: &[f32],
    (cin, cout): (usize, usize),
    k: usize,
    pad: usize,
) -> Vec<f32> {
    let (oh, ow) = (h + 2 * pad - k + 1, w + 2 * pad - k + 1);
    let mut out = vec![0.0f32; cout * oh * ow];
    for (o, plane) in out.chunks_exact_mut(oh * ow).enumerate() {
        plane.fill(bias[o]);
        for c in 0..cin {
            let input = &x[c * h * w..(c + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = weight[((o * cin + c) * k + ky) * k + kx];
                    // Output columns whose input column `x + kx - pad` lies inside the image.
                    let (x0, x1) = (pad.saturating_sub(kx), ow.min(w + pad - kx));
                    for y in 0..oh {
                        let Some(iy) = (y + ky).checked_sub(pad).filter(|&iy| iy < h) else { continue };
                        let src = &input[iy * w + x0 + kx - pad..iy * w + x1 + kx - pad];
                        for (d, s) in plane[y * ow + x0..y * ow + x1].iter_mut().zip(src) {
                            *d += wv * s;
                        }
                    }
                }
            }
        }
    }
    out
}

/// Max-pooling without padding (floor mode); `x` is `[c, h, w]`.
fn max_pool2d(x: &[f32], (c, h, w): (usize, usize, usize), k: usize, stride: usize) -> Vec<f32> {
    let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
    let mut out = Vec::with_capacity(c * oh * ow);
    for plane in x.chunks_exact(h * w).take(c) {
        for y in 0..oh {
            for xo in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..k {
                    for kx in 0..k {
                        m = m.max(plane[(y * stride + ky) * w + xo * stride + kx]);
                    }
                }
                out.push(m);
            }
        }
    }
    out
}

/// In-place softmax of one row (max subtracted first).
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::Tensor;
    use crate::Architecture;
    use emnist_data::ClassTable;

    fn weights(spec: &ModelSpec, f: impl Fn(&str, usize) -> f32) -> Weights {
        let tensors = spec
            .parameters()
            .into_iter()
            .map(|(name, shape)| {
                let n = shape.iter().product();
                let values = (0..n).map(|i| f(&name, i)).collect();
                Tensor { name, shape, values }
            })
            .collect();
        Weights { tensors }
    }

    #[test]
    fn linear_is_x_w_transposed_plus_b() {
        let spec = ModelSpec::new(Architecture::Linear, ClassTable::numbered(2));
        // Class 0 weighs pixel 0, class 1 pixel 1, with biases 0.5 and -0.5.
        let w = weights(&spec, |name, i| match name {
            "fc.weight" if i == 0 || i == 784 + 1 => 2.0,
            "fc.bias" => [0.5, -0.5][i],
            _ => 0.0,
        });
        let net = Network::new(&spec, &w).unwrap();
        let mut x = vec![0.0; 2 * 784];
        x[0] = 1.0; // example 0: pixel 0
        x[784 + 1] = 3.0; // example 1: pixel 1
        assert_eq!(net.logits(&x).unwrap(), vec![2.5, -0.5, 0.5, 5.5]);
        let p = net.probabilities(&x[..784]).unwrap();
        assert!((p[0] - 1.0 / (1.0 + (-3.0f32).exp())).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6);
        assert!(net.logits(&x[..100]).is_err());
    }

    #[test]
    fn convolution_pads_with_zeros_and_pooling_takes_maxima() {
        // A 3×3 all-ones kernel over a 4×4 ramp, padding 1: each output sums its 3×3 neighbourhood.
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let y = conv2d(&x, (4, 4), &[1.0; 9], &[0.0], (1, 1), 3, 1);
        assert_eq!(y[0], 0.0 + 1.0 + 4.0 + 5.0);
        assert_eq!(y[5], (0..3).flat_map(|r| (0..3).map(move |c| (r * 4 + c) as f32)).sum::<f32>());
        assert_eq!(y[15], 10.0 + 11.0 + 14.0 + 15.0);
        assert_eq!(max_pool2d(&x, (1, 4, 4), 2, 2), vec![5.0, 7.0, 13.0, 15.0]);
        // A 5×5 input pools to 2×2 (floor mode).
        assert_eq!(max_pool2d(&[1.0; 25], (1, 5, 5), 2, 2).len(), 4);
    }

    #[test]
    fn cnn_and_dnn_shapes_line_up_and_elu_matches_its_definition() {
        let k = ClassTable::numbered(5);
        for arch in
            [Architecture::Cnn { channels: vec![2, 3], hidden: 4, dropout: 0.5 }, Architecture::Dnn { hidden: vec![6] }]
        {
            let spec = ModelSpec::new(arch, k.clone());
            let w = weights(&spec, |_, i| ((i * 37 % 11) as f32 - 5.0) * 0.01);
            let net = Network::new(&spec, &w).unwrap();
            let x: Vec<f32> = (0..3 * 784).map(|i| (i % 255) as f32 / 255.0).collect();
            let p = net.probabilities(&x).unwrap();
            assert_eq!(p.len(), 3 * 5);
            for row in p.chunks(5) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
        let elu = Step::Elu { alpha: 1.0 }.run(&[-1.0, 0.0, 2.0], &[3]);
        assert!((elu[0] - ((-1.0f32).exp() - 1.0)).abs() < 1e-7 && elu[1..] == [0.0, 2.0]);
        // Weights of the wrong shape are refused up front.
        let spec = ModelSpec::new(Architecture::Linear, k);
        let other = ModelSpec::new(Architecture::Linear, ClassTable::numbered(4));
        assert!(Network::new(&spec, &weights(&other, |_, _| 0.0)).is_err());
    }
}
