//! The draw-and-predict page (`GET /`, embedded in the binary) and the image endpoint
//! (`POST /predict`: a PNG or JPEG as the raw body or as the multipart field `image`), which the
//! page uses too, so both go through the same preprocessing. Pictures over the size limit are
//! refused from their header (422), and one picture per core decodes at a time.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::request_id::RequestId;
use super::{payload, ApiError, Shared};
use crate::preprocess::{self, ImageError};
use crate::protocol::tensor::{to_images, InputTensor, Values};

const PAGE: &str = include_str!("../../assets/web/index.html");

/// The page, with the model's description filled in.
pub async fn page(State(state): State<Shared>) -> Result<Html<String>, ApiError> {
    let v = state.default_version()?;
    let model = json!({
        "name": v.name,
        "version": v.label(),
        "classes": v.model.classes(),
        "architecture": v.model.architecture(),
        "test_accuracy": v.model.test_accuracy(),
        "dataset": v.model.metadata.get("dataset"),
        "sha256": v.model.sha256,
        "class_names": v.model.class_names,
        // With `--log-dir`, the page takes corrections; the counts so far.
        "feedback": state.payload().map(|log| {
            let (corrections, confirmations) = log.feedback_counts();
            json!({ "corrections": corrections, "confirmations": confirmations })
        }),
    });
    // `<` escaped so the JSON cannot close the script element.
    let model = model.to_string().replace('<', "\\u003c");
    Ok(Html(PAGE.replacen("/*MODEL_JSON*/null", &model, 1)))
}

#[derive(Debug, Deserialize)]
pub struct PredictParams {
    /// How many classes to return, most probable first.
    k: Option<usize>,
    /// Also return what the model saw and how the picture was read.
    detail: Option<u8>,
    /// Which model answers (default: the server's default model).
    model: Option<String>,
    /// Which version of it (default: the newest).
    version: Option<String>,
}

/// One class of the answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub probability: f32,
}

pub async fn predict(
    State(state): State<Shared>,
    Extension(id): Extension<RequestId>,
    Query(params): Query<PredictParams>,
    req: Request,
) -> Response {
    match run(&state, &id, &params, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &Shared, id: &RequestId, params: &PredictParams, req: Request) -> Result<Response, ApiError> {
    let version = match &params.model {
        Some(name) => state.resolve(name, params.version.as_deref())?,
        None => state.catalog().default_model_version(&state.name, params.version.as_deref())?,
    };
    let classes = version.model.classes();
    let k = params.k.unwrap_or(5);
    if k == 0 || k > classes {
        return Err(bad(format!("`k` must be between 1 and {classes}")));
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let bytes = if is_multipart { image_field(req, state).await? } else { body(req, state).await? };
    if bytes.is_empty() {
        return Err(bad("send a PNG or JPEG image as the body, or as the multipart field `image`".into()));
    }
    // At most one picture per core decodes at once; the others wait here (within the request
    // timeout), holding only their body. The decoding task holds the permit: a request that
    // times out does not free it while its picture is still being decoded.
    let permit = decodes().clone().acquire_owned().await.map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "the server is shutting down".into(),
    })?;
    let prepared = tokio::task::spawn_blocking(move || {
        let prepared = preprocess::prepare(&bytes);
        drop(permit);
        prepared
    })
    .await
    .map_err(|_| ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: "image decoding failed".into() })?
    .map_err(|e| ApiError { status: image_status(&e), message: e.to_string() })?;
    let input = InputTensor { shape: vec![1, 784], values: Values::U8(prepared.pixels.clone()) };
    let images = to_images(&input, &version.model.signature).map_err(|e| bad(e.to_string()))?;
    let out = state.infer(&version, images, id.as_str(), payload::PREDICT).await?;
    let top = top_k(&out.probabilities, &version.model.class_names, k);
    if params.detail.unwrap_or(0) == 0 {
        return Ok(Json(top).into_response());
    }
    Ok(Json(json!({
        "predictions": top,
        "preview": prepared.pixels,
        "inverted": prepared.inverted,
        "as_is": prepared.as_is,
        "source": [prepared.source.0, prepared.source.1],
        "model": version.name,
        "version": version.label(),
        "id": id.as_str(),
    }))
    .into_response())
}

/// The answer to a picture that cannot be read: 415 when it is no PNG or JPEG at all, 422 when it
/// is one the limits refuse, 400 when it is damaged or blank.
fn image_status(e: &ImageError) -> StatusCode {
    match e {
        ImageError::NotPngOrJpeg | ImageError::Unsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ImageError::TooLarge { .. } | ImageError::TooMuchMemory { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ImageError::Damaged { .. } | ImageError::Blank => StatusCode::BAD_REQUEST,
    }
}

/// Pictures decoded at once, server-wide: one per core (each may take up to
/// [`preprocess::DECODE_ALLOC_BYTES`] and its conversions; see the README's memory bound).
fn decodes() -> &'static Arc<tokio::sync::Semaphore> {
    static DECODES: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    DECODES.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(decode_slots())))
}

/// How many pictures may decode at once: the number of cores.
pub fn decode_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn bad(message: String) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, message }
}

async fn body(req: Request, state: &Shared) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| ApiError { status: e.status(), message: e.body_text() })
}

/// The bytes of the multipart field `image`.
async fn image_field(req: Request, state: &Shared) -> Result<Bytes, ApiError> {
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError { status: e.status(), message: e.body_text() })?;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("image") => {
                return field.bytes().await.map_err(|e| ApiError { status: e.status(), message: e.body_text() });
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(bad("the form has no field named `image`".into())),
            Err(e) => return Err(ApiError { status: e.status(), message: e.body_text() }),
        }
    }
}

/// The `k` most probable classes, most probable first (the lower index first on ties).
pub fn top_k(probabilities: &[f32], names: &[String], k: usize) -> Vec<Prediction> {
    let mut idx: Vec<usize> = (0..probabilities.len()).collect();
    idx.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]).then(a.cmp(&b)));
    idx.into_iter()
        .take(k)
        .map(|i| Prediction {
            label: names.get(i).cloned().unwrap_or_else(|| i.to_string()),
            probability: probabilities[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_probability() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let top = top_k(&[0.2, 0.5, 0.3], &names, 2);
        assert_eq!(top.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(top_k(&[0.5, 0.5, 0.0], &names, 3)[0].label, "a");
    }

    #[test]
    fn the_page_is_self_contained() {
        for needle in ["http://", "https://", "<link", "src=\""] {
            assert!(!PAGE.contains(needle), "the page must fetch nothing from elsewhere: {needle}");
        }
        assert!(PAGE.contains("/*MODEL_JSON*/null"));
    }
}
