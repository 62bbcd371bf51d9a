//! Running a classifier file with tract: the batch dimension made symbolic when the file leaves it
//! free, or when a file fixed at one image provably runs batches the same (tract's shape analysis
//! carries the batch through to every output, and a two-image batch answers as two single runs);
//! otherwise the file runs a fixed batch at a time. Logits and probabilities both come back
//! whichever of them the file outputs.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use tract_onnx::prelude::*;

use super::budget::{self, Limits};
use super::classifier::Interface;
use emnist_model::contract::{max_abs_diff, OutputKind, Outputs, BATCH, PIXELS, SIDE};

/// A classifier loaded and optimised by tract. Cloning shares the plan; runs may go on in parallel.
#[derive(Clone)]
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    iface: Arc<Interface>,
    /// `Some(b)`: the plan takes exactly `b` images a run.
    batch: Option<usize>,
    classes: usize,
    transpose: bool,
}

impl TractModel {
    /// Loads the model in `bytes` (`path` names it in errors) as `iface` describes it; `transpose`
    /// turns each upright image into EMNIST's stored layout before the model sees it. Every tensor
    /// tract would build (constants it folds, intermediates at `limits.max_batch`) is held to
    /// `limits` before it is built.
    pub fn load(bytes: &[u8], path: &Path, iface: &Interface, transpose: bool, limits: &Limits) -> Result<TractModel> {
        let file = path.display();
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .with_context(|| format!("tract cannot read `{file}` as ONNX"))?;
        let layout = iface.layout;
        let symbolic = || -> Result<(Arc<TypedRunnableModel>, usize)> {
            let sym = model.symbols.sym(BATCH);
            let n = sym.to_dim();
            let mut dims: TVec<TDim> = layout.dims(1).into_iter().map(|d| d.to_dim()).collect();
            dims[0] = n.clone();
            let typed = checked(model.clone().with_input_fact(0, f32::fact(dims).into())?, Some(sym), limits)?;
            let classes = classes_of(&typed, Some(&n))?;
            Ok((typed.into_runnable()?, classes))
        };
        let fixed = |b: usize| -> Result<(Arc<TypedRunnableModel>, usize)> {
            let dims = layout.dims(b);
            let typed = checked(model.clone().with_input_fact(0, f32::fact(dims).into())?, None, limits)?;
            let classes = classes_of(&typed, None)?;
            Ok((typed.into_runnable()?, classes))
        };
        let iface = Arc::new(iface.clone());
        let loaded = match iface.fixed_batch {
            None => {
                let (plan, classes) =
                    symbolic().with_context(|| format!("tract cannot run `{file}` with a free batch size"))?;
                TractModel { plan, iface, batch: None, classes, transpose }
            }
            Some(b) => {
                let (plan, classes) = fixed(b).with_context(|| format!("tract cannot run `{file}`"))?;
                let one = TractModel { plan, iface, batch: Some(b), classes, transpose };
                match (b, symbolic()) {
                    (1, Ok((plan, classes))) if classes == one.classes => {
                        let free = TractModel { plan, batch: None, ..one.clone() };
                        if runs_alike(&free, &one)? {
                            free
                        } else {
                            one
                        }
                    }
                    _ => one,
                }
            }
        };
        Ok(loaded)
    }

    /// Number of classes the model outputs.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The batch size every run of the file takes, when it is fixed (`None`: any).
    pub fn fixed_batch(&self) -> Option<usize> {
        self.batch
    }

    /// What the file's graph declares.
    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    /// Runs `n` upright images (`n × 784` values, already scaled for the model).
    pub fn run(&self, input: &[f32]) -> Result<Outputs> {
        run_images(input, self.transpose, self.batch, self.classes, |x, n| self.run_plan(x, n))
    }

    fn run_plan(&self, input: &[f32], n: usize) -> Result<Outputs> {
        let x = Tensor::from_shape(&self.iface.layout.dims(n), input)?;
        let out = self.plan.run(tvec!(x.into_tvalue()))?;
        let mut logits = None;
        let mut probabilities = None;
        for (t, (name, kind)) in out.iter().zip(&self.iface.outputs) {
            if t.shape() != [n, self.classes] {
                bail!("the model returned shape {:?} for `{name}`, expected [{n}, {}]", t.shape(), self.classes);
            }
            let view = t.to_plain_array_view::<f32>()?;
            let v = match view.as_slice() {
                Some(contiguous) => contiguous.to_vec(),
                None => view.iter().copied().collect(),
            };
            match kind {
                OutputKind::Logits => logits = Some(v),
                OutputKind::Probabilities => probabilities = Some(v),
            }
        }
        Ok(complete(n, self.classes, logits, probabilities))
    }
}

