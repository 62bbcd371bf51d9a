//! `emnist explore` end to end: the built binary on fixtures and on the synthetic default.

use serde_json::Value;

use crate::common::{emnist_cmd, fixture};

fn json(args: &[&str]) -> Value {
    let out = emnist_cmd().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn json_report_has_the_figures_a_notebook_would_show() {
    let data = fixture("emnist-byclass.mat");
    let r = json(&["explore", "--json", "--no-cache", "--data", data.to_str().unwrap()]);
    assert_eq!(r["dataset"]["name"], "EMNIST byclass");
    assert_eq!(
        (r["train_images"].as_u64(), r["test_images"].as_u64(), r["classes"].as_u64()),
        (Some(124), Some(62), Some(62))
    );
    assert_eq!(r["per_class"].as_array().unwrap().len(), 62);
    let groups: Vec<&str> = r["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(groups, ["digit", "uppercase", "lowercase"]);
    let shares: f64 = r["per_class"].as_array().unwrap().iter().map(|c| c["train_share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    assert!(r["writers"].as_u64().unwrap() > 0);
    assert!((0.0..=1.0).contains(&r["share_agreement"]["total_variation"].as_f64().unwrap()));
    assert_eq!(r["synthetic"], false);
}

#[test]
fn figures_are_written_as_png() {
    let dir = tempfile::tempdir().unwrap();
    // A figure a killed run was writing, and one a live process (this test) is writing.
    let dead = dir.path().join(".samples.png.999999999.tmp.png");
    let live = dir.path().join(format!(".samples.png.{}.tmp.png", std::process::id()));
    std::fs::write(&dead, b"half a png").unwrap();
    std::fs::write(&live, b"half a png").unwrap();
    // Our pattern and a dead owner, but not a name explore writes: the user's, left alone.
    let notes = dir.path().join(".mynotes.txt.999997.tmp");
    std::fs::write(&notes, b"my notes").unwrap();
    let data = fixture("gzip-letters");
    let out = emnist_cmd()
        .args(["explore", "--no-cache", "--data", data.to_str().unwrap(), "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["class_distribution.png", "samples.png", "mean_images.png"] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name}");
        assert!(bytes.len() > 2000, "{name}");
    }
    assert!(!dead.exists(), "a killed run's temporary is removed");
    std::fs::remove_file(&live).expect("a live process's temporary is kept");
    std::fs::remove_file(&notes).expect("a file the tool never made is kept");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}

#[test]
fn synthetic_default_is_used_and_labelled_when_data_is_empty() {
    let empty = tempfile::tempdir().unwrap();
    let out = emnist_cmd().args(["explore", "--json", "--data-dir"]).arg(empty.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["synthetic"], true);
    assert!(r["dataset"]["name"].as_str().unwrap().contains("not EMNIST"));
    // EMNIST byclass's proportions: 1,000 per class on average, the rarest class 20× rarer.
    let sum = |per_class| emnist_data::synthetic::class_counts(per_class).iter().sum::<usize>() as u64;
    assert_eq!(
        (r["train_images"].as_u64(), r["test_images"].as_u64(), r["classes"].as_u64()),
        (Some(sum(1000)), Some(sum(200)), Some(62))
    );
    assert!((61_900..62_100).contains(&sum(1000)));
    assert!(r["imbalance_ratio"].as_f64().unwrap() > 15.0, "{r}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("synthetic") && stderr.contains("emnist download"), "{stderr}");
}

#[test]
fn quiet_mode_prints_nothing_on_stderr() {
    let data = fixture("emnist-digits.mat");
    let out = emnist_cmd().args(["-q", "explore", "--no-cache", "--data", data.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("EMNIST digits"));
}

#[test]
fn usage_errors_exit_2() {
    let out = emnist_cmd().args(["explore", "--split", "nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
