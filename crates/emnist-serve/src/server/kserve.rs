//! KServe v2 / Open Inference Protocol: server and model metadata, health, and `infer` (JSON
//! tensors, or Triton's binary tensor data extension), under `/v2`.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::repo::Version;
use super::request_id::RequestId;
use super::{decode, ApiError, Shared};
use crate::protocol::kserve::{images, infer_response, parse_infer, Datatype, KserveError, HEADER_LENGTH};
use crate::protocol::Protocol;
use emnist_model::contract::output_dims;

pub async fn server_metadata() -> Json<Value> {
    Json(json!({ "name": "emnist", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }))
}

/// Live while the model can still be run (the batching task runs); 503 otherwise, so that an
/// orchestrator restarts the instance.
pub async fn live(State(state): State<Shared>) -> Response {
    if state.is_live() {
        Json(json!({ "live": true })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "live": false, "reason": "the model worker stopped" })))
            .into_response()
    }
}

/// Ready while a predict request would be taken. Not ready (HTTP 400, as the protocol has it: "a
/// 4xx status indicating false") while shutting down, without a model worker, or at
/// `--max-inflight`, so that a load balancer sends requests elsewhere.
pub async fn ready(State(state): State<Shared>) -> Response {
    model_ready(&state, json!({ "ready": true }))
}

fn model_ready(state: &Shared, ok: Value) -> Response {
    match state.not_ready() {
        None => Json(ok).into_response(),
        Some(reason) => (StatusCode::BAD_REQUEST, Json(json!({ "ready": false, "reason": reason }))).into_response(),
    }
}

/// Triton's repository index (`POST /v2/repository/index`, what `tritonclient`'s
/// `get_model_repository_index` asks): every version seen, `READY`, `LOADING` or `UNAVAILABLE` with
/// the reason.
pub async fn repository_index(State(state): State<Shared>) -> Json<Value> {
    let index: Vec<Value> = state
        .all_version_states()
        .into_iter()
        .map(|(name, version, s)| {
            let st = match s {
                super::repo::VersionState::Available => "READY",
                super::repo::VersionState::Loading => "LOADING",
                super::repo::VersionState::Failed(_) => "UNAVAILABLE",
            };
            json!({ "name": name, "version": version.to_string(), "state": st, "reason": s.error().unwrap_or_default() })
        })
        .collect();
    Json(Value::Array(index))
}

/// What follows `/v2/models/`: `{name}[/versions/{v}][/{action}]` → the version meant (the newest
/// when none is named) and the action.
fn parse<'a>(state: &Shared, rest: &'a str) -> Result<(std::sync::Arc<Version>, &'a str), ApiError> {
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (version, tail) = match tail.strip_prefix("versions/") {
        Some(v) => {
            let (version, after) = v.split_once('/').unwrap_or((v, ""));
            (Some(version), after)
        }
        None => (None, tail),
    };
    Ok((state.resolve(name, version)?, tail))
}

pub async fn get(State(state): State<Shared>, Path(rest): Path<String>) -> Result<Response, ApiError> {
    let (version, action) = parse(&state, &rest)?;
    match action {
        "" => Ok(Json(metadata(&state, &version)).into_response()),
        "ready" => Ok(model_ready(&state, json!({ "name": version.name, "version": version.label(), "ready": true }))),
        "config" => Ok(Json(config(&state, &version)).into_response()),
        other => {
            Err(ApiError::not_found(format!("no model route `{other}`: use `ready` or `config`, or POST `infer`")))
        }
    }
}

/// Triton's model configuration (`GET /v2/models/{name}[/versions/{v}]/config`, the JSON form of
/// its `ModelConfig`), which Triton's own tools read: the batch dimension is implicit
/// (`max_batch_size` = `--max-batch`, `dims` without it), dynamic batching on.
fn config(state: &Shared, version: &Version) -> Value {
    let model = &version.model;
    let k = model.classes() as i64;
    let dims: Vec<i64> = model.interface().layout.announced()[1..].to_vec();
    let outputs: Vec<Value> = model
        .signature
        .outputs
        .iter()
        .map(|(name, _)| json!({ "name": name, "data_type": "TYPE_FP32", "dims": [k] }))
        .collect();
    json!({
        "name": version.name,
        "platform": "onnxruntime_onnx",
        "backend": version.engine.as_str(),
        "version_policy": { "latest": { "num_versions": 1 } },
        "max_batch_size": state.max_batch(),
        "input": [{ "name": model.signature.input, "data_type": "TYPE_FP32", "format": "FORMAT_NONE", "dims": dims }],
        "output": outputs,
        "dynamic_batching": {},
        "parameters": { "sha256": { "string_value": model.sha256 }, "version": { "string_value": version.label() } },
    })
}

