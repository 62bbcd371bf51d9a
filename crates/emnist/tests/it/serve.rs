//! `emnist serve` and `emnist query`: the router in-process (every protocol agrees with tract on
//! the same file, a battery of bad inputs gets 4xx and leaves the server working, batching,
//! back-pressure, timeouts, metrics), then the real binary on a socket (graceful shutdown, query).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use emnist_data::{ClassTable, Part, PIXELS};
use emnist_model::contract::PIXEL_SCALE;
use emnist_model::export::graph;
use emnist_model::Architecture;
use emnist_runtime::{ServedModel, TractModel};
use emnist_serve::protocol::graphpipe::{self as gp, fb};
use emnist_serve::protocol::tensor::{InputTensor, Values};
use emnist_serve::server::{router, AppState, ServeConfig};

use crate::common::{emnist_cmd, fixture, flags_as_in_emnist, hand_built_run, Server};

/// Writes a small hand-built DNN (10 classes) as ONNX and returns its path.
pub fn model_file(dir: &Path, seed: u64) -> PathBuf {
    let run = dir.join(format!("dnn-{seed}"));
    let (record, weights) =
        hand_built_run(&run, Architecture::Dnn { hidden: vec![32, 16] }, ClassTable::numbered(10), seed, None);
    let model = graph::build_model(&record, &weights, graph::DEFAULT_OPSET).unwrap();
    let path = dir.join(format!("dnn-{seed}.onnx"));
    std::fs::write(&path, graph::encode(&model)).unwrap();
    path
}

struct App {
    router: axum::Router,
    state: Arc<AppState>,
    tract: TractModel,
}

