//! The parity check: tract's answers for an exported file against the reference forward pass over
//! the same weights, on real test images. Export ([`emnist_model::export`]) calls it through the
//! check it is given, before any file is moved into place.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};

use super::classifier::ModelOptions;
use super::ServedModel;
use emnist_data::{Dataset, Part};
use emnist_model::contract::{argmax, max_abs_diff};
use emnist_model::forward::Network;
use emnist_model::record::ModelRecord;
use emnist_model::reports::{ParityConfig, ParityReport};
use emnist_model::weights::Weights;
use emnist_model::ModelSpec;

/// Evenly spread test images: `count` indices out of `n` (all of them when `count >= n`).
pub fn sample_indices(n: usize, count: usize) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    (0..count).map(|i| i * n / count).collect()
}

/// [`check_parity`] as export calls it ([`emnist_model::export::ParityCheck`]).
pub fn check_export(
    path: &Path,
    record: &ModelRecord,
    weights: &Weights,
    dataset: &Dataset,
    cfg: &ParityConfig,
) -> Result<ParityReport> {
    check_parity(path, &record.spec, weights, &dataset.test, cfg)
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
    let model = ServedModel::load(path, &ModelOptions::default())?.model;
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
        want.chunks_mut(k).for_each(emnist_model::forward::softmax);
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
