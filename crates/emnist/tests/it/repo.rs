//! `emnist serve --models DIR`: a model repository in TensorFlow Serving's layout, in-process
//! (every model and version on every protocol, the newest by default, reloads that add, replace,
//! refuse and remove versions while what serves keeps serving), then the real binary (SIGHUP).

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use emnist_model::contract::PIXEL_SCALE;
use emnist_runtime::ServedModel;
use emnist_serve::protocol::graphpipe as gp;
use emnist_serve::protocol::tensor::{InputTensor, Values};
use emnist_serve::server::{router, AppState, ServeConfig};

use crate::common::{emnist_cmd, flags_as_in_emnist, Server};
use crate::serve::{model_file, test_images};

/// Puts the model of `seed` at `repo/name/version/model.onnx`.
fn place(repo: &Path, name: &str, version: u64, seed: u64) {
    let dir = repo.join(name).join(version.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let file = model_file(repo.parent().unwrap(), seed);
    std::fs::copy(file, dir.join("model.onnx")).unwrap();
}

fn local(seed_file: &Path, px: &[u8]) -> Vec<f32> {
    let m = ServedModel::load(seed_file, &Default::default()).unwrap();
    m.model.run(&px.iter().map(|&p| p as f32 * PIXEL_SCALE).collect::<Vec<_>>()).unwrap().probabilities
}

async fn call(app: &axum::Router, method: &str, path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    let resp = app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    (status, axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec())
}

async fn json_of(app: &axum::Router, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, b) = call(app, method, path, if method == "GET" { vec![] } else { body.to_string().into_bytes() }).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// KServe probabilities for `px` from `path` (e.g. `/v2/models/emnist/versions/1/infer`).
async fn kserve(app: &axum::Router, path: &str, px: &[u8]) -> Vec<f32> {
    let body = json!({ "inputs": [{ "name": "image", "shape": [px.len() / 784, 784], "datatype": "UINT8", "data": px }],
                       "outputs": [{ "name": "probabilities" }] });
    let (s, v) = json_of(app, "POST", path, body).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v["outputs"][0]["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_serves_every_version_and_reloads_without_losing_what_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    place(&repo, "emnist", 1, 1);
    place(&repo, "emnist", 2, 2);
    place(&repo, "digits", 7, 3);
    let names: Vec<String> = (0..10).map(|i| format!("digit {i}")).collect();
    std::fs::write(repo.join("digits/7/labels.txt"), names.join("\n")).unwrap();
    std::fs::create_dir_all(repo.join("emnist/not-a-number")).unwrap();
    let seed = |s: u64| tmp.path().join(format!("dnn-{s}.onnx"));
    let mut cfg = ServeConfig::new("unused.onnx".into());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.repository = Some(repo.clone());
    let state = AppState::with_repository(&cfg).await.unwrap();
    let app = router(state.clone());
    let px: Vec<u8> = (0..3).flat_map(|i| test_images().image(i).to_vec()).collect();

    // Every version by its route; the newest when none is named.
    let (s, m) = json_of(&app, "GET", "/v2/models/emnist", Value::Null).await;
    assert_eq!((s, &m["versions"], &m["parameters"]["version"]), (StatusCode::OK, &json!(["1", "2"]), &json!("2")));
    assert!(close(&kserve(&app, "/v2/models/emnist/infer", &px).await, &local(&seed(2), &px)));
    assert!(close(&kserve(&app, "/v2/models/emnist/versions/1/infer", &px).await, &local(&seed(1), &px)));
    assert!(close(&kserve(&app, "/v2/models/digits/infer", &px).await, &local(&seed(3), &px)));
    let rows: Vec<Vec<f32>> = px.chunks(784).map(|c| c.iter().map(|&p| p as f32 * PIXEL_SCALE).collect()).collect();
    let (s, v) = json_of(&app, "POST", "/v1/models/emnist/versions/1:predict", json!({ "instances": rows })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let tf: Vec<f32> = v["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["probabilities"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>()
        })
        .collect();
    assert!(close(&tf, &local(&seed(1), &px)));
    let (_, meta) = json_of(&app, "GET", "/v1/models/digits/metadata", Value::Null).await;
    assert_eq!(meta["class_names"][3], "digit 3", "labels.txt beside the file names the classes");
    assert_eq!(meta["model_spec"]["version"], "7");
    // GraphPipe names the model and version in `config`.
    let t = InputTensor { shape: vec![3, 784], values: Values::U8(px.clone()) };
    let req = gp::encode_infer_request_with_config(&t, &["probabilities"], "emnist:1");
    let (s, body) = call(&app, "POST", "/", req).await;
    assert_eq!(s, StatusCode::OK);
    assert!(close(&gp::decode_infer_response(&body).unwrap().0[0].values, &local(&seed(1), &px)));
    for (path, want) in [
        ("/v2/models/emnist/versions/9/infer", "has no version `9`; it has `1`, `2`"),
        ("/v2/models/nope/infer", "serves `digits`, `emnist`"),
    ] {
        let (s, v) = json_of(&app, "POST", path, json!({ "inputs": [] })).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(v["error"].as_str().unwrap().contains(want), "{v}");
    }

    // A request that resolved version 2 keeps it, whatever the reloads below do.
    let held = state.resolve("emnist", Some("2")).unwrap();

    // A new version: loaded, warmed up, then the default.
    place(&repo, "emnist", 3, 4);
    let r = state.reload().await;
    assert_eq!(r.loaded, [("emnist".to_string(), 3)]);
    assert!(close(&kserve(&app, "/v2/models/emnist/infer", &px).await, &local(&seed(4), &px)));

    // A broken new version and a broken replacement of version 3: refused, counted, and what
    // served keeps serving; a second reload does not retry files that have not changed.
    std::fs::create_dir_all(repo.join("emnist/4")).unwrap();
    std::fs::write(repo.join("emnist/4/model.onnx"), b"not a model").unwrap();
    std::fs::write(repo.join("emnist/3/model.onnx"), b"half a copy").unwrap();
    let r = state.reload().await;
    assert_eq!(r.failed.len(), 2, "{r:?}");
    assert_eq!(state.metrics.load_failures(), 2);
    assert!(state.reload().await.failed.is_empty());
    assert!(close(&kserve(&app, "/v2/models/emnist/infer", &px).await, &local(&seed(4), &px)));
    let (_, status) = json_of(&app, "GET", "/v1/models/emnist", Value::Null).await;
    let states: Vec<(String, String)> = status["model_version_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["version"].as_str().unwrap().to_string(), s["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(states[0], ("4".to_string(), "END".to_string()), "{status}");
    assert!(status["model_version_status"][0]["status"]["error_message"]
        .as_str()
        .unwrap()
        .contains("not an ONNX file"));
    let (s, _) = json_of(&app, "GET", "/v2/health/ready", Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    let metrics = String::from_utf8(call(&app, "GET", "/metrics", vec![]).await.1).unwrap();
    assert!(metrics.contains("emnist_model_load_failures_total 2"), "{metrics}");

    // Removed versions are unloaded; the held one still answers on its own batcher.
    std::fs::remove_dir_all(repo.join("emnist/2")).unwrap();
    std::fs::remove_dir_all(repo.join("emnist/4")).unwrap();
    let r = state.reload().await;
    assert_eq!(r.unloaded, [("emnist".to_string(), 2)]);
    let (s, _) = json_of(&app, "GET", "/v2/models/emnist/versions/2", Value::Null).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let images = emnist_serve::protocol::tensor::to_images(
        &InputTensor { shape: vec![3, 784], values: Values::U8(px.clone()) },
        &held.model.signature,
    )
    .unwrap();
    // Through its batching task, and run on this thread as a lone request is: the same answer.
    assert!(close(&held.run(images.clone(), false).await.unwrap().probabilities, &local(&seed(2), &px)));
    assert!(close(&held.run(images, true).await.unwrap().probabilities, &local(&seed(2), &px)));

    // A model without a servable version makes the server not ready, and says which.
    std::fs::create_dir_all(repo.join("broken/1")).unwrap();
    std::fs::write(repo.join("broken/1/model.onnx"), b"junk").unwrap();
    state.reload().await;
    let (s, v) = json_of(&app, "GET", "/v2/health/ready", Value::Null).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason"].as_str().unwrap().contains("`broken`"), "{v}");
    std::fs::remove_dir_all(repo.join("broken")).unwrap();
    state.reload().await;
    assert_eq!(json_of(&app, "GET", "/v2/health/ready", Value::Null).await.0, StatusCode::OK);

    // Readiness ends with shutdown.
    state.begin_shutdown();
    let (s, v) = json_of(&app, "GET", "/v2/health/ready", Value::Null).await;
    assert_eq!((s, v["ready"].as_bool()), (StatusCode::BAD_REQUEST, Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_without_a_servable_model_stops_the_start_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = ServeConfig::new("unused.onnx".into());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.repository = Some(tmp.path().to_path_buf());
    let e = AppState::with_repository(&cfg).await.err().unwrap().to_string();
    assert!(e.contains("holds no model") && e.contains("<name>/<version>/model.onnx"), "{e}");
    std::fs::create_dir_all(tmp.path().join("m/1")).unwrap();
    std::fs::write(tmp.path().join("m/1/model.onnx"), b"junk").unwrap();
    let e = AppState::with_repository(&cfg).await.err().unwrap().to_string();
    assert!(e.contains("no model in") && e.contains("m/1: "), "{e}");
}

/// The binary on a repository: SIGHUP re-reads it at once (polling is off here), SIGTERM stops it.
#[test]
fn sighup_makes_the_server_reread_its_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    place(&repo, "emnist", 1, 1);
    let mut cmd = emnist_cmd();
    cmd.args(["serve", "--models"]).arg(&repo).args(["--port", "0", "--poll-secs", "0"]);
    let mut server = Server::spawn(cmd);
    let kill = |sig: &str, pid: u32| {
        assert!(std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
    };
    let pid = server.child.id();
    let versions = || -> Value {
        let text =
            ureq::get(format!("{}/v2/models/emnist", server.url)).call().unwrap().body_mut().read_to_string().unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["versions"].clone()
    };
    assert_eq!(versions(), json!(["1"]));
    place(&repo, "emnist", 2, 2);
    // A negative check needs a window: 300 ms in which a polling server would have rescanned.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(versions(), json!(["1"]), "no polling: nothing changes before SIGHUP");
    kill("-HUP", pid);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while versions() != json!(["1", "2"]) {
        assert!(std::time::Instant::now() < deadline, "SIGHUP did not load version 2");
        std::thread::sleep(Duration::from_millis(100));
    }
    kill("-TERM", pid);
    assert_eq!(server.child.wait().unwrap().code(), Some(0), "SIGHUP reloads; SIGTERM still stops cleanly");
}

/// Version folders are decimal, from 1, without sign or leading zeros: `+10`, `007`, `-1` and `0`
/// are skipped (not read as 10, 7 …); requests that name a version so get 400; `/predict?version=`
/// without `model=` answers from that version of the default model, or 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_names_are_plain_decimals_and_predict_honours_the_version() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    place(&repo, "emnist", 1, 1);
    place(&repo, "emnist", 2, 2);
    for odd in ["+10", "007", "-1", "0"] {
        let dir = repo.join("emnist").join(odd);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(tmp.path().join("dnn-1.onnx"), dir.join("model.onnx")).unwrap();
    }
    let mut cfg = ServeConfig::new("unused.onnx".into());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.repository = Some(repo.clone());
    let state = AppState::with_repository(&cfg).await.unwrap();
    let app = router(state.clone());
    let (_, m) = json_of(&app, "GET", "/v2/models/emnist", Value::Null).await;
    assert_eq!(m["versions"], json!(["1", "2"]), "{m}");
    assert_eq!(state.all_version_states().len(), 2);
    for v in ["007", "+1", "01"] {
        let (s, body) = json_of(&app, "GET", &format!("/v2/models/emnist/versions/{v}"), Value::Null).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}: {body}");
        assert!(body["error"].as_str().unwrap().contains("without sign or leading zeros"), "{body}");
    }

    let img = test_images().image(0).to_vec();
    let mut png = Vec::new();
    image::GrayImage::from_raw(28, 28, img.clone())
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let predict = |query: &str| {
        let req = Request::builder()
            .method("POST")
            .uri(format!("/predict?k=1{query}"))
            .header("content-type", "image/png")
            .body(Body::from(png.clone()))
            .unwrap();
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let s = resp.status();
            let b = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            (s, serde_json::from_slice::<Value>(&b).unwrap())
        }
    };
    let top = |v: &Value| v[0]["probability"].as_f64().unwrap() as f32;
    let want = |seed: u64| local(&tmp.path().join(format!("dnn-{seed}.onnx")), &img).into_iter().fold(0f32, f32::max);
    for (query, seed) in [("&version=1", 1), ("&version=2", 2), ("", 2), ("&model=emnist&version=1", 1)] {
        let (s, v) = predict(query).await;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        assert!((top(&v) - want(seed)).abs() <= 1e-5, "{query}: {v} (version {seed} gives {})", want(seed));
    }
    assert_ne!(want(1), want(2), "the two versions must be told apart");
    let (s, v) = predict("&version=77").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"].as_str().unwrap().contains("has no version `77`"), "{v}");
    assert_eq!(predict("&version=007").await.0, StatusCode::BAD_REQUEST);
}

/// A `model.onnx` that is not a regular file (a FIFO, a folder, a link to itself) gets a failed
/// state that says so, is counted, and never blocks the reload (a FIFO is never opened); a file
/// over `--max-model-mb` is refused from its size (a sparse 3 GiB file: never read); a panic while
/// one version loads fails that version only, and the others load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_cannot_be_models_fail_alone_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    place(&repo, "emnist", 1, 1);
    let mut cfg = ServeConfig::new("unused.onnx".into());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.repository = Some(repo.clone());
    let state = AppState::with_repository(&cfg).await.unwrap();
    let dir = |v: u64| {
        let d = repo.join("emnist").join(v.to_string());
        std::fs::create_dir_all(&d).unwrap();
        d.join("model.onnx")
    };
    assert!(std::process::Command::new("mkfifo").arg(dir(2)).status().unwrap().success());
    std::fs::create_dir_all(dir(3)).unwrap();
    std::os::unix::fs::symlink("model.onnx", dir(4)).unwrap();
    std::fs::File::create(dir(5)).unwrap().set_len(3 << 30).unwrap();
    flags_as_in_emnist();
    place(&repo, "emnist", 6, 6);
    let r = tokio::time::timeout(Duration::from_secs(60), state.reload()).await.expect("the reload hung");
    assert_eq!(r.loaded, [("emnist".to_string(), 6)], "{r:?}");
    let failed: std::collections::BTreeMap<u64, String> = r.failed.into_iter().map(|(_, v, e)| (v, e)).collect();
    assert!(failed[&2].contains("not a regular file"), "{failed:?}");
    assert!(failed[&3].contains("not a regular file"), "{failed:?}");
    assert!(failed[&4].contains("cannot read"), "{failed:?}");
    assert!(failed[&5].contains("over the limit of 256 MB") && failed[&5].contains("--max-model-mb"), "{failed:?}");
    assert_eq!(state.metrics.load_failures(), 4);
    let states = state.version_states("emnist");
    assert_eq!(states.iter().filter(|(_, s)| s.tf_state() == "END").count(), 4, "{states:?}");
    assert!(state.reload().await.failed.is_empty(), "failed files are not retried until they change");

    // A loader that panics on one version: that version fails with the reason, the next loads.
    use emnist_serve::server::repo;
    let found = repo::scan(&repo).unwrap().found;
    let found: repo::Found = found.into_iter().filter(|((_, v), _)| [1, 6].contains(v)).collect();
    let loader = repo::Loader {
        engine: emnist_runtime::EngineKind::Tract,
        batch: emnist_serve::server::BatchConfig { max_batch: 8, timeout: Duration::ZERO, workers: 1 },
        options: Default::default(),
        metrics: state.metrics.clone(),
    };
    let mut status = repo::StatusTable::new();
    let (next, report) = tokio::task::block_in_place(|| {
        repo::next_catalog(&repo::Catalog::default(), &found, &mut status, |n, v, p, l| {
            if v == 1 {
                panic!("failed to allocate 16 GiB");
            }
            loader.load(n, v, p, l)
        })
    });
    assert_eq!(report.loaded, [("emnist".to_string(), 6)]);
    assert!(report.failed[0].2.contains("panicked"), "{report:?}");
    assert_eq!(next.models["emnist"].keys().collect::<Vec<_>>(), [&6]);
    assert_eq!(status[&("emnist".to_string(), 1)].0.tf_state(), "END");
}

/// `export --repository` never wraps past the highest version (it used to write version 0 over
/// the old one), and ignores folders that are not versions when it picks the next number.
#[test]
fn export_to_a_repository_refuses_to_wrap_the_version_number() {
    use emnist_serve::server::repo::{next_version_file, MAX_VERSION};
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    for v in ["0", "007", "+12", "3"] {
        std::fs::create_dir_all(repo.join("emnist").join(v)).unwrap();
    }
    assert_eq!(next_version_file(&repo, "emnist").unwrap(), repo.join("emnist/4/model.onnx"));
    std::fs::create_dir_all(repo.join("emnist").join(MAX_VERSION.to_string())).unwrap();
    std::fs::create_dir_all(repo.join("emnist").join(u64::MAX.to_string())).unwrap();
    let out = emnist_cmd()
        .args(["export", "--onnx", "--model"])
        .arg(tmp.path().join("no-run"))
        .arg("--repository")
        .arg(&repo)
        .args(["--as", "emnist"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the highest there is"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!repo.join("emnist/0/model.onnx").exists() && !repo.join("emnist/1").exists());
}
