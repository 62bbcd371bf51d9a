//! `emnist serve --log-dir`: every protocol logs what the model saw and said under the id its
//! answer carried, feedback is checked and logged, `--log-max-mb` holds, a `kill -9` during heavy
//! logging leaves a folder that reads back (at most a torn tail, reported), every model and
//! version of a repository logs, and `models.json` names their classes. The writer's queue
//! dropping instead of blocking is a unit test of the serve crate (`server::payload::tests`).

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use prost::Message;
use serde_json::{json, Value};
use tower::ServiceExt;

use emnist_data::payload_log::{read_dir, read_models, LogContents, Prediction};
use emnist_data::PIXELS;
use emnist_model::contract::{argmax, PIXEL_SCALE};
use emnist_serve::protocol::graphpipe as gp;
use emnist_serve::protocol::tensor::{InputTensor, Values};
use emnist_serve::server::grpc::inference::{
    model_infer_request::InferInputTensor, ModelInferRequest, ModelInferResponse,
};
use emnist_serve::server::payload::PayloadConfig;
use emnist_serve::server::{router, AppState, ServeConfig};

use crate::common::{emnist_cmd, flags_as_in_emnist, Server};
use crate::serve::{model_file, test_images};

fn start(model: &Path, log: &Path, extra: &[&str]) -> Server {
    let mut c = emnist_cmd();
    c.args(["serve", "--port", "0", "--grpc-port", "0", "--engine", "tract", "--model"])
        .arg(model)
        .arg("--log-dir")
        .arg(log)
        .args(extra);
    Server::spawn(c)
}

/// An HTTP answer: status, `X-Request-Id`, body.
struct Answer {
    status: u16,
    id: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut req = ureq::post(url).config().http_status_as_error(false).build();
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.send(body).unwrap();
    let id = r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    Answer { status: r.status().as_u16(), id, body: r.body_mut().read_to_vec().unwrap() }
}

fn post_json(url: &str, body: &Value) -> Answer {
    post(url, &[("content-type", "application/json")], body.to_string().as_bytes())
}

fn metrics(url: &str) -> String {
    ureq::get(format!("{url}/metrics")).call().unwrap().body_mut().read_to_string().unwrap()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0)
}

