//! Helpers shared by the integration tests of `emnist` and of `emnist-train` (which includes
//! this file), so not every helper is used by both.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use emnist_data::rng::Rng;
use emnist_data::{ClassTable, Dataset, Part};
use emnist_model::forward::Network;
use emnist_model::record::{self, DatasetRef, FinalMetrics, ModelRecord, TrainSettings, Versions, RECORD_VERSION};
use emnist_model::weights::{Tensor, Weights};
use emnist_model::{Architecture, ModelSpec};

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A committed fixture file.
pub fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures").join(name)
}

/// The built `emnist`: this package's in its own tests; in the trainer's tests, the one
/// `cargo test --workspace` built beside `emnist-train` (so `emnist train` finds the trainer).
pub fn emnist_bin() -> PathBuf {
    match (option_env!("CARGO_BIN_EXE_emnist"), option_env!("CARGO_BIN_EXE_emnist-train")) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(trainer)) => {
            let p = Path::new(trainer).with_file_name("emnist");
            assert!(p.is_file(), "`{}` is missing: run the tests with `cargo test --workspace`", p.display());
            p
        }
        (None, None) => unreachable!("this file belongs to the tests of `emnist` and `emnist-train`"),
    }
}

/// Library calls made in this test process name flags in their messages as the executables do
/// (their `main` installs the same renderer first thing).
pub fn flags_as_in_emnist() {
    emnist_cli::flags::install();
}

/// The built `emnist` binary, with its cache in a private folder so tests never share state.
pub fn emnist_cmd() -> Command {
    let mut c = Command::new(emnist_bin());
    c.env("EMNIST_CACHE_DIR", test_cache()).env("NO_COLOR", "1");
    c
}

/// The cache folder of every `emnist` this test process starts: a `TempDir` of its own, removed
/// when the process exits (a static is never dropped, so an exit handler removes it).
fn test_cache() -> &'static Path {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    extern "C" fn remove_cache() {
        if let Some(dir) = CACHE.get() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
    CACHE
        .get_or_init(|| {
            extern "C" {
                fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
            }
            // SAFETY: the C library's `atexit` only records the function; the function touches
            // nothing but the static, and never panics.
            assert_eq!(unsafe { atexit(remove_cache) }, 0, "cannot register the cache's removal");
            tempfile::Builder::new().prefix("emnist-test-cache-").tempdir().unwrap()
        })
        .path()
}

/// A running `emnist serve` and the addresses from its `--ready-file`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// `host:port` of KServe v2 over gRPC, with `--grpc-port`.
    pub grpc: Option<String>,
    /// The ready file's document.
    pub ready: Value,
    /// The ready file (`ready.json` in a folder of its own, removed on drop).
    pub ready_file: PathBuf,
    /// Everything the server wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `serve` (a command that listens on `--port 0`) with `--ready-file` and waits for
    /// the file.
    pub fn spawn(mut serve: Command) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let ready_file = dir.path().join("ready.json");
        serve.arg("--ready-file").arg(&ready_file);
        let mut child = serve.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let log = drain(child.stderr.take().unwrap());
        let ready = wait_for_ready(&ready_file, &mut child, || log.lock().unwrap().clone());
        let url = ready["http"].as_str().expect("`http` in the ready file").to_string();
        let grpc = ready["grpc"].as_str().map(str::to_string);
        Server { child, url, grpc, ready, ready_file, log, _dir: dir }
    }
}

/// Reads `stream` to its end on a thread of its own (so the writer never blocks); the lines that
/// came so far.
pub fn drain(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// The document of `emnist serve --ready-file PATH` once the file appears (it is written
/// atomically: whole or not at all); panics with the server's log (`log()`) if the server exits
/// first, or after 120 s.
pub fn wait_for_ready(path: &Path, child: &mut Child, log: impl Fn() -> String) -> Value {
    let t0 = Instant::now();
    loop {
        match std::fs::read(path) {
            Ok(bytes) => return serde_json::from_slice(&bytes).expect("the ready file is one JSON document"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot read `{}`: {e}", path.display()),
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited ({status}) before it was ready:\n{}", log());
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no ready file after 120 s:\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// libtorch's seed and thread count are process-wide: tests that train (in any module) take turns.
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
            class_weights: emnist_model::train::ClassWeights::None,
            eval_every: 1,
            eval_fraction: 0.05,
            device: "cpu".into(),
            threads: 1,
            practice: emnist_model::train::Practice::default(),
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
        validation: None,
        fine_tune: None,
        wall_time_s: 0.0,
        versions: Versions { emnist: "test".into(), tch: "none".into(), libtorch: "none".into() },
        spec,
    };
    std::fs::create_dir_all(dir).unwrap();
    record.write(&dir.join("model.json")).unwrap();
    weights.write(&dir.join("model.safetensors")).unwrap();
    (record, weights)
}

/// Writes a dataset as a plain idx folder, so the binary loads exactly these images (and the
/// fingerprint in model.json matches).
pub fn write_idx(dir: &Path, ds: &Dataset) {
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
pub fn export(model: &Path, out: &Path, data: &Path, extra: &[&str]) -> Value {
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
pub fn floats(part: &Part, idx: &[usize]) -> Vec<f32> {
    idx.iter().flat_map(|&i| emnist_model::contract::to_input(part.image(i))).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    emnist_model::contract::max_abs_diff(a, b)
}

/// Checks the report, the files, and tract against the forward pass with batch sizes the
/// built-in check does not use (1, and an odd 37).
pub fn check_export(r: &Value, out: &Path, spec: &ModelSpec, weights: &Weights, test: &Part, ops: &[&str]) {
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

    let model = emnist_runtime::ServedModel::load(out, &Default::default()).unwrap().model;
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

pub const OPS: [&[&str]; 3] = [
    &["Flatten", "Gemm", "Softmax"],
    &["Flatten", "Gemm", "Elu", "Gemm", "Elu", "Gemm", "Softmax"],
    &["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"],
];
