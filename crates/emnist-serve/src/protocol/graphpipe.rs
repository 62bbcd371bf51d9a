//! GraphPipe's flatbuffers messages: decoding requests (server) and responses (client), encoding
//! both. The schema is `graphpipe.fbs`; planus generated `graphpipe_generated.rs` from it, whose
//! readers check every offset, so garbage bytes give an error, never a panic.

use planus::{Builder, ReadAsRoot};

use super::tensor::{InputTensor, Values};

#[allow(clippy::all, unused_imports, dead_code, missing_docs)]
#[rustfmt::skip] // generated: `make protocol` regenerates it
#[path = "graphpipe_generated.rs"]
mod generated;

pub use generated::graphpipe as fb;

/// GraphPipe's element type codes (`Type` in the schema).
pub use fb::Type;

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Infer(InferRequest),
    Metadata,
}

/// A decoded `InferRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InferRequest {
    pub config: String,
    pub input_names: Vec<String>,
    /// Tensors of the types we accept; see [`TensorIn`].
    pub inputs: Vec<TensorIn>,
    pub output_names: Vec<String>,
}

/// A request tensor: its values when of a type we read, else the type's name.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorIn {
    Values(InputTensor),
    Unsupported { type_name: String },
}

/// Why bytes are not a GraphPipe message, or hold one we cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not a GraphPipe flatbuffer ({0})")]
    Flatbuffer(String),
    #[error("the GraphPipe request holds neither an InferRequest nor a MetadataRequest")]
    Empty,
    #[error("tensor {index}: {message}")]
    Tensor { index: usize, message: String },
}

impl From<planus::Error> for DecodeError {
    fn from(e: planus::Error) -> Self {
        DecodeError::Flatbuffer(e.to_string())
    }
}

/// Decodes a request body.
pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let root = fb::RequestRef::read_as_root(bytes)?;
    match root.req()? {
        None => Err(DecodeError::Empty),
        Some(fb::ReqRef::MetadataRequest(_)) => Ok(Request::Metadata),
        Some(fb::ReqRef::InferRequest(r)) => {
            let mut out = InferRequest { config: r.config()?.unwrap_or_default().to_string(), ..Default::default() };
            out.input_names = strings(r.input_names()?)?;
            out.output_names = strings(r.output_names()?)?;
            if let Some(tensors) = r.input_tensors()? {
                for (index, t) in tensors.iter().enumerate() {
                    out.inputs.push(decode_tensor(&t?).map_err(|message| DecodeError::Tensor { index, message })?);
                }
            }
            Ok(Request::Infer(out))
        }
    }
}

fn strings(v: Option<planus::Vector<'_, planus::Result<&str>>>) -> Result<Vec<String>, DecodeError> {
    match v {
        None => Ok(Vec::new()),
        Some(v) => v.iter().map(|s| Ok(s?.to_string())).collect(),
    }
}

/// Reads a tensor's shape and values. Sizes are checked before anything is allocated: the data
/// must hold exactly `product(shape) × element size` bytes.
fn decode_tensor(t: &fb::TensorRef<'_>) -> Result<TensorIn, String> {
    let shape: Vec<i64> = match t.shape().map_err(|e| e.to_string())? {
        Some(s) => s.iter().collect(),
        None => Vec::new(),
    };
    let type_ = t.type_().map_err(|e| e.to_string())?;
    let size = match type_ {
        Type::Uint8 => 1,
        Type::Float32 => 4,
        Type::Float64 => 8,
        other => return Ok(TensorIn::Unsupported { type_name: format!("{other:?}").to_lowercase() }),
    };
    let data = t.data().map_err(|e| e.to_string())?.unwrap_or_default();
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| usize::try_from(d).ok().and_then(|d| acc.checked_mul(d)))
        .ok_or_else(|| format!("shape {shape:?} is not a valid tensor shape"))?;
    if count.checked_mul(size) != Some(data.len()) {
        return Err(format!(
            "shape {shape:?} of {} needs {} bytes of data but {} were sent",
            format!("{type_:?}").to_lowercase(),
            count.checked_mul(size).map_or_else(|| "more".to_string(), |b| b.to_string()),
            data.len()
        ));
    }
    // The data vector has 1-byte alignment on the wire: read element by element.
    let values = match type_ {
        Type::Uint8 => Values::U8(data.to_vec()),
        Type::Float32 => Values::F32(data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()),
        _ => Values::F64(data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()),
    };
    Ok(TensorIn::Values(InputTensor { shape, values }))
}