/// Waits (up to 60 s) until the server has handled `n` log entries (written or dropped).
fn await_entries(url: &str, n: u64) -> String {
    let t0 = Instant::now();
    loop {
        let m = metrics(url);
        let written = metric(&m, "emnist_payload_log_entries_total{kind=\"prediction\"}")
            + metric(&m, "emnist_payload_log_entries_total{kind=\"feedback\"}");
        let dropped: u64 = ["queue_full", "write_error", "too_large", "stopped"]
            .iter()
            .map(|r| metric(&m, &format!("emnist_payload_log_dropped_total{{reason=\"{r}\"}}")))
            .sum();
        if written + dropped >= n {
            return m;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{written} + {dropped} of {n} entries after 60 s\n{m}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(server: &mut Server) {
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(server.child.wait().unwrap().code(), Some(0), "{}", server.log.lock().unwrap());
}

fn kserve_u8(images: &[&[u8]], id: Option<&str>) -> Value {
    let data: Vec<u8> = images.concat();
    let mut body =
        json!({ "inputs": [{ "name": "image", "shape": [images.len(), 784], "datatype": "UINT8", "data": data }] });
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body
}

/// The class name and top probability tract gives `pixels`.
fn expected(tract: &emnist_runtime::TractModel, pixels: &[u8]) -> (String, f32) {
    let p = tract.run(&emnist_model::contract::to_input(pixels)).unwrap().probabilities;
    let i = argmax(&p);
    (i.to_string(), p[i])
}

fn by_id<'a>(log: &'a LogContents, id: &str) -> Vec<&'a Prediction> {
    log.predictions.iter().filter(|p| p.id == id).collect()
}

fn is_fresh_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn grpc_infer(addr: &str, id: &str, pixels: &[u8]) -> ModelInferResponse {
    let req = ModelInferRequest {
        model_name: "emnist".into(),
        id: id.into(),
        inputs: vec![InferInputTensor {
            name: "image".into(),
            datatype: "UINT8".into(),
            shape: vec![1, 784],
            ..Default::default()
        }],
        raw_input_contents: vec![pixels.to_vec().into()],
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, message, data) = rt.block_on(crate::grpc_limits::call(addr, "ModelInfer", &req.encode_to_vec(), None));
    assert_eq!(status, "0", "{message}");
    ModelInferResponse::decode(&data[5..]).unwrap()
}

fn png(pixels: &[u8]) -> Vec<u8> {
    let img = image::GrayImage::from_raw(28, 28, pixels.to_vec()).unwrap();
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[test]
fn every_protocol_logs_what_the_model_saw_under_the_id_its_answer_carried() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 51);
    let log_dir = dir.path().join("log");
    let mut server = start(&model, &log_dir, &[]);
    assert_eq!(server.ready["log_dir"], json!(log_dir));
    let url = server.url.clone();
    let tract = emnist_runtime::ServedModel::load(&model, &Default::default()).unwrap().model;
    let test = test_images();
    let img = |i: usize| test.image(i);

    // GraphPipe: a fresh id on the answer.
    let t = InputTensor { shape: vec![1, 784], values: Values::U8(img(0).to_vec()) };
    let a = post(&format!("{url}/"), &[], &gp::encode_infer_request(&t, &["probabilities"]));
    assert_eq!(a.status, 200);
    let gp_id = a.id.unwrap();
    assert!(is_fresh_id(&gp_id), "{gp_id}");
    // TF-Serving, float pixels, with the client's own X-Request-Id: echoed.
    let body = emnist_serve::protocol::tfserving::predict_request(img(1), PIXEL_SCALE);
    let a = post(
        &format!("{url}/v1/models/emnist:predict"),
        &[("content-type", "application/json"), ("x-request-id", "tfs-1")],
        &body,
    );
    assert_eq!((a.status, a.id.as_deref()), (200, Some("tfs-1")));
    // KServe with its own `id` and two images: the answer's `id` echoes it (and is what is logged).
    let a = post_json(&format!("{url}/v2/models/emnist/infer"), &kserve_u8(&[img(2), img(3)], Some("own-id")));
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["id"], "own-id");
    assert!(is_fresh_id(a.id.as_deref().unwrap()));
    // KServe without one: the answer's `id` is its X-Request-Id.
    let a = post_json(&format!("{url}/v2/models/emnist/versions/1/infer"), &kserve_u8(&[img(4)], None));
    let kserve_id = a.id.clone().unwrap();
    assert_eq!(a.json()["id"], json!(kserve_id));
    // gRPC without an id: a fresh one in ModelInferResponse.id.
    let grpc = grpc_infer(server.grpc.as_ref().unwrap(), "", img(5));
    assert!(is_fresh_id(&grpc.id), "{}", grpc.id);
    // A picture upload to /predict: `id` in the detailed answer and the header alike.
    let a = post(&format!("{url}/predict?detail=1"), &[("content-type", "image/png")], &png(img(6)));
    assert_eq!(a.status, 200);
    let predict = a.json();
    assert_eq!(predict["id"], json!(a.id.unwrap()));
    let predict_id = predict["id"].as_str().unwrap().to_string();
    let preview: Vec<u8> = predict["preview"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(preview, img(6), "a 28×28 picture is taken as it is");

    // Feedback: a correction and a confirmation; the answer counts them.
    let (gp_class, _) = expected(&tract, img(0));
    let wrong = if gp_class == "3" { "4" } else { "3" };
    let a = post_json(&format!("{url}/feedback"), &json!({ "id": gp_id, "label": wrong }));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!((&v["correction"], &v["predicted"], &v["corrections"]), (&json!(true), &json!(gp_class), &json!(1)));
    let (own_1, _) = expected(&tract, img(3));
    let v = post_json(&format!("{url}/feedback"), &json!({ "id": "own-id", "index": 1, "label": own_1 })).json();
    assert_eq!((&v["correction"], &v["corrections"], &v["confirmations"]), (&json!(false), &json!(1), &json!(1)));

    let m = await_entries(&url, 9);
    assert_eq!(metric(&m, "emnist_payload_log_entries_total{kind=\"prediction\"}"), 7, "{m}");
    assert_eq!(metric(&m, "emnist_payload_log_entries_total{kind=\"feedback\"}"), 2, "{m}");
    assert_eq!(metric(&m, "emnist_feedback_total{verdict=\"correction\"}"), 1, "{m}");
    // Each prediction: its frame, its metadata and its image (stored sparse: a 98-byte bitmap
    // and the pixels that are not 0).
    assert!(metric(&m, "emnist_payload_log_bytes") > 7 * 200, "{m}");
    stop(&mut server);

    let log = read_dir(&log_dir).unwrap();
    assert!(log.torn.is_empty(), "{:?}", log.torn);
    assert_eq!(log.predictions.len(), 7);
    let cases: [(&str, &str, &[usize]); 6] = [
        (&gp_id, "graphpipe", &[0]),
        ("tfs-1", "tfserving", &[1]),
        ("own-id", "kserve", &[2, 3]),
        (&kserve_id, "kserve", &[4]),
        (&grpc.id, "grpc", &[5]),
        (&predict_id, "predict", &[6]),
    ];
    for (id, protocol, images) in cases {
        let logged = by_id(&log, id);
        assert_eq!(logged.len(), images.len(), "{protocol} {id}");
        for (index, (p, &i)) in logged.iter().zip(images).enumerate() {
            let (class, top) = expected(&tract, img(i));
            assert_eq!((p.protocol.as_str(), p.index as usize), (protocol, index), "{id}");
            assert_eq!((p.model.as_str(), p.version), ("emnist", 1));
            assert_eq!(p.class, class, "{protocol}");
            assert_eq!(p.top.len(), 3);
            assert_eq!(p.top[0].0, class);
            assert!((p.top[0].1 - top).abs() < 1e-5 && p.top[0].1 >= p.top[1].1 && p.top[1].1 >= p.top[2].1);
            assert_eq!(p.pixels, img(i), "{protocol}: the image as the model saw it");
            assert!(p.time_ms > 1_700_000_000_000);
        }
    }
    let labelled: Vec<(&str, u32, &str)> =
        log.labelled().iter().map(|l| (l.prediction.id.as_str(), l.prediction.index, l.label)).collect();
    assert_eq!(labelled, [(gp_id.as_str(), 0, wrong), ("own-id", 1, own_1.as_str())]);
    // The folder names the classes of what it logged.
    let models = read_models(&log_dir).unwrap().expect("models.json");
    let sha256: String = Sha256::digest(std::fs::read(&model).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let m = models.find("emnist", 1).unwrap();
    assert_eq!((m.sha256.as_deref(), &m.classes, m.input.as_str()), (Some(sha256.as_str()), &names, "uint8 28x28"));
    assert_eq!(models.models.len(), 1);
}

#[test]
fn feedback_on_an_unknown_id_a_foreign_label_or_a_missing_image_is_a_json_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 52);
    let server = start(&model, &dir.path().join("log"), &[]);
    let url = server.url.clone();
    let a = post_json(&format!("{url}/v2/models/emnist/infer"), &kserve_u8(&[&[0; PIXELS][..]], Some("known")));
    assert_eq!(a.status, 200);
    let feedback = |body: &[u8]| post(&format!("{url}/feedback"), &[("content-type", "application/json")], body);
    let cases: [(Value, u16, &[&str]); 6] = [
        (json!({ "id": "nobody", "label": "1" }), 404, &["no logged request has the id `nobody`"]),
        (
            json!({ "id": "known", "label": "Z" }),
            400,
            &["`Z` is not a class of model `emnist` version 1", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"],
        ),
        (json!({ "id": "known", "label": "1", "index": 1 }), 400, &["had 1 image", "below 1"]),
        (json!({ "id": "known" }), 400, &["the body is not feedback", "label"]),
        (json!({ "id": "known", "label": "1", "extra": 1 }), 400, &["the body is not feedback", "extra"]),
        (json!(["known", "1"]), 400, &["the body is not feedback"]),
    ];
    for (body, status, needles) in cases {
        let a = feedback(body.to_string().as_bytes());
        assert_eq!(a.status, status, "{body}");
        let error = a.json()["error"].as_str().unwrap_or_else(|| panic!("{body}: a JSON error")).to_string();
        for n in needles {
            assert!(error.contains(n), "{body}: {error}");
        }
        assert!(a.id.is_some(), "every answer carries X-Request-Id");
    }
    let a = feedback(b"{not json");
    assert_eq!(a.status, 400);
    assert!(a.json()["error"].as_str().unwrap().contains("the body is not feedback"));
    // The server is still fine, and the feedback it refused was never logged.
    let a = feedback(json!({ "id": "known", "label": "1" }).to_string().as_bytes());
    assert_eq!(a.status, 200);
    let m = await_entries(&url, 2);
    assert_eq!(metric(&m, "emnist_payload_log_entries_total{kind=\"feedback\"}"), 1, "{m}");
}