fn app(model: &Path, configure: impl FnOnce(&mut ServeConfig)) -> App {
    flags_as_in_emnist();
    let mut cfg = ServeConfig::new(model.to_path_buf());
    // Answers are compared with tract's own (the default, auto, may pick onnxruntime).
    cfg.engine = emnist_runtime::EngineKind::Tract;
    configure(&mut cfg);
    let served = ServedModel::load(model, &cfg.options).unwrap();
    let tract = served.model.clone();
    let state = AppState::new(served, &cfg).unwrap();
    App { router: router(state.clone()), state, tract }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn call(app: &App, method: &str, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = app.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

async fn get(app: &App, path: &str) -> Answer {
    call(app, "GET", path, &[], Vec::new()).await
}

async fn post_json(app: &App, path: &str, body: &Value) -> Answer {
    call(app, "POST", path, &[("content-type", "application/json".into())], body.to_string().into_bytes()).await
}

pub fn test_images() -> Part {
    let ds = emnist_data::source::load(
        &emnist_data::source::LoadConfig {
            data: Some(fixture("mnist-style")),
            cache: false,
            cache_dir: None,
            ..Default::default()
        },
        &emnist_data::progress::Silent,
    )
    .unwrap()
    .dataset;
    ds.test
}

fn pixels(part: &Part, n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| part.image(i % part.len()).to_vec()).collect()
}

fn local(tract: &TractModel, px: &[u8]) -> Vec<f32> {
    let x: Vec<f32> = px.iter().map(|&p| p as f32 * PIXEL_SCALE).collect();
    tract.run(&x).unwrap().probabilities
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_answers_like_tract_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&model_file(dir.path(), 3), |_| {});
    let test = test_images();
    let px = pixels(&test, 5);
    let want = local(&app.tract, &px);
    let floats: Vec<f32> = px.iter().map(|&p| p as f32 * PIXEL_SCALE).collect();

    // GraphPipe: uint8 [5, 28, 28] and float32 [5, 1, 28, 28], outputs in the order asked.
    for (t, names) in [
        (InputTensor { shape: vec![5, 28, 28], values: Values::U8(px.clone()) }, vec!["probabilities", "logits"]),
        (InputTensor { shape: vec![5, 1, 28, 28], values: Values::F32(floats.clone()) }, vec![]),
    ] {
        let a = call(&app, "POST", "/", &[], gp::encode_infer_request(&t, &names)).await;
        assert_eq!(a.status, StatusCode::OK);
        let (outs, errs) = gp::decode_infer_response(&a.body).unwrap();
        assert!(errs.is_empty());
        assert_eq!(outs.len(), 2);
        let probs = if names.is_empty() { &outs[1] } else { &outs[0] };
        assert_eq!(probs.shape, vec![5, 10]);
        assert!(close(&probs.values, &want, 1e-6));
    }
    let meta =
        gp::decode_metadata_response(&call(&app, "POST", "/", &[], gp::encode_metadata_request()).await.body).unwrap();
    assert_eq!(meta.inputs[0].name, "image");
    assert_eq!(meta.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["logits", "probabilities"]);
    assert_eq!(meta.outputs[1].shape, vec![-1, 10]);

    // TF-Serving: row format with [784] instances, columnar with a named [5, 28, 28] tensor.
    let rows: Vec<&[f32]> = floats.chunks(PIXELS).collect();
    let a = post_json(&app, "/v1/models/emnist:predict", &json!({ "instances": rows })).await;
    assert_eq!(a.status, StatusCode::OK);
    let got = emnist_serve::protocol::tfserving::read_probabilities(&a.json(), 5, 10).unwrap();
    assert!(close(&got, &want, 1e-6));
    let grid: Vec<Vec<&[f32]>> = rows.iter().map(|r| r.chunks(28).collect()).collect();
    let a = post_json(&app, "/v1/models/emnist/versions/1:predict", &json!({ "inputs": { "image": grid } })).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["outputs"]["logits"].as_array().unwrap().len(), 5);
    assert!(close(&emnist_serve::protocol::tfserving::read_probabilities(&a.json(), 5, 10).unwrap(), &want, 1e-6));
    assert_eq!(get(&app, "/v1/models/emnist").await.json()["model_version_status"][0]["state"], "AVAILABLE");
    let m = get(&app, "/v1/models/emnist/metadata").await.json();
    assert_eq!(
        m["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["image"]["dtype"],
        "DT_FLOAT"
    );

    // KServe v2: UINT8 JSON, FP32 nested JSON, and the binary extension both ways.
    let a = post_json(
        &app,
        "/v2/models/emnist/infer",
        &json!({ "id": "q1", "inputs": [{ "name": "image", "shape": [5, 784], "datatype": "UINT8", "data": px }] }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!((v["id"].as_str(), v["outputs"][1]["name"].as_str()), (Some("q1"), Some("probabilities")));
    let (shape, got) = emnist_serve::protocol::kserve::read_output(&a.body, None, "probabilities").unwrap();
    assert_eq!(shape, vec![5, 10]);
    assert!(close(&got, &want, 1e-6));
    let header = json!({
        "inputs": [{ "name": "image", "shape": [5, 1, 28, 28], "datatype": "FP32", "parameters": { "binary_data_size": floats.len() * 4 } }],
        "outputs": [{ "name": "probabilities", "parameters": { "binary_data": true } }],
    })
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend(floats.iter().flat_map(|f| f.to_le_bytes()));
    let a = call(
        &app,
        "POST",
        "/v2/models/emnist/infer",
        &[("inference-header-content-length", header.len().to_string())],
        body,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
    let n: usize = a.headers["inference-header-content-length"].to_str().unwrap().parse().unwrap();
    assert!(close(
        &emnist_serve::protocol::kserve::read_output(&a.body, Some(n), "probabilities").unwrap().1,
        &want,
        1e-6
    ));
    for path in ["/v2/health/live", "/v2/health/ready", "/v2/models/emnist/ready"] {
        assert_eq!(get(&app, path).await.status, StatusCode::OK, "{path}");
    }
    let m = get(&app, "/v2/models/emnist").await.json();
    let served = app.state.resolve("emnist", None).unwrap();
    assert_eq!(m["parameters"]["sha256"], served.model.sha256);
    assert_eq!(m["versions"], json!(["1"]));
    assert_eq!(m["outputs"][1]["shape"], json!([-1, 10]));
    assert_eq!(get(&app, "/v2").await.json()["extensions"], json!(["binary_tensor_data"]));
    assert_eq!(get(&app, "/v2/models/emnist/versions/1/ready").await.status, StatusCode::OK);
    assert_eq!(get(&app, "/v2/models/emnist/versions/2/ready").await.status, StatusCode::NOT_FOUND);
}

/// A GraphPipe request with a tensor of any type, shape and data, built field by field.
fn graphpipe_raw(type_: fb::Type, shape: Vec<i64>, data: Vec<u8>, inputs: usize, output_names: Vec<String>) -> Vec<u8> {
    let tensor = fb::Tensor { type_, shape: Some(shape), data: Some(data), string_val: None };
    let req = fb::Request {
        req: Some(fb::Req::InferRequest(Box::new(fb::InferRequest {
            config: None,
            input_names: None,
            input_tensors: Some(vec![tensor; inputs]),
            output_names: Some(output_names),
        }))),
    };
    planus::Builder::new().finish(&req, None).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_clear_4xx_and_the_server_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&model_file(dir.path(), 4), |c| c.max_body = 1 << 20);
    let f32s = |v: f32, n: usize| -> Vec<u8> { (0..n).flat_map(|_| v.to_le_bytes()).collect() };
    let valid_gp =
        gp::encode_infer_request(&InputTensor { shape: vec![1, 784], values: Values::U8(vec![9; 784]) }, &[]);
    let infer = "/v2/models/emnist/infer";
    let predict = "/v1/models/emnist:predict";
    let kserve = |shape: Value, datatype: &str, data: Value| json!({ "inputs": [{ "name": "image", "shape": shape, "datatype": datatype, "data": data }] });
    // (what, method, path, headers, body, status, text the error must contain)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("empty GraphPipe body", "POST", "/", vec![], vec![], 400, "flatbuffer"),
        ("garbage GraphPipe body", "POST", "/", vec![], b"\x10\x00\x00\x00garbage bytes here".to_vec(), 400, ""),
        ("truncated GraphPipe request", "POST", "/", vec![], valid_gp[..valid_gp.len() / 2].to_vec(), 400, ""),
        (
            "GraphPipe int64 tensor",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Int64, vec![1, 784], vec![0; 784 * 8], 1, vec![]),
            400,
            "int64",
        ),
        (
            "GraphPipe wrong shape",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Uint8, vec![1, 27, 28], vec![0; 27 * 28], 1, vec![]),
            400,
            "[N, 784]",
        ),
        (
            "GraphPipe huge declared shape",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Float32, vec![1 << 40, 784], vec![0; 16], 1, vec![]),
            400,
            "bytes of data",
        ),
        (
            "GraphPipe negative shape",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Uint8, vec![-1, 784], vec![0; 784], 1, vec![]),
            400,
            "shape",
        ),
        (
            "GraphPipe NaN",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Float32, vec![1, 784], f32s(f32::NAN, 784), 1, vec![]),
            400,
            "finite",
        ),
        (
            "GraphPipe infinity",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Float32, vec![1, 784], f32s(f32::INFINITY, 784), 1, vec![]),
            400,
            "finite",
        ),
        (
            "GraphPipe two inputs",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Uint8, vec![1, 784], vec![0; 784], 2, vec![]),
            400,
            "one",
        ),
        (
            "GraphPipe unknown output",
            "POST",
            "/",
            vec![],
            graphpipe_raw(fb::Type::Uint8, vec![1, 784], vec![0; 784], 1, vec!["softmax".into()]),
            400,
            "unknown output `softmax`",
        ),
        ("TF-Serving invalid JSON", "POST", predict, vec![], b"{\"instances\": [".to_vec(), 400, "not valid JSON"),
        (
            "TF-Serving wrong shape",
            "POST",
            predict,
            vec![],
            json!({"instances": [[0.5, 0.5]]}).to_string().into_bytes(),
            400,
            "[N, 784]",
        ),
        (
            "TF-Serving out of range",
            "POST",
            predict,
            vec![],
            json!({"instances": [vec![255; 784]]}).to_string().into_bytes(),
            400,
            "outside [0, 1]",
        ),
        (
            "TF-Serving null pixel",
            "POST",
            predict,
            vec![],
            json!({"instances": [[null]]}).to_string().into_bytes(),
            400,
            "",
        ),
        (
            "TF-Serving strings",
            "POST",
            predict,
            vec![],
            json!({"instances": ["abc"]}).to_string().into_bytes(),
            400,
            "",
        ),
        (
            "TF-Serving unknown model",
            "POST",
            "/v1/models/mnist:predict",
            vec![],
            json!({"instances": [vec![0; 784]]}).to_string().into_bytes(),
            404,
            "serves `emnist`",
        ),
        ("TF-Serving unknown version", "GET", "/v1/models/emnist/versions/7", vec![], vec![], 404, "version"),
        ("TF-Serving unknown verb", "POST", "/v1/models/emnist:classify", vec![], b"{}".to_vec(), 404, ":predict"),
        ("KServe invalid JSON", "POST", infer, vec![], b"not json".to_vec(), 400, "KServe v2"),
        (
            "KServe INT64",
            "POST",
            infer,
            vec![],
            kserve(json!([1, 784]), "INT64", json!(vec![0; 784])).to_string().into_bytes(),
            400,
            "INT64",
        ),
        (
            "KServe BYTES",
            "POST",
            infer,
            vec![],
            kserve(json!([1, 784]), "BYTES", json!(["a"])).to_string().into_bytes(),
            400,
            "BYTES",
        ),
        (
            "KServe wrong shape",
            "POST",
            infer,
            vec![],
            kserve(json!([1, 3, 28, 28]), "FP32", json!([0])).to_string().into_bytes(),
            400,
            "[N, 1, 28, 28]",
        ),
        (
            "KServe count mismatch",
            "POST",
            infer,
            vec![],
            kserve(json!([2, 784]), "FP32", json!(vec![0; 784])).to_string().into_bytes(),
            400,
            "holds 1568 values",
        ),
        (
            "KServe huge declared shape",
            "POST",
            infer,
            vec![],
            kserve(json!([1u64 << 60, 784]), "UINT8", json!([1])).to_string().into_bytes(),
            400,
            "holds more values",
        ),
        (
            "KServe binary size lies",
            "POST",
            infer,
            vec![("inference-header-content-length", "5000".into())],
            b"{}".to_vec(),
            400,
            "Inference-Header-Content-Length",
        ),
        (
            "KServe bad header length",
            "POST",
            infer,
            vec![("inference-header-content-length", "lots".into())],
            b"{}".to_vec(),
            400,
            "byte count",
        ),
        (
            "KServe unknown model",
            "POST",
            "/v2/models/other/infer",
            vec![],
            kserve(json!([1, 784]), "UINT8", json!(vec![0; 784])).to_string().into_bytes(),
            404,
            "serves `emnist`",
        ),
        ("KServe unknown model route", "GET", "/v2/models/emnist/stats", vec![], vec![], 404, "no model route"),
        ("unknown route", "GET", "/v3/anything", vec![], vec![], 404, "no route"),
        (
            "GET on the GraphPipe route is the page, POST of nothing is an error",
            "POST",
            "/predict",
            vec![],
            vec![],
            400,
            "send a PNG or JPEG",
        ),
        ("wrong method", "DELETE", "/v2/health/ready", vec![], vec![], 405, ""),
        ("body over --max-body", "POST", infer, vec![], vec![b' '; (1 << 20) + 1], 413, ""),
    ];
    for (what, method, path, headers, body, status, text) in cases {
        let a = call(&app, method, path, &headers, body).await;
        assert_eq!(a.status.as_u16(), status, "{what}: {}", String::from_utf8_lossy(&a.body));
        let message = if path == "/" && method == "POST" {
            let (outs, errs) = gp::decode_infer_response(&a.body)
                .unwrap_or_else(|e| panic!("{what}: the error is not a GraphPipe answer: {e}"));
            assert!(outs.is_empty() && errs.len() == 1, "{what}");
            assert_eq!(errs[0].code, status as i64);
            errs[0].message.clone()
        } else {
            String::from_utf8_lossy(&a.body).into_owned()
        };
        assert!(message.contains(text), "{what}: {message:?} lacks {text:?}");
        if a.status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(a.json()["error"].as_str().unwrap().contains("--max-body"), "{what}: the 413 is JSON too");
        }
        if a.headers.get("content-type").is_some_and(|c| c == "application/json") {
            assert!(a.json()["error"].is_string(), "{what}: JSON errors carry `error`");
        }
    }
    // Still serving, and the metrics saw it all.
    let a = call(&app, "POST", "/", &[], valid_gp).await;
    assert_eq!(a.status, StatusCode::OK);
    let m = String::from_utf8(get(&app, "/metrics").await.body).unwrap();
    assert!(m.contains("emnist_requests_total{protocol=\"graphpipe\",status=\"400\"} 11"), "{m}");
    assert!(m.contains("emnist_requests_total{protocol=\"graphpipe\",status=\"200\"} 1"), "{m}");
    assert!(m.contains("emnist_requests_total{protocol=\"kserve\",status=\"413\"} 1"), "{m}");
    assert!(m.contains("# TYPE emnist_request_duration_seconds histogram"));
    assert!(m.contains("emnist_inflight_requests 0"), "nothing in flight (scrapes are not counted): {m}");
}

