//! Checkpoints: weights, Adam's moments, the data-order position and the metrics so far, in one
//! safetensors file (the state as JSON in its header), written atomically.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use emnist_data::setting::Setting;
use serde::{Deserialize, Serialize};

use crate::record::{DatasetRef, MetricsRow, TrainSettings};
use crate::weights::{Tensor as NamedTensor, Weights};
use crate::ModelSpec;

const META_KEY: &str = "emnist.checkpoint";

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps done in the current epoch.
    pub step_in_epoch: usize,
    pub global_step: usize,
    pub adam_step: i64,
    pub rows: Vec<MetricsRow>,
    /// The running train figures since the last evaluation.
    pub window_loss_sum: f64,
    pub window_correct: u64,
    pub window_seen: usize,
    /// Training time spent by earlier (interrupted) processes of this run.
    pub wall_time_before_s: f64,
    /// Validation figures after each completed epoch (runs with a validation split).
    #[serde(default)]
    pub validation: Vec<crate::recipe::ValidationRow>,
    /// The epoch (1-based) of the best validation accuracy so far; its weights are the
    /// checkpoint's `best.<name>` tensors.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// Early stopping ended the run before its last epoch.
    #[serde(default)]
    pub stopped_early: bool,
}

impl State {
    pub fn fresh() -> State {
        State {
            epoch: 0,
            step_in_epoch: 0,
            global_step: 0,
            adam_step: 0,
            rows: Vec::new(),
            window_loss_sum: 0.0,
            window_correct: 0,
            window_seen: 0,
            wall_time_before_s: 0.0,
            validation: Vec::new(),
            best_epoch: None,
            stopped_early: false,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    spec: ModelSpec,
    settings: TrainSettings,
    dataset: DatasetRef,
    state: State,
}

/// A checkpoint: run identity, state, and tensors (`model.<name>`, `adam.m.<name>`, `adam.v.<name>`).
pub struct Checkpoint {
    pub spec: ModelSpec,
    pub settings: TrainSettings,
    pub dataset: DatasetRef,
    pub state: State,
    pub tensors: Vec<NamedTensor>,
}

impl Checkpoint {
    pub fn write(&self, path: &Path) -> Result<()> {
        let meta = Meta {
            spec: self.spec.clone(),
            settings: self.settings.clone(),
            dataset: self.dataset.clone(),
            state: self.state.clone(),
        };
        let mut map = HashMap::new();
        map.insert(META_KEY.to_string(), serde_json::to_string(&meta)?);
        let bytes = Weights { tensors: self.tensors.clone() }.to_bytes_with_metadata(Some(map))?;
        emnist_data::fsutil::write_atomic(path, &bytes)
    }

    pub fn read(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let (w, meta) =
            Weights::from_bytes_with_metadata(&bytes).with_context(|| format!("reading `{}`", path.display()))?;
        let text = meta.get(META_KEY).with_context(|| format!("`{}` is not an emnist checkpoint", path.display()))?;
        let m: Meta =
            serde_json::from_str(text).with_context(|| format!("`{}` has a damaged header", path.display()))?;
        Ok(Checkpoint { spec: m.spec, settings: m.settings, dataset: m.dataset, state: m.state, tensors: w.tensors })
    }

    /// Refuses to resume with another model, other hyper-parameters or other data.
    pub fn check_compatible(&self, spec: &ModelSpec, settings: &TrainSettings, dataset: &DatasetRef) -> Result<()> {
        if &self.spec != spec {
            bail!(
                "the checkpoint is of another model ({}); resume with the same {} and options",
                self.spec.architecture.name(),
                Setting::Architecture
            );
        }
        if self.dataset.fingerprint != dataset.fingerprint {
            bail!(
                "the checkpoint was trained on other data ({}); resume with the same {}",
                self.dataset.name,
                Setting::Data
            );
        }
        let mine =
            TrainSettings { device: settings.device.clone(), threads: settings.threads, ..self.settings.clone() };
        if &mine != settings {
            bail!(
                "the checkpoint was made with other settings (learning rate {}, batch {}, epochs {}, seed {}, class weights {}, eval every {}, recipe {}); resume with the same ones",
                self.settings.learning_rate,
                self.settings.batch_size,
                self.settings.epochs,
                self.settings.seed,
                self.settings.class_weights,
                self.settings.eval_every,
                self.settings.practice.recipe
            );
        }
        Ok(())
    }
}
