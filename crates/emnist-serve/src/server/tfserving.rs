//! TensorFlow Serving's REST API: model status, metadata and `:predict`, under
//! `/v1/models/{name}[/versions/{v}]`.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::repo::Version;
use super::request_id::RequestId;
use super::{decode, ApiError, Shared};
use crate::protocol::tensor::into_images;
use crate::protocol::tfserving::{parse_predict, predict_response};
use crate::protocol::Protocol;
use emnist_model::contract::output_dims;

/// `name` or `name/versions/{v}` → the model name and the version named, if any.
fn split(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once("/versions/") {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    }
}

pub async fn get(State(state): State<Shared>, Path(rest): Path<String>) -> Result<Json<Value>, ApiError> {
    if let Some(spec) = rest.strip_suffix("/metadata") {
        let (name, version) = split(spec);
        let version = state.resolve(name, version)?;
        return Ok(Json(metadata(&version)));
    }
    let (name, version) = split(&rest);
    // The model must exist (404 otherwise); its status lists every version seen, or the one named.
    state.resolve(name, None)?;
    let mut states = state.version_states(name);
    if let Some(v) = version {
        states.retain(|(n, _)| n.to_string() == v);
        if states.is_empty() {
            state.resolve(name, Some(v))?;
        }
    }
    let status: Vec<Value> = states
        .iter()
        .rev()
        .map(|(v, s)| {
            let (code, message) = match s.error() {
                Some(e) => ("UNKNOWN", e),
                None => ("OK", ""),
            };
            json!({ "version": v.to_string(), "state": s.tf_state(), "status": { "error_code": code, "error_message": message } })
        })
        .collect();
    Ok(Json(json!({ "model_version_status": status })))
}

pub async fn post(
    State(state): State<Shared>,
    Extension(id): Extension<RequestId>,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    match predict(&state, &id, &rest, body).await {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn predict(state: &Shared, id: &RequestId, rest: &str, body: Bytes) -> Result<Vec<u8>, ApiError> {
    let Some((spec, verb)) = rest.rsplit_once(':') else {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("POST needs a verb: /v1/models/{rest}:predict"),
        });
    };
    let (name, version) = split(spec);
    let version = state.resolve(name, version)?;
    if verb != "predict" {
        return Err(ApiError::not_found(format!("`:{verb}` is not offered; use `:predict`")));
    }
    let model = version.model.clone();
    let (format, images) = decode(body, move |b| {
        let req = parse_predict(b, &model.signature).map_err(ApiError::bad_request)?;
        Ok((req.format, into_images(req.input, &model.signature).map_err(ApiError::bad_request)?))
    })
    .await?;
    let out = state.infer(&version, images, id.as_str(), Protocol::Tfserving.as_str()).await?;
    let sig = &version.model.signature;
    let every: Vec<usize> = (0..sig.outputs.len()).collect();
    Ok(predict_response(format, &out, &every, sig))
}

fn metadata(version: &Version) -> Value {
    let model = &version.model;
    let k = model.classes();
    let dims = |d: &[i64]| -> Vec<Value> { d.iter().map(|s| json!({ "size": s.to_string(), "name": "" })).collect() };
    let tensor = |n: &str, d: &[i64]| json!({ "dtype": "DT_FLOAT", "tensor_shape": { "dim": dims(d), "unknown_rank": false }, "name": n });
    let sig = &model.signature;
    let outputs: serde_json::Map<String, Value> =
        sig.outputs.iter().map(|(o, _)| (o.clone(), tensor(o, &output_dims(k)))).collect();
    json!({
        "model_spec": { "name": version.name, "signature_name": "", "version": version.label() },
        "metadata": { "signature_def": { "signature_def": { "serving_default": {
            "inputs": { sig.input.clone(): tensor(&sig.input, &model.interface().layout.announced()) },
            "outputs": outputs,
            "method_name": "tensorflow/serving/predict"
        }}}},
        "class_names": model.class_names,
    })
}