/// Bodies over `INLINE_DECODE_BYTES` are decoded on the blocking pool: the same answers, the same 400s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_decode_off_the_workers_with_the_same_answers_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&model_file(dir.path(), 4), |_| {});
    let test = test_images();
    let n = 1000;
    let px = pixels(&test, n);
    let want = local(&app.tract, &px);
    let t = InputTensor { shape: vec![n as i64, 784], values: Values::F32(emnist_model::contract::to_input(&px)) };
    let gp_body = gp::encode_infer_request(&t, &["probabilities"]);
    let ks_body = emnist_serve::protocol::kserve::infer_request(&t, &["probabilities"]);
    let tf_body = emnist_serve::protocol::tfserving::predict_request(&px, emnist_model::contract::PIXEL_SCALE);
    for body in [&gp_body, &ks_body, &tf_body] {
        let limit = emnist_serve::server::INLINE_DECODE_BYTES;
        assert!(body.len() > limit && body.len() < 16 << 20, "{} bytes", body.len());
    }
    let a = call(&app, "POST", "/", &[], gp_body).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(close(&gp::decode_infer_response(&a.body).unwrap().0[0].values, &want, 1e-6));
    let json = [("content-type", "application/json".to_string())];
    let a = call(&app, "POST", "/v2/models/emnist/infer", &json, ks_body).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(close(
        &emnist_serve::protocol::kserve::read_output(&a.body, None, "probabilities").unwrap().1,
        &want,
        1e-6
    ));
    let a = call(&app, "POST", "/v1/models/emnist:predict", &json, tf_body.clone()).await;
    assert_eq!(a.status, StatusCode::OK);
    let got = emnist_serve::protocol::tfserving::read_probabilities(&a.json(), n, 10).unwrap();
    assert!(close(&got, &want, 1e-6));
    // A pixel out of range deep in a large body, and a large body cut short: 400s that say why.
    let text = String::from_utf8(tf_body).unwrap();
    let bad = text.replacen("1.0", "2.0", 1);
    assert_ne!(bad, text, "the body holds a pixel of 1.0 to spoil");
    let a = call(&app, "POST", "/v1/models/emnist:predict", &json, bad.into_bytes()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json()["error"].as_str().unwrap().contains("outside [0, 1]"), "{}", a.json());
    let a = call(&app, "POST", "/v1/models/emnist:predict", &json, text.as_bytes()[..text.len() / 2].to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json()["error"].as_str().unwrap().contains("not valid JSON"), "{}", a.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamp_inputs_answers_random_floats_and_counts_them() {
    crate::common::flags_as_in_emnist();
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 5);
    // What perf_analyzer sends without `--input-data`: random bits as floats.
    let mut garbage: Vec<f64> = (0..2 * 784u64).map(|i| f64::from(i as f32 * 1e3 - 5e5)).collect();
    garbage[3] = 0.5;
    let body =
        serde_json::json!({"inputs": [{"name": "image", "shape": [2, 784], "datatype": "FP32", "data": garbage}]})
            .to_string()
            .into_bytes();
    let json = [("content-type", "application/json".to_string())];
    let strict = app(&model, |_| {});
    let a = call(&strict, "POST", "/v2/models/emnist/infer", &json, body.clone()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let e = a.json()["error"].as_str().unwrap().to_string();
    assert!(e.contains("outside [0, 1]") && e.contains("--clamp-inputs"), "{e}");
    let lenient = app(&model, |c| c.options.clamp_inputs = true);
    let a = call(&lenient, "POST", "/v2/models/emnist/infer", &json, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    // Clamped, the images are the clamped pixels' answer: the same as sending those.
    let clamped: Vec<f64> = garbage.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let body =
        serde_json::json!({"inputs": [{"name": "image", "shape": [2, 784], "datatype": "FP32", "data": clamped}]})
            .to_string()
            .into_bytes();
    let b = call(&strict, "POST", "/v2/models/emnist/infer", &json, body).await;
    assert_eq!(b.status, StatusCode::OK);
    let probs = |a: &Answer| emnist_serve::protocol::kserve::read_output(&a.body, None, "probabilities").unwrap().1;
    assert_eq!(probs(&a), probs(&b));
    let m = String::from_utf8(get(&lenient, "/metrics").await.body).unwrap();
    let out_of_range = garbage.iter().filter(|v| !(0.0..=1.0).contains(*v)).count();
    assert!(m.contains("\nemnist_clamped_requests_total 1\n"), "{m}");
    assert!(m.contains(&format!("\nemnist_clamped_values_total {out_of_range}\n")), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_and_answered_as_alone() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(app(&model_file(dir.path(), 5), |c| {
        c.batch.max_batch = 64;
        c.batch.timeout = Duration::from_millis(200);
        c.batch.workers = 1;
    }));
    let test = test_images();
    let n = 24;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = app.clone();
            let px = test.image(i % test.len()).to_vec();
            tokio::spawn(async move {
                let body =
                    json!({ "inputs": [{ "name": "image", "shape": [1, 784], "datatype": "UINT8", "data": px }] });
                let a = post_json(&app, "/v2/models/emnist/infer", &body).await;
                assert_eq!(a.status, StatusCode::OK);
                (px, emnist_serve::protocol::kserve::read_output(&a.body, None, "probabilities").unwrap().1)
            })
        })
        .collect();
    let mut worst = 0.0f32;
    for t in tasks {
        let (px, got) = t.await.unwrap();
        let alone = local(&app.tract, &px);
        assert_eq!(emnist_model::contract::argmax_rows(&got, 10), emnist_model::contract::argmax_rows(&alone, 10));
        worst = got.iter().zip(&alone).fold(worst, |m, (a, b)| m.max((a - b).abs()));
    }
    assert!(worst <= 1e-6, "batched answers differ from one-image runs by {worst}");
    let m = String::from_utf8(get(&app, "/metrics").await.body).unwrap();
    let calls: u64 = m.lines().find_map(|l| l.strip_prefix("emnist_batch_size_count ")).unwrap().parse().unwrap();
    assert!(calls < n as u64, "{n} concurrent requests took {calls} model calls: nothing was coalesced\n{m}");
    assert!(m.contains(&format!("emnist_images_total {n}")), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_inflight_the_answer_is_503_and_slow_requests_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 6);
    // One request parks in the batcher for 2 s while a second arrives.
    let held = Arc::new(app(&model, |c| {
        c.max_inflight = 1;
        c.batch.timeout = Duration::from_secs(2);
    }));
    let body = json!({ "inputs": [{ "name": "image", "shape": [1, 784], "datatype": "UINT8", "data": vec![0; 784] }] });
    let first = {
        let (held, body) = (held.clone(), body.clone());
        tokio::spawn(async move { post_json(&held, "/v2/models/emnist/infer", &body).await.status })
    };
    while held.state.inflight() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = post_json(&held, "/v2/models/emnist/infer", &body).await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers["retry-after"], "1");
    assert!(second.json()["error"].as_str().unwrap().contains("limit of 1"));
    // Health is never turned away; at the limit the server is live but not ready (a 4xx, as KServe v2 has it).
    let ready = get(&held, "/v2/health/ready").await;
    assert_eq!(ready.status, StatusCode::BAD_REQUEST);
    assert!(ready.json()["reason"].as_str().unwrap().contains("limit of 1"), "{}", ready.json());
    assert_eq!(get(&held, "/v2/health/live").await.status, StatusCode::OK);
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    assert_eq!(get(&held, "/v2/health/ready").await.status, StatusCode::OK, "ready again once the request is answered");
    assert_eq!(held.state.inflight(), 0);

    let slow = app(&model, |c| {
        c.request_timeout = Duration::from_millis(100);
        c.batch.timeout = Duration::from_secs(2);
    });
    let timed_out = post_json(&slow, "/v2/models/emnist/infer", &body).await;
    assert_eq!(timed_out.status, StatusCode::REQUEST_TIMEOUT);
    assert!(timed_out.json()["error"].as_str().unwrap().contains("--request-timeout-ms"));
    // The timed-out request left no slot taken, was counted, and its images were never run.
    assert_eq!(slow.state.inflight(), 0);
    // The batcher waits 2 s for company, then finds the request gone.
    let t0 = std::time::Instant::now();
    let m = loop {
        let m = String::from_utf8(get(&slow, "/metrics").await.body).unwrap();
        if m.contains("emnist_abandoned_images_total 1") || t0.elapsed() > Duration::from_secs(15) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(m.contains("emnist_requests_total{protocol=\"kserve\",status=\"408\"} 1"), "{m}");
    assert!(m.contains("emnist_inflight_requests 0"), "{m}");
    assert!(m.contains("emnist_abandoned_images_total 1"), "{m}");
    assert!(m.contains("emnist_batch_size_count 0"), "the abandoned request's model call was not run\n{m}");
}

impl Server {
    /// `emnist serve --port 0 --model <model> <extra>` on a real socket.
    fn start(model: &Path, extra: &[&str]) -> Server {
        let mut c = emnist_cmd();
        c.args(["serve", "--port", "0", "--model"]).arg(model).args(extra);
        Server::spawn(c)
    }

    fn signal(&self, sig: &str) {
        assert!(std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }
}

#[test]
fn sigint_finishes_the_requests_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 7);
    let mut server = Server::start(&model, &["--batch-timeout-us", "700000"]);
    let url = format!("{}/v2/models/emnist/infer", server.url);
    let pending = std::thread::spawn(move || {
        let body =
            json!({ "inputs": [{ "name": "image", "shape": [1, 784], "datatype": "UINT8", "data": vec![0; 784] }] });
        let mut r = ureq::post(&url).header("content-type", "application/json").send(body.to_string()).unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    });
    await_inflight(&server, 1);
    server.signal("-INT");
    let (status, body) = pending.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("probabilities"));
    let code = server.child.wait().unwrap();
    assert_eq!(code.code(), Some(0), "graceful shutdown exits 0");
    assert!(ureq::get(format!("{}/v2/health/live", server.url)).call().is_err(), "nothing listens after shutdown");
}

