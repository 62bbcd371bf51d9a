//! Running an exported file with tract, and the parity check: tract's probabilities against the
//! reference forward pass over the same weights, on real test images.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use crate::contract::{argmax, max_abs_diff, Outputs, LOGITS, PROBABILITIES, SIDE};
use crate::data::{Part, PIXELS};
use crate::model::forward::Network;
use crate::model::weights::Weights;
use crate::model::ModelSpec;

/// An ONNX model loaded and optimised by tract, its batch dimension left symbolic. Cloning
/// shares the plan; runs may go on in parallel.
#[derive(Clone)]
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    classes: usize,
}

impl TractModel {
    /// Loads an exported file (one input `image`, outputs `logits` then `probabilities`).
    pub fn load(path: &Path) -> Result<TractModel> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        TractModel::from_bytes(&bytes, path)
    }

    /// Loads a model from the bytes of an exported file (`path` names it in errors).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TractModel> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .with_context(|| format!("tract cannot read `{}` as ONNX", path.display()))?;
        let outputs: Vec<&str> = model.output_outlets()?.iter().map(|&o| model.outlet_label(o).unwrap_or("")).collect();
        if outputs != [LOGITS, PROBABILITIES] {
            bail!("`{}` has outputs {outputs:?}, not [`{LOGITS}`, `{PROBABILITIES}`]", path.display());
        }
        let typed = model.into_optimized().with_context(|| format!("tract cannot optimise `{}`", path.display()))?;
        let classes = match typed.output_fact(1)?.shape.as_concrete() {
            Some(_) => bail!("`{}` has no symbolic batch dimension", path.display()),
            None => typed.output_fact(1)?.shape[1].as_i64().context("the class dimension is not a number")? as usize,
        };
        let plan = typed.into_runnable()?;
        Ok(TractModel { plan, classes })
    }

    /// Number of classes the model outputs.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Runs one batch: `input` holds `n` images `[1, 28, 28]` of values in [0, 1].
    pub fn run(&self, input: &[f32]) -> Result<Outputs> {
        let n = input.len() / PIXELS;
        if n == 0 || !input.len().is_multiple_of(PIXELS) {
            bail!("the input holds {} values, not a positive multiple of {PIXELS}", input.len());
        }
        let x = Tensor::from_shape(&[n, 1, SIDE, SIDE], input)?;
        let out = self.plan.run(tvec!(x.into_tvalue()))?;
        let read = |t: &TValue| -> Result<Vec<f32>> {
            if t.shape() != [n, self.classes] {
                bail!("tract returned shape {:?}, expected [{n}, {}]", t.shape(), self.classes);
            }
            Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
        };
        Ok(Outputs { n, classes: self.classes, logits: read(&out[0])?, probabilities: read(&out[1])? })
    }
}

/// How the parity check runs.
#[derive(Debug, Clone)]
pub struct ParityConfig {
    /// How many test images (all of them when the test part has fewer).
    pub images: usize,
    /// Images per tract run (the symbolic batch dimension at work).
    pub batch_size: usize,
    /// The largest absolute difference of probabilities that passes.
    pub tolerance: f32,
}

impl Default for ParityConfig {
    fn default() -> Self {
        ParityConfig { images: 1000, batch_size: 100, tolerance: 1e-5 }
    }
}

/// The outcome of the parity check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParityReport {
    /// Test images compared.
    pub images: usize,
    pub batch_size: usize,
    /// Largest |tract − reference| over all probabilities.
    pub max_abs_diff_probabilities: f64,
    /// Largest |tract − reference| over all logits.
    pub max_abs_diff_logits: f64,
    pub tolerance: f64,
    /// Images whose most probable class differs between tract and the reference.
    pub argmax_disagreements: usize,
    /// Share of images whose argmax agrees (1.0 = all).
    pub argmax_agreement: f64,
    /// The exported model's accuracy on these images (their labels from the dataset).
    pub accuracy: f64,
    pub tract_ms: f64,
    pub reference_ms: f64,
    /// Differences within tolerance and every argmax agrees.
    pub passed: bool,
}

/// Evenly spread test images: `count` indices out of `n` (all of them when `count >= n`).
pub fn sample_indices(n: usize, count: usize) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    (0..count).map(|i| i * n / count).collect()
}

/// Compares the model in `path` (run by tract) with the reference forward pass over `weights`.
pub fn check_parity(
    path: &Path,
    spec: &ModelSpec,
    weights: &Weights,
    test: &Part,
    cfg: &ParityConfig,
) -> Result<ParityReport> {
    if test.is_empty() {
        bail!("the dataset has no test images to check the export on");
    }
    if cfg.batch_size == 0 {
        bail!("the parity batch size must be positive");
    }
    let model = TractModel::load(path)?;
    let reference = Network::new(spec, weights)?;
    if model.classes() != reference.classes() {
        bail!("`{}` outputs {} classes, the model spec {}", path.display(), model.classes(), reference.classes());
    }
    let k = reference.classes();
    let idx = sample_indices(test.len(), cfg.images);
    let (mut tract_s, mut ref_s) = (0.0, 0.0);
    let (mut dp, mut dl) = (0.0f64, 0.0f64);
    let (mut disagree, mut correct) = (0, 0);
    for chunk in idx.chunks(cfg.batch_size) {
        let input: Vec<f32> =
            chunk.iter().flat_map(|&i| test.image(i).iter().map(|&p| p as f32 * spec.input.scale)).collect();
        let t0 = Instant::now();
        let got = model.run(&input)?;
        tract_s += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let want_logits = reference.logits(&input)?;
        let mut want = want_logits.clone();
        want.chunks_mut(k).for_each(crate::model::forward::softmax);
        ref_s += t0.elapsed().as_secs_f64();
        dl = dl.max(max_abs_diff(&got.logits, &want_logits));
        dp = dp.max(max_abs_diff(&got.probabilities, &want));
        for (j, &i) in chunk.iter().enumerate() {
            let a = argmax(&got.probabilities[j * k..(j + 1) * k]);
            disagree += usize::from(a != argmax(&want[j * k..(j + 1) * k]));
            correct += usize::from(a == test.labels[i] as usize);
        }
    }
    let n = idx.len();
    Ok(ParityReport {
        images: n,
        batch_size: cfg.batch_size,
        max_abs_diff_probabilities: dp,
        max_abs_diff_logits: dl,
        tolerance: cfg.tolerance as f64,
        argmax_disagreements: disagree,
        argmax_agreement: (n - disagree) as f64 / n as f64,
        accuracy: correct as f64 / n as f64,
        tract_ms: tract_s * 1e3,
        reference_ms: ref_s * 1e3,
        passed: dp <= cfg.tolerance as f64 && disagree == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_test_set() {
        assert_eq!(sample_indices(5, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_indices(10, 4), vec![0, 2, 5, 7]);
    }
}