pub async fn post(
    State(state): State<Shared>,
    Extension(id): Extension<RequestId>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match infer(&state, &id, &rest, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The answer's `id` echoes the request's own (the protocol's rule) and is what the payload log
/// records; a request without one gets its `X-Request-Id`.
async fn infer(
    state: &Shared,
    id: &RequestId,
    rest: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (version, action) = parse(state, rest)?;
    if action != "infer" {
        return Err(ApiError::not_found(format!("no model route `{action}` for POST: use `infer`")));
    }
    let header_length = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()).ok_or_else(|| ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "`Inference-Header-Content-Length` is not a byte count".into(),
        })?),
    };
    let model = version.model.clone();
    let (mut parsed, images) = decode(body, move |b| {
        let mut parsed = parse_infer(b, header_length, &model.signature).map_err(refusal)?;
        let images = images(parsed.input.take(), &model.signature).map_err(refusal)?;
        Ok((parsed, images))
    })
    .await?;
    let id = match parsed.id.take().filter(|own| !own.is_empty()) {
        Some(own) => own,
        None => id.as_str().to_string(),
    };
    let out = state.infer(&version, images, &id, Protocol::Kserve.as_str()).await?;
    parsed.id = Some(id);
    let (json, binary) = infer_response(&version.name, &version.label(), &parsed, &out, &version.model.signature);
    if binary.is_empty() {
        return Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response());
    }
    let length = HeaderValue::from(json.len());
    let mut all = json;
    all.extend_from_slice(&binary);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
            (header::HeaderName::from_static(HEADER_LENGTH), length),
        ],
        all,
    )
        .into_response())
}

/// The HTTP answer to a KServe refusal: every one is the client's to fix (400).
fn refusal(e: KserveError) -> ApiError {
    let status = match &e {
        KserveError::Input(_)
        | KserveError::Datatype { .. }
        | KserveError::Uint8Range { .. }
        | KserveError::PartialValue { .. }
        | KserveError::Classification { .. }
        | KserveError::Malformed(_) => StatusCode::BAD_REQUEST,
    };
    ApiError { status, message: e.to_string() }
}

fn metadata(state: &Shared, version: &Version) -> Value {
    let model = &version.model;
    let k = model.classes();
    let sig = &model.signature;
    let versions: Vec<String> =
        state.catalog().models.get(&version.name).map(|v| v.keys().map(u64::to_string).collect()).unwrap_or_default();
    let states: serde_json::Map<String, Value> = state
        .version_states(&version.name)
        .into_iter()
        .map(|(v, s)| (v.to_string(), json!({ "state": s.tf_state(), "error": s.error() })))
        .collect();
    let outputs: Vec<Value> = sig
        .outputs
        .iter()
        .map(|(o, _)| json!({ "name": o, "datatype": Datatype::Fp32.as_str(), "shape": output_dims(k) }))
        .collect();
    json!({
        "name": version.name,
        "versions": versions,
        "platform": "onnx",
        "inputs": [{ "name": sig.input, "datatype": Datatype::Fp32.as_str(), "shape": model.interface().layout.announced() }],
        "outputs": outputs,
        "parameters": {
            "version": version.label(),
            "sha256": model.sha256,
            "architecture": model.architecture().unwrap_or_default(),
            "test_accuracy": model.test_accuracy(),
            "dataset": model.metadata.get("dataset").cloned().unwrap_or_default(),
            "classes": k,
            "engine": version.engine.as_str(),
            "interpretation": model.interpretation(),
            "version_states": states,
        },
        "class_names": model.class_names,
    })
}
