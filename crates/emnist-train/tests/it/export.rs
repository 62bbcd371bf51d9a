//! Models trained by libtorch export through `emnist export`, and tract's probabilities equal
//! tch's own forward pass of the same weights.

use std::path::Path;

use emnist_data::progress::Silent;
use emnist_data::synthetic::{generate, SyntheticConfig};
use emnist_data::Dataset;
use emnist_model::record::ModelRecord;
use emnist_model::train::{ClassWeights, DeviceChoice, TrainConfig, TrainOutcome};
use emnist_model::weights::Weights;
use emnist_model::{Architecture, Layer, ModelSpec};
use emnist_runtime::ServedModel;
use emnist_train::train;
use tch::Kind;

use crate::common::{check_export, export, floats, max_abs_diff, torch_lock, write_idx, OPS};

/// The tch reference: the spec's layers as libtorch functions (what `train::net` builds).
fn tch_probabilities(spec: &ModelSpec, weights: &Weights, x: &[f32]) -> Vec<f32> {
    let t = |name: String| {
        let w = weights.get(&name).unwrap();
        tch::Tensor::from_slice(&w.values).reshape(w.shape.iter().map(|&d| d as i64).collect::<Vec<_>>())
    };
    let mut a = tch::Tensor::from_slice(x).reshape([-1, 1, 28, 28]);
    for layer in spec.layers() {
        a = match layer {
            Layer::Flatten => a.flatten(1, -1),
            Layer::Linear { name, .. } => a.linear(&t(format!("{name}.weight")), Some(&t(format!("{name}.bias")))),
            Layer::Elu { .. } => a.elu(),
            Layer::Relu => a.relu(),
            Layer::Conv2d { name, padding, .. } => {
                let p = padding as i64;
                a.conv2d(&t(format!("{name}.weight")), Some(&t(format!("{name}.bias"))), [1, 1], [p, p], [1, 1], 1)
            }
            Layer::MaxPool2d { kernel, stride } => {
                let (k, s) = (kernel as i64, stride as i64);
                a.max_pool2d([k, k], [s, s], [0, 0], [1, 1], false)
            }
            Layer::Dropout { .. } => a,
        };
    }
    Vec::<f32>::try_from(a.softmax(-1, Kind::Float).flatten(0, -1)).unwrap()
}

/// One epoch of the seed's protocol on one CPU thread, into `run`; the record.
fn train_one_epoch(architecture: Architecture, ds: &Dataset, run: &Path, batch_size: usize) -> ModelRecord {
    let cfg = TrainConfig {
        architecture,
        learning_rate: None,
        batch_size,
        epochs: 1,
        seed: 1,
        class_weights: ClassWeights::None,
        eval_every: None,
        eval_fraction: 0.05,
        device: DeviceChoice::Cpu,
        threads: Some(1),
        out: run.to_path_buf(),
        force: false,
        resume: false,
        init: None,
        practice: Default::default(),
    };
    let _turn = torch_lock();
    match train(&cfg, ds, &Silent, &emnist_data::shutdown::Shutdown::new()).unwrap() {
        TrainOutcome::Finished(r) => r.record,
        TrainOutcome::Interrupted { .. } => panic!("the run was interrupted"),
    }
}

#[test]
fn trained_models_export_and_tract_agrees_with_tch() {
    let dir = tempfile::tempdir().unwrap();
    let ds =
        generate(&SyntheticConfig { train_per_class: 20, test_per_class: 20, seed: 1, ..Default::default() }, &Silent);
    let data = dir.path().join("data");
    write_idx(&data, &ds);
    for (arch, ops) in [Architecture::Linear, Architecture::dnn(), Architecture::cnn()].into_iter().zip(OPS) {
        let name = arch.name();
        let run = dir.path().join(name);
        let record = train_one_epoch(arch, &ds, &run, 128);
        let weights = Weights::read(&run.join("model.safetensors")).unwrap();
        let out = dir.path().join(format!("{name}.onnx"));
        let r = export(&run, &out, &data, &[]);
        assert_eq!(r["same_dataset"], true);
        check_export(&r, &out, &record.spec, &weights, &ds.test, ops);

        let idx: Vec<usize> = (0..ds.test.len()).step_by(7).collect();
        let x = floats(&ds.test, &idx);
        let got = ServedModel::load(&out, &Default::default()).unwrap().model.run(&x).unwrap();
        let want = {
            let _turn = torch_lock();
            tch_probabilities(&record.spec, &weights, &x)
        };
        let d = max_abs_diff(&got.probabilities, &want);
        assert!(d <= 1e-5, "{name}: tract vs tch {d}");
        let k = record.spec.classes.len();
        for (g, w) in got.probabilities.chunks(k).zip(want.chunks(k)) {
            assert_eq!(emnist_model::contract::argmax(g), emnist_model::contract::argmax(w), "{name}: argmax differs");
        }
    }
}

#[test]
fn a_three_block_cnn_pools_7_to_3_alike_in_tch_and_onnx() {
    // 28 → 14 → 7 → 3: the odd pooling step must floor in the exported graph as libtorch does.
    let dir = tempfile::tempdir().unwrap();
    let ds =
        generate(&SyntheticConfig { train_per_class: 10, test_per_class: 5, seed: 2, ..Default::default() }, &Silent);
    let data = dir.path().join("data");
    write_idx(&data, &ds);
    let run = dir.path().join("cnn3");
    let arch = Architecture::Cnn { channels: vec![4, 8, 16], hidden: 16, dropout: 0.1 };
    let record = train_one_epoch(arch, &ds, &run, 64);
    assert_eq!(record.spec.parameter_count(), record.parameters);
    let weights = Weights::read(&run.join("model.safetensors")).unwrap();
    assert_eq!(weights.get("fc1.weight").unwrap().shape, vec![16, 16 * 3 * 3]);
    let out = dir.path().join("cnn3.onnx");
    let r = export(&run, &out, &data, &[]);
    assert_eq!(r["same_dataset"], true);
    let idx: Vec<usize> = (0..ds.test.len()).collect();
    let x = floats(&ds.test, &idx);
    let got = ServedModel::load(&out, &Default::default()).unwrap().model.run(&x).unwrap();
    let want = {
        let _turn = torch_lock();
        tch_probabilities(&record.spec, &weights, &x)
    };
    let d = max_abs_diff(&got.probabilities, &want);
    assert!(d <= 1e-5, "tract vs tch {d}");
}
