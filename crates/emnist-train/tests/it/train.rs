//! `emnist train` and `compare`: learning, determinism, interruption and resume, artifacts, bad input.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use emnist_data::shutdown::Shutdown;

use emnist_data::progress::{Progress, Silent};
use emnist_data::synthetic::{generate, SyntheticConfig};
use emnist_data::Dataset;
use emnist_model::record::{read_metrics, ModelRecord};
use emnist_model::train::{
    ClassWeights, DeviceChoice, Practice, Recipe, Schedule, TrainConfig, TrainOutcome, TrainReport,
};
use emnist_model::weights::Weights;
use emnist_model::Architecture;
use emnist_train::train;

use crate::common::{emnist_cmd, flags_as_in_emnist, torch_lock};

fn small_dataset() -> Dataset {
    generate(&SyntheticConfig { train_per_class: 40, test_per_class: 10, seed: 7, ..Default::default() }, &Silent)
}

pub(crate) fn config(architecture: Architecture, out: &Path) -> TrainConfig {
    TrainConfig {
        architecture,
        learning_rate: None,
        batch_size: 64,
        epochs: 2,
        seed: 3,
        class_weights: ClassWeights::None,
        eval_every: Some(10),
        eval_fraction: 0.25,
        device: DeviceChoice::Cpu,
        threads: Some(1),
        out: out.to_path_buf(),
        force: false,
        resume: false,
        init: None,
        practice: Practice::default(),
    }
}

fn finished(outcome: TrainOutcome) -> TrainReport {
    match outcome {
        TrainOutcome::Finished(r) => *r,
        TrainOutcome::Interrupted { .. } => panic!("the run was interrupted"),
    }
}

fn run(cfg: &TrainConfig, ds: &Dataset) -> TrainReport {
    let _turn = torch_lock();
    finished(train(cfg, ds, &Silent, &Shutdown::new()).unwrap())
}

#[test]
fn every_model_learns_far_above_chance() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let chance = 1.0 / 62.0;
    for (arch, epochs) in
        [(Architecture::Linear, 2), (Architecture::Dnn { hidden: vec![128, 64] }, 4), (Architecture::cnn(), 3)]
    {
        let name = arch.name();
        let mut cfg = config(arch, &dir.path().join(name));
        cfg.epochs = epochs;
        if name == "dnn" {
            cfg.learning_rate = Some(2e-3);
        }
        let r = run(&cfg, &ds);
        let acc = r.record.metrics.test_accuracy;
        assert!(acc > 20.0 * chance, "{name}: test accuracy {acc} is not far above chance {chance}");
        assert!(r.record.metrics.balanced_accuracy > 0.0);
    }
}

#[test]
fn artifacts_are_complete_and_model_json_round_trips() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let r = run(&config(Architecture::Linear, &out), &ds);
    for f in [
        "model.safetensors",
        "model.json",
        "metrics.csv",
        "confusion.csv",
        "curves.png",
        "confusion.png",
        "per_class.png",
    ] {
        assert!(out.join(f).is_file(), "{f} is missing");
    }
    assert!(!out.join("checkpoint.safetensors").exists(), "a finished run leaves no checkpoint");
    let back = ModelRecord::read(&out.join("model.json")).unwrap();
    assert_eq!(back, r.record);
    assert_eq!(back.spec.classes.names.len(), 62);
    assert_eq!(back.parameters, 48_670);
    assert!(!back.dataset.fingerprint.is_empty() && back.dataset.synthetic);
    let w = Weights::read(&out.join("model.safetensors")).unwrap();
    w.check(&back.spec).unwrap();
    let rows = read_metrics(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows, r.rows);
    // 2 epochs of ceil(2480 / 64) = 39 steps, an evaluation every 10 steps.
    assert_eq!(rows.len(), 78 / 10);
    let conf = std::fs::read_to_string(out.join("confusion.csv")).unwrap();
    assert_eq!(conf.lines().count(), 63);
    let total: u64 = r.confusion.iter().flatten().sum();
    assert_eq!(total as usize, ds.test.len());
}

