//! TensorFlow Serving's REST API: model status, metadata and `:predict`, under
//! `/v1/models/{name}[/versions/{v}]`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{decode, ApiError, Shared};
use crate::contract::output_dims;
use crate::protocol::tensor::to_images;
use crate::protocol::tfserving::{parse_predict, predict_response};

/// The version TF-Serving clients see (TF-Serving versions are integers).
const VERSION: &str = "1";

/// `name`, `name/versions/1` → the model name, checked against the version.
fn model_of<'a>(state: &Shared, spec: &'a str) -> Result<&'a str, ApiError> {
    let (name, version) = match spec.split_once("/versions/") {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    state.check_name(name)?;
    match version {
        Some(v) if v != VERSION => {
            Err(ApiError::not_found(format!("model `{name}` has version {VERSION} only, not `{v}`")))
        }
        _ => Ok(name),
    }
}

pub async fn get(State(state): State<Shared>, Path(rest): Path<String>) -> Result<Json<Value>, ApiError> {
    if let Some(spec) = rest.strip_suffix("/metadata") {
        let name = model_of(&state, spec)?;
        return Ok(Json(metadata(&state, name)));
    }
    model_of(&state, &rest)?;
    Ok(Json(json!({
        "model_version_status": [{
            "version": VERSION,
            "state": "AVAILABLE",
            "status": { "error_code": "OK", "error_message": "" }
        }]
    })))
}

pub async fn post(State(state): State<Shared>, Path(rest): Path<String>, body: Bytes) -> Response {
    match predict(&state, &rest, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn predict(state: &Shared, rest: &str, body: Bytes) -> Result<Value, ApiError> {
    let Some((spec, verb)) = rest.rsplit_once(':') else {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("POST needs a verb: /v1/models/{rest}:predict"),
        });
    };
    model_of(state, spec)?;
    if verb != "predict" {
        return Err(ApiError::not_found(format!("`:{verb}` is not offered; use `:predict`")));
    }
    let model = state.model.clone();
    let (format, images) = decode(body, move |b| {
        let req = parse_predict(b, &model.signature).map_err(ApiError::bad_request)?;
        Ok((req.format, to_images(&req.input, &model.signature).map_err(ApiError::bad_request)?))
    })
    .await?;
    let out = state.run(images).await?;
    let sig = &state.model.signature;
    let every: Vec<usize> = (0..sig.outputs.len()).collect();
    Ok(predict_response(format, &out, &every, sig))
}

fn metadata(state: &Shared, name: &str) -> Value {
    let k = state.model.classes();
    let dims = |d: &[i64]| -> Vec<Value> { d.iter().map(|s| json!({ "size": s.to_string(), "name": "" })).collect() };
    let tensor = |n: &str, d: &[i64]| json!({ "dtype": "DT_FLOAT", "tensor_shape": { "dim": dims(d), "unknown_rank": false }, "name": n });
    let sig = &state.model.signature;
    let outputs: serde_json::Map<String, Value> =
        sig.outputs.iter().map(|(o, _)| (o.clone(), tensor(o, &output_dims(k)))).collect();
    json!({
        "model_spec": { "name": name, "signature_name": "", "version": VERSION },
        "metadata": { "signature_def": { "signature_def": { "serving_default": {
            "inputs": { sig.input.clone(): tensor(&sig.input, &state.model.interface().layout.announced()) },
            "outputs": outputs,
            "method_name": "tensorflow/serving/predict"
        }}}},
        "class_names": state.model.class_names,
    })
}
