//! `emnist export --onnx`: hand-built and trained models export, tract loads them and agrees with
//! the reference forward pass (and with tch in the full build), the bytes are the same in both
//! builds (a committed golden hash), and bad input writes nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use emnist::data::synthetic::{generate, SyntheticConfig};
use emnist::data::{ClassTable, Dataset, Part};
use emnist::model::forward::Network;
use emnist::model::weights::Weights;
use emnist::model::{Architecture, ModelSpec};
use emnist::onnx::{parity, TractModel};
use emnist::progress::Silent;

use crate::common::{emnist_cmd, fixture, hand_built_run, small_architectures};

/// Writes a dataset as a plain idx folder, so the binary loads exactly these images (and the
/// fingerprint in model.json matches).
fn write_idx(dir: &Path, ds: &Dataset) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, part) in [("train", &ds.train), ("t10k", &ds.test)] {
        let n = (part.len() as u32).to_be_bytes();
        let mut images = [&[0, 0, 8, 3][..], &n, &28u32.to_be_bytes(), &28u32.to_be_bytes()].concat();
        images.extend_from_slice(&part.images);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        let mut labels = [&[0, 0, 8, 1][..], &n].concat();
        labels.extend_from_slice(&part.labels);
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

/// Runs `emnist export --onnx --json` and returns the report.
fn export(model: &Path, out: &Path, data: &Path, extra: &[&str]) -> Value {
    let o = emnist_cmd()
        .args(["export", "--onnx", "--json", "--model"])
        .arg(model)
        .arg("--out")
        .arg(out)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("stdout is one JSON document")
}

/// Images `[n, 1, 28, 28]` in [0, 1] from a dataset part.
fn floats(part: &Part, idx: &[usize]) -> Vec<f32> {
    idx.iter().flat_map(|&i| part.image(i).iter().map(|&p| p as f32 / 255.0)).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Checks the report, the files, and tract against the forward pass with batch sizes the
/// built-in check does not use (1, and an odd 37).
fn check_export(r: &Value, out: &Path, spec: &ModelSpec, weights: &Weights, test: &Part, ops: &[&str]) {
    let p = &r["parity"];
    assert_eq!(r["written"], true);
    assert_eq!(p["passed"], true, "{r}");
    assert!(p["max_abs_diff_probabilities"].as_f64().unwrap() <= 1e-5, "{r}");
    assert_eq!(p["argmax_disagreements"], 0);
    assert_eq!(p["images"].as_u64().unwrap() as usize, test.len().min(1000));
    let got_ops: Vec<&str> = r["ops"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert_eq!(got_ops, ops);
    let vi = out.with_file_name(format!("{}.value_inputs.json", out.file_stem().unwrap().to_string_lossy()));
    assert_eq!(std::fs::read_to_string(vi).unwrap(), r#"{"image": [1, [1, 1, 28, 28]]}"#);
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");

    let model = TractModel::load(out).unwrap();
    let net = Network::new(spec, weights).unwrap();
    let idx: Vec<usize> = (0..38.min(test.len())).collect();
    for batch in [&idx[..1], &idx[1..]] {
        let x = floats(test, batch);
        let got = model.run(&x).unwrap();
        assert_eq!(got.probabilities.len(), batch.len() * spec.classes.len());
        let d = max_abs_diff(&got.probabilities, &net.probabilities(&x).unwrap());
        assert!(d <= 1e-5, "tract vs reference, batch of {}: {d}", batch.len());
    }
}

const OPS: [&[&str]; 3] = [
    &["Flatten", "Gemm", "Softmax"],
    &["Flatten", "Gemm", "Elu", "Gemm", "Elu", "Gemm", "Softmax"],
    &["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"],
];

#[test]
fn hand_built_models_export_and_tract_agrees_with_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let ds = generate(&SyntheticConfig { train_per_class: 1, test_per_class: 20, seed: 1 }, &Silent);
    let data = dir.path().join("data");
    write_idx(&data, &ds);
    for (arch, ops) in small_architectures().into_iter().zip(OPS) {
        let name = arch.name();
        let run = dir.path().join(name);
        let (record, weights) = hand_built_run(&run, arch, ClassTable::byclass(), 5, Some(&ds));
        let out = dir.path().join("onnx").join(format!("{name}.onnx"));
        let r = export(&run, &out, &data, &[]);
        assert_eq!(r["same_dataset"], true, "{name}: the idx copy is the dataset in model.json");
        check_export(&r, &out, &record.spec, &weights, &ds.test, ops);
    }
}

/// `tests/fixtures/onnx-golden.sha256`: `<name> <sha256>` per line. Both `cargo test` and
/// `cargo test --no-default-features` run this test, so both builds must write exactly these
/// bytes. After an intended change of the format, rerun with `EMNIST_UPDATE_GOLDEN=1`.
#[test]
fn exports_are_deterministic_and_identical_in_every_build() {
    let dir = tempfile::tempdir().unwrap();
    let golden_path = fixture("onnx-golden.sha256");
    let mut lines = Vec::new();
    for arch in small_architectures() {
        let name = arch.name();
        let run = dir.path().join(name);
        hand_built_run(&run, arch, ClassTable::numbered(10), 42, None);
        let (a, b) = (dir.path().join(format!("{name}-a.onnx")), dir.path().join(format!("{name}-b.onnx")));
        let r = export(&run, &a, &fixture("mnist-style"), &[]);
        assert_eq!(r["same_dataset"], false);
        export(&run, &b, &fixture("mnist-style"), &[]);
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap(), "{name}: two exports differ");
        assert_eq!(r["sha256"], emnist::onnx::sha256_hex(&bytes));
        lines.push(format!("{name} {}", emnist::onnx::sha256_hex(&bytes)));
    }
    let text = lines.join("\n") + "\n";
    if std::env::var_os("EMNIST_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path).unwrap_or_default();
    assert_eq!(
        text,
        golden,
        "the exported bytes differ from `{}`; if the change is intended, rerun with EMNIST_UPDATE_GOLDEN=1",
        golden_path.display()
    );
}

#[test]
fn opsets_13_to_21_export_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cnn");
    let arch = small_architectures().pop().unwrap();
    hand_built_run(&run, arch, ClassTable::numbered(10), 3, None);
    for opset in [13, 21] {
        let out = dir.path().join(format!("cnn-{opset}.onnx"));
        let r = export(&run, &out, &fixture("mnist-style"), &["--opset", &opset.to_string()]);
        assert_eq!((r["opset"].as_i64(), r["parity"]["passed"].as_bool()), (Some(opset), Some(true)));
        assert_eq!(r["ir_version"].as_i64(), Some(if opset == 13 { 7 } else { 10 }));
    }
    for opset in ["12", "22"] {
        let out = dir.path().join("refused").join(format!("cnn-{opset}.onnx"));
        refused(&["--model", run.to_str().unwrap(), "--opset", opset, "--out", out.to_str().unwrap()], "opset", &out);
    }
}

/// Runs a failing export and checks: exit 1, `error: ` + a message naming `what`, nothing written.
fn refused(args: &[&str], what: &str, out: &Path) {
    let o = emnist_cmd().args(["export", "--onnx", "--data"]).arg(fixture("mnist-style")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: ") && first.contains(what), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let dir = out.parent().unwrap();
    let written: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.to_string_lossy().contains(".onnx")).collect())
        .unwrap_or_default();
    assert!(written.is_empty(), "{what}: left {written:?}");
}

#[test]
fn bad_runs_are_refused_with_one_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").join("m.onnx");
    let o = out.to_str().unwrap();
    let run = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    refused(&["--model", &run("missing"), "--out", o], "no model.json", &out);

    hand_built_run(Path::new(&run("no-weights")), Architecture::Linear, ClassTable::numbered(10), 1, None);
    std::fs::remove_file(Path::new(&run("no-weights")).join("model.safetensors")).unwrap();
    refused(&["--model", &run("no-weights"), "--out", o], "model.safetensors", &out);

    // Weights of a 10-class model under a 12-class model.json.
    hand_built_run(Path::new(&run("mismatch")), Architecture::Linear, ClassTable::numbered(12), 1, None);
    let (_, other) = hand_built_run(&dir.path().join("other"), Architecture::Linear, ClassTable::numbered(10), 1, None);
    other.write(&Path::new(&run("mismatch")).join("model.safetensors")).unwrap();
    refused(&["--model", &run("mismatch"), "--out", o], "shape", &out);

    hand_built_run(Path::new(&run("unknown")), Architecture::Linear, ClassTable::numbered(10), 1, None);
    let json = Path::new(&run("unknown")).join("model.json");
    let text = std::fs::read_to_string(&json).unwrap().replace(r#""kind": "linear""#, r#""kind": "transformer""#);
    std::fs::write(&json, text).unwrap();
    refused(&["--model", &run("unknown"), "--out", o], "transformer", &out);

    std::fs::write(Path::new(&run("no-weights")).join("model.safetensors"), b"not safetensors").unwrap();
    refused(&["--model", &run("no-weights"), "--out", o], "safetensors", &out);

    let usage = emnist_cmd().args(["export", "--model", &run("mismatch")]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "`--onnx` is required");
}

#[test]
fn parity_check_fails_when_the_graph_and_the_reference_differ() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("dnn");
    let (record, _) = hand_built_run(&run, Architecture::Dnn { hidden: vec![8] }, ClassTable::numbered(10), 1, None);
    let out = dir.path().join("dnn.onnx");
    export(&run, &out, &fixture("mnist-style"), &[]);
    let ds = emnist::data::idx::load(&fixture("mnist-style"), None, &Silent).unwrap();
    let (_, other) = hand_built_run(
        &dir.path().join("other"),
        Architecture::Dnn { hidden: vec![8] },
        ClassTable::numbered(10),
        2,
        None,
    );
    let cfg = parity::ParityConfig::default();
    let r = parity::check_parity(&out, &record.spec, &other, &ds.test, &cfg).unwrap();
    assert!(!r.passed && r.max_abs_diff_probabilities > 1e-5, "{r:?}");
}