/// Stops the run (as SIGINT would) once `after` steps have been reported.
struct StopAfter<'a> {
    steps: AtomicU64,
    after: u64,
    stop: &'a Shutdown,
}

impl Progress for StopAfter<'_> {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, n: u64) {
        if self.steps.fetch_add(n, Ordering::SeqCst) + n >= self.after {
            self.stop.request();
        }
    }
    fn finish(&self) {}
    fn note(&self, _: &str) {}
}

/// Runs `cfg` whole, and again interrupted after `stop_after` steps and resumed; both must end alike.
fn assert_resume_matches_whole(cfg: impl Fn(&Path) -> TrainConfig, stop_after: u64, at: (usize, usize)) {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let whole = run(&cfg(&dir.path().join("whole")), &ds);

    let cfg = cfg(&dir.path().join("split"));
    let stop = Shutdown::new();
    let watcher = StopAfter { steps: AtomicU64::new(0), after: stop_after, stop: &stop };
    let outcome = {
        let _turn = torch_lock();
        train(&cfg, &ds, &watcher, &stop).unwrap()
    };
    match outcome {
        TrainOutcome::Interrupted { checkpoint, epoch, step } => {
            assert!(checkpoint.is_file());
            assert_eq!((epoch, step), at);
        }
        TrainOutcome::Finished(_) => panic!("the run should have stopped"),
    }
    assert!(!cfg.out.join("model.json").exists(), "no model is written for an unfinished run");
    let resumed = run(&TrainConfig { resume: true, ..cfg.clone() }, &ds);

    assert_eq!(resumed.rows.len(), whole.rows.len());
    for (a, b) in resumed.rows.iter().zip(&whole.rows) {
        assert_eq!(a.step, b.step);
        assert!((a.train_loss - b.train_loss).abs() < 1e-5, "{a:?} vs {b:?}");
        assert!((a.test_acc - b.test_acc).abs() < 1e-9, "{a:?} vs {b:?}");
    }
    let (m1, m2) = (&resumed.record.metrics, &whole.record.metrics);
    assert!((m1.test_loss - m2.test_loss).abs() < 1e-5, "{} vs {}", m1.test_loss, m2.test_loss);
    assert_eq!(m1.test_accuracy, m2.test_accuracy);
    match (&resumed.record.validation, &whole.record.validation) {
        (Some(a), Some(b)) => {
            assert_eq!((a.best_epoch, a.images, a.rows.len()), (b.best_epoch, b.images, b.rows.len()));
            for (x, y) in a.rows.iter().zip(&b.rows) {
                assert!((x.accuracy - y.accuracy).abs() < 1e-9 && (x.loss - y.loss).abs() < 1e-5, "{x:?} vs {y:?}");
            }
        }
        (None, None) => {}
        (a, b) => panic!("validation records differ: {a:?} vs {b:?}"),
    }
    let w1 = Weights::read(&cfg.out.join("model.safetensors")).unwrap();
    let w2 = Weights::read(&dir.path().join("whole/model.safetensors")).unwrap();
    for (a, b) in w1.tensors.iter().zip(&w2.tensors) {
        let diff = a.values.iter().zip(&b.values).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "{}: max difference {diff}", a.name);
    }
}

#[test]
fn interrupted_and_resumed_run_ends_like_an_uninterrupted_one() {
    // Dropout (CNN) makes this the strict case: its masks must follow the step, not the process.
    // Stop mid-epoch, between two evaluations (step 25 of epoch 1).
    assert_resume_matches_whole(|out| config(Architecture::cnn(), out), 25, (0, 25));
}

#[test]
fn the_best_recipe_resumes_exactly_augmentation_schedule_and_validation_included() {
    // Augmented batches, one-cycle rates, label smoothing and the validation split all derive from
    // (seed, step): stopped in epoch 2, after one validation, the run must still end as a whole one.
    let best = |out: &Path| TrainConfig {
        epochs: 3,
        practice: Practice { patience: None, ..Practice::of(Recipe::Best) },
        ..config(Architecture::cnn(), out)
    };
    let ds = small_dataset();
    let steps = (ds.train.len() - (ds.train.len() as f64 * 0.1).round() as usize).div_ceil(64) as u64;
    assert_resume_matches_whole(best, steps + 7, (1, 7));
}

