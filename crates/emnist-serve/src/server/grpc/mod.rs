//! KServe v2 / Open Inference Protocol over gRPC on `--grpc-port`: the service
//! `inference.GRPCInferenceService` as Triton defines it (health, metadata, `ModelInfer` with typed
//! `contents` or `raw_input_contents`, and Triton's `ModelConfig` and `RepositoryIndex`, which its
//! tools read). The same models, batcher, limits, metrics and shutdown as HTTP; a failure gets the
//! gRPC status code that stands for the HTTP status it would get there.

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unused_qualifications)]
pub mod inference;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use tonic::{Code, Request, Response, Status};

use inference::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};
use inference::model_config::SchedulingChoice;
use inference::model_infer_response::InferOutputTensor;
use inference::model_metadata_response::TensorMetadata;
use inference::{
    DataType, ModelConfig, ModelConfigRequest, ModelConfigResponse, ModelDynamicBatching, ModelInferRequest,
    ModelInferResponse, ModelInput, ModelMetadataRequest, ModelMetadataResponse, ModelOutput, ModelParameter,
    ModelReadyRequest, ModelReadyResponse, RepositoryIndexRequest, RepositoryIndexResponse, ServerLiveRequest,
    ServerLiveResponse, ServerMetadataRequest, ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};

use super::repo::{Version, VersionState};
use super::request_id::RequestId;
use super::{ApiError, Shared, Tracked};
use crate::protocol::kserve::{images, input_tensor, requested_outputs, Data, Datatype, KserveError};
use crate::protocol::tensor::{batch_of, the_input, InputTensor};
use crate::protocol::Traffic;
use emnist_data::setting::Setting;
use emnist_model::contract::{output_dims, Signature};

/// The service's full name, the prefix of every RPC's path.
pub const SERVICE: &str = "inference.GRPCInferenceService";

/// The gRPC service as a router for the connection layer ([`super::conn`], HTTP/2): every call
/// goes through [`call`] (accounting, the deadline, the message-size answer); paths of other
/// services answer UNIMPLEMENTED.
pub(super) fn router(state: Shared) -> axum::Router {
    let service = GrpcInferenceServiceServer::new(Grpc { state: state.clone() })
        .max_decoding_message_size(state.max_body)
        .max_encoding_message_size(usize::MAX);
    tonic::service::Routes::new(service).into_axum_router().layer(axum::middleware::from_fn_with_state(state, call))
}

/// One call's accounting, like an HTTP request's (metrics with protocol `grpc` and the HTTP
/// status its outcome stands for, the log, the in-flight count), and its deadline: the shorter of
/// `--request-timeout-ms` and the client's own `grpc-timeout`, receiving the message included
/// (a message that trickles in gets DEADLINE_EXCEEDED like a slow answer).
async fn call(State(state): State<Shared>, req: axum::extract::Request, next: Next) -> axum::response::Response {
    let path = req.uri().path().to_string();
    let rpc = path.rsplit('/').next().unwrap_or_default();
    // Health checks are cheap and must get through: not counted, never turned away.
    let counted = !matches!(rpc, "ServerLive" | "ServerReady" | "ModelReady" | "ServerMetadata");
    let mut tracked = Tracked::start(&state, Traffic::Grpc, Method::POST, path, counted);
    let client = client_deadline(req.headers());
    let limit = client.map_or(state.request_timeout, |d| d.min(state.request_timeout));
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => over_limit_as_resource_exhausted(resp, state.max_body),
        Err(_) => {
            let message = if client.is_some_and(|d| d < state.request_timeout) {
                format!("the call took longer than its deadline (`grpc-timeout`) of {} ms", limit.as_millis())
            } else {
                format!(
                    "the call took longer than {} ms (receiving its message included); send it faster or raise {}",
                    limit.as_millis(),
                    Setting::RequestTimeoutMs
                )
            };
            Status::deadline_exceeded(message).into_http()
        }
    };
    tracked.done(http_status_of(&resp));
    resp
}