#[test]
fn the_log_folder_stays_under_log_max_mb() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 53);
    let log_dir = dir.path().join("log");
    let mut server = start(&model, &log_dir, &["--log-max-mb", "1"]);
    let url = server.url.clone();
    let test = test_images();
    // 40 requests of 100 images, about 1 KB a record: 4 MB logged into a folder of 1 MiB.
    for r in 0..40 {
        let images: Vec<&[u8]> = (0..100).map(|i| test.image((r * 100 + i) % test.len())).collect();
        let a = post_json(&format!("{url}/v2/models/emnist/infer"), &kserve_u8(&images, Some(&format!("r{r:02}"))));
        assert_eq!(a.status, 200);
    }
    let m = await_entries(&url, 4000);
    assert!(metric(&m, "emnist_payload_log_segments_removed_total") > 0, "{m}");
    assert!(metric(&m, "emnist_payload_log_bytes") <= 1 << 20, "{m}");
    stop(&mut server);
    let on_disk: u64 = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(on_disk <= 1 << 20, "{on_disk} bytes of segments");
    let log = read_dir(&log_dir).unwrap();
    assert!(log.torn.is_empty(), "{:?}", log.torn);
    // The newest records are the ones kept, whole requests from some point on, in order.
    let kept = log.predictions.len();
    assert!((500..4000).contains(&kept), "{kept}");
    let last = log.predictions.last().unwrap();
    assert_eq!((last.id.as_str(), last.index), ("r39", 99));
    let order: Vec<(String, u32)> = log.predictions.iter().map(|p| (p.id.clone(), p.index)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in request order");
}