/// The full build: models trained by libtorch export, and tract's probabilities equal tch's.
#[cfg(feature = "train")]
mod trained {
    use std::sync::atomic::AtomicBool;

    use emnist::model::Layer;
    use emnist::train::{train, ClassWeights, DeviceChoice, TrainConfig, TrainOutcome};
    use tch::Kind;

    use super::*;
    use crate::common::torch_lock;

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

    #[test]
    fn trained_models_export_and_tract_agrees_with_tch() {
        let dir = tempfile::tempdir().unwrap();
        let ds = generate(&SyntheticConfig { train_per_class: 20, test_per_class: 20, seed: 1 }, &Silent);
        let data = dir.path().join("data");
        write_idx(&data, &ds);
        for (arch, ops) in [Architecture::Linear, Architecture::dnn(), Architecture::cnn()].into_iter().zip(OPS) {
            let name = arch.name();
            let run = dir.path().join(name);
            let cfg = TrainConfig {
                architecture: arch,
                learning_rate: None,
                batch_size: 128,
                epochs: 1,
                seed: 1,
                class_weights: ClassWeights::None,
                eval_every: None,
                eval_fraction: 0.05,
                device: DeviceChoice::Cpu,
                threads: Some(1),
                out: run.clone(),
                force: false,
                resume: false,
            };
            let record = {
                let _turn = torch_lock();
                match train(&cfg, &ds, &Silent, &AtomicBool::new(false)).unwrap() {
                    TrainOutcome::Finished(r) => r.record,
                    TrainOutcome::Interrupted { .. } => panic!("the run was interrupted"),
                }
            };
            let weights = Weights::read(&run.join("model.safetensors")).unwrap();
            let out = dir.path().join(format!("{name}.onnx"));
            let r = export(&run, &out, &data, &[]);
            assert_eq!(r["same_dataset"], true);
            check_export(&r, &out, &record.spec, &weights, &ds.test, ops);

            let idx: Vec<usize> = (0..ds.test.len()).step_by(7).collect();
            let x = floats(&ds.test, &idx);
            let got = TractModel::load(&out).unwrap().run(&x).unwrap();
            let want = {
                let _turn = torch_lock();
                tch_probabilities(&record.spec, &weights, &x)
            };
            let d = max_abs_diff(&got.probabilities, &want);
            assert!(d <= 1e-5, "{name}: tract vs tch {d}");
            let k = record.spec.classes.len();
            for (g, w) in got.probabilities.chunks(k).zip(want.chunks(k)) {
                assert_eq!(parity::argmax(g), parity::argmax(w), "{name}: argmax differs");
            }
        }
    }
}