#[test]
fn a_second_signal_during_the_drain_exits_130_at_once() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 8);
    let mut server = Server::start(&model, &["--request-timeout-ms", "60000"]);
    // A request whose body never comes keeps the drain waiting (up to the request timeout).
    let mut s = connect(&server);
    s.write_all(b"POST /v1/models/emnist:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{").unwrap();
    await_inflight(&server, 1);
    server.signal("-TERM");
    // Draining: the port is closed (no new connections) while the request keeps the process up.
    let addr = server.url.trim_start_matches("http://").to_string();
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(20), "the port still accepts 20 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.child.try_wait().unwrap().is_none(), "the first signal waits for the request in flight");
    let t0 = std::time::Instant::now();
    server.signal("-INT");
    let code = server.child.wait().unwrap();
    assert_eq!(code.code(), Some(130), "a second signal stops at once, as interrupted");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// `--ready-file`: written once both ports are bound, with the ports `--port 0 --grpc-port 0`
/// got, the process and the model; one JSON document alone in its folder (written under a
/// temporary name, then renamed); removed when SIGTERM has stopped the server.
#[test]
fn the_ready_file_names_the_bound_ports_and_goes_at_sigterm() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 9);
    let mut server = Server::start(&model, &["--grpc-port", "0", "--engine", "tract"]);
    let r = server.ready.clone();
    let port = |s: &str, prefix: &str| s.strip_prefix(prefix).and_then(|p| p.parse::<u16>().ok()).filter(|&p| p != 0);
    let http = r["http"].as_str().unwrap();
    let grpc = r["grpc"].as_str().unwrap();
    assert!(port(http, "http://127.0.0.1:").is_some() && port(grpc, "127.0.0.1:").is_some(), "{r}");
    assert_eq!(ureq::get(format!("{http}/v2/health/ready")).call().unwrap().status().as_u16(), 200);
    std::net::TcpStream::connect(grpc).expect("the gRPC port listens");
    assert_eq!(
        (&r["tls"], &r["pid"], &r["version"]),
        (&json!(false), &json!(server.child.id()), &json!(env!("CARGO_PKG_VERSION")))
    );
    let sha256: String = Sha256::digest(std::fs::read(&model).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    let want =
        json!([{ "name": "emnist", "version": 1, "path": model, "sha256": sha256, "classes": 10, "engine": "tract" }]);
    assert_eq!(r["models"], want, "{r}");
    let folder = server.ready_file.parent().unwrap().to_path_buf();
    let names = || -> Vec<String> {
        std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(names(), ["ready.json"]);
    server.signal("-TERM");
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    assert!(names().is_empty(), "the ready file is removed after a clean stop: {:?}", names());
}

/// A ready file that cannot be written stops `serve` before it loads a model or binds a port
/// (the model here is missing and the port taken: neither is what it reports): exit 1 and one
/// line naming the file. A file an earlier server left is removed at start.
#[test]
fn an_unwritable_ready_file_fails_before_anything_loads() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let missing = dir.path().join("none.onnx");
    let serve = |ready: &Path| {
        emnist_cmd().args(["serve", "--port", &port, "--model"]).arg(&missing).arg("--ready-file").arg(ready).output()
    };
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a folder").unwrap();
    let cases = [
        (file.join("ready.json"), format!("`{}` is not a folder", file.display())),
        (dir.path().to_path_buf(), "it is a folder".to_string()),
    ];
    for (ready, why) in cases {
        let o = serve(&ready).unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let want = format!("error: cannot write the ready file `{}` (`--ready-file`): {why}\n", ready.display());
        assert_eq!(err, want);
    }
    let stale = dir.path().join("ready.json");
    std::fs::write(&stale, r#"{"http": "http://127.0.0.1:1"}"#).unwrap();
    let o = serve(&stale).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("none.onnx"), "the missing model is what stops it now");
    assert!(!stale.exists(), "an earlier server's ready file is removed at start");
}