#[test]
fn validation_keeps_the_best_epoch_and_patience_stops_the_run() {
    // A learning rate far too high makes validation accuracy wander, so the best epoch is not the
    // last; the weights kept must be that epoch's: a run of exactly that many epochs has them.
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let cfg = |out: &str, epochs: usize, patience: Option<usize>| TrainConfig {
        learning_rate: Some(0.3),
        epochs,
        practice: Practice { validation: 0.2, patience, ..Practice::of(Recipe::Seed) },
        ..config(Architecture::Linear, &dir.path().join(out))
    };
    let long = run(&cfg("long", 8, None), &ds);
    let v = long.record.validation.clone().expect("a validation record");
    assert_eq!(v.rows.len(), 8);
    assert!(!v.stopped_early);
    let best = v.rows.iter().max_by(|a, b| a.accuracy.total_cmp(&b.accuracy).then(b.epoch.cmp(&a.epoch))).unwrap();
    assert_eq!((v.best_epoch, v.best_accuracy), (best.epoch, best.accuracy));
    assert!(v.best_epoch < 8, "the best epoch should not be the last here: {v:?}");
    assert_eq!(v.images, (ds.train.len() as f64 * 0.2).round() as usize);

    let short = run(&cfg("short", v.best_epoch, None), &ds);
    let w_long = Weights::read(&dir.path().join("long/model.safetensors")).unwrap();
    let w_short = Weights::read(&dir.path().join("short/model.safetensors")).unwrap();
    assert_eq!(w_long.tensors, w_short.tensors, "the kept weights are the best epoch's");
    assert_eq!(long.record.metrics.test_accuracy, short.record.metrics.test_accuracy);

    // With patience 1 the run stops at the first epoch that does not improve.
    let first_worse = v.rows.windows(2).position(|w| w[1].accuracy <= w[0].accuracy).map(|i| i + 2);
    let first_worse = first_worse.expect("some epoch is no better than the one before");
    let stopped = run(&cfg("stopped", 8, Some(1)), &ds);
    let s = stopped.record.validation.expect("a validation record");
    assert!(s.stopped_early && s.rows.len() == first_worse, "{s:?}");
    assert_eq!(stopped.record.metrics.epochs_completed, first_worse);
}

#[test]
fn schedules_reach_the_optimiser_and_the_record() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        practice: Practice { schedule: Schedule::Cosine, warmup_epochs: 0.5, ..Practice::default() },
        ..config(Architecture::Linear, &dir.path().join("cos"))
    };
    let r = run(&cfg, &ds);
    let back = ModelRecord::read(&cfg.out.join("model.json")).unwrap();
    assert_eq!(back.training.practice, cfg.practice);
    assert_eq!(r.record.training.practice.schedule, Schedule::Cosine);
    // A different schedule trains to different weights from the same seed.
    let constant = run(&config(Architecture::Linear, &dir.path().join("const")), &ds);
    assert_ne!(r.record.metrics.test_loss, constant.record.metrics.test_loss);
}

#[test]
fn class_weights_favour_rare_classes() {
    // Keep only one image in ten of the classes after the digits: a heavily unbalanced set.
    let mut ds = small_dataset();
    let keep: Vec<usize> = (0..ds.train.len()).filter(|&i| ds.train.labels[i] < 10 || i % 10 == 0).collect();
    let images: Vec<u8> = keep.iter().flat_map(|&i| ds.train.image(i).to_vec()).collect();
    let labels: Vec<u8> = keep.iter().map(|&i| ds.train.labels[i]).collect();
    ds.train = emnist_data::Part { images: images.into(), labels: labels.into(), writers: None };
    let dir = tempfile::tempdir().unwrap();
    let mut plain = config(Architecture::Linear, &dir.path().join("plain"));
    plain.epochs = 3;
    let weighted = TrainConfig {
        class_weights: ClassWeights::InverseFrequency,
        out: dir.path().join("weighted"),
        ..plain.clone()
    };
    let a = run(&plain, &ds);
    let b = run(&weighted, &ds);
    assert_eq!(b.record.training.class_weights, ClassWeights::InverseFrequency);
    // Rare classes gain recall when their errors weigh more.
    let rare = |r: &TrainReport| r.record.metrics.per_class_accuracy[10..].iter().sum::<f64>() / 52.0;
    assert!(rare(&b) > rare(&a), "rare-class recall: weighted {} vs plain {}", rare(&b), rare(&a));
}

