//! `model.json`: what a training run leaves for export, serving and reports — readable without libtorch.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::ModelSpec;

/// Version of the `model.json` layout.
pub const RECORD_VERSION: u32 = 1;

/// The dataset a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub name: String,
    pub split: Option<emnist_data::Split>,
    /// xxh3-64 of the train and test images and labels, hex: tells datasets apart.
    pub fingerprint: String,
    pub train_images: usize,
    pub test_images: usize,
    pub synthetic: bool,
}

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub class_weights: crate::recipe::ClassWeights,
    pub eval_every: usize,
    pub eval_fraction: f64,
    pub device: String,
    pub threads: usize,
    /// Augmentation, schedule, smoothing and validation (absent in older records: the seed's).
    #[serde(default)]
    pub practice: crate::recipe::Practice,
}

/// Final metrics on the whole test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalMetrics {
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Mean per-class recall.
    pub balanced_accuracy: f64,
    pub per_class_accuracy: Vec<f64>,
    /// The most frequent confusions: (true class, predicted class, count).
    pub top_confusions: Vec<Confusion>,
    pub steps: usize,
    pub epochs_completed: usize,
}

/// One cell of the confusion matrix, by class name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub truth: String,
    pub predicted: String,
    pub count: u64,
    /// Share of the true class's test images predicted as `predicted`.
    pub rate: f64,
}

/// Tool and library versions that produced a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub emnist: String,
    pub tch: String,
    pub libtorch: String,
}

/// The whole `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub format_version: u32,
    pub spec: ModelSpec,
    pub parameters: usize,
    pub dataset: DatasetRef,
    pub training: TrainSettings,
    pub metrics: FinalMetrics,
    /// The validation split's figures and the epoch kept, when the run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::recipe::ValidationRecord>,
    /// Where a fine-tuned run (`emnist train --init RUN`) started and what it learned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
    pub wall_time_s: f64,
    pub versions: Versions,
}

/// A fine-tuned run's origin: the run it started from, the new data, and the figures before and
/// after on both test parts. The record's `dataset` is the starting run's (rehearsed, and whose
/// test part `metrics` are measured on); `data` is the new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneRecord {
    /// The starting run's folder, as given.
    pub from: String,
    /// xxh3-64 of the starting weights (`model.safetensors`), hex.
    pub from_weights: String,
    /// The starting run's accuracy on `dataset`'s test part: `metrics.test_accuracy` before.
    pub from_test_accuracy: f64,
    /// The new data.
    pub data: DatasetRef,
    /// Rehearsal images from `dataset`'s training part per new image, drawn afresh each epoch.
    pub rehearse: f64,
    /// Training images per epoch: all of the new data's, and the rehearsal draw.
    pub new_images_per_epoch: usize,
    pub rehearsal_images_per_epoch: usize,
    /// The new data's test part, before and after; `None` when it has no test images.
    pub new_test: Option<NewTest>,
}

/// Accuracy on the new data's test part before and after fine-tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTest {
    pub images: usize,
    pub accuracy_before: f64,
    pub accuracy_after: f64,
}

impl ModelRecord {
    pub fn read(path: &Path) -> Result<ModelRecord> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let r: ModelRecord =
            serde_json::from_str(&text).with_context(|| format!("`{}` is not a valid model.json", path.display()))?;
        if r.format_version != RECORD_VERSION {
            bail!("`{}` has format version {}, this emnist reads {RECORD_VERSION}", path.display(), r.format_version);
        }
        Ok(r)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        emnist_data::fsutil::write_atomic(path, serde_json::to_string_pretty(self)?.as_bytes())
    }
}

impl DatasetRef {
    /// How a record names `ds`.
    pub fn of(ds: &emnist_data::Dataset) -> DatasetRef {
        DatasetRef {
            name: ds.info.name.clone(),
            split: ds.info.split,
            fingerprint: fingerprint(ds),
            train_images: ds.train.len(),
            test_images: ds.test.len(),
            synthetic: ds.is_synthetic(),
        }
    }
}

/// A fingerprint of a dataset's contents (xxh3-64 over images and labels of both parts).
pub fn fingerprint(ds: &emnist_data::Dataset) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [&ds.train, &ds.test] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(&part.images);
        h.update(&part.labels);
    }
    format!("{:016x}", h.digest())
}

/// One evaluation during training: running train figures since the previous row, and the
/// fixed test sample's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub step: usize,
    /// Fractional epochs completed at this step.
    pub epoch: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
}

/// The header line of `metrics.csv`.
pub const METRICS_HEADER: &str = "step,epoch,train_loss,train_acc,test_loss,test_acc";

/// `metrics.csv` text for these rows.
pub fn metrics_csv(rows: &[MetricsRow]) -> String {
    let mut s = format!("{METRICS_HEADER}\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.step, r.epoch, r.train_loss, r.train_acc, r.test_loss, r.test_acc
        ));
    }
    s
}

/// Reads a `metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRow>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut lines = text.lines();
    if lines.next() != Some(METRICS_HEADER) {
        bail!("`{}` does not start with `{METRICS_HEADER}`", path.display());
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |k: usize| -> Result<f64> {
                f.get(k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .with_context(|| format!("`{}` line {}: bad value", path.display(), i + 2))
            };
            Ok(MetricsRow {
                step: num(0)? as usize,
                epoch: num(1)?,
                train_loss: num(2)?,
                train_acc: num(3)?,
                test_loss: num(4)?,
                test_acc: num(5)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_csv_round_trips() {
        let rows = vec![
            MetricsRow { step: 20, epoch: 0.05, train_loss: 2.5, train_acc: 0.25, test_loss: 2.0, test_acc: 0.4 },
            MetricsRow { step: 40, epoch: 0.1, train_loss: 1.5, train_acc: 0.5, test_loss: 1.25, test_acc: 0.625 },
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.csv");
        std::fs::write(&p, metrics_csv(&rows)).unwrap();
        assert_eq!(read_metrics(&p).unwrap(), rows);
        std::fs::write(&p, "nonsense\n1,2").unwrap();
        assert!(read_metrics(&p).is_err());
    }
}
