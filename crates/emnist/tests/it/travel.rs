//! The built `emnist` copied alone into an empty folder, run with an empty environment (no
//! `.venv`, no `LD_LIBRARY_PATH`, no trainer beside it): it links no libtorch, explores, exports,
//! serves, queries and reports, and says in one line how to get training.

use std::path::Path;
use std::process::Command;

use emnist_core::data::ClassTable;
use emnist_core::model::Architecture;

use crate::common::{emnist_bin, fixture, hand_built_run, Server};

/// The copy, run in `dir` with nothing from this machine's setup in its environment.
fn alone(bin: &Path, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear().env("PATH", "/usr/bin:/bin").env("HOME", dir).env("NO_COLOR", "1").current_dir(dir);
    c
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_binary_travels_alone_and_needs_no_libtorch() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("emnist");
    std::fs::copy(emnist_bin(), &bin).unwrap();
    let data = dir.path().join("digits");
    std::fs::create_dir(&data).unwrap();
    for f in std::fs::read_dir(fixture("mnist-style")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), data.join(f.file_name())).unwrap();
    }

    // Nothing of libtorch or CUDA among the shared libraries it loads.
    let ldd = ok(Command::new("ldd").arg(&bin));
    for lib in ["torch", "c10", "cuda", "cublas", "cudnn", "nccl", "python"] {
        assert!(!ldd.contains(lib), "`emnist` links {lib}:\n{ldd}");
    }

    // Training is the one thing it cannot do alone: one line, exit 2.
    let o = alone(&bin, dir.path()).args(["train", "--model", "linear"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("emnist-train") && err.contains("make build"), "{err}");
    let version = ok(alone(&bin, dir.path()).arg("--version"));
    assert!(version.contains("training: unavailable"), "{version}");

    // explore, export, serve, query, report (the cache goes to `$HOME/.cache/emnist`, in `dir`).
    let out = ok(alone(&bin, dir.path()).args(["explore", "--data", "digits", "--out", "figures"]));
    assert!(out.contains("classes"), "{out}");
    assert!(std::fs::read_dir(dir.path().join("figures")).unwrap().count() > 0);
    let run = dir.path().join("models/dnn");
    hand_built_run(&run, Architecture::Dnn { hidden: vec![16] }, ClassTable::numbered(10), 3, None);
    ok(alone(&bin, dir.path()).args(["export", "--onnx", "--model", "models/dnn", "--data", "digits"]));
    assert!(dir.path().join("models/dnn.onnx").is_file());

    let mut serve = alone(&bin, dir.path());
    serve.args(["serve", "--port", "0", "--model", "models/dnn.onnx"]);
    let server = Server::spawn(serve);
    let q = alone(&bin, dir.path())
        .args(["query", "--n", "50", "--url", &server.url, "--model", "models/dnn.onnx", "--data", "digits"])
        .output()
        .unwrap();
    drop(server);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));

    ok(alone(&bin, dir.path()).args(["report", "--models", "models", "--out", "report.html", "--data", "digits"]));
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<html") && html.contains("dnn"), "the report names the run");
}