#[test]
fn non_finite_weights_are_named_instead_of_blaming_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("x");
    let (_, mut weights) =
        hand_built_run(&run, Architecture::Dnn { hidden: vec![8] }, ClassTable::numbered(10), 1, None);
    let fc1 = weights.tensors.iter_mut().find(|t| t.name == "fc1.weight").unwrap();
    for (i, v) in [f32::NAN, f32::NAN, f32::NAN, f32::INFINITY].into_iter().enumerate() {
        fc1.values[i * 100] = v;
    }
    let n = fc1.values.len();
    weights.tensors.iter_mut().find(|t| t.name == "out.bias").unwrap().values[0] = f32::NEG_INFINITY;
    weights.write(&run.join("model.safetensors")).unwrap();
    let out = dir.path().join("out").join("x.onnx");
    refused(&["--model", run.to_str().unwrap(), "--out", out.to_str().unwrap()], "non-finite", &out);
    let o = emnist_cmd()
        .args(["export", "--onnx", "--data"])
        .arg(fixture("mnist-style"))
        .arg("--model")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    let expected = format!(
        "error: `{}` holds non-finite values: `fc1.weight` has 3 NaN and 1 infinite of {}, `out.bias` has 1 infinite of 10 \
         (the training diverged; retrain with a lower `--lr`)",
        run.join("model.safetensors").display(),
        emnist::plot::thousands(n)
    );
    assert_eq!(line, expected, "{stderr}");
    assert!(!stderr.contains("does not match"), "{stderr}");
}