/// Waits (up to 10 s) until the server counts `n` requests in flight.
fn await_inflight(server: &Server, n: usize) {
    let want = format!("emnist_inflight_requests {n}");
    let t0 = std::time::Instant::now();
    while !metrics_of(server).lines().any(|l| l == want) {
        assert!(t0.elapsed() < Duration::from_secs(10), "never {n} requests in flight");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connection to the server's socket.
fn connect(server: &Server) -> std::net::TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything the server sends until it closes the connection (or the read times out).
fn read_all(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn metrics_of(server: &Server) -> String {
    ureq::get(format!("{}/metrics", server.url)).call().unwrap().body_mut().read_to_string().unwrap()
}

fn predict_one(server: &Server) -> u16 {
    try_predict(server).unwrap_or_else(|e| panic!("{e}"))
}

/// One TF-Serving predict: its status, or why no answer came.
fn try_predict(server: &Server) -> Result<u16, ureq::Error> {
    let body = json!({ "instances": [vec![0u8; 784]] });
    match ureq::post(format!("{}/v1/models/emnist:predict", server.url))
        .header("content-type", "application/json")
        .send(body.to_string())
    {
        Ok(r) => Ok(r.status().as_u16()),
        Err(ureq::Error::StatusCode(c)) => Ok(c),
        Err(e) => Err(e),
    }
}

/// The reproduction from the reliability issue: requests whose bodies never arrive time out
/// (408) and must not keep their in-flight slots, or the server answers 503 for ever.
#[test]
fn timed_out_requests_give_back_their_slots() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 31);
    let server = Server::start(&model, &["--max-inflight", "2", "--request-timeout-ms", "500"]);
    for _ in 0..2 {
        let mut s = connect(&server);
        s.write_all(b"POST /v1/models/emnist:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{").unwrap();
        let answer = read_all(&mut s);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("--request-timeout-ms"), "a JSON error that says what to do: {answer}");
    }
    for _ in 0..3 {
        assert_eq!(predict_one(&server), 200, "the slots of the timed-out requests were given back");
    }
    let m = metrics_of(&server);
    assert!(m.contains("emnist_inflight_requests 0"), "{m}");
    assert!(m.contains("emnist_requests_total{protocol=\"tfserving\",status=\"408\"} 2"), "{m}");
    assert!(m.contains("emnist_requests_total{protocol=\"tfserving\",status=\"200\"} 3"), "{m}");
    assert_eq!(ureq::get(format!("{}/v2/health/ready", server.url)).call().unwrap().status().as_u16(), 200);
}

