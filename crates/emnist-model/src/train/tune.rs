//! Fine-tuning (`emnist train --init RUN --data NEW`) without the tensor library: the starting
//! run read and checked, the new data's classes mapped onto the run's, the training part that
//! mixes the run's original images (rehearsal) with the new ones, and each epoch's draw.
//!
//! Each epoch sees every new training image once and `rehearse` times as many of the original
//! training images, drawn afresh per epoch from the seed, so that the model learns the new data
//! without forgetting the old. Figures are measured on the original test part (what the starting
//! run was measured on: forgetting shows there) and on the new data's test part.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use emnist_data::rng::{permutation, Rng};
use emnist_data::setting::{Command, Setting};
use emnist_data::{ClassTable, Dataset, Part, PIXELS};

use crate::artifacts::RunDir;
use crate::record::{fingerprint, ModelRecord};
use crate::weights::Weights;

/// The most rehearsal images per new image `--rehearse` takes.
pub const MAX_REHEARSE: f64 = 100.0;

/// The learning rate of a fine-tuning run, as a share of the starting run's.
pub const LEARNING_RATE_SHARE: f64 = 0.3;
/// Rehearsal images per new image by default, and epochs: chosen on scikit-learn's digits with
/// the tune half split in two (`bench/RESULTS.md`, "Closing the loop"), never the judge half.
pub const REHEARSE: f64 = 16.0;
pub const EPOCHS: usize = 10;

/// What `--init` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Init {
    /// The run directory to start from.
    pub run: PathBuf,
    /// Rehearsal images per new image, each epoch (0: none).
    pub rehearse: f64,
}

impl Init {
    /// The settings' own checks.
    pub fn validate(&self) -> Result<()> {
        if !(self.rehearse.is_finite() && (0.0..=MAX_REHEARSE).contains(&self.rehearse)) {
            bail!("{} must be between 0 and {MAX_REHEARSE}, got {}", Setting::Rehearse, self.rehearse);
        }
        Ok(())
    }
}

/// The run a fine-tuning starts from: its record and weights, checked against each other.
#[derive(Debug, Clone)]
pub struct Start {
    pub dir: PathBuf,
    pub record: ModelRecord,
    pub weights: Weights,
    /// xxh3-64 of the weights file, hex.
    pub weights_hash: String,
}

impl Start {
    /// Reads `dir`'s record and weights; an error says what is wrong with the folder.
    pub fn open(dir: &Path) -> Result<Start> {
        let run = RunDir::new(dir);
        let record = run.read_record().with_context(|| format!("cannot fine-tune from `{}`", dir.display()))?;
        let path = run.weights();
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let weights =
            Weights::from_bytes(&bytes).with_context(|| format!("`{}` is not a weights file", path.display()))?;
        weights
            .check(&record.spec)
            .with_context(|| format!("`{}` does not fit `{}`", path.display(), run.record().display()))?;
        weights.check_finite().with_context(|| format!("`{}` holds non-finite values", path.display()))?;
        let weights_hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        Ok(Start { dir: dir.to_path_buf(), record, weights, weights_hash })
    }

    /// Whether `base` is the data the run was trained on (same contents, by fingerprint).
    pub fn check_base(&self, base: &Dataset) -> Result<()> {
        let want = &self.record.dataset;
        let got = fingerprint(base);
        if got != want.fingerprint {
            bail!(
                "`{}` was trained on {} (fingerprint {}), but the rehearsal data is {} (fingerprint {got}): name the run's training data with {}, or pass {} 0 and measure forgetting on it anyway",
                self.dir.display(),
                want.name,
                want.fingerprint,
                base.info.name,
                Setting::RehearseData,
                Setting::Rehearse,
            );
        }
        if base.classes != self.record.spec.classes {
            bail!(
                "`{}`'s classes differ from its training data's: retrain it with {}",
                self.dir.display(),
                Command::Train
            );
        }
        Ok(())
    }
}

/// The data of a fine-tuning run: one dataset whose training part is the original training images
/// (rows `0..base_rows`) followed by the new ones, and whose test part is the original test part;
/// and the new data's test part, with its labels mapped onto the run's classes.
#[derive(Debug, Clone)]
pub struct Mixed {
    pub dataset: Dataset,
    pub base_rows: usize,
    pub new_test: Part,
}