/// The names in `dir` that look like our temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| emnist::fsutil::temp_owner(n).is_some())
        .collect()
}

#[test]
fn failed_write_after_the_check_leaves_no_final_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("x");
    hand_built_run(&run, Architecture::Linear, ClassTable::numbered(10), 1, None);
    let models = dir.path().join("models");
    for blocked in ["x.value_inputs.json", "x.export.json"] {
        // A folder where a file must go: its rename fails, after the parity check passed.
        std::fs::create_dir_all(models.join(blocked).join("inside")).unwrap();
        let out = models.join("x.onnx");
        let o = emnist_cmd()
            .args(["export", "--onnx", "--data"])
            .arg(fixture("mnist-style"))
            .arg("--model")
            .arg(&run)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{blocked}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{blocked}: {stderr}");
        assert!(errors[0].contains(blocked), "{blocked}: {stderr}");
        assert!(!out.exists(), "{blocked}: no `x.onnx` under its final name");
        let mut left: Vec<String> = std::fs::read_dir(&models)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [blocked], "{blocked}: only the folder in the way is left");
        std::fs::remove_dir_all(models.join(blocked)).unwrap();
    }
}

#[test]
fn export_removes_the_temporaries_of_killed_runs_and_keeps_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("x");
    hand_built_run(&run, Architecture::Linear, ClassTable::numbered(10), 1, None);
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    // What a `kill -9` during an earlier export or training left, and a write in progress (this test's pid).
    let dead = [".x.onnx.999999999.tmp", ".model.json.999999999.tmp", ".samples.png.999999998.tmp.png"];
    let live = format!(".x.onnx.{}.tmp", std::process::id());
    for name in dead.iter().copied().chain([live.as_str()]) {
        std::fs::write(models.join(name), b"left over").unwrap();
    }
    export(&run, &models.join("x.onnx"), &fixture("mnist-style"), &[]);
    assert_eq!(temporaries(&models), [live]);
    assert!(models.join("x.onnx").is_file() && models.join("x.value_inputs.json").is_file());
}