/// The client's deadline from the `grpc-timeout` header (gRPC over HTTP/2: 1 to 8 digits and a
/// unit, `H` `M` `S` `m` `u` `n`); `None` when absent or malformed.
fn client_deadline(headers: &axum::http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The HTTP status a call's outcome stands for, from its `grpc-status` (only an error answer
/// carries it in its headers; a success carries it in the trailers).
fn http_status_of<B>(resp: &axum::http::Response<B>) -> u16 {
    let code = resp.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<i32>().ok());
    match code.map(Code::from_i32) {
        None | Some(Code::Ok) => 200,
        Some(Code::InvalidArgument) => 400,
        Some(Code::Unauthenticated) => 401,
        Some(Code::NotFound) => 404,
        Some(Code::DeadlineExceeded) => 408,
        Some(Code::ResourceExhausted) => 413,
        Some(Code::Cancelled) => super::CLIENT_GONE,
        Some(Code::Unimplemented) => 501,
        Some(Code::Unavailable) => 503,
        Some(_) => 500,
    }
}

struct Grpc {
    state: Shared,
}

/// tonic refuses a message over `--max-body` with OUT_OF_RANGE ("decoded message length too
/// large"); gRPC's own table of status codes says RESOURCE_EXHAUSTED for that, and HTTP answers
/// 413 with a hint: answer so here too.
fn over_limit_as_resource_exhausted<B>(mut r: axum::http::Response<B>, max_body: usize) -> axum::http::Response<B> {
    let h = r.headers_mut();
    let too_large = h.get("grpc-status").is_some_and(|v| v.as_bytes() == b"11")
        && h.get("grpc-message").is_some_and(|m| {
            String::from_utf8_lossy(m.as_bytes()).replace("%20", " ").contains("message length too large")
        });
    if too_large {
        let message = format!(
            "the message is larger than the server's limit of {max_body} bytes; send fewer images per call or raise {}",
            Setting::MaxBody
        );
        h.insert("grpc-status", axum::http::HeaderValue::from_static("8"));
        if let Ok(v) = axum::http::HeaderValue::from_str(&message) {
            h.insert("grpc-message", v);
        }
    }
    r
}

