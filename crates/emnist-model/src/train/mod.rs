//! Training without the tensor library: the settings of a run (what `emnist train` parses), its
//! run directory (lock, checks, artifacts), checkpoints, and the pure metrics (class weights,
//! confusions). The loop itself runs on libtorch in the `emnist-train` crate.

pub mod augment;
pub mod checkpoint;
pub mod tune;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use emnist_data::setting::{Command, Setting};

use crate::artifacts::RunDir;
use crate::record::{self, Confusion, FinalMetrics, MetricsRow, ModelRecord, TrainSettings};
use crate::weights::Weights;
use crate::Architecture;

pub use crate::recipe::{Augment, ClassWeights, Practice, Recipe, Schedule};
pub use checkpoint::Checkpoint;

/// Where to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("`{s}` is not a device: use auto, cpu, cuda or cuda:N")),
        }
    }
}

/// Everything `emnist train` needs besides the dataset.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub architecture: Architecture,
    /// `None`: the seed's rate for the model (0.01 linear, 3e-4 dnn, 1e-3 cnn).
    pub learning_rate: Option<f64>,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub class_weights: ClassWeights,
    /// Steps between evaluations; `None`: 20 per epoch.
    pub eval_every: Option<usize>,
    /// Share of the test set in the fixed evaluation sample.
    pub eval_fraction: f64,
    pub device: DeviceChoice,
    /// libtorch CPU threads; `None` keeps libtorch's default.
    pub threads: Option<usize>,
    /// The run directory.
    pub out: PathBuf,
    /// Overwrite an existing run directory.
    pub force: bool,
    /// Continue from the run directory's checkpoint.
    pub resume: bool,
    /// Fine-tune an earlier run instead of starting from random weights.
    pub init: Option<tune::Init>,
    /// Augmentation, schedule, smoothing, validation: `--recipe` and its flags.
    pub practice: Practice,
}

/// The seed's learning rate for an architecture.
pub fn default_learning_rate(a: &Architecture) -> f64 {
    match a {
        Architecture::Linear => 0.01,
        Architecture::Dnn { .. } => 3e-4,
        Architecture::Cnn { .. } => 1e-3,
    }
}

/// How a training run ended.
pub enum TrainOutcome {
    Finished(Box<TrainReport>),
    /// Stopped by a signal after a step; the checkpoint holds everything to `--resume`.
    Interrupted {
        checkpoint: PathBuf,
        epoch: usize,
        step: usize,
    },
}

/// A finished run: its record (also in `model.json`), curves and confusion matrix, and files.
pub struct TrainReport {
    pub record: ModelRecord,
    pub rows: Vec<MetricsRow>,
    pub confusion: Vec<Vec<u64>>,
    pub files: Vec<PathBuf>,
}

/// An exclusive hold on a run directory (a lock on its [`RunDir::LOCK`] file), from [`open_run_dir`];
/// released when dropped, or by the system when the process ends however it ends.
#[derive(Debug)]
pub struct RunDirLock {
    _file: std::fs::File,
}

/// Checks the settings ([`TrainConfig::validate`]) and `cfg.out` for a new run (`--force` to
/// overwrite one, `--resume` to continue one), creates it, locks it against other `emnist train`
/// processes, and removes what killed runs left there. Call it before loading the data, so that a second run into the same folder fails at once.
pub fn open_run_dir(cfg: &TrainConfig) -> Result<RunDirLock> {
    cfg.validate()?;
    let out = &cfg.out;
    if out.exists() && !out.is_dir() {
        bail!("`{}` exists and is not a folder", out.display());
    }
    if cfg.resume && !RunDir::new(out).checkpoint().is_file() {
        bail!("`{}` has no checkpoint to resume from; start a new run without {}", out.display(), Setting::Resume);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let lock = lock_dir(out)?;
    emnist_data::fsutil::remove_stale_temps(out, RunDir::writes);
    prepare_out_dir(cfg)?;
    Ok(lock)
}

/// Removes a run directory that holds nothing but its lock file: what a run that failed before
/// writing anything leaves (call it only for a folder the run created).
pub fn remove_if_empty(out: &Path) {
    let only_lock =
        std::fs::read_dir(out).is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == RunDir::LOCK));
    if only_lock {
        let _ = std::fs::remove_dir_all(out);
    }
}

fn lock_dir(out: &Path) -> Result<RunDirLock> {
    let path = RunDir::new(out).lock();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(RunDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "`{}` is being written by another {}; wait for it to finish, or choose another {}",
            out.display(),
            Command::Train,
            Setting::Out
        ),
        // A file system without locks: run unguarded, as before locks existed.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            Ok(RunDirLock { _file: file })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock `{}`", path.display())),
    }
}