/// Slow request heads and idle keep-alive connections are closed; beyond `--max-connections` a
/// connection gets a 503 and is closed; the server keeps answering everyone else.
#[test]
fn slow_heads_idle_and_surplus_connections_are_closed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 32);
    let server =
        Server::start(&model, &["--header-timeout-ms", "500", "--idle-timeout-ms", "1500", "--max-connections", "3"]);
    // A head trickling in: closed without an answer (the second line may already meet a closed socket).
    let mut slow = connect(&server);
    slow.write_all(b"POST /v1/models/emnist:predict HTTP/1.1\r\nhost: x\r\n").unwrap();
    // The trickle itself: a pause inside the head (a client's behaviour, not a wait for a state).
    std::thread::sleep(Duration::from_millis(100));
    let _ = slow.write_all(b"x-slow: 1\r\n");
    assert_eq!(read_all(&mut slow), "", "closed, nothing answered");
    // One request, then nothing: the idle keep-alive connection is closed.
    let mut idle = connect(&server);
    idle.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let answer = read_all(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"live\":true"), "{answer}");
    // Three connections held open, the fourth is refused with a JSON 503. First wait until the
    // server has let go of the two above (the gauge counts the metrics request itself); the
    // accept loop then takes the held three before the fourth, in the order they connected.
    let t0 = std::time::Instant::now();
    while !metrics_of(&server).contains("\nemnist_open_connections 1\n") {
        assert!(t0.elapsed() < Duration::from_secs(10), "the slow and idle connections still count after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let held: Vec<_> = (0..3).map(|_| connect(&server)).collect();
    let mut extra = connect(&server);
    let _ = extra.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n");
    let answer = read_all(&mut extra);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("--max-connections"), "{answer}");
    // Once the held connections are gone, everyone is served again.
    drop(held);
    let t0 = std::time::Instant::now();
    while try_predict(&server).ok() != Some(200) {
        assert!(t0.elapsed() < Duration::from_secs(10), "still refused 10 s after the held connections closed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = metrics_of(&server);
    assert!(m.contains("emnist_connections_closed_total{reason=\"header_timeout\"} 1"), "{m}");
    assert!(m.contains("emnist_connections_closed_total{reason=\"refused\"}"), "{m}");
    assert!(m.contains("emnist_connections_closed_total{reason=\"idle\"}"), "{m}");
}

/// SIGTERM with slow and idle clients connected: the request in flight is answered, and the
/// server exits 0 at the end of its grace period instead of waiting for the clients to give up.
#[test]
fn sigterm_with_slow_clients_exits_within_the_grace_period() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 33);
    let mut server = Server::start(
        &model,
        &["--shutdown-grace-s", "3", "--header-timeout-ms", "60000", "--batch-timeout-us", "700000"],
    );
    // Five slow clients: three trickle a head, two never send a byte.
    let mut slow: Vec<_> = (0..5).map(|_| connect(&server)).collect();
    for s in &mut slow[..3] {
        s.write_all(b"POST /v1/models/emnist:predict HTTP/1.1\r\nhost: x\r\n").unwrap();
    }
    let url = format!("{}/v2/models/emnist/infer", server.url);
    let pending = std::thread::spawn(move || {
        let body =
            json!({ "inputs": [{ "name": "image", "shape": [1, 784], "datatype": "UINT8", "data": vec![0; 784] }] });
        let mut r = ureq::post(&url).header("content-type", "application/json").send(body.to_string()).unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    });
    // Signal once the request is in flight (it waits 0.7 s in the batcher for company).
    let waiting = std::time::Instant::now();
    while !metrics_of(&server).contains("emnist_inflight_requests 1") {
        assert!(waiting.elapsed() < Duration::from_secs(10), "the request never showed as in flight");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = std::time::Instant::now();
    server.signal("-TERM");
    let (status, body) = pending.join().unwrap();
    assert_eq!(status, 200, "{body}");
    // Generous bound: before, the server waited as long as its slowest client (for ever here).
    let code = loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            break code;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "still running 20 s after SIGTERM with a 3 s grace period");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code.code(), Some(0));
    for s in &mut slow {
        assert_eq!(read_all(s), "", "the slow clients' connections were closed");
    }
}

