//! `POST /feedback`: a person's word on a logged answer, `{"id": "…", "label": "7", "index": 0}`,
//! checked against the index of logged requests and appended to the log.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Dropped, PayloadLog};
use crate::server::{ApiError, Shared};
use emnist_data::payload_log::{Entry, Feedback};
use emnist_data::setting::Setting;

/// The body of `POST /feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    /// The request id the answer carried (`X-Request-Id`, KServe's `id`, `/predict`'s `id`).
    id: String,
    /// The true class, as the model's labels spell it.
    label: String,
    /// Which image of the request (0 for one-image requests).
    #[serde(default)]
    index: u32,
}

/// What a recorded feedback answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub predicted: String,
    pub correction: bool,
}

pub async fn handle(State(state): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let Some(log) = state.payload() else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "feedback is off: this server keeps no payload log; start it with {}",
                Setting::LogDir.given("DIR")
            ),
        });
    };
    let not_feedback = |why: String| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!(
            r#"the body is not feedback: send {{"id": "…", "label": "…", "index": 0}} (`index` optional): {why}"#
        ),
    };
    // An object only (serde would also take a struct from an array of its fields).
    let body: FeedbackBody = match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => serde_json::from_value(v).map_err(|e| not_feedback(e.to_string()))?,
        Ok(_) => return Err(not_feedback("it is not a JSON object".into())),
        Err(e) => return Err(not_feedback(e.to_string())),
    };
    let recorded = log.feedback(&body.id, body.index, &body.label)?;
    let (corrections, confirmations) = log.feedback_counts();
    Ok(Json(json!({
        "id": body.id,
        "index": body.index,
        "label": body.label,
        "predicted": recorded.predicted,
        "correction": recorded.correction,
        "corrections": corrections,
        "confirmations": confirmations,
    })))
}

impl PayloadLog {
    /// Checks feedback on image `index` of request `id` (a logged request this server remembers,
    /// an image it had, a class of the model that answered) and queues it for the log.
    pub fn feedback(&self, id: &str, index: u32, label: &str) -> Result<Recorded, ApiError> {
        let bad = |message: String| ApiError { status: StatusCode::BAD_REQUEST, message };
        let (logged, remembered) = {
            let ix = self.index.lock().unwrap_or_else(|e| e.into_inner());
            let logged = ix.get(id);
            let logged = logged.map(|l| (l.model.clone(), l.predicted.get(index as usize).copied(), l.predicted.len()));
            (logged, ix.capacity())
        };
        let Some((model, predicted, n)) = logged else {
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!(
                    "no logged request has the id `{}`: feedback names the id an answer carried (`X-Request-Id`, or the `id` in the answer) of one of the last {remembered} logged requests",
                    shorten(id)
                ),
            });
        };
        let Some(predicted) = predicted else {
            return Err(bad(format!(
                "request `{}` had {n} image{}: `index` must be below {n}",
                shorten(id),
                if n == 1 { "" } else { "s" }
            )));
        };
        if !model.classes.iter().any(|c| c == label) {
            return Err(bad(format!(
                "`{}` is not a class of model `{}` version {}; its classes are {}",
                shorten(label),
                model.name,
                model.version,
                model.class_list()
            )));
        }
        let predicted = model.class(predicted as usize).into_owned();
        let correction = predicted != label;
        let entry = Feedback { id: id.to_string(), index, time_ms: super::now_ms(), label: label.to_string() };
        if let (0, Some(why)) = self.queue.push(&Entry::Feedback(entry).encode(), 1) {
            self.stats.drop_entries(why, 1);
            let message = match why {
                Dropped::Stopped => "the server is stopping; the feedback was not recorded",
                _ => "the payload log is behind; the feedback was not recorded: retry shortly",
            };
            return Err(ApiError { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into() });
        }
        let counter = if correction { &self.stats.corrections } else { &self.stats.confirmations };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Recorded { predicted, correction })
    }
}

/// At most 128 characters of client text in a message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(128) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}