/// The checks of a locked run directory: a checkpoint to resume, or no earlier run unless `--force`.
fn prepare_out_dir(cfg: &TrainConfig) -> Result<()> {
    let out = &cfg.out;
    let ckpt = RunDir::new(out).checkpoint();
    if cfg.resume {
        if !ckpt.is_file() {
            bail!("`{}` has no checkpoint to resume from; start a new run without {}", out.display(), Setting::Resume);
        }
        return Ok(());
    }
    // Our own lock file does not make a folder a run.
    let occupied = std::fs::read_dir(out)?.flatten().any(|e| e.file_name() != RunDir::LOCK);
    if occupied && !cfg.force {
        bail!(
            "`{}` already holds a run; pass {} to overwrite it, {} to continue it, or choose another {}",
            out.display(),
            Setting::Force,
            Setting::Resume,
            Setting::Out
        );
    }
    if occupied {
        let _ = std::fs::remove_file(&ckpt);
    }
    Ok(())
}

/// Weights ∝ 1 / count, averaging 1 over the classes that occur; 0 for absent classes.
pub fn inverse_frequency(counts: &[usize]) -> Vec<f32> {
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    let raw: Vec<f64> = counts.iter().map(|&c| if c > 0 { 1.0 / c as f64 } else { 0.0 }).collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|r| (r * present as f64 / sum) as f32).collect()
}

/// The `n` largest off-diagonal cells of a confusion matrix.
pub fn top_confusions(confusion: &[Vec<u64>], names: &[String], n: usize) -> Vec<Confusion> {
    let mut cells: Vec<(usize, usize, u64)> = Vec::new();
    for (t, row) in confusion.iter().enumerate() {
        for (p, &c) in row.iter().enumerate() {
            if t != p && c > 0 {
                cells.push((t, p, c));
            }
        }
    }
    cells.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    cells
        .into_iter()
        .take(n)
        .map(|(t, p, c)| Confusion {
            truth: names[t].clone(),
            predicted: names[p].clone(),
            count: c,
            rate: c as f64 / confusion[t].iter().sum::<u64>().max(1) as f64,
        })
        .collect()
}

/// `confusion.csv`: a header of predicted class names, then one row per true class.
pub fn confusion_csv(confusion: &[Vec<u64>], names: &[String]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut s = String::from("truth\\predicted");
    for n in names {
        s.push(',');
        s.push_str(&quote(n));
    }
    s.push('\n');
    for (row, name) in confusion.iter().zip(names) {
        s.push_str(&quote(name));
        for c in row {
            s.push_str(&format!(",{c}"));
        }
        s.push('\n');
    }
    s
}

impl TrainConfig {
    /// The settings' own checks, before any data is loaded.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("the batch size must be at least 1");
        }
        if self.epochs == 0 {
            bail!("the number of epochs must be at least 1");
        }
        if !(self.eval_fraction > 0.0 && self.eval_fraction <= 1.0) {
            bail!("the evaluation fraction must be in (0, 1], got {}", self.eval_fraction);
        }
        if self.threads == Some(0) {
            bail!("{} must be at least 1", Setting::Threads);
        }
        if let Some(init) = &self.init {
            init.validate()?;
            if self.practice.validation > 0.0 {
                bail!(
                    "{} holds out no validation share: fine-tuning is measured on the new data's test part; drop {}",
                    Setting::Init,
                    Setting::Validation
                );
            }
            let same = init.run == self.out
                || matches!((init.run.canonicalize(), self.out.canonicalize()), (Ok(a), Ok(b)) if a == b);
            if same {
                bail!("fine-tuning writes a new run: choose an {} other than the run it starts from", Setting::Out);
            }
        }
        let lr = self.learning_rate();
        if !(lr > 0.0 && lr.is_finite()) {
            bail!("the learning rate must be a positive number, got {lr}");
        }
        self.practice.validate().map_err(anyhow::Error::msg)
    }

    /// `--lr`, or the seed's rate for the architecture.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or_else(|| default_learning_rate(&self.architecture))
    }

    /// The settings as recorded (in `model.json` and checkpoints), resolved for a run of
    /// `steps_per_epoch` steps on `device` with `threads` CPU threads: the default learning rate
    /// filled in, and evaluation 20 times per epoch unless `eval_every` says otherwise.
    pub fn settings(&self, steps_per_epoch: usize, device: String, threads: usize) -> TrainSettings {
        TrainSettings {
            learning_rate: self.learning_rate(),
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed: self.seed,
            class_weights: self.class_weights,
            eval_every: self.eval_every.unwrap_or((steps_per_epoch / 20).max(1)).max(1),
            eval_fraction: self.eval_fraction,
            device,
            threads,
            practice: self.practice.clone(),
        }
    }
}

/// The fixed evaluation sample: `fraction` of `n` test rows (at least one), drawn from the seed,
/// in ascending order.
pub fn eval_sample(seed: u64, fraction: f64, n: usize) -> Vec<usize> {
    let count = ((n as f64 * fraction).ceil() as usize).clamp(1, n.max(1));
    let mut sample = emnist_data::rng::permutation(n, &mut emnist_data::rng::Rng::derive(seed, 0xe7a1, 0));
    sample.truncate(count);
    sample.sort_unstable();
    sample
}