/// The gRPC code for the HTTP status the same failure gets over HTTP.
fn code_for(status: StatusCode) -> Code {
    match status.as_u16() {
        400 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        404 => Code::NotFound,
        408 => Code::DeadlineExceeded,
        413 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}

fn status_of(e: ApiError) -> Status {
    Status::new(code_for(e.status), e.message)
}

/// The gRPC answer to a KServe refusal: every one is the client's to fix (INVALID_ARGUMENT, what
/// HTTP's 400 stands for).
fn refusal(e: KserveError) -> Status {
    let code = match &e {
        KserveError::Input(_)
        | KserveError::Datatype { .. }
        | KserveError::Uint8Range { .. }
        | KserveError::PartialValue { .. }
        | KserveError::Classification { .. }
        | KserveError::Malformed(_) => Code::InvalidArgument,
    };
    Status::new(code, e.to_string())
}

fn answer<T>(r: Result<T, ApiError>) -> Result<Response<T>, Status> {
    r.map(Response::new).map_err(status_of)
}

fn version_arg(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

#[tonic::async_trait]
impl GrpcInferenceService for Grpc {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        answer(Ok(ServerLiveResponse { live: self.state.is_live() }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        answer(Ok(ServerReadyResponse { ready: self.state.not_ready().is_none() }))
    }

    async fn model_ready(&self, req: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = req.into_inner();
        // An unknown model or version is not ready (Triton answers so too), not an error.
        let ready = self.state.resolve(&r.name, version_arg(&r.version)).is_ok() && self.state.not_ready().is_none();
        answer(Ok(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        req: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        self.guarded(req, |_| {
            Ok(ServerMetadataResponse {
                name: "emnist".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                extensions: vec!["model_configuration".into(), "model_repository".into()],
            })
        })
    }

    async fn model_metadata(
        &self,
        req: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        self.guarded(req, |r| self.state.resolve(&r.name, version_arg(&r.version)).map(|v| metadata(&self.state, &v)))
    }

    async fn model_config(&self, req: Request<ModelConfigRequest>) -> Result<Response<ModelConfigResponse>, Status> {
        self.guarded(req, |r| {
            let v = self.state.resolve(&r.name, version_arg(&r.version))?;
            Ok(ModelConfigResponse { config: Some(config(&self.state, &v)) })
        })
    }

    async fn repository_index(
        &self,
        req: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        self.guarded(req, |_| {
            let models = self
                .state
                .all_version_states()
                .into_iter()
                .map(|(name, version, s)| inference::repository_index_response::ModelIndex {
                    name,
                    version: version.to_string(),
                    state: match s {
                        VersionState::Available => "READY",
                        VersionState::Loading => "LOADING",
                        VersionState::Failed(_) => "UNAVAILABLE",
                    }
                    .into(),
                    reason: s.error().unwrap_or_default().to_string(),
                })
                .collect();
            Ok(RepositoryIndexResponse { models })
        })
    }

    async fn model_infer(&self, req: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        // Counted in flight by `call`, which also bounds the time it takes.
        self.authorize(&req).map_err(status_of)?;
        if let Some(e) = self.state.turn_away() {
            return Err(status_of(e));
        }
        self.infer(req.into_inner()).await.map(Response::new)
    }
}

impl Grpc {
    /// A unary RPC other than health and inference: refused without an accepted token, else
    /// answered by `f`.
    fn guarded<R, T>(&self, req: Request<R>, f: impl FnOnce(R) -> Result<T, ApiError>) -> Result<Response<T>, Status> {
        answer(self.authorize(&req).and_then(|()| f(req.into_inner())))
    }

    /// With `--auth-token-file`, the call's `authorization` metadata must carry an accepted bearer
    /// token (health RPCs do not ask).
    fn authorize<T>(&self, req: &Request<T>) -> Result<(), ApiError> {
        let Some(tokens) = &self.state.tokens else { return Ok(()) };
        let header = req.metadata().get("authorization").map(|v| v.as_bytes());
        match tokens.authorizes(header) {
            super::access::Authorization::Granted => Ok(()),
            refused => Err(ApiError { status: StatusCode::UNAUTHORIZED, message: refused.message().into() }),
        }
    }

    async fn infer(&self, req: ModelInferRequest) -> Result<ModelInferResponse, Status> {
        let version = self.state.resolve(&req.model_name, version_arg(&req.model_version)).map_err(status_of)?;
        let sig = &version.model.signature;
        let (input, outputs) = parse_request(&req, sig).map_err(refusal)?;
        let images = images(input, sig).map_err(refusal)?;
        // The answer echoes the request's id (a fresh one when it has none): the id logged.
        let id = if req.id.is_empty() { RequestId::fresh().to_string() } else { req.id };
        let out = self.state.infer(&version, images, &id, Traffic::Grpc.as_str()).await.map_err(status_of)?;
        let mut resp = ModelInferResponse {
            model_name: version.name.clone(),
            model_version: version.label(),
            id,
            ..Default::default()
        };
        for i in outputs {
            let (name, kind) = &sig.outputs[i];
            resp.outputs.push(InferOutputTensor {
                name: name.clone(),
                datatype: Datatype::Fp32.as_str().into(),
                shape: vec![out.n as i64, out.classes as i64],
                ..Default::default()
            });
            resp.raw_output_contents.push(out.get(*kind).iter().flat_map(|v| v.to_le_bytes()).collect());
        }
        Ok(resp)
    }
}

/// The request's one input tensor (from `raw_input_contents`, little-endian, or the typed
/// `contents`) and the outputs asked for, by index into the signature's outputs (none: all).
pub fn parse_request(req: &ModelInferRequest, sig: &Signature) -> Result<(InputTensor, Vec<usize>), KserveError> {
    let input = the_input(&req.inputs, |i| i.name.as_str(), sig)?;
    batch_of(&input.shape)?;
    let typed = input.contents.as_ref();
    let data = match req.raw_input_contents.as_slice() {
        [] => {
            let c = typed.ok_or_else(|| {
                KserveError::Malformed(format!(
                    "input `{}` has neither `contents` nor `raw_input_contents`",
                    input.name
                ))
            })?;
            Data::Typed { fp32: &c.fp32_contents, fp64: &c.fp64_contents, uint: &c.uint_contents }
        }
        [raw] => {
            let has_typed = typed.is_some_and(|c| {
                let counts = [
                    c.fp32_contents.len(),
                    c.fp64_contents.len(),
                    c.uint_contents.len(),
                    c.int_contents.len(),
                    c.int64_contents.len(),
                    c.uint64_contents.len(),
                    c.bool_contents.len(),
                    c.bytes_contents.len(),
                ];
                counts.iter().any(|&n| n > 0)
            });
            if has_typed {
                return Err(KserveError::Malformed(format!(
                    "input `{}` has both `contents` and `raw_input_contents`: send one",
                    input.name
                )));
            }
            Data::Raw(raw)
        }
        many => {
            return Err(KserveError::Malformed(format!(
                "`raw_input_contents` has {} entries for {} input(s)",
                many.len(),
                req.inputs.len()
            )))
        }
    };
    let tensor = input_tensor(&input.shape, &input.datatype, data)?;
    let outputs = requested_outputs(
        req.outputs.iter().map(|o| (o.name.as_str(), o.parameters.contains_key("classification"))),
        sig,
    )?;
    Ok((tensor, outputs))
}

fn metadata(state: &Shared, version: &Version) -> ModelMetadataResponse {
    let model = &version.model;
    let k = model.classes();
    let versions = state.catalog().models.get(&version.name).map(|v| v.keys().map(u64::to_string).collect());
    ModelMetadataResponse {
        name: version.name.clone(),
        versions: versions.unwrap_or_default(),
        platform: "onnx".into(),
        inputs: vec![TensorMetadata {
            name: model.signature.input.clone(),
            datatype: Datatype::Fp32.as_str().into(),
            shape: model.interface().layout.announced().to_vec(),
        }],
        outputs: model
            .signature
            .outputs
            .iter()
            .map(|(name, _)| TensorMetadata {
                name: name.clone(),
                datatype: Datatype::Fp32.as_str().into(),
                shape: output_dims(k).to_vec(),
            })
            .collect(),
    }
}

/// Triton's model configuration, as `GET /v2/models/{name}/config` answers it over HTTP.
fn config(state: &Shared, version: &Version) -> ModelConfig {
    let model = &version.model;
    let k = model.classes() as i64;
    let param = |s: String| ModelParameter { string_value: s };
    ModelConfig {
        name: version.name.clone(),
        platform: "onnxruntime_onnx".into(),
        backend: version.engine.as_str().into(),
        max_batch_size: i32::try_from(state.max_batch()).unwrap_or(i32::MAX),
        input: vec![ModelInput {
            name: model.signature.input.clone(),
            data_type: DataType::TypeFp32 as i32,
            dims: model.interface().layout.announced()[1..].to_vec(),
            ..Default::default()
        }],
        output: model
            .signature
            .outputs
            .iter()
            .map(|(name, _)| ModelOutput {
                name: name.clone(),
                data_type: DataType::TypeFp32 as i32,
                dims: vec![k],
                ..Default::default()
            })
            .collect(),
        scheduling_choice: Some(SchedulingChoice::DynamicBatching(ModelDynamicBatching::default())),
        parameters: HashMap::from([
            ("sha256".to_string(), param(model.sha256.clone())),
            ("version".to_string(), param(version.label())),
        ]),
        ..Default::default()
    }
}

/// Binds the gRPC port (`host:port`; 0 picks a free one).
pub(super) async fn bind(host: &str, port: u16) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    use anyhow::Context;
    let addr = format!("{host}:{port}");
    let l = tokio::net::TcpListener::bind(&addr).await.with_context(|| {
        format!(
            "cannot listen for gRPC on `{addr}`: is another server using the port? pick another with {}",
            Setting::GrpcPort
        )
    })?;
    let local = l.local_addr()?;
    Ok((l, local))
}

#[cfg(test)]
mod tests {
    use super::inference::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
    use super::inference::InferTensorContents;
    use super::*;

    fn request(datatype: &str, shape: &[i64]) -> ModelInferRequest {
        ModelInferRequest {
            model_name: "emnist".into(),
            inputs: vec![InferInputTensor {
                name: "image".into(),
                datatype: datatype.into(),
                shape: shape.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn raw_and_typed_contents_give_the_same_tensor() {
        let sig = Signature::ours();
        let pixels: Vec<u8> = (0..784u32).map(|i| (i % 256) as u8).collect();
        let mut raw = request("UINT8", &[1, 28, 28]);
        raw.raw_input_contents.push(pixels.clone().into());
        let mut typed = request("UINT8", &[1, 28, 28]);
        typed.inputs[0].contents = Some(InferTensorContents {
            uint_contents: pixels.iter().map(|&p| p as u32).collect(),
            ..Default::default()
        });
        let (a, outs) = parse_request(&raw, &sig).unwrap();
        let (b, _) = parse_request(&typed, &sig).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.values, crate::protocol::Values::U8(pixels));
        assert_eq!(outs, vec![0, 1], "no outputs named: every output");

        let floats: Vec<f32> = (0..784).map(|i| i as f32 / 784.0).collect();
        let mut raw = request("FP32", &[1, 784]);
        raw.raw_input_contents.push(floats.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>().into());
        raw.outputs.push(InferRequestedOutputTensor { name: "probabilities".into(), ..Default::default() });
        let mut typed = request("FP32", &[1, 784]);
        typed.inputs[0].contents = Some(InferTensorContents { fp32_contents: floats.clone(), ..Default::default() });
        let (a, outs) = parse_request(&raw, &sig).unwrap();
        assert_eq!(a, parse_request(&typed, &sig).unwrap().0);
        assert_eq!(a.values, crate::protocol::Values::F32(floats));
        assert_eq!(outs, vec![1]);
    }

    #[test]
    fn malformed_requests_are_input_errors() {
        let sig = Signature::ours();
        let err = |r: &ModelInferRequest| parse_request(r, &sig).unwrap_err().to_string();
        assert!(err(&ModelInferRequest::default()).contains("no input tensor"));
        let mut r = request("UINT8", &[1, 784]);
        assert!(err(&r).contains("neither"));
        r.raw_input_contents = vec![vec![0; 784].into(), vec![0; 784].into()];
        assert!(err(&r).contains("2 entries"));
        r.raw_input_contents = vec![vec![0; 783].into()];
        assert!(err(&r).contains("783"), "{}", err(&r));
        r.raw_input_contents = vec![vec![0; 784].into()];
        r.inputs[0].contents = Some(InferTensorContents { bool_contents: vec![true], ..Default::default() });
        assert!(err(&r).contains("both"));
        let mut r = request("UINT8", &[1, 784]);
        r.inputs[0].contents = Some(InferTensorContents { uint_contents: vec![300; 784], ..Default::default() });
        assert!(err(&r).contains("not an integer 0..255"));
        let mut r = request("BYTES", &[1, 784]);
        r.raw_input_contents = vec![vec![0; 784].into()];
        assert!(err(&r).contains("BYTES"));
        let mut r = request("UINT8", &[1, 784]);
        r.raw_input_contents = vec![vec![0; 784].into()];
        r.outputs.push(InferRequestedOutputTensor { name: "softmax".into(), ..Default::default() });
        assert!(err(&r).contains("unknown output"));
        let mut r = request("UINT8", &[i64::MAX, 784]);
        r.raw_input_contents = vec![vec![0; 784].into()];
        assert!(parse_request(&r, &sig).is_err());
    }

    #[test]
    fn http_statuses_map_to_grpc_codes() {
        assert_eq!(code_for(StatusCode::BAD_REQUEST), Code::InvalidArgument);
        assert_eq!(code_for(StatusCode::NOT_FOUND), Code::NotFound);
        assert_eq!(code_for(StatusCode::UNAUTHORIZED), Code::Unauthenticated);
        assert_eq!(code_for(StatusCode::SERVICE_UNAVAILABLE), Code::Unavailable);
        assert_eq!(code_for(StatusCode::REQUEST_TIMEOUT), Code::DeadlineExceeded);
        assert_eq!(code_for(StatusCode::INTERNAL_SERVER_ERROR), Code::Internal);
    }
}
