//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use emnist::data::{ClassTable, Dataset};
use emnist::model::record::{self, DatasetRef, FinalMetrics, ModelRecord, TrainSettings, Versions, RECORD_VERSION};
use emnist::model::weights::{Tensor, Weights};
use emnist::model::{Architecture, ModelSpec};
use emnist::rng::Rng;

/// A committed fixture file.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The built `emnist` binary, with its cache in a private folder so tests never share state.
pub fn emnist_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emnist"));
    let cache = std::env::temp_dir().join(format!("emnist-test-cache-{}", std::process::id()));
    c.env("EMNIST_CACHE_DIR", cache).env("NO_COLOR", "1");
    c
}

/// libtorch's seed and thread count are process-wide: tests that train (in any module) take turns.
#[cfg(feature = "train")]
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}

/// Small versions of the three architectures (all their operators, little arithmetic).
pub fn small_architectures() -> Vec<Architecture> {
    vec![
        Architecture::Linear,
        Architecture::Dnn { hidden: vec![32, 16] },
        Architecture::Cnn { channels: vec![4, 8], hidden: 16, dropout: 0.25 },
    ]
}

/// A run directory as `emnist train` leaves it (model.json + model.safetensors), with weights
/// drawn from `seed`: uniform in ±2^-k, exact in binary, so every platform gets the same bits.
pub fn hand_built_run(
    dir: &Path,
    arch: Architecture,
    classes: ClassTable,
    seed: u64,
    ds: Option<&Dataset>,
) -> (ModelRecord, Weights) {
    let spec = ModelSpec::new(arch, classes);
    let tensors = spec
        .parameters()
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
            let scale = 2.0f32.powi(-((fan_in as f32).log2() / 2.0).floor() as i32);
            let mut rng = Rng::derive(seed, 0x0_11c5, i as u64);
            let values = (0..shape.iter().product()).map(|_| (rng.uniform() - 0.5) * 2.0 * scale).collect();
            Tensor { name, shape, values }
        })
        .collect();
    let weights = Weights { tensors };
    let record = ModelRecord {
        format_version: RECORD_VERSION,
        parameters: spec.parameter_count(),
        dataset: DatasetRef {
            name: ds.map_or("hand-built test model (no dataset)".into(), |d| d.info.name.clone()),
            split: None,
            fingerprint: ds.map_or("0000000000000000".into(), record::fingerprint),
            train_images: ds.map_or(0, |d| d.train.len()),
            test_images: ds.map_or(0, |d| d.test.len()),
            synthetic: true,
        },
        training: TrainSettings {
            learning_rate: 0.001,
            batch_size: 128,
            epochs: 0,
            seed,
            class_weights: "none".into(),
            eval_every: 1,
            eval_fraction: 0.05,
            device: "cpu".into(),
            threads: 1,
        },
        metrics: FinalMetrics {
            test_loss: 4.0,
            test_accuracy: 0.25,
            balanced_accuracy: 0.25,
            per_class_accuracy: vec![0.25; spec.classes.len()],
            top_confusions: Vec::new(),
            steps: 0,
            epochs_completed: 0,
        },
        wall_time_s: 0.0,
        versions: Versions { emnist: "test".into(), tch: "none".into(), libtorch: "none".into() },
        spec,
    };
    std::fs::create_dir_all(dir).unwrap();
    record.write(&dir.join("model.json")).unwrap();
    weights.write(&dir.join("model.safetensors")).unwrap();
    (record, weights)
}