/// The final figures of a run from its confusion matrix over the whole test set (rows: truth).
pub fn final_metrics(
    confusion: &[Vec<u64>],
    names: &[String],
    test_loss: f64,
    test_accuracy: f64,
    steps: usize,
    epochs_completed: usize,
) -> FinalMetrics {
    let per_class_accuracy: Vec<f64> = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let n: u64 = row.iter().sum();
            if n == 0 {
                f64::NAN
            } else {
                row[c] as f64 / n as f64
            }
        })
        .collect();
    let present: Vec<f64> = per_class_accuracy.iter().copied().filter(|a| !a.is_nan()).collect();
    let balanced_accuracy = present.iter().sum::<f64>() / present.len().max(1) as f64;
    FinalMetrics {
        test_loss,
        test_accuracy,
        balanced_accuracy,
        per_class_accuracy: per_class_accuracy.iter().map(|a| if a.is_nan() { 0.0 } else { *a }).collect(),
        top_confusions: top_confusions(confusion, names, 10),
        steps,
        epochs_completed,
    }
}

/// A confusion matrix (rows: truth, columns: prediction) from labels and predictions.
pub fn confusion_matrix(labels: &[u8], predictions: &[i64], classes: usize) -> Vec<Vec<u64>> {
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (&truth, &p) in labels.iter().zip(predictions) {
        confusion[truth as usize][p as usize] += 1;
    }
    confusion
}

/// Writes a finished run's files: weights, record, metrics and confusion CSVs (the figures are
/// drawn by the caller: `emnist_report::plot::training_figures`).
pub fn write_artifacts(
    out: &Path,
    weights: &Weights,
    record: &ModelRecord,
    rows: &[MetricsRow],
    confusion: &[Vec<u64>],
) -> Result<Vec<PathBuf>> {
    let run = RunDir::new(out);
    let mut files = Vec::new();
    let path = run.weights();
    weights.write(&path)?;
    files.push(path);
    let json = run.record();
    record.write(&json)?;
    files.push(json);
    let metrics = run.metrics();
    emnist_data::fsutil::write_atomic(&metrics, record::metrics_csv(rows).as_bytes())?;
    files.push(metrics);
    let conf = run.confusion();
    emnist_data::fsutil::write_atomic(&conf, confusion_csv(confusion, &record.spec.classes.names).as_bytes())?;
    files.push(conf);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_frequency_weights_average_one_and_favour_rare_classes() {
        let w = inverse_frequency(&[100, 10, 0, 50]);
        assert_eq!(w[2], 0.0);
        assert!(w[1] > w[3] && w[3] > w[0]);
        let mean = (w[0] + w[1] + w[3]) / 3.0;
        assert!((mean - 1.0).abs() < 1e-6);
        assert!((w[1] / w[0] - 10.0).abs() < 1e-4);
    }

    #[test]
    fn the_eval_sample_is_sorted_seeded_and_at_least_one_row() {
        let a = eval_sample(7, 0.05, 1000);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, eval_sample(7, 0.05, 1000));
        assert_ne!(a, eval_sample(8, 0.05, 1000));
        assert_eq!(eval_sample(7, 0.0001, 10).len(), 1);
    }

    #[test]
    fn devices_parse() {
        assert_eq!("auto".parse::<DeviceChoice>(), Ok(DeviceChoice::Auto));
        assert_eq!("cuda:1".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(1)));
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn confusions_rank_off_diagonal_cells() {
        let names: Vec<String> = ["o", "0", "O"].iter().map(|s| s.to_string()).collect();
        let m = vec![vec![5, 3, 1], vec![4, 9, 0], vec![0, 0, 7]];
        let top = top_confusions(&m, &names, 2);
        assert_eq!((top[0].truth.as_str(), top[0].predicted.as_str(), top[0].count), ("0", "o", 4));
        assert_eq!((top[1].truth.as_str(), top[1].predicted.as_str()), ("o", "0"));
        assert!(confusion_csv(&m, &names).starts_with("truth\\predicted,\"o\",\"0\",\"O\"\n\"o\",5,3,1\n"));
    }

    #[test]
    fn final_metrics_balance_over_present_classes() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let m = confusion_matrix(&[0, 0, 0, 1], &[0, 0, 1, 1], 3);
        assert_eq!(m, vec![vec![2, 1, 0], vec![0, 1, 0], vec![0, 0, 0]]);
        let f = final_metrics(&m, &names, 0.5, 0.75, 10, 1);
        assert_eq!(f.per_class_accuracy, vec![2.0 / 3.0, 1.0, 0.0]);
        assert!((f.balanced_accuracy - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(f.top_confusions.len(), 1);
    }
}