/// An output tensor of float32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorOut {
    pub shape: Vec<i64>,
    pub values: Vec<f32>,
}

/// An error carried in an `InferResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorOut {
    pub code: i64,
    pub message: String,
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Encodes an `InferResponse` (the root of a response body).
pub fn encode_infer_response(outputs: &[TensorOut], errors: &[ErrorOut]) -> Vec<u8> {
    let resp = fb::InferResponse {
        output_tensors: Some(
            outputs
                .iter()
                .map(|t| fb::Tensor {
                    type_: Type::Float32,
                    shape: Some(t.shape.clone()),
                    data: Some(le_bytes(&t.values)),
                    string_val: None,
                })
                .collect(),
        ),
        errors: Some(errors.iter().map(|e| fb::Error { code: e.code, message: Some(e.message.clone()) }).collect()),
    };
    Builder::new().finish(&resp, None).to_vec()
}

/// One input or output in a metadata response.
#[derive(Debug, Clone, PartialEq)]
pub struct IoMetadata {
    pub name: String,
    pub description: String,
    /// -1 marks the batch dimension.
    pub shape: Vec<i64>,
    pub type_: Type,
}

/// A `MetadataResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub server: String,
    pub description: String,
    pub inputs: Vec<IoMetadata>,
    pub outputs: Vec<IoMetadata>,
}

/// Encodes a `MetadataResponse`.
pub fn encode_metadata_response(m: &Metadata) -> Vec<u8> {
    let io = |v: &[IoMetadata]| {
        v.iter()
            .map(|x| fb::IoMetadata {
                name: Some(x.name.clone()),
                description: Some(x.description.clone()),
                shape: Some(x.shape.clone()),
                type_: x.type_,
            })
            .collect()
    };
    let resp = fb::MetadataResponse {
        name: Some(m.name.clone()),
        version: Some(m.version.clone()),
        server: Some(m.server.clone()),
        description: Some(m.description.clone()),
        inputs: Some(io(&m.inputs)),
        outputs: Some(io(&m.outputs)),
    };
    Builder::new().finish(&resp, None).to_vec()
}

/// Encodes an `InferRequest` of one tensor (the client side).
pub fn encode_infer_request(input: &InputTensor, output_names: &[&str]) -> Vec<u8> {
    encode_infer_request_with_config(input, output_names, "")
}

