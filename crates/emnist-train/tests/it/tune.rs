//! `emnist train --init RUN`: fine-tuning a finished run on new data with rehearsal.

use std::path::Path;

use emnist_data::progress::Silent;
use emnist_data::shutdown::Shutdown;
use emnist_data::synthetic::{generate, SyntheticConfig};
use emnist_data::{ClassTable, Dataset, Part, SIDE};
use emnist_model::record::{DatasetRef, ModelRecord};
use emnist_model::train::tune::{self, Init, Start};
use emnist_model::train::{open_run_dir, TrainConfig, TrainOutcome};
use emnist_model::Architecture;

use crate::common::{emnist_cmd, flags_as_in_emnist, torch_lock, write_idx};

/// Debian's `dataset-fashion-mnist` (`make setup` installs it): classes no EMNIST run has.
const FASHION: &str = "/usr/share/datasets/fashion-mnist";

fn synthetic(seed: u64) -> Dataset {
    generate(&SyntheticConfig { train_per_class: 40, test_per_class: 10, seed, ..Default::default() }, &Silent)
}

/// The images mirrored left to right: the same classes, a shift the starting run has not seen.
fn mirrored(part: &Part) -> Part {
    let mut images = part.images.to_vec();
    for row in images.chunks_mut(SIDE) {
        row.reverse();
    }
    Part { images: images.into(), labels: part.labels.clone(), writers: None }
}

/// The mirrored digits of `ds` only, as a ten-class dataset (`0`..`9`): classes that are a subset
/// of the run's, in another order of class indices.
fn mirrored_digits(ds: &Dataset) -> Dataset {
    let names: Vec<String> = (0..10).rev().map(|d| d.to_string()).collect();
    let index = |name: &str| names.iter().position(|n| n == name);
    let keep = |part: &Part| {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for i in 0..part.len() {
            if let Some(c) = index(&ds.classes.names[part.labels[i] as usize]) {
                images.extend_from_slice(part.image(i));
                labels.push(c as u8);
            }
        }
        mirrored(&Part { images: images.into(), labels: labels.into(), writers: None })
    };
    let (train, test) = (keep(&ds.train), keep(&ds.test));
    Dataset {
        info: emnist_data::DatasetInfo { name: "mirrored digits".into(), ..ds.info.clone() },
        classes: ClassTable { labels: (0..10).collect(), names },
        train,
        test,
    }
}

fn config(out: &Path, init: Option<&Path>) -> TrainConfig {
    TrainConfig {
        learning_rate: Some(2e-3),
        epochs: 4,
        init: init.map(|run| Init { run: run.to_path_buf(), rehearse: 1.0 }),
        ..crate::train::config(Architecture::Dnn { hidden: vec![128, 64] }, out)
    }
}

fn finished(outcome: TrainOutcome) -> ModelRecord {
    match outcome {
        TrainOutcome::Finished(r) => r.record,
        TrainOutcome::Interrupted { .. } => panic!("the run was interrupted"),
    }
}

#[test]
fn fine_tuning_learns_the_new_data_and_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let base = synthetic(7);
    let new = mirrored_digits(&synthetic(8));
    let _turn = torch_lock();
    let (start_dir, tuned_dir) = (dir.path().join("start"), dir.path().join("tuned"));
    let cfg = config(&start_dir, None);
    let before = finished(emnist_train::train(&cfg, &base, &Silent, &Shutdown::new()).unwrap());

    let start = Start::open(&start_dir).unwrap();
    start.check_base(&base).unwrap();
    let mixed = tune::mix(&base, &new, &start).unwrap();
    assert_eq!(mixed.base_rows, base.train.len());
    assert_eq!(mixed.dataset.train.len(), base.train.len() + new.train.len());
    // Digit `9` is class 0 of the new data and class 9 of the run's.
    let expect: Vec<u8> = new.train.labels.iter().map(|&l| 9 - l).collect();
    assert_eq!(mixed.dataset.train.labels[base.train.len()..], expect[..]);

    let cfg = TrainConfig { learning_rate: Some(6e-4), ..config(&tuned_dir, Some(&start_dir)) };
    let lock = open_run_dir(&cfg).unwrap();
    let data = DatasetRef::of(&new);
    let after =
        finished(emnist_train::tune_in(&cfg, lock, &mixed, &start, data.clone(), &Silent, &Shutdown::new()).unwrap());

    let f = after.fine_tune.as_ref().expect("the record says the run was fine-tuned");
    assert_eq!(f.from, start_dir.display().to_string());
    assert_eq!(f.from_test_accuracy, before.metrics.test_accuracy);
    assert_eq!(f.data, data);
    assert_eq!((f.new_images_per_epoch, f.rehearsal_images_per_epoch), (new.train.len(), new.train.len()));
    assert_eq!(after.dataset, before.dataset, "the figures are on the starting run's test part");
    assert_eq!(after.spec, before.spec);
    let t = f.new_test.as_ref().expect("the new data has a test part");
    assert_eq!(t.images, new.test.len());
    assert!(
        t.accuracy_after > t.accuracy_before + 0.2,
        "the mirrored digits are learnt: {} → {}",
        t.accuracy_before,
        t.accuracy_after
    );
    assert!(
        after.metrics.test_accuracy > before.metrics.test_accuracy - 0.1,
        "rehearsal keeps the original data: {} → {}",
        before.metrics.test_accuracy,
        after.metrics.test_accuracy
    );
    // The record on disk says the same.
    assert_eq!(ModelRecord::read(&tuned_dir.join("model.json")).unwrap(), after);
}