/// Runs `input` (`n` upright images, `n × 784` values) through `run(images, count)`: transposed
/// first when `transpose`, and `fixed` images at a time (the last run padded with blank images,
/// their rows dropped) when the model takes a fixed batch.
pub(crate) fn run_images(
    input: &[f32],
    transpose: bool,
    fixed: Option<usize>,
    classes: usize,
    run: impl Fn(&[f32], usize) -> Result<Outputs>,
) -> Result<Outputs> {
    let n = input.len() / PIXELS;
    if n == 0 || !input.len().is_multiple_of(PIXELS) {
        bail!("the input holds {} values, not a positive multiple of {PIXELS}", input.len());
    }
    let input: std::borrow::Cow<[f32]> = if transpose { transposed(input).into() } else { input.into() };
    let Some(b) = fixed else {
        return run(&input, n);
    };
    let mut all = Outputs { n, classes, logits: Vec::new(), probabilities: Vec::new() };
    for chunk in input.chunks(b * PIXELS) {
        let k = chunk.len() / PIXELS;
        let mut padded = chunk.to_vec();
        padded.resize(b * PIXELS, 0.0);
        let out = run(&padded, b)?.rows(0, k);
        all.logits.extend(out.logits);
        all.probabilities.extend(out.probabilities);
    }
    Ok(all)
}

/// `model` analysed, typed and optimised, each tensor held to `limits` before tract builds it
/// (`batch`: the free batch dimension, checked at `limits.max_batch`).
fn checked(mut model: InferenceModel, batch: Option<Symbol>, limits: &Limits) -> Result<TypedModel> {
    budget::analyse(&mut model, limits)?;
    let typed = model.into_typed()?;
    budget::check_typed(&typed, batch.as_ref(), limits)?;
    typed.into_optimized()
}

/// The class count of every output `[N, K]` (the same for all), checking that the batch is `n`
/// (the symbol) when one is given.
fn classes_of(typed: &TypedModel, n: Option<&TDim>) -> Result<usize> {
    let mut classes = None;
    for i in 0..typed.output_outlets()?.len() {
        let shape = &typed.output_fact(i)?.shape;
        if shape.rank() != 2 {
            bail!("output {i} has shape {shape:?}, not [N, K]");
        }
        if let Some(n) = n {
            if &shape[0] != n {
                bail!("output {i} has shape {shape:?}: the batch does not carry through");
            }
        }
        let k = shape[1]
            .to_i64()
            .ok()
            .filter(|&k| k >= 1)
            .with_context(|| format!("output {i} has shape {shape:?}: no class count"))?;
        if classes.is_some_and(|c| c != k as usize) {
            bail!("the outputs have different class counts");
        }
        classes = Some(k as usize);
    }
    classes.context("the model has no output")
}

/// Whether the free-batch plan answers a batch of two distinct images as the fixed plan answers
/// each alone.
fn runs_alike(free: &TractModel, one: &TractModel) -> Result<bool> {
    let a: Vec<f32> = (0..PIXELS).map(|i| ((i * 7) % 256) as f32 / 255.0).collect();
    let b: Vec<f32> = (0..PIXELS).map(|i| if (i / SIDE + i % SIDE).is_multiple_of(5) { 1.0 } else { 0.0 }).collect();
    let both = free.run(&[a.clone(), b.clone()].concat());
    let Ok(both) = both else { return Ok(false) };
    let singles = one.run(&[a, b].concat())?;
    Ok(max_abs_diff(&both.probabilities, &singles.probabilities) <= 1e-6
        && max_abs_diff(&both.logits, &singles.logits) <= 1e-5)
}

/// Each 28×28 image transposed.
fn transposed(input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; input.len()];
    for (src, dst) in input.chunks(PIXELS).zip(out.chunks_mut(PIXELS)) {
        for r in 0..SIDE {
            for c in 0..SIDE {
                dst[c * SIDE + r] = src[r * SIDE + c];
            }
        }
    }
    out
}

/// Both outputs from what the model gave: probabilities as the softmax of logits, logits as the
/// log of probabilities (floored at the log of the smallest normal float, so never infinite).
pub fn complete(n: usize, classes: usize, logits: Option<Vec<f32>>, probabilities: Option<Vec<f32>>) -> Outputs {
    let (logits, probabilities) = match (logits, probabilities) {
        (Some(l), Some(p)) => (l, p),
        (Some(l), None) => {
            let mut p = l.clone();
            p.chunks_mut(classes.max(1)).for_each(emnist_model::forward::softmax);
            (l, p)
        }
        (None, Some(p)) => (p.iter().map(|&x| x.max(f32::MIN_POSITIVE).ln()).collect(), p),
        (None, None) => (Vec::new(), Vec::new()),
    };
    Outputs { n, classes, logits, probabilities }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_each_image() {
        let x: Vec<f32> = (0..2 * PIXELS).map(|i| i as f32).collect();
        let t = transposed(&x);
        assert_eq!(t[1], x[SIDE]);
        assert_eq!(t[PIXELS + SIDE], x[PIXELS + 1]);
        assert_eq!(transposed(&t), x);
    }

    #[test]
    fn completes_either_output_from_the_other() {
        let o = complete(1, 2, Some(vec![0.0, 0.0]), None);
        assert_eq!(o.probabilities, [0.5, 0.5]);
        let o = complete(1, 2, None, Some(vec![1.0, 0.0]));
        assert_eq!(o.logits[0], 0.0);
        assert!(o.logits[1].is_finite() && o.logits[1] < -80.0);
    }
}