/// [`encode_infer_request`] with a `config` string (the server reads `name[:version]` from it).
pub fn encode_infer_request_with_config(input: &InputTensor, output_names: &[&str], config: &str) -> Vec<u8> {
    let (type_, data) = match &input.values {
        Values::U8(v) => (Type::Uint8, v.clone()),
        Values::F32(v) => (Type::Float32, le_bytes(v)),
        Values::F64(v) => (Type::Float64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    let req = fb::Request {
        req: Some(fb::Req::InferRequest(Box::new(fb::InferRequest {
            config: Some(config.to_string()).filter(|c| !c.is_empty()),
            input_names: None,
            input_tensors: Some(vec![fb::Tensor {
                type_,
                shape: Some(input.shape.clone()),
                data: Some(data),
                string_val: None,
            }]),
            output_names: Some(output_names.iter().map(|s| s.to_string()).collect()),
        }))),
    };
    Builder::new().finish(&req, None).to_vec()
}

/// Encodes a `MetadataRequest`.
pub fn encode_metadata_request() -> Vec<u8> {
    let req = fb::Request { req: Some(fb::Req::MetadataRequest(Box::new(fb::MetadataRequest {}))) };
    Builder::new().finish(&req, None).to_vec()
}

/// Decodes an `InferResponse` (the client side): float32 outputs and errors.
pub fn decode_infer_response(bytes: &[u8]) -> Result<(Vec<TensorOut>, Vec<ErrorOut>), DecodeError> {
    let r = fb::InferResponseRef::read_as_root(bytes)?;
    let mut outputs = Vec::new();
    if let Some(ts) = r.output_tensors()? {
        for (index, t) in ts.iter().enumerate() {
            let t = t?;
            match decode_tensor(&t).map_err(|message| DecodeError::Tensor { index, message })? {
                TensorIn::Values(InputTensor { shape, values: Values::F32(values) }) => {
                    outputs.push(TensorOut { shape, values })
                }
                _ => return Err(DecodeError::Tensor { index, message: "the output is not float32".into() }),
            }
        }
    }
    let mut errors = Vec::new();
    if let Some(es) = r.errors()? {
        for e in es.iter() {
            let e = e?;
            errors.push(ErrorOut { code: e.code()?, message: e.message()?.unwrap_or_default().to_string() });
        }
    }
    Ok((outputs, errors))
}

/// Decodes a `MetadataResponse` (the client side).
pub fn decode_metadata_response(bytes: &[u8]) -> Result<Metadata, DecodeError> {
    let r = fb::MetadataResponseRef::read_as_root(bytes)?;
    let io =
        |v: Option<planus::Vector<'_, planus::Result<fb::IoMetadataRef<'_>>>>| -> Result<Vec<IoMetadata>, DecodeError> {
            let mut out = Vec::new();
            for x in v.iter().flat_map(|v| v.iter()) {
                let x = x?;
                out.push(IoMetadata {
                    name: x.name()?.unwrap_or_default().to_string(),
                    description: x.description()?.unwrap_or_default().to_string(),
                    shape: x.shape()?.map(|s| s.iter().collect()).unwrap_or_default(),
                    type_: x.type_()?,
                });
            }
            Ok(out)
        };
    Ok(Metadata {
        name: r.name()?.unwrap_or_default().to_string(),
        version: r.version()?.unwrap_or_default().to_string(),
        server: r.server()?.unwrap_or_default().to_string(),
        description: r.description()?.unwrap_or_default().to_string(),
        inputs: io(r.inputs()?)?,
        outputs: io(r.outputs()?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let t = InputTensor { shape: vec![2, 28, 28], values: Values::U8((0..1568).map(|i| i as u8).collect()) };
        let bytes = encode_infer_request(&t, &["probabilities"]);
        match decode_request(&bytes).unwrap() {
            Request::Infer(r) => {
                assert_eq!(r.inputs, vec![TensorIn::Values(t)]);
                assert_eq!(r.output_names, vec!["probabilities"]);
                assert!(r.input_names.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(decode_request(&encode_metadata_request()).unwrap(), Request::Metadata);
    }

    #[test]
    fn responses_round_trip() {
        let outs = vec![TensorOut { shape: vec![1, 3], values: vec![0.25, 0.5, 0.25] }];
        let errs = vec![ErrorOut { code: 400, message: "nope".into() }];
        assert_eq!(decode_infer_response(&encode_infer_response(&outs, &errs)).unwrap(), (outs, errs));
        let m = Metadata {
            name: "emnist".into(),
            version: "1".into(),
            server: "emnist".into(),
            description: "d".into(),
            inputs: vec![IoMetadata {
                name: "image".into(),
                description: "x".into(),
                shape: vec![-1, 1, 28, 28],
                type_: Type::Float32,
            }],
            outputs: vec![],
        };
        assert_eq!(decode_metadata_response(&encode_metadata_response(&m)).unwrap(), m);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(decode_request(b"").is_err());
        assert!(decode_request(b"\xff\xff\xff\xff garbage").is_err());
        let t = InputTensor { shape: vec![1, 784], values: Values::F32(vec![0.5; 784]) };
        let bytes = encode_infer_request(&t, &[]);
        for cut in [1, 4, 8, 16, 100, bytes.len() / 2, bytes.len() - 1] {
            let _ = decode_request(&bytes[..cut]); // must not panic; most cuts are errors
        }
        assert!(decode_request(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn declared_size_must_match_the_data() {
        let mut big = InputTensor { shape: vec![i64::MAX, 784], values: Values::U8(vec![0; 4]) };
        assert!(matches!(decode_request(&encode_infer_request(&big, &[])), Err(DecodeError::Tensor { index: 0, .. })));
        big.shape = vec![-3, 784];
        assert!(decode_request(&encode_infer_request(&big, &[])).is_err());
    }
}