#[test]
fn a_kill_9_during_heavy_logging_leaves_a_log_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 54);
    let log_dir = dir.path().join("log");
    let mut server = start(&model, &log_dir, &[]);
    let url = server.url.clone();
    let stopping = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let (url, stopping) = (url.clone(), stopping.clone());
            std::thread::spawn(move || {
                let images: Vec<Vec<u8>> = (0..32).map(|i| vec![(c * 32 + i) as u8; PIXELS]).collect();
                let images: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
                let body = kserve_u8(&images, None).to_string();
                let mut sent = 0;
                while !stopping.load(Ordering::Relaxed) {
                    let r = ureq::post(format!("{url}/v2/models/emnist/infer"))
                        .header("content-type", "application/json")
                        .send(body.as_bytes());
                    if r.is_err() {
                        break; // the server is gone
                    }
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let t0 = Instant::now();
    while metric(&metrics(&url), "emnist_payload_log_entries_total{kind=\"prediction\"}") < 3000 {
        assert!(t0.elapsed() < Duration::from_secs(60), "3,000 images not logged in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.child.kill().unwrap(); // SIGKILL, mid-stream
    server.child.wait().unwrap();
    stopping.store(true, Ordering::Relaxed);
    let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(sent > 0);

    let log = read_dir(&log_dir).unwrap();
    // Flushed at least every 1,024 entries, and the buffer writes through when full: most of
    // the 3,000 counted are on disk.
    assert!(log.predictions.len() >= 1000, "{}", log.predictions.len());
    assert!(log.torn.len() <= 1, "{:?}", log.torn);
    if let Some(t) = log.torn.first() {
        assert!(t.open, "only the segment being written may be torn: {t:?}");
    }
    assert!(log.predictions.iter().all(|p| p.pixels.len() == PIXELS && p.pixels.iter().all(|&v| v == p.pixels[0])));

    // A new server on the folder closes the killed segment as it is and starts the next one.
    let mut again = start(&model, &log_dir, &[]);
    let a = post_json(&format!("{}/v2/models/emnist/infer", again.url), &kserve_u8(&[&[9; PIXELS][..]], Some("after")));
    assert_eq!(a.status, 200);
    stop(&mut again);
    let after = read_dir(&log_dir).unwrap();
    assert!(after.torn.len() <= 1 && after.torn.iter().all(|t| !t.open), "{:?}", after.torn);
    assert_eq!(after.torn.len(), log.torn.len());
    assert_eq!(after.predictions.len(), log.predictions.len() + 1);
    assert_eq!(after.predictions.last().unwrap().id, "after");
}

/// In-process: a repository of two models, one of them in two versions, each logged under its
/// own name and version, and `models.json` kept current when a version is added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_and_version_of_a_repository_logs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let place = |name: &str, version: u64, seed: u64, labels: Option<&str>| {
        let folder = repo.join(name).join(version.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(model_file(dir.path(), seed), folder.join("model.onnx")).unwrap();
        if let Some(l) = labels {
            std::fs::write(folder.join("labels.txt"), l).unwrap();
        }
    };
    place("emnist", 1, 55, None);
    place("emnist", 2, 56, None);
    place("letters", 7, 57, Some("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"));
    let log_dir = dir.path().join("log");
    let mut cfg = ServeConfig::new(dir.path().join("unused.onnx"));
    cfg.repository = Some(repo.clone());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.log = Some(PayloadConfig::new(log_dir.clone()));
    let state = AppState::with_repository(&cfg).await.unwrap();
    let app = router(state.clone());
    let call = |path: &str, body: Value| {
        let req = Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string()));
        app.clone().oneshot(req.unwrap())
    };
    for (path, id) in [
        ("/v2/models/emnist/versions/1/infer", "v1"),
        ("/v2/models/emnist/infer", "newest"),
        ("/v2/models/letters/versions/7/infer", "letters"),
    ] {
        let r = call(path, kserve_u8(&[&[0; PIXELS][..]], Some(id))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let fb = |id: &str, label: &str| call("/feedback", json!({ "id": id, "label": label }));
    assert_eq!(fb("letters", "c").await.unwrap().status(), StatusCode::OK);
    assert_eq!(fb("letters", "3").await.unwrap().status(), StatusCode::BAD_REQUEST, "not a class of `letters`");
    assert_eq!(fb("v1", "3").await.unwrap().status(), StatusCode::OK);
    // A new version appears: loaded on the next reload, and listed.
    place("emnist", 3, 58, None);
    let report = state.reload().await;
    assert_eq!(report.loaded, [("emnist".to_string(), 3)]);
    let models = read_models(&log_dir).unwrap().unwrap();
    let listed: Vec<(&str, u64, &str)> =
        models.models.iter().map(|m| (m.name.as_str(), m.version, m.classes[2].as_str())).collect();
    assert_eq!(listed, [("emnist", 1, "2"), ("emnist", 2, "2"), ("emnist", 3, "2"), ("letters", 7, "c")]);
    state.payload().unwrap().close();
    let log = read_dir(&log_dir).unwrap();
    let logged: Vec<(&str, &str, u64)> =
        log.predictions.iter().map(|p| (p.id.as_str(), p.model.as_str(), p.version)).collect();
    assert_eq!(logged, [("v1", "emnist", 1), ("newest", "emnist", 2), ("letters", "letters", 7)]);
    assert!("abcdefghij".contains(log.predictions[2].class.as_str()), "{}", log.predictions[2].class);
    assert_eq!(log.feedback.len(), 2);
}

/// In-process: the request id on every answer, the client's when valid, a 400 when not, and
/// feedback without a log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_feedback_needs_a_log() {
    // Messages name settings as the executable spells them (installed once per test process).
    flags_as_in_emnist();
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 59);
    let mut cfg = ServeConfig::new(model.clone());
    cfg.engine = emnist_runtime::EngineKind::Tract;
    cfg.tokens = Some(emnist_serve::server::access::Tokens::parse("0123456789abcdef0123\n").unwrap());
    let state = AppState::new(emnist_runtime::ServedModel::load(&model, &Default::default()).unwrap(), &cfg).unwrap();
    let app = router(state);
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: String| {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let app = app.clone();
        let req = req.body(Body::from(body)).unwrap();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let id = r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
            let status = r.status();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
            (status, id, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let auth = ("authorization", "Bearer 0123456789abcdef0123");
    // The client's id comes back, on a success, a 404, a 401.
    let (status, id, _) = call("GET", "/v2/models/emnist", &[auth, ("x-request-id", "client-1")], String::new()).await;
    assert_eq!((status, id.as_deref()), (StatusCode::OK, Some("client-1")));
    let (status, id, _) = call("GET", "/nowhere", &[auth, ("x-request-id", "client-2")], String::new()).await;
    assert_eq!((status, id.as_deref()), (StatusCode::NOT_FOUND, Some("client-2")));
    let (status, id, _) = call("GET", "/v2/models/emnist", &[("x-request-id", "client-3")], String::new()).await;
    assert_eq!((status, id.as_deref()), (StatusCode::UNAUTHORIZED, Some("client-3")));
    // Without one, a fresh one, different each time, health included.
    let (_, a, _) = call("GET", "/v2/health/ready", &[], String::new()).await;
    let (_, b, _) = call("GET", "/v2/health/ready", &[], String::new()).await;
    assert!(is_fresh_id(a.as_deref().unwrap()) && a != b);
    // An id that is not one: 400, saying what an id is, with a fresh id on the answer.
    for bad in ["has space", "semi;colon", &"x".repeat(129)] {
        let (status, id, body) = call("GET", "/v2/models/emnist", &[auth, ("x-request-id", bad)], String::new()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["error"].as_str().unwrap().contains("`X-Request-Id` must be 1 to 128 characters"), "{body}");
        assert!(is_fresh_id(id.as_deref().unwrap()));
    }
    // Feedback is token-protected like inference, and off without a log.
    let feedback = json!({ "id": "client-1", "label": "1" }).to_string();
    let (status, _, _) = call("POST", "/feedback", &[("content-type", "application/json")], feedback.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = call("POST", "/feedback", &[auth, ("content-type", "application/json")], feedback).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("start it with `--log-dir DIR`"), "{body}");
    // The refusals were counted like every answer; without a log there are no log metrics.
    let (_, _, m) = call("GET", "/metrics", &[auth], String::new()).await;
    assert_eq!(metric(&m, "emnist_requests_total{protocol=\"kserve\",status=\"400\"}"), 3, "{m}");
    assert!(!m.contains("emnist_payload_log"), "{m}");
}