/// Maps `new`'s class indices onto `classes` by name: every class of `new` must be one of them.
pub fn class_map(new: &Dataset, classes: &ClassTable, run: &Path) -> Result<Vec<u8>> {
    let mut missing = Vec::new();
    let map: Vec<u8> = new
        .classes
        .names
        .iter()
        .map(|name| match classes.names.iter().position(|n| n == name) {
            Some(i) => i as u8,
            None => {
                missing.push(format!("`{name}`"));
                0
            }
        })
        .collect();
    if !missing.is_empty() {
        let shown = missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        bail!(
            "{} has classes that `{}` does not ({shown}{more}): fine-tuning keeps the run's {} classes; train a new model on it with {} instead",
            new.info.name,
            run.display(),
            classes.names.len(),
            Command::Train
        );
    }
    Ok(map)
}

/// The mixed dataset of a fine-tuning from `start` on `new`, rehearsing `base` (checked with
/// [`Start::check_base`] first).
pub fn mix(base: &Dataset, new: &Dataset, start: &Start) -> Result<Mixed> {
    if new.train.is_empty() {
        bail!("{} has no training images to fine-tune on", new.info.name);
    }
    let map = class_map(new, &start.record.spec.classes, &start.dir)?;
    let remap = |labels: &[u8]| -> Vec<u8> { labels.iter().map(|&l| map[l as usize]).collect() };
    let base_rows = base.train.len();
    let mut images = Vec::with_capacity((base_rows + new.train.len()) * PIXELS);
    images.extend_from_slice(&base.train.images);
    images.extend_from_slice(&new.train.images);
    let mut labels = Vec::with_capacity(base_rows + new.train.len());
    labels.extend_from_slice(&base.train.labels);
    labels.extend(remap(&new.train.labels));
    let train = Part { images: images.into(), labels: labels.into(), writers: None };
    let new_test = Part { images: new.test.images.clone(), labels: remap(&new.test.labels).into(), writers: None };
    let dataset =
        Dataset { info: base.info.clone(), classes: start.record.spec.classes.clone(), train, test: base.test.clone() };
    Ok(Mixed { dataset, base_rows, new_test })
}

/// Rehearsal images per epoch for `new_rows` new ones.
pub fn rehearsal_count(new_rows: usize, base_rows: usize, rehearse: f64) -> usize {
    ((new_rows as f64 * rehearse).round() as usize).min(base_rows)
}

/// The training rows of one epoch, unordered: every new row (`base_rows..total_rows`) and a fresh
/// draw of [`rehearsal_count`] original rows, from (seed, epoch).
pub fn epoch_rows(seed: u64, epoch: usize, base_rows: usize, total_rows: usize, rehearse: f64) -> Vec<usize> {
    let k = rehearsal_count(total_rows - base_rows, base_rows, rehearse);
    let mut rows = permutation(base_rows, &mut Rng::derive(seed, 0x4e4e, epoch as u64));
    rows.truncate(k);
    rows.extend(base_rows..total_rows);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_has_every_new_row_and_a_fresh_rehearsal_draw() {
        let a = epoch_rows(3, 0, 1000, 1040, 2.0);
        assert_eq!(a.len(), 120);
        assert!((1000..1040).all(|r| a.contains(&r)));
        assert_eq!(a.iter().filter(|&&r| r < 1000).count(), 80);
        let b = epoch_rows(3, 1, 1000, 1040, 2.0);
        assert_ne!(a[..80], b[..80]);
        assert_eq!(a, epoch_rows(3, 0, 1000, 1040, 2.0));
        assert_eq!(epoch_rows(3, 0, 1000, 1040, 0.0), (1000..1040).collect::<Vec<_>>());
        // Never more rehearsal rows than there are.
        assert_eq!(epoch_rows(3, 0, 10, 40, 5.0).len(), 40);
    }

    #[test]
    fn rehearsal_outside_its_range_is_refused() {
        let init = |rehearse| Init { run: PathBuf::from("r"), rehearse };
        assert!(init(0.0).validate().is_ok());
        assert!(init(-1.0).validate().is_err());
        assert!(init(f64::NAN).validate().is_err());
        assert!(init(1e9).validate().is_err());
    }
}