#[test]
fn bad_settings_are_refused_clearly() {
    flags_as_in_emnist();
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let err = |cfg: TrainConfig| {
        let _turn = torch_lock();
        format!("{:#}", train(&cfg, &ds, &Silent, &Shutdown::new()).err().expect("must fail"))
    };
    let base = config(Architecture::Linear, &dir.path().join("x"));
    assert!(err(TrainConfig { batch_size: 0, ..base.clone() }).contains("batch size"));
    assert!(err(TrainConfig { epochs: 0, ..base.clone() }).contains("epochs"));
    assert!(err(TrainConfig { device: DeviceChoice::Cuda(7), ..base.clone() }).contains("CUDA device 7"));
    assert!(err(TrainConfig { resume: true, ..base.clone() }).contains("no checkpoint"));
    std::fs::create_dir_all(&base.out).unwrap();
    std::fs::write(base.out.join("model.json"), "{}").unwrap();
    assert!(err(base.clone()).contains("--force"));
    let mut empty = small_dataset();
    empty.test = emnist_data::Part { images: Vec::new().into(), labels: Vec::new().into(), writers: None };
    let e = {
        let _turn = torch_lock();
        format!("{:#}", train(&TrainConfig { force: true, ..base }, &empty, &Silent, &Shutdown::new()).err().unwrap())
    };
    assert!(e.contains("no train or no test"), "{e}");
}

#[test]
fn a_malformed_device_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = emnist_cmd()
        .args(["train", "--model", "linear", "--device", "cuda:x", "--out"])
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`cuda:x` is not a device"), "{err}");
    assert!(!dir.path().join("run").exists(), "nothing is created for a command line that does not parse");
}

#[test]
fn sigint_checkpoints_exits_130_and_resume_completes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let empty = dir.path().join("no-data");
    std::fs::create_dir(&empty).unwrap();
    let args = |extra: &[&str]| {
        let mut c = emnist_cmd();
        c.args(["train", "--model", "dnn", "--epochs", "2", "--threads", "1", "--eval-every", "5", "--data-dir"])
            .arg(&empty)
            .arg("--out")
            .arg(&out)
            .args(extra);
        c
    };
    let mut child = args(&[]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let mut sent = false;
    // Read stderr to its end (the child must never write into a closed pipe).
    for line in stderr.lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("step") && !sent {
            // Training is under way: interrupt it as Ctrl-C would.
            std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
            sent = true;
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("--resume"), "the message says how to continue: {log}");
    assert!(out.join("checkpoint.safetensors").is_file());
    assert!(!out.join("model.json").exists());
    let again = args(&["--resume", "--json"]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("resuming from"), "{stderr}");
    let record: ModelRecord = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(record.metrics.epochs_completed, 2);
    assert!(out.join("model.json").is_file());
}

#[test]
fn compare_plots_runs_and_tables_their_metrics() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for arch in [Architecture::Linear, Architecture::Dnn { hidden: vec![64] }] {
        let out = dir.path().join(arch.name());
        let mut cfg = config(arch, &out);
        cfg.epochs = 1;
        run(&cfg, &ds);
        runs.push(out);
    }
    let plot = dir.path().join("compare.png");
    let out = emnist_cmd().arg("compare").args(&runs).arg("--out").arg(&plot).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models: Vec<&str> = report["runs"].as_array().unwrap().iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["linear", "dnn"]);
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
    let bad = emnist_cmd().arg("compare").arg(dir.path()).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a finished training run"));
}

