//! Comparing training runs: their final metrics side by side and their test-accuracy curves in one plot.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use emnist_model::artifacts::RunDir;
use emnist_model::record::{MetricsRow, ModelRecord};

/// One run's headline figures.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run: PathBuf,
    pub model: String,
    pub dataset: String,
    pub parameters: usize,
    pub epochs: usize,
    pub test_accuracy: f64,
    pub balanced_accuracy: f64,
    pub test_loss: f64,
    /// Best accuracy on the evaluation sample during training.
    pub best_sample_accuracy: f64,
    pub wall_time_s: f64,
}

/// The comparison: a summary per run and where the plot went.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub runs: Vec<RunSummary>,
    pub plot: PathBuf,
}

/// Reads a run directory's record and metrics.
pub fn read_run(dir: &Path) -> Result<(ModelRecord, Vec<MetricsRow>)> {
    let run = RunDir::new(dir);
    let record = run.read_record().with_context(|| format!("`{}` is not a finished training run", dir.display()))?;
    Ok((record, run.read_metrics()?))
}

/// Compares runs and writes the plot of their test-accuracy curves to `plot`.
pub fn compare(runs: &[PathBuf], plot: &Path) -> Result<CompareReport> {
    let plot_name = plot.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    emnist_data::fsutil::remove_stale_temps(emnist_data::fsutil::parent_dir(plot), |n| n == plot_name);
    let mut summaries = Vec::new();
    let mut curves = Vec::new();
    for dir in runs {
        let (r, rows) = read_run(dir)?;
        let label = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        summaries.push(RunSummary {
            run: dir.clone(),
            model: r.spec.architecture.name().into(),
            dataset: r.dataset.name.clone(),
            parameters: r.parameters,
            epochs: r.metrics.epochs_completed,
            test_accuracy: r.metrics.test_accuracy,
            balanced_accuracy: r.metrics.balanced_accuracy,
            test_loss: r.metrics.test_loss,
            best_sample_accuracy: rows.iter().map(|x| x.test_acc).fold(0.0, f64::max),
            wall_time_s: r.wall_time_s,
        });
        curves.push((label, rows));
    }
    let datasets: Vec<&str> = summaries.iter().map(|s| s.dataset.as_str()).collect();
    let title = if datasets.windows(2).all(|w| w[0] == w[1]) {
        format!("test accuracy during training — {}", datasets[0])
    } else {
        "test accuracy during training (different datasets!)".to_string()
    };
    crate::plot::compare_curves(&curves, &title, plot)?;
    Ok(CompareReport { runs: summaries, plot: plot.to_path_buf() })
}
