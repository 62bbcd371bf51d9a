//! `emnist export --onnx`: hand-built models export, tract loads them and agrees with the
//! reference forward pass, the bytes are those of a committed golden hash, and bad input writes
//! nothing. (Trained models and tch as the reference: the trainer's tests.)

use std::path::{Path, PathBuf};

use emnist_data::progress::Silent;
use emnist_data::synthetic::{generate, SyntheticConfig};
use emnist_data::ClassTable;
use emnist_model::Architecture;
use emnist_runtime::parity;

use crate::common::{check_export, emnist_cmd, export, fixture, hand_built_run, small_architectures, write_idx, OPS};

#[test]
fn hand_built_models_export_and_tract_agrees_with_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let ds =
        generate(&SyntheticConfig { train_per_class: 1, test_per_class: 20, seed: 1, ..Default::default() }, &Silent);
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

/// `tests/fixtures/onnx-golden.sha256`: `<name> <sha256>` per line: every build, on every
/// machine, writes exactly these bytes. After an intended change of the format, rerun with
/// `EMNIST_UPDATE_GOLDEN=1`.
#[test]
fn exports_are_deterministic_and_match_the_golden_hashes() {
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
        assert_eq!(r["sha256"], emnist_runtime::sha256_hex(&bytes));
        lines.push(format!("{name} {}", emnist_runtime::sha256_hex(&bytes)));
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
    let ds = emnist_data::idx::load(&fixture("mnist-style"), None, &Silent).unwrap();
    let (_, other) = hand_built_run(
        &dir.path().join("other"),
        Architecture::Dnn { hidden: vec![8] },
        ClassTable::numbered(10),
        2,
        None,
    );
    let cfg = emnist_model::export::ParityConfig::default();
    let r = parity::check_parity(&out, &record.spec, &other, &ds.test, &cfg).unwrap();
    assert!(!r.passed && r.max_abs_diff_probabilities > 1e-5, "{r:?}");
}

/// The full build: models trained by libtorch export, and tract's probabilities equal tch's.
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
        emnist_data::text::thousands(n)
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
        .filter(|n| emnist_data::fsutil::temp_owner(n).is_some())
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
    // What a `kill -9` during an earlier export of `x` left, and a write in progress (this test's pid).
    let dead = [".x.onnx.999999999.tmp", ".x.export.json.999999998.tmp", ".x.value_inputs.json.999999997.tmp"];
    let live = format!(".x.onnx.{}.tmp", std::process::id());
    // Our pattern and dead owners, but not files this export writes: another tool's or the user's.
    let theirs = [".mynotes.txt.999997.tmp", ".model.json.999999999.tmp", ".y.onnx.999999999.tmp"];
    for name in dead.iter().chain(&theirs).copied().chain([live.as_str()]) {
        std::fs::write(models.join(name), b"left over").unwrap();
    }
    export(&run, &models.join("x.onnx"), &fixture("mnist-style"), &[]);
    let mut left = temporaries(&models);
    left.sort();
    let mut want: Vec<String> = theirs.iter().map(|s| s.to_string()).chain([live]).collect();
    want.sort();
    assert_eq!(left, want, "only this export's own leftovers go");
    assert!(models.join("x.onnx").is_file() && models.join("x.value_inputs.json").is_file());
}