#[test]
fn a_locked_run_directory_is_refused_at_once_and_left_untouched() {
    let ds = small_dataset();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cfg = config(Architecture::Linear, &out);
    cfg.epochs = 1;
    run(&cfg, &ds);
    let snapshot = |dir: &Path| {
        let mut files: Vec<(String, Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                let modified = e.metadata().unwrap().modified().unwrap();
                (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap(), modified)
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&out);

    // Another `emnist train` writing the folder holds its lock: here util-linux's `flock`, the same
    // flock(2) lock. A process of its own, because a lock held by this test process would outlive
    // `drop` in children that other tests fork meanwhile (until they exec).
    let lock_path = out.join(emnist_model::artifacts::RunDir::LOCK);
    let mut holder = std::process::Command::new("flock")
        .args(["--exclusive", "--close"])
        .arg(&lock_path)
        .args(["sleep", "600"])
        .spawn()
        .expect("util-linux `flock`");
    let probe = std::fs::File::options().write(true).open(&lock_path).unwrap();
    while probe.try_lock().is_ok() {
        probe.unlock().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(probe);
    let empty = dir.path().join("no-data");
    std::fs::create_dir(&empty).unwrap();
    for extra in [&["--force"][..], &["--resume"][..], &[]] {
        if extra == ["--resume"] {
            // A checkpoint to resume from, so that the lock is what refuses.
            std::fs::write(out.join("checkpoint.safetensors"), b"not read").unwrap();
        }
        let o = emnist_cmd()
            .args(["train", "--model", "linear", "--epochs", "1", "--threads", "1", "--data-dir"])
            .arg(&empty)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        let expected = format!(
            "error: `{}` is being written by another `emnist train`; wait for it to finish, or choose another `--out`",
            out.display()
        );
        assert_eq!(errors, [expected], "{extra:?}: {stderr}");
        assert!(!stderr.contains("using the"), "{extra:?}: refused before loading any data: {stderr}");
        let _ = std::fs::remove_file(out.join("checkpoint.safetensors"));
        assert_eq!(snapshot(&out), before, "{extra:?}: the first run's files are untouched");
    }
    flags_as_in_emnist();
    let in_process = {
        let _turn = torch_lock();
        train(&TrainConfig { force: true, ..cfg.clone() }, &ds, &Silent, &Shutdown::new()).err().expect("locked")
    };
    assert!(format!("{in_process:#}").contains("is being written by another `emnist train`"), "{in_process:#}");
    holder.kill().unwrap();
    holder.wait().unwrap();

    // Released: `--force` overwrites; the lock file alone does not make a folder a run.
    run(&TrainConfig { force: true, ..cfg.clone() }, &ds);
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join(emnist_model::artifacts::RunDir::LOCK), b"").unwrap();
    run(&TrainConfig { out: fresh.clone(), ..cfg.clone() }, &ds);
    assert!(fresh.join("model.json").is_file());
    let plot = dir.path().join("c.png");
    let o = emnist_cmd().arg("compare").arg(&out).arg(&fresh).arg("--out").arg(&plot).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn train_removes_the_temporaries_of_killed_runs_and_keeps_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir(&out).unwrap();
    // `kill -9` while writing the artifacts left these; the last belongs to a live process (this test).
    let dead = [out.join(".model.json.999999999.tmp"), out.join(".curves.png.999999999.tmp.png")];
    let live = out.join(format!(".model.json.{}.tmp", std::process::id()));
    for f in dead.iter().chain([&live]) {
        std::fs::write(f, b"left over").unwrap();
    }
    let o = emnist_cmd()
        .args(["train", "--model", "linear", "--epochs", "1", "--threads", "1", "--force", "--data"])
        .arg(crate::common::fixture("mnist-style"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in &dead {
        assert!(!f.exists(), "{} is a dead process's and goes", f.display());
    }
    assert!(live.exists(), "a live process's temporary stays");
    assert!(out.join("model.json").is_file());
}