/// An over-limit body declared by `Content-Length` is refused before it is read, with the JSON
/// error every other 4xx uses, and the client that keeps sending still reads the answer.
#[test]
fn oversized_bodies_get_a_json_413_that_clients_receive() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 34);
    let server = Server::start(&model, &["--max-body", "100000"]);
    // A raw client that sends its whole 8 MB body before reading.
    let mut s = connect(&server);
    let body = vec![b'1'; 8 << 20];
    s.write_all(
        format!("POST /v2/models/emnist/infer HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len())
            .as_bytes(),
    )
    .unwrap();
    s.write_all(&body).expect("the server reads the refused body instead of resetting the connection");
    let answer = read_all(&mut s);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let json: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(json["error"].as_str().unwrap().contains("--max-body"), "{json}");
    // curl (it asks `Expect: 100-continue` for large bodies).
    let file = dir.path().join("big.json");
    std::fs::write(&file, &body).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-H", "content-type: application/json", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("{}/v1/models/emnist:predict", server.url))
        .output()
        .expect("curl is needed for this test: `make setup` installs it");
    let text = String::from_utf8_lossy(&out.stdout);
    let (json, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "413", "{text}");
    assert!(serde_json::from_str::<Value>(json).unwrap()["error"].as_str().unwrap().contains("--max-body"), "{text}");
    assert_eq!(predict_one(&server), 200);
    let m = metrics_of(&server);
    assert!(m.contains("emnist_requests_total{protocol=\"kserve\",status=\"413\"} 1"), "{m}");
    assert!(m.contains("emnist_requests_total{protocol=\"tfserving\",status=\"413\"} 1"), "{m}");
}

