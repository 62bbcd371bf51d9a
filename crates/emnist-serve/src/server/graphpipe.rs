//! GraphPipe over HTTP: flatbuffers `Request`s POSTed to `/`. A request's `config` names the
//! model (`name` or `name:version`; empty: the default model, newest version). Errors travel in
//! the `InferResponse`'s `errors` (code = HTTP status), with a 4xx/5xx status as well.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::repo::Version;
use super::request_id::RequestId;
use super::{decode, ApiError, Shared};
use crate::protocol::graphpipe::{self as gp, ErrorOut, IoMetadata, Metadata, Request, TensorIn, TensorOut, Type};
use crate::protocol::tensor::{check_input_names, select_outputs, to_images, Images, InputError};
use crate::protocol::Protocol;
use emnist_model::contract::{output_dims, Signature, EXPECTED_SHAPES};

pub async fn handle(State(state): State<Shared>, Extension(id): Extension<RequestId>, body: Bytes) -> Response {
    let shared = state.clone();
    let decoded = decode(body, move |b| match gp::decode_request(b) {
        Err(e) => Err(ApiError { status: StatusCode::BAD_REQUEST, message: e.to_string() }),
        Ok(Request::Metadata) => Ok(None),
        Ok(Request::Infer(req)) => {
            let version = pick(&shared.catalog(), &shared.name, &req.config)?;
            let (outputs, images) = prepare(req, &version.model.signature)?;
            Ok(Some((version, outputs, images)))
        }
    })
    .await;
    let result = match decoded {
        Err(e) => Err(e),
        Ok(None) => {
            return match state.default_version() {
                Ok(v) => flatbuffer(StatusCode::OK, gp::encode_metadata_response(&metadata(&v))),
                Err(e) => error(e),
            }
        }
        Ok(Some((version, outputs, images))) => infer(&state, &id, &version, outputs, images).await,
    };
    match result {
        Ok(outputs) => flatbuffer(StatusCode::OK, gp::encode_infer_response(&outputs, &[])),
        Err(e) => error(e),
    }
}

fn error(e: ApiError) -> Response {
    let err = ErrorOut { code: e.status.as_u16() as i64, message: e.message };
    flatbuffer(e.status, gp::encode_infer_response(&[], &[err]))
}

/// The version a request's `config` names: `name`, `name:version`, or nothing (the default model).
fn pick(catalog: &super::repo::Catalog, default: &str, config: &str) -> Result<std::sync::Arc<Version>, ApiError> {
    let config = config.trim();
    if config.is_empty() {
        return catalog.default_version(default);
    }
    let (name, version) = match config.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (config, None),
    };
    catalog.resolve(name, version)
}

/// The outputs asked for (indices into the signature's outputs) and the input as images.
fn prepare(req: gp::InferRequest, sig: &Signature) -> Result<(Vec<usize>, Images), ApiError> {
    let bad = ApiError::bad_request;
    check_input_names(&req.input_names, sig).map_err(bad)?;
    let outputs = select_outputs(&req.output_names, sig).map_err(bad)?;
    let tensor = match req.inputs.as_slice() {
        [] => return Err(bad(InputError::Missing)),
        [TensorIn::Values(t)] => t,
        [TensorIn::Unsupported { type_name }] => return Err(bad(InputError::Type(type_name.clone()))),
        many => return Err(bad(InputError::TooMany(many.len()))),
    };
    Ok((outputs, to_images(tensor, sig).map_err(bad)?))
}

async fn infer(
    state: &Shared,
    id: &RequestId,
    version: &Version,
    outputs: Vec<usize>,
    images: Images,
) -> Result<Vec<TensorOut>, ApiError> {
    let out = state.infer(version, images, id.as_str(), Protocol::Graphpipe.as_str()).await?;
    Ok(outputs
        .into_iter()
        .map(|i| TensorOut {
            shape: vec![out.n as i64, out.classes as i64],
            values: out.get(version.model.signature.outputs[i].1).to_vec(),
        })
        .collect())
}

fn metadata(version: &Version) -> Metadata {
    let k = version.model.classes();
    let sig = &version.model.signature;
    let out = |name: &str, what: &str| IoMetadata {
        name: name.into(),
        description: what.into(),
        shape: output_dims(k).to_vec(),
        type_: Type::Float32,
    };
    Metadata {
        name: version.name.clone(),
        version: version.label(),
        server: format!("emnist {}", env!("CARGO_PKG_VERSION")),
        description: format!(
            "{} classes ({}); input `{}` float32 in [0, {}] or uint8 0..255, shape {EXPECTED_SHAPES}",
            k,
            version.model.architecture().unwrap_or_else(|| "model".into()),
            sig.input,
            sig.max_float()
        ),
        inputs: vec![IoMetadata {
            name: sig.input.clone(),
            description: "upright 28x28 grey images, light ink on dark".into(),
            shape: version.model.interface().layout.announced(),
            type_: Type::Float32,
        }],
        outputs: sig.outputs.iter().map(|(name, kind)| out(name, kind.description())).collect(),
    }
}

fn flatbuffer(status: StatusCode, bytes: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}