#[test]
fn fine_tuning_refuses_foreign_classes_and_foreign_rehearsal_data() {
    // Messages name settings as the executable spells them (installed once per test process).
    flags_as_in_emnist();
    let dir = tempfile::tempdir().unwrap();
    let base = synthetic(7);
    let start_dir = dir.path().join("start");
    {
        let _turn = torch_lock();
        let cfg = TrainConfig { epochs: 1, ..config(&start_dir, None) };
        finished(emnist_train::train(&cfg, &base, &Silent, &Shutdown::new()).unwrap());
    }
    let start = Start::open(&start_dir).unwrap();
    let mut foreign = mirrored_digits(&base);
    foreign.classes.names[3] = "sandal".into();
    foreign.classes.names[5] = "boot".into();
    let err = format!("{:#}", tune::mix(&base, &foreign, &start).unwrap_err());
    assert!(err.contains("`sandal`, `boot`") && err.contains("keeps the run's 62 classes"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");

    let other = synthetic(9);
    let err = format!("{:#}", start.check_base(&other).unwrap_err());
    assert!(err.contains("rehearsal data") && err.contains("`--rehearse-data`"), "{err}");

    let empty = Dataset {
        train: Part { images: Vec::new().into(), labels: Vec::new().into(), writers: None },
        ..mirrored_digits(&base)
    };
    let err = format!("{:#}", tune::mix(&base, &empty, &start).unwrap_err());
    assert!(err.contains("no training images"), "{err}");
}

/// `emnist train --init` end to end: the flags, the printed summary, and refusals that leave
/// nothing behind.
#[test]
fn train_init_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let base = synthetic(7);
    write_idx(&p("base"), &base);
    let shifted = Dataset { train: mirrored(&base.train), test: mirrored(&base.test), ..synthetic(8) };
    write_idx(&p("new"), &shifted);
    let train = |args: &[&str]| {
        let _turn = torch_lock();
        emnist_cmd().arg("train").args(args).args(["--threads", "1", "--device", "cpu"]).output().unwrap()
    };
    let path = |name: &str| p(name).display().to_string();
    let o = train(&[
        "--model",
        "dnn",
        "--hidden",
        "128,64",
        "--lr",
        "2e-3",
        "--epochs",
        "2",
        "--data",
        &path("base"),
        "--out",
        &path("start"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The run, the new data and the rehearsal data named; the default folder is `start-tuned`.
    let o =
        train(&["--init", &path("start"), "--data", &path("new"), "--rehearse-data", &path("base"), "--epochs", "2"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("fine-tuning `") && stderr.contains("rehearsal images per epoch"), "{stderr}");
    assert!(stdout.contains("fine-tuned   from") && stdout.contains("% before"), "{stdout}");
    let record = ModelRecord::read(&p("start-tuned").join("model.json")).unwrap();
    let start = ModelRecord::read(&p("start").join("model.json")).unwrap();
    let f = record.fine_tune.expect("fine-tuned");
    assert_eq!(record.spec, start.spec, "architecture and classes come from the run");
    assert!((record.training.learning_rate - 0.3 * 2e-3).abs() < 1e-12, "a share of the run's rate by default");
    // 16 rehearsal images per new one by default, at most all of the original training part.
    assert_eq!(f.rehearsal_images_per_epoch, (16 * f.new_images_per_epoch).min(base.train.len()));
    assert_eq!(record.training.epochs, 2);

    // Refusals: each one line, exit 1 (2 for the command line), and no run folder left behind.
    let refusals: [(&[&str], &str, i32); 5] = [
        (&["--init", &path("nowhere"), "--data", &path("new")], "has no model.json", 1),
        (&["--init", &path("start"), "--data", &path("new"), "--model", "cnn"], "drop `--model cnn`", 1),
        (&["--init", &path("start"), "--data", &path("new"), "--validation", "0.1"], "drop `--validation`", 1),
        // Rehearsal data that is not what the run was trained on.
        (&["--init", &path("start"), "--data", &path("new"), "--rehearse-data", &path("new")], "--rehearse-data", 1),
        (&["--init", &path("start")], "--data", 2),
    ];
    for (args, says, code) in refusals {
        let o = train(&[args, &["--out", &path("refused")]].concat());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!p("refused").exists(), "{args:?} left a folder behind");
    }
    // Classes the run does not have: refused once the data is read, and the folder goes again.
    if !Path::new(FASHION).is_dir() {
        let why = "Debian's dataset-fashion-mnist is not installed (`make setup` installs it)";
        // In CI (`CI` set, as CI services do) a missing package is a failure, not a skip.
        assert!(std::env::var("CI").map_or(true, |v| v.is_empty() || v == "false" || v == "0"), "{why}");
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED train_init_from_the_command_line (foreign classes): {why}");
        return;
    }
    let o = train(&[
        "--init",
        &path("start"),
        "--data",
        FASHION,
        "--rehearse-data",
        &path("base"),
        "--out",
        &path("refused"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has classes that"), "{stderr}");
    assert!(!p("refused").exists(), "the refused run left its folder behind");
}