#[test]
fn query_checks_every_protocol_against_local_inference() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_file(dir.path(), 8);
    let server = Server::start(&model, &[]);
    let q = |model: &Path, extra: &[&str]| {
        emnist_cmd()
            .args(["query", "--json", "--url", &server.url, "--data"])
            .arg(fixture("mnist-style"))
            .arg("--model")
            .arg(model)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = q(&model, &["--n", "all", "--batch", "3", "--concurrency", "4"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["passed"], true);
    assert_eq!(r["server_sha256_matches"], true);
    let protocols: Vec<&str> =
        r["protocols"].as_array().unwrap().iter().map(|p| p["protocol"].as_str().unwrap()).collect();
    assert_eq!(protocols, ["graphpipe", "tfserving", "kserve"]);
    for p in r["protocols"].as_array().unwrap() {
        assert_eq!(p["agreement"], 1.0, "{p}");
        assert_eq!(p["failed_requests"], 0);
        assert_eq!(p["images"], r["images"]);
        assert!((p["accuracy"].as_f64().unwrap() - r["local_accuracy"].as_f64().unwrap()).abs() < 1e-12);
        assert!(p["latency"]["p99_ms"].as_f64().unwrap() >= p["latency"]["p50_ms"].as_f64().unwrap());
    }
    // Another file than the one served: refused before anything is sent.
    let other = model_file(dir.path(), 9);
    let o = q(&other, &["--protocol", "kserve"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("serves a different model") && err.contains("--model"), "{err}");
    // The same check against the binary serving with onnxruntime.
    let lib = onnxruntime_library();
    let ort_server = Server::start(&model, &["--engine", "onnxruntime", "--onnxruntime-lib", lib.to_str().unwrap()]);
    let o = emnist_cmd()
        .args(["query", "--json", "--protocol", "graphpipe", "--n", "all", "--url", &ort_server.url, "--data"])
        .arg(fixture("mnist-style"))
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["protocols"][0]["agreement"], 1.0, "onnxruntime's answers agree with local tract");
    drop(ort_server);
    // Nothing listening: a clear error.
    drop(server);
    let o = emnist_cmd()
        .args(["query", "--url", "http://127.0.0.1:9", "--model"])
        .arg(&model)
        .args(["--data"])
        .arg(fixture("mnist-style"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is `emnist serve` running there?"));
}

#[test]
fn serve_refuses_a_missing_or_broken_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = emnist_cmd().args(["serve", "--port", "0", "--model"]).arg(dir.path().join("none.onnx")).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("none.onnx"));
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let o = emnist_cmd().args(["serve", "--port", "0", "--model"]).arg(&junk).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("junk.onnx") && err.lines().count() <= 3, "{err}");
}

/// The wheel's libonnxruntime.so that `make setup` installs in `.venv`.
fn onnxruntime_library() -> PathBuf {
    emnist_runtime::engine::venv_onnxruntime(&crate::common::workspace())
        .expect("no libonnxruntime.so under .venv: run `make setup` (it installs the onnxruntime wheel)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onnxruntime_engine_answers_like_tract() {
    let dir = tempfile::tempdir().unwrap();
    let test = test_images();
    for arch in [
        Architecture::Dnn { hidden: vec![32, 16] },
        Architecture::Cnn { channels: vec![4, 8], hidden: 16, dropout: 0.25 },
    ] {
        let name = arch.name();
        let run = dir.path().join(name);
        let (record, weights) = hand_built_run(&run, arch, ClassTable::numbered(10), 12, None);
        let path = dir.path().join(format!("{name}.onnx"));
        std::fs::write(&path, graph::encode(&graph::build_model(&record, &weights, graph::DEFAULT_OPSET).unwrap()))
            .unwrap();
        let app = app(&path, |c| c.engine = emnist_runtime::EngineKind::Onnxruntime { library: onnxruntime_library() });
        assert_eq!(app.state.resolve("emnist", None).unwrap().engine, emnist_runtime::EngineName::Onnxruntime);
        let px = pixels(&test, 7);
        let want = local(&app.tract, &px);
        let body = json!({ "inputs": [{ "name": "image", "shape": [7, 784], "datatype": "UINT8", "data": px }] });
        let a = post_json(&app, "/v2/models/emnist/infer", &body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", String::from_utf8_lossy(&a.body));
        let got = emnist_serve::protocol::kserve::read_output(&a.body, None, "probabilities").unwrap().1;
        assert!(close(&got, &want, 1e-5), "{name}: onnxruntime and tract differ");
        assert_eq!(emnist_model::contract::argmax_rows(&got, 10), emnist_model::contract::argmax_rows(&want, 10));
        assert_eq!(get(&app, "/v2/models/emnist").await.json()["parameters"]["engine"], "onnxruntime");

        // A large batch of a caller's only request runs on every core, with the same answers.
        let served = ServedModel::load(&path, &Default::default()).unwrap();
        let kind = emnist_runtime::EngineKind::Onnxruntime { library: onnxruntime_library() };
        let engine = emnist_runtime::Engine::load(&kind, &served, 2).unwrap();
        let input = served.signature.to_input(&pixels(&test, 40));
        let one_core = engine.run(&input).unwrap();
        let every_core = engine.run_as(&input, true).unwrap();
        assert!(close(&every_core.probabilities, &one_core.probabilities, 1e-5), "{name}: the wide session differs");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores == 1 {
            eprintln!("NOTE: one core here: there is no wide session, only its absence is checked");
        }
        assert_eq!(engine.wide_calls(), usize::from(cores > 1), "{name}");
        // Small batches, and batches not alone, keep one core.
        engine.run_as(&input[..8 * 784], true).unwrap();
        engine.run(&input).unwrap();
        assert_eq!(engine.wide_calls(), usize::from(cores > 1), "{name}");
    }
    // A missing library is a clear error at start, not at the first request.
    let mut cfg = ServeConfig::new(model_file(dir.path(), 13));
    cfg.engine = emnist_runtime::EngineKind::Onnxruntime { library: dir.path().join("libnothing.so") };
    let err =
        AppState::new(ServedModel::load(&cfg.model, &Default::default()).unwrap(), &cfg).err().unwrap().to_string();
    assert!(err.contains("libnothing.so") && err.contains("onnxruntime"), "{err}");
}
