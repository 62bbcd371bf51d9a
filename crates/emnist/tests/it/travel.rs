//! The built `emnist` copied alone into an empty folder, run with an empty environment (no
//! `.venv`, no `LD_LIBRARY_PATH`, no trainer beside it): it links no libtorch, explores, exports,
//! serves, queries and reports, and says in one line how to get training.

use std::path::Path;
use std::process::Command;

use emnist_data::ClassTable;
use emnist_model::Architecture;

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

/// The serving-image issue's reproduction: a copy of `emnist` started anywhere found no
/// onnxruntime and served on tract without a word. It now finds the library beside itself (where
/// `make build` and the image put it), never through the current directory, and says where; with
/// none, `--version` and the serve log say so, and `--engine onnxruntime` fails in one line.
#[test]
fn the_binary_finds_onnxruntime_beside_itself_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (bare, equipped, elsewhere) = (dir.path().join("bare"), dir.path().join("equipped"), dir.path().join("cwd"));
    for d in [&bare, &equipped, &elsewhere] {
        std::fs::create_dir(d).unwrap();
    }
    let library = emnist_runtime::engine::venv_onnxruntime(&crate::common::workspace())
        .expect("no libonnxruntime.so under .venv: run `make setup`");
    for d in [&bare, &equipped] {
        std::fs::copy(emnist_bin(), d.join("emnist")).unwrap();
    }
    std::fs::copy(&library, equipped.join(library.file_name().unwrap())).unwrap();
    // A library in the current directory (with a `.venv` layout) must not be picked up.
    let capi = elsewhere.join(".venv/lib/python3/site-packages/onnxruntime/capi");
    std::fs::create_dir_all(&capi).unwrap();
    std::fs::copy(&library, capi.join(library.file_name().unwrap())).unwrap();

    let version = ok(alone(&bare.join("emnist"), &elsewhere).arg("--version"));
    assert!(version.contains("onnxruntime: not found"), "{version}");
    let version = ok(alone(&equipped.join("emnist"), &elsewhere).arg("--version"));
    assert!(version.contains("onnxruntime: `") && version.contains("(beside the executable)"), "{version}");

    let run = dir.path().join("dnn");
    let (record, weights) =
        hand_built_run(&run, Architecture::Dnn { hidden: vec![16] }, ClassTable::numbered(10), 5, None);
    let model = dir.path().join("dnn.onnx");
    let graph = emnist_model::export::graph::build_model(&record, &weights, emnist_model::export::graph::DEFAULT_OPSET);
    std::fs::write(&model, emnist_model::export::graph::encode(&graph.unwrap())).unwrap();

    // Without a library: `--engine onnxruntime` is a one-line error, `auto` warns and serves on tract.
    let o = alone(&bare.join("emnist"), &elsewhere)
        .args(["serve", "--port", "0", "--engine", "onnxruntime", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--onnxruntime-lib") && err.contains("beside the executable"), "{err}");
    let mut auto = alone(&bare.join("emnist"), &elsewhere);
    auto.args(["serve", "--port", "0", "--engine", "auto", "--model"]).arg(&model);
    let server = Server::spawn(auto);
    let meta = metadata(&server);
    assert_eq!(meta["parameters"]["engine"], "tract", "{meta}");
    drop(server);

    // With the library beside it, from another folder: onnxruntime serves.
    let mut forced = alone(&equipped.join("emnist"), &elsewhere);
    forced.args(["serve", "--port", "0", "--engine", "onnxruntime", "--model"]).arg(&model);
    let server = Server::spawn(forced);
    let meta = metadata(&server);
    assert_eq!(meta["parameters"]["engine"], "onnxruntime", "{meta}");
}

fn metadata(server: &Server) -> serde_json::Value {
    let text = ureq::get(format!("{}/v2/models/emnist", server.url)).call().unwrap().body_mut().read_to_string();
    serde_json::from_str(&text.unwrap()).unwrap()
}
