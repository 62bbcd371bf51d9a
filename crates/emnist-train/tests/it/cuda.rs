//! The CUDA path (`--device cuda`). These tests run only where libtorch sees a GPU; anywhere else
//! each one prints a loud SKIPPED line and returns (CI has no GPU; a machine with one runs them).

use emnist_data::progress::Silent;
use emnist_data::shutdown::Shutdown;
use emnist_data::synthetic::{generate, SyntheticConfig};
use emnist_model::forward::Network;
use emnist_model::train::{ClassWeights, DeviceChoice, Practice, Recipe, TrainConfig, TrainOutcome};
use emnist_model::weights::Weights;
use emnist_model::Architecture;
use emnist_train::train;

use crate::common::{floats, torch_lock};

fn cuda_or_skip(test: &str) -> bool {
    if tch::Cuda::device_count() > 0 {
        return true;
    }
    // Straight to the stderr stream: the test harness captures `eprintln!` of passing tests, and
    // a skip must show in every log.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: libtorch sees no CUDA device; run it on a machine with a GPU to test `--device cuda`"
    );
    false
}

/// Every architecture trains on the GPU (the CNN with the best recipe: augmentation, schedule,
/// smoothing and validation all on the device path), records the device, learns, and saves
/// weights that the CPU reference forward pass scores as libtorch did on the GPU.
#[test]
fn every_model_learns_on_cuda_and_saves_what_it_learned() {
    if !cuda_or_skip("every_model_learns_on_cuda_and_saves_what_it_learned") {
        return;
    }
    let ds =
        generate(&SyntheticConfig { train_per_class: 40, test_per_class: 10, seed: 7, ..Default::default() }, &Silent);
    let dir = tempfile::tempdir().unwrap();
    let chance = 1.0 / 62.0;
    let cases = [
        (Architecture::Linear, Practice::default(), 2),
        (Architecture::dnn(), Practice::default(), 3),
        (Architecture::cnn(), Practice { patience: None, ..Practice::of(Recipe::Best) }, 4),
    ];
    for (architecture, practice, epochs) in cases {
        let name = architecture.name();
        let cfg = TrainConfig {
            architecture,
            learning_rate: None,
            batch_size: 64,
            epochs,
            seed: 3,
            class_weights: ClassWeights::None,
            eval_every: Some(10),
            eval_fraction: 0.25,
            device: DeviceChoice::Cuda(0),
            threads: Some(1),
            out: dir.path().join(name),
            force: false,
            resume: false,
            init: None,
            practice,
        };
        let record = {
            let _turn = torch_lock();
            match train(&cfg, &ds, &Silent, &Shutdown::new()).unwrap() {
                TrainOutcome::Finished(r) => r.record,
                TrainOutcome::Interrupted { .. } => panic!("{name}: the run was interrupted"),
            }
        };
        assert_eq!(record.training.device, "cuda:0", "{name}");
        let acc = record.metrics.test_accuracy;
        assert!(acc > 20.0 * chance, "{name}: test accuracy {acc} on CUDA is not far above chance {chance}");

        let weights = Weights::read(&cfg.out.join("model.safetensors")).unwrap();
        let net = Network::new(&record.spec, &weights).unwrap();
        let idx: Vec<usize> = (0..ds.test.len()).collect();
        let p = net.probabilities(&floats(&ds.test, &idx)).unwrap();
        let k = record.spec.classes.len();
        let right = p
            .chunks(k)
            .zip(ds.test.labels.iter())
            .filter(|(row, &label)| emnist_model::contract::argmax(row) == label as usize)
            .count();
        let cpu = right as f64 / ds.test.len() as f64;
        // GPU and CPU round differently: allow two near-ties to flip.
        let slack = 2.0 / ds.test.len() as f64;
        assert!((cpu - acc).abs() <= slack, "{name}: CUDA recorded {acc}, the saved weights score {cpu} on the CPU");
    }
}
